/**
 * nn.Module: parameters, buffers and children found on the module's own properties (a Tensor marked by
 * `Parameter()`, tensors named by `registerBuffer`, Module instances and arrays of them), PyTorch-style.
 * State-dict names are the property names, except where a layer gives PyTorch's (setStateName: `running_mean` for
 * the property runningMean), so a safetensors file moves to and from `torch.nn.Module.load_state_dict(strict=True)`
 * unchanged; loadStateDict still reads the property names that earlier versions wrote, with one warning per load.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { Tensor, moveTo } from '../tensor/tensor.js';
import { Device, deviceArg } from '../native.js';
import { copyInto } from '../ops/view.js';
import { noGrad } from '../autograd/engine.js';
import { describe, isOptions, optionsArg, tensorArg } from '../check.js';
import { fmt, shapesEqual } from '../tensor/shape.js';

const PARAM = Symbol('tensile.parameter');

/**
 * Marks a tensor as a trainable parameter (requiresGrad = true). Modules find parameters on their properties.
 * @example `this.weight = Parameter(randn([10, 5]))`
 */
export function Parameter(t: Tensor): Tensor {
  tensorArg('Parameter', 'its argument', t);
  t.requiresGrad_(true);
  (t as unknown as Record<symbol, boolean>)[PARAM] = true;
  return t;
}
/** True for tensors created by Parameter() (trainable leaves). @example `isParameter(lin.weight) // true` */
export function isParameter(v: unknown): v is Tensor {
  return v instanceof Tensor && (v as unknown as Record<symbol, boolean>)[PARAM] === true;
}

export type StateDict = Record<string, Tensor>;

/**
 * Base class of every layer and model. Subclasses assign parameters, buffers and child modules to properties and
 * implement forward().
 *
 * @example
 * ```ts
 * class Net extends nn.Module {
 *   fc = new nn.Linear(784, 10);
 *   forward(x: Tensor) { return this.fc.forward(x.flatten(1)); }
 * }
 * ```
 */
export abstract class Module {
  /** true in training mode (dropout active, batch norm uses batch statistics) */
  training = true;
  private _buffers = new Set<string>();
  // property -> its state-dict name and the name earlier versions wrote it under (null: they did not write it)
  private _stateNames = new Map<string, { name: string; legacy: string | null }>();

  /**
   * The computation; subclasses implement it and callers use forward() or call(). Its arguments are tensors, and
   * optional tensors or an options object after them where a layer takes masks (nn.MultiheadAttention).
   * @example `model.forward(x)`
   */
  abstract forward(...args: (Tensor | object | undefined)[]): Tensor;

  /** Calls forward. @example `const y = model.call(x)` */
  call(...args: (Tensor | object | undefined)[]): Tensor {
    return this.forward(...args);
  }

  /** Declares a non-trainable tensor saved in stateDict (running statistics). @example `this.registerBuffer('runningMean', zeros([C]))` */
  registerBuffer(name: string, t: Tensor): void {
    (this as unknown as Record<string, Tensor>)[name] = t;
    this._buffers.add(name);
  }
  /**
   * Gives the parameter or buffer at `property` the state-dict name `name` (PyTorch's snake_case name, where the
   * property is camelCase): stateDict(), namedParameters() and namedBuffers() use it, and loadStateDict() reads it.
   * loadStateDict() also reads an entry under `legacy` (default: the property name, which earlier versions wrote);
   * `legacy: null` marks an entry earlier versions did not write: a load that finds this module's other entries
   * under their old names leaves it unchanged instead of counting it missing.
   * @example `this.setStateName('runningMean', 'running_mean')`
   */
  protected setStateName(property: string, name: string, o: { legacy?: string | null } = {}): void {
    this._stateNames.set(property, { name, legacy: o.legacy === undefined ? property : o.legacy });
  }
  // this module's own parameters (without those in `seen`, when given, which collects them) or buffers, by name
  private ownState(kind: 'parameters' | 'buffers', seen: Set<Tensor> | null): { name: string; legacy: string | null; t: Tensor }[] {
    const out: { name: string; legacy: string | null; t: Tensor }[] = [];
    const self = this as unknown as Record<string, unknown>;
    const props = kind === 'parameters' ? Object.keys(this).filter((k) => isParameter(self[k])) : [...this._buffers];
    for (const property of props) {
      const t = self[property] as Tensor;
      if (seen) {
        if (seen.has(t)) continue;
        seen.add(t);
      }
      const n = this._stateNames.get(property);
      out.push({ name: n?.name ?? property, legacy: n ? n.legacy : property, t });
    }
    return out;
  }
  // stateDict()'s entries in PyTorch's order (each module's parameters, then its buffers, then its children's; a
  // tensor shared by two modules under each name), with the names earlier versions wrote and the module's prefix
  private stateEntries(): { key: string; legacy: string | null; prefix: string; t: Tensor }[] {
    const dot = (prefix: string, k: string) => (prefix ? `${prefix}.${k}` : k);
    return this.namedModules().flatMap(([prefix, m]) => [...m.ownState('parameters', null), ...m.ownState('buffers', null)]
      .map((e) => ({ key: dot(prefix, e.name), legacy: e.legacy === null ? null : dot(prefix, e.legacy), prefix, t: e.t })));
  }

