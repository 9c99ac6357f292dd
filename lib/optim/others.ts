// RMSprop and Adagrad, composed from tensor ops (noGrad) and written back in place.
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike, fullLike } from '../tensor/create.js';
import { copyInto } from '../ops/view.js';
import { noGrad } from '../autograd/engine.js';
import { Optimizer, OptimizerState, ParamGroup, ParamGroupSpec, boolOption, gradOf, numberOption } from './optimizer.js';

/**
 * Calls update(group, param, grad, state) for every parameter with a gradient, without recording the graph: the
 * state is created by init on first use, its step counted, and L2 weight decay folded into the gradient.
 */
function eachParam<O extends { lr: number; weightDecay: number }>(opt: Optimizer<O>, init: (g: ParamGroup<O>, p: Tensor) => OptimizerState,
  update: (g: ParamGroup<O>, p: Tensor, grad: Tensor, s: OptimizerState) => void): void {
  noGrad(() => {
    for (const g of opt.paramGroups) {
      for (const p of g.params) {
        let grad = gradOf(p);
        if (!grad) continue;
        let s = opt.stateOf(p);
        if (!s) opt.state.set(p, (s = { step: 0, ...init(g, p) }));
        s['step'] = (s['step'] as number) + 1;
        if (g.weightDecay) grad = grad.add(p.mul(g.weightDecay));
        update(g, p, grad, s);
      }
    }
  });
}

export interface RmspropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}
/** RMSprop (torch.optim.RMSprop's update). @example `new optim.RMSprop(model.parameters(), { lr: 1e-2 })` */
export class RMSprop extends Optimizer<RmspropOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<RmspropOptions>[], o: Partial<RmspropOptions> = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...o });
  }
  protected validate(g: ParamGroup<RmspropOptions>): void {
    if (!(g.lr >= 0) || !(g.alpha >= 0) || !(g.eps >= 0)) throw new ArgumentError(`RMSprop: expected lr, alpha, eps >= 0, got ${g.lr}, ${g.alpha}, ${g.eps}`);
    for (const k of ['lr', 'alpha', 'eps', 'weightDecay', 'momentum'] as const) numberOption('RMSprop', k, g[k], (x) => x >= 0 && x < Infinity, '>= 0');
    boolOption('RMSprop', 'centered', g.centered);
  }
  protected stateSpec(g: ParamGroup<RmspropOptions>): { tensors: string[]; numbers: string[] } {
    return { tensors: ['squareAvg', ...(g.momentum ? ['momentumBuffer'] : []), ...(g.centered ? ['gradAvg'] : [])], numbers: ['step'] };
  }
  step(): void {
    const init = (g: ParamGroup<RmspropOptions>, p: Tensor): OptimizerState => ({
      squareAvg: zerosLike(p), ...(g.momentum ? { momentumBuffer: zerosLike(p) } : {}), ...(g.centered ? { gradAvg: zerosLike(p) } : {}),
    });
    eachParam(this, init, (g, p, grad, s) => {
      const sq = (s['squareAvg'] as Tensor).mul(g.alpha).add(grad.mul(grad).mul(1 - g.alpha));
      copyInto(s['squareAvg'] as Tensor, sq);
      let avg = sq;
      if (g.centered) {
        const ga = (s['gradAvg'] as Tensor).mul(g.alpha).add(grad.mul(1 - g.alpha));
        copyInto(s['gradAvg'] as Tensor, ga);
        avg = sq.sub(ga.mul(ga));
      }
      const denom = avg.sqrt().add(g.eps);
      if (g.momentum > 0) {
        const buf = (s['momentumBuffer'] as Tensor).mul(g.momentum).add(grad.div(denom));
        copyInto(s['momentumBuffer'] as Tensor, buf);
        copyInto(p, p.sub(buf.mul(g.lr)));
      } else {
        copyInto(p, p.sub(grad.div(denom).mul(g.lr)));
      }
    });
  }
}

export interface AdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}
/** Adagrad (torch.optim.Adagrad's update). @example `new optim.Adagrad(model.parameters(), { lr: 1e-2 })` */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<AdagradOptions>[], o: Partial<AdagradOptions> = {}) {
    super(params, { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, ...o });
  }
  protected validate(g: ParamGroup<AdagradOptions>): void {
    if (!(g.lr >= 0) || !(g.eps >= 0)) throw new ArgumentError(`Adagrad: expected lr, eps >= 0, got ${g.lr}, ${g.eps}`);
    for (const k of ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps'] as const) numberOption('Adagrad', k, g[k], (x) => x >= 0 && x < Infinity, '>= 0');
  }
  protected stateSpec(): { tensors: string[]; numbers: string[] } {
    return { tensors: ['sum'], numbers: ['step'] };
  }
  step(): void {
    eachParam(this, (g, p) => ({ sum: fullLike(p, g.initialAccumulatorValue) }), (g, p, grad, s) => {
      const clr = g.lr / (1 + ((s['step'] as number) - 1) * g.lrDecay);
      const sum = (s['sum'] as Tensor).add(grad.mul(grad));
      copyInto(s['sum'] as Tensor, sum);
      copyInto(p, p.sub(grad.div(sum.sqrt().add(g.eps)).mul(clr)));
    });
  }
}
