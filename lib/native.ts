/**
 * The one place that loads the addon and speaks to it. Ops are recorded into command buffers (Float64Arrays the
 * addon reads; record layout in native/core/runtime.h) and the pending records are submitted to the device's worker
 * in one native call: when an op with real work is recorded, when the buffer is full, before a read, and at the end
 * of the current job (a microtask). Tensor handles are small integers assigned here, reused as soon as released: a
 * dispose() is a record; a release by the GC goes to the worker with the same call, with the number of the handle's
 * last record.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeErrorClasses, ArgumentError, DeviceError, NativeError } from './errors.js';
import { AddonLoadError, loadAddon, type AddonInfo } from './loader.js';

/** An opaque native handle (a small integer): one reference to a storage, released by releaseHandle() or releaseCollected(). */
export type Handle = number & { readonly __handle: unique symbol };

interface Binding {
  init(o: { errors: readonly Function[]; buffers: readonly Float64Array[]; isa?: string }): { isa: string; isaError: string; collected: Int32Array };
  setIsa(name: string): string;
  opNames(): string[];
  supports(op: number, device: number, dtype: number): boolean;
  submit(buffer: number, start: number, end: number, seqEnd: number, memoryDelta: number, advance: boolean,
    released: Int32Array, lastUse: Float64Array, nReleased: number, mayInline: boolean): void;
  fromBytes(device: number, bytes: ArrayBufferView, h: Handle): void;
  track(tensors: readonly unknown[], ids: Int32Array, n: number): void;
  refillCollected(): boolean;
  /** on an idle stream the bytes at once (or a throw); otherwise a promise of them */
  read(h: Handle | 0, byteOffset: number, byteLength: number): ArrayBuffer | undefined | Promise<ArrayBuffer | undefined>;
  readSync(h: Handle | 0, byteOffset: number, byteLength: number): ArrayBuffer | undefined;
  memory(): { liveBytes: number; liveStorages: number; pooledBytes: number };
  trim(): void;
  noop(): void;
  numThreads(n?: number): number;
  cudaStatus(): { built: boolean; emulated: boolean; runtimeVersion: number; driverVersion: number; devices: number; reason: string };
  cudaProperties(ordinal: number): CudaProperties;
  cudaMemory(ordinal: number): CudaMemory;
  cudaSynchronize(): void;
  cudaEmptyCache(ordinal: number): void;
  cudaSetMemoryLimit(ordinal: number, bytes: number): void;
  cudaResetPeak(ordinal: number): void;
  cudaLibraries(): Record<'cublas' | 'cudnn', { found: boolean; version: number; path: string; reason: string; tried: string[] }>;
  /** which: 0 allowTF32, 1 benchmark, 2 deterministic */
  cudaSetSwitch(which: number, on: boolean): void;
  cudaLibraryPaths(reset: boolean): [op: string, path: string, calls: number][];
}

