// maskedFill and where with the broadcasting masks attention uses (a [S] key-padding mask over [B,H,L,S] scores, a
// [L,S] causal mask, [B,1,1,S], a mask wider than the input): against a plain reference written here and against
// TensorFlow.js's where; the value's dtype handling (integer inputs truncate, out-of-range values are refused);
// gradients (gradcheck in float64, exact masking of the cotangent, a 0-d value tensor's sum); errors.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, maskedFill, where, gradcheck, zeros, tril, ones, ShapeError, ArgumentError, DTypeError } from '../../lib/index.js';
import { randArray, expectClose, f64, numel, throwsExactly, TOL } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('maskedFill');

function bshape(a: number[], b: number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => Math.max(a[a.length - n + i] ?? 1, b[b.length - n + i] ?? 1));
}
// the flat index into a tensor of shape `from` of the element at flat index i of its broadcast to `to`
function bindex(from: number[], to: number[], i: number): number {
  let o = 0, rest = i;
  const idx = new Array<number>(to.length);
  for (let d = to.length - 1; d >= 0; d--) { idx[d] = rest % to[d]!; rest = Math.floor(rest / to[d]!); }
  const off = to.length - from.length;
  for (let d = 0; d < from.length; d++) o = o * from[d]! + (from[d] === 1 ? 0 : idx[off + d]!);
  return o;
}
/** The reference: mask ? value : x over the broadcast shape. */
function refFill(x: ArrayLike<number>, xs: number[], m: ArrayLike<number>, ms: number[], value: number) {
  const out = bshape(xs, ms);
  return { shape: out, values: Array.from({ length: numel(out) }, (_, i) => (m[bindex(ms, out, i)] ? value : x[bindex(xs, out, i)]!)) };
}

let seed = 31;
const f32 = (shape: number[]): [Tensor, Float32Array] => {
  const v = Float32Array.from(randArray(numel(shape), seed++));
  return [tensor(v, { shape }), v];
};
const maskOf = (shape: number[], p = 0.4): [Tensor, Uint8Array] => {
  const v = Uint8Array.from(randArray(numel(shape), seed++, 0, 1), (r) => (r < p ? 1 : 0));
  return [tensor(v, { shape, dtype: 'uint8' }), v];
};

// [x shape, mask shape]: attention's masks, and a mask that widens the result
const CASES: [number[], number[]][] = [
  [[2, 3, 4, 5], [5]], [[2, 3, 4, 5], [4, 5]], [[2, 3, 4, 5], [2, 1, 1, 5]], [[2, 3, 4, 5], [2, 3, 4, 5]], [[1, 4], [3, 4]], [[3, 1], [1, 4]], [[6], []],
];

describe('maskedFill / where with broadcasting masks against the reference', () => {
  for (const [xs, ms] of CASES) {
    for (const value of [-Infinity, 0, 2.5]) {
      it(`x=[${xs}] mask=[${ms}] value ${value}: maskedFill (function and method) and where(mask, value, x)`, async () => {
        const [x, xv] = f32(xs);
        const [m, mv] = maskOf(ms);
        const want = refFill(xv, xs, mv, ms, value);
        for (const [what, y] of [['function', maskedFill(x, m, value)], ['method', x.maskedFill(m, value)], ['where', where(m, value, x)]] as const) {
          expect(y.shape, what).toEqual(want.shape);
          expect(y.dtype, what).toBe('float32');
          expect(Array.from(await y.data()), what).toEqual(want.values);
        }
      });
    }
  }
  it('x=[2,3,4,4]: a causal mask from tril (masked where key j > query i) fills exactly the upper triangle', async () => {
    const [x, xv] = f32([2, 3, 4, 4]);
    const future = tril(ones([4, 4], { dtype: 'uint8' })).eq(0);
    const want = refFill(xv, [2, 3, 4, 4], Array.from({ length: 16 }, (_, i) => +(i % 4 > Math.floor(i / 4))), [4, 4], -Infinity);
    expect(Array.from(await x.maskedFill(future, -Infinity).data())).toEqual(want.values);
  });
  it('a 0-d value tensor; integer inputs keep their dtype and take the value truncated (as PyTorch casts it)', async () => {
    const [x, xv] = f32([3, 4]);
    const [m, mv] = maskOf([4]);
    expect(Array.from(await x.maskedFill(m, tensor(-7)).data())).toEqual(refFill(xv, [3, 4], mv, [4], -7).values);
    expect(Array.from(await x.maskedFill(m, tensor(-7, { dtype: 'float64' })).data()), 'float64 value into float32').toEqual(refFill(xv, [3, 4], mv, [4], -7).values);
    const xi = tensor(Int32Array.from([5, -6, 7, 8]), { dtype: 'int32' });
    const mi = tensor(Uint8Array.from([1, 0, 1, 0]), { dtype: 'uint8' });
    const yi = xi.maskedFill(mi, -2.75);
    expect(yi.dtype).toBe('int32');
    expect(await yi.toArray()).toEqual([-2, -6, -2, 8]);
    expect(await xi.maskedFill(mi, 2 ** 31 - 1).toArray()).toEqual([2 ** 31 - 1, -6, 2 ** 31 - 1, 8]);
    const xu = tensor(Uint8Array.from([1, 2, 3, 4]), { dtype: 'uint8' });
    expect(await xu.maskedFill(mi, 255).toArray()).toEqual([255, 2, 255, 4]);
    expect(xu.maskedFill(mi, 255).dtype).toBe('uint8');
  });
});

