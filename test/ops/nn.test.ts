import { describe, it, expect } from 'vitest';
import { tensor, zeros, ones, crossEntropyForward, crossEntropyBackward, batchNormForward, batchNormBackward, dropoutForward, manualSeed, IndexError, DTypeError, ShapeError } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64, randArray } from '../helpers.js';
import { tfjs } from '../tfjs.js';

function refCE(x: Float64Array, N: number, C: number, y: number[], eps: number, w: Float64Array | null, ignore: number) {
  const loss = new Float64Array(N), grad = new Float64Array(N * C);
  const W = w ? w.reduce((a, b) => a + b, 0) : C;
  for (let n = 0; n < N; n++) {
    const row = x.subarray(n * C, n * C + C);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    if (y[n] === ignore) continue;
    const wy = w ? w[y[n]!]! : 1;
    let l = (1 - eps) * wy * (lse - row[y[n]!]!);
    for (let c = 0; c < C; c++) l += (eps / C) * (w ? w[c]! : 1) * (lse - row[c]!);
    loss[n] = l;
    for (let c = 0; c < C; c++) {
      const p = Math.exp(row[c]! - lse);
      grad[n * C + c] = (1 - eps) * wy * (p - (c === y[n] ? 1 : 0)) + (eps / C) * (W * p - (w ? w[c]! : 1));
    }
  }
  return { loss, grad };
}

