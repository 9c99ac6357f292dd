// The float32 vector exp of the CPU kernels (native/cpu/vexp.h), through the ops that use it: the exp op against
// float64 exp in ulps on a dense sweep of the float range and its edges, softmax/log_softmax (and log_softmax's
// backward) on long contiguous rows, and the same bits run to run and on 1 or 2 threads. Every instruction set.
import { describe, it, expect, afterAll } from 'vitest';
import { tensor, softmaxBackward, getNumThreads, setNumThreads, F } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64 } from '../helpers.js';
import { FLT_MAX, fromBits, toBits, ulpAt } from '../ulp.js';

const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

/** |y - exact| in ulps of float32 at exact, an infinite y counting as 2^128 (the next power of two past FLT_MAX). */
function ulpErr(y: number, exact: number): number {
  const yy = y === Infinity ? 2 ** 128 : y, ee = Math.min(exact, 2 ** 128);
  return Math.abs(yy - ee) / ulpAt(ee);
}

/** The sweep: float32 bit patterns from 0 to each end of [-104, 89] (past both edges) at a fixed step, and edges. */
function sweep(): Float32Array {
  const hiBits = toBits(89), loBits = toBits(-104) - 0x80000000;
  const step = 223;  // odd, so that every mantissa bit pattern turns up: (hiBits + loBits) / 223 ~ 10^7 points
  const edges = [
    -Infinity, Infinity, NaN, 0, -0, 1, -1, fromBits(1), fromBits(0x80000001), FLT_MAX, -FLT_MAX, 1e-30, -1e-30,
    88.72283172607422, 88.72283935546875, 88.7228, 88.73, 89, 100, 1e30,  // around ln(FLT_MAX) = 88.7228391
    -87.33654022216797, -87.33655, -87.3365, -100, -103.27892, -103.97207, -103.9721, -103.97208, -104, -105, -1e30,
    Math.LN2 / 2, -Math.LN2 / 2, Math.LN2, -Math.LN2, 0.34657359, -0.34657359,
  ];
  const n = Math.floor(hiBits / step) + Math.floor(loBits / step) + 2;
  const out = new Float32Array(n + edges.length);
  let k = 0;
  for (let u = 0; u <= hiBits; u += step) out[k++] = fromBits(u);
  for (let u = 0; u <= loBits; u += step) out[k++] = fromBits(0x80000000 + u);
  for (const e of edges) out[k++] = e;
  return out.subarray(0, k);
}

