// Reductions over any axes, and softmax/log_softmax. The kernels see a contiguous [outer, R, inner] view: reduced
// axes that are already one contiguous block need no copy; others are permuted to the end first.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { axesArg, describe, tensorArg } from '../check.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { fmt, normAxis, shapesEqual } from '../tensor/shape.js';
import { DType } from '../dtype.js';
import { needsGrad, record } from '../autograd/engine.js';

/** Sums g over the dims that broadcasting added to reach g.shape from `shape` (a gradient's way back). @internal */
export function sumToShape(g: Tensor, shape: readonly number[], dtype: DType): Tensor {
  let r = g;
  if (!shapesEqual(g.shape, shape)) {
    const lead = g.ndim - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
    const s = axes.length ? reduce('sum', g, axes, true) : g;
    r = s.reshape(shape);
  }
  return r.dtype === dtype ? r : r.cast(dtype);
}

function axesOf(op: string, t: Tensor, axes: number | readonly number[] | undefined): number[] {
  axes = axesArg(op, axes);
  if (axes === undefined) return [...Array(t.ndim).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const n = list.map((a) => normAxis(op, a, t.ndim));
  if (new Set(n).size !== n.length) throw new ShapeError(`${op}: expected distinct axes, got [${list.join(',')}]`);
  return n.sort((a, b) => a - b);
}

// The [outer, R, inner] form of t for reducing `axes`, plus the kept shape. Disposes nothing it did not create.
function toORI(op: string, t: Tensor, axes: number[]): { v: Tensor; outer: number; R: number; inner: number; tmp: Tensor | null } {
  const consecutive = axes.every((a, i) => i === 0 || a === axes[i - 1]! + 1);
  let src = t;
  let tmp: Tensor | null = null;
  let lo = axes[0] ?? t.ndim, hi = (axes[axes.length - 1] ?? t.ndim - 1) + 1;
  if (!consecutive) {
    const kept = [...Array(t.ndim).keys()].filter((i) => !axes.includes(i));
    const p = t.permute([...kept, ...axes]);
    tmp = p.contiguous();
    p.dispose();
    src = tmp;
    lo = kept.length;
    hi = t.ndim;
  } else if (!t.isContiguous()) {
    tmp = t.contiguous();
    src = tmp;
  }
  const prod = (a: number, b: number) => src.shape.slice(a, b).reduce((x, y) => x * y, 1);
  return { v: src, outer: prod(0, lo), R: prod(lo, hi), inner: prod(hi, src.ndim), tmp };
}

function keepdimArg(op: string, keepdim: unknown): boolean {
  if (typeof keepdim !== 'boolean') throw new ArgumentError(`${op}: expected keepdim to be true or false, got ${describe(keepdim)}`);
  return keepdim;
}

function keptShape(t: Tensor, axes: number[], keepdim: boolean): number[] {
  return keepdim ? t.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : t.shape.filter((_, i) => !axes.includes(i));
}

export function reduce(op: string, t: Tensor, axesArg: number | readonly number[] | undefined, keepdim: boolean, fp: number[] = []): Tensor {
  const axes = axesOf(op, t, axesArg);
  keepdimArg(op, keepdim);
  const x = isFloat(t.dtype) ? t : t.cast('float64');  // integer inputs reduce exactly in float64
  const { v, outer, R, inner, tmp } = toORI(op, x, axes);
  try {
    if (R === 0 && (op === 'max' || op === 'min')) {
      throw new ShapeError(`${op}: expected a non-empty reduction, got shape ${fmt(t.shape)} over axes [${axes.join(',')}]`);
    }
    const out = launch(op, x.dtype, [{ t: v, shape: [outer, R, inner], strides: [R * inner, inner, 1], offset: v.offset }], [{ shape: keptShape(t, axes, keepdim), dtype: x.dtype, kernelShape: [outer, inner] }], [], fp)[0]!;
    if (needsGrad(t)) recordReduce(op, t, out, axes, R, fp);
    return out;
  } finally {
    tmp?.dispose();
    if (x !== t) x.dispose();
  }
}

// Backward rules of the reductions: the output gradient is broadcast back over the reduced axes.
function recordReduce(op: string, x: Tensor, out: Tensor, axes: number[], R: number, fp: number[]): void {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const back = (g: Tensor) => g.reshape(kept).expand(x.shape);
  let rule: (g: Tensor) => Tensor | null;
  switch (op) {
    case 'sum': rule = (g) => back(g).contiguous(); break;
    case 'mean': rule = (g) => back(g).div(R); break;
    case 'max':
    case 'min': rule = (g) => {
      // split between ties, like PyTorch's amax/amin
      const hit = x.eq(back(out)).cast(x.dtype);
      return back(g).mul(hit).div(back(hit.sum(axes, true).reshape(out.shape)));
    }; break;
    case 'var': rule = (g) => back(g).mul(x.sub(back(x.mean(axes, true).reshape(out.shape)))).mul(2 / (R - (fp[0] ?? 1))); break;
    case 'logsumexp': rule = (g) => back(g).mul(x.sub(back(out)).exp()); break;
    default: return;
  }
  record(out, [x], op, (g) => [rule(g)], [x, out]);
}

export function reduceWithIndices(op: 'max' | 'min', t: Tensor, axis: number, keepdim: boolean): [Tensor, Tensor] {
  const axes = [normAxis(op, axis, t.ndim)];
  keepdimArg(op, keepdim);
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 tensor, got ${t.dtype}`);
  const { v, outer, R, inner, tmp } = toORI(op, t, axes);
  try {
    if (R === 0) throw new ShapeError(`${op}: expected a non-empty reduction, got shape ${fmt(t.shape)}`);
    const shape = keptShape(t, axes, keepdim);
    const [vals, idx] = launch(op, t.dtype, [{ t: v, shape: [outer, R, inner], strides: [R * inner, inner, 1], offset: v.offset }], [
      { shape, dtype: t.dtype, kernelShape: [outer, inner] },
      { shape, dtype: 'int32', kernelShape: [outer, inner] },
    ]);
    if (needsGrad(t)) recordReduce(op, t, vals!, axes, R, []);
    return [vals!, idx!];
  } finally {
    tmp?.dispose();
  }
}

export function argReduce(op: 'argmax' | 'argmin', t: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  keepdimArg(op, keepdim);
  if (axis !== undefined) normAxis(op, axis, t.ndim);  // before the flat view or the cast is made
  const flat = axis === undefined ? t.reshape([t.numel]) : t;
  const x = isFloat(flat.dtype) ? flat : flat.cast('float64');
  const axes = [axis === undefined ? 0 : normAxis(op, axis, t.ndim)];
  const { v, outer, R, inner, tmp } = toORI(op, x, axes);
  try {
    if (R === 0) throw new ShapeError(`${op}: expected a non-empty reduction, got shape ${fmt(t.shape)}`);
    const shape = axis === undefined ? (keepdim ? t.shape.map(() => 1) : []) : keptShape(t, axes, keepdim);
    return launch(op, x.dtype, [{ t: v, shape: [outer, R, inner], strides: [R * inner, inner, 1], offset: v.offset }], [{ shape, dtype: 'int32', kernelShape: [outer, inner] }])[0]!;
  } finally {
    tmp?.dispose();
    if (x !== flat) x.dispose();
    if (flat !== t) flat.dispose();
  }
}

/** softmax / log_softmax along one axis (numerically stable). */
export function softmax(op: 'softmax' | 'log_softmax', t: Tensor, axis: number): Tensor {
  if (!isFloat(t.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 tensor, got ${t.dtype}`);
  const a = normAxis(op, axis, t.ndim);
  const { v, outer, R, inner, tmp } = toORI(op, t, [a]);
  try {
    const out = launch(op, t.dtype, [{ t: v, shape: [outer, R, inner], strides: [R * inner, inner, 1], offset: v.offset }], [{ shape: t.shape, dtype: t.dtype, kernelShape: [outer, R, inner] }])[0]!;
    if (needsGrad(t)) record(out, [t], op, (g) => [softmaxBackward(`${op}_bwd`, g, out, a)], [out]);
    return out;
  } finally {
    tmp?.dispose();
  }
}

