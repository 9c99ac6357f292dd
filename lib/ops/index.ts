// Indexing and joining: index_select (gather along a dim; embedding lookups), repeat_interleave, cat and stack.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { Tensor, fromTyped, launch, makeView } from '../tensor/tensor.js';
import { contiguousStrides, fmt, normAxis } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { describe, intArg, numbersArg, tensorArg, tensorsArg } from '../check.js';
import { copyInto } from './view.js';
import { isFloat } from '../dtype.js';

function ori(t: Tensor, d: number): [number, number, number] {
  const outer = t.shape.slice(0, d).reduce((a, b) => a * b, 1), inner = t.shape.slice(d + 1).reduce((a, b) => a * b, 1);
  return [outer, t.shape[d]!, inner];
}

/**
 * Selects entries along `dim` by int32 indices (out-of-range indices raise an IndexError at the next read).
 * @example `indexSelect(x, 0, tensor([2, 0], { dtype: 'int32' }))`
 */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const op = 'index_select';
  tensorArg(op, 'input', x);
  tensorArg(op, 'index', index);
  if (index.dtype !== 'int32') throw new DTypeError(`${op}: expected int32 indices, got ${index.dtype}`);
  if (index.ndim !== 1) throw new ShapeError(`${op}: expected indices of rank 1, got shape ${fmt(index.shape)}`);
  if (x.ndim === 0) throw new ShapeError(`${op}: expected an input of rank >= 1, got a 0-d tensor`);
  const d = normAxis(op, dim, x.ndim);
  const [outer, D, inner] = ori(x, d);
  const n = index.shape[0]!;
  const xc = x.isContiguous() ? x : x.contiguous();
  const ic = index.isContiguous() ? index : index.contiguous();
  const shape = [...x.shape];
  shape[d] = n;
  try {
    const out = launch(op, x.dtype, [{ t: xc, shape: [outer, D, inner], strides: [D * inner, inner, 1], offset: xc.offset }, ic],
      [{ shape, dtype: x.dtype, kernelShape: [outer, n, inner] }])[0]!;
    if (needsGrad(x)) {
      record(out, [x], op, (g) => {
        const gc = g.isContiguous() ? g : g.contiguous();
        return [launch('index_select_bwd', g.dtype, [{ t: gc, shape: [outer, n, inner], strides: [n * inner, inner, 1], offset: gc.offset }, ic],
          [{ shape: x.shape, dtype: g.dtype, kernelShape: [outer, D, inner] }])[0]!];
      });
    }
    return out;
  } finally {
    if (xc !== x) xc.dispose();
  }
}

/**
 * Repeats each entry of x along `dim` (PyTorch's torch.repeat_interleave): `repeats` is one count for every entry,
 * or one count per entry (an array or an int32 tensor of rank <= 1, of the dim's size, or of one element, which
 * then counts for all). Without `dim` x is flattened first and the result is 1-d. Composed of indexSelect, so the
 * gradient of an entry is the sum of its copies' gradients. (A tensor of counts is read back to size the result,
 * as PyTorch does.)
 * @example `repeatInterleave(kv, 4, 1) // grouped-query attention: each of 2 key heads serves 4 query heads`
 */
export function repeatInterleave(x: Tensor, repeats: number | readonly number[] | Tensor, dim?: number): Tensor {
  const op = 'repeat_interleave';
  tensorArg(op, 'input', x);
  const src = dim === undefined || x.ndim === 0 ? x.reshape([-1]) : x;
  const d = normAxis(op, dim ?? 0, src.ndim);
  const n = src.shape[d]!;
  let counts: ArrayLike<number>;
  if (typeof repeats === 'number') {
    intArg(op, 'repeats', repeats);
    counts = [repeats];
  } else if (repeats instanceof Tensor) {
    if (repeats.dtype !== 'int32') throw new DTypeError(`${op}: expected int32 repeats, got ${repeats.dtype}`);
    if (repeats.ndim > 1) throw new ShapeError(`${op}: expected repeats of rank 0 or 1, got shape ${fmt(repeats.shape)}`);
    counts = repeats.dataSync();
  } else if (Array.isArray(repeats)) {
    numbersArg(op, 'repeats', repeats);
    repeats.forEach((r, i) => intArg(op, `repeats[${i}]`, r));
    counts = repeats;
  } else {
    throw new ArgumentError(`${op}: expected repeats to be an integer, an array of integers or an int32 tensor, got ${describe(repeats)}`);
  }
  if (counts.length !== 1 && counts.length !== n) {
    throw new ShapeError(`${op}: expected ${n} repeats (the size of dim ${d} of shape ${fmt(src.shape)}) or 1, got ${counts.length}`);
  }
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i]! < 0) throw new ArgumentError(`${op}: expected repeats >= 0, got ${counts[i]}${counts.length > 1 ? ` at position ${i}` : ''}`);
    total += counts.length === 1 ? counts[i]! * n : counts[i]!;
  }
  if (total > 2 ** 31 - 1) throw new ShapeError(`${op}: expected at most ${2 ** 31 - 1} entries along dim ${d}, got ${total}`);
  const idx = new Int32Array(total);
  for (let i = 0, p = 0; i < n; i++) {
    const r = counts.length === 1 ? counts[0]! : counts[i]!;
    idx.fill(i, p, p + r);
    p += r;
  }
  const index = fromTyped(idx, [total], 'int32', x.device);
  const out = indexSelect(src, d, index);
  if (!needsGrad(x)) index.dispose();  // (index_select's backward reads it otherwise)
  if (src !== x && !needsGrad(x)) src.dispose();
  return out;
}

/**
 * Joins tensors of equal shapes (except along `dim`) along `dim`.
 * @example `cat([a, b], 1)`
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  const op = 'cat';
  tensorsArg(op, 'tensors', tensors, 1);
  const first = tensors[0]!;
  // (as in PyTorch: a 0-d tensor has no dim to join along)
  const z = tensors.findIndex((t) => t.ndim === 0);
  if (z >= 0) throw new ShapeError(`${op}: expected tensors of rank >= 1, got a 0-d tensor at position ${z}`);
  const d = normAxis(op, dim, first.ndim);
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new DTypeError(`${op}: expected tensors of one dtype, got ${first.dtype} and ${t.dtype}`);
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new ShapeError(`${op}: expected shapes equal except in dim ${d}, got ${fmt(first.shape)} and ${fmt(t.shape)}`);
    }
  }
  const shape = [...first.shape];
  shape[d] = tensors.reduce((a, t) => a + t.shape[d]!, 0);
  const out = launch('fill', first.dtype, [], [{ shape, dtype: first.dtype, device: first.device }], [], [0])[0]!;
  const strides = contiguousStrides(shape);
  let off = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(off);
    const dst = makeView(out, t.shape, strides, off * strides[d]!);
    copyInto(dst, t);
    dst.dispose();
    off += t.shape[d]!;
  }
  if (isFloat(first.dtype) && needsGrad(...tensors)) {
    record(out, tensors, op, (g) => tensors.map((t, i) => (t.requiresGrad ? g.slice(d, offsets[i]!, offsets[i]! + t.shape[d]!).contiguous() : null)));
  }
  return out;
}

/** Stacks tensors of one shape along a new dim. @example `stack([a, b], 0)` */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  tensorsArg('stack', 'tensors', tensors, 1);
  const d = normAxis('stack', dim, tensors[0]!.ndim + 1);
  return cat(tensors.map((t) => t.unsqueeze(d)), d);
}
