/**
 * Layers (nn.*): each owns its parameters and calls the functional op. Defaults match PyTorch (kaiming-uniform
 * weights with a = sqrt(5), biases U(-1/sqrt(fanIn), 1/sqrt(fanIn)); batch norm momentum 0.1, eps 1e-5).
 */
import { ArgumentError, IndexError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zeros, ones } from '../tensor/create.js';
import { DType } from '../dtype.js';
import { Module, Parameter } from './module.js';
import { noGrad } from '../autograd/engine.js';
import { copyInto } from '../ops/view.js';
import * as init from './init.js';
import * as F from './functional.js';
import { Pair, Conv2dOptions, pair } from '../ops/conv.js';
import { describe, optionsArg, tensorArg } from '../check.js';
import { CrossEntropyOptions } from '../ops/nn.js';

interface FactoryOptions {
  dtype?: DType;
}
const pairStr = (p: Pair | string | undefined) => (p === undefined ? '' : typeof p === 'number' || typeof p === 'string' ? JSON.stringify(p) : `[${p.join(', ')}]`);

function defaultInit(w: Tensor, b: Tensor | null): void {
  init.kaimingUniform_(w, { a: Math.sqrt(5) });
  if (b) {
    // PyTorch: bound 0 when there are no inputs (Linear(0, n)): a zero bias, not U(-inf, inf)
    const fan = init.fanIn(w);
    const bound = fan > 0 ? 1 / Math.sqrt(fan) : 0;
    init.uniform_(b, -bound, bound);
  }
}

// a finite number argument of a layer (activation slopes)
function finiteArg(layer: string, name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${layer}: expected ${name} to be a finite number, got ${describe(v)}`);
}
// batch norm's eps (> 0) and momentum (in [0, 1]), checked when the layer is made
function bnHyper(layer: string, o: { eps?: number; momentum?: number }): void {
  if (o.eps !== undefined && !(typeof o.eps === 'number' && o.eps > 0 && o.eps < Infinity)) {
    throw new ArgumentError(`${layer}: expected eps > 0, got ${describe(o.eps)}`);
  }
  if (o.momentum !== undefined && !(typeof o.momentum === 'number' && o.momentum >= 0 && o.momentum <= 1)) {
    throw new ArgumentError(`${layer}: expected momentum in [0, 1], got ${describe(o.momentum)}`);
  }
}

// a layer's kernel size: required, an integer or a pair of integers >= 1
function kernelPair(layer: string, k: Pair): [number, number] {
  if (k === undefined) throw new ArgumentError(`${layer}: expected a kernelSize, got undefined`);
  return pair(layer, 'kernelSize', k, 1, 1);
}

/** y = x W^T + b. @example `const fc = new nn.Linear(784, 10); fc.forward(x)` */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, o);
    this.weight = Parameter(zeros([outFeatures, inFeatures], { dtype: o.dtype }));
    this.bias = o.bias === false ? null : Parameter(zeros([outFeatures], { dtype: o.dtype }));
    defaultInit(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
  /** forward followed by a ReLU, fused into the GEMM's epilogue (Sequential uses it for Linear, ReLU). @example `lin.forwardRelu(x)` */
  forwardRelu(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias, { relu: true });
  }
  extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/** 2-D convolution over NCHW input. @example `new nn.Conv2d(1, 32, 3, { padding: 'same' })` */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly options: Conv2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair, o: Conv2dOptions & { bias?: boolean } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, o);
    const [kh, kw] = kernelPair(this.constructor.name, kernelSize);
    const g = o.groups ?? 1;
    if (inChannels % g || outChannels % g) throw new ArgumentError(`Conv2d: expected channels divisible by groups, got ${inChannels}, ${outChannels} and groups=${g}`);
    this.weight = Parameter(zeros([outChannels, inChannels / g, kh, kw], { dtype: o.dtype }));
    this.bias = o.bias === false ? null : Parameter(zeros([outChannels], { dtype: o.dtype }));
    this.options = { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups };
    defaultInit(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
  /** forward followed by a ReLU, fused into the convolution (Sequential uses it for Conv2d, ReLU). @example `conv.forwardRelu(x)` */
  forwardRelu(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, { ...this.options, relu: true });
  }
  extraRepr(): string {
    const o = this.options;
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${pairStr(this.kernelSize)}` +
      (o.stride !== undefined ? `, stride=${pairStr(o.stride)}` : '') + (o.padding !== undefined ? `, padding=${pairStr(o.padding)}` : '') +
      (o.dilation !== undefined ? `, dilation=${pairStr(o.dilation)}` : '') + (o.groups !== undefined ? `, groups=${o.groups}` : '');
  }
}

