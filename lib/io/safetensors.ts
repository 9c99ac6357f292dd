/**
 * Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets} plus "__metadata__" (string to string), then the raw little-endian bytes), so files
 * move to and from the PyTorch / Hugging Face ecosystem. Nested state (model + optimizer + step ...) keeps every
 * tensor in the body under a dotted name and the structure with the plain values in __metadata__["tensile.structure"].
 * Writes are atomic (temporary file, fsync, rename, fsync of the directory); loads validate the header before
 * allocating anything.
 */
import { open, rename, unlink, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArgumentError, TensileError } from '../errors.js';
import { DType, typedArrayCtor, DTYPE_SIZE } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';

/** A checkpoint file that is missing, truncated or not valid safetensors. @example `try { await load(p) } catch (e) { if (e instanceof CheckpointError) ... }` */
export class CheckpointError extends TensileError {}

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', uint8: 'U8' };
const FROM_ST: Record<string, DType> = { F32: 'float32', F64: 'float64', I32: 'int32', U8: 'uint8' };
const MAX_HEADER = 100 * 1024 * 1024;
const STRUCT_KEY = 'tensile.structure';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function flatten(v: unknown, path: string, tensors: Map<string, Tensor>, depth = 0): Json {
  if (depth > 64) throw new ArgumentError('save: expected state nested at most 64 levels deep, got deeper');
  if (v instanceof Tensor) {
    const key = path || 'tensor';
    if (tensors.has(key)) throw new ArgumentError(`save: expected unique tensor names, got '${key}' twice`);
    tensors.set(key, v);
    return { __tensor__: key };
  }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { __number__: String(v) };
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => flatten(x, path ? `${path}.${i}` : String(i), tensors, depth + 1));
  if (typeof v === 'object' && v !== undefined && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v as object)) {
      if (x === undefined) continue;
      out[k] = flatten(x, path ? `${path}.${k}` : k, tensors, depth + 1);
    }
    return out;
  }
  throw new ArgumentError(`save: expected tensors, numbers, strings, booleans, null, arrays and plain objects, got ${Object.prototype.toString.call(v)} at '${path}'`);
}

function unflatten(v: Json, tensors: Map<string, Tensor>): unknown {
  if (Array.isArray(v)) return v.map((x) => unflatten(x, tensors));
  if (v && typeof v === 'object') {
    if (typeof v['__tensor__'] === 'string' && Object.keys(v).length === 1) {
      const t = tensors.get(v['__tensor__']);
      if (!t) throw new CheckpointError(`load: expected tensor '${v['__tensor__']}' named in the structure, got none in the file`);
      return t;
    }
    if (typeof v['__number__'] === 'string' && Object.keys(v).length === 1) return Number(v['__number__']);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unflatten(x, tensors)]));
  }
  return v;
}

/**
 * Saves a tensor map or nested state to `path` atomically: a crash leaves the previous file intact.
 * Flat maps of tensors give a plain safetensors file; nested state also records its structure in __metadata__.
 * @example `await save({ model: model.stateDict(), optimizer: opt.stateDict(), step: 1200 }, 'ckpt.safetensors')`
 */
