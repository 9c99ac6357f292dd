// The fused layer_norm / layer_norm_bwd ops (native/cpu/norm.cpp) behind F.layerNorm: forward and backward against
// a float64 reference and TensorFlow.js's CPU backend composing it (tf.moments), on every instruction set;
// gradcheck; the weight and bias gradients bit for bit on 1 and 2 threads; errors.
import { describe, it, expect, afterAll } from 'vitest';
import { Tensor, tensor, F, gradcheck, getNumThreads, setNumThreads, DTypeError, ShapeError, ArgumentError } from '../../lib/index.js';
import { layerNormForward, layerNormBackward } from '../../lib/ops/layer_norm.js';
import { availableIsas, withIsa, randTensor, randArray, expectClose, f64, numel, throwsExactly } from '../helpers.js';
import { tfjs } from '../tfjs.js';

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

// PyTorch's native_layer_norm in float64 over rows of D: y, mean, rstd; and its backward
function refForward(x: Float64Array, D: number, w: Float64Array | null, b: Float64Array | null, eps: number) {
  const M = x.length / D;
  const y = new Float64Array(x.length), mean = new Float64Array(M), rstd = new Float64Array(M);
  for (let r = 0; r < M; r++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += x[r * D + j]!;
    const mu = s / D;
    let q = 0;
    for (let j = 0; j < D; j++) q += (x[r * D + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(q / D + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < D; j++) y[r * D + j] = (x[r * D + j]! - mu) * rs * (w ? w[j]! : 1) + (b ? b[j]! : 0);
  }
  return { y, mean, rstd };
}
function refBackward(dy: Float64Array, x: Float64Array, D: number, w: Float64Array | null, eps: number) {
  const M = x.length / D;
  const { mean, rstd } = refForward(x, D, null, null, eps);
  const dx = new Float64Array(x.length), dw = new Float64Array(D), db = new Float64Array(D);
  for (let r = 0; r < M; r++) {
    let sg = 0, sgx = 0;
    for (let j = 0; j < D; j++) {
      const h = (x[r * D + j]! - mean[r]!) * rstd[r]!, g = dy[r * D + j]! * (w ? w[j]! : 1);
      sg += g;
      sgx += g * h;
      dw[j] += dy[r * D + j]! * h;
      db[j] += dy[r * D + j]!;
    }
    for (let j = 0; j < D; j++) {
      const h = (x[r * D + j]! - mean[r]!) * rstd[r]!, g = dy[r * D + j]! * (w ? w[j]! : 1);
      dx[r * D + j] = rstd[r]! * (g - sg / D - h * (sgx / D));
    }
  }
  return { dx, dw, db };
}

const TOL = { float32: { rtol: 1e-5, atol: 1e-5 }, float64: { rtol: 1e-10, atol: 1e-12 } };
// [x shape, normalizedShape]: one and two normalised dims, M = 1, D = 1 (every row constant), D with a vector tail
// on every ISA (130, 33), a 3-d input
const CASES: [number[], number[]][] = [
  [[4, 6], [6]], [[3, 5, 7], [5, 7]], [[1, 33], [33]], [[17, 130], [130]], [[5, 1], [1]], [[2, 3, 64], [64]], [[6, 2, 3], [2, 3]],
];
const AFFINE = [[true, true], [true, false], [false, true], [false, false]] as const;

for (const isa of availableIsas()) {
  describe(`layer_norm isa=${isa}`, () => {
    for (const [shape, ns] of CASES) for (const dtype of ['float32', 'float64'] as const) for (const [hw, hb] of AFFINE) {
      it(`x=[${shape}] normalizedShape=[${ns}] weight=${hw} bias=${hb} ${dtype}: y, mean, rstd and dx, dweight, dbias vs float64`, withIsa(isa, async () => {
        const D = numel(ns), eps = 1e-5;
        const [x, xv] = randTensor(shape, numel(shape) + D, dtype, -2, 3);
        const [w, wv] = randTensor(ns, D + 1, dtype, 0.5, 1.5);
        const [b, bv] = randTensor(ns, D + 2, dtype, -1, 1);
        const [dy, dyv] = randTensor(shape, D + 3, dtype, -1, 1);
        const ref = refForward(xv, D, hw ? wv : null, hb ? bv : null, eps);
        const [y, mean, rstd] = layerNormForward(x, ns, hw ? w : null, hb ? b : null, eps);
        expect(y.shape).toEqual(shape);
        expect([y.dtype, mean.dtype, rstd.dtype]).toEqual([dtype, dtype, dtype]);
        expectClose(await f64(y), ref.y, TOL[dtype], 'y');
        expectClose(await f64(mean), ref.mean, TOL[dtype], 'mean');
        expectClose(await f64(rstd), ref.rstd, TOL[dtype], 'rstd');
        const g = refBackward(dyv, xv, D, hw ? wv : null, eps);
        const [dx, dw, db] = layerNormBackward(dy, x, ns, mean, rstd, hw ? w : null, [true, hw, hb]);
        expectClose(await f64(dx!), g.dx, TOL[dtype], 'dx');
        expect(dw === null).toBe(!hw);
        expect(db === null).toBe(!hb);
        if (dw) expect(dw.shape).toEqual(ns);
        if (db) expect(db.shape).toEqual(ns);
        if (dw) expectClose(await f64(dw), g.dw, TOL[dtype], 'dweight');
        if (db) expectClose(await f64(db), g.db, TOL[dtype], 'dbias');
      }));
    }
    for (const dtype of ['float32', 'float64'] as const) {
      it(`a constant row (var 0) among others, x=[3,40] ${dtype}: y = bias there, rstd = 1/sqrt(eps), finite gradients`, withIsa(isa, async () => {
        const xv = randArray(120, 9, -1, 1);
        for (let j = 40; j < 80; j++) xv[j] = 3;
        const x = tensor(dtype === 'float32' ? Float32Array.from(xv) : xv, { shape: [3, 40], dtype });
        const xr = Float64Array.from(await x.data());
        const [w, wv] = randTensor([40], 4, dtype, 0.5, 1.5);
        const [b, bv] = randTensor([40], 5, dtype, -1, 1);
        const [dy, dyv] = randTensor([3, 40], 6, dtype);
        const [y, mean, rstd] = layerNormForward(x, [40], w, b, 1e-5);
        const yv = await f64(y);
        expectClose(yv.subarray(40, 80), await f64(b), TOL[dtype], 'y of the constant row');
        expectClose(await f64(rstd), refForward(xr, 40, null, null, 1e-5).rstd, TOL[dtype], 'rstd');
        expectClose(yv, refForward(xr, 40, wv, bv, 1e-5).y, TOL[dtype], 'y');
        const [dx, dw, db] = layerNormBackward(dy, x, [40], mean, rstd, w);
        const g = refBackward(dyv, xr, 40, wv, 1e-5);
        expectClose(await f64(dx!), g.dx, TOL[dtype], 'dx');
        expectClose(await f64(dw!), g.dw, TOL[dtype], 'dweight');
        expectClose(await f64(db!), g.db, TOL[dtype], 'dbias');
      }));
    }
  });
}

describe('layer_norm vs TensorFlow.js (tf.moments composed), float32', () => {
  for (const [shape, ns] of [[[8, 24], [24]], [[3, 4, 10], [4, 10]], [[1, 50], [50]]] as [number[], number[]][]) {
    it(`x=[${shape}] normalizedShape=[${ns}] with weight and bias: y and the gradients of x, weight, bias`, async () => {
      const tf = await tfjs();
      const D = numel(ns), M = numel(shape) / D, eps = 1e-5;
      const [x, xv] = randTensor(shape, 31, 'float32', -2, 2);
      const [w, wv] = randTensor(ns, 32, 'float32', 0.5, 1.5);
      const [b, bv] = randTensor(ns, 33, 'float32', -1, 1);
      const [dy, dyv] = randTensor(shape, 34, 'float32');
      const want = tf.tidy(() => {
        const f = (a: import('@tensorflow/tfjs-core').Tensor, ww: import('@tensorflow/tfjs-core').Tensor, bb: import('@tensorflow/tfjs-core').Tensor) => {
          const { mean, variance } = tf.moments(a, 1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(a, mean), tf.rsqrt(tf.add(variance, eps))), ww), bb);
        };
        const X = tf.tensor2d(Float32Array.from(xv), [M, D]), W = tf.tensor1d(Float32Array.from(wv)), B = tf.tensor1d(Float32Array.from(bv));
        const [gx, gw, gb] = tf.grads(f)([X, W, B], tf.tensor2d(Float32Array.from(dyv), [M, D]));
        return { y: f(X, W, B).dataSync(), dx: gx!.dataSync(), dw: gw!.dataSync(), db: gb!.dataSync() };
      });
      const xx = x.detach().requiresGrad_(), ww = w.detach().requiresGrad_(), bb = b.detach().requiresGrad_();
      const y = F.layerNorm(xx, ns, ww, bb, eps);
      y.backward(dy);
      const tol = { rtol: 1e-4, atol: 2e-5 };
      expectClose(await f64(y), want.y, tol, 'y');
      expectClose(await f64(xx.grad!), want.dx, tol, 'dx');
      expectClose(await f64(ww.grad!), want.dw, tol, 'dweight');
      expectClose(await f64(bb.grad!), want.db, tol, 'dbias');
    });
  }
});