/** What cuda.getDeviceProperties() returns. @example `cuda.getDeviceProperties(0).name` */
export interface CudaProperties {
  name: string;
  major: number;
  minor: number;
  multiProcessorCount: number;
  warpSize: number;
  maxThreadsPerBlock: number;
  totalMemory: number;
  sharedMemoryPerBlock: number;
  l2CacheSize: number;
}
/** What cuda.memory() returns, in bytes (allocated: held by tensors; reserved: also the allocator's cache). @example `cuda.memory().allocated` */
export interface CudaMemory {
  allocated: number;
  reserved: number;
  peak: number;
  allocations: number;
  limit: number;
  total: number;
  free: number;
  liveBytes: number;
  liveStorages: number;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

let addonInfo: AddonInfo;
function load(): Binding {
  const emulate = process.env['TENSILE_EMULATE_CUDA'];
  if (!process.env['TENSILE_ADDON'] && emulate !== undefined && emulate !== '' && emulate !== '0') {
    // the CUDA backend compiled for the SIMT emulator (native/emu; tests only): `npm run build:emulated`
    const path = resolve(root, 'build-emu', 'Release', 'tensile.node');
    try {
      const b = createRequire(import.meta.url)(path) as Binding;
      addonInfo = { path, kind: 'emulated build', manifest: null };
      return b;
    } catch (e) {
      throw new AddonLoadError(
        `tensile: TENSILE_EMULATE_CUDA=${emulate} expected the emulated build at ${path}, got: ${(e as Error).message}. ` +
          'Remedy: run `npm run build:emulated` (g++ and cmake; no CUDA toolkit needed).', [path],
      );
    }
  }
  const { binding, info } = loadAddon<Binding>(root, import.meta.url);
  addonInfo = info;
  return binding;
}

/** Which native binary is loaded: its path, whether a prebuild or a local build, and a prebuild's manifest. @example `addon().kind // 'prebuild'` */
export function addon(): AddonInfo {
  return { ...addonInfo };
}

export const binding: Binding = load();

// ------------------------------------------------------------------------------------------ command buffers
const NBUF = 16;
/** 8-byte slots per command buffer: the largest record one op may write. */
export const CMD_LEN = 32768;
const buffers = Array.from({ length: NBUF }, () => new Float64Array(CMD_LEN));
const REL_MAX = 4096;
const ints = buffers.map((b) => new Int32Array(b.buffer));
/**
 * The queue's state, in one object with a stable shape (its fields are plain loads and stores in optimised code):
 * the buffer being filled (as doubles, and as int32 pairs over the same bytes), the next free position in it and
 * the first one not yet submitted, in 8-byte slots (every record starts with an int32 tag in its first slot's low
 * half; a buffer is submitted in ranges, and left for the next one when full); handle ids (a stack of free ids;
 * bytes[id] is what a handle holds for V8's accounting, 0 for views); bytes not yet reported to V8; elements
 * touched by the records not yet submitted; the numbering of records and each handle's last use; each id's
 * generation (bumped when it is released); releases not yet handed over. @internal
 */
export const cmd = {
  buf: buffers[0]!,
  i32: ints[0]!,
  p: 0,
  start: 0,  // records before this position are submitted
  free: new Int32Array(1024),
  nFree: 0,
  nextId: 1,
  bytes: new Float64Array(1024),
  memoryDelta: 0,
  pendingWork: 0,
  seq: 0,  // numbered records so far: OP, FLAT, SHARE, binds and reads (the worker counts them as it runs them)
  lastUse: new Float64Array(1024),  // per handle id: the number of the last record that uses it
  gen: new Int32Array(1024),  // per handle id: how many times it was released (tells a stale GC release from a live one)
  rel: new Int32Array(REL_MAX),  // releases not yet handed over, with each handle's last use
  relAt: new Float64Array(REL_MAX),
  nRel: 0,
};
let current = 0;
/** Record tags (native/core/runtime.h). @internal */
export const CMD_OP = 1, CMD_RELEASE = 2, CMD_SHARE = 3, CMD_FLAT = 4;
// When to submit: an op touching more elements than WORK_NOW goes at once (the worker starts on it, and the memory it
// takes is reported to V8); small ops wait until their estimated work (elements, plus OP_COST a record) passes
// BATCH_WORK, a few hundred microseconds of the worker's time: a submit may have to wake the worker (a futex call
// of several microseconds), which must stay small next to the work it hands over.
const WORK_NOW = 1 << 15;
const OP_COST = 512;
const BATCH_WORK = 1 << 21;
// Records worth at most this much work may run on the JS thread itself when the worker is idle (Stream::run_inline):
// a few microseconds, less than waking a sleeping worker costs (a request after idle then takes a tenth of the time).
const INLINE_WORK = 1 << 12;

let hook: () => void = () => {};
/** @internal runs at every submit (tensor.ts registers its young tensors with the finalization registry there) */
export function onSubmit(fn: () => void): void {
  hook = fn;
}
let scheduled = false;
const flushTask = () => {
  scheduled = false;
  submit();
};
/** @internal makes sure the pending records are submitted at the end of the current job */
export function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(flushTask);
  }
}