export async function save(state: Record<string, unknown> | Tensor, path: string, o: { metadata?: Record<string, string> } = {}): Promise<void> {
  const tensors = new Map<string, Tensor>();
  const structure = flatten(state, '', tensors);
  const flat = state instanceof Tensor || Object.values(state).every((v) => v instanceof Tensor);
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = { format: 'pt', ...(o.metadata ?? {}) };
  if (!flat) meta[STRUCT_KEY] = JSON.stringify(structure);
  header['__metadata__'] = meta;
  let offset = 0;
  const entries = [...tensors.entries()];
  for (const [k, t] of entries) {
    const n = t.numel * DTYPE_SIZE[t.dtype];
    header[k] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);  // 8-byte aligned body, as the reference writer does
  const hbuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hbuf.length));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.write(len);
    await fh.write(hbuf);
    for (const [, t] of entries) {
      const data = await t.data();  // little-endian on every platform this addon builds for (x86-64)
      await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Loads a safetensors file: the nested state it was saved from, or a flat map of tensors for files written
 * elsewhere. The header is validated (size, JSON, dtypes, shapes, offsets inside the file, no overlap) before any
 * tensor is allocated.
 * @example `const ckpt = await load('ckpt.safetensors'); model.loadStateDict(ckpt.model)`
 */
export async function load(path: string): Promise<Record<string, unknown>> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw new CheckpointError(`load: expected a readable file at ${path}, got ${(e as Error).message}`);
  }
  const fh = await open(path, 'r');
  try {
    if (size < 8) throw new CheckpointError(`load: expected a safetensors file of at least 8 bytes, got ${size} bytes in ${path}`);
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const hlen = lenBuf.readBigUInt64LE();
    if (hlen > BigInt(MAX_HEADER) || hlen > BigInt(size - 8)) {
      throw new CheckpointError(`load: expected a header length within the file (${size - 8} bytes) and at most ${MAX_HEADER}, got ${hlen} in ${path}`);
    }
    const hbuf = Buffer.alloc(Number(hlen));
    await fh.read(hbuf, 0, hbuf.length, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      throw new CheckpointError(`load: expected a JSON header, got a parse error (${(e as Error).message}) in ${path}`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(`load: expected a JSON object header in ${path}`);
    const dataStart = 8 + Number(hlen), dataLen = size - dataStart;
    const specs: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
    let meta: Record<string, string> = {};
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (!v || typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string')) {
          throw new CheckpointError(`load: expected __metadata__ to map strings to strings in ${path}`);
        }
        meta = v as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = FROM_ST[String(e?.dtype)];
      if (!dtype) throw new CheckpointError(`load: expected dtype F32, F64, I32 or U8 for '${name}', got ${JSON.stringify(e?.dtype)}`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new CheckpointError(`load: expected a shape of non-negative integers for '${name}', got ${JSON.stringify(e.shape)}`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
        throw new CheckpointError(`load: expected data_offsets [begin, end] for '${name}', got ${JSON.stringify(off)}`);
      }
      const numel = (e.shape as number[]).reduce((a, b) => a * b, 1);
      if (off[1] - off[0] !== numel * DTYPE_SIZE[dtype]) {
        throw new CheckpointError(`load: expected ${numel * DTYPE_SIZE[dtype]} bytes for '${name}' (${dtype} [${(e.shape as number[]).join(',')}]), got ${off[1] - off[0]}`);
      }
      if (off[1] > dataLen) {
        throw new CheckpointError(`load: expected '${name}' within the data (${dataLen} bytes), got offsets [${off[0]}, ${off[1]}]: the file is truncated`);
      }
      specs.push({ name, dtype, shape: e.shape as number[], begin: off[0], end: off[1] });
    }
    const sorted = [...specs].sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.begin < sorted[i - 1]!.end) {
        throw new CheckpointError(`load: expected non-overlapping tensors, got '${sorted[i - 1]!.name}' and '${sorted[i]!.name}' overlapping`);
      }
    }
    const tensors = new Map<string, Tensor>();
    for (const s of specs) {
      const bytes = Buffer.alloc(s.end - s.begin);
      await fh.read(bytes, 0, bytes.length, dataStart + s.begin);
      const Ctor = typedArrayCtor(s.dtype);
      const arr = new Ctor(bytes.buffer, bytes.byteOffset, bytes.length / DTYPE_SIZE[s.dtype]);
      tensors.set(s.name, tensor(arr, { shape: s.shape, dtype: s.dtype }));
    }
    const struct = meta[STRUCT_KEY];
    if (struct === undefined) return Object.fromEntries(tensors);
    let parsed: Json;
    try {
      parsed = JSON.parse(struct);
    } catch {
      throw new CheckpointError(`load: expected valid JSON in __metadata__["${STRUCT_KEY}"] of ${path}`);
    }
    return unflatten(parsed, tensors) as Record<string, unknown>;
  } finally {
    await fh.close();
  }
}
