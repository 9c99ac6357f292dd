// native/cuda/pool2d.cu against the CPU backend: max pooling (values and argmax indices, NaNs and ties included),
// its backward (the per-window gather, the plane-wise ordered scatter for indices from the caller, the data errors),
// average pooling (count_include_pad, ceil_mode, padding) and adaptive average pooling, forward and backward, in
// float32 and float64, through the functions and through autograd. Runs under TENSILE_EMULATE_CUDA=1 (or a GPU);
// skipped where no CUDA device is available.
import { describe, it, expect } from 'vitest';
import {
  Tensor, tensor, cuda, maxPool2dWithIndices, maxPool2dBackward, avgPool2d, avgPool2dBackward, adaptiveAvgPool2d,
  adaptiveAvgPool2dBackward, maxPool2d, IndexError, TensileError,
} from '../../lib/index.js';
import { randArray, expectClose, numel } from '../helpers.js';

type DT = 'float32' | 'float64';
const DTYPES: DT[] = ['float32', 'float64'];

function host(shape: number[], seed: number, dtype: DT, lo = -1, hi = 1): Tensor {
  const v = randArray(numel(shape), seed, lo, hi);
  return tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape, dtype });
}
const dev = (t: Tensor) => t.to('cuda');
async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.cpu().data() as ArrayLike<number>);
}
async function same(c: Tensor, h: Tensor, what: string) {
  expect(c.device, what).toBe('cuda:0');
  expect(c.shape, what).toEqual(h.shape);
  expect(c.dtype, what).toBe(h.dtype);
  // NaN-aware exact equality (toEqual treats NaN as equal to NaN)
  expect(await vals(c), what).toEqual(await vals(h));
}
async function errorOf(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

interface PC { x: number[]; k: [number, number]; s: [number, number]; p: [number, number]; d: [number, number]; ceil: boolean; incl: boolean }
const CASES: PC[] = [
  { x: [2, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },
  { x: [1, 2, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: false, incl: true },
  { x: [1, 2, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: true, incl: false },
  { x: [2, 1, 11, 6], k: [3, 2], s: [3, 1], p: [1, 0], d: [1, 1], ceil: true, incl: true },
  { x: [1, 3, 9, 9], k: [2, 2], s: [1, 1], p: [0, 0], d: [1, 1], ceil: false, incl: true },  // overlapping windows
  { x: [2, 2, 5, 7], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: true, incl: true },   // 2x2 with a partial edge
  { x: [3, 37, 6, 10], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true }, // several blocks
  { x: [5, 7, 11, 11], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true }, // odd: not tiling
  { x: [1, 2, 10, 10], k: [3, 3], s: [2, 2], p: [1, 1], d: [2, 2], ceil: false, incl: true }, // dilation
  { x: [2, 3, 13, 5], k: [5, 3], s: [1, 2], p: [2, 1], d: [1, 1], ceil: true, incl: false },
  { x: [0, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },  // empty batch
];
const name = (c: PC) => `x=[${c.x}] k=${c.k} s=${c.s} p=${c.p} d=${c.d} ceil=${c.ceil} incl=${c.incl}`;
const opts = (c: PC) => ({ kernelSize: c.k, stride: c.s, padding: c.p, dilation: c.d, ceilMode: c.ceil });
const avgOpts = (c: PC) => ({ kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: c.ceil, countIncludePad: c.incl });

describe.skipIf(!cuda.isAvailable())('cuda pool2d', () => {
  let seed = 1;
  for (const dtype of DTYPES) {
    for (const c of CASES) {
      it(`max_pool2d ${name(c)} ${dtype}`, async () => {
        const x = host(c.x, seed++, dtype);
        const [yh, ih] = maxPool2dWithIndices(x, opts(c));
        const [yc, ic] = maxPool2dWithIndices(dev(x), opts(c));
        await same(yc, yh, 'y');
        await same(ic, ih, 'indices');
        const dy = host(yh.shape as number[], seed++, dtype);
        // with the forward's options (the per-window gather) and without (the plane-wise scatter)
        await same(maxPool2dBackward(dev(dy), ic, c.x, opts(c)), maxPool2dBackward(dy, ih, c.x, opts(c)), 'dx, options');
        await same(maxPool2dBackward(dev(dy), ic, c.x), maxPool2dBackward(dy, ih, c.x), 'dx, no options');
      });
      if (c.d[0] === 1 && c.d[1] === 1) {
        it(`avg_pool2d ${name(c)} ${dtype}`, async () => {
          const x = host(c.x, seed++, dtype);
          const yh = avgPool2d(x, avgOpts(c));
          const yc = avgPool2d(dev(x), avgOpts(c));
          await same(yc, yh, 'y');
          const dy = host(yh.shape as number[], seed++, dtype);
          await same(avgPool2dBackward(dev(dy), c.x, avgOpts(c)), avgPool2dBackward(dy, c.x, avgOpts(c)), 'dx');
          // count_include_pad the other way
          const o2 = { ...avgOpts(c), countIncludePad: !c.incl };
          await same(avgPool2d(dev(x), o2), avgPool2d(x, o2), 'y, countIncludePad flipped');
          await same(avgPool2dBackward(dev(dy), c.x, o2), avgPool2dBackward(dy, c.x, o2), 'dx, countIncludePad flipped');
        });
      }
    }

    it(`max_pool2d: NaNs, -Infinity and ties pick the CPU's indices ${dtype}`, async () => {
      const vals0 = [0, 1, NaN, -Infinity, 1, 0, NaN, NaN, 2, 2];
      for (const c of [CASES[0]!, CASES[1]!, CASES[4]!, CASES[5]!, CASES[7]!]) {
        const n = numel(c.x);
        const v = new Float64Array(n).map((_, i) => vals0[(i * 7 + (i >> 3)) % vals0.length]!);
        const x = tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape: c.x, dtype });
        const [yh, ih] = maxPool2dWithIndices(x, opts(c));
        const [yc, ic] = maxPool2dWithIndices(dev(x), opts(c));
        await same(yc, yh, `y ${name(c)}`);
        await same(ic, ih, `indices ${name(c)}`);
        const dy = host(yh.shape as number[], seed++, dtype);
        await same(maxPool2dBackward(dev(dy), ic, c.x, opts(c)), maxPool2dBackward(dy, ih, c.x, opts(c)), `dx ${name(c)}`);
      }
      // a window whose first two elements are NaN (the CPU's 2x2 path keeps the second)
      const x = tensor(new Float64Array([NaN, NaN, 1, 2, 3, 4, NaN, 5]), { shape: [1, 1, 2, 4], dtype });
      const [, ih] = maxPool2dWithIndices(x, { kernelSize: 2 });
      const [, ic] = maxPool2dWithIndices(dev(x), { kernelSize: 2 });
      await same(ic, ih, 'indices, two NaNs');
    });

    it(`max_pool2d_bwd: indices from the caller, repeated and outside their windows ${dtype}`, async () => {
      // 3x3 windows at stride 2 with padding: indices anywhere in the plane, many equal (summed in output order)
      const c = CASES[1]!;
      const x = host(c.x, seed++, dtype);
      const [yh] = maxPool2dWithIndices(x, opts(c));
      const [OH, OW] = [yh.shape[2]!, yh.shape[3]!];
      const HW = c.x[2]! * c.x[3]!, m = numel(yh.shape as number[]);
      const idx = tensor(Int32Array.from({ length: m }, (_, i) => (i * 5) % 7 === 0 ? 3 : (i * 13) % HW), { shape: yh.shape as number[], dtype: 'int32' });
      const dy = host([c.x[0]!, c.x[1]!, OH, OW], seed++, dtype, -100, 100);
      await same(maxPool2dBackward(dev(dy), dev(idx), c.x, opts(c)), maxPool2dBackward(dy, idx, c.x, opts(c)), 'dx, options');
      await same(maxPool2dBackward(dev(dy), dev(idx), c.x), maxPool2dBackward(dy, idx, c.x), 'dx, no options');
      // more outputs than a block's chunk (256) per plane, all on a few targets: the order of the sums matters
      const big = [2, 3, 40, 40];
      const dy2 = host([2, 3, 20, 30], seed++, dtype, -1e4, 1e4);
      const idx2 = tensor(Int32Array.from({ length: 2 * 3 * 600 }, (_, i) => (i % 3) * 17 + ((i >> 4) % 2)), { shape: [2, 3, 20, 30], dtype: 'int32' });
      await same(maxPool2dBackward(dev(dy2), dev(idx2), big), maxPool2dBackward(dy2, idx2, big), 'dx, few targets');
    });

    it(`max_pool2d_bwd: the CPU's data errors ${dtype}`, async () => {
      // the 2x2 windows tile the input: an index outside its window
      const x = tensor(new Float64Array(2 * 8 * 8).map((_, i) => i % 5), { shape: [1, 2, 8, 8], dtype });
      const [y, idx] = maxPool2dWithIndices(x, { kernelSize: 2 });
      const bad = Int32Array.from(await idx.data() as Int32Array);
      bad[5] = 0;
      bad[9] = 1000;
      const cases: [Tensor, number[], object | undefined][] = [
        [tensor(bad, { shape: [1, 2, 4, 4], dtype: 'int32' }), [1, 2, 8, 8], { kernelSize: 2 }],
        // out of the plane: with options that do not tile, and without options
        [tensor(bad.map((v, i) => (i === 7 ? 64 : i === 11 ? -1 : v)), { shape: [1, 2, 4, 4], dtype: 'int32' }), [1, 2, 8, 8], undefined],
        [tensor(bad.map((v, i) => (i === 3 ? -5 : v)), { shape: [1, 2, 4, 4], dtype: 'int32' }), [1, 2, 8, 9], { kernelSize: 2 }],
        [tensor(bad.map((v, i) => (i === 30 ? 1 << 30 : v % 60)), { shape: [1, 2, 4, 4], dtype: 'int32' }), [1, 2, 7, 7], { kernelSize: 3, stride: 2, padding: 1 }],
      ];
      for (const [i, shape, o] of cases) {
        const eh = await errorOf(maxPool2dBackward(y, i, shape, o as never).data());
        const ec = await errorOf(maxPool2dBackward(dev(y), dev(i), shape, o as never).cpu().data());
        expect(eh).toBeInstanceOf(IndexError);
        expect(ec).toBeInstanceOf(IndexError);
        expect(ec).toBeInstanceOf(TensileError);
        expect(ec.message).toBe(eh.message);
      }
      // the device stays usable
      await same(maxPool2dBackward(dev(y), idx.to('cuda'), [1, 2, 8, 8], { kernelSize: 2 }), maxPool2dBackward(y, idx, [1, 2, 8, 8], { kernelSize: 2 }), 'after errors');
    });

    it(`adaptive_avg_pool2d ${dtype}`, async () => {
      const shapes: [number[], [number, number]][] = [
        [[2, 3, 7, 9], [3, 4]], [[1, 2, 5, 5], [1, 1]], [[2, 3, 3, 3], [5, 5]], [[1, 1, 6, 8], [6, 8]],
        [[2, 5, 40, 40], [1, 1]], [[1, 3, 20, 21], [2, 3]], [[3, 70, 4, 4], [2, 2]], [[0, 2, 4, 4], [2, 2]],
      ];
      for (const [s, o] of shapes) {
        const x = host(s, seed++, dtype);
        const yh = adaptiveAvgPool2d(x, o), yc = adaptiveAvgPool2d(dev(x), o);
        expect(yc.shape).toEqual(yh.shape);
        // large cells (a warp per output) sum in another order than the CPU's loop: within rounding
        expectClose(await vals(yc), await vals(yh), dtype === 'float32' ? { rtol: 1e-6, atol: 1e-7 } : { rtol: 1e-13, atol: 1e-15 }, `y [${s}] -> [${o}]`);
        const dy = host(yh.shape as number[], seed++, dtype);
        await same(adaptiveAvgPool2dBackward(dev(dy), s), adaptiveAvgPool2dBackward(dy, s), `dx [${s}] -> [${o}]`);
      }
      // small cells: the CPU's order exactly
      const x = host([2, 3, 7, 9], seed++, dtype);
      await same(adaptiveAvgPool2d(dev(x), [3, 4]), adaptiveAvgPool2d(x, [3, 4]), 'y small cells');
    });

    it(`gradients through autograd ${dtype}`, async () => {
      // each pooling's backward from the graph, with a given output gradient (no other device kernels involved)
      const x = host([2, 3, 9, 11], seed++, dtype);
      const pools: [string, (t: Tensor) => Tensor][] = [
        ['max', (t) => maxPool2d(t, { kernelSize: 3, stride: 2, padding: 1 })],
        ['max 2x2', (t) => maxPool2d(t, { kernelSize: 2 })],
        ['avg', (t) => avgPool2d(t, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false, ceilMode: true })],
        ['adaptive', (t) => adaptiveAvgPool2d(t, [4, 5])],
      ];
      for (const [what, f] of pools) {
        const xh = x.detach().requiresGrad_(), xc = dev(x).requiresGrad_();
        const yh = f(xh), yc = f(xc);
        const dy = host(yh.shape as number[], seed++, dtype);
        yh.backward(dy);
        yc.backward(dev(dy));
        expect(xc.grad!.device, what).toBe('cuda:0');
        await same(xc.grad!, xh.grad!, `${what} dx`);
      }
    });
  }
});
