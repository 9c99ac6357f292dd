import { ArgumentError, ShapeError } from '../errors.js';

export type Shape = readonly number[];

export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** Element count; throws for negative, non-integer or overflowing sizes. */
export function numelOf(op: string, shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: expected non-negative integer sizes, got shape ${fmt(shape)}`);
    }
    n *= d;
  }
  if (n > Number.MAX_SAFE_INTEGER || n > 2 ** 40) {
    throw new ShapeError(`${op}: expected at most 2^40 elements, got shape ${fmt(shape)} (${n} elements)`);
  }
  return n;
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

export function normAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= Math.max(ndim, 1)) {
    throw new ShapeError(`${op}: expected an axis in [${-ndim}, ${ndim - 1}], got ${axis}`);
  }
  return axis < 0 ? axis + ndim : axis;
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

export function checkShapeArg(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: expected a shape array, got ${String(shape)}`);
  numelOf(op, shape as number[]);
  return shape as number[];
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
