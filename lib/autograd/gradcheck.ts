import { ArgumentError, DTypeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { seededRandom } from '../data/dataset.js';
import { describe, optionsArg, tensorsArg } from '../check.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** seed of the random cotangent (a private generator: the global one of manualSeed is left alone); default 0x9c0d */
  seed?: number;
}
export interface GradcheckResult {
  ok: boolean;
  /** the worst |analytic - numeric| / (atol + rtol*|numeric|) over all inputs and elements (ok when <= 1) */
  worst: number;
  /** where the worst element was: input index and flat element index */
  at: [number, number];
}

/**
 * Compares the gradients from backward() with central finite differences, in float64. `fn` maps the inputs to a
 * tensor y; the gradient of sum(y * v) is checked for every input that requires grad, where v is a seeded random
 * cotangent of y's shape (values of either sign with magnitudes in [0.5, 1.5)). A cotangent of ones would not do:
 * the gradient of sum(softmax(x)) is zero, and that of sum(x.permute(p)) one constant, so a backward that returns
 * zeros or permutes its gradient would pass.
 *
 * @example
 * ```ts
 * const x = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
 * const r = await gradcheck((a) => a.tanh().mul(a), [x]);
 * console.log(r.ok);
 * ```
 */
export async function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], o: GradcheckOptions = {}): Promise<GradcheckResult> {
  if (typeof fn !== 'function') throw new ArgumentError(`gradcheck: expected fn to be a function, got ${describe(fn)}`);
  tensorsArg('gradcheck', 'inputs', inputs);
  o = optionsArg('gradcheck', o);
  const eps = o.eps ?? 1e-6, atol = o.atol ?? 1e-5, rtol = o.rtol ?? 1e-3, seed = o.seed ?? 0x9c0d;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ArgumentError(`gradcheck: expected seed to be a non-negative safe integer, got ${seed}`);
  for (const x of inputs) {
    if (x.requiresGrad && x.dtype !== 'float64') throw new DTypeError(`gradcheck: expected float64 inputs, got ${x.dtype}`);
  }
  if (!inputs.some((x) => x.requiresGrad)) throw new ArgumentError('gradcheck: expected at least one input with requiresGrad, got none');
  const values = await Promise.all(inputs.map(async (x) => Float64Array.from(await x.data())));
  const fresh = (vals: Float64Array[]) => inputs.map((x, i) => {
    const t = tensor(vals[i]!, { shape: x.shape as number[], dtype: x.dtype });
    return x.requiresGrad ? t.requiresGrad_() : t;
  });
  const xs = fresh(values);
  const y = fn(...xs);
  const rnd = seededRandom(seed);
  const v = new Float64Array(y.numel);
  for (let k = 0; k < v.length; k++) v[k] = (rnd() < 0.5 ? -1 : 1) * (0.5 + rnd());
  y.backward(tensor(v, { shape: y.shape as number[], dtype: 'float64' }).cast(y.dtype));
  // sum(fn(vals) * v), accumulated in float64 here
  const f = async (vals: Float64Array[]) => {
    const out = await fn(...fresh(vals).map((t) => t.detach())).data();
    let s = 0;
    for (let k = 0; k < v.length; k++) s += out[k]! * v[k]!;
    return s;
  };
  let worst = 0;
  let at: [number, number] = [-1, -1];
  for (let i = 0; i < inputs.length; i++) {
    if (!inputs[i]!.requiresGrad) continue;
    const analytic = xs[i]!.grad ? Float64Array.from(await xs[i]!.grad!.data()) : new Float64Array(values[i]!.length);
    for (let k = 0; k < values[i]!.length; k++) {
      const plus = values.map((v) => v.slice()), minus = values.map((v) => v.slice());
      plus[i]![k] = values[i]![k]! + eps;
      minus[i]![k] = values[i]![k]! - eps;
      const numeric = ((await f(plus)) - (await f(minus))) / (2 * eps);
      const r = Math.abs(analytic[k]! - numeric) / (atol + rtol * Math.abs(numeric));
      if (!(r <= worst)) { worst = r; at = [i, k]; }
    }
  }
  return { ok: worst <= 1, worst, at };
}
