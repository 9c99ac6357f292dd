// The float32 vector sigmoid, tanh, SiLU and softplus of the CPU kernels (native/cpu/vact.h) and log (vexp.h),
// forward and backward, on every instruction set: in ulps against double formulas computed here (JavaScript's own
// Math, independent of our kernels) on a sweep of the whole float range, the edges, and the same bits for strided and
// contiguous inputs.
import { describe, it, expect } from 'vitest';
import { tensor } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor } from '../helpers.js';
import { FLT_MAX, fromBits, ulpAt, floatSweep } from '../ulp.js';

// 2 x 10^6 points (the bounds below were measured on 10^7, step 401: the suite runs twice in CI, once under ASan)
const SWEEP = floatSweep(2003);

const sig = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
type Name = 'sigmoid' | 'tanh' | 'silu' | 'softplus' | 'log';
interface Case {
  f: (t: Tensor) => Tensor;
  y: (x: number) => number;
  /** The derivative in double: from x, or (sigmoid, tanh: their backward takes the output) from the float32 output y. */
  d: (x: number, y: number) => number;
  /** The size against which the derivative's error counts (its largest term). */
  dScale: (x: number, d: number) => number;
  /** bounds in ulps (of the value, of dScale); measured below each */
  yUlp: number;
  dUlp: number;
}
const CASES: Record<Name, Case> = {
  // measured on a sweep of 10^7 points, the same on avx512, avx2 and scalar: forward 2.39 ulp, backward (from y) 1.50
  sigmoid: { f: (t) => t.sigmoid(), y: sig, d: (_x, y) => y * (1 - y), dScale: (_x, d) => Math.abs(d), yUlp: 3, dUlp: 2 },
  // forward 1.24 ulp; backward 1 - y^2 0.37 ulp of its larger term, 1 (y^2 rounds before the subtraction without an FMA)
  tanh: { f: (t) => t.tanh(), y: Math.tanh, d: (_x, y) => 1 - y * y, dScale: () => 1, yUlp: 2, dUlp: 1 },
  // forward 3.11 ulp, backward 4.29 ulp of the largest of s and x s (1 - s)
  silu: {
    f: (t) => t.silu(), y: (x) => x * sig(x),
    d: (x) => sig(x) * (1 + x * sig(-x)),
    dScale: (x, d) => Math.max(Math.abs(d), sig(x), Math.abs(x * sig(x) * sig(-x))), yUlp: 4, dUlp: 5,
  },
  // forward 3.12 ulp (x past 20: x itself, PyTorch's threshold), backward sigmoid(x) 2.39 ulp
  softplus: {
    f: (t) => t.softplus(), y: (x) => (x > 20 ? x : Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)))),
    d: (x) => (x > 20 ? 1 : sig(x)), dScale: (_x, d) => Math.abs(d), yUlp: 4, dUlp: 3,
  },
  // log (native/cpu/vexp.h): forward 0.85 ulp over every 7th positive float (NaN below 0, -inf at 0); its backward is
  // the division dy / x, correctly rounded (to inf where 1 / x overflows, for denormal x)
  log: { f: (t) => t.log(), y: Math.log, d: (x) => Math.fround(1 / x), dScale: (_x, d) => Math.abs(d), yUlp: 1, dUlp: 1 },
};
// Values below TINY in magnitude need only be within TINY: for x below about -87, exp(-|x|) is denormal and keeps few
// bits, so silu(x) = x sigmoid(x) and sigmoid(x) times a cotangent carry its error (silu(-100) = -3.78e-42 against
// -3.72e-42; float32 PyTorch, x / (1 + exp(-x)) in float, returns -0 there).
const TINY = 2 ** -120;

/** f(view(x)) and its derivative (cotangent 1, laid out as view(x)), through the op and its backward. */
async function valueAndGrad(c: Case, x: Tensor, view = (t: Tensor) => t): Promise<[Float32Array, Float32Array]> {
  const xr = x.clone().requiresGrad_();
  const y = c.f(view(xr));
  y.sum().backward();
  return [(await y.data()) as Float32Array, (await view(xr.grad!).contiguous().data()) as Float32Array];
}
/** |got - want| as a share of the bound: ulps of scale (TINY below it), NaN and infinities exactly. */
function share(got: number, want: number, scale: number, ulps: number): number {
  if (Number.isNaN(want)) return Number.isNaN(got) ? 0 : Infinity;
  if (Number.isNaN(got)) return Infinity;
  if (!Number.isFinite(want)) return got === want ? 0 : Infinity;
  if (scale < TINY) return Math.abs(got - want) <= TINY ? 0 : Infinity;
  return Math.abs(got - want) / ulpAt(scale) / ulps;
}

