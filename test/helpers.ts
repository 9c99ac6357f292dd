// Shared test helpers: a seeded JS PRNG for inputs, float64 reference loops, tolerance checks, and the ISA list.
import { expect } from 'vitest';
import { Tensor, tensor, setIsa, isa, data, TensileError } from '../lib/index.js';

/** Test inputs come from the library's seeded host generator (mulberry32; independent of the native Philox RNG). */
export const prng = data.seededRandom;

export function randArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  const r = prng(seed);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor and its float64 values, from a seed. */
export function randTensor(shape: number[], seed: number, dtype: 'float32' | 'float64' = 'float32', lo = -1, hi = 1): [Tensor, Float64Array] {
  const v = randArray(numel(shape), seed, lo, hi);
  const t = tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape, dtype });
  // the reference sees exactly the values the tensor holds
  return [t, dtype === 'float32' ? Float64Array.from(Float32Array.from(v)) : v];
}

/** Tolerances per dtype for results of length-K accumulations. */
export const TOL = { float32: { rtol: 1e-4, atol: 1e-5 }, float64: { rtol: 1e-10, atol: 1e-12 } };

/** max |a-b| / (atol + rtol*|b|) <= 1, with NaN matching NaN. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: { rtol: number; atol: number }, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = 0, wi = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) { worst = Infinity; wi = i; break; }
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) { worst = Infinity; wi = i; break; }
      continue;
    }
    const r = Math.abs(a - e) / (tol.atol + tol.rtol * Math.abs(e));
    if (r > worst) { worst = r; wi = i; }
  }
  expect(worst, `${what}: worst at ${wi}: got ${actual[wi]} expected ${expected[wi]}`).toBeLessThanOrEqual(1);
}

/** The instruction sets this CPU can run, best first. */
export function availableIsas(): ('avx512' | 'avx2' | 'scalar')[] {
  const best = isa();
  const order = ['avx512', 'avx2', 'scalar'] as const;
  return order.slice(order.indexOf(best as (typeof order)[number]));
}
/** Runs the body once per instruction set (restoring the best one after). */
export function withIsa(name: 'avx512' | 'avx2' | 'scalar', fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    const prev = isa() as 'avx512' | 'avx2' | 'scalar';
    setIsa(name);
    try {
      await fn();
    } finally {
      setIsa(prev);
    }
  };
}

// ---------------------------------------------------------------- float64 references

export function refMatmul(a: Float64Array, b: Float64Array, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let k = 0; k < K; k++) {
      const av = a[i * K + k]!;
      for (let j = 0; j < N; j++) c[i * N + j] += av * b[k * N + j]!;
    }
  return c;
}

export interface ConvP { sh: number; sw: number; ph: number; pw: number; dh: number; dw: number; g: number }
export function convOut(H: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((H + 2 * p - d * (k - 1) - 1) / s) + 1;
}
export function refConv(x: Float64Array, xs: number[], w: Float64Array, ws: number[], p: ConvP, bias?: Float64Array): { y: Float64Array; shape: number[] } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [K, Cg, kh, kw] = ws as [number, number, number, number];
  const OH = convOut(H, kh, p.sh, p.ph, p.dh), OW = convOut(W, kw, p.sw, p.pw, p.dw);
  const Kg = K / p.g;
  const y = new Float64Array(N * K * OH * OW);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = bias ? bias[k]! : 0;
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * p.sh - p.ph + i * p.dh;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * p.sw - p.pw + j * p.dw;
                if (iw < 0 || iw >= W) continue;
                s += x[((n * C + g * Cg + c) * H + ih) * W + iw]! * w[((k * Cg + c) * kh + i) * kw + j]!;
              }
            }
          y[((n * K + k) * OH + oh) * OW + ow] = s;
        }
    }
  return { y, shape: [N, K, OH, OW] };
}
/** Both conv gradients by the adjoint loops. */
export function refConvGrads(x: Float64Array, xs: number[], w: Float64Array, ws: number[], dy: Float64Array, p: ConvP): { dx: Float64Array; dw: Float64Array } {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [K, Cg, kh, kw] = ws as [number, number, number, number];
  const OH = convOut(H, kh, p.sh, p.ph, p.dh), OW = convOut(W, kw, p.sw, p.pw, p.dw);
  const Kg = K / p.g;
  const dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) {
      const g = Math.floor(k / Kg);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const d = dy[((n * K + k) * OH + oh) * OW + ow]!;
          for (let c = 0; c < Cg; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * p.sh - p.ph + i * p.dh;
              if (ih < 0 || ih >= H) continue;
              for (let j = 0; j < kw; j++) {
                const iw = ow * p.sw - p.pw + j * p.dw;
                if (iw < 0 || iw >= W) continue;
                const xi = ((n * C + g * Cg + c) * H + ih) * W + iw, wi = ((k * Cg + c) * kh + i) * kw + j;
                dx[xi] += d * w[wi]!;
                dw[wi] += d * x[xi]!;
              }
            }
        }
    }
  return { dx, dw };
}

export async function f64(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.data());
}

/** A TensileError class, for tests that assert the class of an error. */
export type ErrorClass = new (...a: never[]) => TensileError;
/** fn throws an instance of cls whose message is exactly msg. */
export function throwsExactly(fn: () => unknown, cls: ErrorClass, msg: string): void {
  let err: unknown = null;
  try { fn(); } catch (e) { err = e; }
  expect(err, `expected ${cls.name}: ${msg}`).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}
/** The promise rejects with exactly this class and message. */
export async function rejectsExactly(p: Promise<unknown>, cls: ErrorClass, msg: string): Promise<void> {
  let err: unknown = null;
  try { await p; } catch (e) { err = e; }
  expect(err, `expected ${cls.name}: ${msg}`).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}

/** Each parameter group's lr. */
export const lrsOf = (o: { paramGroups: { lr: number }[] }): number[] => o.paramGroups.map((g) => g.lr);
/** The lr of each group before the first scheduler step and after each of `steps` steps (getLastLr() checked on the way). */
export function runScheduler(o: { paramGroups: { lr: number }[] }, s: { step(): void; getLastLr(): number[] }, steps: number): number[][] {
  const out = [lrsOf(o)];
  for (let i = 0; i < steps; i++) {
    s.step();
    expect(s.getLastLr()).toEqual(lrsOf(o));
    out.push(lrsOf(o));
  }
  return out;
}
/** Learning-rate sequences equal to `digits` decimals, per epoch and group. */
export function expectLrs(got: number[][], want: number[][], digits = 14): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, e) => g.forEach((v, i) => expect(v, `epoch ${e} group ${i}`).toBeCloseTo(want[e]![i]!, digits)));
}
