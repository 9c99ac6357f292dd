import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zerosLike } from '../tensor/create.js';
import { sgdStep } from '../ops/optim.js';
import { Optimizer, ParamGroup, ParamGroupSpec, gradOf } from './optimizer.js';

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
    if (!(g.lr >= 0)) throw new ArgumentError(`SGD: expected lr >= 0, got ${g.lr}`);
    if (!(g.momentum >= 0)) throw new ArgumentError(`SGD: expected momentum >= 0, got ${g.momentum}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new ArgumentError(`SGD: expected momentum > 0 and dampening 0 with nesterov, got momentum ${g.momentum}, dampening ${g.dampening}`);
    }
  }
  step(): void {
    for (const g of this.paramGroups) {
      const first = { p: [] as Tensor[], g: [] as Tensor[], b: [] as Tensor[] };
      const later = { p: [] as Tensor[], g: [] as Tensor[], b: [] as Tensor[] };
      for (const p of g.params) {
        const grad = gradOf(p);
        if (!grad) continue;
        let s = this.state.get(p);
        const isFirst = !s;
        if (!s) this.state.set(p, (s = g.momentum !== 0 ? { momentumBuffer: zerosLike(p) } : {}));
        const dst = isFirst ? first : later;
        dst.p.push(p);
        dst.g.push(grad);
        if (g.momentum !== 0) dst.b.push(s['momentumBuffer'] as Tensor);
      }
      for (const [batch, isFirst] of [[first, true], [later, false]] as const) {
        sgdStep(batch.p, batch.g, batch.b, { lr: g.lr, momentum: g.momentum, dampening: g.dampening, weightDecay: g.weightDecay, nesterov: g.nesterov, firstStep: isFirst, maximize: g.maximize });
      }
    }
  }
}
