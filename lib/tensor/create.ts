// Creating tensors: from data, constants, ranges, identity, and the seeded random functions.
import { ArgumentError, ShapeError } from '../errors.js';
import { AnyTypedArray, DType, checkDType, dtypeOfArray, typedArrayCtor } from '../dtype.js';
import { Device } from '../native.js';
import { Tensor, fromTyped, launch } from './tensor.js';
import { optionsArg, tensorArg } from '../check.js';
import { checkShapeArg, fmt } from './shape.js';

export interface CreateOptions {
  dtype?: DType;
  device?: Device;
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
  opts = optionsArg('tensor', opts);
  const op = 'tensor';
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
export function scalarLike(v: number, dtype: DType): Tensor {
  // a fill record rather than a copy from JS (which would submit the pending records); integer dtypes convert the
  // value here first, with typed-array rules (wrap-around, NaN -> 0), so that the kernel's cast is exact
  return launch('fill', dtype, [], [{ shape: [], dtype }], [], [fillValue(v, dtype)])[0]!;
}
function fillValue(v: number, dtype: DType): number {
  return dtype === 'float32' || dtype === 'float64' ? v : typedArrayCtor(dtype).of(v)[0]!;
}

/** A tensor of `shape` filled with `value`. @example `full([2, 3], 7)` */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShapeArg('full', shape);
  const dtype = checkDType('full', opts.dtype ?? 'float32');
  return launch('fill', dtype, [], [{ shape, dtype }], [], [fillValue(value, dtype)])[0]!;
}
/** @example `zeros([2, 3])` */
export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}
/** @example `ones([2, 3], { dtype: 'float64' })` */
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
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
 * dtype is given.
 * @example `arange(5) // [0,1,2,3,4]`, `arange(0, 1, 0.25)`
 */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new ArgumentError(`arange: expected a finite non-zero step, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const ints = [start, end, step].every(Number.isInteger);
  const dtype = checkDType('arange', opts.dtype ?? (ints ? 'int32' : 'float32'));
  const a = new (typedArrayCtor(dtype))(n);
  for (let i = 0; i < n; i++) a[i] = start + i * step;
  return fromTyped(a, [n], dtype, opts.device ?? 'cpu');
}

/** n evenly spaced values from start to end inclusive. @example `linspace(0, 1, 5)` */
export function linspace(start: number, end: number, n: number, opts: CreateOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`linspace: expected a non-negative integer count, got ${n}`);
  const dtype = checkDType('linspace', opts.dtype ?? 'float32');
  const a = new (typedArrayCtor(dtype))(n);
  for (let i = 0; i < n; i++) a[i] = n === 1 ? start : start + ((end - start) * i) / (n - 1);
  return fromTyped(a, [n], dtype, opts.device ?? 'cpu');
}

/** The n x m identity matrix. @example `eye(3)` */
export function eye(n: number, m = n, opts: CreateOptions = {}): Tensor {
  checkShapeArg('eye', [n, m]);
  const dtype = checkDType('eye', opts.dtype ?? 'float32');
  const a = new (typedArrayCtor(dtype))(n * m);
  for (let i = 0; i < Math.min(n, m); i++) a[i * m + i] = 1;
  return fromTyped(a, [n, m], dtype, opts.device ?? 'cpu');
}

