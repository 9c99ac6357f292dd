// repeatInterleave: against a plain reference written here (one count or one per entry, as a number, an array or an
// int32 tensor; every dim; without dim the flattened input; integer dtypes; zero counts), against TensorFlow.js
// (tile of an inserted axis for one count, gather for counts per entry), gradients (gradcheck in float64, and the
// gradient of an entry being the sum over its copies), and errors.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, repeatInterleave, gradcheck, zeros, ShapeError, ArgumentError, DTypeError } from '../../lib/index.js';
import { randArray, expectClose, f64, numel, throwsExactly, TOL } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('repeatInterleave');

/** The reference: along dim d of `shape`, entry k repeated counts[k] times (counts of length 1: for every entry). */
function refRepeat(v: ArrayLike<number>, shape: number[], d: number, counts: number[]): { values: number[]; shape: number[] } {
  const outer = numel(shape.slice(0, d)), n = shape[d]!, inner = numel(shape.slice(d + 1));
  const c = counts.length === 1 ? new Array<number>(n).fill(counts[0]!) : counts;
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < n; k++) {
      for (let r = 0; r < c[k]!; r++) for (let i = 0; i < inner; i++) values.push(v[(o * n + k) * inner + i]!);
    }
  }
  const out = [...shape];
  out[d] = c.reduce((a, b) => a + b, 0);
  return { values, shape: out };
}

let seed = 23;
const f32 = (shape: number[]): [Tensor, Float32Array] => {
  const v = Float32Array.from(randArray(numel(shape), seed++));
  return [tensor(v, { shape }), v];
};
async function expectRef(y: Tensor, want: { values: number[]; shape: number[] }, what: string) {
  expect(y.shape, what).toEqual(want.shape);
  expect(Array.from(await y.data()), what).toEqual(want.values);
}

describe('repeatInterleave against the reference', () => {
  const shape = [3, 4, 2];
  for (const d of [0, 1, 2, -1]) {
    for (const r of [0, 1, 2, 3]) {
      it(`x=[${shape}] repeats ${r} dim ${d}`, async () => {
        const [x, v] = f32(shape);
        const want = refRepeat(v, shape, (d + 3) % 3, [r]);
        await expectRef(repeatInterleave(x, r, d), want, 'function');
        await expectRef(x.repeatInterleave(r, d), want, 'method');
      });
    }
  }
  const perEntry: [number, number[]][] = [[0, [2, 0, 1]], [1, [1, 3, 0, 2]], [2, [4, 1]], [-2, [0, 0, 0, 0]]];
  for (const [d, counts] of perEntry) {
    it(`x=[${shape}] repeats per entry [${counts}] dim ${d}: as an array and as an int32 tensor`, async () => {
      const [x, v] = f32(shape);
      const want = refRepeat(v, shape, (d + 3) % 3, counts);
      await expectRef(repeatInterleave(x, counts, d), want, 'array');
      await expectRef(x.repeatInterleave(tensor(Int32Array.from(counts), { dtype: 'int32' }), d), want, 'int32 tensor');
    });
  }
  it('one count as a one-element array, a [1] tensor or a 0-d tensor counts for every entry', async () => {
    const [x, v] = f32([3, 2]);
    const want = refRepeat(v, [3, 2], 0, [2]);
    await expectRef(x.repeatInterleave([2], 0), want, '[2]');
    await expectRef(x.repeatInterleave(tensor([2], { dtype: 'int32' }), 0), want, 'tensor [1]');
    await expectRef(x.repeatInterleave(tensor(2, { dtype: 'int32' }), 0), want, '0-d tensor');
  });
  it('without dim: the flattened input, a 1-d result (x=[2,3] repeats 2 and per entry of the 6)', async () => {
    const [x, v] = f32([2, 3]);
    await expectRef(x.repeatInterleave(2), refRepeat(v, [6], 0, [2]), 'repeats 2');
    await expectRef(repeatInterleave(x, [1, 0, 2, 0, 1, 3]), refRepeat(v, [6], 0, [1, 0, 2, 0, 1, 3]), 'per entry');
    await expectRef(tensor(5).repeatInterleave(3), { values: [5, 5, 5], shape: [3] }, '0-d input');
    await expectRef(tensor(5).repeatInterleave(2, 0), { values: [5, 5], shape: [2] }, '0-d input with dim 0');
  });
  it('int32, uint8 and float64 inputs keep their dtype; a transposed input; an empty dim', async () => {
    const xi = tensor(Int32Array.from([-3, 7, 2 ** 30, -(2 ** 31)]), { shape: [2, 2], dtype: 'int32' });
    const yi = xi.repeatInterleave([1, 2], 1);
    expect(yi.dtype).toBe('int32');
    await expectRef(yi, refRepeat([-3, 7, 2 ** 30, -(2 ** 31)], [2, 2], 1, [1, 2]), 'int32');
    const xu = tensor(Uint8Array.from([0, 255, 128]), { dtype: 'uint8' });
    expect(xu.repeatInterleave(2).dtype).toBe('uint8');
    await expectRef(xu.repeatInterleave(2), refRepeat([0, 255, 128], [3], 0, [2]), 'uint8');
    const xd = tensor(Float64Array.from([0.1, 1 / 3]), { dtype: 'float64' });
    await expectRef(xd.repeatInterleave(3), refRepeat([0.1, 1 / 3], [2], 0, [3]), 'float64');
    const [x] = f32([3, 4]);
    const t = x.t();
    await expectRef(t.repeatInterleave([2, 0, 1, 1], 0), refRepeat(await t.contiguous().data(), [4, 3], 0, [2, 0, 1, 1]), 'transposed');
    await expectRef(zeros([0, 3]).repeatInterleave(4, 0), { values: [], shape: [0, 3] }, 'empty dim');
  });
});

