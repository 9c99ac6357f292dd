// Views (no copy when the layout allows) and copies: reshape, permute, transpose, slice, expand, squeeze,
// unsqueeze, flatten, contiguous, copy/cast.
import { ArgumentError, ShapeError } from '../errors.js';
import { DType, checkDType } from '../dtype.js';
import { sumToShape } from './reduce.js';
import { Tensor, launch, makeView, toDevice } from '../tensor/tensor.js';
import { checkRank, contiguousStrides, fmt, normAxis, numelOf } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { isFloat } from '../dtype.js';
import { describe, intArg, numbersArg, tensorArg } from '../check.js';

/** @internal ones shaped like t */
export function onesLike(t: Tensor): Tensor {
  return launch('fill', t.dtype, [], [{ shape: t.shape, dtype: t.dtype, device: t.device }], [], [1])[0]!;
}

// Views are differentiable: their backward maps the gradient back to the source's shape.
function recordView(out: Tensor, src: Tensor, name: string, back: (g: Tensor) => Tensor): Tensor {
  if (needsGrad(src)) record(out, [src], name, (g) => [back(g)]);
  return out;
}

/** Writes src into the view dst (same shape), in place. @internal */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (dst.shape.length !== src.shape.length || dst.shape.some((d, i) => d !== src.shape[i])) {
    throw new ShapeError(`copy_: expected a source of shape ${fmt(dst.shape)}, got ${fmt(src.shape)}`);
  }
  if (src.device !== dst.device) {  // loadStateDict into a module on another device: over there first
    const moved = toDevice(src, dst.device);
    launch('copy', src.dtype, [moved], [dst]);
    if (moved !== src) moved.dispose();
    return;
  }
  launch('copy', src.dtype, [src], [dst]);
}

/** The gradient of a slice: g placed into zeros of the source's shape. @internal */
function unslice(g: Tensor, src: Tensor, dim: number, s0: number, step: number): Tensor {
  const z = launch('fill', g.dtype, [], [{ shape: src.shape, dtype: g.dtype, device: g.device }], [], [0])[0]!;
  const strides = contiguousStrides(src.shape);
  const vs = [...strides];
  vs[dim] = strides[dim]! * step;
  const dst = makeView(z, g.shape, vs, s0 * strides[dim]!);
  copyInto(dst, g);
  dst.dispose();
  return z;
}

/**
 * @internal t itself when already of `dtype`, else its copy in `dtype`: for ops that cast their operands and
 * dispose what they made (`if (A !== a) A.dispose()`), without a view per op. The public cast() always returns a
 * tensor of its own.
 */
export function asDType(t: Tensor, dtype: DType): Tensor {
  return dtype === t.dtype ? t : copy(t, dtype);
}

/** A contiguous copy of t in `dtype` (any dtype name is checked here: cast and clone come through). */
export function copy(t: Tensor, dtype: DType): Tensor {
  checkDType('cast', dtype);
  const out = launch('copy', t.dtype, [t], [{ shape: t.shape, dtype }])[0]!;
  if (isFloat(dtype) && isFloat(t.dtype)) recordView(out, t, dtype === t.dtype ? 'clone' : 'cast', (g) => g.cast(t.dtype));
  return out;
}

export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous()) return recordView(makeView(t, t.shape, contiguousStrides(t.shape), t.offset), t, 'contiguous', (g) => g);
  return copy(t, t.dtype);
}

function inferShape(t: Tensor, shape: readonly number[]): number[] {
  numbersArg('reshape', 'shape', shape);
  const out = [...shape];
  const neg = out.filter((d) => d === -1).length;
  if (neg > 1) throw new ShapeError(`reshape: expected at most one -1 in the shape, got ${fmt(shape)}`);
  if (neg === 1) {
    const known = out.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    if (known === 0 || t.numel % known !== 0) {
      throw new ShapeError(`reshape: expected a shape compatible with ${t.numel} elements, got ${fmt(shape)}`);
    }
    out[out.indexOf(-1)] = t.numel / known;
  }
  if (numelOf('reshape', out) !== t.numel) {
    throw new ShapeError(`reshape: expected a shape of ${t.numel} elements (from ${fmt(t.shape)}), got ${fmt(shape)}`);
  }
  return out;
}

