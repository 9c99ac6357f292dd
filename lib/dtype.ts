import { DTypeError } from './errors.js';

/** Element types. float32 is the primary one; float64 serves gradient checks; int32 labels; uint8 images/masks. */
export type DType = 'float32' | 'float64' | 'int32' | 'uint8';
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;
export type AnyTypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Native dtype ids (native/core/types.h DType). */
export const DTYPE_ID: Record<DType, number> = { float32: 0, float64: 1, int32: 2, uint8: 3 };
export const DTYPE_SIZE: Record<DType, number> = { float32: 4, float64: 8, int32: 4, uint8: 1 };
const RANK: Record<DType, number> = { uint8: 0, int32: 1, float32: 2, float64: 3 };
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint8'];

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}
/** The result dtype of a binary op: the wider of the two (uint8 < int32 < float32 < float64), as PyTorch does. */
export function promote(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}
/** d as a DType, or a DTypeError naming the op and what it got (`'bool'`, `undefined`); the one check of dtype names. */
export function checkDType(op: string, d: unknown): DType {
  if (d === 'float32' || d === 'float64' || d === 'int32' || d === 'uint8') return d;
  throw new DTypeError(`${op}: expected a dtype of float32, float64, int32 or uint8, got ${show(d)}`);
}
/** The range of an integer dtype, [lo, hi]; null for the float dtypes. */
export function intRange(d: DType): readonly [number, number] | null {
  return d === 'int32' ? INT32 : d === 'uint8' ? UINT8 : null;
}
const INT32 = [-(2 ** 31), 2 ** 31 - 1] as const;
const UINT8 = [0, 255] as const;
/**
 * A value for an error message, for modules below lib/check.ts (which imports Tensor; its describe() names tensors
 * and arrays): numbers as they print, strings quoted, `undefined`, `null`, else the kind of value.
 */
export function show(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'bigint') return `${v}n`;
  return Array.isArray(v) ? `an array of length ${v.length}` : `a ${typeof v}`;
}
export function typedArrayCtor(d: DType) {
  return d === 'float32' ? Float32Array : d === 'float64' ? Float64Array : d === 'int32' ? Int32Array : Uint8Array;
}
export function dtypeOfArray(a: ArrayLike<number>): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'uint8';
  return undefined;
}
