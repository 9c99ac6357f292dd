/** Datasets: indexable (Dataset) and streaming (IterableDataset, any async iterable). */
import { ArgumentError, ShapeError } from '../errors.js';

/** One example: named fields of Float32Array / Int32Array / number. */
export type Sample = Record<string, Float32Array | Int32Array | Uint8Array | number>;

/** An indexable dataset. @example `class MyData implements Dataset { length = 10; get(i) { return { x: ..., y: i % 2 }; } }` */
export interface Dataset<S extends Sample = Sample> {
  readonly length: number;
  /** Sample i (may be async, for data read on demand). @example `await ds.get(0)` */
  get(i: number): S | Promise<S>;
}
/** A dataset read as a stream (data larger than memory): any async iterable of samples. */
export type IterableDataset<S extends Sample = Sample> = AsyncIterable<S>;

/**
 * Images [N, ...sampleShape] in one Float32Array and int32 labels: the in-memory dataset of the readers.
 * `transform` maps each image (a fresh copy) before batching.
 * @example `new ArrayDataset(images, [1, 28, 28], labels)`
 */
export class ArrayDataset implements Dataset<{ x: Float32Array; y: number }> {
  readonly length: number;
  private readonly size: number;
  constructor(readonly images: Float32Array, readonly sampleShape: number[], readonly labels: Int32Array,
    readonly transform?: (x: Float32Array, rng: () => number) => Float32Array) {
    const kind = (v: unknown) => (v === null || v === undefined ? String(v) : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `a ${typeof v}`);
    if (!(images instanceof Float32Array)) throw new ArgumentError(`ArrayDataset: expected images to be a Float32Array, got ${kind(images)}`);
    if (!Array.isArray(sampleShape) || !sampleShape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ArgumentError(`ArrayDataset: expected sampleShape to be an array of non-negative integers, got ${Array.isArray(sampleShape) ? `[${sampleShape.join(',')}]` : kind(sampleShape)}`);
    }
    if (!(labels instanceof Int32Array)) throw new ArgumentError(`ArrayDataset: expected labels to be an Int32Array, got ${kind(labels)}`);
    if (transform !== undefined && typeof transform !== 'function') throw new ArgumentError(`ArrayDataset: expected transform to be a function, got ${kind(transform)}`);
    this.size = sampleShape.reduce((a, b) => a * b, 1);
    if (images.length !== labels.length * this.size) {
      throw new ShapeError(`ArrayDataset: expected ${labels.length} images of ${this.size} values, got ${images.length} values`);
    }
    this.length = labels.length;
  }
  /** Sample i, the transform applied with the given random source. @example `ds.get(0).y` */
  get(i: number, rng: () => number = Math.random): { x: Float32Array; y: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ArgumentError(`ArrayDataset.get: expected an index in [0, ${this.length}), got ${i}`);
    const x = this.images.subarray(i * this.size, (i + 1) * this.size);
    return { x: this.transform ? this.transform(x.slice(), rng) : x, y: this.labels[i]! };
  }
  /** The first n samples (a view, no copy). @example `train.take(5000)` */
  take(n: number): ArrayDataset {
    const k = Math.min(n, this.length);
    return new ArrayDataset(this.images.subarray(0, k * this.size), this.sampleShape, this.labels.subarray(0, k), this.transform);
  }
  /** The same data with a transform. @example `ds.withTransform(transforms.randomHorizontalFlip({ c: 1, h: 28, w: 28 }))` */
  withTransform(t: (x: Float32Array, rng: () => number) => Float32Array): ArrayDataset {
    return new ArrayDataset(this.images, this.sampleShape, this.labels, t);
  }
}

/** mulberry32: the seeded generator of shuffles and random transforms (deterministic for a seed). @example `const rnd = seededRandom(1); rnd()` */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
