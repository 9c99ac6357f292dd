// Tensors across threads. A Tensor is a handle into its thread's native stream, which no other thread can use:
// postMessage(tensor) copies only the object's fields, and the copy is no tensor (lib/check.ts's describe() names
// one passed to an op, with the way to do it). toMessage() reads the values into a plain, cloneable object whose
// buffer can be transferred; fromMessage() makes a tensor of it on the receiving thread.
import { types } from 'node:util';
import { ArgumentError } from '../errors.js';
import { DType, DTYPE_SIZE, checkDType, typedArrayCtor } from '../dtype.js';
import { describe, tensorArg } from '../check.js';
import { Tensor, fromTyped } from './tensor.js';
import { bytesOf, checkShapeArg, fmt } from './shape.js';

/**
 * A tensor as postMessage() can carry it: its values in `data` (row-major, `shape`'s element count of `dtype`),
 * made by toMessage() and turned back into a tensor by fromMessage().
 *
 * @example
 * ```ts
 * const m: TensorMessage = await toMessage(tensor([1, 2, 3]));
 * // { __tensile: 1, shape: [3], dtype: 'float32', data: ArrayBuffer { byteLength: 12 } }
 * ```
 */
export interface TensorMessage {
  readonly __tensile: 1;
  readonly shape: number[];
  readonly dtype: DType;
  readonly data: ArrayBuffer;
}

/**
 * The tensor's values, shape and dtype as a plain object to send with postMessage() (to a worker_thread, a
 * MessagePort); fromMessage() rebuilds the tensor on the other side. It waits for the ops that produce the values,
 * like data(), and copies them in row-major order (a view sends only its own elements). The `data` buffer belongs to
 * the message: list it as transferable to move it instead of copying it. Autograd state does not travel (the result
 * is a leaf, as a tensor made from its values is).
 *
 * @example
 * ```ts
 * const m = await toMessage(randn([2, 3]));
 * worker.postMessage(m, [m.data]);            // moves the 24 bytes instead of copying them
 * // in the worker: parentPort.on('message', (m) => { const x = fromMessage(m); ... })
 * ```
 */
export async function toMessage(t: Tensor): Promise<TensorMessage> {
  const x = tensorArg('toMessage', 'the argument', t);
  const v = await x.data();
  // data() returns a fresh array over a buffer of its own: that buffer is the message's
  const data = v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? (v.buffer as ArrayBuffer) : (v.slice().buffer as ArrayBuffer);
  return { __tensile: 1, shape: [...x.shape], dtype: x.dtype, data };
}

/**
 * A new tensor (on the CPU) holding the values of a message made by toMessage(), received through postMessage()
 * or structuredClone(). Throws an ArgumentError for anything else (a Tensor posted as it is names the fix), a
 * ShapeError for a bad shape, a DTypeError for an unknown dtype.
 *
 * @example
 * ```ts
 * parentPort.on('message', async (m) => {
 *   const x = fromMessage(m);                 // a Tensor of the sender's shape, dtype and values
 *   parentPort.postMessage(await toMessage(x.mul(2)));
 * });
 * ```
 */
export function fromMessage(m: unknown): Tensor {
  const op = 'fromMessage';
  if (m === null || typeof m !== 'object' || (m as { __tensile?: unknown }).__tensile !== 1) {
    throw new ArgumentError(`${op}: expected a message made by toMessage(), got ${describe(m)}`);
  }
  const msg = m as Partial<TensorMessage>;
  const dtype = checkDType(op, msg.dtype);
  const shape = checkShapeArg(op, msg.shape, dtype);
  const data = msg.data;
  if (!types.isArrayBuffer(data)) {
    throw new ArgumentError(`${op}: expected the message's data to be an ArrayBuffer, got ${describe(data)}`);
  }
  const bytes = bytesOf(op, shape, dtype);
  if (data.byteLength !== bytes) {
    throw new ArgumentError(
      `${op}: expected ${bytes} bytes of data for shape ${fmt(shape)} (${dtype}), got ${data.byteLength}` +
        (data.byteLength === 0 ? ' (a buffer transferred to another thread is left empty: send each message once)' : ''),
    );
  }
  return fromTyped(new (typedArrayCtor(dtype))(data, 0, bytes / DTYPE_SIZE[dtype]), [...shape], dtype);
}
