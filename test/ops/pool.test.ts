import { describe, it, expect } from 'vitest';
import { maxPool2dWithIndices, maxPool2dBackward, avgPool2d, avgPool2dBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward, tensor, ShapeError, ArgumentError, DTypeError } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64, randArray, numel } from '../helpers.js';
import { tfjs } from '../tfjs.js';

interface PC { x: number[]; k: [number, number]; s: [number, number]; p: [number, number]; d: [number, number]; ceil: boolean; incl: boolean }
const CASES: PC[] = [
  { x: [2, 3, 8, 8], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },
  { x: [1, 2, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: false, incl: true },
  { x: [1, 2, 7, 9], k: [3, 3], s: [2, 2], p: [1, 1], d: [1, 1], ceil: true, incl: false },
  { x: [2, 1, 11, 6], k: [3, 2], s: [3, 1], p: [1, 0], d: [1, 1], ceil: true, incl: true },
  { x: [1, 3, 9, 9], k: [2, 2], s: [1, 1], p: [0, 0], d: [1, 1], ceil: false, incl: true },
  { x: [2, 2, 5, 7], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: true, incl: true },
  // 2x2/2 walked by the offset table: several blocks of planes with a partial last one, odd sizes, one-plane blocks
  { x: [3, 37, 6, 10], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },
  { x: [5, 7, 11, 11], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },
  { x: [1, 2, 50, 48], k: [2, 2], s: [2, 2], p: [0, 0], d: [1, 1], ceil: false, incl: true },
];
const DIL: PC = { x: [1, 2, 10, 10], k: [3, 3], s: [2, 2], p: [1, 1], d: [2, 2], ceil: false, incl: true };

// PyTorch's pooling output size and windows, in float64.
function outSize(n: number, k: number, s: number, p: number, d: number, ceil: boolean) {
  const ek = d * (k - 1) + 1;
  let o = (ceil ? Math.ceil : Math.floor)((n + 2 * p - ek) / s) + 1;
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}
function refPool(c: PC, x: Float64Array, mode: 'max' | 'avg', dy?: Float64Array) {
  const [N, C, H, W] = c.x as [number, number, number, number];
  const OH = outSize(H, c.k[0], c.s[0], c.p[0], c.d[0], c.ceil), OW = outSize(W, c.k[1], c.s[1], c.p[1], c.d[1], c.ceil);
  const y = new Float64Array(N * C * OH * OW), dx = new Float64Array(x.length);
  for (let pl = 0; pl < N * C; pl++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const o = (pl * OH + oh) * OW + ow;
        if (mode === 'max') {
          let best = -Infinity, bi = -1;
          for (let i = 0; i < c.k[0]; i++) for (let j = 0; j < c.k[1]; j++) {
            const h = oh * c.s[0] - c.p[0] + i * c.d[0], w = ow * c.s[1] - c.p[1] + j * c.d[1];
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            const v = x[(pl * H + h) * W + w]!;
            if (bi < 0 || v > best) { best = v; bi = (pl * H + h) * W + w; }
          }
          y[o] = best;
          if (dy) dx[bi] += dy[o]!;
        } else {
          let hs = oh * c.s[0] - c.p[0], ws = ow * c.s[1] - c.p[1];
          let he = Math.min(hs + c.k[0], H + c.p[0]), we = Math.min(ws + c.k[1], W + c.p[1]);
          const pool = (he - hs) * (we - ws);
          hs = Math.max(hs, 0); ws = Math.max(ws, 0); he = Math.min(he, H); we = Math.min(we, W);
          const div = c.incl ? pool : (he - hs) * (we - ws);
          let s = 0;
          for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) s += x[(pl * H + h) * W + w]!;
          y[o] = s / div;
          if (dy) for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) dx[(pl * H + h) * W + w] += dy[o]! / div;
        }
      }
  return { y, dx, shape: [N, C, OH, OW] };
}
const name = (c: PC) => `x=[${c.x}] k=${c.k} s=${c.s} p=${c.p} d=${c.d} ceil=${c.ceil} countIncludePad=${c.incl}`;
const opts = (c: PC) => ({ kernelSize: c.k, stride: c.s, padding: c.p, dilation: c.d, ceilMode: c.ceil });

