/**
 * nn.Module: parameters, buffers and children found on the module's own properties (a Tensor marked by
 * `Parameter()`, tensors named by `registerBuffer`, Module instances and arrays of them), PyTorch-style.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
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

  /** The computation; subclasses implement it and callers use forward() or call(). @example `model.forward(x)` */
  abstract forward(...args: Tensor[]): Tensor;

  /** Calls forward. @example `const y = model.call(x)` */
  call(...args: Tensor[]): Tensor {
    return this.forward(...args);
  }

  /** Declares a non-trainable tensor saved in stateDict (running statistics). @example `this.registerBuffer('runningMean', zeros([C]))` */
  registerBuffer(name: string, t: Tensor): void {
    (this as unknown as Record<string, Tensor>)[name] = t;
    this._buffers.add(name);
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
  /** @example `for (const [name, p] of model.namedParameters()) console.log(name, p.shape)` */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [k, v] of Object.entries(m)) {
        if (isParameter(v) && !seen.has(v)) {
          seen.add(v);
          out.push([prefix ? `${prefix}.${k}` : k, v]);
        }
      }
    }
    return out;
  }
  /** @example `new optim.Adam(model.parameters())` */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** @example `model.namedBuffers() // [['bn.runningMean', t], ...]` */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, m] of this.namedModules()) {
      for (const k of m._buffers) out.push([prefix ? `${prefix}.${k}` : k, (m as unknown as Record<string, Tensor>)[k]!]);
    }
    return out;
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
  /** Moves the module to a device (only 'cpu' in this build). @example `model.to('cpu')` */
  to(device: 'cpu'): this {
    if (device !== 'cpu') throw new ArgumentError(`to: expected device 'cpu' (the only one in this build), got '${device}'`);
    return this;
  }
  /** Parameters and buffers by dotted name (the tensors themselves, not copies). @example `save(model.stateDict(), 'm.safetensors')` */
  stateDict(): StateDict {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }
  /**
   * Copies values from a state dict into this module's tensors (shapes must match; values are cast to each tensor's
   * dtype). strict: every key must match. Everything is checked first: on any error no tensor is changed.
   * @example `model.loadStateDict(load('m.safetensors'))`
   */
  loadStateDict(sd: StateDict, o: { strict?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const op = `${this.constructor.name}.loadStateDict`;
    if (!isOptions(sd)) throw new ArgumentError(`${op}: expected a state dict (tensors by name), got ${describe(sd)}`);
    o = optionsArg(op, o);
    const own = this.stateDict();
    const missing = Object.keys(own).filter((k) => !(k in sd));
    const unexpected = Object.keys(sd).filter((k) => !(k in own));
    if ((o.strict ?? true) && (missing.length || unexpected.length)) {
      throw new ArgumentError(`${op}: expected the keys of this module, got missing [${missing.join(', ')}] and unexpected [${unexpected.join(', ')}]`);
    }
    const pairs: [Tensor, Tensor][] = [];
    for (const [k, t] of Object.entries(own)) {
      if (!(k in sd)) continue;
      const src = sd[k] as unknown;
      if (!(src instanceof Tensor)) throw new ArgumentError(`${op}: expected '${k}' to be a Tensor, got ${describe(src)}`);
      if (src.isDisposed) throw new ArgumentError(`${op}: expected '${k}' to be a live tensor, got a disposed one`);
      if (!shapesEqual(src.shape, t.shape)) {
        throw new ShapeError(`${op}: expected '${k}' of shape ${fmt(t.shape)}, got ${fmt(src.shape)}`);
      }
      pairs.push([t, src]);
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
