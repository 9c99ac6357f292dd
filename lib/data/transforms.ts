/**
 * Per-sample transforms on CHW Float32Arrays (host side, seeded through the loader's generator), composed with
 * compose([...]). Use with ArrayDataset.withTransform.
 */
export type Transform = (x: Float32Array, rng: () => number) => Float32Array;
export interface ImageShape { c: number; h: number; w: number }

/** @example `compose([randomCrop(s, 28, 4), randomHorizontalFlip(s), normalize([0.286], [0.353], s)])` */
export function compose(ts: Transform[]): Transform {
  return (x, rng) => ts.reduce((v, t) => t(v, rng), x);
}
/** (x - mean[c]) / std[c]. @example `normalize([0.5], [0.5], { c: 1, h: 28, w: 28 })` */
export function normalize(mean: number[], std: number[], s: ImageShape): Transform {
  return (x) => {
    const hw = s.h * s.w;
    for (let c = 0; c < s.c; c++) for (let i = 0; i < hw; i++) x[c * hw + i] = (x[c * hw + i]! - mean[c]!) / std[c]!;
    return x;
  };
}
/** Bytes 0..255 to floats 0..1 (toTensor's scaling). @example `toUnit()` */
export function toUnit(): Transform {
  return (x) => x.map((v) => v / 255);
}
function flip(s: ImageShape, horizontal: boolean, p: number): Transform {
  return (x, rng) => {
    if (rng() >= p) return x;
    const out = new Float32Array(x.length);
    for (let c = 0; c < s.c; c++)
      for (let i = 0; i < s.h; i++)
        for (let j = 0; j < s.w; j++) {
          const src = horizontal ? c * s.h * s.w + i * s.w + (s.w - 1 - j) : c * s.h * s.w + (s.h - 1 - i) * s.w + j;
          out[c * s.h * s.w + i * s.w + j] = x[src]!;
        }
    return out;
  };
}
/** @example `randomHorizontalFlip({ c: 1, h: 28, w: 28 })` */
export function randomHorizontalFlip(s: ImageShape, p = 0.5): Transform {
  return flip(s, true, p);
}
/** Flips the image upside down with probability p. @example `randomVerticalFlip({ c: 1, h: 28, w: 28 })` */
export function randomVerticalFlip(s: ImageShape, p = 0.5): Transform {
  return flip(s, false, p);
}
/** Shifts the image by (dy, dx), filling with `fill`. */
function shift(x: Float32Array, s: ImageShape, dy: number, dx: number, fill: number): Float32Array {
  const out = new Float32Array(x.length).fill(fill);
  for (let c = 0; c < s.c; c++)
    for (let i = 0; i < s.h; i++) {
      const si = i - dy;
      if (si < 0 || si >= s.h) continue;
      for (let j = 0; j < s.w; j++) {
        const sj = j - dx;
        if (sj >= 0 && sj < s.w) out[c * s.h * s.w + i * s.w + j] = x[c * s.h * s.w + si * s.w + sj]!;
      }
    }
  return out;
}
/** Pads by `padding` then crops back to the original size at a random offset. @example `randomCrop(s, 4)` */
export function randomCrop(s: ImageShape, padding: number, fill = 0): Transform {
  return (x, rng) => shift(x, s, Math.floor(rng() * (2 * padding + 1)) - padding, Math.floor(rng() * (2 * padding + 1)) - padding, fill);
}
/** Random translation by up to a fraction of the size in each direction. @example `randomTranslate(s, 0.1)` */
export function randomTranslate(s: ImageShape, fraction: number, fill = 0): Transform {
  return (x, rng) => {
    const my = Math.round(fraction * s.h), mx = Math.round(fraction * s.w);
    return shift(x, s, Math.round((2 * rng() - 1) * my), Math.round((2 * rng() - 1) * mx), fill);
  };
}
