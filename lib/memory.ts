/**
 * Memory management: scopes that free what they created, and per-device accounting.
 * Tensors are also freed by the garbage collector (native bytes are reported to V8), so a loop that never
 * disposes holds flat memory; scopes and dispose() free at once.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { binding, submit, liveHandles, readHandle } from './native.js';
import { ArgumentError } from './errors.js';
import { describe } from './check.js';

interface Disposable_ {
  dispose(): void;
  readonly isDisposed: boolean;
}

const store = new AsyncLocalStorage<Set<Disposable_>>();
let openScopes = 0;  // scopes not yet finished (while none is open, new tensors skip the async-context lookup)

/** @internal called by every new tensor (live tensors are counted as live handles: one each) */
export function trackTensor(t: Disposable_): void {
  if (openScopes > 0) {
    const s = store.getStore();
    if (s) s.add(t);
  }
}
/** @internal keep a tensor out of the current scope's cleanup */
export function keepTensor(t: Disposable_): void {
  store.getStore()?.delete(t);
}

function collect(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 8) return;
  if ('isDisposed' in (v as object) && typeof (v as Disposable_).dispose === 'function') {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, depth + 1);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const x of Object.values(v)) collect(x, out, depth + 1);
}

function finish(created: Set<Disposable_>, result: unknown): void {
  openScopes--;
  const keep = new Set<unknown>();
  collect(result, keep);
  const parent = store.getStore();
  for (const t of created) {
    if (keep.has(t)) parent?.add(t);
    else if (!t.isDisposed) t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (in arrays, plain objects or Maps).
 * Works across await, unlike tfjs's tidy: the scope follows the async context.
 *
 * @example
 * ```ts
 * const y = await scope(async () => {
 *   const a = randn([1000, 1000]);
 *   return a.matmul(a).sum(); // `a` and the product are freed, the sum is returned
 * });
 * ```
 */
export function scope<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new ArgumentError(`scope: expected a function, got ${describe(fn)}`);
  const created = new Set<Disposable_>();
  openScopes++;
  let result: T;
  try {
    result = store.run(created, fn);
  } catch (e) {
    finish(created, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => {
        finish(created, r);
        return r;
      },
      (e) => {
        finish(created, undefined);
        throw e;
      },
    ) as T;
  }
  finish(created, result);
  return result;
}

/**
 * Memory in use, per device. The native figures are taken once the ops queued so far have run (this waits for
 * them, like dataSync()).
 * @example `console.log(memory().cpu.bytes)`
 */
export function memory(): { liveTensors: number; cpu: { bytes: number; storages: number; pooledBytes: number } } {
  submit();
  const m = binding.memory();
  return { liveTensors: liveHandles(), cpu: { bytes: m.liveBytes, storages: m.liveStorages, pooledBytes: m.pooledBytes } };
}

/**
 * Resolves when every op queued so far on the CPU stream has run (rejects with the first error raised since the
 * last read, if any).
 * @example `await sync()`
 */
export async function sync(): Promise<void> {
  await readHandle(0, 0, 0);
}

/** Returns pooled, unused native memory to the system. @example `emptyCache()` */
export function emptyCache(): void {
  binding.trim();
}
