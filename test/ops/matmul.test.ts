import { describe, it, expect } from 'vitest';
import { matmul, tensor, DTypeError, ShapeError } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, refMatmul, expectClose, f64, TOL, numel } from '../helpers.js';
import { tfjs } from '../tfjs.js';

// (the GEMM's paths: one row block, each task packing its own B panels; few B panels, each task packing its own
// A panels, with several K blocks; the shared packed operands; a long K split across threads, with few tiles and
// with K >= 8 KC)
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 7, 17], [17, 33, 7], [65, 127, 33], [127, 65, 129], [13, 300, 45], [64, 288, 100], [200, 1, 31],
  [257, 700, 65], [400, 300, 130], [64, 1100, 50], [40, 2100, 70],
];

for (const isa of availableIsas()) {
  describe(`matmul isa=${isa}`, () => {
    for (const [M, K, N] of SHAPES) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`matmul a=[${M},${K}] b=[${K},${N}] ${dtype}`, withIsa(isa, async () => {
          const [a, av] = randTensor([M, K], M * 31 + K, dtype);
          const [b, bv] = randTensor([K, N], N * 17 + K, dtype);
          const tol = dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 * Math.sqrt(K) } : TOL.float64;
          expectClose(await f64(matmul(a, b)), refMatmul(av, bv, M, K, N), tol, 'plain');
          // transposed operands through strides (no copy)
          const at = a.t().contiguous().t(), bt = b.t().contiguous().t();
          expectClose(await f64(matmul(at, bt)), refMatmul(av, bv, M, K, N), tol, 'transposed');
        }));
      }
    }
    // the second: a long K over a small C, split across threads (the epilogue applied once, after the sum)
    for (const [M, K, N] of [[33, 65, 17], [20, 1500, 9]] as const) {
      it(`matmul bias+relu epilogue a=[${M},${K}] b=[${K},${N}]`, withIsa(isa, async () => {
        const [a, av] = randTensor([M, K], 1);
        const [b, bv] = randTensor([K, N], 2);
        const [bias, biasv] = randTensor([N], 3);
        const ref = refMatmul(av, bv, M, K, N).map((v, i) => Math.max(0, v + biasv[i % N]!));
        expectClose(await f64(matmul(a, b, { bias, relu: true })), ref, { rtol: 1e-4, atol: 1e-4 * Math.sqrt(K) }, 'epilogue');
      }));
    }
  });
}

