// topk (native/cpu/topk.cpp) against a plain sort in the test (NaN largest, ties lowest index first) on every
// instruction set, both float dtypes, any dim, non-contiguous inputs, k = 0 and k = the whole dim, the GPT sampling
// shape; against TensorFlow.js's tf.topk; its backward (scatter to the chosen positions) exactly and by gradcheck in
// float64; and its errors.
import { describe, it, expect } from 'vitest';
import { tensor, topk, gradcheck, ShapeError, ArgumentError, DTypeError, Tensor } from '../../lib/index.js';
import { availableIsas, withIsa, randArray, numel, throwsExactly } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('topk');

// the reference: per row along `dim`, (value, index) pairs sorted best first (NaN largest, ties by index)
function refTopk(v: ArrayLike<number>, shape: number[], dim: number, k: number, largest: boolean) {
  const outer = numel(shape.slice(0, dim)), R = shape[dim]!, inner = numel(shape.slice(dim + 1));
  const values = new Float64Array(outer * k * inner), indices = new Int32Array(outer * k * inner);
  const rank = (x: number) => (Number.isNaN(x) ? Infinity : x);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const row = Array.from({ length: R }, (_, j) => ({ x: v[(o * R + j) * inner + i]!, j }));
      row.sort((a, b) => {
        const na = Number.isNaN(a.x), nb = Number.isNaN(b.x);
        if (na || nb) {
          if (na && nb) return a.j - b.j;
          return largest ? (na ? -1 : 1) : (na ? 1 : -1);
        }
        const d = largest ? rank(b.x) - rank(a.x) : rank(a.x) - rank(b.x);
        return d !== 0 ? d : a.j - b.j;
      });
      for (let j = 0; j < k; j++) {
        values[(o * k + j) * inner + i] = row[j]!.x;
        indices[(o * k + j) * inner + i] = row[j]!.j;
      }
    }
  return { values, indices };
}

// values drawn from few levels (so that ties are common), a NaN every 13th element when `nans`
function levels(n: number, seed: number, nans: boolean): number[] {
  return Array.from(randArray(n, seed, -4, 4), (x, i) => (nans && i % 13 === 5 ? NaN : Math.round(x * 2) / 2));
}

async function expectTopk(x: Tensor, xv: ArrayLike<number>, shape: number[], dim: number, k: number, largest: boolean, what: string) {
  const d = dim < 0 ? dim + shape.length : dim;
  const { values, indices } = topk(x, k, { dim, largest });
  const want = refTopk(xv, shape, d, k, largest);
  expect(values.shape, what).toEqual(shape.map((s, i) => (i === d ? k : s)));
  expect(indices.dtype, what).toBe('int32');
  expect(values.dtype, what).toBe(x.dtype);
  expect(Array.from(await indices.data()), `${what} indices`).toEqual(Array.from(want.indices));
  expect(Array.from(await values.data()), `${what} values`).toEqual(Array.from(want.values));
}

// [shape, dim, k]
const CASES: [number[], number, number][] = [
  [[7], 0, 3], [[7], -1, 7], [[7], 0, 0], [[1], 0, 1], [[3, 17], 1, 5], [[3, 17], 0, 2], [[4, 5, 6], 1, 4],
  [[4, 5, 6], 0, 4], [[2, 3, 4, 5], 2, 1], [[5, 600], 1, 40], [[2, 3000], -1, 600], [[9, 300], 1, 300],
];

for (const isa of availableIsas()) {
  describe(`topk isa=${isa}`, () => {
    for (const [shape, dim, k] of CASES) for (const dtype of ['float32', 'float64'] as const) for (const largest of [true, false]) {
      it(`x=[${shape}] dim=${dim} k=${k} largest=${largest} ${dtype} (ties and NaNs)`, withIsa(isa, async () => {
        const xv = levels(numel(shape), numel(shape) + k, true);
        const x = tensor(xv, { shape, dtype });
        await expectTopk(x, xv, shape, dim, k, largest, 'ties');
        const uv = Array.from(randArray(numel(shape), k + 7, -3, 3));
        const u = tensor(uv, { shape, dtype });
        const uv32 = dtype === 'float32' ? Array.from(Float32Array.from(uv)) : uv;
        await expectTopk(u, uv32, shape, dim, k, largest, 'distinct');
      }));
    }
    it('non-contiguous input: a transposed [6, 9] along both dims, and a strided slice', withIsa(isa, async () => {
      const xv = levels(54, 3, true);
      const x = tensor(xv, { shape: [6, 9] }).t();  // [9, 6], strides [1, 9]
      const xt = Array.from({ length: 54 }, (_, e) => xv[(e % 6) * 9 + Math.floor(e / 6)]!);
      await expectTopk(x, xt, [9, 6], 1, 3, true, 'transposed dim 1');
      await expectTopk(x, xt, [9, 6], 0, 4, false, 'transposed dim 0');
      const s = tensor(xv, { shape: [6, 9] }).slice(1, 1, 9, 2);  // [6, 4]
      const sv = Array.from({ length: 24 }, (_, e) => xv[Math.floor(e / 4) * 9 + 1 + 2 * (e % 4)]!);
      await expectTopk(s, sv, [6, 4], 1, 2, true, 'sliced');
    }));
    it('the GPT sampling shape [4, 50257] k=50, float32', withIsa(isa, async () => {
      const shape = [4, 50257];
      const xv = Array.from(Float32Array.from(randArray(numel(shape), 11, -10, 10)));
      await expectTopk(tensor(xv, { shape }), xv, shape, 1, 50, true, 'gpt');
    }));
  });
}

