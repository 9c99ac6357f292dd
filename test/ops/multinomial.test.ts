// multinomial (native/cpu/topk.cpp) on every instruction set: shapes and dtypes, no repeats without replacement and
// never a zero-weight category, the distribution by a chi-square test over many draws with a fixed seed (with and
// without replacement: the pairs (first, second) of draws without replacement follow w_i / W * w_j / (W - w_i)),
// the test's power on samples from wrong distributions, determinism (seed, thread count, a private generator), and
// the errors: static ones at the call, data ones (negative, inf, NaN weights, zero rows, too few non-zero weights
// without replacement) raised by the kernel at the next read.
import { describe, it, expect, afterAll } from 'vitest';
import { tensor, multinomial, manualSeed, getRngState, setRngState, getNumThreads, setNumThreads, ArgumentError, DTypeError, ShapeError, NativeError } from '../../lib/index.js';
import { availableIsas, withIsa, throwsExactly, rejectsExactly } from '../helpers.js';
import { covers } from '../api/coverage.js';

covers('multinomial');

// Pearson's chi-square of observed counts against expected probabilities (cells with p = 0 must be empty)
function chiSquare(counts: ArrayLike<number>, p: ArrayLike<number>, N: number): number {
  let x = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      if (counts[i] !== 0) return Infinity;
      continue;
    }
    const e = N * p[i]!;
    x += (counts[i]! - e) ** 2 / e;
  }
  return x;
}
// the upper 1e-6 quantiles of chi-square (scipy.stats.chi2.isf(1e-6, df)): a correct sampler exceeds one once in
// a million seeds; the seeds here are fixed, so a pass is reproducible
const CHI2_1E6 = { 4: 33.38, 11: 48.87 } as const;

const W = [1, 2, 0, 3, 4, 6];  // total 16, one zero
const P = W.map((w) => w / 16);
// ordered pairs (i, j), i != j, of two draws without replacement over 4 weights
const W4 = [1, 2, 3, 4];
const PAIRS = W4.flatMap((wi, i) => W4.map((wj, j) => (i === j ? 0 : (wi / 10) * (wj / (10 - wi)))));

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

for (const isa of availableIsas()) {
  describe(`multinomial isa=${isa}`, () => {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`with replacement: [6] and [200, 6] ${dtype}, counts pass chi-square (df 4) over 60000 draws`, withIsa(isa, async () => {
        manualSeed(1234);
        const one = multinomial(tensor(W, { dtype }), 7, { replacement: true });
        expect(one.shape).toEqual([7]);
        expect(one.dtype).toBe('int32');
        const rows = 200, S = 300;
        const w = tensor(Array.from({ length: rows }, () => W.map((v) => v * 3.5)), { dtype });  // unnormalised
        const s = multinomial(w, S, { replacement: true });
        expect(s.shape).toEqual([rows, S]);
        const counts = new Array(6).fill(0);
        for (const v of await s.data()) counts[v]++;
        expect(counts[2]).toBe(0);
        expect(chiSquare(counts, P, rows * S)).toBeLessThan(CHI2_1E6[4]);
      }));
      it(`without replacement: no repeats, no zero weight, numSamples = the non-zero count, ${dtype}`, withIsa(isa, async () => {
        manualSeed(77);
        const s = multinomial(tensor([W, [0, 0, 5, 0, 1e-30, 2]], { dtype }), 3);
        expect(s.shape).toEqual([2, 3]);
        const [a, b] = [Array.from((await s.data()).slice(0, 3)), Array.from((await s.data()).slice(3))];
        expect(new Set(a).size).toBe(3);
        expect(a.includes(2)).toBe(false);
        expect([...b].sort()).toEqual([2, 4, 5]);
        const all = await multinomial(tensor(W, { dtype }), 5).data();
        expect([...all].sort()).toEqual([0, 1, 3, 4, 5]);
      }));
      it(`without replacement: (first, second) pairs over [4] weights pass chi-square (df 11) over 40000 rows, ${dtype}`, withIsa(isa, async () => {
        manualSeed(99);
        const rows = 40000;
        const s = await multinomial(tensor(Array.from({ length: rows }, () => W4), { dtype }), 2).data();
        const counts = new Array(16).fill(0);
        for (let r = 0; r < rows; r++) counts[s[2 * r]! * 4 + s[2 * r + 1]!]++;
        expect(chiSquare(counts, PAIRS, rows)).toBeLessThan(CHI2_1E6[11]);
      }));
    }
  });
}

