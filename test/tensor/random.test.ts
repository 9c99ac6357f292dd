import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { rand, randn, randint, manualSeed, getRngState, setRngState, ArgumentError } from '../../lib/index.js';
import { availableIsas, withIsa } from '../helpers.js';

// The standard normal CDF, from erfc by its Chebyshev fit (Numerical Recipes' erfcc: fractional error < 1.2e-7,
// far below the KS thresholds used here).
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2, t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}
// Kolmogorov-Smirnov statistic of the samples against the standard normal: sup |F_n(x) - Phi(x)|.
function ksNormal(v: ArrayLike<number>): number {
  const s = Float64Array.from(v).sort(), n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = normalCdf(s[i]!);
    d = Math.max(d, (i + 1) / n - f, f - i / n);
  }
  return d;
}
// The asymptotic critical value at alpha = 0.01: a true normal sample exceeds it with probability 1%. The seeds
// are fixed, so each check is deterministic (and was seen to pass); a rescaled uniform of the same mean and
// standard deviation is far over it (its D is about 0.057, against 0.0051).
const KS_N = 100000;
const KS_CRIT = 1.628 / Math.sqrt(KS_N);

describe('random', () => {
  it('the same seed gives the same stream; state can be saved and restored', async () => {
    manualSeed(123);
    const a = await randn([1000]).data();
    const s = getRngState();
    const b = await rand([10]).data();
    manualSeed(123);
    expect(Array.from(await randn([1000]).data())).toEqual(Array.from(a));
    setRngState(s);
    expect(Array.from(await rand([10]).data())).toEqual(Array.from(b));
  });
  for (const isa of availableIsas()) {
    it(`statistics isa=${isa}: uniform mean 0.5, normal mean 0 std 1, randint in range`, withIsa(isa, async () => {
      manualSeed(1);
      const u = await rand([200000]).data();
      const n = await randn([200000], { dtype: 'float64' }).data();
      const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
      const lo = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => Math.min(a, b), Infinity);
      const hi = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => Math.max(a, b), -Infinity);
      expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.005);
      expect(lo(u)).toBeGreaterThanOrEqual(0);
      expect(hi(u)).toBeLessThan(1);
      const m = mean(n);
      expect(Math.abs(m)).toBeLessThan(0.01);
      expect(Math.abs(Math.sqrt(mean(Array.from(n, (x) => (x - m) ** 2))) - 1)).toBeLessThan(0.01);
      const r = await randint(-3, 4, [10000]).data();
      expect(lo(r)).toBe(-3);
      expect(hi(r)).toBe(3);
    }));
  }
  for (const isa of availableIsas()) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`normal samples pass a Kolmogorov-Smirnov test (n=${KS_N}, alpha=0.01) isa=${isa} ${dtype}`, withIsa(isa, async () => {
        manualSeed(3);
        expect(ksNormal(await randn([KS_N], { dtype }).data())).toBeLessThan(KS_CRIT);
        // mean and std options: (x - mean) / std is standard normal
        const m = await randn([KS_N], { dtype, mean: 2, std: 3 }).data();
        expect(ksNormal(Array.from(m, (v) => (v - 2) / 3))).toBeLessThan(KS_CRIT);
        // the test tells a normal from a uniform of the same mean and standard deviation
        const u = await rand([KS_N], { dtype, low: -Math.sqrt(3), high: Math.sqrt(3) }).data();
        expect(ksNormal(u)).toBeGreaterThan(5 * KS_CRIT);
      }));
    }
  }
  it('results do not depend on the instruction set', async () => {
    const { setIsa, isa } = await import('../../lib/index.js');
    const best = isa() as 'avx512';
    manualSeed(9);
    const a = Array.from(await randn([5000]).data());
    setIsa('scalar');
    manualSeed(9);
    const b = Array.from(await randn([5000]).data());
    setIsa(best);
    expect(b).toEqual(a);
  });
  it('bad arguments', () => {
    expect(() => manualSeed(-1)).toThrow(ArgumentError);
    expect(() => randint(3, 3, [2])).toThrow('randint: expected integers low < high, got 3 and 3');
  });
});

// The thread count is OpenMP's, fixed when the process starts (OMP_NUM_THREADS): the same seed in child processes
// at 1 and 2 threads, on sizes above the kernels' parallel threshold (2^16 elements), and odd sizes (a partial
// last group of four). Each child also counts the threads its kernels started, so that a setting without effect
// cannot pass.
describe('random streams at 1 and 2 threads', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const ADDON = process.env['TENSILE_ADDON'] ?? (createRequire(import.meta.url)('node-gyp-build') as { path(d: string): string }).path(ROOT);
  const N = (1 << 18) + 3;
  let libDir = '';
  beforeAll(() => {
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    libDir = mkdtempSync(join(cache, 'tensile-random-'));
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.json'), '--outDir', libDir, '--declaration', 'false', '--sourceMap', 'false'], { encoding: 'utf8' });
    expect(r.status, `tsc: ${r.stdout}${r.stderr}`).toBe(0);
  });
  afterAll(() => {
    if (libDir) rmSync(libDir, { recursive: true, force: true });
  });
  // the same calls, here and in the children (one source, so that both run exactly this): a sha256 per stream
  const STREAMS = `
    const bytes = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    t.manualSeed(11);
    const out = [];
    out.push(bytes(await t.randn([N]).data()), bytes(await t.randn([N], { dtype: 'float64' }).data()));
    out.push(bytes(await t.rand([N]).data()), bytes(await t.rand([N], { dtype: 'float64' }).data()));
    out.push(bytes(await t.randint(-5, 1000, [N]).data()));
    const [y, mask] = t.dropoutForward(t.ones([N]), 0.3);
    out.push(bytes(await y.data()), bytes(await mask.data()));
    return out.map((b) => createHash('sha256').update(b).digest('hex'));`;
  function child(threads: number): { hashes: string[]; started: number } {
    const script = `
      import { readdirSync } from 'node:fs';
      import { createHash } from 'node:crypto';
      const t = await import(${JSON.stringify(pathToFileURL(join(libDir, 'index.js')).href)});
      const N = ${N};
      const before = readdirSync('/proc/self/task').length;
      const h = await (async () => { ${STREAMS} })();
      console.log(JSON.stringify({ hashes: h, started: readdirSync('/proc/self/task').length - before }));`;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, TENSILE_ADDON: ADDON, OMP_NUM_THREADS: String(threads) })) if (v !== undefined) env[k] = v;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env });
    expect(r.status, `child failed: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  }
  it(`randn, rand, randint and dropout of ${N} elements: the same bytes at OMP_NUM_THREADS=1 and 2, and in this process`, async () => {
    const one = child(1), two = child(2);
    expect(two.started, 'threads started at OMP_NUM_THREADS=2 vs 1').toBe(one.started + 1);
    expect(two.hashes).toEqual(one.hashes);
    const AsyncFunction = (async () => {}).constructor as new (...a: string[]) => (...b: unknown[]) => Promise<string[]>;
    const here = await new AsyncFunction('t', 'N', 'createHash', STREAMS)(await import('../../lib/index.js'), N, createHash);
    expect(here).toEqual(one.hashes);
    expect(new Set(here).size).toBe(here.length);  // seven different streams
  });
});
