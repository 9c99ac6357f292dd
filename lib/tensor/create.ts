// Creating tensors: from data, constants, ranges, identity, and the seeded random functions.
import { ArgumentError, ShapeError } from '../errors.js';
import { AnyTypedArray, DType, checkDType, dtypeOfArray, intRange, typedArrayCtor } from '../dtype.js';
import { Device, deviceArg } from '../native.js';
import { Tensor, fromTyped, launch } from './tensor.js';
import { describe, optionsArg, tensorArg } from '../check.js';
import { bytesOf, checkShapeArg, fmt } from './shape.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
}

// The options of a creation function. A dtype name in their place (`zeros([2], 'int32')`, which PyTorch refuses
// too: its dtype is keyword-only) is an ArgumentError that shows the options object meant, not a silent float32.
/** @internal */
export function createOpts<T extends CreateOptions>(op: string, opts: T | undefined): T {
  if (typeof opts === 'string') {
    throw new ArgumentError(`${op}: expected an options object such as { dtype: '${opts}' }, got ${describe(opts)}`);
  }
  opts = optionsArg(op, opts);
  if (opts.device !== undefined) opts = { ...opts, device: deviceArg(op, opts.device) };
  return opts;
}

// The largest typed array V8 makes (2^32 elements): the limit of the tensors whose values are computed in JS.
const MAX_JS_ELEMENTS = 2 ** 32;
// The element count of a tensor of `shape` computed in JS, or a ShapeError (never V8's RangeError later).
function jsCount(op: string, shape: readonly number[], dtype: DType): number {
  bytesOf(op, shape, dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_JS_ELEMENTS) {
    throw new ShapeError(`${op}: expected at most 2^32 elements (the largest typed array), got shape ${fmt(shape)} (${n} elements)`);
  }
  return n;
}

// Whether v, truncated toward zero as the kernels' casts do, is in the range of an integer dtype (any v for a float
// one): a range (arange, linspace) that runs out of int32 would wrap around in the middle.
function fits(v: number, dtype: DType): boolean {
  const r = intRange(dtype);
  if (r === null) return true;
  const t = Math.trunc(v);
  return t >= r[0] && t <= r[1];
}
function rangeError(op: string, what: string, dtype: DType, got: string): ArgumentError {
  const r = intRange(dtype)!;
  return new ArgumentError(`${op}: expected ${what} in the range of ${dtype} ([${r[0]}, ${r[1]}]), got ${got}`);
}

function numberArg(op: string, what: string, v: unknown, finite: boolean): number {
  if (typeof v !== 'number' || (finite && !Number.isFinite(v))) {
    throw new ArgumentError(`${op}: expected ${finite ? 'a finite' : 'a'} number as ${what}, got ${describe(v)}`);
  }
  return v;
}

