// conv2d (forward, both gradients) and conv_transpose2d, NCHW. Validation and output shapes live here; the
// kernels trust the params: ip [sh, sw, ph, pw, dh, dw, groups, relu].
import { DTypeError, ShapeError, ArgumentError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import { checkShapeArg, fmt } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { reluBackward } from './elementwise.js';
import { describe, isOptions, optTensorArg, optionsArg, tensorArg } from '../check.js';

export type Pair = number | readonly [number, number];
export interface Conv2dOptions {
  stride?: Pair;
  /** numbers, or 'valid' (none) or 'same' (output size = input size; stride 1 only; extra padding goes bottom/right) */
  padding?: Pair | 'same' | 'valid';
  dilation?: Pair;
  groups?: number;
}

export function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  if (v !== undefined && typeof v !== 'number' && !(Array.isArray(v) && v.length === 2)) {
    throw new ArgumentError(`${op}: expected ${name} to be an integer or a pair of integers, got ${describe(v)}`);
  }
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new ArgumentError(`${op}: expected ${name} to be integers >= ${min}, got ${JSON.stringify(v)}`);
  }
  return p;
}

export interface ConvGeometry {
  N: number; C: number; H: number; W: number; K: number; kh: number; kw: number;
  OH: number; OW: number; ip: number[];
}

