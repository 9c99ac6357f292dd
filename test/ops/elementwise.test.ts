import { describe, it, expect } from 'vitest';
import { tensor, where, ShapeError, arange } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64, numel } from '../helpers.js';
import type { Tensor } from '../../lib/index.js';

const erf = (x: number) => {
  // erf by Simpson integration of its definition (2000 panels: ~1e-12 here), independent of the kernel
  let s = 0;
  const n = 2000, h = x / n;
  for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
};
const sig = (x: number) => 1 / (1 + Math.exp(-x));
const UNARY: [string, (t: Tensor) => Tensor, (x: number) => number, number?][] = [
  ['neg', (t) => t.neg(), (x) => -x],
  ['abs', (t) => t.abs(), Math.abs],
  ['exp', (t) => t.exp(), Math.exp],
  ['log', (t) => t.abs().add(0.1).log(), (x) => Math.log(Math.abs(x) + 0.1)],
  ['sqrt', (t) => t.abs().sqrt(), (x) => Math.sqrt(Math.abs(x))],
  ['rsqrt', (t) => t.abs().add(0.1).rsqrt(), (x) => 1 / Math.sqrt(Math.abs(x) + 0.1)],
  ['relu', (t) => t.relu(), (x) => Math.max(0, x)],
  ['leaky_relu', (t) => t.leakyRelu(0.2), (x) => (x > 0 ? x : 0.2 * x)],
  ['elu', (t) => t.elu(1.5), (x) => (x > 0 ? x : 1.5 * Math.expm1(x))],
  ['gelu', (t) => t.gelu(), (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
  ['silu', (t) => t.silu(), (x) => x * sig(x)],
  ['sigmoid', (t) => t.sigmoid(), sig],
  ['tanh', (t) => t.tanh(), Math.tanh],
  ['softplus', (t) => t.softplus(), (x) => Math.log1p(Math.exp(x))],
  ['clamp', (t) => t.clamp(-0.5, 0.25), (x) => Math.min(0.25, Math.max(-0.5, x))],
  ['pow_scalar', (t) => t.pow(3), (x) => x ** 3],
  ['sign', (t) => t.sign(), Math.sign],
];
const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ['add', (a, b) => a.add(b), (a, b) => a + b],
  ['sub', (a, b) => a.sub(b), (a, b) => a - b],
  ['mul', (a, b) => a.mul(b), (a, b) => a * b],
  ['div', (a, b) => a.div(b), (a, b) => a / b],
  ['pow', (a, b) => a.abs().pow(b), (a, b) => Math.abs(a) ** b],
  ['minimum', (a, b) => a.minimum(b), Math.min],
  ['maximum', (a, b) => a.maximum(b), Math.max],
];
const COMPARE: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ['eq', (a, b) => a.eq(b), (a, b) => +(a === b)],
  ['ne', (a, b) => a.ne(b), (a, b) => +(a !== b)],
  ['lt', (a, b) => a.lt(b), (a, b) => +(a < b)],
  ['le', (a, b) => a.le(b), (a, b) => +(a <= b)],
  ['gt', (a, b) => a.gt(b), (a, b) => +(a > b)],
  ['ge', (a, b) => a.ge(b), (a, b) => +(a >= b)],
];
// comparison inputs on a grid of three values (-1, 0, 1), so that ties are common
function tiedTensor(shape: number[], seed: number, dtype: 'float32' | 'int32'): [Tensor, Float64Array] {
  const [, v] = randTensor(shape, seed, 'float64', -1.5, 1.5);
  const r = v.map(Math.round);
  return [tensor(dtype === 'int32' ? Int32Array.from(r) : Float32Array.from(r), { shape, dtype }), r];
}
// broadcasting pairs, including size-1 dims, rank differences, scalars and a long row (parallel path)
const PAIRS: [number[], number[]][] = [[[7], [7]], [[3, 17], [17]], [[5, 1, 4], [1, 3, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[1], [33, 65]], [[70000], [70000]], [[257, 129], [257, 1]]];

function refBroadcast(sa: number[], sb: number[], av: Float64Array, bv: Float64Array, f: (a: number, b: number) => number) {
  const n = Math.max(sa.length, sb.length);
  const out = Array.from({ length: n }, (_, i) => Math.max(sa[sa.length - n + i] ?? 1, sb[sb.length - n + i] ?? 1));
  const r = new Float64Array(numel(out));
  const idx = (s: number[], k: number[]) => {
    let o = 0;
    for (let i = 0; i < s.length; i++) o = o * s[i]! + (s[i] === 1 ? 0 : k[n - s.length + i]!);
    return o;
  };
  const k = new Array(n).fill(0);
  for (let i = 0; i < r.length; i++) {
    let t = i;
    for (let d = n - 1; d >= 0; d--) { k[d] = t % out[d]!; t = Math.floor(t / out[d]!); }
    r[i] = f(av[idx(sa, k)]!, bv[idx(sb, k)]!);
  }
  return { r, out };
}

for (const isa of availableIsas()) {
  describe(`elementwise isa=${isa}`, () => {
    for (const [name, op, ref] of UNARY) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`${name} x=[3,33] ${dtype}`, withIsa(isa, async () => {
          const [x, xv] = randTensor([3, 33], 7, dtype, -3, 3);
          const tol = dtype === 'float32' ? { rtol: 2e-6, atol: 1e-6 } : { rtol: 1e-9, atol: 1e-12 };
          const want = xv.map(ref);
          expectClose(await f64(op(x)), dtype === 'float32' ? Float64Array.from(Float32Array.from(want)) : want, tol, name);
          // a strided (transposed) input walks the same kernel through strides
          const xt = x.t();
          const wantT = new Float64Array(99);
          for (let i = 0; i < 3; i++) for (let j = 0; j < 33; j++) wantT[j * 3 + i] = want[i * 33 + j]!;
          expectClose(await f64(op(xt)), dtype === 'float32' ? Float64Array.from(Float32Array.from(wantT)) : wantT, tol, `${name} strided`);
        }));
      }
    }
    for (const [name, op, ref] of BINARY) {
      for (const [sa, sb] of PAIRS) {
        it(`${name} a=[${sa}] b=[${sb}]`, withIsa(isa, async () => {
          const [a, av] = randTensor(sa, numel(sa), 'float32', -2, 2);
          const [b, bv] = randTensor(sb, numel(sb) + 1, 'float32', -2, 2);
          const { r, out } = refBroadcast(sa, sb, av, bv, ref);
          const y = op(a, b);
          expect(y.shape).toEqual(out);
          expectClose(await f64(y), Float64Array.from(Float32Array.from(r)), { rtol: 2e-6, atol: 1e-6 }, name);
        }));
      }
    }
    for (const [name, op, ref] of COMPARE) {
      for (const dtype of ['float32', 'int32'] as const) {
        for (const [sa, sb] of PAIRS) {
          it(`${name} a=[${sa}] b=[${sb}] ${dtype} (with ties)`, withIsa(isa, async () => {
            const [a, av] = tiedTensor(sa, numel(sa), dtype);
            const [b, bv] = tiedTensor(sb, numel(sb) + 1, dtype);
            const { r, out } = refBroadcast(sa, sb, av, bv, ref);
            // the reference has both outcomes: an op that always answers 0 (or 1) fails
            expect(r.includes(0) && r.includes(1), `${name} reference has both 0 and 1`).toBe(true);
            const y = op(a, b);
            expect(y.shape).toEqual(out);
            expect(y.dtype).toBe('uint8');
            expect(Array.from(await y.data())).toEqual(Array.from(r));
          }));
        }
      }
    }
  });
}

