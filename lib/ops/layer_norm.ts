// Fused layer normalisation (PyTorch's native_layer_norm and its backward): x viewed as rows [M, D] of the
// normalised dims, one native op each way (native/cpu/norm.cpp, native/cuda/norm.cu).
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { checkShapeArg, fmt } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { describe, optTensorArg, tensorArg } from '../check.js';

// the contiguous [rows, D] view of t (a copy first when t is not contiguous); `own` when the caller disposes it
function rows(t: Tensor, shape: readonly number[]): { v: Tensor; own: Tensor | null } {
  const c = t.isContiguous() ? null : t.contiguous();
  const v = (c ?? t).reshape(shape);
  return { v, own: c };
}
function release(...ts: ({ v: Tensor; own: Tensor | null } | null)[]): void {
  for (const t of ts) {
    if (!t) continue;
    t.v.dispose();
    t.own?.dispose();
  }
}

// checks the arguments of a layer norm over the trailing `normalizedShape` dims of x; returns [M, D]
function lnCheck(op: string, x: Tensor, normalizedShape: readonly number[], weight: Tensor | null | undefined,
  bias: Tensor | null | undefined): [number, number] {
  tensorArg(op, 'input', x);
  checkShapeArg(op, normalizedShape);
  optTensorArg(op, 'weight', weight);
  optTensorArg(op, 'bias', bias);
  const k = normalizedShape.length;
  if (k === 0 || k > x.ndim || normalizedShape.some((d, i) => d !== x.shape[x.ndim - k + i])) {
    throw new ShapeError(`${op}: expected input ending in ${fmt(normalizedShape)}, got shape ${fmt(x.shape)}`);
  }
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  for (const [n, t] of [['weight', weight], ['bias', bias]] as const) {
    if (!t) continue;
    if (t.ndim !== k || t.shape.some((d, i) => d !== normalizedShape[i])) {
      throw new ShapeError(`${op}: expected ${n} of shape ${fmt(normalizedShape)}, got ${fmt(t.shape)}`);
    }
    if (t.dtype !== x.dtype) throw new DTypeError(`${op}: expected ${n} of dtype ${x.dtype}, got ${t.dtype}`);
  }
  const D = normalizedShape.reduce((a, b) => a * b, 1);
  const M = x.shape.slice(0, x.ndim - k).reduce((a, b) => a * b, 1);
  return [M, D];
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims (PyTorch's F.layer_norm): each row of those dims
 * gets y = (x - mean) / sqrt(var + eps) * weight + bias, var biased; weight and bias (either, both or neither) have
 * shape normalizedShape. One fused native op forward and one backward.
 * @example `layerNorm(x, [64], w, b)`
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const [y, mean, rstd] = layerNormForward(x, normalizedShape, weight, bias, eps);
  if (needsGrad(x, weight, bias)) {
    const save = [x, mean, rstd];
    if (weight) save.push(weight);
    record(y, [x, weight, bias], 'layer_norm', (g) => {
      const [dx, dw, db] = layerNormBackward(g, x, normalizedShape, mean, rstd, weight,
        [x.requiresGrad, !!weight?.requiresGrad, !!bias?.requiresGrad]);
      return [x.requiresGrad ? dx : (dx!.dispose(), null), dw, db];
    }, save);
  }
  return y;
}

/**
 * Layer norm forward: [y (x's shape), mean [M], rstd [M]] with M the product of x's leading dims and
 * rstd = 1 / sqrt(biased var + eps).
 * @internal
 */
export function layerNormForward(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null,
  eps = 1e-5): [Tensor, Tensor, Tensor] {
  const op = 'layer_norm';
  const [M, D] = lnCheck(op, x, normalizedShape, weight, bias);
  if (typeof eps !== 'number' || !(eps >= 0 && eps < Infinity)) throw new ArgumentError(`${op}: expected eps >= 0, got ${describe(eps)}`);
  const xv = rows(x, [M, D]);
  const wv = weight ? rows(weight, [D]) : null;
  const bv = bias ? rows(bias, [D]) : null;
  try {
    const ins = [xv.v];
    if (wv) ins.push(wv.v);
    if (bv) ins.push(bv.v);
    const v = { shape: [M], dtype: x.dtype };
    const [y, mean, rstd] = launch(op, x.dtype, ins, [{ shape: x.shape, dtype: x.dtype, kernelShape: [M, D] }, v, v],
      [(wv ? 1 : 0) | (bv ? 2 : 0)], [eps]);
    return [y!, mean!, rstd!];
  } finally {
    release(xv, wv, bv);
  }
}

/**
 * Layer norm backward: [dx, dweight, dbias] from dy (x's shape), the forward's mean and rstd [M] and weight
 * (when the forward had one); dweight and dbias are computed where `want` asks for them (null otherwise).
 * @internal
 */
export function layerNormBackward(dy: Tensor, x: Tensor, normalizedShape: readonly number[], mean: Tensor, rstd: Tensor,
  weight: Tensor | null | undefined, want: readonly [boolean, boolean, boolean] = [true, true, true]): [Tensor | null, Tensor | null, Tensor | null] {
  const op = 'layer_norm_bwd';
  const [M, D] = lnCheck(op, x, normalizedShape, weight, null);
  tensorArg(op, 'dy', dy);
  if (dy.ndim !== x.ndim || dy.shape.some((d, i) => d !== x.shape[i])) throw new ShapeError(`${op}: expected dy of shape ${fmt(x.shape)}, got ${fmt(dy.shape)}`);
  if (dy.dtype !== x.dtype) throw new DTypeError(`${op}: expected dy of dtype ${x.dtype}, got ${dy.dtype}`);
  for (const [n, t] of [['mean', mean], ['rstd', rstd]] as const) {
    tensorArg(op, n, t);
    if (t.numel !== M) throw new ShapeError(`${op}: expected ${n} of ${M} elements, got shape ${fmt(t.shape)}`);
    if (t.dtype !== x.dtype) throw new DTypeError(`${op}: expected ${n} of dtype ${x.dtype}, got ${t.dtype}`);
  }
  const wantW = want[1] && !!weight, wantB = want[2];
  const dv = rows(dy, [M, D]), xv = rows(x, [M, D]);
  const mv = rows(mean, [M]), sv = rows(rstd, [M]);
  const wv = weight ? rows(weight, [D]) : null;
  try {
    const ins = [dv.v, xv.v, mv.v, sv.v];
    if (wv) ins.push(wv.v);
    const outs = [{ shape: x.shape, dtype: x.dtype, kernelShape: [M, D] }];
    if (wantW) outs.push({ shape: weight!.shape, dtype: x.dtype, kernelShape: [D] });
    if (wantB) outs.push({ shape: [...normalizedShape], dtype: x.dtype, kernelShape: [D] });
    const r = launch(op, x.dtype, ins, outs, [(wv ? 1 : 0) | (wantW ? 2 : 0) | (wantB ? 4 : 0)]);
    let k = 1;
    return [r[0]!, wantW ? r[k++]! : null, wantB ? r[k++]! : null];
  } finally {
    release(dv, xv, mv, sv, wv);
  }
}