describe('F.layerNorm (fused)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`non-contiguous input, weight and dy (x = [7,20] transposed to [20,7], weight every second of 14) ${dtype}`, async () => {
      const [xt, xtv] = randTensor([7, 20], 41, dtype, -1, 2);
      const [w2, w2v] = randTensor([14], 42, dtype, 0.5, 1.5);
      const [b] = randTensor([7], 43, dtype);
      const [dyt, dytv] = randTensor([7, 20], 44, dtype);
      const x = xt.transpose(0, 1).detach().requiresGrad_();
      const w = w2.slice(0, 0, 14, 2);
      expect(x.isContiguous()).toBe(false);
      expect(w.isContiguous()).toBe(false);
      const wl = w.detach().requiresGrad_();
      const y = F.layerNorm(x, [7], wl, b.detach().requiresGrad_());
      const dyc = dyt.transpose(0, 1);
      expect(dyc.isContiguous()).toBe(false);
      y.backward(dyc);
      const tr = (v: Float64Array) => Float64Array.from({ length: 140 }, (_, i) => v[(i % 7) * 20 + Math.floor(i / 7)]!);
      const xv = tr(xtv), wv = Float64Array.from({ length: 7 }, (_, j) => w2v[2 * j]!);
      const bv = Float64Array.from(await b.data());
      expectClose(await f64(y), refForward(xv, 7, wv, bv, 1e-5).y, TOL[dtype], 'y');
      const g = refBackward(tr(dytv), xv, 7, wv, 1e-5);
      expectClose(await f64(x.grad!), g.dx, TOL[dtype], 'dx');
      expectClose(await f64(wl.grad!), g.dw, TOL[dtype], 'dweight');
    });
  }
  it('M = 0 rows (x=[0,5]): an empty y, zero weight and bias gradients', async () => {
    const x = tensor(new Float32Array(0), { shape: [0, 5] }).requiresGrad_();
    const w = tensor([1, 2, 3, 4, 5]).requiresGrad_(), b = tensor([0, 0, 0, 0, 1]).requiresGrad_();
    const y = F.layerNorm(x, [5], w, b);
    expect(y.shape).toEqual([0, 5]);
    y.sum().backward();
    expect(Array.from(await w.grad!.data())).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(await b.grad!.data())).toEqual([0, 0, 0, 0, 0]);
    expect(x.grad!.shape).toEqual([0, 5]);
  });
  it('only the inputs that require grad get one (weight alone; x alone)', async () => {
    const [x] = randTensor([4, 6], 51, 'float64');
    const [w] = randTensor([6], 52, 'float64');
    const [b] = randTensor([6], 53, 'float64');
    const wl = w.detach().requiresGrad_();
    F.layerNorm(x, [6], wl, b).sum().backward();
    expect(x.grad).toBeNull();
    expect(b.grad).toBeNull();
    expect(wl.grad!.shape).toEqual([6]);
    const xl = x.detach().requiresGrad_();
    F.layerNorm(xl, [6], w, b).mul(tensor(randArray(24, 54), { shape: [4, 6], dtype: 'float64' })).sum().backward();
    expect(xl.grad!.shape).toEqual([4, 6]);
  });
});

