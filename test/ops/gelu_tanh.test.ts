// GELU with the tanh approximation (F.gelu(x, { approximate: 'tanh' }), nn.GELU({ approximate: 'tanh' })): the
// fused forward and backward kernels against the formula in the test on every instruction set and both dtypes
// (fresh, offset and transposed inputs), against TensorFlow.js composing the formula (tfjs has no gelu), gradcheck in
// float64, that it differs from the exact GELU by the approximation's known amount, and the option errors.
import { describe, it, expect } from 'vitest';
import { tensor, F, nn, gradcheck, ArgumentError } from '../../lib/index.js';
import { availableIsas, withIsa, randArray, expectClose, throwsExactly } from '../helpers.js';
import { tfjs } from '../tfjs.js';

const C = Math.sqrt(2 / Math.PI), K = 0.044715;
// 0.5 x (1 + tanh(w)) = x sigmoid(2 w) and its derivative s + 2 x s (1 - s) w' in the forms without the cancellation
// of 1 + tanh(w) for negative x (s (1 - s) = e s^2, e = exp(-2 w)), so that the float64 reference is accurate there
const geluTanh = (x: number) => x / (1 + Math.exp(-2 * C * (x + K * x ** 3)));
const dGeluTanh = (x: number) => {
  const e = Math.exp(-2 * C * (x + K * x ** 3)), s = 1 / (1 + e), sm = s === 0 ? 0 : e * s * s;
  return s + (sm === 0 && Number.isFinite(x) ? 0 : 2 * x * sm * C * (1 + 3 * K * x * x));
};
const TOL = { float32: { rtol: 2e-6, atol: 2e-7 }, float64: { rtol: 1e-13, atol: 1e-15 } };

// values over [-6, 6] with the special ones: 0, -0, large of both signs, infinities and NaN
function inputs(n: number, seed: number): number[] {
  const v = Array.from(randArray(n, seed, -6, 6));
  v.splice(0, 8, 0, -0, 30, -30, Infinity, -Infinity, NaN, 1e-20);
  return v;
}

for (const isa of availableIsas()) {
  describe(`gelu tanh isa=${isa}`, () => {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`forward and backward vs the formula, [1031] fresh, offset and [13, 9] transposed, ${dtype}`, withIsa(isa, async () => {
        const v = inputs(1031, 3);
        const ref = dtype === 'float32' ? Array.from(Float32Array.from(v)) : v;
        const x = tensor(v, { dtype }).requiresGrad_();
        const y = F.gelu(x, { approximate: 'tanh' });
        expectClose(await y.data(), ref.map(geluTanh), TOL[dtype], 'y');
        const gv = Array.from(randArray(1031, 4, -2, 2));
        y.mul(tensor(gv, { dtype })).sum().backward();
        const gref = dtype === 'float32' ? Array.from(Float32Array.from(gv)) : gv;
        // the infinities' derivative is 0 * ... = NaN for -inf (x (1 - t^2) with t = -1) as PyTorch gives; compare finite
        const dx = Array.from(await x.grad!.data()), want = ref.map((r, i) => gref[i]! * dGeluTanh(r));
        const fin = (a: number[]) => a.filter((_, i) => Number.isFinite(ref[i]!));
        expectClose(fin(dx), fin(want), TOL[dtype], 'dx');
        const base = tensor([1, 2, 3].concat(v), { dtype }).slice(0, 3, 1034);  // an offset view
        expectClose(await F.gelu(base, { approximate: 'tanh' }).data(), ref.map(geluTanh), TOL[dtype], 'offset');
        const m = tensor(v.slice(0, 117), { shape: [9, 13], dtype }).t();
        const mt = Array.from({ length: 117 }, (_, e) => ref[(e % 9) * 13 + Math.floor(e / 9)]!);
        expectClose(await F.gelu(m, { approximate: 'tanh' }).data(), mt.map(geluTanh), TOL[dtype], 'transposed');
      }));
    }
  });
}

describe('gelu tanh', () => {
  it('nn.GELU({ approximate }) and F.gelu agree; the default stays exact; they differ by < 1e-3 (the approximation error)', async () => {
    const v = Array.from(randArray(200, 7, -4, 4));
    const x = tensor(v, { dtype: 'float64' });
    const approx = Array.from(await new nn.GELU({ approximate: 'tanh' }).forward(x).data());
    expect(approx).toEqual(Array.from(await F.gelu(x, { approximate: 'tanh' }).data()));
    const exact = Array.from(await new nn.GELU().forward(x).data());
    expect(exact).toEqual(Array.from(await F.gelu(x).data()));
    expect(exact).toEqual(Array.from(await F.gelu(x, { approximate: 'none' }).data()));
    const diff = approx.map((a, i) => Math.abs(a - exact[i]!));
    expect(Math.max(...diff)).toBeLessThan(1e-3);
    expect(Math.max(...diff)).toBeGreaterThan(1e-5);  // not the exact kernel under another name
    expect(new nn.GELU({ approximate: 'tanh' }).toString()).toBe("GELU(approximate='tanh')");
  });
  it('gradcheck in float64: [4, 6], and a transposed view times itself', async () => {
    const x = tensor(Array.from(randArray(24, 5, -3, 3)), { shape: [4, 6], dtype: 'float64' }).requiresGrad_();
    expect((await gradcheck((t) => F.gelu(t, { approximate: 'tanh' }), [x])).ok).toBe(true);
    expect((await gradcheck((t) => F.gelu(t.t(), { approximate: 'tanh' }).mul(t.t()), [x])).ok).toBe(true);
  });
  it('matches TensorFlow.js composing 0.5 x (1 + tanh(c (x + 0.044715 x^3))) and its gradient, float32 [300]', async () => {
    const tf = await tfjs();
    const v = Float32Array.from(randArray(300, 9, -5, 5));
    const f = (a: import('@tensorflow/tfjs-core').Tensor) =>
      tf.mul(tf.mul(0.5, a), tf.add(1, tf.tanh(tf.mul(C, tf.add(a, tf.mul(K, tf.pow(a, 3)))))));
    const X = tf.tensor(v);
    const yRef = f(X).dataSync(), dRef = tf.grad(f)(X).dataSync();
    const x = tensor(v).requiresGrad_();
    const y = F.gelu(x, { approximate: 'tanh' });
    y.sum().backward();
    expectClose(await y.data(), yRef, { rtol: 1e-5, atol: 1e-6 }, 'y');
    expectClose(await x.grad!.data(), dRef, { rtol: 1e-5, atol: 1e-6 }, 'dx');
    X.dispose();
  });
  it('errors: an unknown approximate for F.gelu and nn.GELU', () => {
    const x = tensor([1, 2]);
    throwsExactly(() => F.gelu(x, { approximate: 'erf' as never }), ArgumentError, "gelu: expected approximate 'none' or 'tanh', got the string 'erf'");
    throwsExactly(() => new nn.GELU({ approximate: true as never }), ArgumentError, "GELU: expected approximate 'none' or 'tanh', got true");
    throwsExactly(() => F.gelu(x, 'tanh' as never), ArgumentError, "gelu: expected an options object, got the string 'tanh'");
  });
});