/** Transposed 2-D convolution; weight [in, out/groups, kh, kw]. @example `new nn.ConvTranspose2d(64, 32, 4, { stride: 2, padding: 1 })` */
export class ConvTranspose2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: Pair,
    readonly options: { stride?: Pair; padding?: Pair; outputPadding?: Pair; dilation?: Pair; groups?: number; bias?: boolean } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, options);
    const [kh, kw] = kernelPair(this.constructor.name, kernelSize);
    const g = options.groups ?? 1;
    if (!Number.isInteger(g) || g < 1) throw new ArgumentError(`ConvTranspose2d: expected groups to be an integer >= 1, got ${describe(g)}`);
    if (inChannels % g || outChannels % g) throw new ArgumentError(`ConvTranspose2d: expected channels divisible by groups, got ${inChannels}, ${outChannels} and groups=${g}`);
    this.weight = Parameter(zeros([inChannels, outChannels / g, kh, kw], { dtype: options.dtype }));
    this.bias = options.bias === false ? null : Parameter(zeros([outChannels], { dtype: options.dtype }));
    // PyTorch computes fan_in from weight dim 1 (out/groups * k*k) for transposed convs too
    defaultInit(this.weight, this.bias);
  }
  forward(x: Tensor): Tensor {
    return F.convTranspose2d(x, this.weight, this.bias, this.options);
  }
  extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${pairStr(this.kernelSize)}`;
  }
}

/** @example `new nn.MaxPool2d(2)` */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {}) {
    super();
    optionsArg(this.constructor.name, options);
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }
  extraRepr(): string {
    return `kernelSize=${pairStr(this.kernelSize)}`;
  }
}
/** @example `new nn.AvgPool2d(2)` */
export class AvgPool2d extends Module {
  constructor(readonly kernelSize: Pair, readonly options: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {}) {
    super();
    optionsArg(this.constructor.name, options);
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }
  extraRepr(): string {
    return `kernelSize=${pairStr(this.kernelSize)}`;
  }
}
/** @example `new nn.AdaptiveAvgPool2d(1)` */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
  extraRepr(): string {
    return `outputSize=${pairStr(this.outputSize)}`;
  }
}

/**
 * Batch norm's state, named and laid out as in torch.nn.BatchNorm*d: weight, bias, running_mean, running_var [C]
 * and num_batches_tracked, a 0-d count of the training batches seen. PyTorch keeps that count in int64, which
 * tensile has not: it is int32 here (and in the files it writes), which load_state_dict(strict=True) casts back.
 */
abstract class BatchNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean!: Tensor;
  runningVar!: Tensor;
  numBatchesTracked!: Tensor;
  constructor(readonly numFeatures: number, readonly options: { eps?: number; momentum?: number; affine?: boolean } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, options);
    bnHyper(this.constructor.name, options);
    const dtype = options.dtype;
    this.weight = options.affine === false ? null : Parameter(ones([numFeatures], { dtype }));
    this.bias = options.affine === false ? null : Parameter(zeros([numFeatures], { dtype }));
    this.registerBuffer('runningMean', zeros([numFeatures], { dtype }));
    this.registerBuffer('runningVar', ones([numFeatures], { dtype }));
    this.registerBuffer('numBatchesTracked', zeros([], { dtype: 'int32' }));
    this.setStateName('runningMean', 'running_mean');
    this.setStateName('runningVar', 'running_var');
    this.setStateName('numBatchesTracked', 'num_batches_tracked', { legacy: null });  // files of earlier versions have none
  }
  protected abstract checkRank(x: Tensor): void;
  forward(x: Tensor): Tensor {
    tensorArg(this.constructor.name, 'input', x);
    this.checkRank(x);
    const w = this.weight ?? ones([this.numFeatures], { dtype: x.dtype });
    const b = this.bias ?? zeros([this.numFeatures], { dtype: x.dtype });
    const y = F.batchNorm(x, this.runningMean, this.runningVar, w, b, { training: this.training, momentum: this.options.momentum ?? 0.1, eps: this.options.eps ?? 1e-5 });
    if (this.training) {  // PyTorch counts the batches that updated the running statistics
      noGrad(() => {
        const n = this.numBatchesTracked.add(1);
        copyInto(this.numBatchesTracked, n);
        n.dispose();
      });
    }
    return y;
  }
  extraRepr(): string {
    return `${this.numFeatures}, eps=${this.options.eps ?? 1e-5}, momentum=${this.options.momentum ?? 0.1}`;
  }
}
/** Batch norm over [N,C] or [N,C,L]. @example `new nn.BatchNorm1d(64)` */
export class BatchNorm1d extends BatchNormBase {
  protected checkRank(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) throw new ArgumentError(`BatchNorm1d: expected input of rank 2 or 3, got shape [${x.shape.join(',')}]`);
  }
}
/** Batch norm over [N,C,H,W]. @example `new nn.BatchNorm2d(32)` */
export class BatchNorm2d extends BatchNormBase {
  protected checkRank(x: Tensor): void {
    if (x.ndim !== 4) throw new ArgumentError(`BatchNorm2d: expected input of rank 4 (N,C,H,W), got shape [${x.shape.join(',')}]`);
  }
}
/** @example `new nn.LayerNorm([64])` */
export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  readonly normalizedShape: number[];
  /** elementwiseAffine: a weight and a bias (default true); bias: false drops the bias alone (PyTorch >= 2.1) */
  constructor(normalizedShape: number | number[], readonly options: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, options);
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? Parameter(ones(this.normalizedShape, { dtype: options.dtype })) : null;
    this.bias = affine && (options.bias ?? true) ? Parameter(zeros(this.normalizedShape, { dtype: options.dtype })) : null;
  }
  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.options.eps ?? 1e-5);
  }
  extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}]`;
  }
}
/** @example `new nn.Dropout(0.4)` */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: expected p in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, { p: this.p, training: this.training });
  }
  extraRepr(): string {
    return `p=${this.p}`;
  }
}
/** @example `new nn.Flatten()` (dims 1..-1) */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }
  forward(x: Tensor): Tensor {
    tensorArg(this.constructor.name, 'input', x);
    return x.flatten(this.startDim, this.endDim);
  }
}

