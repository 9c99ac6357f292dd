// F.rmsNorm and nn.RMSNorm (PyTorch 2.4's): against a float64 reference written here from the formula (with and
// without weight, one and two normalised dims, an explicit eps and the default, the dtype's machine epsilon, at
// inputs small enough for eps to matter), against TensorFlow.js composing it, gradchecks in float64, the module
// (weight of ones under the state name `weight`, elementwiseAffine false, loadStateDict, no weight decay), errors;
// and LayerNorm without elementwise affine under gradcheck.
import { describe, it, expect } from 'vitest';
import { F, nn, optim, tensor, gradcheck, zeros, ShapeError, ArgumentError, DTypeError } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { randArray, randTensor, expectClose, f64, numel, throwsExactly, TOL } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('F.rmsNorm');
covers('nn.RMSNorm');

const EPS = { float32: 2 ** -23, float64: 2 ** -52 };  // torch.finfo(dtype).eps

/** The reference: each row of k entries divided by sqrt(mean(x^2) + eps), times w. */
function ref(xv: ArrayLike<number>, k: number, eps: number, w?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(xv.length);
  for (let r = 0; r < xv.length / k; r++) {
    let q = 0;
    for (let i = 0; i < k; i++) q += xv[r * k + i]! ** 2;
    const inv = 1 / Math.sqrt(q / k + eps);
    for (let i = 0; i < k; i++) out[r * k + i] = xv[r * k + i]! * inv * (w ? w[i]! : 1);
  }
  return out;
}

let seed = 41;
describe('F.rmsNorm against the reference', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [ns, shape] of [[[5], [3, 5]], [[4, 5], [2, 3, 4, 5]], [7, [7]]] as [number | number[], number[]][]) {
      const k = numel(typeof ns === 'number' ? [ns] : ns), nsArr = typeof ns === 'number' ? [ns] : ns;
      it(`normalizedShape ${JSON.stringify(ns)} x=[${shape}] ${dtype}: with and without weight, eps 1e-2 and the default`, async () => {
        const [x, xv] = randTensor(shape, seed++, dtype, -3, 3);
        const [w, wv] = randTensor(nsArr, seed++, dtype, 0.5, 2);
        for (const eps of [1e-2, undefined, null]) {
          const e = eps ?? EPS[dtype];
          const y = F.rmsNorm(x, ns, w, eps);
          expect(y.dtype).toBe(dtype);
          expect(y.shape).toEqual(shape);
          expectClose(await f64(y), ref(xv, k, e, wv), TOL[dtype], `weight, eps ${eps}`);
          expectClose(await f64(F.rmsNorm(x, ns, null, eps)), ref(xv, k, e), TOL[dtype], `no weight, eps ${eps}`);
        }
        expectClose(await f64(F.rmsNorm(x, ns)), ref(xv, k, EPS[dtype]), TOL[dtype], 'no weight, no eps');
      });
    }
    it(`${dtype}: the default eps is the dtype's machine epsilon (inputs so small that eps is most of the mean square)`, async () => {
      const scale = dtype === 'float32' ? 3e-4 : 1e-8;
      const [x, xv] = randTensor([4, 8], seed++, dtype, -scale, scale);
      const got = await f64(F.rmsNorm(x, [8]));
      expectClose(got, ref(xv, 8, EPS[dtype]), TOL[dtype], 'machine epsilon');
      // and not another eps: PyTorch's LayerNorm default 1e-5, or none at all
      for (const other of [1e-5, 0, EPS[dtype] * 4]) {
        const r = ref(xv, 8, other);
        expect(got.some((g, i) => Math.abs(g - r[i]!) > 10 * (TOL[dtype].atol + TOL[dtype].rtol * Math.abs(r[i]!))), `eps ${other} differs`).toBe(true);
      }
    });
  }
  it('x=[2,3,6] float32 against TensorFlow.js composing x * rsqrt(mean(x^2) + eps) * w', async () => {
    const t = await tfjs();
    const [x, xv] = randTensor([2, 3, 6], seed++, 'float32', -2, 2);
    const [w, wv] = randTensor([6], seed++, 'float32', 0.5, 2);
    const want = t.tidy(() => {
      const a = t.tensor(Float32Array.from(xv), [2, 3, 6]);
      return t.mul(t.mul(a, t.rsqrt(t.add(t.mean(t.square(a), -1, true), 1e-6))), t.tensor(Float32Array.from(wv))).dataSync();
    });
    expectClose(await f64(F.rmsNorm(x, [6], w, 1e-6)), Float64Array.from(want), TOL.float32, 'tfjs');
  });
});

