/** Optimizer base: parameter groups with their own options, per-parameter state, stateDict/loadStateDict. */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { Tensor, moveTo, toDevice } from '../tensor/tensor.js';
import { fmt, shapesEqual } from '../tensor/shape.js';
import { isFloat } from '../dtype.js';
import { describe, isOptions, optionsArg } from '../check.js';

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
  /**
   * @internal p's state, its tensors moved first to p's device when they are elsewhere (the parameters were moved by
   * module.to() after the state was made)
   */
  stateOf(p: Tensor): OptimizerState | undefined {
    const s = this.state.get(p);
    if (s !== undefined) for (const k in s) { const v = s[k]; if (v instanceof Tensor && v.device !== p.device) moveTo(v, p.device); }
    return s;
  }

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
  /**
   * The state entries step() reads for a parameter of group g: tensors of the parameter's shape, and numbers.
   * loadStateDict checks a loaded state against it. Subclasses that keep state declare it here.
   * @example `protected stateSpec() { return { tensors: ['momentumBuffer'], numbers: [] }; }`
   */
  protected stateSpec(_g: ParamGroup<O>): { tensors: string[]; numbers: string[] } {
    return { tensors: [], numbers: [] };
  }

  /**
   * Restores a state saved by stateDict(): group options and per-parameter state (tensors are copied, cast to the
   * parameter's dtype). The whole dict is checked first: on any error the optimizer is left unchanged.
   * @example `opt.loadStateDict(ckpt.optimizer)`
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    if (!isOptions(sd) || !Array.isArray(sd.paramGroups) || !isOptions(sd.state)) {
      throw new ArgumentError(`${op}: expected a state dict { state, paramGroups }, got ${describe(sd)}`);
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new ArgumentError(`${op}: expected ${this.paramGroups.length} parameter groups, got ${sd.paramGroups.length}`);
    }
    // saved ids map to this optimizer's parameters in order, as in torch.optim.Optimizer.load_state_dict
    const byId = new Map<number, { p: Tensor; g: ParamGroup<O> }>();
    const groups = sd.paramGroups.map((sg, i) => {
      const own = this.paramGroups[i]!;
      if (!isOptions(sg) || !Array.isArray((sg as { params?: unknown }).params)) {
        throw new ArgumentError(`${op}: expected parameter group ${i} to be { params: number[], ... }, got ${describe(sg)}`);
      }
      const { params: ids, ...opts } = sg as { params: unknown[] };
      if (ids.length !== own.params.length) {
        throw new ArgumentError(`${op}: expected group ${i} with ${own.params.length} parameters, got ${ids.length}`);
      }
      ids.forEach((id, j) => {
        if (!Number.isInteger(id) || byId.has(id as number)) {
          throw new ArgumentError(`${op}: expected distinct integer parameter ids, got ${describe(id)} in group ${i}`);
        }
        byId.set(id as number, { p: own.params[j]!, g: own });
      });
      const candidate = { ...own, ...opts, params: own.params } as ParamGroup<O>;
      this.validate(candidate);
      return candidate;
    });
    const states = new Map<Tensor, OptimizerState>();
    for (const [k, s] of Object.entries(sd.state)) {
      const hit = byId.get(Number(k));
      if (!hit) throw new ArgumentError(`${op}: expected state for the parameter ids of the groups, got id ${k}`);
      if (!isOptions(s)) throw new ArgumentError(`${op}: expected the state of parameter ${k} to be an object, got ${describe(s)}`);
      const p = hit.p;
      const spec = this.stateSpec(groups[this.paramGroups.indexOf(hit.g)]!);
      for (const name of spec.tensors) {
        const v = (s as OptimizerState)[name];
        if (!(v instanceof Tensor)) throw new ArgumentError(`${op}: expected state '${name}' of parameter ${k} to be a Tensor, got ${describe(v)}`);
        if (v.isDisposed) throw new ArgumentError(`${op}: expected state '${name}' of parameter ${k} to be a live tensor, got a disposed one`);
        if (!shapesEqual(v.shape, p.shape)) {
          throw new ShapeError(`${op}: expected state '${name}' of parameter ${k} of shape ${fmt(p.shape)} (the parameter's), got ${fmt(v.shape)}`);
        }
        if (!isFloat(v.dtype)) throw new DTypeError(`${op}: expected state '${name}' of parameter ${k} of a float dtype, got ${v.dtype}`);
      }
      for (const name of spec.numbers) {
        const v = (s as OptimizerState)[name];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
          throw new ArgumentError(`${op}: expected state '${name}' of parameter ${k} to be an integer >= 0, got ${describe(v)}`);
        }
      }
      states.set(p, s as OptimizerState);
    }
    // everything checked: now change this optimizer
    const copies = new Map<Tensor, OptimizerState>();
    for (const [p, s] of states) {
      const copy: OptimizerState = {};
      for (const [name, v] of Object.entries(s)) {
        if (!(v instanceof Tensor)) {
          copy[name] = v;
          continue;
        }
        const c = v.dtype === p.dtype ? v.clone() : v.cast(p.dtype);
        copy[name] = c.device === p.device ? c : toDevice(c, p.device);  // the state goes where its parameter is
      }
      copies.set(p, copy);
    }
    groups.forEach((g, i) => Object.assign(this.paramGroups[i]!, g));
    this.state.clear();
    for (const [p, s] of copies) this.state.set(p, s);
  }
}

/** A number option: `v` must be a number for which ok() holds (NaN fails every comparison). @internal */
export function numberOption(name: string, key: string, v: unknown, ok: (x: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !ok(v)) throw new ArgumentError(`${name}: expected ${key} ${what}, got ${typeof v === 'number' ? v : describe(v)}`);
}
/** A boolean option. @internal */
export function boolOption(name: string, key: string, v: unknown): void {
  if (typeof v !== 'boolean') throw new ArgumentError(`${name}: expected ${key} to be true or false, got ${describe(v)}`);
}

/** @internal a contiguous gradient of the parameter's dtype */
export function gradOf(p: Tensor): Tensor | null {
  let g = p.grad;
  if (!g) return null;
  if (g.dtype !== p.dtype) g = g.cast(p.dtype);
  if (!g.isContiguous()) g = g.contiguous();
  return g;
}