for (const isa of availableIsas()) {
  describe(`pooling isa=${isa}`, () => {
    for (const c of [...CASES, DIL]) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`max_pool2d ${name(c)} ${dtype}`, withIsa(isa, async () => {
          const [x, xv] = randTensor(c.x, numel(c.x), dtype);
          const ref0 = refPool(c, xv, 'max');
          const dyv = randArray(ref0.y.length, 3);
          const dyr = dtype === 'float32' ? Float64Array.from(Float32Array.from(dyv)) : dyv;
          const ref = refPool(c, xv, 'max', dyr);
          const [y, idx] = maxPool2dWithIndices(x, opts(c));
          expect(y.shape).toEqual(ref.shape);
          expectClose(await f64(y), ref.y, { rtol: 0, atol: 0 }, 'max forward');
          const dy = tensor(dtype === 'float32' ? Float32Array.from(dyv) : dyv, { shape: ref.shape, dtype });
          expectClose(await f64(maxPool2dBackward(dy, idx, c.x)), ref.dx, { rtol: 1e-6, atol: 1e-6 }, 'max backward');
          expectClose(await f64(maxPool2dBackward(dy, idx, c.x, opts(c))), ref.dx, { rtol: 1e-6, atol: 1e-6 }, 'max backward, options given');
        }));
        if (c === DIL) continue;
        it(`avg_pool2d ${name(c)} ${dtype}`, withIsa(isa, async () => {
          const [x, xv] = randTensor(c.x, numel(c.x) + 1, dtype);
          const ref0 = refPool(c, xv, 'avg');
          const dyv = randArray(ref0.y.length, 4);
          const dyr = dtype === 'float32' ? Float64Array.from(Float32Array.from(dyv)) : dyv;
          const ref = refPool(c, xv, 'avg', dyr);
          const o = { ...opts(c), countIncludePad: c.incl };
          delete (o as { dilation?: unknown }).dilation;
          const y = avgPool2d(x, o);
          expect(y.shape).toEqual(ref.shape);
          expectClose(await f64(y), ref.y, { rtol: 1e-6, atol: 1e-6 }, 'avg forward');
          const dy = tensor(dtype === 'float32' ? Float32Array.from(dyv) : dyv, { shape: ref.shape, dtype });
          expectClose(await f64(avgPool2dBackward(dy, c.x, o)), ref.dx, { rtol: 1e-6, atol: 1e-6 }, 'avg backward');
        }));
      }
    }
    for (const [x, o] of [[[2, 3, 7, 9], [3, 4]], [[1, 2, 8, 8], [1, 1]], [[1, 1, 5, 3], [5, 3]], [[2, 1, 4, 6], [3, 5]], [[4, 64, 7, 7], [1, 1]], [[2, 16, 13, 11], [4, 3]]] as [number[], [number, number]][]) {
      for (const dtype of ['float32', 'float64'] as const) it(`adaptive_avg_pool2d x=[${x}] out=[${o}] ${dtype}`, withIsa(isa, async () => {
        // float32: the float64 reference of the same (rounded) inputs, to float32 accuracy
        const tol = dtype === 'float32' ? { rtol: 2e-6, atol: 2e-6 } : { rtol: 1e-12, atol: 1e-12 };
        const [t, v] = randTensor(x, 5, dtype);
        const [N, C, H, W] = x as [number, number, number, number];
        const ref = new Float64Array(N * C * o[0] * o[1]);
        const [dy, dyv] = randTensor([N, C, o[0], o[1]], 6, dtype);
        const dx = new Float64Array(v.length);
        for (let p = 0; p < N * C; p++) for (let i = 0; i < o[0]; i++) for (let j = 0; j < o[1]; j++) {
          const h0 = Math.floor((i * H) / o[0]), h1 = Math.ceil(((i + 1) * H) / o[0]);
          const w0 = Math.floor((j * W) / o[1]), w1 = Math.ceil(((j + 1) * W) / o[1]);
          let s = 0;
          for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += v[(p * H + h) * W + w]!;
          const cnt = (h1 - h0) * (w1 - w0);
          ref[(p * o[0] + i) * o[1] + j] = s / cnt;
          for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) dx[(p * H + h) * W + w] += dyv[(p * o[0] + i) * o[1] + j]! / cnt;
        }
        const y = adaptiveAvgPool2d(t, o);
        expect(y.dtype).toBe(dtype);
        expectClose(await f64(y), ref, tol, 'forward');
        expectClose(await f64(adaptiveAvgPool2dBackward(dy, x)), dx, tol, 'backward');
      }));
    }
  });
}

