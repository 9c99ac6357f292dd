/**
 * nn.functional (also exported as F): stateless layers and losses, all differentiable.
 * @example `const y = F.relu(F.conv2d(x, w, b, { padding: 1 }))`
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { DType, isFloat } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { matmul } from '../ops/matmul.js';
import { gelu as geluOp, reluBackward } from '../ops/elementwise.js';
import { checkShapeArg, fmt } from '../tensor/shape.js';
export { conv2d, convTranspose2d } from '../ops/conv.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../ops/pool.js';
export { crossEntropy, batchNorm, dropout } from '../ops/nn.js';
export { layerNorm } from '../ops/layer_norm.js';
export { scaledDotProductAttention } from '../ops/attention.js';
export type { AttentionOptions } from '../ops/attention.js';
import { maxPool2dWithIndices } from '../ops/pool.js';
import type { Pool2dOptions } from '../ops/pool.js';
import { indexSelect } from '../ops/index.js';
import { noGrad, needsGrad, record } from '../autograd/engine.js';
import { describe, optTensorArg, optionsArg, reductionArg, tensorArg } from '../check.js';
export { indexSelect, cat, stack } from '../ops/index.js';

/**
 * Rows of `weight` [num, dim] picked by int32 indices of any shape: the result has shape [...idx.shape, dim].
 * paddingIdx: that row receives no gradient. @example `embedding(tokens, table)`
 */
export function embedding(idx: Tensor, weight: Tensor, paddingIdx?: number): Tensor {
  tensorArg('embedding', 'indices', idx);
  tensorArg('embedding', 'weight', weight);
  if (weight.ndim !== 2) throw new ShapeError(`embedding: expected a weight of rank 2 (num,dim), got shape ${fmt(weight.shape)}`);
  const flat = idx.reshape([idx.numel]);
  let rows = indexSelect(weight, 0, flat);
  if (paddingIdx !== undefined && needsGrad(weight)) {
    // route the gradient through a copy whose backward zeroes the padding row
    const raw = rows;
    rows = noGrad(() => raw.clone());
    record(rows, [raw], 'embedding', (g) => {
      const keep = flat.ne(paddingIdx).cast(g.dtype).unsqueeze(1);
      return [g.mul(keep)];
    });
  }
  return rows.reshape([...idx.shape, weight.shape[1]!]);
}