// Strides for viewing t as `shape` without a copy, or null (NumPy's _attempt_nocopy_reshape idea: match groups
// of old dims to groups of new dims of equal element count; each old group must be contiguous in itself).
function viewStrides(t: Tensor, shape: readonly number[]): number[] | null {
  const os = t.shape.filter((d) => d !== 1);
  const ost = t.strides.filter((_, i) => t.shape[i] !== 1);
  const out = new Array<number>(shape.length).fill(0);
  let oi = 0, ni = 0;
  while (ni < shape.length) {
    if (shape[ni] === 1) { out[ni] = 1; ni++; continue; }
    if (oi >= os.length) return null;
    let np = shape[ni]!, op = os[oi]!;
    const n0 = ni, o0 = oi;
    while (np !== op) {
      if (np < op) { ni++; while (shape[ni] === 1) ni++; np *= shape[ni]!; }
      else { oi++; op *= os[oi]!; }
    }
    for (let k = o0; k < oi; k++) if (ost[k] !== ost[k + 1]! * os[k + 1]!) return null;
    let st = ost[oi]!;
    for (let k = ni; k >= n0; k--) {
      if (shape[k] === 1) { out[k] = st; continue; }
      out[k] = st;
      st *= shape[k]!;
    }
    ni++; oi++;
  }
  return out;
}

export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const s = inferShape(t, shape);
  if (t.numel === 0) return makeView(t, s, contiguousStrides(s), t.offset);
  const st = viewStrides(t, s);
  let out: Tensor;
  if (st) out = makeView(t, s, st, t.offset);
  else {
    const c = launch('copy', t.dtype, [t], [{ shape: t.shape, dtype: t.dtype }])[0]!;
    out = makeView(c, s, contiguousStrides(s), 0);
    c.dispose();
  }
  return recordView(out, t, 'reshape', (g) => g.reshape(t.shape));
}

export function permute(t: Tensor, dims: readonly number[]): Tensor {
  numbersArg('permute', 'dims', dims);
  const n = t.ndim;
  const d = dims.map((x) => normAxis('permute', x, n));
  if (d.length !== n || new Set(d).size !== n) {
    throw new ShapeError(`permute: expected a permutation of ${n} dims, got [${dims.join(',')}]`);
  }
  const inv = new Array<number>(n);
  d.forEach((p, i) => (inv[p] = i));
  return recordView(makeView(t, d.map((i) => t.shape[i]!), d.map((i) => t.strides[i]!), t.offset), t, 'permute', (g) => g.permute(inv));
}

export function transpose(t: Tensor, a: number, b: number): Tensor {
  const n = t.ndim;
  if (n < 2) return recordView(makeView(t, t.shape, t.strides, t.offset), t, 'transpose', (g) => g);
  const perm = [...Array(n).keys()];
  const x = normAxis('transpose', a, n), y = normAxis('transpose', b, n);
  perm[x] = y;
  perm[y] = x;
  return permute(t, perm);
}

export function slice(t: Tensor, dim: number, start: number, end: number | undefined, step: number): Tensor {
  if (t.ndim === 0) throw new ShapeError('slice: expected a tensor of rank >= 1, got a 0-d tensor');
  const d = normAxis('slice', dim, t.ndim);
  const n = t.shape[d]!;
  // (a fractional bound would give a fractional offset: the kernels would read misaligned bytes)
  intArg('slice', 'start', start);
  if (end !== undefined) intArg('slice', 'end', end);
  intArg('slice', 'step', step);
  if (step <= 0) throw new ShapeError(`slice: expected a positive integer step, got ${step}`);
  const norm = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s0 = norm(start), e0 = end === undefined ? n : norm(end);
  const len = Math.max(0, Math.ceil((e0 - s0) / step));
  const shape = [...t.shape];
  const strides = [...t.strides];
  shape[d] = len;
  strides[d] = t.strides[d]! * step;
  return recordView(makeView(t, shape, strides, t.offset + s0 * t.strides[d]!), t, 'slice', (g) => unslice(g, t, d, s0, step));
}

export function expand(t: Tensor, shape: readonly number[]): Tensor {
  numbersArg('expand', 'shape', shape);
  if (shape.length < t.ndim) {
    throw new ShapeError(`expand: expected at least ${t.ndim} dims, got ${fmt(shape)} for a tensor of shape ${fmt(t.shape)}`);
  }
  const lead = shape.length - t.ndim;
  const st = new Array<number>(shape.length).fill(0);
  const out = [...shape];
  for (let i = 0; i < shape.length; i++) {
    if (i < lead) {
      if (shape[i] === -1) throw new ShapeError(`expand: expected sizes for new dims, got -1 at dim ${i}`);
      continue;
    }
    const src = t.shape[i - lead]!;
    if (shape[i] === -1 || shape[i] === src) { out[i] = src; st[i] = t.strides[i - lead]!; }
    else if (src === 1) st[i] = 0;
    else throw new ShapeError(`expand: expected dims of size 1 to expand, got shape ${fmt(t.shape)} to ${fmt(shape)}`);
  }
  numelOf('expand', out);
  return recordView(makeView(t, out, st, t.offset), t, 'expand', (g) => sumToShape(g, t.shape, t.dtype));
}

