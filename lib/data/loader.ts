/**
 * DataLoader: batches of tensors from a Dataset or an IterableDataset, shuffled deterministically per seed and
 * epoch, with the next batch prepared while the current one trains.
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { describe, isOptions, optionsArg } from '../check.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { Dataset, IterableDataset, Sample, seededRandom } from './dataset.js';

export interface DataLoaderOptions<S extends Sample> {
  batchSize?: number;
  shuffle?: boolean;
  seed?: number;
  dropLast?: boolean;
  /** turns samples into a batch; the default stacks each field (arrays -> [B, ...shape], numbers -> int32 or float32 [B]) */
  collate?: (samples: S[]) => Record<string, Tensor>;
  /** the shape of array fields without the batch dim (default: flat) */
  shapes?: Record<string, number[]>;
}

const FIELD_ARRAYS = [Float32Array, Float64Array, Int32Array, Uint8Array] as const;
const isFieldArray = (v: unknown): v is Float32Array | Float64Array | Int32Array | Uint8Array => FIELD_ARRAYS.some((C) => v instanceof C);

/**
 * Stacks samples field by field: every sample has the fields of the first, each a number or a typed array
 * (Float32Array, Float64Array, Int32Array, Uint8Array) of the same kind and length as in the first sample.
 * @example `defaultCollate(samples, { x: [1, 28, 28] })`
 */
export function defaultCollate<S extends Sample>(samples: S[], shapes: Record<string, number[]> = {}): Record<string, Tensor> {
  const op = 'defaultCollate';
  if (!Array.isArray(samples) || samples.length === 0) throw new ArgumentError(`${op}: expected a non-empty array of samples, got ${describe(samples)}`);
  samples.forEach((s, i) => {
    if (!isOptions(s) || ArrayBuffer.isView(s)) throw new ArgumentError(`${op}: expected each sample to be an object of fields, got ${describe(s)} as sample ${i}`);
  });
  const out: Record<string, Tensor> = {};
  const first = samples[0]!;
  for (const key of Object.keys(first)) {
    const v = first[key];
    samples.forEach((s, i) => {
      if (!(key in s) || s[key] === undefined) {
        throw new ArgumentError(`${op}: expected every sample to have the field '${key}' (sample 0 has it), got sample ${i} with fields ${Object.keys(s).join(', ') || 'none'}`);
      }
    });
    if (typeof v === 'number') {
      samples.forEach((s, i) => {
        if (typeof s[key] !== 'number') throw new ArgumentError(`${op}: expected field '${key}' to be a number in every sample (as in sample 0), got ${describe(s[key])} in sample ${i}`);
      });
      const ints = samples.every((s) => Number.isInteger(s[key]));
      const arr = ints ? Int32Array.from(samples, (s) => s[key] as number) : Float32Array.from(samples, (s) => s[key] as number);
      out[key] = tensor(arr);
    } else {
      if (!isFieldArray(v)) {
        throw new ArgumentError(`${op}: expected field '${key}' to be a number or a Float32Array, Float64Array, Int32Array or Uint8Array, got ${describe(v)} in sample 0`);
      }
      const n = v.length;
      const Ctor = v.constructor as Float32ArrayConstructor;
      samples.forEach((s, i) => {
        const u = s[key] as unknown;
        if (!isFieldArray(u) || u.constructor !== Ctor) {
          throw new DTypeError(`${op}: expected field '${key}' to be a ${Ctor.name} in every sample (as in sample 0), got ${describe(u)} in sample ${i}`);
        }
        if (u.length !== n) throw new ShapeError(`${op}: expected field '${key}' of length ${n} in every sample (as in sample 0), got length ${u.length} in sample ${i}`);
      });
      const shape = shapes[key] ?? [n];
      if (!Array.isArray(shape) || shape.reduce((a, b) => a * b, 1) !== n) {
        throw new ShapeError(`${op}: expected shapes.${key} to hold ${n} values (the length of field '${key}'), got ${Array.isArray(shape) ? `[${shape.join(',')}]` : describe(shape)}`);
      }
      const arr = new Ctor(samples.length * n);
      samples.forEach((s, i) => arr.set(s[key] as Float32Array, i * n));
      out[key] = tensor(arr, { shape: [samples.length, ...shape] });
    }
  }
  return out;
}