describe('repeatInterleave against TensorFlow.js', () => {
  it('x=[3,4,2]: one count (tile of an inserted axis) and counts per entry (gather) along each dim', async () => {
    const t = await tfjs();
    const shape = [3, 4, 2];
    const [x, v] = f32(shape);
    for (let d = 0; d < 3; d++) {
      const want = t.tidy(() => {
        const a = t.tensor(v, shape);
        const reps = [1, 1, 1, 1];
        reps[d + 1] = 3;
        const out = [...shape];
        out[d] = 3 * shape[d]!;
        return t.reshape(t.tile(t.expandDims(a, d + 1), reps), out).dataSync();
      });
      expectClose(await f64(x.repeatInterleave(3, d)), Float64Array.from(want), TOL.float32, `repeats 3 dim ${d}`);
      const counts = Array.from({ length: shape[d]! }, (_, k) => (k * 7 + d) % 3);
      const idx = counts.flatMap((c, k) => new Array<number>(c).fill(k));
      const g = t.tidy(() => t.gather(t.tensor(v, shape), t.tensor(idx, [idx.length], 'int32'), d).dataSync());
      expectClose(await f64(x.repeatInterleave(counts, d)), Float64Array.from(g), TOL.float32, `repeats [${counts}] dim ${d}`);
    }
  });
});

describe('repeatInterleave gradients', () => {
  const x64 = (shape: number[]) => tensor(randArray(numel(shape), seed++), { shape, dtype: 'float64' }).requiresGrad_();
  for (const [name, f] of [
    ['repeats 2 dim 1 of [3,4]', (a: Tensor) => a.repeatInterleave(2, 1)],
    ['repeats [2,0,3] dim 0 of [3,4]', (a: Tensor) => a.repeatInterleave([2, 0, 3], 0)],
    ['repeats 3, no dim, of [3,4]', (a: Tensor) => a.repeatInterleave(3)],
  ] as const) {
    it(`gradcheck float64 ${name}`, async () => {
      const w = tensor(randArray(36, seed++), { dtype: 'float64' });
      const r = await gradcheck((a) => { const y = f(a); return y.mul(y).mul(w.slice(0, 0, y.numel).reshape(y.shape)); }, [x64([3, 4])], { atol: 1e-6, rtol: 1e-4 });
      expect(r.worst, `worst at element ${r.at[1]}`).toBeLessThanOrEqual(1);
    });
  }
  it('x=[4] repeats [3,0,1,2]: the gradient of sum() is each entry\'s count', async () => {
    const x = x64([4]);
    x.repeatInterleave(tensor([3, 0, 1, 2], { dtype: 'int32' })).sum().backward();
    expect(Array.from(await x.grad!.data())).toEqual([3, 0, 1, 2]);
  });
});

describe('repeatInterleave errors', () => {
  const x = zeros([3, 2]);
  it('negative or fractional counts, counts of the wrong length, dtype or rank, a dim out of range', () => {
    throwsExactly(() => x.repeatInterleave(-1, 0), ArgumentError, 'repeat_interleave: expected repeats >= 0, got -1');
    throwsExactly(() => x.repeatInterleave([1, -2, 1], 0), ArgumentError, 'repeat_interleave: expected repeats >= 0, got -2 at position 1');
    throwsExactly(() => x.repeatInterleave(1.5, 0), ArgumentError, 'repeat_interleave: expected repeats to be an integer, got the number 1.5');
    throwsExactly(() => x.repeatInterleave([1, 0.5, 1], 0), ArgumentError, 'repeat_interleave: expected repeats[1] to be an integer, got the number 0.5');
    throwsExactly(() => x.repeatInterleave([1, 2], 0), ShapeError, 'repeat_interleave: expected 3 repeats (the size of dim 0 of shape [3,2]) or 1, got 2');
    throwsExactly(() => x.repeatInterleave([1, 2, 3]), ShapeError, 'repeat_interleave: expected 6 repeats (the size of dim 0 of shape [6]) or 1, got 3');
    throwsExactly(() => x.repeatInterleave(tensor([1, 2, 3]), 0), DTypeError, 'repeat_interleave: expected int32 repeats, got float32');
    throwsExactly(() => x.repeatInterleave(tensor([[1, 2, 3]], { dtype: 'int32' }), 0), ShapeError, 'repeat_interleave: expected repeats of rank 0 or 1, got shape [1,3]');
    throwsExactly(() => x.repeatInterleave(tensor([1, -1, 3], { dtype: 'int32' }), 0), ArgumentError, 'repeat_interleave: expected repeats >= 0, got -1 at position 1');
    throwsExactly(() => x.repeatInterleave('2' as unknown as number, 0), ArgumentError, "repeat_interleave: expected repeats to be an integer, an array of integers or an int32 tensor, got the string '2'");
    throwsExactly(() => x.repeatInterleave(2, 2), ShapeError, 'repeat_interleave: expected an axis in [-2, 1], got 2');
    throwsExactly(() => repeatInterleave({} as unknown as Tensor, 2), ArgumentError, 'repeat_interleave: expected input to be a Tensor, got an object');
  });
});
