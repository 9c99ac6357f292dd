import { Module } from '../nn/module.js';
import { Embedding } from '../nn/layers.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { describe, isOptions } from '../check.js';
export { Optimizer } from './optimizer.js';
export type { OptimizerStateDict, ParamGroupSpec } from './optimizer.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { SGD } from './sgd.js';
export type { SgdOptions } from './sgd.js';
export { RMSprop, Adagrad } from './others.js';
export * as lrScheduler from './lr_scheduler.js';
export { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR, ReduceLROnPlateau, SequentialLR, warmupCosine } from './lr_scheduler.js';


// a parameter that is not decayed: a bias (a state name `bias`, `*_bias` or `bias_*`, as in_proj_bias and
// bias_ih_l0), a weight of a normalisation layer (a class whose name has Norm) or of an embedding, or a tensor of
// fewer than 2 dims (gains and offsets of custom layers)
function noDecay(m: Module, name: string, p: Tensor): boolean {
  const cls = m.constructor.name;
  return /(^|_)bias($|_)/.test(name) || m instanceof Embedding || /Norm|Embedding/.test(cls) || p.ndim < 2;
}

/**
 * The GPT recipe's AdamW parameter groups: [{ params: decayed, weightDecay }, { params: the rest, weightDecay: 0 }],
 * both always present (in this order, so a checkpoint's groups line up). Not decayed: biases (state names `bias`,
 * `in_proj_bias`, `bias_ih_l0`), the weights of normalisation layers (LayerNorm, BatchNorm, RMSNorm, ...: a class
 * whose name has Norm), embeddings (nn.Embedding, or a class whose name has Embedding), and any other parameter of
 * fewer than 2 dims; decayed: the other weights (Linear, Conv2d, attention projections). A weight tied between an
 * embedding and a linear layer counts as the embedding's (not decayed). Parameters with requiresGrad false are left
 * out, and each parameter is in one group, in namedParameters() order.
 * @example `const opt = new optim.AdamW(optim.weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 3e-4, betas: [0.9, 0.95] })`
 */
export function weightDecayGroups(model: Module, o: { weightDecay: number }): [{ params: Tensor[]; weightDecay: number }, { params: Tensor[]; weightDecay: number }] {
  const op = 'weightDecayGroups';
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected an nn.Module, got ${describe(model)}`);
  if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { weightDecay }, got ${describe(o)}`);
  const wd = o.weightDecay as unknown;
  if (typeof wd !== 'number' || !(wd >= 0 && wd < Infinity)) throw new ArgumentError(`${op}: expected weightDecay >= 0, got ${typeof wd === 'number' ? wd : describe(wd)}`);
  const exempt = new Set<Tensor>();
  for (const [, m] of model.namedModules()) {
    // the module's own parameters: those of its namedParameters() without a child's prefix
    for (const [name, p] of m.namedParameters()) if (!name.includes('.') && noDecay(m, name, p)) exempt.add(p);
  }
  const decay: Tensor[] = [], rest: Tensor[] = [];
  for (const [, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    (exempt.has(p) ? rest : decay).push(p);
  }
  return [{ params: decay, weightDecay: wd }, { params: rest, weightDecay: 0 }];
}
