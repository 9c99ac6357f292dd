/**
 * Checkpoints in the safetensors format (8-byte little-endian header length, a JSON header mapping names to
 * {dtype, shape, data_offsets} plus "__metadata__" (string to string), then the raw little-endian bytes), so files
 * move to and from the PyTorch / Hugging Face ecosystem. Nested state (model + optimizer + step ...) keeps every
 * tensor in the body under a dotted name and the structure with the plain values in __metadata__["tensile.structure"].
 * save() checks the whole state against what load() accepts before it touches the disk, then writes atomically
 * (a temporary file in the same directory, fsync, rename over the target, fsync of the directory; the temporary
 * file is removed on any failure). load() reads header and data through one open file, so a file renamed into
 * place meanwhile is never mixed with the one it replaces, and validates the header before allocating anything.
 */
import { promises as fsp } from 'node:fs';  // through the module object: the tests observe the atomic write's steps
import type { FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArgumentError, DisposedError, TensileError } from '../errors.js';
import { DType, typedArrayCtor, DTYPE_SIZE } from '../dtype.js';
import { Tensor } from '../tensor/tensor.js';
import { Device, deviceArg } from '../native.js';
import { tensor } from '../tensor/create.js';
import { fmt } from '../tensor/shape.js';
import { describe, optionsArg } from '../check.js';

/** A checkpoint file that is missing, truncated or not valid safetensors, or that cannot be written. @example `try { await load(p) } catch (e) { if (e instanceof CheckpointError) ... }` */
export class CheckpointError extends TensileError {}

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', uint8: 'U8' };
// I64 (PyTorch's num_batches_tracked, its integer tensors) loads as int32, tensile having no int64: values outside
// int32 are refused
const FROM_ST: Record<string, DType> = { F32: 'float32', F64: 'float64', I32: 'int32', I64: 'int32', U8: 'uint8' };
const MAX_HEADER = 100 * 1024 * 1024;
const STRUCT_KEY = 'tensile.structure';
const META_KEY = '__metadata__';
const IO_CHUNK = 1 << 30;  // one read(2)/write(2) moves at most ~2 GiB: larger tensors go in chunks

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;

// The structure's markers: an object of this single key and a string value stands for a tensor / a number JSON
// cannot hold. unflatten() reads every such object as a marker, so flatten() refuses one in the user's state.
const MARKERS: Record<string, string> = { __tensor__: 'a tensor', __number__: 'a number JSON cannot hold' };

function flatten(v: unknown, path: string, tensors: Map<string, Tensor>, depth = 0): Json {
  if (depth > 64) throw new ArgumentError('save: expected state nested at most 64 levels deep, got deeper');
  if (v instanceof Tensor) {
    const key = depth === 0 ? 'tensor' : path;
    if (v.isDisposed) throw new DisposedError(`save: expected a live tensor at '${key}', got a disposed one (shape ${fmt(v.shape)}, ${v.dtype})`);
    if (key === META_KEY) throw new ArgumentError(`save: expected tensor names other than '${META_KEY}' (the safetensors header's metadata entry), got a tensor named '${key}'`);
    if (tensors.has(key)) throw new ArgumentError(`save: expected unique tensor names, got '${key}' twice`);
    tensors.set(key, v);
    return { __tensor__: key };
  }
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return { __number__: '-0' };  // JSON writes -0 as 0
    if (!Number.isFinite(v)) return { __number__: String(v) };
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => flatten(x, path ? `${path}.${i}` : String(i), tensors, depth + 1));
  if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 1 && keys[0]! in MARKERS && typeof v[keys[0]!] === 'string') {
      throw new ArgumentError(`save: expected no object {${keys[0]}: string} (it marks ${MARKERS[keys[0]!]} in the saved structure), got {${keys[0]}: ${describe(v[keys[0]!])}} at '${path}'`);
    }
    const out: Record<string, Json> = {};
    for (const k of keys) out[k] = flatten(v[k], path ? `${path}.${k}` : k, tensors, depth + 1);
    return out;
  }
  throw new ArgumentError(`save: expected tensors, numbers, strings, booleans, null, arrays and plain objects, got ${describe(v)} at '${path}'`);
}