for (const isa of availableIsas()) {
  describe(`vector exp isa=${isa}`, () => {
    it('exp float32 on a dense sweep of [-104, 89] (10^7 points) and its edges: <= 2 ulp from float64 exp', withIsa(isa, async () => {
      const xs = sweep();
      expect(xs.length).toBeGreaterThan(1e7);
      const y = await tensor(xs, { shape: [xs.length], dtype: 'float32' }).exp().data() as Float32Array;
      let worst = 0, wi = -1, bad = -1;
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i]!, v = y[i]!;
        if (Number.isNaN(x)) {
          if (!Number.isNaN(v)) { bad = i; break; }
          continue;
        }
        const err = ulpErr(v, Math.exp(x));
        if (!(err <= worst)) { worst = Number.isNaN(err) ? Infinity : err; wi = i; }  // (a NaN stays the worst)
      }
      expect(bad, `NaN in, got ${y[bad]}`).toBe(-1);
      expect(worst, `worst ${worst} ulp at x=${xs[wi]}: got ${y[wi]} expected ${Math.exp(xs[wi]!)}`).toBeLessThanOrEqual(2);
    }));

    it('exp float32 edges: -inf -> 0, +inf -> inf, NaN -> NaN, overflow past 88.7228 -> inf, correct denormals down to -103.972, then 0', withIsa(isa, async () => {
      const xs = [-Infinity, Infinity, NaN, 0, -0, 88.72283172607422, 88.72283935546875, 89, 1000, -87.5, -95, -100, -103.9, -103.97, -103.98, -104, -1000];
      const y = Array.from(await tensor(xs).exp().data());
      expect(y.slice(0, 5)).toEqual([0, Infinity, NaN, 1, 1]);
      expect(y[5]).toBeGreaterThan(3.4e38);  // the largest x whose exp is finite
      expect(y[5]).toBeLessThan(Infinity);
      expect(y.slice(6, 9)).toEqual([Infinity, Infinity, Infinity]);
      // denormal results: within one denormal step (2^-149) of float64 exp
      for (let i = 9; i < 14; i++) {
        const e = Math.exp(Math.fround(xs[i]!));
        expect(e).toBeLessThan(2 ** -126);
        expect(Math.abs(y[i]! - e), `exp(${xs[i]}) = ${y[i]}, float64 ${e}`).toBeLessThanOrEqual(2 ** -149);
        expect(y[i]).toBeGreaterThan(0);
      }
      expect(y.slice(14)).toEqual([0, 0, 0]);
    }));

    it('exp float32 of a strided view [300, 70].t() gives the bits of the contiguous exp', withIsa(isa, async () => {
      const [x] = randTensor([300, 70], 41, 'float32', -90, 90);
      const a = await x.t().exp().data(), b = await x.t().contiguous().exp().data();
      expect(Array.from(a)).toEqual(Array.from(b));
    }));

    for (const shape of [[3, 37], [2, 1000], [5, 16], [7, 1], [4, 8, 255], [2, 4099]]) {
      it(`softmax and log_softmax float32 x=[${shape}] axis=-1 (contiguous rows) with log_softmax backward`, withIsa(isa, async () => {
        const R = shape[shape.length - 1]!;
        const [x, xv] = randTensor(shape, 17 + R, 'float32', -30, 30);
        const ref = new Float64Array(xv.length), refP = new Float64Array(xv.length);
        for (let o = 0; o < xv.length / R; o++) {
          let m = -Infinity, s = 0;
          for (let r = 0; r < R; r++) m = Math.max(m, xv[o * R + r]!);
          for (let r = 0; r < R; r++) s += Math.exp(xv[o * R + r]! - m);
          for (let r = 0; r < R; r++) {
            ref[o * R + r] = xv[o * R + r]! - m - Math.log(s);
            refP[o * R + r] = Math.exp(ref[o * R + r]!);
          }
        }
        const tol = { rtol: 1e-4, atol: 1e-5 };
        expectClose(await f64(x.logSoftmax(-1)), ref, tol, 'log_softmax');
        expectClose(await f64(x.softmax(-1)), refP, tol, 'softmax');
        const [dy, dyv] = randTensor(shape, 5 + R, 'float32');
        const lsm = x.logSoftmax(-1), lp = await f64(lsm);
        const want = new Float64Array(xv.length);
        for (let o = 0; o < xv.length / R; o++) {
          let s = 0;
          for (let r = 0; r < R; r++) s += dyv[o * R + r]!;
          for (let r = 0; r < R; r++) want[o * R + r] = dyv[o * R + r]! - Math.exp(lp[o * R + r]!) * s;
        }
        expectClose(await f64(softmaxBackward('log_softmax_bwd', dy, lsm, -1)), want, tol, 'log_softmax_bwd');
      }));
    }

    it('softmax float32 rows with -inf, +inf and NaN: -inf takes no share, a row of -inf, with +inf or with NaN is NaN', withIsa(isa, async () => {
      const row = (v: number[]) => Array.from({ length: 21 }, (_, i) => (i < v.length ? v[i]! : -Infinity));
      const x = tensor([row([0, 0]), row([]), row([Infinity, 1]), row([1, NaN, 2])]);
      const y = await x.softmax(-1).data(), l = await x.logSoftmax(-1).data();
      expect(Array.from(y.slice(0, 21))).toEqual(row([0.5, 0.5]).map((v) => (v === -Infinity ? 0 : v)));
      expect(Array.from(l.slice(0, 2)).map((v) => Math.abs(v + Math.LN2) < 1e-7)).toEqual([true, true]);
      expect(l[2]).toBe(-Infinity);
      for (let i = 21; i < 84; i++) expect(Number.isNaN(y[i]!), `softmax element ${i}: ${y[i]}`).toBe(true);
      for (let i = 21; i < 84; i++) expect(Number.isNaN(l[i]!), `log_softmax element ${i}: ${l[i]}`).toBe(true);
    }));

    it('softmax, log_softmax, exp and attention float32: the same bits on two runs and on 1 and 2 threads', withIsa(isa, async () => {
      const [x] = randTensor([64, 1000], 3, 'float32', -20, 20);
      const [q] = randTensor([2, 4, 200, 32], 4, 'float32');
      const [k] = randTensor([2, 4, 150, 32], 5, 'float32');
      const [v] = randTensor([2, 4, 150, 32], 6, 'float32');
      const run = async () => [
        Array.from(await x.softmax(-1).data()), Array.from(await x.logSoftmax(-1).data()), Array.from(await x.exp().data()),
        Array.from(await F.scaledDotProductAttention(q, k, v).data()),
      ];
      try {
        setNumThreads(1);
        const one = await run();
        setNumThreads(2);
        const two = await run(), again = await run();
        for (let i = 0; i < one.length; i++) {
          expect(two[i], `output ${i}, 2 threads`).toEqual(one[i]);
          expect(again[i], `output ${i}, again`).toEqual(one[i]);
        }
      } finally {
        setNumThreads(initialThreads);
      }
    }));
  });
}
