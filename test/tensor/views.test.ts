import { describe, it, expect } from 'vitest';
import { tensor, arange, zeros, ones, full, linspace, eye, ShapeError, ArgumentError, DTypeError, memory } from '../../lib/index.js';

describe('creation', () => {
  it('from nested arrays, typed arrays and numbers', async () => {
    expect(tensor([[1, 2], [3, 4]]).shape).toEqual([2, 2]);
    expect(tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] }).dtype).toBe('int32');
    expect(tensor(3).shape).toEqual([]);
    expect(await tensor(3).item()).toBe(3);
    expect(await tensor([true, false], { dtype: 'uint8' }).toArray()).toEqual([1, 0]);
  });
  it('constants, ranges, identity', async () => {
    expect(await full([2], 7, { dtype: 'int32' }).toArray()).toEqual([7, 7]);
    expect(await zeros([2, 1]).toArray()).toEqual([[0], [0]]);
    expect(await ones([1, 2], { dtype: 'float64' }).toArray()).toEqual([[1, 1]]);
    expect(await arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(await arange(1, 2, 0.25).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(await linspace(0, 1, 5).toArray()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(await eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
  });
  it('bad input', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], { shape: [2, 2] })).toThrow('tensor: expected 4 values for shape [2,2], got 3');
    expect(() => zeros([-1])).toThrow('full: expected non-negative integer sizes, got shape [-1]');
    expect(() => zeros([2 ** 30, 2 ** 30])).toThrow(ShapeError);
    expect(() => zeros([1.5])).toThrow(ShapeError);
    expect(() => arange(0, 1, 0)).toThrow(ArgumentError);
    expect(() => tensor([1], { dtype: 'float16' as never })).toThrow(DTypeError);
    expect(() => tensor(['a'] as never)).toThrow(ArgumentError);
  });
});

describe('views', () => {
  const x = arange(24).reshape([2, 3, 4]);
  it('reshape is a view when the layout allows it, a copy otherwise', async () => {
    const before = memory().cpu.storages;
    const r = x.reshape([6, 4]);
    expect(memory().cpu.storages).toBe(before);
    expect(await r.slice(0, 5).toArray()).toEqual([[20, 21, 22, 23]]);
    const t = x.transpose(1, 2); // [2,4,3], not contiguous
    expect(t.isContiguous()).toBe(false);
    expect(await t.reshape([2, 12]).slice(0, 0, 1).slice(1, 0, 4).toArray()).toEqual([[0, 4, 8, 1]]);
    expect(() => x.reshape([5, 5])).toThrow('reshape: expected a shape of 24 elements (from [2,3,4]), got [5,5]');
    expect(x.reshape([-1, 4]).shape).toEqual([6, 4]);
  });
  it('contiguous() of transposes: tiles with partial edges, batched, power-of-two strides, with a cast', async () => {
    for (const [b, r, c] of [[1, 70, 37], [3, 33, 64], [2, 64, 128], [1, 1, 40]] as const) {
      const n = b * r * c;
      const x = arange(0, n, 1, { dtype: 'float64' }).reshape([b, r, c]);
      const t = x.transpose(1, 2).contiguous();
      const v = await t.data();
      let bad = 0;
      for (let i = 0; i < b; i++) for (let j = 0; j < c; j++) for (let k = 0; k < r; k++) if (v[(i * c + j) * r + k] !== (i * r + k) * c + j) bad++;
      expect(bad).toBe(0);
      const f = await x.cast('int32').transpose(1, 2).cast('float32').data();
      expect(Array.from(f)).toEqual(Array.from(v));
    }
  });
  it('permute, transpose, slice with step, expand, squeeze, unsqueeze, flatten', async () => {
    expect(x.permute([2, 0, 1]).shape).toEqual([4, 2, 3]);
    expect(await x.permute([2, 0, 1]).contiguous().slice(0, 1, 2).flatten().toArray()).toEqual([1, 5, 9, 13, 17, 21]);
    expect(await x.slice(2, 0, 4, 2).slice(0, 1).slice(1, 2).toArray()).toEqual([[[20, 22]]]);
    expect(await x.slice(2, -1).flatten().toArray()).toEqual([3, 7, 11, 15, 19, 23]);
    const b = tensor([1, 2, 3]).unsqueeze(0).expand([2, 3]);
    expect(b.strides).toEqual([0, 1]);
    expect(await b.toArray()).toEqual([[1, 2, 3], [1, 2, 3]]);
    expect(b.unsqueeze(1).shape).toEqual([2, 1, 3]);
    expect(b.unsqueeze(1).squeeze(1).shape).toEqual([2, 3]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(() => tensor([1, 2]).expand([3])).toThrow(ShapeError);
    expect(() => x.permute([0, 0, 1])).toThrow(ShapeError);
  });
  it('cast between dtypes', async () => {
    expect(await tensor([1.7, -1.2]).cast('int32').toArray()).toEqual([1, -1]);
    expect((await tensor([300, 2], { dtype: 'int32' }).cast('float64').toArray())).toEqual([300, 2]);
  });
});
