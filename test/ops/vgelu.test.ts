// The float32 vector GELU of the CPU kernels (native/cpu/vgelu.h), exact and with the tanh approximation, forward and
// backward, on every instruction set: in ulps against the float64 kernels on a sweep of the whole float range (and
// the float64 kernels themselves against an independent erfc by quadrature, since they are the reference), the
// edges, and the same bits for strided and contiguous inputs.
import { describe, it, expect } from 'vitest';
import { tensor, F } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor } from '../helpers.js';
import { FLT_MAX, fromBits, ulpAt, floatSweep } from '../ulp.js';

// 2 x 10^6 points (the bounds below were measured on 10^7, step 401: the suite runs twice in CI, once under ASan)
const SWEEP = floatSweep(2003);

/**
 * erfc(a) for a >= 0: (2 / sqrt pi) exp(-a^2) times the integral over s in [0, L] of exp(-2 a s - s^2) (t = a + s),
 * L = min(12, 60 / 2a) (the integrand is below e^-60 past it), by composite Simpson's rule on 24,000 panels.
 */
function erfcQuad(a: number): number {
  const L = Math.min(12, 30 / Math.max(a, 1e-9)), n = 24000, h = L / n;
  const f = (u: number) => Math.exp(-2 * a * u - u * u);
  let s = f(0) + f(L);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * f(i * h);
  return Math.exp(-a * a) * ((s * h) / 3) * (2 / Math.sqrt(Math.PI));
}
const phiQuad = (x: number) => (x < 0 ? erfcQuad(-x / Math.SQRT2) / 2 : 1 - erfcQuad(x / Math.SQRT2) / 2);

type Approx = 'none' | 'tanh';
const C2 = 2 * Math.sqrt(2 / Math.PI), K = 0.044715;

/** gelu of view(x) and its derivative (cotangent 1, as view(x) lays it out) through the op and its backward. */
async function geluAndGrad(x: Tensor, approximate: Approx, view = (t: Tensor) => t): Promise<[Float64Array, Float64Array]> {
  const xr = x.clone().requiresGrad_();
  const y = F.gelu(view(xr), { approximate });
  y.sum().backward();
  return [Float64Array.from(await y.data()), Float64Array.from(await view(xr.grad!).contiguous().data())];
}

/** The size against which the derivative's error counts: the larger of its two terms. */
function derivScale(x: number, d: number, approximate: Approx): number {
  if (approximate === 'none') return Math.max(Math.abs(d), Math.abs(x) * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI));
  const e = Math.exp(-C2 * (x + K * x ** 3)), s = 1 / (1 + e);
  const term = 2 * x * (s === 0 ? 0 : e * s * s) * (C2 / 2) * (1 + 3 * K * x * x);  // NaN where it is 0 * inf
  return Math.max(Math.abs(d), Number.isFinite(term) ? Math.abs(term) : 0);
}

// measured: exact forward <= 13 ulp, derivative <= 10; tanh derivative <= 15 ulp, tanh forward <= 40 ulp for x >= -5
// and growing beyond with |2 w| (the float32 argument of its exp carries a rounding of |2 w| 2^-24: 142 ulp at x = -9.8)
const BOUND = { none: { y: 16, d: 12 }, tanh: { y: 48, d: 20 } } as const;
const yBound = (x: number, approximate: Approx) =>
  approximate === 'none' ? BOUND.none.y : Math.max(BOUND.tanh.y, 8 + 3 * Math.abs(C2 * (x + K * x ** 3)));
const dBound = (x: number, approximate: Approx) =>
  approximate === 'none' ? BOUND.none.d : Math.max(BOUND.tanh.d, 8 + 3 * Math.abs(C2 * (x + K * x ** 3)));
// Outputs below TINY in magnitude (near the denormals; the tanh form's exp(-2 w) overflows past x = -10.06) need only
// be within TINY of the float64 value.
const TINY = 2 ** -120;

describe('gelu float64 kernels (the reference below)', () => {
  it('exact: x Phi(x) within 1e-12 relative of an independent erfc by quadrature on [-13, 6], no cancellation for x < 0', async () => {
    const xs = Array.from({ length: 77 }, (_, i) => -13 + (19 * i) / 76);
    const y = await tensor(xs, { dtype: 'float64' }).gelu().data();
    for (let i = 0; i < xs.length; i++) {
      const want = xs[i]! * phiQuad(xs[i]!);
      expect(Math.abs(y[i]! - want), `gelu(${xs[i]}) = ${y[i]}, quadrature ${want}`).toBeLessThanOrEqual(1e-12 * Math.abs(want) + 1e-300);
    }
  });
  it('tanh: x sigmoid(2 w) within (8 + 4 |2 w|) 2^-52 relative of the formula in the test, to x = -15', async () => {
    const xs = Array.from({ length: 51 }, (_, i) => -15 + i * 0.4);
    const y = await F.gelu(tensor(xs, { dtype: 'float64' }), { approximate: 'tanh' }).data();
    for (let i = 0; i < xs.length; i++) {
      // the exp's argument 2 w carries a rounding of |2 w| 2^-53 in either computation
      const x = xs[i]!, w2 = C2 * (x + K * x ** 3), want = x / (1 + Math.exp(-w2));
      expect(Math.abs(y[i]! - want), `gelu_tanh(${x})`).toBeLessThanOrEqual(2 ** -52 * (8 + 4 * Math.abs(w2)) * Math.abs(want));
    }
  });
});