/** Validates a conv2d call and computes its geometry. @internal */
export function convGeometry(op: string, x: Tensor, w: Tensor, o: Conv2dOptions, bias?: Tensor | null): ConvGeometry {
  if (x.ndim !== 4) throw new ShapeError(`${op}: expected input of rank 4 (N,C,H,W), got shape ${fmt(x.shape)}`);
  if (w.ndim !== 4) throw new ShapeError(`${op}: expected weight of rank 4 (K,C/groups,kh,kw), got shape ${fmt(w.shape)}`);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  if (w.dtype !== x.dtype) throw new DTypeError(`${op}: expected weight of dtype ${x.dtype}, got ${w.dtype}`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [K, Cg, kh, kw] = w.shape as [number, number, number, number];
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(`${op}: expected groups >= 1, got ${groups}`);
  if (C % groups !== 0 || K % groups !== 0) {
    throw new ShapeError(`${op}: expected channels (${C}) and filters (${K}) divisible by groups, got groups=${groups}`);
  }
  if (Cg !== C / groups) {
    throw new ShapeError(`${op}: expected weight of shape [${K},${C / groups},kh,kw] for input ${fmt(x.shape)} and groups=${groups}, got ${fmt(w.shape)}`);
  }
  if (kh < 1 || kw < 1 || K < 1) throw new ShapeError(`${op}: expected a non-empty weight, got shape ${fmt(w.shape)}`);
  const [sh, sw] = pair(op, 'stride', o.stride, 1, 1);
  const [dh, dw] = pair(op, 'dilation', o.dilation, 1, 1);
  let ph: number, pw: number, OH: number, OW: number;
  const ekh = dh * (kh - 1) + 1, ekw = dw * (kw - 1) + 1;
  if (o.padding === 'same') {
    if (sh !== 1 || sw !== 1) throw new ArgumentError(`${op}: expected stride 1 with padding 'same', got stride [${sh},${sw}]`);
    ph = Math.floor((ekh - 1) / 2);
    pw = Math.floor((ekw - 1) / 2);
    OH = H;
    OW = W;
  } else {
    [ph, pw] = o.padding === 'valid' ? [0, 0] : pair(op, 'padding', o.padding as Pair | undefined, 0, 0);
    if (H + 2 * ph < ekh || W + 2 * pw < ekw) {
      throw new ShapeError(`${op}: expected a kernel (${ekh}x${ekw} with dilation) no larger than the padded input (${H + 2 * ph}x${W + 2 * pw}), got input ${fmt(x.shape)}, weight ${fmt(w.shape)}`);
    }
    OH = Math.floor((H + 2 * ph - ekh) / sh) + 1;
    OW = Math.floor((W + 2 * pw - ekw) / sw) + 1;
  }
  if (bias) {
    if (bias.ndim !== 1 || bias.shape[0] !== K) throw new ShapeError(`${op}: expected bias of shape [${K}], got ${fmt(bias.shape)}`);
    if (bias.dtype !== x.dtype) throw new DTypeError(`${op}: expected bias of dtype ${x.dtype}, got ${bias.dtype}`);
  }
  return { N, C, H, W, K, kh, kw, OH, OW, ip: [sh, sw, ph, pw, dh, dw, groups] };
}

/**
 * The (bias, options) of a call `f(x, w, bias?, options?)` or `f(x, w, options)`, checking what each argument is.
 */
function biasAndOptions<O extends object>(op: string, x: unknown, w: unknown, b: Tensor | null | O | undefined, o: O | undefined): [Tensor | null, O] {
  tensorArg(op, 'input', x);
  tensorArg(op, 'weight', w);
  if (isOptions(b) && !(b instanceof Tensor) && o === undefined) {
    return [null, b];  // f(x, w, options)
  }
  return [optTensorArg(op, 'bias', b), optionsArg(op, o)];
}

/** Options that reproduce a validated geometry (explicit padding: 'same' is resolved by then). */
function convOpts(ip: number[]): Conv2dOptions {
  return { stride: [ip[0]!, ip[1]!], padding: [ip[2]!, ip[3]!], dilation: [ip[4]!, ip[5]!], groups: ip[6]! };
}

function contig(t: Tensor, keep: Tensor[]): Tensor {
  if (t.isContiguous()) return t;
  const c = t.contiguous();
  keep.push(c);
  return c;
}

/**
 * 2-D convolution (cross-correlation, as in PyTorch), NCHW. `relu` fuses a ReLU into the output.
 * @example `conv2d(x, w, b, { stride: 2, padding: 1 })`
 */
export function conv2d(x: Tensor, w: Tensor, o?: Conv2dOptions & { relu?: boolean }): Tensor;
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null | undefined, o?: Conv2dOptions & { relu?: boolean }): Tensor;
export function conv2d(x: Tensor, w: Tensor, biasOrOptions?: Tensor | null | (Conv2dOptions & { relu?: boolean }),
  options?: Conv2dOptions & { relu?: boolean }): Tensor {
  const [bias, o] = biasAndOptions('conv2d', x, w, biasOrOptions, options);
  const g = convGeometry('conv2d', x, w, o, bias);
  const tmp: Tensor[] = [];
  try {
    const ins = [contig(x, tmp), contig(w, tmp)];
    if (bias) ins.push(contig(bias, tmp));
    const out = launch('conv2d', x.dtype, ins, [{ shape: [g.N, g.K, g.OH, g.OW], dtype: x.dtype }], [...g.ip, o.relu ? 1 : 0])[0]!;
    if (needsGrad(x, w, bias)) {
      const co = convOpts(g.ip);
      record(out, [x, w, bias], 'conv2d', (g0) => {
        const gy = o.relu ? reluBackward(g0, out) : g0;
        const gx = x.requiresGrad ? conv2dBackwardInput(gy, w, x.shape, co) : null;
        if (w.requiresGrad && bias?.requiresGrad) {
          // one kernel gives both: the bias gradient is summed from dy while the weight gradient reads it
          const [gw, gb] = conv2dBackwardWeightBias(gy, x, w.shape, co);
          return [gx, gw, gb];
        }
        return [
          gx,
          w.requiresGrad ? conv2dBackwardWeight(gy, x, w.shape, co) : null,
          bias?.requiresGrad ? gy.sum([2, 3]).sum(0) : null,  // two contiguous reductions, no permuted copy
        ];
      }, [x, w, out]);
    }
    return out;
  } finally {
    tmp.forEach((t) => t.dispose());
  }
}

