// split / chunk: the pieces against a plain reference written here (sizes as PyTorch cuts them, every dim, empty
// dims, integer dtypes), that they are views of the input, against TensorFlow.js's split, their gradients (gradcheck
// in float64, and each piece's gradient landing in its place), and their errors.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, split, chunk, gradcheck, zeros, ShapeError, ArgumentError } from '../../lib/index.js';
import { randArray, expectClose, f64, numel, throwsExactly, TOL } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('split');
covers('chunk');

/** The reference: the entries of x (row-major values v of `shape`) with index in [start, end) along dim d. */
function refSlice(v: ArrayLike<number>, shape: number[], d: number, start: number, end: number): number[] {
  const inner = numel(shape.slice(d + 1)), n = shape[d]!;
  return Array.from(v).filter((_, i) => {
    const k = Math.floor(i / inner) % n;
    return k >= start && k < end;
  });
}
/** PyTorch's sizes: torch.split with an integer s, torch.chunk with c chunks. */
const splitSizes = (n: number, s: number) => (n === 0 ? [0] : Array.from({ length: Math.ceil(n / s) }, (_, i) => Math.min(s, n - i * s)));
const chunkSizes = (n: number, c: number) => (n === 0 ? new Array<number>(c).fill(0) : splitSizes(n, Math.ceil(n / c)));

let seed = 11;
const f32 = (shape: number[]): [Tensor, Float32Array] => {
  const v = Float32Array.from(randArray(numel(shape), seed++));
  return [tensor(v, { shape }), v];
};

async function expectPieces(pieces: Tensor[], x: Tensor, v: ArrayLike<number>, d: number, sizes: number[], what: string) {
  expect(pieces.map((p) => p.shape[d]), `${what}: sizes`).toEqual(sizes);
  let start = 0;
  for (const [i, p] of pieces.entries()) {
    const want = [...x.shape];
    want[d] = sizes[i]!;
    expect(p.shape, `${what}: piece ${i} shape`).toEqual(want);
    expect(p.dtype).toBe(x.dtype);
    expect(Array.from(await p.data()), `${what}: piece ${i}`).toEqual(refSlice(v, [...x.shape], d, start, start + sizes[i]!));
    start += sizes[i]!;
  }
}

describe('split / chunk against the reference', () => {
  const shape = [7, 4, 5];
  for (const d of [0, 1, 2, -1, -3]) {
    for (const s of [1, 2, 3, 4, 7, 10]) {
      it(`split x=[${shape}] splitSize ${s} dim ${d}`, async () => {
        const [x, v] = f32(shape);
        const dd = (d + 3) % 3;
        await expectPieces(split(x, s, d), x, v, dd, splitSizes(shape[dd]!, s), 'function');
        await expectPieces(x.split(s, d), x, v, dd, splitSizes(shape[dd]!, s), 'method');
      });
    }
    for (const c of [1, 2, 3, 4, 5, 6, 8]) {
      it(`chunk x=[${shape}] chunks ${c} dim ${d} (PyTorch: ceil(n / chunks) each, possibly fewer chunks)`, async () => {
        const [x, v] = f32(shape);
        const dd = (d + 3) % 3;
        await expectPieces(chunk(x, c, d), x, v, dd, chunkSizes(shape[dd]!, c), 'function');
        await expectPieces(x.chunk(c, d), x, v, dd, chunkSizes(shape[dd]!, c), 'method');
      });
    }
  }
  it('chunk sizes as PyTorch: 6 in 4 -> [2,2,2], 5 in 4 -> [2,2,1], 3 in 5 -> [1,1,1], 0 in 3 -> [0,0,0]', () => {
    expect(chunk(zeros([6]), 4).map((p) => p.shape[0])).toEqual([2, 2, 2]);
    expect(chunk(zeros([5]), 4).map((p) => p.shape[0])).toEqual([2, 2, 1]);
    expect(chunk(zeros([3]), 5).map((p) => p.shape[0])).toEqual([1, 1, 1]);
    expect(chunk(zeros([2, 0]), 3, 1).map((p) => p.shape)).toEqual([[2, 0], [2, 0], [2, 0]]);
  });
  it('split x=[7,4,5] by sections [2,0,5] dim 0, [1,3] dim 1, [5] dim -1', async () => {
    const [x, v] = f32([7, 4, 5]);
    await expectPieces(split(x, [2, 0, 5]), x, v, 0, [2, 0, 5], '[2,0,5]');
    await expectPieces(x.split([1, 3], 1), x, v, 1, [1, 3], '[1,3]');
    await expectPieces(x.split([5], -1), x, v, 2, [5], '[5]');
  });
  it('a dim of size 0: splitSize 2 or 0 gives one empty piece, sections [] none', () => {
    expect(split(zeros([0, 3]), 2).map((p) => p.shape)).toEqual([[0, 3]]);
    expect(split(zeros([0, 3]), 0).map((p) => p.shape)).toEqual([[0, 3]]);
    expect(split(zeros([0, 3]), [])).toEqual([]);
  });
  it('int32 and uint8 inputs, and a transposed (non-contiguous) input', async () => {
    const iv = Int32Array.from({ length: 12 }, (_, i) => i - 5);
    const xi = tensor(iv, { shape: [3, 4], dtype: 'int32' });
    await expectPieces(xi.split(3, 1), xi, iv, 1, [3, 1], 'int32');
    const uv = Uint8Array.from({ length: 12 }, (_, i) => 250 + i);
    const xu = tensor(uv, { shape: [4, 3], dtype: 'uint8' });
    await expectPieces(xu.chunk(2), xu, uv, 0, [2, 2], 'uint8');
    const [x] = f32([4, 6]);
    const t = x.t();
    await expectPieces(t.split([2, 4]), t, await t.contiguous().data(), 0, [2, 4], 'transposed');
  });
  it('the pieces are views of the input: same storage, offsets along the dim, the input\'s strides', () => {
    const [x] = f32([6, 4]);
    const ps = x.split(2, 1);
    expect(ps.map((p) => p.offset)).toEqual([0, 2]);
    expect(ps.map((p) => p.strides)).toEqual([[4, 1], [4, 1]]);
    expect(x.chunk(3).map((p) => p.offset)).toEqual([0, 8, 16]);
  });
});