/** Hands the pending records to the device's worker (at once; the worker runs them in order). @internal */
export function submit(): void {
  flush(false);
}
// advance: the buffer is full; go on in the next one (the native side waits until the worker is done with it)
function flush(advance: boolean): void {
  if (collected[0] !== collected[1] && !draining) drainCollected();
  const start = cmd.start, end = cmd.p;
  const delta = cmd.memoryDelta;
  const small = cmd.pendingWork <= INLINE_WORK;
  cmd.memoryDelta = 0;
  cmd.pendingWork = 0;
  hook();
  const nr = cmd.nRel;
  cmd.nRel = 0;
  if (end > start || delta !== 0 || advance || nr > 0) {
    binding.submit(current, start, end, cmd.seq, delta, advance, cmd.rel, cmd.relAt, nr, small);
  }
  cmd.start = end;
  if (advance) {
    current = (current + 1) % NBUF;
    cmd.buf = buffers[current]!;
    cmd.i32 = ints[current]!;
    cmd.p = 0;
    cmd.start = 0;
  }
}

/**
 * @internal room for a record of n slots in the current buffer (moves to the next buffer when full). Call it before
 * numbering the record (++cmd.seq): a submit here hands over the count so far, which must be that of the records
 * written.
 */
export function reserve(n: number): Float64Array {
  if (cmd.p + n > CMD_LEN) flush(true);
  else if (cmd.p === cmd.start) schedule();
  return cmd.buf;
}

/** @internal after an op's record: submits at once when it has real work (so the worker starts on it) */
export function recorded(work: number): void {
  // (counted first: the submit of a large op must see its work, or it would run it inline)
  if ((cmd.pendingWork += work + OP_COST) > BATCH_WORK || work > WORK_NOW) submit();
}

// Tensors the GC collected: the addon's GC-time finalizers (track()) write their (id, generation) pairs into this ring
// (layout in native/addon/addon.cpp, GcRing), also while a synchronous loop keeps the event loop from turning; every
// submit drains it first. A pair whose generation is not the id's current one belongs to a tensor that was
// disposed before the GC found it (its id may serve another tensor by now): it is skipped.
let collected: Int32Array<ArrayBufferLike> = new Int32Array(4);
const RING_CAP = 1 << 16;
let draining = false;
function drainCollected(): void {
  draining = true;
  try {
    const ring = collected, gen = cmd.gen;
    for (;;) {
      let r = ring[1]!;
      while (r !== ring[0]) {
        const e = 4 + 2 * (r & (RING_CAP - 1));
        const h = ring[e]!;
        r = (r + 1) | 0;
        ring[1] = r;
        if (gen[h] === ring[e + 1]) releaseCollected(h as Handle);
      }
      if (ring[2] === 0) break;
      binding.refillCollected();  // releases that found the ring full wait natively: move them in, drain again
    }
  } finally {
    draining = false;
  }
}
/** @internal the (id, generation) pairs of the tensors handed to track(), two int32 each */
export const trackIds = new Int32Array(2 * 256);

/** @internal a new handle id for a storage of `bytes` (counted for V8) */
export function newHandle(bytes: number): Handle {
  const c = cmd;
  const id = c.nFree > 0 ? c.free[--c.nFree]! : freshId();
  c.bytes[id] = bytes;
  c.memoryDelta += bytes;
  return id as Handle;
}
function freshId(): number {
  if (cmd.nextId === cmd.bytes.length) growIds();
  return cmd.nextId++;
}
/** @internal handles in use: one per live tensor */
export function liveHandles(): number {
  return cmd.nextId - 1 - cmd.nFree;
}
function growIds(): void {
  const bytes = new Float64Array(cmd.bytes.length * 2);
  bytes.set(cmd.bytes);
  cmd.bytes = bytes;
  const last = new Float64Array(cmd.lastUse.length * 2);
  last.set(cmd.lastUse);
  cmd.lastUse = last;
  const free = new Int32Array(cmd.free.length * 2);
  free.set(cmd.free);
  cmd.free = free;
  const gen = new Int32Array(cmd.gen.length * 2);
  gen.set(cmd.gen);
  cmd.gen = gen;
}