describe('rmsNorm gradients', () => {
  const x64 = (shape: number[], lo = -1, hi = 1) => tensor(randArray(numel(shape), seed++, lo, hi), { shape, dtype: 'float64' }).requiresGrad_();
  it('gradcheck float64 x=[3,5] and weight [5], eps 1e-3 and the default', async () => {
    for (const eps of [1e-3, undefined]) {
      const r = await gradcheck((x, w) => F.rmsNorm(x, [5], w, eps), [x64([3, 5]), x64([5], 0.5, 2)], { atol: 1e-6, rtol: 1e-4 });
      expect(r.worst, `eps ${eps}: worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
    }
  });
  it('gradcheck float64 x=[2,3,4] normalizedShape [3,4] without weight; nn.RMSNorm([3,4]) with its weight', async () => {
    const r = await gradcheck((x) => F.rmsNorm(x, [3, 4]), [x64([2, 3, 4])], { atol: 1e-6, rtol: 1e-4 });
    expect(r.worst, `worst at element ${r.at[1]}`).toBeLessThanOrEqual(1);
    const m = new nn.RMSNorm([3, 4], { dtype: 'float64' });
    const r2 = await gradcheck((x, w) => F.rmsNorm(x, [3, 4], w, m.options.eps), [x64([2, 3, 4]), m.weight!], { atol: 1e-6, rtol: 1e-4 });
    expect(r2.worst, `worst at input ${r2.at[0]} element ${r2.at[1]}`).toBeLessThanOrEqual(1);
  });
  it('LayerNorm without elementwise affine (issue 12): gradcheck float64 x=[3,5] and x=[2,3,4] over [3,4]', async () => {
    for (const [shape, ns] of [[[3, 5], [5]], [[2, 3, 4], [3, 4]]] as [number[], number[]][]) {
      const m = new nn.LayerNorm(ns, { elementwiseAffine: false, dtype: 'float64' });
      expect(m.parameters()).toEqual([]);
      const r = await gradcheck((x) => m.forward(x), [x64(shape)], { atol: 1e-6, rtol: 1e-4 });
      expect(r.worst, `x=[${shape}] worst at element ${r.at[1]}`).toBeLessThanOrEqual(1);
    }
  });
});

describe('nn.RMSNorm', () => {
  it('normalizedShape 6 and [2,3]: a weight of ones named weight; forward is F.rmsNorm with it; loadStateDict; extraRepr', async () => {
    const m = new nn.RMSNorm(6);
    expect(m.normalizedShape).toEqual([6]);
    expect(Object.keys(m.stateDict())).toEqual(['weight']);
    expect(Array.from(await m.weight!.data())).toEqual([1, 1, 1, 1, 1, 1]);
    expect(m.weight!.requiresGrad).toBe(true);
    const m2 = new nn.RMSNorm([2, 3], { eps: 1e-3, dtype: 'float64' });
    expect(m2.weight!.shape).toEqual([2, 3]);
    expect(m2.weight!.dtype).toBe('float64');
    const wv = randArray(6, seed++, 0.5, 2);
    m2.loadStateDict({ weight: tensor(wv, { shape: [2, 3], dtype: 'float64' }) });
    const [x, xv] = randTensor([4, 2, 3], seed++, 'float64', -2, 2);
    const y = m2.forward(x);
    expect(Array.from(await y.data())).toEqual(Array.from(await F.rmsNorm(x, [2, 3], m2.weight, 1e-3).data()));
    expectClose(await f64(y), ref(xv, 6, 1e-3, wv), TOL.float64, 'module');
    expect(String(m2)).toBe('RMSNorm([2, 3], eps=0.001, elementwiseAffine=true)');
    expect(String(m)).toBe('RMSNorm([6], eps=null, elementwiseAffine=true)');
  });
  it('elementwiseAffine false: no parameters, an empty state dict; the default eps is the input\'s dtype\'s', async () => {
    const m = new nn.RMSNorm([8], { elementwiseAffine: false });
    expect(m.parameters()).toEqual([]);
    expect(Object.keys(m.stateDict())).toEqual([]);
    for (const dtype of ['float32', 'float64'] as const) {
      const [x, xv] = randTensor([3, 8], seed++, dtype, -1e-4, 1e-4);
      expectClose(await f64(m.forward(x)), ref(xv, 8, EPS[dtype]), TOL[dtype], dtype);
    }
  });
  it('its weight is in weightDecayGroups\' group without decay (a norm layer)', () => {
    class Net extends nn.Module {
      fc = new nn.Linear(4, 4);
      norm = new nn.RMSNorm(4);
      forward(x: Tensor) { return this.norm.forward(this.fc.forward(x)); }
    }
    const net = new Net();
    const [decay, rest] = optim.weightDecayGroups(net, { weightDecay: 0.1 });
    expect(decay.params).toEqual([net.fc.weight]);
    expect(rest.params).toContain(net.norm.weight);
  });
});

describe('rmsNorm errors', () => {
  const x = zeros([2, 3]);
  it('an integer input, a shape the input does not end in, a weight of another shape, a bad eps', () => {
    throwsExactly(() => F.rmsNorm(zeros([2, 3], { dtype: 'int32' }), [3]), DTypeError, 'rms_norm: expected a float32 or float64 input, got int32');
    throwsExactly(() => F.rmsNorm(x, [2]), ShapeError, 'rms_norm: expected input ending in [2], got shape [2,3]');
    throwsExactly(() => F.rmsNorm(x, [1, 2, 3]), ShapeError, 'rms_norm: expected input ending in [1,2,3], got shape [2,3]');
    throwsExactly(() => F.rmsNorm(x, []), ShapeError, 'rms_norm: expected input ending in [], got shape [2,3]');
    throwsExactly(() => F.rmsNorm(x, [3], zeros([2, 3])), ShapeError, 'rms_norm: expected weight of shape [3] (normalizedShape), got [2,3]');
    throwsExactly(() => F.rmsNorm(x, [3], null, -1), ArgumentError, "rms_norm: expected eps >= 0 (or null: the dtype's machine epsilon), got the number -1");
    throwsExactly(() => F.rmsNorm(x, [3], null, NaN), ArgumentError, "rms_norm: expected eps >= 0 (or null: the dtype's machine epsilon), got the number NaN");
    throwsExactly(() => F.rmsNorm(x, [3], 'w' as unknown as Tensor), ArgumentError, "rms_norm: expected weight to be a Tensor, got the string 'w'");
    throwsExactly(() => new (nn.RMSNorm as unknown as new () => nn.RMSNorm)(), ArgumentError, 'RMSNorm: expected normalizedShape to be an integer or a non-empty array of integers, got undefined');
    throwsExactly(() => new nn.RMSNorm([], { elementwiseAffine: false }), ArgumentError, 'RMSNorm: expected normalizedShape to be an integer or a non-empty array of integers, got an array of length 0');
    throwsExactly(() => new nn.RMSNorm([2, 1.5], { elementwiseAffine: false }), ShapeError, 'RMSNorm: expected non-negative integer sizes, got shape [2,1.5]');
    throwsExactly(() => new nn.RMSNorm(-3), ShapeError, 'RMSNorm: expected non-negative integer sizes, got shape [-3]');
    throwsExactly(() => new nn.RMSNorm(3, { eps: -1e-5 }), ArgumentError, "RMSNorm: expected eps >= 0 (or null: the dtype's machine epsilon), got the number -0.00001");
    throwsExactly(() => new nn.RMSNorm(3, { elementwiseAffine: false }).forward(zeros([3, 4])), ShapeError, 'rms_norm: expected input ending in [3], got shape [3,4]');
  });
});
