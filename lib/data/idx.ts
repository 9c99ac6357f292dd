/**
 * IDX files (the MNIST family's format: magic 0x0000 | type | ndim, ndim big-endian u32 sizes, then the data),
 * plain or gzip. The header is read and checked first (magic, type, dimensions, and the exact payload size), and the
 * output is allocated only then.
 */
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { TensileError } from '../errors.js';

/** A data file that is missing, malformed or truncated. @example `try { await readIdx(p) } catch (e) { if (e instanceof data.DataError) ... }` */
export class DataError extends TensileError {}

export interface IdxArray {
  shape: number[];
  /** uint8 data as Uint8Array; int32 as Int32Array; float32 as Float32Array; float64 as Float64Array */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { size: number; name: string }> = {
  0x08: { size: 1, name: 'uint8' }, 0x09: { size: 1, name: 'int8' }, 0x0b: { size: 2, name: 'int16' },
  0x0c: { size: 4, name: 'int32' }, 0x0d: { size: 4, name: 'float32' }, 0x0e: { size: 8, name: 'float64' },
};
const MAX_BYTES = 2 ** 32;

/** Reads a whole IDX file (gzip when it starts with the gzip magic). @example `const { shape, data } = await readIdx('train-labels-idx1-ubyte.gz')` */
export async function readIdx(path: string): Promise<IdxArray> {
  let head: Buffer;
  try {
    const fh = await open(path, 'r');
    head = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    await fh.close();
  } catch (e) {
    throw new DataError(`readIdx: expected a readable IDX file at ${path}, got ${(e as Error).message}`);
  }
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? createReadStream(path).pipe(createGunzip()) : createReadStream(path);
  let header: Buffer | null = null;
  let pending = Buffer.alloc(0);
  let out: Uint8Array | null = null;
  let filled = 0;
  let info: { shape: number[]; type: number; bytes: number } | null = null;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let buf = chunk;
      if (!info) {
        pending = Buffer.concat([pending, buf]);
        if (pending.length < 4) continue;
        if (pending[0] !== 0 || pending[1] !== 0 || !TYPES[pending[2]!] || pending[3]! < 1 || pending[3]! > 8) {
          throw new DataError(`readIdx: expected the IDX magic 0x0000 <type 08..0e> <ndim 1..8>, got 0x${pending.subarray(0, 4).toString('hex')} in ${path}`);
        }
        const ndim = pending[3]!;
        if (pending.length < 4 + 4 * ndim) continue;
        header = pending.subarray(0, 4 + 4 * ndim);
        const shape = Array.from({ length: ndim }, (_, i) => header!.readUInt32BE(4 + 4 * i));
        const type = pending[2]!;
        const bytes = shape.reduce((a, b) => a * b, 1) * TYPES[type]!.size;
        if (bytes > MAX_BYTES) throw new DataError(`readIdx: expected at most ${MAX_BYTES} bytes of data, got dimensions [${shape.join(',')}] in ${path}`);
        info = { shape, type, bytes };
        out = new Uint8Array(bytes);
        buf = pending.subarray(4 + 4 * ndim);
      }
      if (filled + buf.length > info.bytes) {
        throw new DataError(`readIdx: expected ${info.bytes} bytes of data for dimensions [${info.shape.join(',')}], got more in ${path}`);
      }
      out!.set(buf, filled);
      filled += buf.length;
    }
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`readIdx: expected a valid ${gz ? 'gzip ' : ''}IDX file at ${path}, got ${(e as Error).message}`);
  }
  if (!info) throw new DataError(`readIdx: expected an IDX header, got a file of ${pending.length} bytes in ${path}`);
  if (filled !== info.bytes) {
    throw new DataError(`readIdx: expected ${info.bytes} bytes of data for dimensions [${info.shape.join(',')}], got ${filled}: ${path} is truncated`);
  }
  const bytes = out!;
  const t = TYPES[info.type]!.name;
  if (t === 'uint8') return { shape: info.shape, data: bytes };
  if (t === 'int8') return { shape: info.shape, data: new Int8Array(bytes.buffer) };
  // multi-byte IDX values are big-endian
  const dv = new DataView(bytes.buffer);
  const n = info.bytes / TYPES[info.type]!.size;
  if (t === 'int16') return { shape: info.shape, data: Int16Array.from({ length: n }, (_, i) => dv.getInt16(2 * i)) };
  if (t === 'int32') return { shape: info.shape, data: Int32Array.from({ length: n }, (_, i) => dv.getInt32(4 * i)) };
  if (t === 'float32') return { shape: info.shape, data: Float32Array.from({ length: n }, (_, i) => dv.getFloat32(4 * i)) };
  return { shape: info.shape, data: Float64Array.from({ length: n }, (_, i) => dv.getFloat64(8 * i)) };
}
