/** Optimizer base: parameter groups with their own options, per-parameter state, stateDict/loadStateDict. */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { describe, optionsArg } from '../check.js';

export type ParamGroupSpec<O> = { params: Tensor[] } & Partial<O>;
export type ParamGroup<O> = { params: Tensor[] } & O;
export type OptimizerState = Record<string, Tensor | number | boolean>;

/** The serialisable state of an optimizer: tensors by parameter index, options by group. */
export interface OptimizerStateDict {
  state: Record<number, OptimizerState>;
  paramGroups: Record<string, unknown>[];
}

/** Base class of the optimizers: parameter groups, zeroGrad(), stateDict()/loadStateDict(); subclasses implement step(). @example `class Sign extends Optimizer<{ lr: number }> { step() { ... } }` */
export abstract class Optimizer<O extends { lr: number }> {
  paramGroups: ParamGroup<O>[];
  state = new Map<Tensor, OptimizerState>();

  constructor(params: Tensor[] | ParamGroupSpec<O>[], readonly defaults: O) {
    const name = this.constructor.name;
    if (!Array.isArray(params)) throw new ArgumentError(`${name}: expected an array of parameters or parameter groups, got ${describe(params)}`);
    const specs: ParamGroupSpec<O>[] = params.length && params[0] instanceof Tensor ? [{ params: params as Tensor[] } as ParamGroupSpec<O>] : (params as ParamGroupSpec<O>[]);
    specs.forEach((g, i) => {
      if (g === null || typeof g !== 'object' || !Array.isArray(g.params)) {
        throw new ArgumentError(`${name}: expected parameter group ${i} to be { params: Tensor[], ... }, got ${describe(g)}`);
      }
    });
    optionsArg(name, defaults);
    if (!specs.length || specs.every((g) => !g.params.length)) throw new ArgumentError(`${name}: expected a non-empty list of parameters, got none`);
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((g) => {
      for (const p of g.params) {
        if (!(p instanceof Tensor)) throw new ArgumentError(`${name}: expected tensors in params, got ${describe(p)}`);
        if (seen.has(p)) throw new ArgumentError(`${this.constructor.name}: expected each parameter in one group only, got one twice`);
        seen.add(p);
      }
      return { ...defaults, ...g } as ParamGroup<O>;
    });
    for (const g of this.paramGroups) this.validate(g);
  }

  protected abstract validate(g: ParamGroup<O>): void;
  /** Updates every parameter that has a gradient. @example `opt.step()` @example `loss.backward(); opt.step()` */
  abstract step(): void;

  /**
   * Drops the gradients (setToNone, the default) or sets them to zero.
   * @example `opt.zeroGrad()`
   */
  zeroGrad(o: { setToNone?: boolean } = {}): void {
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (o.setToNone ?? true) p.grad = null;
        else p.grad = p.grad.mul(0);
      }
    }
  }

  private index(): Map<Tensor, number> {
    const m = new Map<Tensor, number>();
    for (const g of this.paramGroups) for (const p of g.params) m.set(p, m.size);
    return m;
  }
  /** @example `save({ optimizer: opt.stateDict() }, path)` */
  stateDict(): OptimizerStateDict {
    const idx = this.index();
    const state: Record<number, OptimizerState> = {};
    for (const [p, s] of this.state) state[idx.get(p)!] = { ...s };
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...opts } = g;
      return { ...opts, params: params.map((p) => idx.get(p)!) };
    });
    return { state, paramGroups };
  }
  /** @example `opt.loadStateDict(ckpt.optimizer)` */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || sd.paramGroups?.length !== this.paramGroups.length) {
      throw new ArgumentError(`loadStateDict: expected ${this.paramGroups.length} parameter groups, got ${sd?.paramGroups?.length}`);
    }
    const params = this.paramGroups.flatMap((g) => g.params);
    sd.paramGroups.forEach((g, i) => {
      const { params: ids, ...opts } = g as { params: number[] };
      if (ids.length !== this.paramGroups[i]!.params.length) {
        throw new ArgumentError(`loadStateDict: expected group ${i} with ${this.paramGroups[i]!.params.length} parameters, got ${ids.length}`);
      }
      Object.assign(this.paramGroups[i]!, opts);
    });
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = params[Number(k)];
      if (!p) throw new ArgumentError(`loadStateDict: expected state for parameters 0..${params.length - 1}, got index ${k}`);
      const copy: OptimizerState = {};
      for (const [name, v] of Object.entries(s)) copy[name] = v instanceof Tensor ? v.clone() : v;
      this.state.set(p, copy);
    }
  }
}

/** @internal a contiguous gradient of the parameter's dtype */
export function gradOf(p: Tensor): Tensor | null {
  let g = p.grad;
  if (!g) return null;
  if (g.dtype !== p.dtype) g = g.cast(p.dtype);
  if (!g.isContiguous()) g = g.contiguous();
  return g;
}