describe('gradcheck: fused layer_norm in float64', () => {
  let seed = 60;
  const x64 = (shape: number[], lo = -1, hi = 1) => tensor(randArray(numel(shape), seed++, lo, hi), { shape, dtype: 'float64' }).requiresGrad_();
  const check = async (fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
    const r = await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
    expect(r.worst, `worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
  };
  it('x=[3,5] over [5] with weight and bias', () => check((x, w, b) => F.layerNorm(x, [5], w, b), [x64([3, 5]), x64([5], 0.5, 1.5), x64([5])]));
  it('x=[2,3,4] over [3,4] with weight and bias', () => check((x, w, b) => F.layerNorm(x, [3, 4], w, b), [x64([2, 3, 4]), x64([3, 4], 0.5, 1.5), x64([3, 4])]));
  it('x=[4,6] over [6], weight alone', () => check((x, w) => F.layerNorm(x, [6], w, null), [x64([4, 6]), x64([6], 0.5, 1.5)]));
  it('x=[4,6] over [6], bias alone', () => check((x, b) => F.layerNorm(x, [6], null, b), [x64([4, 6]), x64([6])]));
  it('x=[1,7] over [7], neither, eps=0.1', () => check((x) => F.layerNorm(x, [7], null, null, 0.1), [x64([1, 7])]));
});

describe('layer_norm determinism', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`x=[2048,96] ${dtype}: y, dx, dweight and dbias bit for bit on 1 and 2 threads`, async () => {
      const [x] = randTensor([2048, 96], 71, dtype, -2, 2);
      const [w] = randTensor([96], 72, dtype, 0.5, 1.5);
      const [b] = randTensor([96], 73, dtype);
      const [dy] = randTensor([2048, 96], 74, dtype);
      const run = async () => {
        const xx = x.detach().requiresGrad_(), ww = w.detach().requiresGrad_(), bb = b.detach().requiresGrad_();
        const y = F.layerNorm(xx, [96], ww, bb);
        y.backward(dy);
        return Promise.all([y, xx.grad!, ww.grad!, bb.grad!].map(f64));
      };
      try {
        setNumThreads(1);
        const one = await run();
        setNumThreads(2);
        const two = await run();
        for (let k = 0; k < 4; k++) expect(two[k], ['y', 'dx', 'dweight', 'dbias'][k]).toEqual(one[k]);
      } finally {
        setNumThreads(initialThreads);
      }
    });
  }
});

describe('layer_norm errors', () => {
  const x = tensor(Float32Array.from(randArray(8, 1)), { shape: [2, 4] });
  it('a non-float input: DTypeError', () => {
    throwsExactly(() => F.layerNorm(tensor([1, 2, 3], { dtype: 'int32' }), [3]), DTypeError, 'layer_norm: expected a float32 or float64 input, got int32');
  });
  it('an input that does not end in normalizedShape: ShapeError', () => {
    throwsExactly(() => F.layerNorm(x, [5]), ShapeError, 'layer_norm: expected input ending in [5], got shape [2,4]');
  });
  it('weight or bias not of shape normalizedShape, or of another dtype', () => {
    throwsExactly(() => F.layerNorm(x, [4], tensor([1, 2, 3])), ShapeError, 'layer_norm: expected weight of shape [4], got [3]');
    throwsExactly(() => F.layerNorm(x, [4], null, tensor([1], { shape: [1, 1] })), ShapeError, 'layer_norm: expected bias of shape [4], got [1,1]');
    throwsExactly(() => F.layerNorm(x, [4], null, tensor([1, 2, 3, 4], { dtype: 'float64' })), DTypeError, 'layer_norm: expected bias of dtype float32, got float64');
  });
  it('a negative eps: ArgumentError', () => {
    throwsExactly(() => F.layerNorm(x, [4], null, null, -1), ArgumentError, 'layer_norm: expected eps >= 0, got the number -1');
  });
  it('backward: dy, mean or rstd that do not match', () => {
    const [, mean, rstd] = layerNormForward(x, [4]);
    throwsExactly(() => layerNormBackward(tensor(Float32Array.from(randArray(4, 2)), { shape: [1, 4] }), x, [4], mean, rstd, null), ShapeError,
      'layer_norm_bwd: expected dy of shape [2,4], got [1,4]');
    throwsExactly(() => layerNormBackward(x, x, [4], tensor([0, 0, 0]), rstd, null), ShapeError,
      'layer_norm_bwd: expected mean of 2 elements, got shape [3]');
    throwsExactly(() => layerNormBackward(x, x, [4], mean, tensor([1, 1], { dtype: 'float64' }), null), DTypeError,
      'layer_norm_bwd: expected rstd of dtype float32, got float64');
  });
});