const F32 = { rtol: 2e-6, atol: 2e-6 };
for (const isa of availableIsas()) {
  describe(`nn kernels isa=${isa}`, () => {
    for (const [N, C, eps, weighted] of [[7, 3, 0, false], [33, 10, 0.1, false], [16, 17, 0.2, true], [1, 1, 0, false], [5, 1001, 0.1, true], [9, 256, 0, false]] as [number, number, number, boolean][]) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`cross_entropy N=${N} C=${C} labelSmoothing=${eps} weight=${weighted} ${dtype}`, withIsa(isa, async () => {
          // float32: the float64 reference of the same (rounded) inputs, to float32 accuracy
          const tol = dtype === 'float32' ? F32 : { rtol: 1e-10, atol: 1e-12 };
          const [x, xv] = randTensor([N, C], N * C, dtype, -4, 4);
          const labels = Array.from({ length: N }, (_, i) => (i * 7 + 3) % C);
          if (N > 2) labels[1] = -100;  // ignored
          const [w, wv] = randTensor([C], 5, dtype, 0.5, 2);
          const [dl, dlv] = randTensor([N], 6, dtype, 0.5, 1.5);
          const ref = refCE(xv, N, C, labels, eps, weighted ? wv : null, -100);
          const y = tensor(Int32Array.from(labels));
          const o = { labelSmoothing: eps, weight: weighted ? w : undefined };
          const [loss, lse] = crossEntropyForward(x, y, o);
          expect(loss.dtype).toBe(dtype);
          expectClose(await f64(loss), ref.loss, tol, 'loss');
          expectClose(await f64(crossEntropyBackward(x, y, lse, dl, o)), ref.grad.map((g, i) => g * dlv[Math.floor(i / C)]!), tol, 'grad');
        }));
      }
    }
    for (const shape of [[4, 3, 5, 5], [8, 6], [2, 7, 3, 1], [3, 2, 40, 30]]) for (const dtype of ['float32', 'float64'] as const) {
      it(`batch_norm x=[${shape}] ${dtype}: forward, saved statistics and backward against the float64 formulas, training and eval`, withIsa(isa, async () => {
        const tol = dtype === 'float32' ? F32 : { rtol: 1e-9, atol: 1e-11 };
        const C = shape[1]!, N = shape[0]!, S = shape.slice(2).reduce((a, b) => a * b, 1), M = N * S, EPS = 1e-5;
        const [x, xv] = randTensor(shape, 13, dtype, -2, 3);
        const [g, gv] = randTensor([C], 14, dtype, 0.5, 1.5);
        const [b, bv] = randTensor([C], 15, dtype);
        const [dy, dyv] = randTensor(shape, 16, dtype);
        const [rmI, rmv] = randTensor([C], 17, dtype);
        const [rvI, rvv] = randTensor([C], 18, dtype, 0.5, 2);
        const at = (n: number, c: number, s: number) => (n * C + c) * S + s;
        // y = g (x - mean) invstd + b; dx = g invstd / M (M dy - sum dy - xhat sum(dy xhat)) when training (the batch
        // statistics depend on x), g invstd dy in eval; dg = sum(dy xhat); db = sum(dy)
        const ref = (mean: Float64Array, invstd: Float64Array, training: boolean) => {
          const y = new Float64Array(xv.length), dx = new Float64Array(xv.length), dg = new Float64Array(C), db = new Float64Array(C);
          for (let c = 0; c < C; c++) {
            for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) {
              const i = at(n, c, s), xh = (xv[i]! - mean[c]!) * invstd[c]!;
              y[i] = gv[c]! * xh + bv[c]!;
              dg[c] += dyv[i]! * xh;
              db[c] += dyv[i]!;
            }
            for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) {
              const i = at(n, c, s), xh = (xv[i]! - mean[c]!) * invstd[c]!;
              dx[i] = training ? (gv[c]! * invstd[c]! / M) * (M * dyv[i]! - db[c]! - xh * dg[c]!) : gv[c]! * invstd[c]! * dyv[i]!;
            }
          }
          return { y, dx, dg, db };
        };
        const mean = new Float64Array(C), vr = new Float64Array(C);
        for (let c = 0; c < C; c++) {
          for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) mean[c] += xv[at(n, c, s)]! / M;
          for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) vr[c] += (xv[at(n, c, s)]! - mean[c]!) ** 2 / M;
        }
        for (const training of [true, false]) {
          const rm = rmI.clone(), rv = rvI.clone();
          const [y, sm, si] = batchNormForward(x, g, b, rm, rv, { training, momentum: 0.1, eps: EPS });
          const mu = training ? mean : rmv, is = (training ? vr : rvv).map((v) => 1 / Math.sqrt(v + EPS));
          const r = ref(mu, is, training);
          const what = training ? 'training' : 'eval';
          expectClose(await f64(y), r.y, tol, `${what} forward`);
          if (training) {
            expectClose(await f64(sm), mean, tol, 'saved mean');
            expectClose(await f64(si), is, tol, 'saved invstd');
            expectClose(await f64(rm), rmv.map((v, c) => 0.9 * v + 0.1 * mean[c]!), tol, 'running mean');
            expectClose(await f64(rv), rvv.map((v, c) => 0.9 * v + 0.1 * vr[c]! * M / (M - 1)), tol, 'running var (unbiased)');
          } else {
            expectClose(await f64(rm), rmv, { rtol: 0, atol: 0 }, 'running mean unchanged in eval');
          }
          const [dx, dg, db] = batchNormBackward(dy, x, g, sm, si, training);
          expect(dx.dtype).toBe(dtype);
          expectClose(await f64(dx), r.dx, tol, `${what} dx`);
          expectClose(await f64(dg), r.dg, tol, `${what} dweight`);
          expectClose(await f64(db), r.db, tol, `${what} dbias`);
        }
      }));
    }
    for (const shape of [[4, 3, 5, 5], [8, 6], [2, 7, 3, 1]]) {
      it(`batch_norm x=[${shape}] training and eval, forward and backward`, withIsa(isa, async () => {
        const C = shape[1]!, N = shape[0]!, S = shape.slice(2).reduce((a, b) => a * b, 1), M = N * S;
        const [x, xv] = randTensor(shape, 3, 'float64', -2, 3);
        const [g, gv] = randTensor([C], 4, 'float64', 0.5, 1.5);
        const [b, bv] = randTensor([C], 5, 'float64');
        const rm = zeros([C], { dtype: 'float64' }), rv = ones([C], { dtype: 'float64' });
        const [y, sm, si] = batchNormForward(x, g, b, rm, rv, { training: true, momentum: 0.1, eps: 1e-5 });
        const mean = new Float64Array(C), vr = new Float64Array(C);
        const at = (n: number, c: number, s: number) => (n * C + c) * S + s;
        for (let c = 0; c < C; c++) {
          for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) mean[c] += xv[at(n, c, s)]! / M;
          for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) vr[c] += (xv[at(n, c, s)]! - mean[c]!) ** 2 / M;
        }
        const ref = new Float64Array(xv.length);
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) ref[at(n, c, s)] = gv[c]! * (xv[at(n, c, s)]! - mean[c]!) / Math.sqrt(vr[c]! + 1e-5) + bv[c]!;
        expectClose(await f64(y), ref, { rtol: 1e-9, atol: 1e-12 }, 'forward');
        expectClose(await f64(rm), mean.map((m) => 0.1 * m), { rtol: 1e-12, atol: 1e-14 }, 'running mean');
        expectClose(await f64(rv), vr.map((v) => 0.9 + 0.1 * v * M / (M - 1)), { rtol: 1e-12, atol: 1e-14 }, 'running var (unbiased)');
        // backward against central finite differences of L = sum(y * r)
        const rvals = randArray(xv.length, 6);
        const r = tensor(rvals, { shape, dtype: 'float64' });
        const [dx, dg, db] = batchNormBackward(r, x, g, sm, si, true);
        const L = async (xx: Float64Array, gg: Float64Array) => {
          const [yy] = batchNormForward(tensor(xx, { shape, dtype: 'float64' }), tensor(gg, { dtype: 'float64' }), b, zeros([C], { dtype: 'float64' }), ones([C], { dtype: 'float64' }), { training: true });
          return yy.mul(r).sum().item();
        };
        const h = 1e-6;
        const dxv = await f64(dx), dgv = await f64(dg);
        for (const i of [0, 5, xv.length - 1]) {
          const p = Float64Array.from(xv), m = Float64Array.from(xv);
          p[i] += h; m[i] -= h;
          expect(Math.abs(dxv[i]! - ((await L(p, gv)) - (await L(m, gv))) / (2 * h))).toBeLessThan(1e-6);
        }
        const gp = Float64Array.from(gv), gm = Float64Array.from(gv);
        gp[0] += h; gm[0] -= h;
        expect(Math.abs(dgv[0]! - ((await L(xv, gp)) - (await L(xv, gm))) / (2 * h))).toBeLessThan(1e-6);
        const dbv = await f64(db);
        let s0 = 0;
        for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) s0 += rvals[at(n, 0, s)]!;
        expect(dbv[0]).toBeCloseTo(s0, 10);
        // eval mode uses the running statistics
        const [ye] = batchNormForward(x, g, b, rm, rv, { training: false, eps: 1e-5 });
        const rmv = await f64(rm), rvv = await f64(rv);
        const refE = new Float64Array(xv.length);
        for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let s = 0; s < S; s++) refE[at(n, c, s)] = gv[c]! * (xv[at(n, c, s)]! - rmv[c]!) / Math.sqrt(rvv[c]! + 1e-5) + bv[c]!;
        expectClose(await f64(ye), refE, { rtol: 1e-9, atol: 1e-12 }, 'eval forward');
      }));
    }
    it('dropout keeps about 1-p, scales by 1/(1-p), and is reproducible', withIsa(isa, async () => {
      manualSeed(7);
      const x = ones([100000]);
      const [y, mask] = dropoutForward(x, 0.3);
      const yv = await y.data(), mv = await mask.data();
      let kept = 0;
      for (let i = 0; i < yv.length; i++) {
        if (mv[i]) { kept++; expect(yv[i]).toBeCloseTo(1 / 0.7, 5); } else expect(yv[i]).toBe(0);
      }
      expect(Math.abs(kept / yv.length - 0.7)).toBeLessThan(0.01);
      manualSeed(7);
      const [y2] = dropoutForward(x, 0.3);
      expect(Array.from(await y2.data())).toEqual(Array.from(yv));
    }));
  });
}