describe('elementwise semantics', () => {
  it('scalars broadcast and keep the tensor dtype', async () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' });
    expect(x.add(1).dtype).toBe('float64');
    expect(await x.mul(2).toArray()).toEqual([2, 4, 6]);
    expect(await tensor([1, 2], { dtype: 'int32' }).add(3).toArray()).toEqual([4, 5]);
  });
  it('promotes dtypes like PyTorch: int32 + float32 -> float32, float32 + float64 -> float64', () => {
    const i = tensor([1, 2], { dtype: 'int32' });
    expect(i.add(tensor([0.5, 0.5])).dtype).toBe('float32');
    expect(tensor([1, 2]).add(tensor([1, 2], { dtype: 'float64' })).dtype).toBe('float64');
    expect(i.div(i).dtype).toBe('float32');
  });
  it('an integer tensor with a non-integer number computes in float32 (PyTorch), with an integer one stays integer', async () => {
    const i = tensor([0, 1, 2], { dtype: 'int32' });
    const add = i.add(0.5);
    expect([add.dtype, await add.toArray()]).toEqual(['float32', [0.5, 1.5, 2.5]]);
    const sub = i.sub(0.25);
    expect([sub.dtype, await sub.toArray()]).toEqual(['float32', [-0.25, 0.75, 1.75]]);
    const u = tensor([1, 2, 3], { dtype: 'uint8' }).mul(0.5);
    expect([u.dtype, await u.toArray()]).toEqual(['float32', [0.5, 1, 1.5]]);
    const inf = i.add(-Infinity);
    expect([inf.dtype, await inf.toArray()]).toEqual(['float32', [-Infinity, -Infinity, -Infinity]]);
    const ii = i.add(3), uu = tensor([1, 2, 3], { dtype: 'uint8' }).mul(2);
    expect([ii.dtype, await ii.toArray(), uu.dtype, await uu.toArray()]).toEqual(['int32', [3, 4, 5], 'uint8', [2, 4, 6]]);
    // a float tensor keeps its dtype with any number
    expect([tensor([1], { dtype: 'float64' }).add(0.5).dtype, tensor([1]).mul(2).dtype]).toEqual(['float64', 'float32']);
  });
  it('comparisons of an integer tensor with a non-integer number compare in float32 and give uint8', async () => {
    const i = tensor([0, 1, 2], { dtype: 'int32' }), u = tensor([0, 1, 2], { dtype: 'uint8' });
    const cases: [string, Tensor, number[]][] = [
      ['int32 ge 0.5', i.ge(0.5), [0, 1, 1]], ['int32 gt 0.5', i.gt(0.5), [0, 1, 1]], ['int32 lt 1.5', i.lt(1.5), [1, 1, 0]],
      ['int32 le 1.5', i.le(1.5), [1, 1, 0]], ['int32 eq 1.5', i.eq(1.5), [0, 0, 0]], ['int32 ne 1.5', i.ne(1.5), [1, 1, 1]],
      ['uint8 ge 0.5', u.ge(0.5), [0, 1, 1]], ['uint8 lt 1.5', u.lt(1.5), [1, 1, 0]], ['int32 eq 1', i.eq(1), [0, 1, 0]],
    ];
    for (const [name, y, want] of cases) expect([name, y.dtype, await y.toArray()]).toEqual([name, 'uint8', want]);
  });
  it('clamp of an integer tensor to non-integer bounds gives float32; to integer bounds stays int32', async () => {
    const i = tensor([0, 1, 2, 3], { dtype: 'int32' });
    const f = i.clamp(0.5, 2.5);
    expect([f.dtype, await f.toArray()]).toEqual(['float32', [0.5, 1, 2, 2.5]]);
    const lo = i.clamp(1.5);
    expect([lo.dtype, await lo.toArray()]).toEqual(['float32', [1.5, 1.5, 2, 3]]);
    const u = tensor([0, 1, 2, 3], { dtype: 'uint8' }).clamp(0.5, 2.5);
    expect([u.dtype, await u.toArray()]).toEqual(['float32', [0.5, 1, 2, 2.5]]);
    const n = i.clamp(1, 2);
    expect([n.dtype, await n.toArray()]).toEqual(['int32', [1, 1, 2, 2]]);
    const m = i.clamp(1);
    expect([m.dtype, await m.toArray()]).toEqual(['int32', [1, 1, 2, 3]]);
  });
  it('where: an integer branch with a non-integer number gives float32; with an integer one stays int32', async () => {
    const mask = tensor([1, 0, 1], { dtype: 'uint8' }), i = tensor([4, 5, 6], { dtype: 'int32' });
    const f = where(mask, i, 0.5);
    expect([f.dtype, await f.toArray()]).toEqual(['float32', [4, 0.5, 6]]);
    const g = where(mask, 0.25, i);
    expect([g.dtype, await g.toArray()]).toEqual(['float32', [0.25, 5, 0.25]]);
    const n = where(mask, i, 7);
    expect([n.dtype, await n.toArray()]).toEqual(['int32', [4, 7, 6]]);
  });
  it('where: a cond of another dtype than uint8 counts as cond != 0 (0.5 and NaN select a, int32 256 too)', async () => {
    const f = where(tensor([0.5, 0, -0.25, NaN]), 1, 2);
    expect(await f.toArray()).toEqual([1, 2, 1, 1]);
    expect(await where(tensor([0.5, 0], { dtype: 'float64' }), tensor([1, 1]), 2).toArray()).toEqual([1, 2]);
    expect(await where(tensor([256, 0, -1], { dtype: 'int32' }), 1, 2).toArray()).toEqual([1, 2, 1]);
  });
  it('comparisons give uint8 and where selects', async () => {
    const x = tensor([-1, 2, -3, 4]);
    const m = x.gt(0);
    expect(m.dtype).toBe('uint8');
    expect(await where(m, x, 0).toArray()).toEqual([0, 2, 0, 4]);
    expect(await where(m, x, tensor([9, 9, 9, 9])).toArray()).toEqual([9, 2, 9, 4]);
  });
  it('NaN and Inf propagate like IEEE', async () => {
    const x = tensor([NaN, Infinity, -Infinity, 0]);
    const r = await x.add(1).data();
    expect(Number.isNaN(r[0])).toBe(true);
    expect(r[1]).toBe(Infinity);
    expect(r[2]).toBe(-Infinity);
    expect(Number.isNaN((await x.relu().data())[0])).toBe(true);
    expect(Number.isNaN((await x.maximum(0).data())[0])).toBe(true);
    expect(Array.from(await tensor([1, -1, 0]).div(0).data())).toEqual([Infinity, -Infinity, NaN]);
  });
  it('int32 arithmetic stays int32', async () => {
    const a = arange(5);
    expect(a.dtype).toBe('int32');
    expect(await a.mul(a).toArray()).toEqual([0, 1, 4, 9, 16]);
    expect(await a.neg().abs().toArray()).toEqual([0, 1, 2, 3, 4]);
  });
  it('incompatible broadcast throws a ShapeError with both shapes', () => {
    expect(() => tensor([[1, 2, 3]]).add(tensor([[1, 2], [3, 4]]))).toThrow(ShapeError);
    expect(() => tensor([[1, 2, 3]]).add(tensor([[1, 2], [3, 4]]))).toThrow('add: expected broadcastable shapes, got [1,3] and [2,2]');
  });
});