for (const isa of availableIsas()) {
  describe(`vector activations isa=${isa}`, () => {
    for (const [name, c] of Object.entries(CASES) as [Name, Case][]) {
      it(`${name}: float32 forward <= ${c.yUlp} ulp and backward <= ${c.dUlp} ulp (of its largest term) from double on a sweep of the float range`, withIsa(isa, async () => {
        const [y, d] = await valueAndGrad(c, tensor(SWEEP, { shape: [SWEEP.length], dtype: 'float32' }));
        let wy = 0, wyi = -1, wd = 0, wdi = -1;
        for (let i = 0; i < SWEEP.length; i++) {
          const x = SWEEP[i]!, ye = c.y(x);
          const ry = share(y[i]!, ye, Math.abs(ye), c.yUlp);
          if (!(ry <= wy)) { wy = Number.isNaN(ry) ? Infinity : ry; wyi = i; }  // (a NaN stays the worst)
          if (!Number.isFinite(x)) continue;
          const de = c.d(x, y[i]!);
          const rd = share(d[i]!, de, c.dScale(x, de), c.dUlp);
          if (!(rd <= wd)) { wd = Number.isNaN(rd) ? Infinity : rd; wdi = i; }
        }
        const at = (i: number) => SWEEP[i]!;
        expect(wy, `forward: worst ${wy} of the bound at x=${at(wyi)}: ${y[wyi]} vs ${c.y(at(wyi))}`).toBeLessThanOrEqual(1);
        expect(wd, `backward: worst ${wd} of the bound at x=${at(wdi)}: ${d[wdi]} vs ${c.d(at(wdi), y[wdi]!)}`).toBeLessThanOrEqual(1);
      }));

      it(`${name}: edges (NaN, +-inf, +-0, +-1e20, +-FLT_MAX, denormals, the branch points)`, withIsa(isa, async () => {
        const xs = [NaN, Infinity, -Infinity, 0, -0, 1e20, -1e20, FLT_MAX, -FLT_MAX, fromBits(1), fromBits(0x80000001), 2 ** -126,
          0.625, -0.625, 0.62499994, -0.62499994, 20, 20.000002, 19.999998, -20, 9, -9, 44.5, -44.5, 88, -88, 95, -95, 104, -104, 1.4142135, 1.4142137, 0.70710677, 1];
        const [y, d] = await valueAndGrad(c, tensor(xs));
        for (let i = 0; i < xs.length; i++) {
          const x = Math.fround(xs[i]!), ye = c.y(x);
          expect(share(y[i]!, ye, Math.abs(ye), c.yUlp), `${name}(${x}) = ${y[i]}, double ${ye}`).toBeLessThanOrEqual(1);
          if (!Number.isFinite(x)) continue;
          const de = c.d(x, y[i]!);
          expect(share(d[i]!, de, c.dScale(x, de), c.dUlp), `${name}'(${x}) = ${d[i]}, double ${de}`).toBeLessThanOrEqual(1);
        }
        const ends = Array.from(y.slice(0, 5));
        const want: Record<Name, number[]> = {
          sigmoid: [NaN, 1, 0, 0.5, 0.5], tanh: [NaN, 1, -1, 0, -0], silu: [NaN, Infinity, NaN, 0, -0], softplus: [NaN, Infinity, 0, Math.LN2, Math.LN2],
          log: [NaN, Infinity, NaN, -Infinity, -Infinity],
        };
        for (let i = 0; i < 5; i++) {
          if (name === 'softplus' && i >= 3) expect(Math.abs(ends[i]! - Math.LN2)).toBeLessThan(1e-7);
          else expect(Object.is(ends[i], want[name][i]), `${name}(${xs[i]}) = ${ends[i]}, want ${want[name][i]}`).toBe(true);
        }
      }));

      it(`${name}: a strided [300, 70].t() input gives the bits of the contiguous one, forward and backward`, withIsa(isa, async () => {
        const [x] = randTensor([300, 70], 47, 'float32', -12, 12);
        const [ya, da] = await valueAndGrad(c, x, (t) => t.t());
        const [yb, db] = await valueAndGrad(c, x.t().contiguous());
        expect(Array.from(ya)).toEqual(Array.from(yb));
        expect(Array.from(da)).toEqual(Array.from(db));
      }));
    }
  });
}
