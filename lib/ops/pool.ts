// Pooling, NCHW: max (with argmax for backward), average (count_include_pad), adaptive average.
// Kernel params: ip [kh, kw, sh, sw, ph, pw, dh, dw, count_include_pad].
import { DTypeError, ShapeError, ArgumentError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { checkShapeArg, fmt } from '../tensor/shape.js';
import { Pair, pair } from './conv.js';
import { needsGrad, record } from '../autograd/engine.js';
import { optionsArg, tensorArg } from '../check.js';

export interface Pool2dOptions {
  kernelSize: Pair;
  /** defaults to kernelSize */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

function outSize(op: string, n: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const ek = d * (k - 1) + 1;
  if (n + 2 * p < ek) throw new ShapeError(`${op}: expected a window (${ek}) no larger than the padded input (${n + 2 * p})`);
  let o = (ceil ? Math.ceil : Math.floor)((n + 2 * p - ek) / s) + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or the left padding
  if (ceil && (o - 1) * s >= n + p) o--;
  return o;
}

// the options of a pooling call: an object with a kernelSize
function poolOptions<O extends Pool2dOptions>(op: string, o: O): O {
  o = optionsArg(op, o);
  if (o.kernelSize === undefined) throw new ArgumentError(`${op}: expected options with a kernelSize, got none`);
  return o;
}

// PyTorch: the batch may be empty, the maps may not (there is nothing to pool)
function nonEmptyMaps(op: string, x: Tensor): void {
  if (x.shape[1] === 0 || x.shape[2] === 0 || x.shape[3] === 0) {
    throw new ShapeError(`${op}: expected non-zero sizes for C, H and W, got shape ${fmt(x.shape)}`);
  }
}

function poolGeometry(op: string, x: Tensor, o: Pool2dOptions) {
  if (x.ndim !== 4) throw new ShapeError(`${op}: expected input of rank 4 (N,C,H,W), got shape ${fmt(x.shape)}`);
  nonEmptyMaps(op, x);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  const [kh, kw] = pair(op, 'kernelSize', o.kernelSize, 1, 1);
  const [sh, sw] = pair(op, 'stride', o.stride ?? o.kernelSize, 1, 1);
  const [ph, pw] = pair(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', o.dilation, 1, 1);
  if (2 * ph > kh || 2 * pw > kw) throw new ArgumentError(`${op}: expected padding at most half the kernel size, got padding [${ph},${pw}] for kernel [${kh},${kw}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const OH = outSize(op, H, kh, sh, ph, dh, !!o.ceilMode), OW = outSize(op, W, kw, sw, pw, dw, !!o.ceilMode);
  return { shape: [N, C, OH, OW], ip: [kh, kw, sh, sw, ph, pw, dh, dw] };
}

/** Max pooling; returns the output and the argmax indices (int32, flat within each H*W plane). @example `maxPool2dWithIndices(x, {kernelSize: 2})` */
export function maxPool2dWithIndices(x: Tensor, o: Pool2dOptions): [Tensor, Tensor] {
  tensorArg('max_pool2d', 'input', x);
  o = poolOptions('max_pool2d', o);
  const g = poolGeometry('max_pool2d', x, o);
  const xc = x.isContiguous() ? x : x.contiguous();
  try {
    const [y, idx] = launch('max_pool2d', x.dtype, [xc], [{ shape: g.shape, dtype: x.dtype }, { shape: g.shape, dtype: 'int32' }], g.ip);
    if (needsGrad(x)) record(y!, [x], 'max_pool2d', (gy) => [maxPool2dBackward(gy, idx!, x.shape, o)], [idx!]);
    return [y!, idx!];
  } finally {
    if (xc !== x) xc.dispose();
  }
}
/** @example `maxPool2d(x, { kernelSize: 2 })` */
export function maxPool2d(x: Tensor, o: Pool2dOptions): Tensor {
  const [y, idx] = maxPool2dWithIndices(x, o);
  if (!y.requiresGrad) idx.dispose();  // otherwise the graph holds it for backward
  return y;
}
/**
 * Gradient of max pooling: dy scattered to the argmax. Passing the forward's options lets the kernel take its
 * fast path when the windows tile the input.
 * @example `maxPool2dBackward(dy, idx, x.shape, { kernelSize: 2 })`
 */
export function maxPool2dBackward(dy: Tensor, indices: Tensor, inputShape: readonly number[], o?: Pool2dOptions): Tensor {
  const op = 'max_pool2d_bwd';
  tensorArg(op, 'dy', dy);
  tensorArg(op, 'indices', indices);
  checkShapeArg(op, inputShape);
  if (o !== undefined) o = poolOptions(op, o);
  if (!dy.isContiguous() || !indices.isContiguous()) {
    const d = dy.contiguous(), i = indices.contiguous();
    try { return maxPool2dBackward(d, i, inputShape, o); } finally { d.dispose(); i.dispose(); }
  }
  if (inputShape.length !== 4) throw new ShapeError(`${op}: expected an input shape of rank 4, got ${fmt(inputShape)}`);
  if (dy.ndim !== 4 || indices.ndim !== 4 || dy.shape.some((d, i) => d !== indices.shape[i]) || dy.shape[0] !== inputShape[0] || dy.shape[1] !== inputShape[1]) {
    throw new ShapeError(`${op}: expected dy and indices of one shape [${inputShape[0]},${inputShape[1]},OH,OW], got ${fmt(dy.shape)} and ${fmt(indices.shape)}`);
  }
  if (indices.dtype !== 'int32') throw new DTypeError(`${op}: expected int32 indices, got ${indices.dtype}`);
  let ip: number[] = [];
  if (o) {
    const g = poolGeometry(op, { shape: inputShape, ndim: 4, dtype: dy.dtype } as unknown as Tensor, o);
    if (g.shape[2] !== dy.shape[2] || g.shape[3] !== dy.shape[3]) throw new ShapeError(`${op}: expected dy of shape ${fmt(g.shape)}, got ${fmt(dy.shape)}`);
    ip = g.ip;
  }
  return launch(op, dy.dtype, [dy, indices], [{ shape: inputShape, dtype: dy.dtype }], ip)[0]!;
}

/** @example `avgPool2d(x, { kernelSize: 3, stride: 1, padding: 1, countIncludePad: false })` */
export function avgPool2d(x: Tensor, o: Pool2dOptions & { countIncludePad?: boolean }): Tensor {
  tensorArg('avg_pool2d', 'input', x);
  o = poolOptions('avg_pool2d', o);
  if (o.dilation !== undefined && o.dilation !== 1) throw new ArgumentError(`avg_pool2d: expected no dilation, got ${JSON.stringify(o.dilation)}`);
  const g = poolGeometry('avg_pool2d', x, o);
  const xc = x.isContiguous() ? x : x.contiguous();
  try {
    const y = launch('avg_pool2d', x.dtype, [xc], [{ shape: g.shape, dtype: x.dtype }], [...g.ip, o.countIncludePad === false ? 0 : 1])[0]!;
    if (needsGrad(x)) record(y, [x], 'avg_pool2d', (gy) => [avgPool2dBackward(gy, x.shape, o)]);
    return y;
  } finally {
    if (xc !== x) xc.dispose();
  }
}
/** @internal gradient of avgPool2d */
export function avgPool2dBackward(dy: Tensor, inputShape: readonly number[], o: Pool2dOptions & { countIncludePad?: boolean }): Tensor {
  const op = 'avg_pool2d_bwd';
  tensorArg(op, 'dy', dy);
  checkShapeArg(op, inputShape);
  o = poolOptions(op, o);
  if (inputShape.length !== 4) throw new ShapeError(`${op}: expected an input shape of rank 4, got ${fmt(inputShape)}`);
  const probe = { ndim: 4, shape: inputShape, dtype: dy.dtype } as unknown as Tensor;
  const g = poolGeometry(op, probe, o);
  if (dy.ndim !== 4 || g.shape.some((d, i) => d !== dy.shape[i])) throw new ShapeError(`${op}: expected dy of shape ${fmt(g.shape)}, got ${fmt(dy.shape)}`);
  if (!isFloat(dy.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 dy, got ${dy.dtype}`);
  const d = dy.isContiguous() ? dy : dy.contiguous();
  try {
    return launch('avg_pool2d_bwd', dy.dtype, [d], [{ shape: inputShape, dtype: dy.dtype }], [...g.ip, o.countIncludePad === false ? 0 : 1])[0]!;
  } finally {
    if (d !== dy) d.dispose();
  }
}

/** Average pooling to a fixed output size ([1,1] = global average pooling). @example `adaptiveAvgPool2d(x, 1)` */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  const op = 'adaptive_avg_pool2d';
  tensorArg(op, 'input', x);
  if (outputSize === undefined) throw new ArgumentError(`${op}: expected an outputSize, got undefined`);
  if (x.ndim !== 4) throw new ShapeError(`${op}: expected input of rank 4 (N,C,H,W), got shape ${fmt(x.shape)}`);
  nonEmptyMaps(op, x);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  const [oh, ow] = pair(op, 'outputSize', outputSize, 1, 1);
  const xc = x.isContiguous() ? x : x.contiguous();
  try {
    const y = launch(op, x.dtype, [xc], [{ shape: [x.shape[0]!, x.shape[1]!, oh, ow], dtype: x.dtype }])[0]!;
    if (needsGrad(x)) record(y, [x], op, (gy) => [adaptiveAvgPool2dBackward(gy, x.shape)]);
    return y;
  } finally {
    if (xc !== x) xc.dispose();
  }
}
/** @internal gradient of adaptiveAvgPool2d */
export function adaptiveAvgPool2dBackward(dy: Tensor, inputShape: readonly number[]): Tensor {
  const op = 'adaptive_avg_pool2d_bwd';
  tensorArg(op, 'dy', dy);
  checkShapeArg(op, inputShape);
  if (inputShape.length !== 4 || dy.ndim !== 4 || dy.shape[0] !== inputShape[0] || dy.shape[1] !== inputShape[1]) {
    throw new ShapeError(`${op}: expected dy of shape [${inputShape[0]},${inputShape[1]},OH,OW] for an input of shape ${fmt(inputShape)}, got ${fmt(dy.shape)}`);
  }
  if (!isFloat(dy.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 dy, got ${dy.dtype}`);
  const d = dy.isContiguous() ? dy : dy.contiguous();
  try {
    return launch('adaptive_avg_pool2d_bwd', dy.dtype, [d], [{ shape: inputShape, dtype: dy.dtype }])[0]!;
  } finally {
    if (d !== dy) d.dispose();
  }
}
