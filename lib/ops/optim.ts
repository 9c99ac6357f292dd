// Fused optimizer steps: one native call per parameter group. Bias corrections are computed here in double.
import { ArgumentError, ShapeError, DTypeError } from '../errors.js';
import { describe, optionsArg, tensorsArg } from '../check.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { fmt } from '../tensor/shape.js';

const GROUP = 128;  // tensors per native call

function checkLists(op: string, lists: Record<string, readonly Tensor[]>, params: readonly Tensor[]) {
  tensorsArg(op, 'params', params);
  for (const [name, l] of Object.entries(lists)) {
    tensorsArg(op, name, l);
    if (l.length !== params.length) throw new ShapeError(`${op}: expected ${params.length} ${name}, got ${l.length}`);
    l.forEach((t, i) => {
      const p = params[i]!;
      if (t.numel !== p.numel || !t.isContiguous()) throw new ShapeError(`${op}: expected ${name}[${i}] contiguous of shape ${fmt(p.shape)}, got ${fmt(t.shape)}`);
      if (t.dtype !== p.dtype) throw new DTypeError(`${op}: expected ${name}[${i}] of dtype ${p.dtype}, got ${t.dtype}`);
    });
  }
}

// the numeric hyper-parameters of a step: finite numbers
function hyper<O extends object>(op: string, o: O, keys: readonly (keyof O & string)[]): void {
  if (o === undefined) throw new ArgumentError(`${op}: expected the step's options, got undefined`);
  optionsArg(op, o);
  for (const k of keys) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${op}: expected ${k} to be a finite number, got ${describe(v)}`);
  }
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count after this update */
  step: number;
  amsgrad?: boolean;
  decoupled?: boolean;
  maximize?: boolean;
}

/** One fused Adam/AdamW step over every tensor of the lists, in place. @internal */
export function adamStep(params: readonly Tensor[], grads: readonly Tensor[], m: readonly Tensor[], v: readonly Tensor[], vmax: readonly Tensor[] | null, o: AdamStep): void {
  tensorsArg('adam_', 'params', params);
  hyper('adam_', o, ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'step']);
  if (params.length === 0) return;
  if (params.length > GROUP) {  // one call per GROUP tensors: each call's record fits a command buffer
    for (let i = 0; i < params.length; i += GROUP) {
      const s = (l: readonly Tensor[]) => l.slice(i, i + GROUP);
      adamStep(s(params), s(grads), s(m), s(v), vmax && s(vmax), o);
    }
    return;
  }
  checkLists('adam_', vmax ? { grads, m, v, vmax } : { grads, m, v }, params);
  if (!(o.step >= 1)) throw new ArgumentError(`adam_: expected step >= 1, got ${o.step}`);
  const bc1 = 1 - Math.pow(o.beta1, o.step), bc2 = 1 - Math.pow(o.beta2, o.step);
  const outs = [...params, ...m, ...v, ...(vmax ?? [])];
  launch('adam_', params[0]!.dtype, grads, outs, [params.length, o.amsgrad ? 1 : 0, o.decoupled ? 1 : 0, o.maximize ? 1 : 0],
    [o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.lr / bc1, Math.sqrt(bc2)]);
}

export interface SgdStep {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  firstStep: boolean;
  maximize?: boolean;
}

/** One fused SGD step, in place (momentum buffers only when momentum != 0). @internal */
export function sgdStep(params: readonly Tensor[], grads: readonly Tensor[], bufs: readonly Tensor[], o: SgdStep): void {
  tensorsArg('sgd_', 'params', params);
  hyper('sgd_', o, ['lr', 'momentum', 'dampening', 'weightDecay']);
  if (params.length === 0) return;
  if (params.length > GROUP) {
    for (let i = 0; i < params.length; i += GROUP) {
      const s = (l: readonly Tensor[]) => l.slice(i, i + GROUP);
      sgdStep(s(params), s(grads), o.momentum !== 0 ? s(bufs) : bufs, o);
    }
    return;
  }
  checkLists('sgd_', o.momentum !== 0 ? { grads, bufs } : { grads }, params);
  launch('sgd_', params[0]!.dtype, grads, o.momentum !== 0 ? [...params, ...bufs] : params,
    [params.length, o.nesterov ? 1 : 0, o.firstStep ? 1 : 0, o.maximize ? 1 : 0], [o.lr, o.momentum, o.dampening, o.weightDecay]);
}