describe('split against TensorFlow.js', () => {
  it('x=[6,8,4]: sections [3,1,4] dim 1, 3 equal pieces dim 0, 2 dim -1', async () => {
    const t = await tfjs();
    const [x, v] = f32([6, 8, 4]);
    const cases: [number | number[], number, number | number[]][] = [[[3, 1, 4], 1, [3, 1, 4]], [2, 0, 3], [2, -1, 2]];
    for (const [ours, dim, theirs] of cases) {
      const want = t.tidy(() => t.split(t.tensor(v, [6, 8, 4]), theirs, dim).map((p) => p.dataSync()));
      const got = split(x, ours, dim);
      expect(got.length).toBe(want.length);
      for (const [i, p] of got.entries()) expectClose(await f64(p), Float64Array.from(want[i]!), TOL.float32, `split(${JSON.stringify(ours)}, ${dim}) piece ${i}`);
    }
  });
});

describe('split / chunk gradients', () => {
  const x64 = (shape: number[]) => tensor(randArray(numel(shape), seed++), { shape, dtype: 'float64' }).requiresGrad_();
  // each piece squared and weighted by its position (so that a piece's gradient in the wrong place shows)
  const weighted = (ps: Tensor[]) => ps.map((p, i) => p.mul(p).sum().mul(i + 1)).reduce((a, b) => a.add(b));
  for (const [name, f] of [
    ['split 2 dim 1 of [3,5]', (a: Tensor) => weighted(a.split(2, 1))],
    ['split [1,0,2] dim 0 of [3,5]', (a: Tensor) => weighted(a.split([1, 0, 2]))],
    ['chunk 3 dim -1 of [3,5]', (a: Tensor) => weighted(a.chunk(3, -1))],
  ] as const) {
    it(`gradcheck float64 ${name}`, async () => {
      const r = await gradcheck(f, [x64([3, 5])], { atol: 1e-6, rtol: 1e-4 });
      expect(r.worst, `worst at element ${r.at[1]}`).toBeLessThanOrEqual(1);
    });
  }
  it('x=[6,2] split [2,3,1]: piece i sends i + 1 to its rows; an unused piece sends 0', async () => {
    const x = x64([6, 2]);
    const [a, , c] = x.split([2, 3, 1]);
    a!.sum().add(c!.sum().mul(3)).backward();
    expect(Array.from(await x.grad!.data())).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 3, 3]);
  });
});

describe('split / chunk errors', () => {
  const x = zeros([5, 3]);
  it('0-d input, bad split sizes, sections that do not sum to the dim, bad chunks, a dim out of range', () => {
    throwsExactly(() => split(tensor(1), 1), ShapeError, 'split: expected a tensor of rank >= 1, got a 0-d tensor');
    throwsExactly(() => chunk(tensor(1), 1), ShapeError, 'chunk: expected a tensor of rank >= 1, got a 0-d tensor');
    throwsExactly(() => split(x, -1), ArgumentError, 'split: expected splitSize >= 0, got -1');
    throwsExactly(() => split(x, 0), ArgumentError, 'split: expected splitSize > 0 for dim 0 of size 5, got 0');
    throwsExactly(() => split(x, 1.5), ArgumentError, 'split: expected splitSize to be an integer, got the number 1.5');
    throwsExactly(() => x.split([2, 2]), ShapeError, 'split: expected sections summing to 5 (the size of dim 0 of shape [5,3]), got [2,2] (sum 4)');
    throwsExactly(() => x.split([2, 2], -1), ShapeError, 'split: expected sections summing to 3 (the size of dim 1 of shape [5,3]), got [2,2] (sum 4)');
    throwsExactly(() => x.split([6, -1]), ArgumentError, 'split: expected sections >= 0, got -1 at position 1');
    throwsExactly(() => x.split([2, 0.5]), ArgumentError, 'split: expected sections[1] to be an integer, got the number 0.5');
    throwsExactly(() => x.split('2' as unknown as number), ArgumentError, "split: expected splitSizeOrSections to be an integer or an array of integers, got the string '2'");
    throwsExactly(() => x.split(2, 2), ShapeError, 'split: expected an axis in [-2, 1], got 2');
    throwsExactly(() => x.chunk(0), ArgumentError, 'chunk: expected chunks >= 1, got 0');
    throwsExactly(() => x.chunk(2.5), ArgumentError, 'chunk: expected chunks to be an integer, got the number 2.5');
    throwsExactly(() => chunk(x, 2, -3), ShapeError, 'chunk: expected an axis in [-2, 1], got -3');
    throwsExactly(() => split(null as unknown as Tensor, 2), ArgumentError, 'split: expected input to be a Tensor, got null');
  });
});