/** @example `new nn.ReLU()` */
export class ReLU extends Module {
  forward(x: Tensor): Tensor { return F.relu(x); }
}
/**
 * GELU, exact (erf-based) by default or with PyTorch's tanh approximation.
 * @example `new nn.GELU(); new nn.GELU({ approximate: 'tanh' })`
 */
export class GELU extends Module {
  /** 'none' (exact) or 'tanh' */
  readonly approximate: 'none' | 'tanh';
  constructor(o?: { approximate?: 'none' | 'tanh' }) {
    super();
    const a = optionsArg('GELU', o).approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new ArgumentError(`GELU: expected approximate 'none' or 'tanh', got ${describe(a)}`);
    this.approximate = a;
  }
  forward(x: Tensor): Tensor { return F.gelu(x, { approximate: this.approximate }); }
  extraRepr(): string { return this.approximate === 'none' ? '' : `approximate='${this.approximate}'`; }
}
/** @example `new nn.SiLU()` */
export class SiLU extends Module {
  forward(x: Tensor): Tensor { return F.silu(x); }
}
/** @example `new nn.Sigmoid()` */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return F.sigmoid(x); }
}
/** @example `new nn.Tanh()` */
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return F.tanh(x); }
}
/** @example `new nn.LeakyReLU(0.2)` */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
    finiteArg('LeakyReLU', 'negativeSlope', negativeSlope);
  }
  forward(x: Tensor): Tensor { return F.leakyRelu(x, this.negativeSlope); }
  extraRepr(): string { return `negativeSlope=${this.negativeSlope}`; }
}
/** @example `new nn.ELU(1.0)` */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
    finiteArg('ELU', 'alpha', alpha);
  }
  forward(x: Tensor): Tensor { return F.elu(x, this.alpha); }
  extraRepr(): string { return `alpha=${this.alpha}`; }
}
/** @example `new nn.Softmax(1)` */
export class Softmax extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { return F.softmax(x, this.dim); }
  extraRepr(): string { return `dim=${this.dim}`; }
}
/** @example `new nn.LogSoftmax(1)` */
export class LogSoftmax extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { return F.logSoftmax(x, this.dim); }
  extraRepr(): string { return `dim=${this.dim}`; }
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim`, indexed by int32 tensors of any shape.
 * paddingIdx: that row starts at zero and gets no gradient; a negative one counts from the end (-1: the last row),
 * as in PyTorch. @example `new nn.Embedding(1000, 64).forward(tokens)`
 */
export class Embedding extends Module {
  weight: Tensor;
  /** The padding row as an index in [0, numEmbeddings) (a negative paddingIdx resolved), or undefined. */
  readonly paddingIdx: number | undefined;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly options: { paddingIdx?: number } & FactoryOptions = {}) {
    super();
    optionsArg(this.constructor.name, options);
    const pi = options.paddingIdx;
    if (pi !== undefined) {
      if (!Number.isInteger(pi)) throw new ArgumentError(`Embedding: expected paddingIdx to be an integer, got ${describe(pi)}`);
      if (pi < -numEmbeddings || pi >= numEmbeddings) {
        throw new IndexError(`Embedding: expected paddingIdx in [-${numEmbeddings}, ${numEmbeddings}), got ${pi}`);
      }
    }
    this.paddingIdx = pi === undefined ? undefined : pi < 0 ? pi + numEmbeddings : pi;
    this.weight = Parameter(zeros([numEmbeddings, embeddingDim], { dtype: options.dtype }));
    init.normal_(this.weight);  // PyTorch: N(0, 1), padding row zero
    if (this.paddingIdx !== undefined) {
      const row = this.weight.slice(0, this.paddingIdx, this.paddingIdx + 1);
      init.zeros_(row);
    }
  }
  forward(idx: Tensor): Tensor {
    return F.embedding(idx, this.weight, this.paddingIdx);
  }
  extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}

/** Runs its modules in order. @example `new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2))` */
export class Sequential extends Module {
  layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => {
      if (!(m instanceof Module)) throw new ArgumentError(`Sequential: expected modules, got ${describe(m)} at position ${i}`);
    });
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    const L = this.layers;
    for (let i = 0; i < L.length; i++) {
      const m = L[i]!;
      // ReLU then MaxPool2d runs as MaxPool2d then ReLU: max commutes with a non-decreasing function, so the
      // values and the gradients are the same, and the ReLU and its backward touch a quarter of the memory.
      // (The classes themselves only, not subclasses that may change forward.)
      if (m.constructor === ReLU && L[i + 1]?.constructor === MaxPool2d) {
        y = L[i + 1]!.forward(y).relu();
        i++;
        continue;
      }
      // Conv2d or Linear followed by ReLU: one fused op whose backward masks the gradient by the output
      if (L[i + 1]?.constructor === ReLU && L[i + 2]?.constructor !== MaxPool2d && (m.constructor === Conv2d || m.constructor === Linear)) {
        y = (m as Conv2d | Linear).forwardRelu(y);
        i++;
        continue;
      }
      y = m.forward(y);
    }
    return y;
  }
  namedChildren(): [string, Module][] {
    return this.layers.map((m, i) => [String(i), m]);
  }
}
/** A list of modules registered as children (its forward is not defined). @example `new nn.ModuleList([a, b])` */
export class ModuleList extends Module {
  constructor(public items: Module[] = []) {
    super();
  }
  forward(): Tensor {
    throw new ArgumentError('ModuleList: expected its modules to be called one by one, got a call to forward()');
  }
  namedChildren(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }
}

/** @example `new nn.CrossEntropyLoss({ labelSmoothing: 0.1 }).forward(logits, labels)` */
export class CrossEntropyLoss extends Module {
  constructor(readonly options: CrossEntropyOptions = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.crossEntropy(input, target, this.options); }
}
/** @example `new nn.NLLLoss().forward(logits.logSoftmax(1), y)` */
export class NLLLoss extends Module {
  constructor(readonly options: { weight?: Tensor; ignoreIndex?: number; reduction?: 'mean' | 'sum' | 'none' } = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.nllLoss(input, target, this.options); }
}
/** @example `new nn.MSELoss().forward(pred, target)` */
export class MSELoss extends Module {
  constructor(readonly options: { reduction?: 'mean' | 'sum' | 'none' } = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, this.options); }
}
/** @example `new nn.L1Loss().forward(pred, target)` */
export class L1Loss extends Module {
  constructor(readonly options: { reduction?: 'mean' | 'sum' | 'none' } = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, this.options); }
}
/** @example `new nn.BCELoss().forward(p, target)` */
export class BCELoss extends Module {
  constructor(readonly options: { reduction?: 'mean' | 'sum' | 'none'; weight?: Tensor } = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropy(input, target, this.options); }
}
/** @example `new nn.BCEWithLogitsLoss().forward(logits, target)` */
export class BCEWithLogitsLoss extends Module {
  constructor(readonly options: { reduction?: 'mean' | 'sum' | 'none'; weight?: Tensor; posWeight?: Tensor } = {}) { super(); optionsArg(this.constructor.name, options); }
  forward(input: Tensor, target: Tensor): Tensor { return F.binaryCrossEntropyWithLogits(input, target, this.options); }
}