function unflatten(v: Json, tensors: Map<string, Tensor>, path: string): unknown {
  if (Array.isArray(v)) return v.map((x) => unflatten(x, tensors, path));
  if (v && typeof v === 'object') {
    if (typeof v['__tensor__'] === 'string' && Object.keys(v).length === 1) {
      const t = tensors.get(v['__tensor__']);
      if (!t) throw new CheckpointError(`load: expected tensor '${v['__tensor__']}' named in the structure, got none in '${path}'`);
      return t;
    }
    if (typeof v['__number__'] === 'string' && Object.keys(v).length === 1) return Number(v['__number__']);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unflatten(x, tensors, path)]));
  }
  return v;
}

/**
 * A CheckpointError for a failed file system call, naming the user's path and the system's reason (never the
 * temporary file's name, which Node puts in its messages). Errors that are not system errors pass through.
 */
function ioError(e: unknown, message: string): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || e instanceof TensileError) return e;
  const reason = /^[A-Z0-9_]+: ([^,]*)/.exec((e as Error).message)?.[1];
  return new CheckpointError(`${message}, got ${code}${reason ? ` (${reason})` : ''}`);
}

async function writeAll(fh: FileHandle, buf: Uint8Array, pos: number): Promise<number> {
  for (let done = 0; done < buf.length;) {
    const { bytesWritten } = await fh.write(buf, done, Math.min(buf.length - done, IO_CHUNK), pos + done);
    done += bytesWritten;
  }
  return pos + buf.length;
}

function metadataArg(m: unknown): Record<string, string> {
  if (m === undefined) return {};
  if (!isPlainObject(m)) throw new ArgumentError(`save: expected metadata to be a plain object of strings, got ${describe(m)}`);
  for (const [k, x] of Object.entries(m)) {
    if (typeof x !== 'string') throw new ArgumentError(`save: expected metadata values to be strings (safetensors metadata maps strings to strings), got ${describe(x)} for '${k}'`);
    if (k === STRUCT_KEY) throw new ArgumentError(`save: expected metadata keys other than '${STRUCT_KEY}' (where save keeps the state's structure), got '${k}'`);
  }
  return m as Record<string, string>;
}

/**
 * Saves a tensor map or nested state to `path` atomically: a crash leaves the previous file intact.
 * Flat maps of tensors give a plain safetensors file; nested state also records its structure in __metadata__.
 * Everything load() would refuse (metadata that is not string to string, a tensor named `__metadata__`, a disposed
 * tensor, a header over 100 MiB ...) is refused before anything is written, leaving the existing file untouched.
 * @example `await save({ model: model.stateDict(), optimizer: opt.stateDict(), step: 1200 }, 'ckpt.safetensors')`
 */
