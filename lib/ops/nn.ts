// Fused neural-network kernels: softmax cross-entropy, batch norm, dropout.
import { DTypeError, ShapeError, ArgumentError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { fmt } from '../tensor/shape.js';
import { nextRng } from '../tensor/random.js';
import { needsGrad, record } from '../autograd/engine.js';
import { describe, optTensorArg, optionsArg, reductionArg, tensorArg } from '../check.js';

/**
 * Softmax cross-entropy between logits [N,C] and int32 class labels [N] (PyTorch's cross_entropy: ignoreIndex,
 * labelSmoothing, class weights; 'mean' divides by the summed weights of the non-ignored samples).
 * @example `const loss = crossEntropy(model.forward(x), y); loss.backward();`
 */
export function crossEntropy(logits: Tensor, labels: Tensor, o?: CrossEntropyOptions): Tensor {
  o = optionsArg('cross_entropy', o);
  const [per, lse, wy] = crossEntropyForward(logits, labels, o);
  const reduction = reductionArg('cross_entropy', o.reduction);
  let out: Tensor;
  let denom: Tensor | null = null;
  if (reduction === 'none') out = per;
  else if (reduction === 'sum') out = per.sum();
  else {
    denom = wy.sum();
    out = per.sum().div(denom);
  }
  if (needsGrad(logits)) {
    record(out, [logits], 'cross_entropy', (g) => {
      const N = logits.shape[0]!;
      const dl = reduction === 'none' ? g : (denom ? g.div(denom) : g).expand([N]).contiguous();
      return [crossEntropyBackward(logits, labels, lse, dl, o)];
    }, [logits]);
  }
  return out;
}

/**
 * Batch normalisation over dim 1 of [N,C,...]: batch statistics in training (updating the running ones in place),
 * running statistics in eval.
 * @example `batchNorm(x, runningMean, runningVar, weight, bias, { training: true })`
 */
export function batchNorm(x: Tensor, runningMean: Tensor, runningVar: Tensor, weight: Tensor, bias: Tensor, o: BatchNormOptions): Tensor {
  o = bnOptions('batch_norm', o);
  const [y, mean, invstd] = batchNormForward(x, weight, bias, runningMean, runningVar, o);
  if (needsGrad(x, weight, bias)) {
    record(y, [x, weight, bias], 'batch_norm', (g) => batchNormBackward(g, x, weight, mean, invstd, o.training), [x, weight]);
  }
  return y;
}

/**
 * Dropout: in training, zeroes each element with probability p and scales the rest by 1/(1-p); identity otherwise.
 * @example `dropout(x, { p: 0.4, training: true })`
 */
export function dropout(x: Tensor, o?: { p?: number; training?: boolean }): Tensor {
  tensorArg('dropout', 'input', x);
  o = optionsArg('dropout', o);
  const p = o.p ?? 0.5;
  if (!(o.training ?? true) || p === 0) return x;
  const [y, mask] = dropoutForward(x, p);
  if (needsGrad(x)) record(y, [x], 'dropout', (g) => [g.mul(mask.cast(g.dtype)).mul(p < 1 ? 1 / (1 - p) : 0)], [mask]);
  return y;
}

export interface CrossEntropyOptions {
  reduction?: 'mean' | 'sum' | 'none';
  ignoreIndex?: number;
  labelSmoothing?: number;
  weight?: Tensor;
}

function ceCheck(logits: Tensor, labels: Tensor, o: CrossEntropyOptions) {
  const op = 'cross_entropy';
  tensorArg(op, 'logits', logits);
  tensorArg(op, 'labels', labels);
  optTensorArg(op, 'weight', o.weight);
  if (logits.ndim !== 2) throw new ShapeError(`${op}: expected logits of rank 2 (N,C), got shape ${fmt(logits.shape)}`);
  if (!isFloat(logits.dtype)) throw new DTypeError(`${op}: expected float32 or float64 logits, got ${logits.dtype}`);
  if (labels.dtype !== 'int32') throw new DTypeError(`${op}: expected int32 labels, got ${labels.dtype}`);
  if (labels.ndim !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new ShapeError(`${op}: expected labels of shape [${logits.shape[0]}], got ${fmt(labels.shape)}`);
  }
  const ii = o.ignoreIndex ?? -100;
  if (!Number.isInteger(ii)) throw new ArgumentError(`${op}: expected ignoreIndex to be an integer, got ${describe(o.ignoreIndex)}`);
  const ls = o.labelSmoothing ?? 0;
  if (!(ls >= 0 && ls <= 1)) throw new ArgumentError(`${op}: expected labelSmoothing in [0, 1], got ${ls}`);
  if (o.weight && (o.weight.ndim !== 1 || o.weight.shape[0] !== logits.shape[1] || o.weight.dtype !== logits.dtype)) {
    throw new ShapeError(`${op}: expected weight of shape [${logits.shape[1]}] and dtype ${logits.dtype}, got ${fmt(o.weight.shape)} ${o.weight.dtype}`);
  }
  return { ip: [ii], fp: [ls] };
}

/**
 * Per-sample softmax cross-entropy (unreduced), the row log-sum-exp saved for backward, and each sample's weight
 * (the label's class weight or 1; 0 where ignored: the denominator of the 'mean' reduction).
 * Labels out of range (other than ignoreIndex) raise an IndexError at the next read.
 * @internal
 */
export function crossEntropyForward(logits: Tensor, labels: Tensor, o?: CrossEntropyOptions): [Tensor, Tensor, Tensor] {
  o = optionsArg('cross_entropy', o);
  const { ip, fp } = ceCheck(logits, labels, o);
  const x = logits.isContiguous() ? logits : logits.contiguous();
  try {
    const N = logits.shape[0]!;
    const ins = o.weight ? [x, labels, o.weight] : [x, labels];
    const v = { shape: [N], dtype: x.dtype };
    const [loss, lse, wy] = launch('cross_entropy', x.dtype, ins, [v, v, v], ip, fp);
    return [loss!, lse!, wy!];
  } finally {
    if (x !== logits) x.dispose();
  }
}
/** @internal gradient of the per-sample losses with respect to the logits, given dloss [N] */
export function crossEntropyBackward(logits: Tensor, labels: Tensor, lse: Tensor, dloss: Tensor, o?: CrossEntropyOptions): Tensor {
  const op = 'cross_entropy_bwd';
  o = optionsArg(op, o);
  const { ip, fp } = ceCheck(logits, labels, o);
  const N = logits.shape[0]!;
  for (const [name, t] of [['lse', lse], ['dloss', dloss]] as const) {
    tensorArg(op, name, t);
    if (t.ndim !== 1 || t.shape[0] !== N) throw new ShapeError(`${op}: expected ${name} of shape [${N}], got ${fmt(t.shape)}`);
    if (t.dtype !== logits.dtype) throw new DTypeError(`${op}: expected ${name} of dtype ${logits.dtype}, got ${t.dtype}`);
  }
  const x = logits.isContiguous() ? logits : logits.contiguous();
  const d = dloss.isContiguous() ? dloss : dloss.contiguous();
  try {
    const ins = [x, labels, lse, d];
    if (o.weight) ins.push(o.weight);
    return launch('cross_entropy_bwd', x.dtype, ins, [{ shape: x.shape, dtype: x.dtype }], ip, fp)[0]!;
  } finally {
    if (x !== logits) x.dispose();
    if (d !== dloss) d.dispose();
  }
}

export interface BatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
}