/** y = x W^T + b, with W [out, in] (PyTorch's layout). The bias add is fused into the GEMM. @example `linear(x, w, b)` */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, o?: { relu?: boolean }): Tensor {
  tensorArg('linear', 'input', x);
  tensorArg('linear', 'weight', weight);
  optTensorArg('linear', 'bias', bias);
  o = optionsArg('linear', o);
  if (weight.ndim !== 2) throw new ShapeError(`linear: expected weight of rank 2 (out,in), got shape ${fmt(weight.shape)}`);
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: expected input with last dim ${weight.shape[1]}, got shape ${fmt(x.shape)}`);
  }
  const relu = !!o.relu;
  const y = noGrad(() => matmul(x, weight.t(), bias ? { bias, relu } : { relu }));
  if (needsGrad(x, weight, bias)) {
    // its own backward: the weight's gradient g^T x comes out in W's layout, with no transposed copy of it
    const [out, inF] = weight.shape as [number, number];
    record(y, [x, weight, bias], 'linear', (g0) => {
      const g = (relu ? reluBackward(g0, y) : g0).reshape([-1, out]);
      return [
        x.requiresGrad ? matmul(g, weight).reshape(x.shape) : null,
        weight.requiresGrad ? matmul(g.t(), x.reshape([-1, inF])) : null,
        bias?.requiresGrad ? g.sum(0) : null,
      ];
    }, [x, weight, y]);
  }
  return y;
}
/** max(x, 0). @example `F.relu(x)` */
export const relu = (x: Tensor) => tensorArg('relu', 'input', x).relu();
/** @example `F.leakyRelu(x, 0.2)` */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => tensorArg('leaky_relu', 'input', x).leakyRelu(negativeSlope);
/** @example `F.elu(x)` */
export const elu = (x: Tensor, alpha = 1) => tensorArg('elu', 'input', x).elu(alpha);
/**
 * GELU: exact (erf-based, the default) or PyTorch's tanh approximation with `{ approximate: 'tanh' }`
 * (0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))); fused forward and backward kernels either way.
 * @example `F.gelu(x); F.gelu(x, { approximate: 'tanh' })`
 */
export const gelu = (x: Tensor, o?: { approximate?: 'none' | 'tanh' }) =>
  geluOp(tensorArg('gelu', 'input', x), optionsArg('gelu', o).approximate ?? 'none');
/** @example `F.silu(x)` */
export const silu = (x: Tensor) => tensorArg('silu', 'input', x).silu();
/** @example `F.sigmoid(x)` */
export const sigmoid = (x: Tensor) => tensorArg('sigmoid', 'input', x).sigmoid();
/** @example `F.tanh(x)` */
export const tanh = (x: Tensor) => tensorArg('tanh', 'input', x).tanh();
/** @example `F.softplus(x)` */
export const softplus = (x: Tensor) => tensorArg('softplus', 'input', x).softplus();
/** @example `F.softmax(logits, 1)` */
export const softmax = (x: Tensor, axis = -1) => tensorArg('softmax', 'input', x).softmax(axis);
/** @example `F.logSoftmax(logits, 1)` */
export const logSoftmax = (x: Tensor, axis = -1) => tensorArg('log_softmax', 'input', x).logSoftmax(axis);
/** Max pooling returning the argmax indices too. @example `const [y, idx] = maxPool2dWithIndices(x, { kernelSize: 2 })` */
export function maxPool2dIndices(x: Tensor, o: Pool2dOptions): [Tensor, Tensor] {
  return maxPool2dWithIndices(x, o);
}

// the machine epsilon of a float dtype (torch.finfo(dtype).eps): RMSNorm's default eps
function machineEps(dtype: DType): number {
  return dtype === 'float32' ? 2 ** -23 : Number.EPSILON;
}

/**
 * Root-mean-square normalisation over the trailing `normalizedShape` dims (PyTorch 2.4's F.rms_norm):
 * y = x / sqrt(mean(x^2) + eps) * weight. eps defaults (undefined or null) to the machine epsilon of x's dtype
 * (2^-23 for float32, 2^-52 for float64), as PyTorch's does; weight, when given, has shape normalizedShape.
 * Composed of differentiable ops, so it runs on every device and its gradient comes from theirs.
 * @example `rmsNorm(x, [512], w)`
 */
export function rmsNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, eps?: number | null): Tensor {
  const op = 'rms_norm';
  tensorArg(op, 'input', x);
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
  checkShapeArg(op, ns);
  optTensorArg(op, 'weight', weight);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  const k = ns.length;
  if (k === 0 || k > x.ndim || ns.some((d, i) => d !== x.shape[x.ndim - k + i])) {
    throw new ShapeError(`${op}: expected input ending in ${fmt(ns)}, got shape ${fmt(x.shape)}`);
  }
  if (weight && (weight.ndim !== k || weight.shape.some((d, i) => d !== ns[i]))) {
    throw new ShapeError(`${op}: expected weight of shape ${fmt(ns)} (normalizedShape), got ${fmt(weight.shape)}`);
  }
  const e = eps ?? machineEps(x.dtype);
  if (typeof e !== 'number' || !(e >= 0 && e < Infinity)) throw new ArgumentError(`${op}: expected eps >= 0 (or null: the dtype's machine epsilon), got ${describe(e)}`);
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const y = x.mul(x.mul(x).mean(axes, true).add(e).rsqrt());
  return weight ? y.mul(weight) : y;
}

type Reduction = 'mean' | 'sum' | 'none';
function applyReduction(op: string, t: Tensor, r: Reduction | undefined): Tensor {
  const red = reductionArg(op, r);
  return red === 'mean' ? t.mean() : red === 'sum' ? t.sum() : t;
}
function sameShape(op: string, a: Tensor, b: Tensor): void {
  tensorArg(op, 'input', a);
  tensorArg(op, 'target', b);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(`${op}: expected input and target of one shape, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
}
/** Mean squared error. @example `mseLoss(pred, target)` */
export function mseLoss(input: Tensor, target: Tensor, o?: { reduction?: Reduction }): Tensor {
  o = optionsArg('mse_loss', o);
  sameShape('mse_loss', input, target);
  const d = input.sub(target);
  return applyReduction('mse_loss', d.mul(d), o.reduction);
}
/** Mean absolute error. @example `l1Loss(pred, target)` */
export function l1Loss(input: Tensor, target: Tensor, o?: { reduction?: Reduction }): Tensor {
  o = optionsArg('l1_loss', o);
  sameShape('l1_loss', input, target);
  return applyReduction('l1_loss', input.sub(target).abs(), o.reduction);
}
export { nllLoss } from './nll.js';
/** Binary cross-entropy on probabilities (log clamped at -100, as PyTorch). @example `binaryCrossEntropy(p, y)` */
export function binaryCrossEntropy(input: Tensor, target: Tensor, o?: { reduction?: Reduction; weight?: Tensor }): Tensor {
  o = optionsArg('binary_cross_entropy', o);
  optTensorArg('binary_cross_entropy', 'weight', o.weight);
  sameShape('binary_cross_entropy', input, target);
  if (input.dtype !== 'float32' && input.dtype !== 'float64') throw new DTypeError(`binary_cross_entropy: expected float input, got ${input.dtype}`);
  const lp = input.log().clamp(-100, Infinity), lq = input.neg().add(1).log().clamp(-100, Infinity);
  let l = target.mul(lp).add(target.neg().add(1).mul(lq)).neg();
  if (o.weight) l = l.mul(o.weight);
  return applyReduction('binary_cross_entropy', l, o.reduction);
}
/**
 * Binary cross-entropy on logits, stable form max(x,0) - x*y + log(1 + exp(-|x|)); posWeight scales positives.
 * @example `binaryCrossEntropyWithLogits(logits, y)`
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, o?: { reduction?: Reduction; weight?: Tensor; posWeight?: Tensor }): Tensor {
  o = optionsArg('binary_cross_entropy_with_logits', o);
  optTensorArg('binary_cross_entropy_with_logits', 'weight', o.weight);
  optTensorArg('binary_cross_entropy_with_logits', 'posWeight', o.posWeight);
  sameShape('binary_cross_entropy_with_logits', input, target);
  // log(1 + exp(-x)) = softplus(-x); with posWeight p: (1 - y) * x + (1 + (p - 1) * y) * softplus(-x)
  const sp = input.neg().softplus();
  let l: Tensor;
  if (o.posWeight) {
    const c = o.posWeight.sub(1).mul(target).add(1);
    l = target.neg().add(1).mul(input).add(c.mul(sp));
  } else {
    l = target.neg().add(1).mul(input).add(sp);
  }
  if (o.weight) l = l.mul(o.weight);
  return applyReduction('binary_cross_entropy_with_logits', l, o.reduction);
}
