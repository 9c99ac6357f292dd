/**
 * Per-sample transforms on CHW Float32Arrays (host side, seeded through the loader's generator), composed with
 * compose([...]). Use with ArrayDataset.withTransform.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { describe, isOptions } from '../check.js';

export type Transform = (x: Float32Array, rng: () => number) => Float32Array;
export interface ImageShape { c: number; h: number; w: number }

// the image shape a transform is made for: positive integers c, h, w
function shapeArg(op: string, s: unknown): ImageShape {
  const ok = isOptions(s) && (['c', 'h', 'w'] as const).every((k) => Number.isInteger((s as ImageShape)[k]) && (s as ImageShape)[k] >= 1);
  if (!ok) throw new ArgumentError(`${op}: expected an image shape { c, h, w } of integers >= 1, got ${isOptions(s) ? JSON.stringify(s) : describe(s)}`);
  return s as ImageShape;
}
// the image a transform is applied to: a Float32Array of c*h*w values
function imageArg(op: string, x: unknown, s: ImageShape): Float32Array {
  if (!(x instanceof Float32Array)) throw new ArgumentError(`${op}: expected the image as a Float32Array, got ${describe(x)}`);
  if (x.length !== s.c * s.h * s.w) {
    throw new ShapeError(`${op}: expected an image of ${s.c}x${s.h}x${s.w} = ${s.c * s.h * s.w} values (the transform's shape), got ${x.length}`);
  }
  return x;
}

/** @example `compose([randomCrop(s, 28, 4), randomHorizontalFlip(s), normalize([0.286], [0.353], s)])` */
export function compose(ts: Transform[]): Transform {
  return (x, rng) => ts.reduce((v, t) => t(v, rng), x);
}
/**
 * (x - mean[c]) / std[c], in place. mean and std have one value per channel, or one value for all (torchvision's
 * rules); the image must have s.c * s.h * s.w values. @example `normalize([0.5], [0.5], { c: 1, h: 28, w: 28 })`
 */
export function normalize(mean: number[], std: number[], s: ImageShape): Transform {
  const op = 'normalize';
  shapeArg(op, s);
  for (const [name, v] of [['mean', mean], ['std', std]] as const) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new ArgumentError(`${op}: expected ${name} to be an array of finite numbers, got ${describe(v)}`);
    }
    if (v.length !== s.c && v.length !== 1) throw new ShapeError(`${op}: expected ${name} of ${s.c} values (one per channel) or 1, got ${v.length}`);
  }
  if (std.some((x) => x === 0)) throw new ArgumentError(`${op}: expected std without zeros, got [${std.join(', ')}]`);
  const m = (c: number) => mean[mean.length === 1 ? 0 : c]!, d = (c: number) => std[std.length === 1 ? 0 : c]!;
  return (x) => {
    imageArg(op, x, s);
    const hw = s.h * s.w;
    for (let c = 0; c < s.c; c++) for (let i = 0; i < hw; i++) x[c * hw + i] = (x[c * hw + i]! - m(c)) / d(c);
    return x;
  };
}
/** Bytes 0..255 to floats 0..1 (toTensor's scaling). @example `toUnit()` */
export function toUnit(): Transform {
  return (x) => x.map((v) => v / 255);
}
function flip(s: ImageShape, horizontal: boolean, p: number): Transform {
  const op = horizontal ? 'randomHorizontalFlip' : 'randomVerticalFlip';
  shapeArg(op, s);
  if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new ArgumentError(`${op}: expected p in [0, 1], got ${describe(p)}`);
  return (x, rng) => {
    imageArg(op, x, s);
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
  shapeArg('randomCrop', s);
  if (!(Number.isInteger(padding) && padding >= 0)) throw new ArgumentError(`randomCrop: expected padding to be an integer >= 0, got ${describe(padding)}`);
  return (x, rng) => shift(imageArg('randomCrop', x, s), s, Math.floor(rng() * (2 * padding + 1)) - padding, Math.floor(rng() * (2 * padding + 1)) - padding, fill);
}
/** Random translation by up to a fraction of the size in each direction. @example `randomTranslate(s, 0.1)` */
export function randomTranslate(s: ImageShape, fraction: number, fill = 0): Transform {
  shapeArg('randomTranslate', s);
  if (!(typeof fraction === 'number' && fraction >= 0 && fraction <= 1)) throw new ArgumentError(`randomTranslate: expected fraction in [0, 1], got ${describe(fraction)}`);
  return (x, rng) => {
    imageArg('randomTranslate', x, s);
    const my = Math.round(fraction * s.h), mx = Math.round(fraction * s.w);
    return shift(x, s, Math.round((2 * rng() - 1) * my), Math.round((2 * rng() - 1) * mx), fill);
  };
}
