/**
 * DataLoader: batches of tensors from a Dataset or an IterableDataset, shuffled deterministically per seed and
 * epoch, with the next batch prepared while the current one trains.
 */
import { ArgumentError } from '../errors.js';
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

/** Stacks samples field by field. @example `defaultCollate(samples, { x: [1, 28, 28] })` */
export function defaultCollate<S extends Sample>(samples: S[], shapes: Record<string, number[]> = {}): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const first = samples[0]!;
  for (const key of Object.keys(first)) {
    const v = first[key];
    if (typeof v === 'number') {
      const ints = samples.every((s) => Number.isInteger(s[key]));
      const arr = ints ? Int32Array.from(samples, (s) => s[key] as number) : Float32Array.from(samples, (s) => s[key] as number);
      out[key] = tensor(arr);
    } else {
      const n = (v as ArrayLike<number>).length;
      const Ctor = (v as object).constructor as Float32ArrayConstructor;
      const arr = new Ctor(samples.length * n);
      samples.forEach((s, i) => arr.set(s[key] as Float32Array, i * n));
      out[key] = tensor(arr, { shape: [samples.length, ...(shapes[key] ?? [n])] });
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
    // prefetch: the next batch is assembled (and its copy to native memory queued) while the caller trains
    let next = nb > 0 ? make(0) : null;
    for (let b = 0; b < nb; b++) {
      const cur = await next!;
      next = b + 1 < nb ? make(b + 1) : null;
      // one turn of the event loop per batch: lets FinalizationRegistry release the tensors of earlier steps
      // (a loop that only awaits already-resolved promises would otherwise keep them until its next real read)
      await new Promise<void>((r) => setImmediate(r));
      yield cur;
    }
  }
}