describe('pooling against tfjs', () => {
  it('max and avg pool 2x2/2 and 3x3/2 valid, forward and gradients, x=[2,3,9,8]', async () => {
    const tf = await tfjs();
    const xs = [2, 3, 9, 8];
    const [x, xv] = randTensor(xs, 77);
    for (const [k, s] of [[2, 2], [3, 2]] as const) {
      const X = tf.transpose(tf.tensor4d(Float32Array.from(xv), xs as [number, number, number, number]), [0, 2, 3, 1]) as import('@tensorflow/tfjs-core').Tensor4D;
      for (const mode of ['max', 'avg'] as const) {
        const f = (a: import('@tensorflow/tfjs-core').Tensor) => (mode === 'max' ? tf.maxPool : tf.avgPool)(a as import('@tensorflow/tfjs-core').Tensor4D, k, s, 'valid');
        const y = f(X);
        const dx = tf.grad(f)(X, tf.ones(y.shape));
        const refY = Float64Array.from(tf.transpose(y, [0, 3, 1, 2]).dataSync());
        const refDx = Float64Array.from(tf.transpose(dx, [0, 3, 1, 2]).dataSync());
        const o = { kernelSize: k, stride: s };
        if (mode === 'max') {
          const [yy, idx] = maxPool2dWithIndices(x, o);
          expectClose(await f64(yy), refY, { rtol: 1e-6, atol: 1e-6 }, `max ${k}`);
          const ones = tensor(new Float32Array(yy.numel).fill(1), { shape: yy.shape as number[] });
          expectClose(await f64(maxPool2dBackward(ones, idx, xs)), refDx, { rtol: 1e-6, atol: 1e-6 }, `max grad ${k}`);
        } else {
          const yy = avgPool2d(x, o);
          expectClose(await f64(yy), refY, { rtol: 1e-5, atol: 1e-6 }, `avg ${k}`);
          const ones = tensor(new Float32Array(yy.numel).fill(1), { shape: yy.shape as number[] });
          expectClose(await f64(avgPool2dBackward(ones, xs, o)), refDx, { rtol: 1e-5, atol: 1e-6 }, `avg grad ${k}`);
        }
      }
    }
  });
});