export function squeeze(t: Tensor, dim?: number): Tensor {
  if (dim === undefined) {
    const keep = t.shape.map((d, i) => [d, i] as const).filter(([d]) => d !== 1);
    return recordView(makeView(t, keep.map(([d]) => d), keep.map(([, i]) => t.strides[i]!), t.offset), t, 'squeeze', (g) => g.reshape(t.shape));
  }
  const d = normAxis('squeeze', dim, t.ndim);
  if (t.shape[d] !== 1) return recordView(makeView(t, t.shape, t.strides, t.offset), t, 'squeeze', (g) => g);
  return recordView(makeView(t, t.shape.filter((_, i) => i !== d), t.strides.filter((_, i) => i !== d), t.offset), t, 'squeeze', (g) => g.reshape(t.shape));
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normAxis('unsqueeze', dim, t.ndim + 1);
  const shape = [...t.shape];
  const strides = [...t.strides];
  shape.splice(d, 0, 1);
  checkRank('unsqueeze', shape);
  strides.splice(d, 0, d < t.ndim ? t.strides[d]! * t.shape[d]! : 1);
  return recordView(makeView(t, shape, strides, t.offset), t, 'unsqueeze', (g) => g.reshape(t.shape));
}

export function flatten(t: Tensor, startDim: number, endDim: number): Tensor {
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normAxis('flatten', startDim, t.ndim), e = normAxis('flatten', endDim, t.ndim);
  if (e < s) throw new ShapeError(`flatten: expected startDim <= endDim, got ${startDim} and ${endDim}`);
  const mid = t.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(t, [...t.shape.slice(0, s), mid, ...t.shape.slice(e + 1)]);
}

// The views of t along dim d of the given sizes, one after the other.
function pieces(t: Tensor, d: number, sizes: readonly number[]): Tensor[] {
  const out: Tensor[] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(slice(t, d, start, start + s, 1));
    start += s;
  }
  return out;
}

/**
 * Views of t along `dim` (PyTorch's torch.split): an integer cuts chunks of that size, the last one smaller when
 * the size does not divide the dim (a dim of size 0 gives one empty chunk); an array gives chunks of those sizes,
 * which must sum to the dim's size. Each chunk is a view (no copy) and differentiable.
 * @example `const [q, k, v] = split(qkv, 64, -1)`
 */
export function split(t: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const op = 'split';
  tensorArg(op, 'input', t);
  if (t.ndim === 0) throw new ShapeError(`${op}: expected a tensor of rank >= 1, got a 0-d tensor`);
  const d = normAxis(op, dim, t.ndim);
  const n = t.shape[d]!;
  if (typeof splitSizeOrSections === 'number') {
    const s = intArg(op, 'splitSize', splitSizeOrSections);
    if (s < 0) throw new ArgumentError(`${op}: expected splitSize >= 0, got ${s}`);
    if (s === 0 && n > 0) throw new ArgumentError(`${op}: expected splitSize > 0 for dim ${d} of size ${n}, got 0`);
    const count = Math.max(Math.ceil(n / Math.max(s, 1)), 1);
    return pieces(t, d, Array.from({ length: count }, (_, i) => (i < count - 1 ? s : n - s * (count - 1))));
  }
  if (!Array.isArray(splitSizeOrSections)) {
    throw new ArgumentError(`${op}: expected splitSizeOrSections to be an integer or an array of integers, got ${describe(splitSizeOrSections)}`);
  }
  numbersArg(op, 'sections', splitSizeOrSections);
  splitSizeOrSections.forEach((s, i) => {
    intArg(op, `sections[${i}]`, s);
    if (s < 0) throw new ArgumentError(`${op}: expected sections >= 0, got ${s} at position ${i}`);
  });
  const sum = splitSizeOrSections.reduce((a, b) => a + b, 0);
  if (sum !== n) {
    throw new ShapeError(`${op}: expected sections summing to ${n} (the size of dim ${d} of shape ${fmt(t.shape)}), got [${splitSizeOrSections.join(',')}] (sum ${sum})`);
  }
  return pieces(t, d, splitSizeOrSections);
}

/**
 * `chunks` views of t along `dim` as PyTorch's torch.chunk cuts them: each of size ceil(n / chunks), the last one
 * smaller, so there may be fewer than `chunks` (a dim of size 6 in 4 chunks gives 3 of size 2); a dim of size 0
 * gives `chunks` empty ones. Views, differentiable.
 * @example `const [a, b] = chunk(x, 2, -1) // GLU halves`
 */
export function chunk(t: Tensor, chunks: number, dim = 0): Tensor[] {
  const op = 'chunk';
  tensorArg(op, 'input', t);
  intArg(op, 'chunks', chunks);
  if (chunks < 1) throw new ArgumentError(`${op}: expected chunks >= 1, got ${chunks}`);
  if (t.ndim === 0) throw new ShapeError(`${op}: expected a tensor of rank >= 1, got a 0-d tensor`);
  const d = normAxis(op, dim, t.ndim);
  const n = t.shape[d]!;
  if (n === 0) return pieces(t, d, new Array<number>(chunks).fill(0));
  return split(t, Math.ceil(n / chunks), d);
}