/** Gradient of conv2d with respect to its input, given dy and the weight. @example `conv2dBackwardInput(dy, w, x.shape)` */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, inputShape: readonly number[], o?: Conv2dOptions): Tensor {
  const op = 'conv2d_bwd_input';
  tensorArg(op, 'dy', dy);
  tensorArg(op, 'weight', w);
  checkShapeArg(op, inputShape);
  o = optionsArg(op, o);
  if (inputShape.length !== 4) throw new ShapeError(`${op}: expected an input shape of rank 4, got ${fmt(inputShape)}`);
  const probe = { shape: inputShape, ndim: 4, dtype: dy.dtype } as unknown as Tensor;
  const g = convGeometry(op, probe, w, o);
  if (dy.ndim !== 4 || dy.shape[0] !== g.N || dy.shape[1] !== g.K || dy.shape[2] !== g.OH || dy.shape[3] !== g.OW) {
    throw new ShapeError(`${op}: expected dy of shape [${g.N},${g.K},${g.OH},${g.OW}], got ${fmt(dy.shape)}`);
  }
  const tmp: Tensor[] = [];
  try {
    return launch(op, dy.dtype, [contig(dy, tmp), contig(w, tmp)], [{ shape: inputShape, dtype: dy.dtype }], [...g.ip, 0])[0]!;
  } finally {
    tmp.forEach((t) => t.dispose());
  }
}

/** Gradient of conv2d with respect to its weight, given dy and the input. @example `conv2dBackwardWeight(dy, x, w.shape)` */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, weightShape: readonly number[], o?: Conv2dOptions): Tensor {
  return weightGrads(dy, x, weightShape, o, false)[0]!;
}

/**
 * Gradients of conv2d with respect to its weight and its bias (the sum of dy over N, H, W), from one kernel.
 * @example `const [gw, gb] = conv2dBackwardWeightBias(dy, x, w.shape, { padding: 1 })`
 */
export function conv2dBackwardWeightBias(dy: Tensor, x: Tensor, weightShape: readonly number[], o?: Conv2dOptions): [Tensor, Tensor] {
  return weightGrads(dy, x, weightShape, o, true) as [Tensor, Tensor];
}

function weightGrads(dy: Tensor, x: Tensor, weightShape: readonly number[], o: Conv2dOptions | undefined, withBias: boolean): Tensor[] {
  const op = 'conv2d_bwd_weight';
  tensorArg(op, 'dy', dy);
  tensorArg(op, 'input', x);
  checkShapeArg(op, weightShape);
  o = optionsArg(op, o);
  const probe = { shape: weightShape, ndim: weightShape.length, dtype: x.dtype } as unknown as Tensor;
  const g = convGeometry(op, x, probe, o);
  if (dy.ndim !== 4 || dy.shape[0] !== g.N || dy.shape[1] !== g.K || dy.shape[2] !== g.OH || dy.shape[3] !== g.OW) {
    throw new ShapeError(`${op}: expected dy of shape [${g.N},${g.K},${g.OH},${g.OW}], got ${fmt(dy.shape)}`);
  }
  if (dy.dtype !== x.dtype) throw new DTypeError(`${op}: expected dy of dtype ${x.dtype}, got ${dy.dtype}`);
  const tmp: Tensor[] = [];
  try {
    const outs = [{ shape: weightShape, dtype: x.dtype }];
    if (withBias) outs.push({ shape: [weightShape[0]!], dtype: x.dtype });
    return launch(op, x.dtype, [contig(dy, tmp), contig(x, tmp)], outs, [...g.ip, 0]);
  } finally {
    tmp.forEach((t) => t.dispose());
  }
}