describe('cross_entropy against tfjs and errors', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`an infinite class weight without label smoothing leaves the other classes' gradients finite (${dtype})`, async () => {
      const x = tensor([[0.5, -1, 2, 0.25]], { dtype }), y = tensor([0], { dtype: 'int32' });
      const o = { weight: tensor([1, 1, Infinity, 1], { dtype }) };
      const [, lse] = crossEntropyForward(x, y, o);
      const g = Array.from(await crossEntropyBackward(x, y, lse, tensor([1], { dtype }), o).data());
      const e = [0.5, -1, 2, 0.25].map(Math.exp), s = e.reduce((a, b) => a + b, 0);
      expectClose(g, [e[0]! / s - 1, e[1]! / s, e[2]! / s, e[3]! / s], { rtol: 1e-6, atol: 1e-7 }, 'grad');
    });
  }
  it('matches tf.losses.softmaxCrossEntropy (mean) and its gradient, N=33 C=10', async () => {
    const tf = await tfjs();
    const [x, xv] = randTensor([33, 10], 3, 'float32', -3, 3);
    const labels = Array.from({ length: 33 }, (_, i) => (i * 3) % 10);
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const X = tf.tensor2d(Float32Array.from(xv), [33, 10]);
    const f = (z: import('@tensorflow/tfjs-core').Tensor) => tf.losses.softmaxCrossEntropy(onehot, z);
    const refLoss = f(X).dataSync()[0]!;
    const refGrad = tf.grad(f)(X).dataSync();
    const y = tensor(Int32Array.from(labels));
    const [loss, lse] = crossEntropyForward(x, y);
    expect(await loss.mean().item()).toBeCloseTo(refLoss, 5);
    const dl = tensor(new Float32Array(33).fill(1 / 33));
    expectClose(await f64(crossEntropyBackward(x, y, lse, dl)), Float64Array.from(refGrad), { rtol: 1e-4, atol: 1e-6 }, 'grad');
  });
  it('labels out of range raise an IndexError at the next read, naming the op', async () => {
    const [l] = crossEntropyForward(tensor([[1, 2, 3]]), tensor([3], { dtype: 'int32' }));
    await expect(l.data()).rejects.toThrow(IndexError);
    const [l2] = crossEntropyForward(tensor([[1, 2, 3]]), tensor([-2], { dtype: 'int32' }));
    await expect(l2.data()).rejects.toThrow('cross_entropy: expected labels in [0, 3) or the ignore index, got -2 at index 0');
    // the backward checks the labels on its own too (it is exported): no read or write past the row
    const [, lse] = crossEntropyForward(tensor([[1, 2, 3]]), tensor([2], { dtype: 'int32' }));
    const dx = crossEntropyBackward(tensor([[1, 2, 3]]), tensor([7], { dtype: 'int32' }), lse, tensor([1]));
    await expect(dx.data()).rejects.toThrow('cross_entropy_bwd: expected labels in [0, 3) or the ignore index, got 7 at index 0');
    // the stream carries on after the error was reported
    expect(await tensor([1, 2]).sum().item()).toBe(3);
  });
  it('labels of the wrong dtype or shape', () => {
    expect(() => crossEntropyForward(tensor([[1, 2]]), tensor([1]))).toThrow(DTypeError);
    expect(() => crossEntropyForward(tensor([[1, 2]]), tensor([1, 0], { dtype: 'int32' }))).toThrow(ShapeError);
  });
});
