import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { describe, optTensorArg, optionsArg, reductionArg, tensorArg } from '../check.js';
import { Tensor } from '../tensor/tensor.js';
import { arange } from '../tensor/create.js';
import { fmt } from '../tensor/shape.js';

/**
 * Negative log-likelihood over log-probabilities [N,C] and int32 labels [N]: -w[y] * logProbs[n, y], averaged over
 * the summed weights of the non-ignored samples ('mean'), summed, or per sample ('none'). Built from differentiable
 * ops on a one-hot mask; labels outside [0, C) other than ignoreIndex select nothing (crossEntropy checks them).
 * @example `nllLoss(x.logSoftmax(1), labels)`
 */
export function nllLoss(logProbs: Tensor, labels: Tensor, o?: { weight?: Tensor; ignoreIndex?: number; reduction?: 'mean' | 'sum' | 'none' }): Tensor {
  const op = 'nll_loss';
  tensorArg(op, 'input', logProbs);
  tensorArg(op, 'labels', labels);
  o = optionsArg(op, o);
  optTensorArg(op, 'weight', o.weight);
  const r = reductionArg(op, o.reduction);
  if (logProbs.ndim !== 2) throw new ShapeError(`nll_loss: expected input of rank 2 (N,C), got shape ${fmt(logProbs.shape)}`);
  if (labels.dtype !== 'int32') throw new DTypeError(`nll_loss: expected int32 labels, got ${labels.dtype}`);
  if (labels.ndim !== 1 || labels.shape[0] !== logProbs.shape[0]) {
    throw new ShapeError(`nll_loss: expected labels of shape [${logProbs.shape[0]}], got ${fmt(labels.shape)}`);
  }
  const ii = o.ignoreIndex ?? -100;
  if (!Number.isInteger(ii)) throw new ArgumentError(`${op}: expected ignoreIndex to be an integer, got ${describe(o.ignoreIndex)}`);
  const C = logProbs.shape[1]!;
  const valid = labels.ne(ii).cast(logProbs.dtype);
  let mask = labels.unsqueeze(1).eq(arange(C)).cast(logProbs.dtype).mul(valid.unsqueeze(1));
  if (o.weight) mask = mask.mul(o.weight);
  const per = logProbs.mul(mask).sum(1).neg();
  if (r === 'none') return per;
  if (r === 'sum') return per.sum();
  return per.sum().div(mask.sum());
}
