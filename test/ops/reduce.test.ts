import { describe, it, expect } from 'vitest';
import { tensor, softmaxBackward, ShapeError } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64, numel } from '../helpers.js';

// Reference: reduce `axes` of a contiguous array with f over the gathered values.
function refReduce(v: Float64Array, shape: number[], axes: number[], f: (xs: number[]) => number) {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = kept.map((i) => shape[i]!);
  const groups = new Map<number, number[]>();
  const k = new Array(shape.length).fill(0);
  for (let i = 0; i < v.length; i++) {
    let t = i;
    for (let d = shape.length - 1; d >= 0; d--) { k[d] = t % shape[d]!; t = Math.floor(t / shape[d]!); }
    let o = 0;
    for (const d of kept) o = o * shape[d]! + k[d]!;
    if (!groups.has(o)) groups.set(o, []);
    groups.get(o)!.push(v[i]!);
  }
  const out = new Float64Array(numel(outShape));
  for (let o = 0; o < out.length; o++) out[o] = f(groups.get(o) ?? []);
  return { out, outShape };
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const REDS: [string, (xs: number[]) => number][] = [
  ['sum', sum],
  ['mean', (xs) => sum(xs) / xs.length],
  ['max', (xs) => Math.max(...xs)],
  ['min', (xs) => Math.min(...xs)],
  ['var', (xs) => { const m = sum(xs) / xs.length; return sum(xs.map((x) => (x - m) ** 2)) / (xs.length - 1); }],
  ['logsumexp', (xs) => { const m = Math.max(...xs); return m + Math.log(sum(xs.map((x) => Math.exp(x - m)))); }],
];
const F64 = { rtol: 1e-10, atol: 1e-12 }, F32 = { rtol: 2e-6, atol: 2e-6 };
const CASES: [number[], number[]][] = [[[7], [0]], [[3, 17], [1]], [[3, 17], [0]], [[4, 5, 6], [0, 2]], [[2, 3, 4, 5], [1, 2]], [[33, 65], [0, 1]], [[2, 1, 127], [2]], [[5, 600], [0]], [[2, 9, 300], [1]]];

for (const isa of availableIsas()) {
  describe(`reductions isa=${isa}`, () => {
    for (const [name, f] of REDS) {
      for (const [shape, axes] of CASES) for (const dtype of ['float32', 'float64'] as const) {
        it(`${name} x=[${shape}] axes=[${axes}] ${dtype}`, withIsa(isa, async () => {
          // float32: the float64 reference of the same (rounded) inputs, to float32 accuracy
          const tol = dtype === 'float32' ? F32 : F64;
          const [x, xv] = randTensor(shape, numel(shape), dtype, -3, 3);
          const { out, outShape } = refReduce(xv, shape, axes, f);
          const t = x as unknown as Record<string, (a: number[], k?: boolean) => import('../../lib/index.js').Tensor>;
          const y = name === 'var' ? x.var(axes) : t[name]!.call(x, axes, false);
          expect(y.shape).toEqual(outShape);
          expect(y.dtype).toBe(dtype);
          expectClose(await f64(y), out, tol, name);
          const yk = name === 'var' ? x.var(axes, { keepdim: true }) : t[name]!.call(x, axes, true);
          expect(yk.shape).toEqual(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
          // strided input (a transposed view) gives the same result
          if (shape.length >= 2 && name === 'sum') {
            const xt = x.transpose(0, 1);
            const ax = axes.map((a) => (a === 0 ? 1 : a === 1 ? 0 : a));
            expectClose(await f64(xt.sum(ax).reshape([out.length])), out, tol, 'strided');
          }
        }));
      }
    }
    it('argmax/argmin and maxWithIndices x=[5,7,3] axis=1', withIsa(isa, async () => {
      const [x, xv] = randTensor([5, 7, 3], 3, 'float32');
      const am = await x.argmax(1).data();
      const [vals, idx] = x.maxWithIndices(1);
      const vi = await idx.data(), vv = await vals.data(), an = await x.argmin(1).data();
      for (let i = 0; i < 5; i++) for (let k = 0; k < 3; k++) {
        const col = Array.from({ length: 7 }, (_, j) => xv[(i * 7 + j) * 3 + k]!);
        expect(am[i * 3 + k]).toBe(col.indexOf(Math.max(...col)));
        expect(an[i * 3 + k]).toBe(col.indexOf(Math.min(...col)));
        expect(vi[i * 3 + k]).toBe(col.indexOf(Math.max(...col)));
        expect(vv[i * 3 + k]).toBeCloseTo(Math.max(...col), 6);
      }
      expect(await x.argmax().item()).toBe(Array.from(xv).indexOf(Math.max(...xv)));
    }));
    for (const [shape, axis] of [[[4, 10], 1], [[3, 5, 7], 1], [[2, 3, 65], -1]] as [number[], number][]) for (const dtype of ['float32', 'float64'] as const) {
      it(`softmax and log_softmax x=[${shape}] axis=${axis} with backward ${dtype}`, withIsa(isa, async () => {
        const tol = dtype === 'float32' ? F32 : F64, tolB = dtype === 'float32' ? F32 : { rtol: 1e-9, atol: 1e-12 };
        const [x, xv] = randTensor(shape, 9, dtype, -5, 5);
        const a = axis < 0 ? axis + shape.length : axis;
        const lse = refReduce(xv, shape, [a], (xs) => { const m = Math.max(...xs); return m + Math.log(sum(xs.map((v) => Math.exp(v - m)))); }).out;
        const inner = shape.slice(a + 1).reduce((p, q) => p * q, 1), R = shape[a]!;
        const ref = xv.map((v, i) => v - lse[Math.floor(i / (R * inner)) * inner + (i % inner)]!);
        expectClose(await f64(x.logSoftmax(axis)), ref, tol, 'log_softmax');
        expectClose(await f64(x.softmax(axis)), ref.map(Math.exp), tol, 'softmax');
        // backward against the Jacobian-vector product written out
        const [dy, dyv] = randTensor(shape, 10, dtype);
        // the backward kernels take the forward's outputs: the reference uses the values they hold
        const sm = x.softmax(axis), lsm = x.logSoftmax(axis);
        const p = await f64(sm), lp = await f64(lsm);
        const s1 = new Float64Array(lse.length), s2 = new Float64Array(lse.length);
        for (let i = 0; i < xv.length; i++) {
          const g = Math.floor(i / (R * inner)) * inner + (i % inner);
          s1[g] += dyv[i]! * p[i]!;
          s2[g] += dyv[i]!;
        }
        const gi = (i: number) => Math.floor(i / (R * inner)) * inner + (i % inner);
        expectClose(await f64(softmaxBackward('softmax_bwd', dy, sm, axis)), p.map((pv, i) => pv * (dyv[i]! - s1[gi(i)]!)), tolB, 'softmax_bwd');
        expectClose(await f64(softmaxBackward('log_softmax_bwd', dy, lsm, axis)), lp.map((l, i) => dyv[i]! - Math.exp(l) * s2[gi(i)]!), tolB, 'log_softmax_bwd');
      }));
    }
  });
}

describe('reduction semantics', () => {
  it('softmax is stable for large logits', async () => {
    const r = await tensor([[1000, 1000], [-1000, 0]]).softmax(1).toArray();
    expect(r).toEqual([[0.5, 0.5], [0, 1]]);
  });
  it('NaN propagates through sum and max', async () => {
    const x = tensor([1, NaN, 3]);
    expect(Number.isNaN(await x.sum().item())).toBe(true);
    expect(Number.isNaN(await x.max().item())).toBe(true);
  });
  for (const dtype of ['float32', 'float64'] as const) {
    it(`logsumexp ${dtype} rows with NaN, +-inf and -inf: NaN wins, then +inf, a row of -inf is -inf, -inf takes no share`, async () => {
      const row = (v: number[]) => Array.from({ length: 37 }, (_, i) => (i < v.length ? v[i]! : -Infinity));
      const x = tensor([row([NaN, 1]), row([1, Infinity]), row([Infinity, NaN]), row([]), row([0, 0]), row([-3]), Array(37).fill(NaN)], { dtype });
      const y = Array.from(await x.logsumexp(1).data());
      expect(Number.isNaN(y[0]!)).toBe(true);
      expect(y[1]).toBe(Infinity);
      expect(Number.isNaN(y[2]!)).toBe(true);
      expect(y[3]).toBe(-Infinity);
      expect(Math.abs(y[4]! - Math.LN2)).toBeLessThan(1e-7);
      expect(y[5]).toBe(-3);
      expect(Number.isNaN(y[6]!)).toBe(true);
    });
  }
  it('integer tensors reduce exactly (in float64)', async () => {
    const x = tensor([2 ** 24, 1, 1], { dtype: 'int32' });
    expect(await x.sum().item()).toBe(2 ** 24 + 2);
  });
  it('errors: bad axis and empty max', () => {
    expect(() => tensor([1, 2]).sum(2)).toThrow(ShapeError);
    expect(() => tensor([1, 2]).sum(2)).toThrow('sum: expected an axis in [-1, 0], got 2');
    expect(() => tensor([1, 2]).sum([0, 0])).toThrow(ShapeError);
    expect(() => tensor(new Float32Array(0), { shape: [0] }).max()).toThrow(ShapeError);
  });
});