export async function save(state: Record<string, unknown> | Tensor, path: string, o: { metadata?: Record<string, string> } = {}): Promise<void> {
  // every check first: a state load() would refuse never replaces a good file
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`save: expected path to be a non-empty string, got ${describe(path)}`);
  if (!(state instanceof Tensor) && !isPlainObject(state)) {
    throw new ArgumentError(`save: expected state to be a Tensor or a plain object, got ${describe(state)}`);
  }
  const userMeta = metadataArg(optionsArg('save', o).metadata);
  const tensors = new Map<string, Tensor>();
  const structure = flatten(state, '', tensors);
  const flat = state instanceof Tensor || Object.values(state).every((v) => v instanceof Tensor);
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = { format: 'pt', ...userMeta };
  if (!flat) meta[STRUCT_KEY] = JSON.stringify(structure);
  header[META_KEY] = meta;
  let offset = 0;
  const entries = [...tensors.entries()];
  for (const [k, t] of entries) {
    const n = t.numel * DTYPE_SIZE[t.dtype];
    header[k] = { dtype: TO_ST[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  const hlen = Buffer.byteLength(json);
  if (hlen > MAX_HEADER) {
    throw new ArgumentError(`save: expected a header of at most ${MAX_HEADER} bytes (the most load accepts), got ${hlen} bytes of names, shapes and plain values`);
  }
  json += ' '.repeat((8 - (hlen % 8)) % 8);  // 8-byte aligned body, as the reference writer does
  const hbuf = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hbuf.length));
  try {
    if ((await fsp.stat(path)).isDirectory()) throw new CheckpointError(`save: expected '${path}' to name a file, got a directory`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, `save: expected a file path at '${path}'`);
  }

  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await fsp.open(tmp, 'wx');  // a new file of our own: never one that happens to exist under that name
  } catch (e) {
    throw ioError(e, `save: expected a writable directory for '${path}'`);
  }
  let open = true;
  let step = `save: expected to write '${path}'`;
  try {
    let pos = await writeAll(fh, len, 0);
    pos = await writeAll(fh, hbuf, pos);
    for (const [, t] of entries) {
      const data = await t.data();  // little-endian on every platform this addon builds for (x86-64)
      pos = await writeAll(fh, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    }
    await fh.sync();
    open = false;
    await fh.close();
    step = `save: expected to replace '${path}' with the new checkpoint`;
    await fsp.rename(tmp, path);
  } catch (e) {
    if (open) await fh.close().catch(() => {});
    await fsp.unlink(tmp).catch(() => {});
    throw ioError(e, step);
  }
  try {
    const dir = await fsp.open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (e) {
    throw ioError(e, `save: expected to sync the directory of '${path}' (the new file is in place but may not survive a power loss)`);
  }
}

/**
 * Loads a safetensors file: the nested state it was saved from, or a flat map of tensors for files written
 * elsewhere. The header is validated (size, JSON, dtypes, shapes, offsets inside the file, no overlap) before any
 * tensor is allocated. Header and data come from one open file: a save() to the same path meanwhile gives either
 * the old or the new checkpoint, never a mix.
 * `device` puts the tensors there ('cpu' by default; a GPU: 'cuda', 'cuda:N').
 * @example `const ckpt = await load('ckpt.safetensors'); model.loadStateDict(ckpt.model)`
 */
export async function load(path: string, opts?: { device?: Device | 'auto' }): Promise<Record<string, unknown>> {
  return (await read(path, 'load', loadDevice('load', opts))).state;
}
function loadDevice(op: string, opts: { device?: Device | 'auto' } | undefined): Device {
  const o = optionsArg(op, opts);
  return o.device === undefined ? 'cpu' : deviceArg(op, o.device);
}

/**
 * load() with the file's `__metadata__` besides the state: every string entry save() wrote (`format` and the
 * `metadata` option's entries; not the structure of nested state, which the state itself is), or the entries another
 * writer put there. State and metadata come from the same open file.
 * @example `const { state, metadata } = await loadWithMetadata('ckpt.safetensors'); console.log(metadata['format'])`
 */
export async function loadWithMetadata(path: string, opts?: { device?: Device | 'auto' }): Promise<{ state: Record<string, unknown>; metadata: Record<string, string> }> {
  return read(path, 'loadWithMetadata', loadDevice('loadWithMetadata', opts));
}

async function read(path: string, op: string, device: Device): Promise<{ state: Record<string, unknown>; metadata: Record<string, string> }> {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`${op}: expected path to be a non-empty string, got ${describe(path)}`);
  let fh: FileHandle;
  let size: number;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    throw ioError(e, `${op}: expected a readable file at '${path}'`);
  }
  try {
    try {
      const st = await fh.stat();  // the open file's size: the path may already name a newer file
      if (!st.isFile()) throw new CheckpointError(`${op}: expected a file at '${path}', got ${st.isDirectory() ? 'a directory' : 'something that is not a regular file'}`);
      size = st.size;
    } catch (e) {
      throw ioError(e, `${op}: expected a readable file at '${path}'`);
    }
    // reads exactly len bytes at pos of the open file; fewer means the file shrank since stat (rewritten in place)
    const readAt = async (len: number, pos: number, what: string): Promise<Buffer<ArrayBuffer>> => {
      const buf = Buffer.alloc(len);
      for (let done = 0; done < len;) {
        let n: number;
        try {
          n = (await fh.read(buf, done, Math.min(len - done, IO_CHUNK), pos + done)).bytesRead;
        } catch (e) {
          throw ioError(e, `${op}: expected to read ${what} of '${path}'`);
        }
        if (n === 0) throw new CheckpointError(`${op}: expected ${len} bytes of ${what} at offset ${pos} of '${path}', got ${done}: the file is truncated (it shrank while being read)`);
        done += n;
      }
      return buf;
    };
    if (size < 8) throw new CheckpointError(`${op}: expected a safetensors file of at least 8 bytes, got ${size} bytes in '${path}'`);
    const hlen = (await readAt(8, 0, 'the header length')).readBigUInt64LE();
    if (hlen > BigInt(MAX_HEADER) || hlen > BigInt(size - 8)) {
      throw new CheckpointError(`${op}: expected a header length within the file (${size - 8} bytes) and at most ${MAX_HEADER}, got ${hlen} in '${path}'`);
    }
    const hbuf = await readAt(Number(hlen), 8, 'the header');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch (e) {
      throw new CheckpointError(`${op}: expected a JSON header, got a parse error (${(e as Error).message}) in '${path}'`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new CheckpointError(`${op}: expected a JSON object header, got ${describe(header)} in '${path}'`);
    const dataStart = 8 + Number(hlen), dataLen = size - dataStart;
    const specs: { name: string; dtype: DType; wide: boolean; shape: number[]; begin: number; end: number }[] = [];
    let meta: Record<string, string> = {};
    for (const [name, v] of Object.entries(header)) {
      if (name === META_KEY) {
        if (!isPlainObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
          throw new CheckpointError(`${op}: expected ${META_KEY} to map strings to strings, got ${JSON.stringify(v).slice(0, 80)} in '${path}'`);
        }
        meta = v as Record<string, string>;
        continue;
      }
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = FROM_ST[String(e?.dtype)];
      if (!dtype) throw new CheckpointError(`${op}: expected dtype F32, F64, I32, I64 or U8 for '${name}', got ${JSON.stringify(e?.dtype)} in '${path}'`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new CheckpointError(`${op}: expected a shape of non-negative integers for '${name}', got ${JSON.stringify(e.shape)} in '${path}'`);
      }
      const off = e.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
        throw new CheckpointError(`${op}: expected data_offsets [begin, end] for '${name}', got ${JSON.stringify(off)} in '${path}'`);
      }
      const numel = (e.shape as number[]).reduce((a, b) => a * b, 1);
      const wide = e.dtype === 'I64';
      const size = wide ? 8 : DTYPE_SIZE[dtype];
      if (off[1] - off[0] !== numel * size) {
        throw new CheckpointError(`${op}: expected ${numel * size} bytes for '${name}' (${wide ? 'I64' : dtype} [${(e.shape as number[]).join(',')}]), got ${off[1] - off[0]} in '${path}'`);
      }
      if (off[1] > dataLen) {
        throw new CheckpointError(`${op}: expected '${name}' within the data (${dataLen} bytes), got offsets [${off[0]}, ${off[1]}]: the file '${path}' is truncated`);
      }
      if (off[1] - off[0] > bufferConstants.MAX_LENGTH) {
        throw new CheckpointError(`${op}: expected tensors of at most ${bufferConstants.MAX_LENGTH} bytes (the largest buffer Node allocates), got ${off[1] - off[0]} bytes for '${name}' in '${path}'`);
      }
      specs.push({ name, dtype, wide, shape: e.shape as number[], begin: off[0], end: off[1] });
    }
    const sorted = [...specs].sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < sorted.length; i++) {
      if (sorted[i]!.begin < sorted[i - 1]!.end) {
        throw new CheckpointError(`${op}: expected non-overlapping tensors, got '${sorted[i - 1]!.name}' and '${sorted[i]!.name}' overlapping in '${path}'`);
      }
    }
    const tensors = new Map<string, Tensor>();
    for (const s of specs) {
      const bytes = await readAt(s.end - s.begin, dataStart + s.begin, `tensor '${s.name}'`);
      if (s.wide) {
        const src = new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
        const arr = new Int32Array(src.length);
        for (let i = 0; i < src.length; i++) {
          const v = src[i]!;
          if (v < -2147483648n || v > 2147483647n) {
            throw new CheckpointError(`${op}: expected I64 values of '${s.name}' within int32 (tensile has no int64), got ${v} at ${i} in '${path}'`);
          }
          arr[i] = Number(v);
        }
        tensors.set(s.name, tensor(arr, { shape: s.shape, dtype: 'int32', device }));
        continue;
      }
      const Ctor = typedArrayCtor(s.dtype);
      const arr = new Ctor(bytes.buffer, bytes.byteOffset, bytes.length / DTYPE_SIZE[s.dtype]);
      tensors.set(s.name, tensor(arr, { shape: s.shape, dtype: s.dtype, device }));
    }
    const struct = meta[STRUCT_KEY];
    const metadata = Object.fromEntries(Object.entries(meta).filter(([k]) => k !== STRUCT_KEY));
    if (struct === undefined) return { state: Object.fromEntries(tensors), metadata };
    let parsed: Json;
    try {
      parsed = JSON.parse(struct);
    } catch {
      throw new CheckpointError(`${op}: expected valid JSON in ${META_KEY}["${STRUCT_KEY}"], got a parse error in '${path}'`);
    }
    return { state: unflatten(parsed, tensors, path) as Record<string, unknown>, metadata };
  } finally {
    await fh.close();
  }
}
