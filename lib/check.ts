// Argument checks at the public entry points: a value of the wrong kind (not a tensor, not an options object, not
// a list of sizes) becomes an ArgumentError "<op>: expected X, got Y" instead of a TypeError from deep inside.
import { ArgumentError } from './errors.js';
import { Tensor } from './tensor/tensor.js';
import { fmt } from './tensor/shape.js';

/** What a value is, for error messages: `a tensor of shape [2,3] (float32)`, `the string 'a'`, `undefined`. @internal */
export function describe(v: unknown): string {
  if (v instanceof Tensor) return `a tensor of shape ${fmt(v.shape)} (${v.dtype})`;
  if (isPostedTensor(v)) {
    return `a Tensor of shape ${fmt(v.shape)} (${String(v.dtype)}) sent through postMessage, which copies only its fields: ` +
      'send await toMessage(t) and rebuild it with fromMessage(m)';
  }
  if (v === null || v === undefined) return String(v);
  switch (typeof v) {
    case 'number': return `the number ${v}`;
    case 'string': return `the string '${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
    case 'boolean': return `${v}`;
    case 'function': return 'a function';
    case 'bigint': return `the bigint ${v}`;
    case 'symbol': return 'a symbol';
  }
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  const ctor = (v as object).constructor;
  return ctor && ctor !== Object ? `a ${ctor.name}` : 'an object';
}

// What postMessage() (structuredClone) makes of a Tensor: a plain object with its own fields (lib/tensor/tensor.ts:
// the handle _h, shape, dtype, numel, ...) and none of its methods or native memory.
function isPostedTensor(v: unknown): v is { shape: number[]; dtype: unknown } {
  if (v === null || typeof v !== 'object' || v instanceof Tensor) return false;
  const o = v as Record<string, unknown>;
  return '_h' in o && 'numel' in o && 'dtype' in o && Array.isArray(o['shape']) && (o['shape'] as unknown[]).every((d) => typeof d === 'number');
}

/** v as a Tensor, or an ArgumentError naming `what`. @internal */
export function tensorArg(op: string, what: string, v: unknown): Tensor {
  if (v instanceof Tensor) return v;
  throw new ArgumentError(`${op}: expected ${what} to be a Tensor, got ${describe(v)}`);
}

/** v as a Tensor, or null for null/undefined. @internal */
export function optTensorArg(op: string, what: string, v: unknown): Tensor | null {
  return v === null || v === undefined ? null : tensorArg(op, what, v);
}

/** v as a Tensor or a number (a scalar operand). @internal */
export function operandArg(op: string, v: unknown): Tensor | number {
  if (v instanceof Tensor || typeof v === 'number') return v;
  throw new ArgumentError(`${op}: expected a Tensor or a number, got ${describe(v)}`);
}

/** v as a list of tensors (an array of at least `min`). @internal */
export function tensorsArg(op: string, what: string, v: unknown, min = 0): readonly Tensor[] {
  if (!Array.isArray(v)) throw new ArgumentError(`${op}: expected ${what} to be an array of tensors, got ${describe(v)}`);
  for (let i = 0; i < v.length; i++) {
    if (!(v[i] instanceof Tensor)) throw new ArgumentError(`${op}: expected ${what}[${i}] to be a Tensor, got ${describe(v[i])}`);
  }
  if (v.length < min) throw new ArgumentError(`${op}: expected at least ${min} tensor${min === 1 ? '' : 's'} in ${what}, got ${v.length}`);
  return v as Tensor[];
}

/** Whether v is an options object (an object that is neither an array nor a tensor). @internal */
export function isOptions(v: unknown): v is object {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor);
}

/** v as an options object ({} for undefined). @internal */
export function optionsArg<T extends object>(op: string, v: T | undefined): T {
  if (v === undefined) return {} as T;
  if (!isOptions(v)) throw new ArgumentError(`${op}: expected an options object, got ${describe(v)}`);
  return v;
}

/** A loss's reduction: 'mean' (the default), 'sum' or 'none'. @internal */
export function reductionArg(op: string, r: unknown): 'mean' | 'sum' | 'none' {
  if (r === undefined) return 'mean';
  if (r === 'mean' || r === 'sum' || r === 'none') return r;
  throw new ArgumentError(`${op}: expected reduction 'mean', 'sum' or 'none', got ${describe(r)}`);
}

/** v as a list of numbers (sizes, dims); each is checked by the op itself. @internal */
export function numbersArg(op: string, what: string, v: unknown): readonly number[] {
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new ArgumentError(`${op}: expected ${what} to be an array of numbers, got ${describe(v)}`);
}

/** v as undefined, one axis or a list of axes. @internal */
export function axesArg(op: string, v: unknown): number | readonly number[] | undefined {
  if (v === undefined || typeof v === 'number') return v;
  return numbersArg(op, 'axes', v);
}

/**
 * v as an integer (a dim, an index, a bound, a count), optionally within [lo, hi] (int32's range for values a kernel
 * stores as int32), or an ArgumentError naming `what`: a fraction or NaN would otherwise reach a kernel as a
 * misaligned offset or a NaN size. @internal
 */
export function intArg(op: string, what: string, v: unknown, lo = -Number.MAX_SAFE_INTEGER, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ArgumentError(`${op}: expected ${what} to be an integer, got ${describe(v)}`);
  if (v < lo || v > hi) throw new ArgumentError(`${op}: expected ${what} in [${lo}, ${hi}], got ${v}`);
  return v;
}