function bnOptions(op: string, o: BatchNormOptions): BatchNormOptions {
  o = optionsArg(op, o);
  if (typeof o.training !== 'boolean') throw new ArgumentError(`${op}: expected options with training: true or false, got ${describe(o.training)}`);
  if (o.momentum !== undefined && !(typeof o.momentum === 'number' && o.momentum >= 0 && o.momentum <= 1)) {
    throw new ArgumentError(`${op}: expected momentum in [0, 1], got ${describe(o.momentum)}`);
  }
  if (o.eps !== undefined && !(typeof o.eps === 'number' && o.eps > 0 && o.eps < Infinity)) {
    throw new ArgumentError(`${op}: expected eps > 0, got ${describe(o.eps)}`);
  }
  return o;
}
// the per-channel tensors of a batch norm over x: [C], x's dtype
function bnParams(op: string, x: Tensor, params: readonly (readonly [string, unknown])[]): void {
  if (x.ndim < 2) throw new ShapeError(`${op}: expected input of rank >= 2 (N,C,...), got shape ${fmt(x.shape)}`);
  const C = x.shape[1]!;
  for (const [n, v] of params) {
    const t = tensorArg(op, n, v);
    if (t.ndim !== 1 || t.shape[0] !== C) throw new ShapeError(`${op}: expected ${n} of shape [${C}], got ${fmt(t.shape)}`);
    if (t.dtype !== x.dtype) throw new DTypeError(`${op}: expected ${n} of dtype ${x.dtype}, got ${t.dtype}`);
  }
}

