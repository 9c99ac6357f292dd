// Everything JS can check is checked when the op is recorded, so that it throws at the user's line (issue 13): a
// rank above native/core/types.h's kMaxDims, dtype names, integer arguments, 0-d inputs where a dim is needed,
// values that do not fit an integer dtype, infinite or huge sizes. Each failed call must also leave nothing behind
// in the command buffer: an unrelated op recorded right after it (in the same buffer, as `u.mul(10)` below is)
// reads correctly, where a malformed record used to drop it ("stream: malformed command buffer").
import { describe, expect, it } from 'vitest';
import * as T from '../../lib/index.js';

type ErrorClass = new (...a: never[]) => Error;

// f throws `cls` with exactly `message`, and an op recorded after it still runs.
async function throwsCleanly(f: () => unknown, cls: ErrorClass, message: string): Promise<void> {
  const u = T.tensor([1, 2, 3]);
  let err: unknown;
  try {
    const r = f();
    if (r instanceof T.Tensor) await r.data();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(message);
  expect(Array.from(await u.mul(10).data())).toEqual([10, 20, 30]);
}

const r8 = [1, 1, 1, 1, 1, 1, 1, 1];  // the most dims a tensor may have
const r9 = [2, 1, 2, 1, 2, 1, 2, 1, 2];
const nest = (d: number): unknown => (d === 0 ? 1 : [nest(d - 1)]);
const i32 = (v: number[]) => T.tensor(v, { dtype: 'int32' });

describe('rank above 8 dims (native kMaxDims)', () => {
  const cases: [string, () => unknown, string][] = [
    ['ones([2,1,2,1,2,1,2,1,2])', () => T.ones(r9), 'full: expected at most 8 dims, got shape [2,1,2,1,2,1,2,1,2] (9 dims)'],
    ['full(r9, 3)', () => T.full(r9, 3), 'full: expected at most 8 dims, got shape [2,1,2,1,2,1,2,1,2] (9 dims)'],
    ['randn(r9)', () => T.randn(r9), 'randn: expected at most 8 dims, got shape [2,1,2,1,2,1,2,1,2] (9 dims)'],
    ['tensor(nested 9 deep)', () => T.tensor(nest(9) as number[]), 'tensor: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,1] (9 dims)'],
    ['tensor(1, { shape: r9 })', () => T.tensor(1, { shape: [1, ...r8] }), 'tensor: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,1] (9 dims)'],
    ['reshape to 9 dims', () => T.ones(r8).reshape([1, ...r8]), 'reshape: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,1] (9 dims)'],
    ['view to 9 dims', () => T.ones([2]).view([1, 1, 1, 1, 1, 1, 1, 1, 2]), 'reshape: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,2] (9 dims)'],
    ['expand to 9 dims', () => T.ones([2]).expand([1, 1, 1, 1, 1, 1, 1, 3, 2]), 'expand: expected at most 8 dims, got shape [1,1,1,1,1,1,1,3,2] (9 dims)'],
    ['unsqueeze of 8 dims', () => T.ones(r8).unsqueeze(0), 'unsqueeze: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,1] (9 dims)'],
    ['stack of 8-dim tensors', () => T.stack([T.ones(r8), T.ones(r8)]), 'unsqueeze: expected at most 8 dims, got shape [1,1,1,1,1,1,1,1,1] (9 dims)'],
  ];
  it.each(cases)('%s throws a ShapeError at the call', async (_name, f, message) => {
    await throwsCleanly(f, T.ShapeError, message);
  });

  it('8 dims work: ones(r8).add(ones([3])) is [1,1,1,1,1,1,1,3] of 2s', async () => {
    const y = T.ones(r8).add(T.ones([3]));
    expect(y.shape).toEqual([1, 1, 1, 1, 1, 1, 1, 3]);
    expect(Array.from(await y.data())).toEqual([2, 2, 2]);
  });
});

describe('dtype names', () => {
  const DT = 'expected a dtype of float32, float64, int32 or uint8, got';
  const x = () => T.tensor([1, 2]);
  const cases: [string, () => unknown, string][] = [
    ["cast('bool')", () => x().cast('bool' as never), `cast: ${DT} 'bool'`],
    ["cast('float16')", () => x().cast('float16' as never), `cast: ${DT} 'float16'`],
    ['cast(undefined)', () => x().cast(undefined as never), `cast: ${DT} undefined`],
    ["cast('Float32')", () => x().cast('Float32' as never), `cast: ${DT} 'Float32'`],
    ['cast(3)', () => x().cast(3 as never), `cast: ${DT} 3`],
    ["zeros([2], { dtype: 'bool' })", () => T.zeros([2], { dtype: 'bool' as never }), `full: ${DT} 'bool'`],
    ["arange(3, { dtype: 'int64' })", () => T.arange(0, 3, 1, { dtype: 'int64' as never }), `arange: ${DT} 'int64'`],
    ["linspace(0, 1, 3, { dtype: 'half' })", () => T.linspace(0, 1, 3, { dtype: 'half' as never }), `linspace: ${DT} 'half'`],
    ["eye(2, 2, { dtype: 'f32' })", () => T.eye(2, 2, { dtype: 'f32' as never }), `eye: ${DT} 'f32'`],
    ["tensor([1], { dtype: 'double' })", () => T.tensor([1], { dtype: 'double' as never }), `tensor: ${DT} 'double'`],
    ["randn([2], { dtype: 'bool' })", () => T.randn([2], { dtype: 'bool' as never }), `randn: ${DT} 'bool'`],
  ];
  it.each(cases)('%s throws a DTypeError', async (_name, f, message) => {
    await throwsCleanly(f, T.DTypeError, message);
  });
  it("cast('int32') of [1.5, 2] still converts: [1, 2]", async () => {
    expect(Array.from(await T.tensor([1.5, 2]).cast('int32').data())).toEqual([1, 2]);
  });
});

describe('a dtype name in place of the options (PyTorch takes dtype only by keyword)', () => {
  const cases: [string, () => unknown, string][] = [
    ["zeros([2], 'int32')", () => T.zeros([2], 'int32' as never), "full: expected an options object such as { dtype: 'int32' }, got the string 'int32'"],
    ["ones([2], 'float64')", () => T.ones([2], 'float64' as never), "full: expected an options object such as { dtype: 'float64' }, got the string 'float64'"],
    ["full([2], 1, 'uint8')", () => T.full([2], 1, 'uint8' as never), "full: expected an options object such as { dtype: 'uint8' }, got the string 'uint8'"],
    ["arange(0, 3, 1, 'float32')", () => T.arange(0, 3, 1, 'float32' as never), "arange: expected an options object such as { dtype: 'float32' }, got the string 'float32'"],
    ["eye(2, 2, 'int32')", () => T.eye(2, 2, 'int32' as never), "eye: expected an options object such as { dtype: 'int32' }, got the string 'int32'"],
    ["tensor([1], 'int32')", () => T.tensor([1], 'int32' as never), "tensor: expected an options object such as { dtype: 'int32' }, got the string 'int32'"],
    ['zeros([2], 5)', () => T.zeros([2], 5 as never), 'full: expected an options object, got the number 5'],
    ["zeros([2], { device: 'gpu' })", () => T.zeros([2], { device: 'gpu' as never }), "full: expected a device 'cpu', 'cuda', 'cuda:N' or 'auto', got 'gpu'"],
  ];
  it.each(cases)('%s throws an ArgumentError', async (_name, f, message) => {
    await throwsCleanly(f, T.ArgumentError, message);
  });
});

describe('integer arguments', () => {
  const x = () => T.arange(0, 8, 1, { dtype: 'float32' });
  const cases: [string, () => unknown, string][] = [
    ['slice(0, 1.5, 4)', () => x().slice(0, 1.5, 4), 'slice: expected start to be an integer, got the number 1.5'],
    ['slice(0, NaN)', () => x().slice(0, NaN), 'slice: expected start to be an integer, got the number NaN'],
    ['slice(0, 0, 2.5)', () => x().slice(0, 0, 2.5), 'slice: expected end to be an integer, got the number 2.5'],
    ['slice(0, 0, Infinity)', () => x().slice(0, 0, Infinity), 'slice: expected end to be an integer, got the number Infinity'],
    ['slice(0, 0, 4, 1.5)', () => x().slice(0, 0, 4, 1.5), 'slice: expected step to be an integer, got the number 1.5'],
    ['slice(NaN, 0)', () => x().slice(NaN, 0), 'slice: expected an integer axis, got NaN'],
    ['sum(0.5)', () => x().sum(0.5), 'sum: expected an integer axis, got 0.5'],
    ["softmax('0')", () => x().softmax('0' as never), "softmax: expected an integer axis, got '0'"],
    ['size(1.5)', () => x().size(1.5), 'size: expected an integer axis, got 1.5'],
    ['cat([a, b], 0.5)', () => T.cat([x(), x()], 0.5), 'cat: expected an integer axis, got 0.5'],
    ["sum(0, 'yes')", () => x().sum(0, 'yes' as never), "sum: expected keepdim to be true or false, got the string 'yes'"],
    ['argmax(0, 1)', () => x().argmax(0, 1 as never), 'argmax: expected keepdim to be true or false, got the number 1'],
    ['maxWithIndices(0, null)', () => x().maxWithIndices(0, null as never), 'max: expected keepdim to be true or false, got null'],
    ['matmul(a, b, { relu: 1 })', () => T.matmul(T.ones([2, 2]), T.ones([2, 2]), { relu: 1 as never }), 'matmul: expected relu to be true or false, got the number 1'],
    ['linspace(0, 1, 2.5)', () => T.linspace(0, 1, 2.5), 'linspace: expected a non-negative integer count, got the number 2.5'],
  ];
  it.each(cases)('%s throws an ArgumentError', async (_name, f, message) => {
    await throwsCleanly(f, T.ArgumentError, message);
  });
  it('integer slices still work: arange(8).slice(0, 1, 7, 2) is [1,3,5], slice(0, -3) is [5,6,7]', async () => {
    expect(Array.from(await x().slice(0, 1, 7, 2).data())).toEqual([1, 3, 5]);
    expect(Array.from(await x().slice(0, -3).data())).toEqual([5, 6, 7]);
  });
});

describe('0-d inputs where a dim is needed', () => {
  const cases: [string, () => unknown, string][] = [
    ['cat([tensor(1), tensor(2)])', () => T.cat([T.tensor(1), T.tensor(2)]), 'cat: expected tensors of rank >= 1, got a 0-d tensor at position 0'],
    ['cat([tensor([1]), tensor(2)])', () => T.cat([T.tensor([1]), T.tensor(2)]), 'cat: expected tensors of rank >= 1, got a 0-d tensor at position 1'],
    ['indexSelect(tensor(1), 0, [0])', () => T.indexSelect(T.tensor(1), 0, i32([0])), 'index_select: expected an input of rank >= 1, got a 0-d tensor'],
    ['tensor(1).size(0)', () => T.tensor(1).size(0), 'size: expected a tensor of rank >= 1, got a 0-d tensor'],
    ['tensor(1).slice(0, 0)', () => T.tensor(1).slice(0, 0), 'slice: expected a tensor of rank >= 1, got a 0-d tensor'],
  ];
  it.each(cases)('%s throws a ShapeError', async (_name, f, message) => {
    await throwsCleanly(f, T.ShapeError, message);
  });
  it('0-d inputs that PyTorch takes: stack([tensor(1), tensor(2)]) is [1,2]; tensor(3).sum(-1) is 3; tensor(3).softmax() is 1', async () => {
    expect(Array.from(await T.stack([T.tensor(1), T.tensor(2)]).data())).toEqual([1, 2]);
    expect(await T.tensor(3).sum(-1).item()).toBe(3);
    expect(await T.tensor(3).softmax().item()).toBe(1);
  });
  it('a 0-d tensor takes axis 0 or -1 only: tensor(3).sum(1) names [-1, 0]', async () => {
    await throwsCleanly(() => T.tensor(3).sum(1), T.ShapeError, 'sum: expected an axis in [-1, 0], got 1');
  });
});

describe('values that do not fit an integer dtype', () => {
  const cases: [string, () => unknown, string][] = [
    ['arange(2**31-2, 2**31+2)', () => T.arange(2 ** 31 - 2, 2 ** 31 + 2),
      "arange: expected values in the range of int32 ([-2147483648, 2147483647]), got 2147483646 to 2147483649 (pass { dtype: 'float64' } for a wider range)"],
    ['arange(-(2**31)-1, -(2**31)+1)', () => T.arange(-(2 ** 31) - 1, -(2 ** 31) + 1),
      "arange: expected values in the range of int32 ([-2147483648, 2147483647]), got -2147483649 to -2147483648 (pass { dtype: 'float64' } for a wider range)"],
    ['arange(0, -(2**31)-2, -(2**31)-1)', () => T.arange(0, -(2 ** 31) - 2, -(2 ** 31) - 1),
      "arange: expected values in the range of int32 ([-2147483648, 2147483647]), got 0 to -2147483649 (pass { dtype: 'float64' } for a wider range)"],
    ["arange(0, 300, 1, { dtype: 'uint8' })", () => T.arange(0, 300, 1, { dtype: 'uint8' }), 'arange: expected values in the range of uint8 ([0, 255]), got 0 to 299'],
    ["full([2], 'a')", () => T.full([2], 'a' as never), "full: expected a number as the value, got the string 'a'"],
    ["linspace(0, 300, 4, { dtype: 'uint8' })", () => T.linspace(0, 300, 4, { dtype: 'uint8' }), 'linspace: expected a start and an end in the range of uint8 ([0, 255]), got 0 and 300'],
  ];
  it.each(cases)('%s throws an ArgumentError', async (_name, f, message) => {
    await throwsCleanly(f, T.ArgumentError, message);
  });
  it("the wider dtype works: arange(2**31-2, 2**31+2, 1, { dtype: 'float64' }) reads 2147483646..2147483649; the int32 ends fit", async () => {
    expect(Array.from(await T.arange(2 ** 31 - 2, 2 ** 31 + 2, 1, { dtype: 'float64' }).data())).toEqual([2147483646, 2147483647, 2147483648, 2147483649]);
    expect(Array.from(await T.arange(2 ** 31 - 2, 2 ** 31).data())).toEqual([2147483646, 2147483647]);
    expect(Array.from(await T.arange(-(2 ** 31), -(2 ** 31) + 2).data())).toEqual([-2147483648, -2147483647]);
    expect(Array.from(await T.linspace(0, 255.9, 2, { dtype: 'uint8' }).data())).toEqual([0, 255]);
  });
});

describe('infinite or huge sizes', () => {
  const cases: [string, () => unknown, ErrorClass, string][] = [
    ['arange(0, Infinity)', () => T.arange(0, Infinity), T.ArgumentError, 'arange: expected a finite number as end, got the number Infinity'],
    ['arange(NaN)', () => T.arange(NaN), T.ArgumentError, 'arange: expected a finite number as end, got the number NaN'],
    ['arange(-Infinity, 0)', () => T.arange(-Infinity, 0), T.ArgumentError, 'arange: expected a finite number as start, got the number -Infinity'],
    ["arange('5')", () => T.arange('5' as never), T.ArgumentError, "arange: expected a finite number as end, got the string '5'"],
    ['linspace(0, 1, Infinity)', () => T.linspace(0, 1, Infinity), T.ArgumentError, 'linspace: expected a non-negative integer count, got the number Infinity'],
    ['eye(1e6)', () => T.eye(1e6), T.ShapeError,
      'eye: expected a tensor of at most 2^40 bytes (1 TiB), got shape [1000000,1000000] of float32 (4000000000000 bytes)'],
    ['eye(1e5)', () => T.eye(1e5), T.ShapeError,
      'eye: expected at most 2^32 elements (the largest typed array), got shape [100000,100000] (10000000000 elements)'],
    ['eye(Infinity)', () => T.eye(Infinity), T.ShapeError, 'eye: expected non-negative integer sizes, got shape [Infinity,Infinity]'],
    ['arange(0, 1e12)', () => T.arange(0, 1e12), T.ShapeError,
      'arange: expected a tensor of at most 2^40 bytes (1 TiB), got shape [1000000000000] of int32 (4000000000000 bytes)'],
    ["arange(0, 2**32+8, 1, { dtype: 'float32' })", () => T.arange(0, 2 ** 32 + 8, 1, { dtype: 'float32' }), T.ShapeError,
      'arange: expected at most 2^32 elements (the largest typed array), got shape [4294967304] (4294967304 elements)'],
    ["zeros([2**38], { dtype: 'float64' })", () => T.zeros([2 ** 38], { dtype: 'float64' }), T.ShapeError,
      'full: expected a tensor of at most 2^40 bytes (1 TiB), got shape [274877906944] of float64 (2199023255552 bytes)'],
    ['zeros([2**30, 2**30])', () => T.zeros([2 ** 30, 2 ** 30]), T.ShapeError,
      'full: expected at most 2^40 elements, got shape [1073741824,1073741824] (1152921504606847000 elements)'],
    ['ones([2**21, 1]).add(ones([1, 2**21]))', () => T.ones([2 ** 21, 1]).add(T.ones([1, 2 ** 21])), T.ShapeError,
      'add: expected at most 2^40 elements, got shape [2097152,2097152] (4398046511104 elements)'],
  ];
  it.each(cases)('%s throws a named error', async (_name, f, cls, message) => {
    await throwsCleanly(f, cls, message);
  });
});