export interface ConvTranspose2dOptions {
  stride?: Pair;
  padding?: Pair;
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/**
 * Transposed convolution (the gradient of conv2d with respect to its input), weight [C_in, C_out/groups, kh, kw]
 * as in PyTorch. Output size (H-1)*stride - 2*padding + dilation*(k-1) + outputPadding + 1.
 * @example `convTranspose2d(z, w, b, { stride: 2, padding: 1, outputPadding: 1 })`
 */
export function convTranspose2d(x: Tensor, w: Tensor, o?: ConvTranspose2dOptions): Tensor;
export function convTranspose2d(x: Tensor, w: Tensor, bias: Tensor | null | undefined, o?: ConvTranspose2dOptions): Tensor;
export function convTranspose2d(x: Tensor, w: Tensor, biasOrOptions?: Tensor | null | ConvTranspose2dOptions,
  options?: ConvTranspose2dOptions): Tensor {
  const op = 'conv_transpose2d';
  const [bias, o] = biasAndOptions(op, x, w, biasOrOptions, options);
  if (x.ndim !== 4) throw new ShapeError(`${op}: expected input of rank 4 (N,C,H,W), got shape ${fmt(x.shape)}`);
  if (w.ndim !== 4) throw new ShapeError(`${op}: expected weight of rank 4 (C_in,C_out/groups,kh,kw), got shape ${fmt(w.shape)}`);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
  if (w.dtype !== x.dtype) throw new DTypeError(`${op}: expected weight of dtype ${x.dtype}, got ${w.dtype}`);
  if (bias && bias.dtype !== x.dtype) throw new DTypeError(`${op}: expected bias of dtype ${x.dtype}, got ${bias.dtype}`);
  const groups = o.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new ArgumentError(`${op}: expected groups to be an integer >= 1, got ${describe(groups)}`);
  const [N, Cin, H, W] = x.shape as [number, number, number, number];
  // checked here, in this op's terms (the kernel below is conv2d's input gradient, whose channels are the other way round)
  if (Cin % groups !== 0) throw new ShapeError(`${op}: expected input channels (${Cin}) divisible by groups=${groups}, got input ${fmt(x.shape)}`);
  if (w.shape[0] !== Cin) throw new ShapeError(`${op}: expected weight of shape [${Cin},C_out/groups,kh,kw] for input ${fmt(x.shape)}, got ${fmt(w.shape)}`);
  if (w.shape[1]! < 1 || w.shape[2]! < 1 || w.shape[3]! < 1) throw new ShapeError(`${op}: expected a non-empty weight, got shape ${fmt(w.shape)}`);
  const [sh, sw] = pair(op, 'stride', o.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', o.padding, 0, 0);
  const [dh, dw] = pair(op, 'dilation', o.dilation, 1, 1);
  const [oph, opw] = pair(op, 'outputPadding', o.outputPadding, 0, 0);
  if (oph >= Math.max(sh, dh) || opw >= Math.max(sw, dw)) {
    throw new ArgumentError(`${op}: expected outputPadding smaller than stride or dilation, got [${oph},${opw}]`);
  }
  const kh = w.shape[2]!, kw = w.shape[3]!;
  const OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1;
  const OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1;
  if (OH <= 0 || OW <= 0) throw new ShapeError(`${op}: expected a positive output size, got [${OH},${OW}] for input ${fmt(x.shape)}`);
  const Cout = w.shape[1]! * groups;
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Cout)) throw new ShapeError(`${op}: expected bias of shape [${Cout}], got ${fmt(bias.shape)}`);
  const co: Conv2dOptions = { stride: [sh, sw], padding: [ph, pw], dilation: [dh, dw], groups };
  const y = conv2dBackwardInput(x, w, [N, Cout, OH, OW], co);
  // the transposed convolution's gradients are the forward convolution and the weight gradient with roles swapped
  if (needsGrad(x, w)) {
    record(y, [x, w], op, (g) => [
      x.requiresGrad ? conv2d(g, w, null, co) : null,
      w.requiresGrad ? conv2dBackwardWeight(x, g, w.shape, co) : null,
    ], [x, w]);
  }
  if (!bias) return y;
  return y.add(bias.reshape([1, Cout, 1, 1]));
}