/**
 * @example
 * ```ts
 * const loader = new DataLoader(train, { batchSize: 64, shuffle: true, seed: 1, shapes: { x: [1, 28, 28] } });
 * for await (const { x, y } of loader) { ... }
 * ```
 */
export class DataLoader<S extends Sample = Sample> implements AsyncIterable<Record<string, Tensor>> {
  readonly batchSize: number;
  private epoch = 0;
  constructor(readonly dataset: Dataset<S> | IterableDataset<S>, readonly options: DataLoaderOptions<S> = {}) {
    optionsArg('DataLoader', options);
    const indexable = isOptions(dataset) && typeof (dataset as Dataset<S>).get === 'function' && Number.isInteger((dataset as Dataset<S>).length);
    const iterable = dataset !== null && typeof dataset === 'object' && typeof (dataset as IterableDataset<S>)[Symbol.asyncIterator] === 'function';
    if (!indexable && !iterable) {
      throw new ArgumentError(`DataLoader: expected a Dataset ({ length, get(i) }) or an async iterable of samples, got ${describe(dataset)}`);
    }
    if (options.collate !== undefined && typeof options.collate !== 'function') {
      throw new ArgumentError(`DataLoader: expected collate to be a function, got ${describe(options.collate)}`);
    }
    this.batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ArgumentError(`DataLoader: expected batchSize >= 1, got ${options.batchSize}`);
    if (options.shuffle && !('length' in dataset)) throw new ArgumentError('DataLoader: expected an indexable Dataset to shuffle, got an IterableDataset');
  }
  /** Batches per epoch (indexable datasets). @example `for (let i = 0; i < loader.length; i++) ...` */
  get length(): number {
    if (!('length' in this.dataset)) return NaN;
    const n = this.dataset.length;
    return this.options.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }
  private collate(samples: S[]): Record<string, Tensor> {
    return this.options.collate ? this.options.collate(samples) : defaultCollate(samples, this.options.shapes);
  }
  async *[Symbol.asyncIterator](): AsyncGenerator<Record<string, Tensor>> {
    const epoch = this.epoch++;
    const rng = seededRandom(((this.options.seed ?? 0) * 1000003 + epoch) >>> 0);
    if (!('length' in this.dataset)) {
      let buf: S[] = [];
      for await (const s of this.dataset) {
        buf.push(s);
        if (buf.length === this.batchSize) { yield this.collate(buf); buf = []; }
      }
      if (buf.length && !this.options.dropLast) yield this.collate(buf);
      return;
    }
    const ds = this.dataset as Dataset<S> & { get(i: number, rng?: () => number): S | Promise<S> };
    const order = Array.from({ length: ds.length }, (_, i) => i);
    if (this.options.shuffle) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const nb = this.length;
    const make = async (b: number) => {
      const idx = order.slice(b * this.batchSize, (b + 1) * this.batchSize);
      return this.collate(await Promise.all(idx.map((i) => ds.get(i, rng))));
    };
    // prefetch: the next batch is assembled (and its copy to native memory queued) while the caller trains.
    // A prefetched batch that fails is marked handled at once (its error reaches the loop when that batch is
    // awaited, not the process as an unhandled rejection while the caller trains on the batch before).
    const prefetch = (b: number) => {
      const p = make(b);
      p.catch(() => {});
      return p;
    };
    let next = nb > 0 ? prefetch(0) : null;
    try {
      for (let b = 0; b < nb; b++) {
        const cur = await next!;
        next = b + 1 < nb ? prefetch(b + 1) : null;
        // one turn of the event loop per batch: timers, I/O and signals (Ctrl-C) get theirs in a loop that awaits nothing else
        // (a loop that only awaits already-resolved promises would otherwise keep them until its next real read)
        await new Promise<void>((r) => setImmediate(r));
        yield cur;
      }
      next = null;
    } finally {
      // break, return or an error in the loop: no batch is made after this one, and the one being prefetched is
      // freed when it arrives (its error, if it fails, is nobody's: the loop has ended)
      // (only defaultCollate's batches: a custom collate's tensors may be shared with something else)
      if (next && !this.options.collate) next.then((batch) => Object.values(batch).forEach((t) => t.dispose()), () => {});
    }
  }
}