for (const isa of availableIsas()) {
  describe(`vector gelu isa=${isa}`, () => {
    for (const approximate of ['none', 'tanh'] as const) {
      it(`${approximate}: float32 forward <= ${BOUND[approximate].y} ulp (tanh: 8 + 3 |2 w| past x = -5) and derivative <= ${BOUND[approximate].d} ulp (of its larger term; tanh: the same growth) from float64 on a sweep of the float range`, withIsa(isa, async () => {
        const x32 = tensor(SWEEP, { shape: [SWEEP.length], dtype: 'float32' });
        const [y, d] = await geluAndGrad(x32, approximate);
        const [y64, d64] = await geluAndGrad(x32.cast('float64'), approximate);
        let wy = 0, wyi = -1, wd = 0, wdi = -1;
        for (let i = 0; i < SWEEP.length; i++) {
          const x = SWEEP[i]!;
          // the error as a share of its bound
          const ry = Math.abs(y64[i]!) < TINY ? (Math.abs(y[i]! - y64[i]!) <= TINY ? 0 : Infinity)
            : Math.abs(y[i]! - Math.fround(y64[i]!)) / ulpAt(y64[i]!) / yBound(x, approximate);
          if (!(ry <= wy)) { wy = Number.isNaN(ry) ? Infinity : ry; wyi = i; }  // (a NaN stays the worst)
          const ref = d64[i]!;
          if (!Number.isFinite(x)) continue;
          const sc = derivScale(x, ref, approximate);
          const rd = sc < TINY ? (Math.abs(d[i]! - ref) <= TINY ? 0 : Infinity) : Math.abs(d[i]! - ref) / ulpAt(sc) / dBound(x, approximate);
          if (!(rd <= wd)) { wd = Number.isNaN(rd) ? Infinity : rd; wdi = i; }
        }
        expect(wy, `forward: worst ${wy} of the bound at x=${SWEEP[wyi]}: ${y[wyi]} vs ${y64[wyi]}`).toBeLessThanOrEqual(1);
        expect(wd, `derivative: worst ${wd} of the bound at x=${SWEEP[wdi]}: ${d[wdi]} vs ${d64[wdi]}`).toBeLessThanOrEqual(1);
      }));

      it(`${approximate}: edges as the float64 kernel gives them (NaN, +-inf, +-0, +-1e20, +-FLT_MAX, denormals)`, withIsa(isa, async () => {
        const xs = [NaN, Infinity, -Infinity, 0, -0, 1e20, -1e20, FLT_MAX, -FLT_MAX, fromBits(1), fromBits(0x80000001), 2 ** -126, 30, -30];
        const [y, d] = await geluAndGrad(tensor(xs), approximate);
        const [y64, d64] = await geluAndGrad(tensor(xs, { dtype: 'float64' }), approximate);
        // NaN where it is NaN, infinities equal, finite values within the bounds above (or TINY, near 0)
        const same = (a: number, b: number, ulps: number) => Number.isNaN(b) ? Number.isNaN(a)
          : !Number.isFinite(b) ? a === b : Math.abs(a - b) <= Math.max(TINY, ulps * ulpAt(b));
        for (let i = 0; i < xs.length; i++) {
          expect(same(y[i]!, y64[i]!, yBound(xs[i]!, approximate)), `gelu(${xs[i]}) = ${y[i]}, float64 ${y64[i]}`).toBe(true);
          expect(same(d[i]!, d64[i]!, BOUND[approximate].d), `gelu'(${xs[i]}) = ${d[i]}, float64 ${d64[i]}`).toBe(true);
        }
        expect(y.slice(0, 5)).toEqual(Float64Array.from([NaN, Infinity, NaN, 0, -0]));
      }));

      it(`${approximate}: a strided [300, 70].t() input gives the bits of the contiguous one, forward and backward`, withIsa(isa, async () => {
        const [x] = randTensor([300, 70], 43, 'float32', -8, 8);
        const [ya, da] = await geluAndGrad(x, approximate, (t) => t.t());
        const [yb, db] = await geluAndGrad(x.t().contiguous(), approximate);
        expect(Array.from(ya)).toEqual(Array.from(yb));
        expect(Array.from(da)).toEqual(Array.from(db));
      }));
    }
  });
}