describe('multinomial', () => {
  it('the chi-square bounds reject samplers that are slightly wrong (the tests above have the power to fail)', () => {
    // with replacement: a sampler that ignores one weight's last unit (3 -> 2), 60000 draws at the expected rates
    const wrong = [1, 2, 0, 2, 4, 6].map((w) => (w / 15) * 60000);
    expect(chiSquare(wrong, P, 60000)).toBeGreaterThan(CHI2_1E6[4]);
    // without replacement: the second draw taken from all weights (with replacement, then rejected when repeated,
    // proportional to w_j, but counted against w_j / (W - w_i)): the pair rates of sampling both draws i.i.d.
    const iid = W4.flatMap((wi, i) => W4.map((wj, j) => (i === j ? 0 : (wi / 10) * (wj / 10))));
    const z = iid.reduce((a, b) => a + b, 0);
    expect(chiSquare(iid.map((q) => (q / z) * 40000), PAIRS, 40000)).toBeGreaterThan(CHI2_1E6[11]);
  });
  it('the same seed gives the same samples, on 1 and 2 threads; another seed other samples', async () => {
    const w = tensor(Array.from({ length: 64 }, (_, r) => Array.from({ length: 3000 }, (_, i) => ((i * 7 + r) % 11) + 0.5)));
    const run = async (seed: number, threads: number, replacement: boolean) => {
      setNumThreads(threads);
      manualSeed(seed);
      return Array.from(await multinomial(w, 20, { replacement }).data());
    };
    try {
      for (const replacement of [true, false]) {
        const a = await run(5, 1, replacement), b = await run(5, 2, replacement), c = await run(6, 2, replacement);
        expect(b).toEqual(a);
        expect(c).not.toEqual(a);
      }
    } finally {
      setNumThreads(initialThreads);
    }
  });
  it('a private generator: the global stream is left alone and the generator advances by one per call', async () => {
    const w = tensor([1, 2, 3, 4, 5]);
    manualSeed(8);
    const want = Array.from(await multinomial(w, 3).data());
    manualSeed(123);
    const before = getRngState();
    const g = { seed: 8, offset: 0 };
    expect(Array.from(await multinomial(w, 3, { generator: g }).data())).toEqual(want);
    expect(g).toEqual({ seed: 8, offset: 1 });
    expect(getRngState()).toEqual(before);
    setRngState({ seed: 8, offset: 1 });
    expect(Array.from(await multinomial(w, 3, { generator: g }).data())).toEqual(Array.from(await multinomial(w, 3).data()));
  });
  it('errors found by the kernel: negative, inf and NaN weights, a zero row, too few non-zero weights', async () => {
    for (const dtype of ['float32', 'float64'] as const) {
      await rejectsExactly(multinomial(tensor([[1, 2], [3, -1]], { dtype }), 1).data(), NativeError,
        'multinomial: expected non-negative finite weights, got -1 at [1, 1]');
      await rejectsExactly(multinomial(tensor([1, Infinity, 2], { dtype }), 1).data(), NativeError,
        'multinomial: expected non-negative finite weights, got inf at [0, 1]');
      await rejectsExactly(multinomial(tensor([[1, 2, 3], [NaN, 0, 1]], { dtype }), 1, { replacement: true }).data(), NativeError,
        'multinomial: expected non-negative finite weights, got nan at [1, 0]');
      await rejectsExactly(multinomial(tensor([[1, 2], [0, 0]], { dtype }), 1, { replacement: true }).data(), NativeError,
        'multinomial: expected every row to have a positive finite sum, got 0 in row 1');
      await rejectsExactly(multinomial(tensor([[1, 2, 3], [0, 4, 0]], { dtype }), 2).data(), NativeError,
        'multinomial: expected numSamples <= the number of non-zero weights without replacement, got 2 > 1 in row 1');
    }
    const e = await multinomial(tensor([0, 0]), 1).data().catch((x: unknown) => x);
    expect((e as NativeError).code).toBe('multinomial');
  });
  it('errors at the call: numSamples, shapes, dtypes, options', () => {
    throwsExactly(() => multinomial(tensor([1, 2, 3]), 4), ArgumentError, 'multinomial: expected numSamples <= 3 (the number of categories) without replacement, got 4');
    throwsExactly(() => multinomial(tensor([1, 2, 3]), 0), ArgumentError, 'multinomial: expected numSamples in [1, 9007199254740991], got 0');
    throwsExactly(() => multinomial(tensor([1, 2, 3]), 1.5, { replacement: true }), ArgumentError, 'multinomial: expected numSamples to be an integer, got the number 1.5');
    throwsExactly(() => multinomial(tensor([[[1]]]), 1), ShapeError, 'multinomial: expected weights of rank 1 or 2, got shape [1,1,1]');
    throwsExactly(() => multinomial(tensor([[], []]), 1), ShapeError, 'multinomial: expected at least one category, got shape [2,0]');
    throwsExactly(() => multinomial(tensor([1, 2], { dtype: 'int32' }), 1), DTypeError, 'multinomial: expected float32 or float64 weights, got int32');
    throwsExactly(() => multinomial(tensor([1, 2]), 1, { replacement: 'yes' as never }), ArgumentError, "multinomial: expected replacement to be true or false, got the string 'yes'");
    throwsExactly(() => multinomial(tensor([1, 2]), 1, { generator: { seed: -1, offset: 0 } }), ArgumentError, 'multinomial: expected generator to be { seed, offset } of non-negative integers (as getRngState() gives), got an object');
  });
});