describe('topk', () => {
  it('a 0-d input: k 0 or 1 along dim 0 or -1', async () => {
    const { values, indices } = topk(tensor(2.5), 1);
    expect(values.shape).toEqual([]);
    expect(await values.item()).toBe(2.5);
    expect(await indices.item()).toBe(0);
    expect(topk(tensor(2.5), 0, { dim: 0 }).values.shape).toEqual([]);
  });
  it('is a Tensor method too, with sorted accepted', async () => {
    const { values, indices } = tensor([1, 5, 3, 5]).topk(2, { sorted: false });
    expect(Array.from(await values.data())).toEqual([5, 5]);
    expect(Array.from(await indices.data())).toEqual([1, 3]);
  });
  it('matches TensorFlow.js tf.topk along the last dim, [3, 40] k=7 and [2, 5, 64] k=64, float32', async () => {
    const tf = await tfjs();
    for (const [shape, k] of [[[3, 40], 7], [[2, 5, 64], 64]] as [number[], number][]) {
      const xv = Float32Array.from(randArray(numel(shape), k, -2, 2), (v, i) => (i % 9 === 0 ? 0.5 : v));  // with ties
      const ref = tf.topk(tf.tensor(xv, shape), k, true);
      const { values, indices } = topk(tensor(xv, { shape }), k);
      expect(Array.from(await values.data())).toEqual(Array.from(ref.values.dataSync()));
      expect(Array.from(await indices.data())).toEqual(Array.from(ref.indices.dataSync()));
      tf.dispose([ref.values, ref.indices]);
    }
  });
  it('backward: the gradient lands on the chosen positions, zeros elsewhere ([3, 8] dim 1 and [4, 3] dim 0)', async () => {
    for (const [shape, dim, k] of [[[3, 8], 1, 3], [[4, 3], 0, 2]] as [number[], number, number][]) {
      const xv = Array.from(randArray(numel(shape), 5, -1, 1));
      const x = tensor(xv, { shape, dtype: 'float64' }).requiresGrad_();
      const { values, indices } = topk(x, k, { dim });
      const gv = Array.from({ length: values.numel }, (_, i) => i + 1);
      values.mul(tensor(gv, { shape: values.shape, dtype: 'float64' })).sum().backward();
      const want = new Float64Array(numel(shape));
      const idx = await indices.data();
      const outer = numel(shape.slice(0, dim)), inner = numel(shape.slice(dim + 1)), R = shape[dim]!;
      for (let o = 0; o < outer; o++)
        for (let j = 0; j < k; j++)
          for (let i = 0; i < inner; i++) {
            const s = (o * k + j) * inner + i;
            want[(o * R + idx[s]!) * inner + i] = gv[s]!;
          }
      expect(Array.from(await x.grad!.data())).toEqual(Array.from(want));
    }
  });
  it('gradcheck in float64: largest and smallest, dim 1 of [3, 7] and dim 0 of a transposed [5, 4]', async () => {
    const x = tensor(Array.from(randArray(21, 9, -2, 2)), { shape: [3, 7], dtype: 'float64' }).requiresGrad_();
    expect((await gradcheck((t) => topk(t, 3, { dim: 1 }).values, [x])).ok).toBe(true);
    expect((await gradcheck((t) => topk(t, 2, { dim: 1, largest: false }).values, [x])).ok).toBe(true);
    const y = tensor(Array.from(randArray(20, 10, -2, 2)), { shape: [4, 5], dtype: 'float64' }).requiresGrad_();
    expect((await gradcheck((t) => topk(t.t(), 3, { dim: 0 }).values.mul(2), [y])).ok).toBe(true);
  });
  it('errors: k > the size of the dim, a negative or fractional k, integer input, bad options', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    throwsExactly(() => topk(x, 4), ShapeError, 'topk: expected k <= 3 (the size of dim 1 of shape [2,3]), got k = 4');
    throwsExactly(() => topk(x, 3, { dim: 0 }), ShapeError, 'topk: expected k <= 2 (the size of dim 0 of shape [2,3]), got k = 3');
    throwsExactly(() => topk(x, -1), ArgumentError, 'topk: expected k in [0, 9007199254740991], got -1');
    throwsExactly(() => topk(x, 1.5), ArgumentError, 'topk: expected k to be an integer, got the number 1.5');
    throwsExactly(() => topk(x, 1, { dim: 2 }), ShapeError, 'topk: expected an axis in [-2, 1], got 2');
    throwsExactly(() => topk(x, 1, { largest: 1 as never }), ArgumentError, 'topk: expected largest to be true or false, got the number 1');
    throwsExactly(() => topk(tensor([1, 2], { dtype: 'int32' }), 1), DTypeError, 'topk: expected a float32 or float64 input, got int32');
    throwsExactly(() => topk(null as never, 1), ArgumentError, 'topk: expected input to be a Tensor, got null');
  });
});
