import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/create.js';
import { sgdStep } from '../ops/optim.js';
import { Optimizer, OptimizerState, ParamGroup, ParamGroupSpec, boolOption, gradOf, numberOption } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

/**
 * SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD's update), fused per group.
 * @example `new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 })`
 */
export class SGD extends Optimizer<SgdOptions> {
  constructor(params: Tensor[] | ParamGroupSpec<SgdOptions>[], o: Partial<SgdOptions> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, ...o });
  }
  protected validate(g: ParamGroup<SgdOptions>): void {
    numberOption('SGD', 'lr', g.lr, (x) => x >= 0 && x < Infinity, '>= 0');
    numberOption('SGD', 'momentum', g.momentum, (x) => x >= 0 && x < Infinity, '>= 0');
    numberOption('SGD', 'dampening', g.dampening, (x) => Number.isFinite(x), 'to be a finite number');
    numberOption('SGD', 'weightDecay', g.weightDecay, (x) => x >= 0 && x < Infinity, '>= 0');
    boolOption('SGD', 'nesterov', g.nesterov);
    boolOption('SGD', 'maximize', g.maximize);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new ArgumentError(`SGD: expected momentum > 0 and dampening 0 with nesterov, got momentum ${g.momentum}, dampening ${g.dampening}`);
    }
  }
  protected stateSpec(g: ParamGroup<SgdOptions>): { tensors: string[]; numbers: string[] } {
    return { tensors: g.momentum !== 0 ? ['momentumBuffer'] : [], numbers: [] };
  }
  step(): void {
    for (const g of this.paramGroups) {
      const first = { p: [] as Tensor[], g: [] as Tensor[], b: [] as Tensor[], s: [] as OptimizerState[] };
      const later = { p: [] as Tensor[], g: [] as Tensor[], b: [] as Tensor[], s: [] as OptimizerState[] };
      for (const p of g.params) {
        const grad = gradOf(p);
        if (!grad) continue;
        let s = this.stateOf(p);
        const isFirst = !s;
        // a new state is kept once the fused update has run (a failed first step stays a first step)
        if (!s) s = g.momentum !== 0 ? { momentumBuffer: zerosLike(p) } : {};
        const dst = isFirst ? first : later;
        dst.s.push(s);
        dst.p.push(p);
        dst.g.push(grad);
        if (g.momentum !== 0) dst.b.push(s['momentumBuffer'] as Tensor);
      }
      for (const [batch, isFirst] of [[first, true], [later, false]] as const) {
        sgdStep(batch.p, batch.g, batch.b, { lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov, firstStep: isFirst, maximize: g.maximize });
        if (isFirst) batch.p.forEach((p, i) => this.state.set(p, batch.s[i]!));
      }
    }
  }
}
