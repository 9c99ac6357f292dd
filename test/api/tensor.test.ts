// Behaviour of fullLike/zerosLike/onesLike, Tensor.view/ne/le/minWithIndices and emptyCache, against plain
// references written here (PyTorch semantics).
import { describe, it, expect } from 'vitest';
import { tensor, fullLike, zerosLike, onesLike, emptyCache, memory, sync, zeros, nn, Tensor, ArgumentError, ShapeError } from '../../lib/index.js';
import { randArray, f64 } from '../helpers.js';
import { covers } from './coverage.js';

covers('fullLike');
covers('zerosLike');
covers('onesLike');
covers('emptyCache');

describe('fullLike, zerosLike, onesLike', () => {
  // value as each dtype stores it: float32 rounds, int32 truncates toward zero, uint8 wraps (typed-array rules)
  const CASES: [string, 'float32' | 'float64' | 'int32' | 'uint8', number, number][] = [
    ['float32 0.1', 'float32', 0.1, Math.fround(0.1)],
    ['float64 0.1', 'float64', 0.1, 0.1],
    ['int32 -3.7', 'int32', -3.7, -3],
    ['uint8 7', 'uint8', 7, 7],
  ];
  for (const [name, dtype, value, stored] of CASES) {
    it(`fullLike keeps shape [2,3,4] and dtype, fills with the value as the dtype stores it (${name})`, async () => {
      const x = tensor(new Float64Array(24).map((_, i) => i), { shape: [2, 3, 4], dtype });
      const y = fullLike(x, value);
      expect(y.shape).toEqual([2, 3, 4]);
      expect(y.dtype).toBe(dtype);
      expect(y.device).toBe(x.device);
      expect(Array.from(await y.data())).toEqual(new Array(24).fill(stored));
      const z = zerosLike(x), o = onesLike(x);
      expect([z.dtype, o.dtype]).toEqual([dtype, dtype]);
      expect([z.shape, o.shape]).toEqual([[2, 3, 4], [2, 3, 4]]);
      expect(Array.from(await z.data())).toEqual(new Array(24).fill(0));
      expect(Array.from(await o.data())).toEqual(new Array(24).fill(1));
      // the input is untouched
      expect(Array.from(await x.data())).toEqual(Array.from({ length: 24 }, (_, i) => i));
    });
  }
  it('of a transposed view: the view\'s shape, a new contiguous tensor that shares nothing with the input', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const y = fullLike(x.t(), 2.5);
    expect(y.shape).toEqual([3, 2]);
    expect(y.isContiguous()).toBe(true);
    nn.init.constant_(y, -1);
    expect(Array.from(await x.data())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(await zerosLike(x.t()).data())).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('0-d and empty tensors', async () => {
    const s = fullLike(tensor(3, { dtype: 'float64' }), -2);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(-2);
    const e = onesLike(zeros([0, 5]));
    expect(e.shape).toEqual([0, 5]);
    expect((await e.data()).length).toBe(0);
  });
  it('do not require grad, like torch.*_like of a leaf that requires grad', () => {
    const x = tensor([1, 2, 3]).requiresGrad_();
    for (const y of [fullLike(x, 1), zerosLike(x), onesLike(x)]) {
      expect(y.requiresGrad).toBe(false);
      expect(y.gradFn).toBe(null);
    }
  });
  it('a non-tensor argument is an ArgumentError naming the op', () => {
    const bad = [1, 2] as unknown as Tensor;
    expect(() => fullLike(bad, 0)).toThrow(ArgumentError);
    expect(() => fullLike(bad, 0)).toThrow('full_like: expected input to be a Tensor, got an array of length 2');
    expect(() => zerosLike(bad)).toThrow('zeros_like: expected input to be a Tensor, got an array of length 2');
    expect(() => onesLike(null as unknown as Tensor)).toThrow('ones_like: expected input to be a Tensor, got null');
  });
});

describe('Tensor.view, ne, le, minWithIndices', () => {
  it('view of a contiguous tensor [2,3] -> [3,2] and [-1]: row-major order, shares storage (a write shows through)', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    const v = x.view([3, 2]);
    expect(v.shape).toEqual([3, 2]);
    expect(await v.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(x.view([-1]).shape).toEqual([6]);
    expect(x.view([1, -1, 2]).shape).toEqual([1, 3, 2]);
    nn.init.constant_(v.slice(0, 1, 2), 9);  // row 1 of the view = elements 2, 3 of x
    expect(await x.toArray()).toEqual([[1, 2, 9], [9, 5, 6]]);
  });
  it('view with a size that does not match is a ShapeError naming both', () => {
    const x = zeros([2, 3]);
    expect(() => x.view([4, 2])).toThrow(ShapeError);
    expect(() => x.view([4, 2])).toThrow(/\[2,3\]/);
  });
  // float64 references over a seeded input with ties (values on a coarse grid), broadcasting a row against a column
  const cmp = async (name: 'ne' | 'le', ref: (a: number, b: number) => boolean) => {
    const a = tensor(Float64Array.from({ length: 12 }, (_, i) => ((i * 7) % 5) - 2), { shape: [3, 4] });
    const b = tensor(Float64Array.from([-1, 0, 1]), { shape: [3, 1] });
    const av = await f64(a), bv = await f64(b);
    const y = a[name](b);
    expect(y.dtype).toBe('uint8');
    expect(y.shape).toEqual([3, 4]);
    const want = Array.from({ length: 12 }, (_, i) => +ref(av[i]!, bv[Math.floor(i / 4)]!));
    expect(Array.from(await y.data())).toEqual(want);
    expect(want.some((w) => w === 0) && want.some((w) => w === 1)).toBe(true);
    // a scalar operand
    expect(Array.from(await a[name](0).data())).toEqual(Array.from(av, (v) => +ref(v, 0)));
  };
  it('ne x=[3,4] vs [3,1] and a scalar: uint8, 1 where a != b', () => cmp('ne', (a, b) => a !== b));
  it('le x=[3,4] vs [3,1] and a scalar: uint8, 1 where a <= b', () => cmp('le', (a, b) => a <= b));
  it('ne and le with NaN: NaN != x is 1, NaN <= x is 0 (IEEE)', async () => {
    const a = tensor([NaN, 1, NaN]), b = tensor([NaN, NaN, 2]);
    expect(Array.from(await a.ne(b).data())).toEqual([1, 1, 1]);
    expect(Array.from(await a.le(b).data())).toEqual([0, 0, 0]);
    expect(Array.from(await tensor([1, 2], { dtype: 'int32' }).le(tensor([1, 1], { dtype: 'int32' })).data())).toEqual([1, 0]);
  });
  for (const axis of [0, 1, 2]) {
    it(`minWithIndices x=[4,5,3] axis=${axis}: values and int32 indices of the first minimum, keepdim`, async () => {
      // values on a grid of 5 so that ties occur: PyTorch (CPU) returns the first index of the minimum
      const g = Float64Array.from(randArray(60, 11 + axis, 0, 5), Math.floor);
      const xr = tensor(Float32Array.from(g), { shape: [4, 5, 3] });
      const shape = [4, 5, 3];
      const outShape = shape.filter((_, d) => d !== axis);
      const [vals, idx] = xr.minWithIndices(axis);
      expect(vals.shape).toEqual(outShape);
      expect(idx.shape).toEqual(outShape);
      expect(idx.dtype).toBe('int32');
      const strides = [15, 3, 1];
      const wantV: number[] = [], wantI: number[] = [];
      let ties = 0;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) for (let k = 0; k < 3; k++) {
        const pos = [i, j, k];
        if (pos[axis] !== 0) continue;
        let best = Infinity, bi = -1, count = 0;
        for (let t = 0; t < shape[axis]!; t++) {
          const q = [...pos];
          q[axis] = t;
          const v = g[q[0]! * strides[0]! + q[1]! * strides[1]! + q[2]!]!;
          if (v < best) { best = v; bi = t; count = 1; } else if (v === best) count++;
        }
        if (count > 1) ties++;
        wantV.push(best);
        wantI.push(bi);
      }
      expect(ties).toBeGreaterThan(0);
      expect(Array.from(await vals.data())).toEqual(wantV);
      expect(Array.from(await idx.data())).toEqual(wantI);
      const [vk, ik] = xr.minWithIndices(axis, true);
      expect(vk.shape).toEqual(shape.map((d, i) => (i === axis ? 1 : d)));
      expect(Array.from(await ik.data())).toEqual(wantI);
      // a negative axis names the same dim
      expect(Array.from(await xr.minWithIndices(axis - 3)[1].data())).toEqual(wantI);
    });
  }
  it('minWithIndices backward sends the gradient to the minimum only', async () => {
    const x = tensor([[3, 1, 2], [0, 5, -1]], { dtype: 'float64' }).requiresGrad_();
    const [v] = x.minWithIndices(1);
    v.mul(tensor([10, 20], { dtype: 'float64' })).sum().backward();
    expect(Array.from(await x.grad!.data())).toEqual([0, 10, 0, 0, 0, 20]);
  });
});

describe('emptyCache', () => {
  it('returns pooled bytes to the system; live tensors keep their values', async () => {
    const keep = tensor([1, 2, 3]);
    const big = zeros([512, 1024]);
    await big.data();
    big.dispose();
    await sync();
    const before = memory().cpu;
    expect(before.pooledBytes).toBeGreaterThanOrEqual(512 * 1024 * 4);
    emptyCache();
    const after = memory().cpu;
    expect(after.pooledBytes).toBe(0);
    expect(after.bytes).toBe(before.bytes);
    expect(after.storages).toBe(before.storages);
    expect(Array.from(await keep.data())).toEqual([1, 2, 3]);
    // allocation still works after the pool was emptied
    expect(Array.from(await zeros([4]).add(2).data())).toEqual([2, 2, 2, 2]);
  });
});