/**
 * @internal releases a handle where the program is (dispose): a RELEASE record, run in order, so the memory comes
 * back right after the ops recorded before it. The id is free for reuse from now on.
 */
export function releaseHandle(h: Handle): void {
  const c = cmd;
  c.memoryDelta -= c.bytes[h]!;
  c.gen[h] = c.gen[h]! + 1;
  c.free[c.nFree++] = h;
  if (c.p + 1 > CMD_LEN) flush(true);
  else if (c.p === c.start) schedule();
  const q = 2 * c.p;
  c.i32[q] = CMD_RELEASE;
  c.i32[q + 1] = h;
  c.p++;
}

/**
 * @internal releases a handle the GC found dropped, however long after its last op: it goes to the worker beside
 * the records, with the number of the handle's last record, and the worker drops it as soon as that has run (not
 * where the queue is when the finalizer runs, possibly far behind). The id is free for reuse from now on.
 */
export function releaseCollected(h: Handle): void {
  const c = cmd;
  c.memoryDelta -= c.bytes[h]!;
  c.gen[h] = c.gen[h]! + 1;
  c.free[c.nFree++] = h;
  const i = c.nRel++;
  c.rel[i] = h;
  c.relAt[i] = c.lastUse[h]!;
  if (i + 1 === REL_MAX) flush(false);
  else schedule();
}

/** @internal a new handle to h's storage (for a view) */
export function shareHandle(h: Handle): Handle {
  const dst = newHandle(0);
  reserve(2);  // first: it may submit the pending records, whose count must not include this one
  const seq = ++cmd.seq;
  cmd.lastUse[h] = seq;
  cmd.lastUse[dst] = seq;
  const p = cmd.p;
  const i32 = cmd.i32;
  i32[2 * p] = CMD_SHARE;
  i32[2 * p + 1] = h;
  i32[2 * p + 2] = dst;
  i32[2 * p + 3] = 0;
  cmd.p = p + 2;
  return dst;
}

// Where the user recorded the ops that can fail on their data (labels, indices: checked as they run) or on memory
// (large outputs), by record number: a failure the worker reports carries its record's number (`seq`), and the
// error gets the stack of that line instead of the read's. A stack costs microseconds, so other ops keep none (their
// errors name the op; they fail only on what the worker cannot know, and their record is checked in JS).
const SITES = 1024;
const siteSeq = new Float64Array(SITES);
const sites: ({ stack: string | undefined } | undefined)[] = new Array(SITES);
const SITE_OPS = new Set(['cross_entropy', 'cross_entropy_bwd', 'index_select', 'index_select_bwd', 'max_pool2d_bwd', 'multinomial']);
const SITE_BYTES = 1 << 24;
/** @internal whether launch() keeps the stack of op `id` with output bytes `bytes` */
export const keepsSite: (id: number, bytes: number) => boolean = (() => {
  let ids: Uint8Array | null = null;
  return (id: number, bytes: number) => {
    if (bytes >= SITE_BYTES) return true;
    if (ids === null) {
      ids = new Uint8Array(opNames.length);
      for (let i = 0; i < opNames.length; i++) ids[i] = SITE_OPS.has(opNames[i]!) ? 1 : 0;
    }
    return ids[id] === 1;
  };
})();
/** @internal keeps the stack of the code recording record `seq` (from the caller of `below` down) */
export function keepSite(seq: number, below: Function): void {
  const o: { stack?: string } = {};
  Error.captureStackTrace(o, below);
  // formatted now: the unformatted trace holds the frames' receivers and closures (tensors among them) alive
  siteSeq[seq % SITES] = seq;
  sites[seq % SITES] = { stack: o.stack };
}
/** @internal gives a failure that names its record the stack of the line that recorded it, when one was kept */
export function withSite(e: unknown): unknown {
  const seq = (e as { seq?: unknown } | null)?.seq;
  if (typeof seq === 'number' && siteSeq[seq % SITES] === seq) {
    const site = sites[seq % SITES]?.stack;
    const err = e as Error;
    if (site) {
      err.stack = `${err.name}: ${err.message}\n${site.split('\n').slice(1).join('\n')}`;
      Object.defineProperty(err, HAS_SITE, { value: true });
    }
  }
  return e;
}
const HAS_SITE = Symbol('tensile.site');
/** @internal whether withSite gave the error the stack of the line that recorded its op */
export function hasSite(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { [HAS_SITE]?: boolean })[HAS_SITE] === true;
}
const rethrow = (e: unknown): never => {
  throw withSite(e);
};

