import { ArgumentError, ShapeError } from '../errors.js';
import { DType, DTYPE_SIZE, show } from '../dtype.js';

export type Shape = readonly number[];

/**
 * The most dims a tensor may have: native/core/types.h's kMaxDims (a record's shapes and strides are fixed arrays
 * of it, and a longer one makes the whole command buffer malformed). Every shape that reaches a record passes
 * numelOf (creation, reshape/view, expand, broadcasting) or checkRank (unsqueeze), so it fails at the user's call.
 */
export const MAX_DIMS = 8;
/**
 * The largest tensor, in bytes (1 TiB), that lib/ records; a larger one is a ShapeError at the call (a size the
 * op cannot take, as lib/errors.ts defines it), not an allocation that fails later or a RangeError from deep inside.
 */
export const MAX_BYTES = 2 ** 40;

export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** A ShapeError for shapes of more than MAX_DIMS dims. */
export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_DIMS) {
    throw new ShapeError(`${op}: expected at most ${MAX_DIMS} dims, got shape ${fmt(shape)} (${shape.length} dims)`);
  }
}

/** Element count; a ShapeError for too many dims, negative or non-integer sizes, more than 2^40 elements. */
export function numelOf(op: string, shape: Shape): number {
  checkRank(op, shape);
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: expected non-negative integer sizes, got shape ${fmt(shape)}`);
    }
    n *= d;
  }
  if (n > MAX_BYTES) throw new ShapeError(`${op}: expected at most 2^40 elements, got shape ${fmt(shape)} (${n} elements)`);
  return n;
}

/** numelOf, and a ShapeError when a tensor of `dtype` and `shape` would take more than MAX_BYTES. */
export function bytesOf(op: string, shape: Shape, dtype: DType): number {
  const bytes = numelOf(op, shape) * DTYPE_SIZE[dtype];
  if (bytes > MAX_BYTES) {
    throw new ShapeError(`${op}: expected a tensor of at most 2^40 bytes (1 TiB), got shape ${fmt(shape)} of ${dtype} (${bytes} bytes)`);
  }
  return bytes;
}

export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** axis in [0, ndim), from one in [-ndim, ndim); a 0-d tensor takes axis 0 or -1, as in PyTorch. */
export function normAxis(op: string, axis: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(axis)) throw new ArgumentError(`${op}: expected an integer axis, got ${show(axis)}`);
  if (axis < -n || axis >= n) throw new ShapeError(`${op}: expected an axis in [${-n}, ${n - 1}], got ${axis}`);
  return axis < 0 ? axis + n : axis;
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: expected broadcastable shapes, got ${fmt(a)} and ${fmt(b)}`);
    }
    out[i] = da === 1 ? db : da;
  }
  numelOf(op, out);
  return out;
}

/** Strides of a view of (shape, strides) broadcast to `to` (stride 0 on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: readonly number[], to: Shape): number[] {
  const n = to.length;
  const out = new Array<number>(n).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const j = n - shape.length + i;
    out[j] = shape[i] === 1 && to[j] !== 1 ? 0 : strides[i]!;
  }
  return out;
}

/**
 * Merges adjacent dims that every operand walks contiguously, so kernels see as few (and long) rows as possible.
 * `stridesList[k]` are operand k's strides over `shape`; returns the coalesced shape and strides.
 */
export function coalesce(shape: Shape, stridesList: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1 && shape.length > 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k]![last] === s[i]! * d)) {
      outShape[last]! *= d;
      stridesList.forEach((s, k) => (outStrides[k]![last] = s[i]!));
    } else {
      outShape.push(d);
      stridesList.forEach((s, k) => outStrides[k]!.push(s[i]!));
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    stridesList.forEach((_, k) => outStrides[k]!.push(1));
  }
  return { shape: outShape, strides: outStrides };
}

/** shape as a list of sizes (numelOf's checks); with a dtype, also bytesOf's. */
export function checkShapeArg(op: string, shape: unknown, dtype?: DType): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: expected a shape array, got ${String(shape)}`);
  if (dtype === undefined) numelOf(op, shape as number[]);
  else bytesOf(op, shape as number[], dtype);
  return shape as number[];
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