function inferShape(v: unknown): number[] {
  const shape: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flattenInto(v: unknown, shape: number[], d: number, out: number[], op: string): void {
  if (d === shape.length) {
    if (typeof v === 'number') out.push(v);
    else if (typeof v === 'boolean') out.push(v ? 1 : 0);
    else throw new ArgumentError(`${op}: expected numbers, got ${typeof v}`);
    return;
  }
  if (!Array.isArray(v) || v.length !== shape[d]) {
    throw new ShapeError(`${op}: expected a rectangular nested array of shape ${fmt(shape)}, got a ragged one at depth ${d}`);
  }
  for (const x of v) flattenInto(x, shape, d + 1, out, op);
}

/**
 * A tensor from nested arrays, a typed array or a number. A typed array keeps its dtype unless one is given;
 * nested arrays default to float32.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2, 3], [4, 5, 6]]);                   // float32 [2,3]
 * const y = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
 * ```
 */
export function tensor(
  values: number | boolean | readonly unknown[] | AnyTypedArray,
  opts?: CreateOptions & { shape?: readonly number[] },
): Tensor {
  const op = 'tensor';
  opts = createOpts(op, opts);
  const arrDtype = ArrayBuffer.isView(values) ? dtypeOfArray(values as AnyTypedArray) : undefined;
  if (ArrayBuffer.isView(values) && !arrDtype) {
    throw new ArgumentError(`${op}: expected a Float32Array, Float64Array, Int32Array or Uint8Array, got ${values.constructor.name}`);
  }
  const dtype = opts.dtype !== undefined ? checkDType(op, opts.dtype) : (arrDtype ?? 'float32');
  let flat: AnyTypedArray;
  let shape: readonly number[];
  if (ArrayBuffer.isView(values)) {
    const src = values as AnyTypedArray;
    shape = opts.shape ? checkShapeArg(op, opts.shape) : [src.length];
    flat = arrDtype === dtype ? src : typedArrayCtor(dtype).from(src as ArrayLike<number>);
  } else if (typeof values === 'number' || typeof values === 'boolean') {
    shape = opts.shape ? checkShapeArg(op, opts.shape) : [];
    flat = typedArrayCtor(dtype).of(Number(values));
  } else if (Array.isArray(values)) {
    const inferred = inferShape(values);
    const out: number[] = [];
    flattenInto(values, inferred, 0, out, op);
    shape = opts.shape ? checkShapeArg(op, opts.shape) : inferred;
    flat = typedArrayCtor(dtype).from(out);
  } else {
    throw new ArgumentError(`${op}: expected nested arrays, a typed array or a number, got ${typeof values}`);
  }
  return fromTyped(flat, shape, dtype, opts.device ?? 'cpu');
}

/** @internal a 0-d tensor holding v, for scalar operands */
export function scalarLike(v: number, dtype: DType, device: Device = 'cpu'): Tensor {
  // a fill record rather than a copy from JS (which would submit the pending records); integer dtypes convert the
  // value here first, with typed-array rules (wrap-around, NaN -> 0), so that the kernel's cast is exact
  return launch('fill', dtype, [], [{ shape: [], dtype, device }], [], [fillValue(v, dtype)])[0]!;
}
function fillValue(v: number, dtype: DType): number {
  return dtype === 'float32' || dtype === 'float64' ? v : typedArrayCtor(dtype).of(v)[0]!;
}

/**
 * A tensor of `shape` filled with `value`; an integer dtype converts it as typed arrays do (300 -> 44 for uint8).
 * @example `full([2, 3], 7)`
 */
export function full(shape: readonly number[], value: number, opts?: CreateOptions): Tensor {
  const op = 'full';
  opts = createOpts(op, opts);
  const dtype = checkDType(op, opts.dtype ?? 'float32');
  checkShapeArg(op, shape, dtype);
  if (typeof value !== 'number' && typeof value !== 'boolean') throw new ArgumentError(`${op}: expected a number as the value, got ${describe(value)}`);
  return launch('fill', dtype, [], [{ shape, dtype, device: opts.device ?? 'cpu' }], [], [fillValue(Number(value), dtype)])[0]!;
}
/** @example `zeros([2, 3])` */
export function zeros(shape: readonly number[], opts?: CreateOptions): Tensor {
  return full(shape, 0, opts);
}
/** @example `ones([2, 3], { dtype: 'float64' })` */
export function ones(shape: readonly number[], opts?: CreateOptions): Tensor {
  return full(shape, 1, opts);
}
/** A tensor shaped and typed like t, filled with value. @example `fullLike(x, 0)` */
export function fullLike(t: Tensor, value: number): Tensor {
  tensorArg('full_like', 'input', t);
  return full(t.shape, value, { dtype: t.dtype, device: t.device });
}
/** Zeros of the same shape, dtype and device. @example `zerosLike(x)` */
export function zerosLike(t: Tensor): Tensor {
  tensorArg('zeros_like', 'input', t);
  return fullLike(t, 0);
}
/** Ones of the same shape, dtype and device. @example `onesLike(x)` */
export function onesLike(t: Tensor): Tensor {
  tensorArg('ones_like', 'input', t);
  return fullLike(t, 1);
}

/**
 * Values start, start+step, ... below end. One argument means [0, end). Integer arguments give int32 unless a
 * dtype is given; the values must fit an integer dtype (int32 has no room for 2^31: pass `{ dtype: 'float64' }`).
 * @example `arange(5) // [0,1,2,3,4]`, `arange(0, 1, 0.25)`
 */
export function arange(start: number, end?: number, step = 1, opts?: CreateOptions): Tensor {
  const op = 'arange';
  opts = createOpts(op, opts);
  if (end === undefined) [start, end] = [0, start];
  numberArg(op, 'start', start, true);
  numberArg(op, 'end', end, true);
  if (step === 0 || typeof step !== 'number' || !Number.isFinite(step)) {
    throw new ArgumentError(`${op}: expected a finite non-zero step, got ${describe(step)}`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const dtype = checkDType(op, opts.dtype ?? (ints ? 'int32' : 'float32'));
  jsCount(op, [n], dtype);
  const last = start + (n - 1) * step;
  if (n > 0 && (!fits(start, dtype) || !fits(last, dtype))) {
    throw rangeError(op, 'values', dtype, `${start} to ${last}${dtype === 'int32' ? ` (pass { dtype: 'float64' } for a wider range)` : ''}`);
  }
  const a = new (typedArrayCtor(dtype))(n);
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return fromTyped(a, [n], dtype, opts.device ?? 'cpu');
}

/** n evenly spaced values from start to end inclusive. @example `linspace(0, 1, 5)` */
export function linspace(start: number, end: number, n: number, opts?: CreateOptions): Tensor {
  const op = 'linspace';
  opts = createOpts(op, opts);
  numberArg(op, 'start', start, false);
  numberArg(op, 'end', end, false);
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`${op}: expected a non-negative integer count, got ${describe(n)}`);
  const dtype = checkDType(op, opts.dtype ?? 'float32');
  jsCount(op, [n], dtype);
  if (n > 0 && (!fits(start, dtype) || !fits(end, dtype))) throw rangeError(op, 'a start and an end', dtype, `${start} and ${end}`);
  const a = new (typedArrayCtor(dtype))(n);
  for (let i = 0; i < n; i++) a[i] = n === 1 ? start : start + ((end - start) * i) / (n - 1);
  return fromTyped(a, [n], dtype, opts.device ?? 'cpu');
}

/** The n x m identity matrix. @example `eye(3)` */
export function eye(n: number, m = n, opts?: CreateOptions): Tensor {
  const op = 'eye';
  opts = createOpts(op, opts);
  const dtype = checkDType(op, opts.dtype ?? 'float32');
  const a = new (typedArrayCtor(dtype))(jsCount(op, [n, m], dtype));
  for (let i = 0; i < Math.min(n, m); i++) a[i * m + i] = 1;
  return fromTyped(a, [n, m], dtype, opts.device ?? 'cpu');
}