/**
 * @internal reads bytes [off, off + len) of a handle's storage once every op queued before has run (h = 0: only
 * waits). The read is numbered like a record and counts as a use of h, so a dispose() right after does not free
 * the memory before it is read.
 */
export function readHandle(h: Handle | 0, off: number, len: number): Promise<ArrayBuffer | undefined> {
  try {
    const r = readNow(h, off, len);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (e) {
    return Promise.reject(e);
  }
}
/**
 * @internal readHandle's work: when the stream is idle the read runs on this thread at once and this returns the
 * bytes (or throws the failure, on the caller's stack); otherwise a promise of them.
 */
export function readNow(h: Handle | 0, off: number, len: number): ArrayBuffer | undefined | Promise<ArrayBuffer | undefined> {
  submit();
  const seq = ++cmd.seq;
  if (h !== 0) cmd.lastUse[h] = seq;
  let r;
  try {
    r = binding.read(h, off, len);
  } catch (e) {
    throw withSite(e);
  }
  return r instanceof Promise ? r.catch(rethrow) : r;
}

/** @internal a new handle holding a copy of the bytes */
export function handleFromBytes(device: number, bytes: ArrayBufferView): Handle {
  if (cmd.p > cmd.start || cmd.nRel > 0) submit();  // the worker must see what came before the bind (the id may be a released one)
  const h = newHandle(bytes.byteLength);
  cmd.lastUse[h] = ++cmd.seq;  // the bind is numbered like a record
  try {
    binding.fromBytes(device, bytes, h);
  } catch (e) {
    cmd.memoryDelta -= bytes.byteLength;
    cmd.bytes[h] = 0;
    cmd.gen[h] = cmd.gen[h]! + 1;
    cmd.free[cmd.nFree++] = h;
    throw e;
  }
  schedule();
  return h;
}

const info = binding.init({ errors: nativeErrorClasses, buffers, isa: process.env['TENSILE_ISA'] ?? '' });
collected = info.collected;
if (info.isaError) {
  process.emitWarning(`tensile: TENSILE_ISA=${process.env['TENSILE_ISA']} ignored: ${info.isaError}`);
}

const names = binding.opNames();
/** Native op ids by name (from native/core/ops.def). */
export const OP: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(names.map((n, i) => [n, i])));
/** Names of the native ops, by op id (the order of native/core/ops.def). @example `opNames.includes('conv2d')` */
export const opNames: readonly string[] = names;

export function opId(name: string): number {
  const id = OP[name];
  if (id === undefined) throw new NativeError(`${name}: expected an op of native/core/ops.def, got none by that name`);
  return id;
}

/** The instruction set the CPU kernels use: 'avx512', 'avx2' or 'scalar'. @example `isa() // 'avx512'` */
export function isa(): string {
  return info.isa;
}
/**
 * Forces the CPU kernel set (for tests and benchmarks; process-wide).
 * @example `setIsa('avx2')`
 */
export function setIsa(name: 'avx512' | 'avx2' | 'scalar'): string {
  if (typeof name !== 'string') throw new ArgumentError(`setIsa: expected 'avx512', 'avx2' or 'scalar', got ${typeof name}`);
  submit();
  info.isa = binding.setIsa(name);
  return info.isa;
}

/**
 * The number of threads the CPU kernels use: setNumThreads()'s, else TENSILE_NUM_THREADS's, else OpenMP's default
 * (OMP_NUM_THREADS, or one per core).
 * @example `getNumThreads() // 2`
 */
