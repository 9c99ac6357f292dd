/** Fixed-length token windows for next-token prediction (a Dataset for data.DataLoader). */
import { ArgumentError } from '../errors.js';
import { describe, isOptions } from '../check.js';
import { Tensor } from '../tensor/tensor.js';
import { Dataset, seededRandom } from '../data/dataset.js';
import { DataError } from '../data/idx.js';

/** Options of TokenWindowDataset. */
export interface TokenWindowOptions {
  /** T: the length of each window */
  blockSize: number;
  /** strided windows: window i starts at i * stride (default blockSize: windows that do not overlap) */
  stride?: number;
  /** random windows instead: this many per epoch, each at a random offset (nanoGPT's get_batch) */
  samples?: number;
  /** the seed of the random offsets when get() is called without a random source (the DataLoader passes its own) */
  seed?: number;
}

/**
 * Windows of a token sequence for next-token prediction: sample i is { x: tokens[s, s+T), y: tokens[s+1, s+T+1) }
 * (Int32Array views, which the DataLoader stacks into int32 [B, T] tensors). Strided (default): window i starts at
 * s = i * stride, and there are floor((N - T - 1) / stride) + 1 of them, the last token of the text never an input.
 * With `samples`, each get(i, rng) starts at s = floor(rng() * (N - T)), uniform over every window
 * (torch.randint(len(data) - block_size) in nanoGPT), drawn from the DataLoader's seeded per-epoch stream.
 * @example
 * ```ts
 * const ds = new data.TokenWindowDataset(tok.encode(corpus), { blockSize: 128 });
 * for await (const { x, y } of new data.DataLoader(ds, { batchSize: 32, shuffle: true, seed: 1 })) { ... }
 * ```
 */
export class TokenWindowDataset implements Dataset<{ x: Int32Array; y: Int32Array }> {
  readonly tokens: Int32Array;
  readonly length: number;
  readonly blockSize: number;
  readonly stride: number;
  private readonly random: boolean;
  private readonly rng: () => number;
  constructor(tokens: Int32Array | ArrayLike<number> | Tensor, o: TokenWindowOptions) {
    const op = 'TokenWindowDataset';
    if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { blockSize, stride?, samples?, seed? }, got ${describe(o)}`);
    const int = (key: string, v: unknown, min: number, optional: boolean) => {
      if (v === undefined && optional) return;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(`${op}: expected ${key} to be an integer >= ${min}, got ${typeof v === 'number' ? v : describe(v)}`);
    };
    int('blockSize', o.blockSize, 1, false);
    int('stride', o.stride, 1, true);
    int('samples', o.samples, 1, true);
    int('seed', o.seed, 0, true);
    if (o.stride !== undefined && o.samples !== undefined) throw new ArgumentError(`${op}: expected either stride (strided windows) or samples (random windows), got both`);
    if (tokens instanceof Tensor) {
      if (tokens.dtype !== 'int32') throw new ArgumentError(`${op}: expected tokens of dtype int32, got ${describe(tokens)}`);
      this.tokens = tokens.dataSync() as Int32Array;
    } else if (tokens instanceof Int32Array) {
      this.tokens = tokens;
    } else if (Array.isArray(tokens) || ArrayBuffer.isView(tokens)) {
      const a = tokens as ArrayLike<number>;
      for (let i = 0; i < a.length; i++) {
        if (!Number.isInteger(a[i]) || a[i]! < 0 || a[i]! > 0x7fffffff) throw new ArgumentError(`${op}: expected token ids (integers >= 0), got ${describe(a[i])} at position ${i}`);
      }
      this.tokens = Int32Array.from(a);
    } else {
      throw new ArgumentError(`${op}: expected tokens as an Int32Array, an array of ids or an int32 tensor, got ${describe(tokens)}`);
    }
    const T = o.blockSize, n = this.tokens.length;
    if (n < T + 1) throw new DataError(`${op}: expected at least blockSize + 1 = ${T + 1} tokens (a window and its next token), got ${n}`);
    this.blockSize = T;
    this.random = o.samples !== undefined;
    this.stride = o.stride ?? T;
    this.length = this.random ? o.samples! : Math.floor((n - T - 1) / this.stride) + 1;
    this.rng = seededRandom(o.seed ?? 0);
  }
  /** The window i (strided) or a random window (samples), as { x, y } of blockSize tokens each. @example `const { x, y } = ds.get(0)` */
  get(i: number, rng?: () => number): { x: Int32Array; y: Int32Array } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new ArgumentError(`TokenWindowDataset.get: expected an index in [0, ${this.length}), got ${describe(i)}`);
    const T = this.blockSize;
    const s = this.random ? Math.floor((rng ?? this.rng)() * (this.tokens.length - T)) : i * this.stride;
    return { x: this.tokens.subarray(s, s + T), y: this.tokens.subarray(s + 1, s + T + 1) };
  }
}