// 2x2/2 max pooling with ties, NaN and -Inf, on every instruction set: 17 outputs per row (a full vector and one
// lane on AVX-512), planes that tile and planes that do not. PyTorch's rule: a NaN wins (the first NaN), then the
// greatest value, the first in row-major order among equals.
describe('max pool 2x2/2 selection rule', () => {
  function refMax(x: Float32Array, N: number, C: number, H: number, W: number) {
    const OH = Math.floor(H / 2), OW = Math.floor(W / 2);
    const y = new Float32Array(N * C * OH * OW), idx = new Int32Array(y.length);
    for (let pl = 0; pl < N * C; pl++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let best = NaN, bi = -1;
          for (const [i, j] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
            const k = (2 * oh + i) * W + 2 * ow + j, v = x[pl * H * W + k]!;
            if (bi < 0 || (!Number.isNaN(best) && (v > best || Number.isNaN(v)))) { best = v; bi = k; }
          }
          y[(pl * OH + oh) * OW + ow] = best;
          idx[(pl * OH + oh) * OW + ow] = bi;
        }
    return { y, idx, shape: [N, C, OH, OW] };
  }
  for (const isa of availableIsas()) {
    for (const [H, W] of [[6, 34], [7, 35]] as const) {
      it(`isa=${isa} x=[2,3,${H},${W}]`, withIsa(isa, async () => {
        const N = 2, C = 3, vals = [0, 1, NaN, -Infinity, 1, 0];
        const x = new Float32Array(N * C * H * W).map((_, i) => vals[(i * 7 + (i >> 3)) % vals.length]!);
        const ref = refMax(x, N, C, H, W);
        const xt = tensor(x, { shape: [N, C, H, W] });
        const [y, idx] = maxPool2dWithIndices(xt, { kernelSize: 2 });
        expect(Array.from(await y.data())).toEqual(Array.from(ref.y));
        expect(Array.from(await idx.data())).toEqual(Array.from(ref.idx));
        const dyv = new Float32Array(ref.y.length).map((_, i) => i + 1);
        const dx = await maxPool2dBackward(tensor(dyv, { shape: ref.shape }), idx, [N, C, H, W], { kernelSize: 2 }).data();
        const want = new Float32Array(x.length);
        ref.idx.forEach((k, o) => { want[Math.floor(o / (ref.y.length / (N * C))) * H * W + k] += dyv[o]!; });
        expect(Array.from(dx)).toEqual(Array.from(want));
      }));
    }
    it(`isa=${isa} an index outside its window is an IndexError`, withIsa(isa, async () => {
      const x = tensor(new Float32Array(2 * 8 * 8).map((_, i) => i % 5), { shape: [1, 2, 8, 8] });
      const [y, idx] = maxPool2dWithIndices(x, { kernelSize: 2 });
      const bad = Int32Array.from(await idx.data());
      bad[5] = 0;  // output (1, 1) of plane 0: its window starts at 18
      await expect(maxPool2dBackward(y, tensor(bad, { shape: [1, 2, 4, 4], dtype: 'int32' }), [1, 2, 8, 8], { kernelSize: 2 }).data())
        .rejects.toThrow('max_pool2d_bwd: expected each index inside its 2x2 window (as max_pool2d returns them), got 0 at position 5');
    }));
  }
});

describe('pooling semantics and errors', () => {
  it('NaN wins in max pooling', async () => {
    const x = tensor([1, NaN, 3, 4], { shape: [1, 1, 2, 2] });
    const [y] = maxPool2dWithIndices(x, { kernelSize: 2 });
    expect(Number.isNaN((await y.data())[0])).toBe(true);
  });
  it('errors', () => {
    const [x] = randTensor([1, 1, 4, 4], 1);
    expect(() => maxPool2dWithIndices(x, { kernelSize: 5 })).toThrow(ShapeError);
    expect(() => maxPool2dWithIndices(x.reshape([4, 4]), { kernelSize: 2 })).toThrow('max_pool2d: expected input of rank 4 (N,C,H,W), got shape [4,4]');
    expect(() => avgPool2d(x, { kernelSize: 2, padding: 2 })).toThrow(ArgumentError);
    expect(() => maxPool2dWithIndices(x, { kernelSize: 0 })).toThrow(ArgumentError);
    const [y, idx] = maxPool2dWithIndices(x, { kernelSize: 2 });
    expect(() => maxPool2dBackward(y, idx, [1, 1, 4])).toThrow('max_pool2d_bwd: expected an input shape of rank 4, got [1,1,4]');
    expect(() => maxPool2dBackward(y, idx.reshape([1, 1, 4, 1]), [1, 1, 4, 4])).toThrow(ShapeError);
    expect(() => maxPool2dBackward(y, idx, [2, 1, 4, 4])).toThrow(ShapeError);
    expect(() => maxPool2dBackward(y, idx.cast('float32'), [1, 1, 4, 4])).toThrow(DTypeError);
    expect(() => maxPool2dBackward(y, idx, [1, 1, 4, 4], { kernelSize: 3 })).toThrow('max_pool2d_bwd: expected dy of shape [1,1,1,1], got [1,1,2,2]');
  });
});