export function getNumThreads(): number {
  return binding.numThreads();
}
/**
 * Sets the number of threads the CPU kernels use, process-wide (every worker_thread too; like torch.set_num_threads).
 * Ops queued before the call and not yet run use the new count. TENSILE_NUM_THREADS sets it at load.
 * @example `setNumThreads(4)`
 */
export function setNumThreads(n: number): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1024) {
    throw new ArgumentError(`setNumThreads: expected an integer from 1 to 1024, got ${typeof n === 'number' ? n : typeof n}`);
  }
  return binding.numThreads(n);
}
{
  const env = process.env['TENSILE_NUM_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1 || n > 1024) {
      process.emitWarning(`tensile: TENSILE_NUM_THREADS=${env} ignored: expected an integer from 1 to 1024`);
    } else binding.numThreads(n);
  }
}

/**
 * A device: 'cpu', or a GPU as 'cuda:N' ('cuda' alone means 'cuda:0'). Tensors report theirs as 'cpu' or 'cuda:N'.
 * @example `tensor([1, 2], { device: 'cuda' }).device // 'cuda:0'`
 */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
/** The devices ids of records and storages: 0 the CPU, 1 + N cuda:N (native/core/types.h). @internal */
export const MAX_GPUS = 16;
/** @internal device id by canonical name ('cpu', 'cuda:0', ...) */
export const DEVICE_ID: Readonly<Record<string, number>> = Object.freeze(
  Object.fromEntries([['cpu', 0], ...Array.from({ length: MAX_GPUS }, (_, i) => [`cuda:${i}`, i + 1])]),
);
/** @internal canonical names by device id */
export const DEVICE_NAME: readonly Device[] = ['cpu', ...Array.from({ length: MAX_GPUS }, (_, i) => `cuda:${i}` as Device)];

let cudaState: ReturnType<Binding['cudaStatus']> | null = null;
/** @internal the CUDA backend's status (probed once) */
export function cudaStatus(): ReturnType<Binding['cudaStatus']> {
  return cudaState ?? (cudaState = binding.cudaStatus());
}

/**
 * @internal the canonical name of a device argument ('cuda' -> 'cuda:0'), checked: a GPU this process cannot use is
 * a DeviceError carrying the reason ('auto': the first GPU when one is usable, else the CPU).
 */
export function deviceArg(op: string, d: unknown): Device {
  if (d === 'cpu') return 'cpu';
  if (typeof d === 'string') {
    if (d === 'auto') {
      const st = cudaStatus();
      const chosen: Device = st.devices > 0 ? 'cuda:0' : 'cpu';
      if (process.env['TENSILE_LOG_LEVEL'] === 'info' || process.env['TENSILE_LOG_LEVEL'] === 'debug') {
        process.stderr.write(`tensile: device 'auto' chose ${chosen}${st.devices > 0 ? '' : ` (${st.reason})`}\n`);
      }
      return chosen;
    }
    const m = /^cuda(?::(\d+))?$/.exec(d);
    if (m) {
      const n = m[1] === undefined ? 0 : Number(m[1]);
      const st = cudaStatus();
      if (st.devices === 0) throw new DeviceError(`${op}: expected a usable device, got '${d}': ${st.reason}`);
      if (n >= st.devices) {
        throw new DeviceError(`${op}: expected a CUDA device index in [0, ${st.devices}), got '${d}'`);
      }
      return `cuda:${n}` as Device;
    }
  }
  throw new ArgumentError(`${op}: expected a device 'cpu', 'cuda', 'cuda:N' or 'auto', got ${typeof d === 'string' ? `'${d}'` : typeof d}`);
}

export function assertSupported(op: string, device: Device, dtype: string, dtypeId: number): void {
  if (!binding.supports(opId(op), DEVICE_ID[device]! > 0 ? 1 : 0, dtypeId)) {
    throw new DeviceError(`${op}: not implemented for device ${device.startsWith('cuda') ? 'cuda' : device}, dtype ${dtype}`);
  }
}
