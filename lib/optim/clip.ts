import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/engine.js';
import { describe, tensorsArg } from '../check.js';

/**
 * Scales all gradients so that their joint norm is at most maxNorm; returns the norm before clipping (a tensor,
 * read it with `await n.item()`). normType 2 or Infinity.
 * @example `nn.utils.clipGradNorm(model.parameters(), 1.0)`
 */
export function clipGradNorm(params: Tensor[], maxNorm: number, normType: 2 | number = 2): Tensor {
  tensorsArg('clipGradNorm', 'params', params);
  if (!(maxNorm > 0)) throw new ArgumentError(`clipGradNorm: expected maxNorm > 0, got ${maxNorm}`);
  return noGrad(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => !!g);
    if (!grads.length) throw new ArgumentError('clipGradNorm: expected parameters with gradients, got none');
    let total: Tensor;
    if (normType === Infinity) {
      total = grads.map((g) => g.abs().max()).reduce((a, b) => a.maximum(b));
    } else {
      total = grads.map((g) => g.abs().pow(normType).sum().cast('float64')).reduce((a, b) => a.add(b)).pow(1 / normType);
    }
    const scale = total.add(1e-6).pow(-1).mul(maxNorm).clamp(-Infinity, 1);
    for (const p of params) if (p.grad) p.grad = p.grad.mul(scale.cast(p.grad.dtype));
    return total;
  });
}
/** Clamps every gradient element to [-clipValue, clipValue]. @example `nn.utils.clipGradValue(model.parameters(), 0.5)` */
export function clipGradValue(params: Tensor[], clipValue: number): void {
  tensorsArg('clipGradValue', 'params', params);
  if (typeof clipValue !== 'number' || !(clipValue >= 0)) throw new ArgumentError(`clipGradValue: expected clipValue >= 0, got ${describe(clipValue)}`);
  noGrad(() => {
    for (const p of params) if (p.grad) p.grad = p.grad.clamp(-clipValue, clipValue);
  });
}