describe('maskedFill / where against TensorFlow.js where', () => {
  for (const [xs, ms] of CASES.slice(0, 5)) {
    it(`x=[${xs}] mask=[${ms}] value -1e9`, async () => {
      const t = await tfjs();
      const [x, xv] = f32(xs);
      const [m, mv] = maskOf(ms);
      const out = bshape(xs, ms);
      const want = t.tidy(() => t.where(t.broadcastTo(t.tensor(mv, ms, 'bool'), out), t.fill(out, -1e9), t.broadcastTo(t.tensor(xv, xs), out)).dataSync());
      expectClose(await f64(x.maskedFill(m, -1e9)), Float64Array.from(want), TOL.float32, 'maskedFill');
      expectClose(await f64(where(m, -1e9, x)), Float64Array.from(want), TOL.float32, 'where');
    });
  }
});

describe('maskedFill gradients', () => {
  const x64 = (shape: number[]) => tensor(randArray(numel(shape), seed++), { shape, dtype: 'float64' }).requiresGrad_();
  for (const [xs, ms] of [[[2, 3, 4], [4]], [[2, 3, 4], [3, 1]], [[1, 4], [3, 4]]] as [number[], number[]][]) {
    it(`gradcheck float64 x=[${xs}] mask=[${ms}], to x and to a 0-d value tensor`, async () => {
      const [m] = maskOf(ms, 0.5);
      const r = await gradcheck((a, v) => { const y = a.maskedFill(m, v!); return y.mul(y); }, [x64(xs), x64([])], { atol: 1e-6, rtol: 1e-4 });
      expect(r.worst, `worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
    });
  }
  it('x=[2,4] mask=[4]: x gets the cotangent where the mask is 0, exactly; the value tensor the sum where it is 1', async () => {
    const x = x64([2, 4]), v = x64([]);
    const mask = tensor(Uint8Array.from([1, 0, 0, 1]), { dtype: 'uint8' });
    const g = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    x.maskedFill(mask, v).backward(tensor(g, { shape: [2, 4], dtype: 'float64' }));
    expect(Array.from(await x.grad!.data())).toEqual([0, 2, 3, 0, 0, 6, 7, 0]);
    expect(await v.grad!.item()).toBe(1 + 4 + 5 + 8);
  });
});

describe('maskedFill errors', () => {
  const x = zeros([2, 3]);
  it('a mask not uint8 or not broadcastable, a value not a number or a 0-d tensor, a value an integer dtype cannot hold', () => {
    throwsExactly(() => x.maskedFill(tensor([1, 0, 1]), 0), DTypeError, 'masked_fill: expected a uint8 (boolean) mask, got float32');
    throwsExactly(() => x.maskedFill(zeros([4], { dtype: 'uint8' }), 0), ShapeError, 'masked_fill: expected broadcastable shapes, got [2,3] and [4]');
    throwsExactly(() => x.maskedFill(zeros([3], { dtype: 'uint8' }), tensor([1, 2])), ShapeError, 'masked_fill: expected value to be a number or a 0-d tensor, got a tensor of shape [2]');
    throwsExactly(() => x.maskedFill(zeros([3], { dtype: 'uint8' }), '1' as unknown as number), ArgumentError, "masked_fill: expected value to be a number or a 0-d tensor, got the string '1'");
    const xu = zeros([3], { dtype: 'uint8' }), xi = zeros([3], { dtype: 'int32' }), m = zeros([3], { dtype: 'uint8' });
    throwsExactly(() => xu.maskedFill(m, 256), ArgumentError, 'masked_fill: expected a value that uint8 holds (in [0, 255]), got 256');
    throwsExactly(() => xu.maskedFill(m, -1), ArgumentError, 'masked_fill: expected a value that uint8 holds (in [0, 255]), got -1');
    throwsExactly(() => xi.maskedFill(m, -Infinity), ArgumentError, 'masked_fill: expected a value that int32 holds (in [-2147483648, 2147483647]), got -Infinity');
    throwsExactly(() => xi.maskedFill(m, NaN), ArgumentError, 'masked_fill: expected a value that int32 holds (in [-2147483648, 2147483647]), got NaN');
    throwsExactly(() => maskedFill(x, [1, 0, 1] as unknown as Tensor, 0), ArgumentError, 'masked_fill: expected mask to be a Tensor, got an array of length 3');
  });
});
