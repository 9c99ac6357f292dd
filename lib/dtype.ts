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
export function checkDType(op: string, d: unknown): DType {
  if (d === 'float32' || d === 'float64' || d === 'int32' || d === 'uint8') return d;
  throw new DTypeError(`${op}: expected dtype 'float32', 'float64', 'int32' or 'uint8', got ${JSON.stringify(d)}`);
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