/** Backward of softmax/log_softmax given dy and the forward output y. @internal (autograd) */
export function softmaxBackward(op: 'softmax_bwd' | 'log_softmax_bwd', dy: Tensor, y: Tensor, axis: number): Tensor {
  if (op !== 'softmax_bwd' && op !== 'log_softmax_bwd') {
    throw new ArgumentError(`softmax_bwd: expected 'softmax_bwd' or 'log_softmax_bwd', got ${describe(op)}`);
  }
  tensorArg(op, 'dy', dy);
  tensorArg(op, 'y', y);
  if (!shapesEqual(dy.shape, y.shape)) throw new ShapeError(`${op}: expected dy of shape ${fmt(y.shape)}, got ${fmt(dy.shape)}`);
  if (dy.dtype !== y.dtype || !isFloat(y.dtype)) throw new DTypeError(`${op}: expected float dy and y of one dtype, got ${dy.dtype} and ${y.dtype}`);
  const a = normAxis(op, axis, y.ndim);
  const yc = toORI(op, y, [a]);
  const dc = toORI(op, dy, [a]);
  try {
    const geo = (v: Tensor) => ({ t: v, shape: [yc.outer, yc.R, yc.inner], strides: [yc.R * yc.inner, yc.inner, 1], offset: v.offset });
    return launch(op, y.dtype, [geo(dc.v), geo(yc.v)], [{ shape: y.shape, dtype: y.dtype, kernelShape: [yc.outer, yc.R, yc.inner] }])[0]!;
  } finally {
    yc.tmp?.dispose();
    dc.tmp?.dispose();
  }
}
