// The embedding's backward (index_select_bwd, native/cpu/index.cpp: a counting sort of the positions by index, then
// threads over the destination rows): every row is the sum of its positions' gradient rows from zero in increasing
// position, computed here in float32 / float64 step by step, so the comparison is bit for bit; gradient values of
// mixed magnitudes (1e6 and 1) make any other summation order give other bits. The same bits on 1 and 2 threads and
// run to run, on every instruction set, for the embedding shape (outer 1) and for a middle dim (outer > 1), rows no
// index names, an empty index, and F.embedding's paddingIdx.
import { describe, it, expect, afterAll } from 'vitest';
import { tensor, indexSelect, F, getNumThreads, setNumThreads } from '../../lib/index.js';
import { availableIsas, withIsa, randArray, numel } from '../helpers.js';

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

function ints(n: number, D: number, seed: number): number[] {
  return Array.from(randArray(n, seed, 0, D), Math.floor);
}
// gradient values: most in [-1, 1], every 5th times 1e6, so that float32 sums depend on their order
function grads(n: number, seed: number): number[] {
  return Array.from(randArray(n, seed, -1, 1), (v, i) => (i % 5 === 0 ? v * 1e6 : v));
}
// dx [outer, D, inner]: each element the sum over positions p (increasing) with idx[p] = d of g[o, p, j], from zero,
// rounded like the dtype after every add
function refScatter(g: ArrayLike<number>, idx: number[], outer: number, D: number, inner: number, f32: boolean): number[] {
  const r = f32 ? Math.fround : (x: number) => x;
  const n = idx.length, dx = new Array(outer * D * inner).fill(0);
  for (let o = 0; o < outer; o++)
    for (let p = 0; p < n; p++)
      for (let j = 0; j < inner; j++) {
        const at = (o * D + idx[p]!) * inner + j;
        dx[at] = r(dx[at] + g[(o * n + p) * inner + j]!);
      }
  return dx;
}

async function backwardOf(xShape: number[], dim: number, idx: number[], gv: number[], dtype: 'float32' | 'float64'): Promise<number[]> {
  const x = tensor(new Array(numel(xShape)).fill(0), { shape: xShape, dtype }).requiresGrad_();
  const y = indexSelect(x, dim, tensor(idx, { dtype: 'int32' }));
  y.backward(tensor(gv, { shape: y.shape, dtype }));
  return Array.from(await x.grad!.data());
}

// [x shape, dim, token count]: the GPT embedding shapes (V = 256 and 2048 rows, D = 64..384), a middle dim, few rows
const CASES: [number[], number, number][] = [
  [[256, 128], 0, 4096], [[2048, 64], 0, 3000], [[97, 384], 0, 500], [[5, 7], 0, 1000], [[3, 40, 6], 1, 333], [[4, 9, 1], 1, 50],
];

for (const isa of availableIsas()) {
  describe(`embedding backward isa=${isa}`, () => {
    for (const [shape, dim, n] of CASES) for (const dtype of ['float32', 'float64'] as const) {
      it(`x=[${shape}] dim=${dim} n=${n} ${dtype}: the ordered sum, bit for bit, on 1 and 2 threads`, withIsa(isa, async () => {
        const D = shape[dim]!, outer = numel(shape.slice(0, dim)), inner = numel(shape.slice(dim + 1));
        // a third of the rows never named (zeros), the rest with many duplicates
        const idx = ints(n, Math.max(1, Math.floor((D * 2) / 3)), n + D);
        const gvRaw = grads(outer * n * inner, D);
        const gv = dtype === 'float32' ? Array.from(Float32Array.from(gvRaw)) : gvRaw;
        const want = refScatter(gv, idx, outer, D, inner, dtype === 'float32');
        try {
          setNumThreads(1);
          const one = await backwardOf(shape, dim, idx, gv, dtype);
          setNumThreads(2);
          const two = await backwardOf(shape, dim, idx, gv, dtype);
          const again = await backwardOf(shape, dim, idx, gv, dtype);
          const bad = one.findIndex((v, i) => !Object.is(v, want[i]));
          expect(bad, `1 thread: at ${bad} got ${one[bad]} expected ${want[bad]}`).toBe(-1);
          expect(two).toEqual(one);
          expect(again).toEqual(one);
        } finally {
          setNumThreads(initialThreads);
        }
      }));
    }
  });
}

describe('embedding backward', () => {
  it('an empty index gives zeros; F.embedding with paddingIdx leaves that row at zero', async () => {
    expect(await backwardOf([6, 3], 0, [], [], 'float32')).toEqual(new Array(18).fill(0));
    const w = tensor(Array.from(randArray(12, 1)), { shape: [4, 3] }).requiresGrad_();
    const tokens = tensor([[1, 2, 1], [0, 2, 2]], { dtype: 'int32' });
    F.embedding(tokens, w, 2).sum().backward();
    expect(Array.from(await w.grad!.data())).toEqual([1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
  });
});
