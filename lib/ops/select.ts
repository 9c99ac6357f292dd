// Selection and sampling: topk (values differentiable) and multinomial (from the seeded Philox streams). The
// kernels (native/cpu/topk.cpp, native/cuda/topk.cu) see a contiguous [outer, R, inner] view of topk's input and a
// contiguous [B, n] view of multinomial's weights.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { describe, intArg, optionsArg, tensorArg } from '../check.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { fmt, normAxis } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { RngState, nextRng } from '../tensor/random.js';

/** Options of topk (PyTorch's). @example `topk(x, 5, { dim: 1, largest: false })` */
export interface TopkOptions {
  /** the dim to select along (default -1) */
  dim?: number;
  /** the k largest (true, the default) or the k smallest */
  largest?: boolean;
  /** whether the result must be in order (default true); tensile always returns it best first */
  sorted?: boolean;
}

function boolOpt(op: string, what: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ArgumentError(`${op}: expected ${what} to be true or false, got ${describe(v)}`);
  return v;
}

/**
 * The k largest (or smallest) entries along a dim and their int32 indices, as PyTorch's torch.topk. NaN counts as
 * larger than any number; equal values (and NaNs) are taken lowest index first, and the result is ordered best
 * first (largest: descending; smallest: ascending), ties by increasing index, whatever `sorted` says. k may be 0.
 * The values are differentiable: the gradient goes back to the chosen positions, zeros elsewhere.
 * @example `const { values, indices } = topk(logits, 50)`
 */
export function topk(x: Tensor, k: number, o?: TopkOptions): { values: Tensor; indices: Tensor } {
  const op = 'topk';
  tensorArg(op, 'input', x);
  o = optionsArg(op, o);
  const largest = boolOpt(op, 'largest', o.largest, true);
  boolOpt(op, 'sorted', o.sorted, true);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  const d = normAxis(op, o.dim ?? -1, x.ndim);
  const R = x.ndim === 0 ? 1 : x.shape[d]!;
  intArg(op, 'k', k, 0);
  if (k > R) throw new ShapeError(`${op}: expected k <= ${R} (the size of dim ${d} of shape ${fmt(x.shape)}), got k = ${k}`);
  if (R > 2 ** 31 - 1) throw new ShapeError(`${op}: expected a dim of at most 2^31 - 1 entries (int32 indices), got ${R}`);
  const outer = x.shape.slice(0, d).reduce((a, b) => a * b, 1), inner = x.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  const shape = x.ndim === 0 ? [] : x.shape.map((s, i) => (i === d ? k : s));
  const xc = x.isContiguous() ? x : x.contiguous();
  try {
    const [values, indices] = launch(op, x.dtype, [{ t: xc, shape: [outer, R, inner], strides: [R * inner, inner, 1], offset: xc.offset }], [
      { shape, dtype: x.dtype, kernelShape: [outer, k, inner] },
      { shape, dtype: 'int32', kernelShape: [outer, k, inner] },
    ], [k, largest ? 1 : 0]);
    if (needsGrad(x)) {
      record(values!, [x], op, (g) => {
        const gc = g.isContiguous() ? g : g.contiguous();
        try {
          return [launch('topk_bwd', g.dtype, [
            { t: gc, shape: [outer, k, inner], strides: [k * inner, inner, 1], offset: gc.offset },
            { t: indices!, shape: [outer, k, inner], strides: [k * inner, inner, 1], offset: 0 },
          ], [{ shape: x.shape, dtype: g.dtype, kernelShape: [outer, R, inner] }])[0]!];
        } finally {
          if (gc !== g) gc.dispose();
        }
      }, [indices!]);
    }
    return { values: values!, indices: indices! };
  } finally {
    if (xc !== x) xc.dispose();
  }
}

/** Options of multinomial. @example `multinomial(probs, 4, { replacement: true })` */
export interface MultinomialOptions {
  /** draw with replacement (default false: no index twice in a row) */
  replacement?: boolean;
  /**
   * a private generator state { seed, offset } (as getRngState() gives) to draw from instead of the global one;
   * its offset advances by one per call, as the global generator's does
   */
  generator?: RngState;
}

/**
 * Draws numSamples int32 category indices per row of non-negative weights ([n] or [B, n]; they need not sum to 1),
 * as PyTorch's torch.multinomial, from the seeded Philox streams (manualSeed, or `generator`): the same seed gives
 * the same samples on every thread count and on the CPU and CUDA backends. Without replacement no index appears
 * twice in a row (draws one after another from the categories left, each with probability proportional to its
 * weight), and numSamples may not exceed a row's non-zero weights. Negative, infinite or NaN weights, rows that sum
 * to 0 and too few non-zero weights raise a NativeError (code 'multinomial') at the next read, naming the value and
 * its position. Not differentiable.
 * @example `const next = multinomial(logits.softmax(-1), 1)`
 */
export function multinomial(input: Tensor, numSamples: number, o?: MultinomialOptions): Tensor {
  const op = 'multinomial';
  tensorArg(op, 'input', input);
  o = optionsArg(op, o);
  const replacement = boolOpt(op, 'replacement', o.replacement, false);
  if (!isFloat(input.dtype)) throw new DTypeError(`${op}: expected float32 or float64 weights, got ${input.dtype}`);
  if (input.ndim !== 1 && input.ndim !== 2) throw new ShapeError(`${op}: expected weights of rank 1 or 2, got shape ${fmt(input.shape)}`);
  const n = input.shape[input.ndim - 1]!, B = input.ndim === 2 ? input.shape[0]! : 1;
  if (n === 0) throw new ShapeError(`${op}: expected at least one category, got shape ${fmt(input.shape)}`);
  if (n > 2 ** 31 - 1) throw new ShapeError(`${op}: expected at most 2^31 - 1 categories (int32 indices), got ${n}`);
  intArg(op, 'numSamples', numSamples, 1);
  if (!replacement && numSamples > n) {
    throw new ArgumentError(`${op}: expected numSamples <= ${n} (the number of categories) without replacement, got ${numSamples}`);
  }
  let rng: [number, number];
  const g = o.generator;
  if (g === undefined) {
    rng = nextRng();
  } else {
    const ok = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    if (g === null || typeof g !== 'object' || !ok(g.seed) || !ok(g.offset)) {
      throw new ArgumentError(`${op}: expected generator to be { seed, offset } of non-negative integers (as getRngState() gives), got ${describe(g)}`);
    }
    rng = [g.seed, g.offset++];
  }
  const w = input.isContiguous() ? input : input.contiguous();
  try {
    const shape = input.ndim === 2 ? [B, numSamples] : [numSamples];
    return launch(op, input.dtype, [{ t: w, shape: [B, n], strides: [n, 1], offset: w.offset }],
      [{ shape, dtype: 'int32', kernelShape: [B, numSamples] }], [...rng, replacement ? 1 : 0])[0]!;
  } finally {
    if (w !== input) w.dispose();
  }
}
