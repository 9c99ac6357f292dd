import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/create.js';
import { adamStep } from '../ops/optim.js';
import { Optimizer, OptimizerState, ParamGroup, ParamGroupSpec, boolOption, gradOf, numberOption } from './optimizer.js';
import { describe } from '../check.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

/**
 * Adam (Kingma & Ba 2015), fused: one native call per group updates every parameter. weightDecay is L2 (added to
 * the gradient), as in torch.optim.Adam.
 * @example `const opt = new optim.Adam(model.parameters(), { lr: 1e-3 })`
 */
export class Adam extends Optimizer<AdamOptions> {
  protected decoupled = false;
  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], o: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, ...o });
  }
  protected validate(g: ParamGroup<AdamOptions>): void {
    const name = this.constructor.name;
    numberOption(name, 'lr', g.lr, (x) => x >= 0 && x < Infinity, '>= 0');
    numberOption(name, 'eps', g.eps, (x) => x >= 0 && x < Infinity, '>= 0');
    const b = g.betas as unknown;
    if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && x >= 0 && x < 1)) {
      const got = Array.isArray(b) && b.every((x) => typeof x === 'number') ? `[${b.join(', ')}]` : describe(b);
      throw new ArgumentError(`${name}: expected betas to be a pair of numbers in [0, 1), got ${got}`);
    }
    numberOption(name, 'weightDecay', g.weightDecay, (x) => x >= 0 && x < Infinity, '>= 0');
    boolOption(name, 'amsgrad', g.amsgrad);
    boolOption(name, 'maximize', g.maximize);
  }
  protected stateSpec(g: ParamGroup<AdamOptions>): { tensors: string[]; numbers: string[] } {
    return { tensors: g.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'], numbers: ['step'] };
  }
  step(): void {
    for (const g of this.paramGroups) {
      // parameters are batched by step count and dtype: one fused call per batch (usually one per group)
      const batches = new Map<string, { p: Tensor[]; g: Tensor[]; m: Tensor[]; v: Tensor[]; vm: Tensor[]; s: OptimizerState[]; step: number }>();
      for (const p of g.params) {
        const grad = gradOf(p);
        if (!grad) continue;
        let s = this.stateOf(p);
        if (!s) {
          s = { step: 0, expAvg: zerosLike(p), expAvgSq: zerosLike(p) };
          if (g.amsgrad) s['maxExpAvgSq'] = zerosLike(p);
          this.state.set(p, s);
        }
        // the step count advances once the fused update has run (a failed step leaves it as it was)
        const step = (s['step'] as number) + 1;
        const key = `${step}:${p.dtype}`;
        let b = batches.get(key);
        if (!b) batches.set(key, (b = { p: [], g: [], m: [], v: [], vm: [], s: [], step }));
        b.s.push(s);
        b.p.push(p);
        b.g.push(grad);
        b.m.push(s['expAvg'] as Tensor);
        b.v.push(s['expAvgSq'] as Tensor);
        if (g.amsgrad) b.vm.push(s['maxExpAvgSq'] as Tensor);
      }
      for (const b of batches.values()) {
        adamStep(b.p, b.g, b.m, b.v, g.amsgrad ? b.vm : null, {
          lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay, step: b.step,
          amsgrad: g.amsgrad, decoupled: this.decoupled, maximize: g.maximize,
        });
        for (const s of b.s) s['step'] = b.step;
      }
    }
  }
}

/**
 * AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay (p *= 1 - lr*wd), default weightDecay 0.01.
 * @example `new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 })`
 */
export class AdamW extends Adam {
  constructor(params: Tensor[] | ParamGroupSpec<AdamOptions>[], o: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 0.01, ...o });
    this.decoupled = true;
  }
}
