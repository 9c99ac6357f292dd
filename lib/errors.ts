/**
 * Error classes thrown by tensile. Every user error is one of these, with a message of the shape
 * `"<op>: expected X, got Y"`.
 *
 * @example
 * ```ts
 * import { tensor, ShapeError } from 'tensile';
 * try { tensor([1, 2]).add(tensor([1, 2, 3])); } catch (e) { console.log(e instanceof ShapeError); } // true
 * ```
 */
export class TensileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** Shapes that do not fit the op (rank, sizes, broadcasting). @example `new ShapeError('conv2d: expected ...')` */
export class ShapeError extends TensileError {}
/** A dtype the op does not accept. @example `new DTypeError('matmul: expected float32, got int32')` */
export class DTypeError extends TensileError {}
/** An index or label out of range. @example `new IndexError('cross_entropy: expected labels in [0, 10) ...')` */
export class IndexError extends TensileError {}
/** A device or backend that cannot run the op. @example `new DeviceError('conv2d: not implemented for device cuda')` */
export class DeviceError extends TensileError {}
/** Out of memory on a device. @example `new MemoryError('out of memory allocating 4096 bytes on cpu')` */
export class MemoryError extends TensileError {}
/** A tensor used after dispose(). @example `new DisposedError('add: expected a live tensor, got a disposed one')` */
export class DisposedError extends TensileError {}
/** An argument of the wrong kind or value (not a shape or dtype problem). @example `new ArgumentError('...')` */
export class ArgumentError extends TensileError {}
/** An error from native code without a more specific class; `code` names the failing native op. @example `catch (e) { if (e instanceof NativeError) ... }` */
export class NativeError extends TensileError {
  code: string;
  constructor(message: string) {
    super(message);
    const m = /^([a-z0-9_]+):/.exec(message);
    this.code = m ? m[1]! : 'native';
  }
}

/** The classes native code throws, in the order of native/core/types.h's ErrKind. @example `nativeErrorClasses[1] === ShapeError` */
export const nativeErrorClasses = [NativeError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError] as const;