describe('matmul semantics', () => {
  it('broadcasts batch dims: [2,1,5,7] @ [3,7,4] -> [2,3,5,4]', async () => {
    const [a, av] = randTensor([2, 1, 5, 7], 5);
    const [b, bv] = randTensor([3, 7, 4], 6);
    const y = matmul(a, b);
    expect(y.shape).toEqual([2, 3, 5, 4]);
    const out = await f64(y);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) {
        const ref = refMatmul(av.subarray(i * 35, i * 35 + 35), bv.subarray(j * 28, j * 28 + 28), 5, 7, 4);
        expectClose(out.subarray((i * 3 + j) * 20, (i * 3 + j + 1) * 20), ref, { rtol: 1e-5, atol: 1e-5 }, `batch ${i},${j}`);
      }
  });
  it('a batch times a matrix, [2,3,5,7] @ [7,4] with bias and ReLU: one GEMM over the folded rows, equal to the per-entry reference and to the batched path (values and gradients)', async () => {
    const [a, av] = randTensor([2, 3, 5, 7], 11, 'float64');
    const [b, bv] = randTensor([7, 4], 12, 'float64');
    const [bias, biasv] = randTensor([4], 13, 'float64');
    a.requiresGrad = true;
    b.requiresGrad = true;
    bias.requiresGrad = true;
    const y = matmul(a, b, { bias, relu: true });
    expect(y.shape).toEqual([2, 3, 5, 4]);
    const out = await f64(y);
    for (let e = 0; e < 6; e++) {
      const ref = refMatmul(av.subarray(e * 35, e * 35 + 35), bv, 5, 7, 4).map((v, i) => Math.max(0, v + biasv[i % 4]!));
      expectClose(out.subarray(e * 20, e * 20 + 20), ref, TOL.float64, `entry ${e}`);
    }
    // the same product through the batched kernel: a non-contiguous input does not fold
    const at = a.detach().transpose(0, 1).contiguous().transpose(0, 1);
    expect(at.isContiguous()).toBe(false);
    at.requiresGrad = true;
    const b2 = b.detach(), bias2 = bias.detach();
    b2.requiresGrad = true;
    bias2.requiresGrad = true;
    const y2 = matmul(at, b2, { bias: bias2, relu: true });
    expectClose(await f64(y2), out, TOL.float64, 'batched path');
    const g = tensor(Array.from({ length: 120 }, (_, i) => Math.sin(i)), { dtype: 'float64' }).reshape([2, 3, 5, 4]);
    y.backward(g);
    y2.backward(g);
    expectClose(await f64(a.grad!), await f64(at.grad!), TOL.float64, 'grad a');
    expectClose(await f64(b.grad!), await f64(b2.grad!), TOL.float64, 'grad b');
    expectClose(await f64(bias.grad!), await f64(bias2.grad!), TOL.float64, 'grad bias');
  });
  for (const dtype of ['float32', 'float64'] as const) {
    it(`1-D operands follow NumPy: [7] @ [7,3] -> [3], [4,7] @ [7] -> [4], [7] @ [7] -> [], [7] @ [2,7,3] -> [2,3] ${dtype}`, async () => {
      const [v, vv] = randTensor([7], 1, dtype);
      const [m, mv] = randTensor([7, 3], 2, dtype);
      const [m2, m2v] = randTensor([4, 7], 3, dtype);
      const [b, bv] = randTensor([2, 7, 3], 4, dtype);
      const tol = dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : TOL.float64;
      const vm = matmul(v, m), mvp = matmul(m2, v), dot = matmul(v, v), vb = matmul(v, b);
      expect(vm.shape).toEqual([3]);
      expect(mvp.shape).toEqual([4]);
      expect(dot.shape).toEqual([]);
      expect(vb.shape).toEqual([2, 3]);
      // a vector on the left is a [1,7] row, on the right a [7,1] column
      expectClose(await f64(vm), refMatmul(vv, mv, 1, 7, 3), tol, 'vector @ matrix');
      expectClose(await f64(mvp), refMatmul(m2v, vv, 4, 7, 1), tol, 'matrix @ vector');
      expectClose(await f64(dot), refMatmul(vv, vv, 1, 7, 1), tol, 'vector @ vector');
      expectClose(await f64(vb), [...refMatmul(vv, bv.subarray(0, 21), 1, 7, 3), ...refMatmul(vv, bv.subarray(21), 1, 7, 3)], tol, 'vector @ batch');
    });
  }
  it('agrees with tfjs matMul on [65,127]@[127,33]', async () => {
    const tf = await tfjs();
    const [a, av] = randTensor([65, 127], 11);
    const [b, bv] = randTensor([127, 33], 12);
    const ref = tf.matMul(tf.tensor2d(Float32Array.from(av), [65, 127]), tf.tensor2d(Float32Array.from(bv), [127, 33])).dataSync();
    expectClose(await f64(matmul(a, b)), Float64Array.from(ref), { rtol: 1e-4, atol: 1e-4 }, 'tfjs');
  });
  it('rejects mismatched inner dims with a ShapeError', () => {
    expect(() => matmul(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow(ShapeError);
    expect(() => matmul(tensor([[1, 2, 3]]), tensor([[1, 2]]))).toThrow('matmul: expected inner dims to match, got shapes [1,3] and [1,2]');
  });
  it('rejects mixed dtypes with a DTypeError', () => {
    expect(() => matmul(tensor([[1]]), tensor([[1]], { dtype: 'float64' }))).toThrow(DTypeError);
  });
  it('propagates NaN and Inf like IEEE arithmetic', async () => {
    const a = tensor([[NaN, 1], [Infinity, 1]]);
    const b = tensor([[1, 0], [0, 1]]);
    const r = await matmul(a, b).data();
    expect(Number.isNaN(r[0])).toBe(true);
    expect(r[2]).toBe(Infinity);
    expect(numel([2, 2])).toBe(r.length);
  });
});
