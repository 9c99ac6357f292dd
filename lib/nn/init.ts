/**
 * Parameter initialisation, from the seeded generator (the same seed gives the same model). Functions ending in
 * `_` fill a tensor in place. Formulas follow torch.nn.init (He et al. 2015; Glorot & Bengio 2010).
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { rand, randn } from '../tensor/random.js';
import { full } from '../tensor/create.js';
import { copyInto } from '../ops/view.js';
import { noGrad } from '../autograd/engine.js';
import { describe, optionsArg, tensorArg } from '../check.js';

function fans(op: string, t: Tensor): [number, number] {
  tensorArg(op, 'the tensor', t);
  if (t.ndim < 2) throw new ArgumentError(`init: expected a tensor with at least 2 dims for fan computation, got shape [${t.shape.join(',')}]`);
  const receptive = t.shape.slice(2).reduce((a, b) => a * b, 1);
  return [t.shape[1]! * receptive, t.shape[0]! * receptive];
}
function fill(t: Tensor, src: Tensor): Tensor {
  noGrad(() => copyInto(t, src));
  src.dispose();
  return t;
}
/** @example `uniform_(w, -0.1, 0.1)` */
export function uniform_(t: Tensor, low = 0, high = 1): Tensor {
  tensorArg('uniform_', 'the tensor', t);
  return fill(t, rand(t.shape, { dtype: t.dtype, low, high }));
}
/** @example `normal_(w, 0, 0.02)` */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  tensorArg('normal_', 'the tensor', t);
  return fill(t, randn(t.shape, { dtype: t.dtype, mean, std }));
}
/** @example `constant_(b, 0.1)` */
export function constant_(t: Tensor, v: number): Tensor {
  tensorArg('constant_', 'the tensor', t);
  return fill(t, full(t.shape, v, { dtype: t.dtype }));
}
/** Fills t with 0 in place. @example `nn.init.zeros_(lin.bias)` */
export function zeros_(t: Tensor): Tensor {
  tensorArg('zeros_', 'the tensor', t);
  return constant_(t, 0);
}
/** Fills t with 1 in place. @example `nn.init.ones_(bn.weight)` */
export function ones_(t: Tensor): Tensor {
  tensorArg('ones_', 'the tensor', t);
  return constant_(t, 1);
}
/** Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fanIn + fanOut)). @example `xavierUniform_(w)` */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const [fi, fo] = fans('xavierUniform_', t);
  const a = gain * Math.sqrt(6 / (fi + fo));
  return uniform_(t, -a, a);
}
/** @example `xavierNormal_(w)` */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const [fi, fo] = fans('xavierNormal_', t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fi + fo)));
}
type Nonlinearity = 'relu' | 'leaky_relu' | 'linear' | 'sigmoid' | 'tanh' | 'selu';
// torch.nn.init.calculate_gain; an unknown name or mode is an error (PyTorch raises too), not a silent default
function gainFor(op: string, nonlinearity: unknown, a: number): number {
  switch (nonlinearity) {
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': return Math.sqrt(2 / (1 + a * a));
    case 'linear': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'selu': return 3 / 4;
  }
  throw new ArgumentError(`${op}: expected nonlinearity 'relu', 'leaky_relu', 'linear', 'sigmoid', 'tanh' or 'selu', got ${describe(nonlinearity)}`);
}
function fanFor(op: string, t: Tensor, mode: unknown): number {
  const [fi, fo] = fans(op, t);
  if (mode === undefined || mode === 'fanIn') return fi;
  if (mode === 'fanOut') return fo;
  throw new ArgumentError(`${op}: expected mode 'fanIn' or 'fanOut', got ${describe(mode)}`);
}
/**
 * He uniform: U(-b, b), b = gain * sqrt(3 / fan). PyTorch's Linear/Conv default is kaimingUniform_(w, {a: sqrt(5)}).
 * @example `kaimingUniform_(w, { nonlinearity: 'relu' })`
 */
export function kaimingUniform_(t: Tensor, o: { a?: number; mode?: 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity } = {}): Tensor {
  o = optionsArg('kaimingUniform_', o);
  const fan = fanFor('kaimingUniform_', t, o.mode);
  const b = gainFor('kaimingUniform_', o.nonlinearity ?? 'leaky_relu', o.a ?? 0) * Math.sqrt(3 / fan);
  return uniform_(t, -b, b);
}
/** @example `kaimingNormal_(w, { nonlinearity: 'relu' })` */
export function kaimingNormal_(t: Tensor, o: { a?: number; mode?: 'fanIn' | 'fanOut'; nonlinearity?: Nonlinearity } = {}): Tensor {
  o = optionsArg('kaimingNormal_', o);
  const fan = fanFor('kaimingNormal_', t, o.mode);
  return normal_(t, 0, gainFor('kaimingNormal_', o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan));
}
/** @internal fanIn of a weight, for PyTorch's default bias init U(-1/sqrt(fanIn), 1/sqrt(fanIn)) */
export function fanIn(t: Tensor): number {
  return fans('fanIn', t)[0];
}