  /** Direct children, by property name (arrays get `name.i`). @example `for (const [n, m] of model.namedChildren()) ...` */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v)) v.forEach((m, i) => { if (m instanceof Module) out.push([`${k}.${i}`, m]); });
    }
    return out;
  }
  /** Direct submodules. @example `model.children().length` */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }
  /** This module and every descendant, depth first. @example `model.modules().length` */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k));
    return out;
  }
  /** This module and every descendant, depth first. @example `model.modules().filter((m) => m instanceof nn.Conv2d)` */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }
  /**
   * Parameters by dotted state-dict name (PyTorch's for the built-in layers: `lstm.weight_ih_l0`); a parameter shared
   * by two modules appears once, under its first name. @example `for (const [name, p] of model.namedParameters()) console.log(name, p.shape)`
   */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    return this.namedModules().flatMap(([prefix, m]) => m.ownState('parameters', seen).map((e): [string, Tensor] => [prefix ? `${prefix}.${e.name}` : e.name, e.t]));
  }
  /** @example `new optim.Adam(model.parameters())` */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** Buffers by dotted state-dict name. @example `model.namedBuffers() // [['bn.running_mean', t], ['bn.running_var', t], ['bn.num_batches_tracked', t]]` */
  namedBuffers(): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) => m.ownState('buffers', null).map((e): [string, Tensor] => [prefix ? `${prefix}.${e.name}` : e.name, e.t]));
  }
  /** Non-trainable state (batch-norm running statistics), saved in stateDict(). @example `model.buffers().length` */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }
  /** Training mode on (default) or off, recursively. @example `model.train()` */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }
  /** Evaluation mode: `train(false)`. @example `model.eval()` */
  eval(): this {
    return this.train(false);
  }
  /** Drops every parameter's gradient. @example `model.zeroGrad()` */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
  /** Applies fn to every module (initialisation). @example `model.apply((m) => { if (m instanceof nn.Linear) nn.init.zeros_(m.bias!); })` */
  apply(fn: (m: Module) => void): this {
    if (typeof fn !== 'function') throw new ArgumentError(`${this.constructor.name}.apply: expected a function, got ${describe(fn)}`);
    for (const m of this.modules()) fn(m);
    return this;
  }
  /**
   * Moves every parameter and buffer (and gradient) to `device`, in place, as PyTorch's does: the tensors keep their
   * identity, so an optimizer made before sees the moved ones (its state moves at its next step). A GPU this process
   * cannot use throws a DeviceError saying why.
   * @example `model.to('cuda')`
   */
  to(device: Device | 'auto'): this {
    const d = deviceArg(`${this.constructor.name}.to`, device);
    const seen = new Set<Tensor>();
    for (const t of [...this.parameters(), ...this.buffers()]) {
      if (seen.has(t)) continue;
      seen.add(t);
      moveTo(t, d);
    }
    return this;
  }
  /**
   * Parameters and buffers by dotted name (the tensors themselves, not copies), named as PyTorch names them for
   * the layers it has (`0.weight`, `1.running_mean`, `1.num_batches_tracked`, `2.weight_ih_l0`): a safetensors file
   * of it loads into the PyTorch model with `load_state_dict(strict=True)`. @example `save(model.stateDict(), 'm.safetensors')`
   */
  stateDict(): StateDict {
    return Object.fromEntries(this.stateEntries().map((e) => [e.key, e.t]));
  }
  /**
   * Copies values from a state dict into this module's tensors (shapes must match; values are cast to each tensor's
   * dtype). strict: every key must match. Everything is checked first: on any error no tensor is changed.
   * Keys are stateDict()'s (PyTorch's names); an entry under the name earlier versions of tensile wrote
   * (`1.runningMean` for `1.running_mean`) is read too, with one warning per load naming the renaming, and a
   * BatchNorm whose statistics come under the old names keeps its num_batches_tracked (old files have none). A
   * tensor under two names (a weight tied between two modules) needs only one of them.
   * missing names this module's keys the state lacks; unexpected, the state's keys it did not use.
   * @example `model.loadStateDict(load('m.safetensors'))`
   */
  loadStateDict(sd: StateDict, o: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const op = `${this.constructor.name}.loadStateDict`;
    if (!isOptions(sd)) throw new ArgumentError(`${op}: expected a state dict (tensors by name), got ${describe(sd)}`);
    o = optionsArg(op, o);
    const entries = this.stateEntries();
    const has = (k: string) => Object.prototype.hasOwnProperty.call(sd, k);
    const ownKeys = new Set(entries.map((e) => e.key));
    // where each entry comes from: its own key, else the old name (unless that is another entry's key)
    const from = new Map<string, string>();
    const renamed: string[] = [];
    const oldStyle = new Set<string>();  // module prefixes with an entry read under its old name
    for (const e of entries) {
      if (has(e.key)) from.set(e.key, e.key);
      else if (e.legacy !== null && e.legacy !== e.key && !ownKeys.has(e.legacy) && has(e.legacy)) {
        from.set(e.key, e.legacy);
        renamed.push(`${e.legacy} -> ${e.key}`);
        oldStyle.add(e.prefix);
      }
    }
    // a tensor under two names (tied weights) needs one of them: earlier versions wrote only the first
    const given = new Set(entries.filter((e) => from.has(e.key)).map((e) => e.t));
    const missing = entries.filter((e) => !from.has(e.key) && !given.has(e.t) && !(e.legacy === null && oldStyle.has(e.prefix))).map((e) => e.key);
    const used = new Set(from.values());
    const unexpected = Object.keys(sd).filter((k) => !used.has(k));
    if ((o.strict ?? true) && (missing.length || unexpected.length)) {
      throw new ArgumentError(`${op}: expected the keys of this module, got missing [${missing.join(', ')}] and unexpected [${unexpected.join(', ')}]`);
    }
    const pairs: [Tensor, Tensor][] = [];
    for (const e of entries) {
      const k = from.get(e.key);
      if (k === undefined) continue;
      const src = sd[k] as unknown, t = e.t;
      if (!(src instanceof Tensor)) throw new ArgumentError(`${op}: expected '${k}' to be a Tensor, got ${describe(src)}`);
      if (src.isDisposed) throw new ArgumentError(`${op}: expected '${k}' to be a live tensor, got a disposed one`);
      if (!shapesEqual(src.shape, t.shape)) {
        throw new ShapeError(`${op}: expected '${k}' of shape ${fmt(t.shape)}, got ${fmt(src.shape)}`);
      }
      pairs.push([t, src]);
    }
    if (renamed.length) {  // before the copies: under --throw-deprecation the load changes nothing
      const shown = renamed.length > 4 ? `${renamed.slice(0, 4).join(', ')} and ${renamed.length - 4} more` : renamed.join(', ');
      process.emitWarning(`${op}: read ${renamed.length} ${renamed.length === 1 ? 'entry' : 'entries'} under the names tensile wrote before it took PyTorch's (${shown}); stateDict() now writes PyTorch's names`,
        { type: 'DeprecationWarning', code: 'TENSILE_OLD_STATE_NAMES' });
    }
    noGrad(() => {
      for (const [t, src] of pairs) copyInto(t, src.dtype === t.dtype ? src : src.cast(t.dtype));
    });
    return { missing, unexpected };
  }
  /** One-line description of this layer (its constructor arguments). @example `extraRepr() { return `p=${this.p}`; }` */
  extraRepr(): string {
    return '';
  }
  /** PyTorch-style tree with parameter counts. @example `console.log(String(model))` */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!kids.length) return `${head})`;
    const body = kids.map(([k, m]) => `  (${k}): ${String(m).split('\n').join('\n  ')}`).join('\n');
    const count = this.parameters().reduce((a, p) => a + p.numel, 0);
    return `${head}\n${body}\n) [${count.toLocaleString("en-US")} parameters]`;
  }
}