function bnView(op: string, x: Tensor): Tensor {
  if (x.ndim < 2) throw new ShapeError(`${op}: expected input of rank >= 2 (N,C,...), got shape ${fmt(x.shape)}`);
  const S = x.shape.slice(2).reduce((a, b) => a * b, 1);
  return x.reshape([x.shape[0]!, x.shape[1]!, S]);
}

/**
 * Batch norm forward. Returns [y, saveMean, saveInvstd]; in training mode runningMean/runningVar are updated in place.
 * @internal
 */
export function batchNormForward(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, o: BatchNormOptions): [Tensor, Tensor, Tensor] {
  const op = 'batch_norm';
  o = bnOptions(op, o);
  tensorArg(op, 'input', x);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  bnParams(op, x, [['weight', gamma], ['bias', beta], ['runningMean', runningMean], ['runningVar', runningVar]]);
  const C = x.shape[1]!;
  if (o.training && x.numel / Math.max(C, 1) <= 1) {
    throw new ShapeError(`${op}: expected more than 1 value per channel when training, got input shape ${fmt(x.shape)}`);
  }
  const v = bnView(op, x);
  try {
    const [y, m, s] = launch(op, x.dtype, [v, gamma, beta, runningMean, runningVar],
      [{ shape: x.shape, dtype: x.dtype, kernelShape: v.shape }, { shape: [C], dtype: x.dtype }, { shape: [C], dtype: x.dtype }, runningMean, runningVar],
      [o.training ? 1 : 0], [o.momentum ?? 0.1, o.eps ?? 1e-5]);
    return [y!, m!, s!];
  } finally {
    v.dispose();
  }
}
/** @internal returns [dx, dgamma, dbeta] */
export function batchNormBackward(dy: Tensor, x: Tensor, gamma: Tensor, saveMean: Tensor, saveInvstd: Tensor, training: boolean): [Tensor, Tensor, Tensor] {
  const op = 'batch_norm_bwd';
  tensorArg(op, 'dy', dy);
  tensorArg(op, 'input', x);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  if (dy.ndim !== x.ndim || dy.shape.some((d, i) => d !== x.shape[i])) throw new ShapeError(`${op}: expected dy of shape ${fmt(x.shape)}, got ${fmt(dy.shape)}`);
  if (dy.dtype !== x.dtype) throw new DTypeError(`${op}: expected dy of dtype ${x.dtype}, got ${dy.dtype}`);
  bnParams(op, x, [['weight', gamma], ['saveMean', saveMean], ['saveInvstd', saveInvstd]]);
  const v = bnView(op, x), d = bnView(op, dy);
  const C = x.shape[1]!;
  try {
    const [dx, dg, db] = launch(op, x.dtype, [d, v, gamma, saveMean, saveInvstd],
      [{ shape: x.shape, dtype: x.dtype, kernelShape: v.shape }, { shape: [C], dtype: x.dtype }, { shape: [C], dtype: x.dtype }], [training ? 1 : 0]);
    return [dx!, dg!, db!];
  } finally {
    v.dispose();
    d.dispose();
  }
}

/** Dropout with the seeded generator: returns [y, mask (uint8)]; y = x * mask / (1 - p). @internal */
export function dropoutForward(x: Tensor, p: number): [Tensor, Tensor] {
  tensorArg('dropout', 'input', x);
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout: expected p in [0, 1], got ${p}`);
  if (!isFloat(x.dtype)) throw new DTypeError(`dropout: expected a float32 or float64 input, got ${x.dtype}`);
  const xc = x.isContiguous() ? x : x.contiguous();
  try {
    const [y, m] = launch('dropout', x.dtype, [xc], [{ shape: x.shape, dtype: x.dtype }, { shape: x.shape, dtype: 'uint8' }], nextRng(), [p]);
    return [y!, m!];
  } finally {
    if (xc !== x) xc.dispose();
  }
}
