/**
 * Attention and Transformer layers, PyTorch's (torch.nn.MultiheadAttention, TransformerEncoderLayer, ...): the same
 * constructor options, masks, computation order and initialisation, and the same state-dict names. The child-module
 * properties carry PyTorch's snake_case names (`self_attn`, `out_proj`, `linear1`, `norm1`), so a state dict moves to
 * and from `load_state_dict(strict=True)` unchanged. Attention runs through the fused
 * F.scaledDotProductAttention (the L x S matrix is never stored) unless the attention weights are asked for.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zeros, full, arange, tensor } from '../tensor/create.js';
import { where } from '../ops/elementwise.js';
import { DType } from '../dtype.js';
import { Module, Parameter } from './module.js';
import { Linear, LayerNorm, Dropout, ModuleList } from './layers.js';
import * as init from './init.js';
import * as F from './functional.js';
import { describe, optionsArg, tensorArg } from '../check.js';
import { noGrad } from '../autograd/engine.js';

/** Options of nn.MultiheadAttention (PyTorch's). @example `new nn.MultiheadAttention(64, 4, { batchFirst: true, dropout: 0.1 })` */
export interface MultiheadAttentionOptions {
  /** dropout on the attention probabilities in training (default 0) */
  dropout?: number;
  /** biases on the input and output projections (default true) */
  bias?: boolean;
  /** features of key (default embedDim) */
  kdim?: number;
  /** features of value (default embedDim) */
  vdim?: number;
  /** inputs and output are (N, L, E) instead of (L, N, E) (default false) */
  batchFirst?: boolean;
  dtype?: DType;
}

/** What a forward pass of nn.MultiheadAttention takes besides query, key and value (PyTorch's arguments). @example `mha.forward(x, x, x, { keyPaddingMask: pad })` */
export interface AttentionCallOptions {
  /** (N, S): true (non-zero) keys are ignored; or a float mask added to the scores */
  keyPaddingMask?: Tensor | null;
  /** (L, S) or (N * numHeads, L, S): true (non-zero) pairs are not attended; or a float mask added to the scores */
  attnMask?: Tensor | null;
  /** a causal mask (query i attends keys <= i), alone or added to attnMask */
  isCausal?: boolean;
  /** run(): return the attention weights too (default true, as PyTorch) */
  needWeights?: boolean;
  /** run(): average the weights over the heads (default true) */
  averageAttnWeights?: boolean;
}

function intArg(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(`${op}: expected ${name} to be an integer >= ${min}, got ${describe(v)}`);
  return v;
}
function probArg(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new ArgumentError(`${op}: expected ${name} in [0, 1], got ${describe(v)}`);
  return v;
}
const shapeStr = (t: Tensor) => `[${t.shape.join(',')}]`;

// a mask as scores to add (0 where attended, -inf where not), in `dtype`; a boolean (uint8/int32) mask is true
// where attention is NOT allowed (PyTorch's convention for nn.MultiheadAttention)
function additive(m: Tensor, dtype: DType): Tensor {
  if (m.dtype === 'float32' || m.dtype === 'float64') return m.dtype === dtype ? m : m.cast(dtype);
  return where(m, full([], -Infinity, { dtype }), full([], 0, { dtype }));
}

/**
 * Multi-head attention (torch.nn.MultiheadAttention): out_proj(concat_h softmax(Q_h K_h^T / sqrt(d) + mask) V_h)
 * with Q, K, V projected from query, key and value. Parameters: in_proj_weight [3E, E] and in_proj_bias [3E]
 * (q_proj_weight, k_proj_weight, v_proj_weight when kdim or vdim differ from E), out_proj. forward() returns the
 * output; run() also returns the attention weights (computed explicitly, L x S; forward never stores them).
 * @example `const mha = new nn.MultiheadAttention(64, 4, { batchFirst: true }); const y = mha.forward(x, x, x)`
 */
export class MultiheadAttention extends Module {
  in_proj_weight: Tensor | null;
  q_proj_weight: Tensor | null;
  k_proj_weight: Tensor | null;
  v_proj_weight: Tensor | null;
  in_proj_bias: Tensor | null;
  out_proj: Linear;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  constructor(readonly embedDim: number, readonly numHeads: number, readonly options: MultiheadAttentionOptions = {}) {
    super();
    const op = 'MultiheadAttention';
    optionsArg(op, options);
    intArg(op, 'embedDim', embedDim, 1);
    intArg(op, 'numHeads', numHeads, 1);
    if (embedDim % numHeads !== 0) throw new ArgumentError(`${op}: expected embedDim divisible by numHeads, got ${embedDim} and ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.kdim = options.kdim === undefined ? embedDim : intArg(op, 'kdim', options.kdim, 1);
    this.vdim = options.vdim === undefined ? embedDim : intArg(op, 'vdim', options.vdim, 1);
    this.dropout = options.dropout === undefined ? 0 : probArg(op, 'dropout', options.dropout);
    this.batchFirst = options.batchFirst ?? false;
    const bias = options.bias ?? true;
    const dtype = options.dtype;
    const same = this.kdim === embedDim && this.vdim === embedDim;
    this.in_proj_weight = same ? Parameter(zeros([3 * embedDim, embedDim], { dtype })) : null;
    this.q_proj_weight = same ? null : Parameter(zeros([embedDim, embedDim], { dtype }));
    this.k_proj_weight = same ? null : Parameter(zeros([embedDim, this.kdim], { dtype }));
    this.v_proj_weight = same ? null : Parameter(zeros([embedDim, this.vdim], { dtype }));
    this.in_proj_bias = bias ? Parameter(zeros([3 * embedDim], { dtype })) : null;
    this.out_proj = new Linear(embedDim, embedDim, { bias, dtype });
    // PyTorch's _reset_parameters: xavier_uniform_ on the projections, zero biases (out_proj's weight keeps Linear's init)
    for (const w of [this.in_proj_weight, this.q_proj_weight, this.k_proj_weight, this.v_proj_weight]) if (w) init.xavierUniform_(w);
    if (this.in_proj_bias) init.zeros_(this.in_proj_bias);
    if (this.out_proj.bias) init.zeros_(this.out_proj.bias);
  }

  /** The attention output: (L, N, E), or (N, L, E) with batchFirst, or (L, E) for unbatched input. @example `mha.forward(q, k, v, { isCausal: true })` */
  forward(query: Tensor, key?: Tensor, value?: Tensor, o: AttentionCallOptions = {}): Tensor {
    return this.attend(query, key ?? query, value ?? key ?? query, { ...o, needWeights: false }).output;
  }

  /** The output and, with needWeights (default true), the attention weights: (N, L, S) averaged over heads, else (N, H, L, S). @example `const { output, weights } = mha.run(x, x, x)` */
  run(query: Tensor, key: Tensor, value: Tensor, o: AttentionCallOptions = {}): { output: Tensor; weights: Tensor | null } {
    return this.attend(query, key, value, { needWeights: true, ...o });
  }

  private attend(query: Tensor, key: Tensor, value: Tensor, o: AttentionCallOptions): { output: Tensor; weights: Tensor | null } {
    const op = 'MultiheadAttention';
    optionsArg(op, o);
    tensorArg(op, 'query', query);
    tensorArg(op, 'key', key);
    tensorArg(op, 'value', value);
    const batched = query.ndim === 3;
    if (query.ndim !== 3 && query.ndim !== 2) throw new ShapeError(`${op}: expected query of rank 3 (${this.batchFirst ? 'N, L, E' : 'L, N, E'}) or 2 (L, E), got shape ${shapeStr(query)}`);
    if (key.ndim !== query.ndim || value.ndim !== query.ndim) {
      throw new ShapeError(`${op}: expected key and value of the rank of query (${query.ndim}), got shapes ${shapeStr(key)} and ${shapeStr(value)}`);
    }
    // to (N, L, E)
    const nle = (t: Tensor) => (!batched ? t.unsqueeze(0) : this.batchFirst ? t : t.transpose(0, 1));
    const q0 = nle(query), k0 = nle(key), v0 = nle(value);
    const [N, L, E] = q0.shape as [number, number, number];
    const S = k0.shape[1]!;
    if (E !== this.embedDim) throw new ShapeError(`${op}: expected query with ${this.embedDim} features (embedDim), got shape ${shapeStr(query)}`);
    if (k0.shape[2] !== this.kdim || v0.shape[2] !== this.vdim) {
      throw new ShapeError(`${op}: expected key with ${this.kdim} and value with ${this.vdim} features, got shapes ${shapeStr(key)} and ${shapeStr(value)}`);
    }
    if (k0.shape[0] !== N || v0.shape[0] !== N || v0.shape[1] !== S) {
      throw new ShapeError(`${op}: expected query, key and value with one batch size and key/value with one length, got shapes ${shapeStr(query)}, ${shapeStr(key)} and ${shapeStr(value)}`);
    }
    const H = this.numHeads, D = this.headDim;
    const b = this.in_proj_bias;
    const proj = (x: Tensor, i: number, w: Tensor) => F.linear(x, w, b ? b.slice(0, i * E, (i + 1) * E) : null);
    const wOf = (i: number) => (this.in_proj_weight ? this.in_proj_weight.slice(0, i * E, (i + 1) * E) : [this.q_proj_weight, this.k_proj_weight, this.v_proj_weight][i]!);
    // (N, len, E) -> (N, H, len, D)
    const heads = (t: Tensor, len: number) => t.reshape([N, len, H, D]).transpose(1, 2);
    const q = heads(proj(q0, 0, wOf(0)), L), k = heads(proj(k0, 1, wOf(1)), S), v = heads(proj(v0, 2, wOf(2)), S);
    const mask = this.mask(o, N, L, S, q.dtype, batched);
    const p = this.training ? this.dropout : 0;
    let out: Tensor;
    let weights: Tensor | null = null;
    if (o.needWeights) {
      // the weights themselves: softmax(q k^T / sqrt(D) + mask), dropout on them in training (PyTorch's order)
      let scores = q.matmul(k.transpose(2, 3)).mul(1 / Math.sqrt(D));
      if (mask.tensor) scores = scores.add(mask.tensor);
      else if (mask.causal) scores = scores.add(causalMask(L, S, q.dtype));
      const w = scores.softmax(-1);
      out = F.dropout(w, { p, training: p > 0 }).matmul(v);
      weights = o.averageAttnWeights === false ? w : w.mean(1);
      if (!batched) weights = weights.squeeze(0);
    } else {
      out = F.scaledDotProductAttention(q, k, v, { attnMask: mask.tensor, isCausal: mask.causal, dropoutP: p });
    }
    // (N, H, L, D) -> (N, L, E) -> out_proj -> the input layout
    let y = this.out_proj.forward(out.transpose(1, 2).reshape([N, L, E]));
    y = !batched ? y.squeeze(0) : this.batchFirst ? y : y.transpose(0, 1);
    return { output: y, weights };
  }

  // the masks as one additive (N | 1, H | 1, L, S) tensor, or a bare causal flag that the fused op applies itself
  private mask(o: AttentionCallOptions, N: number, L: number, S: number, dtype: DType, batched: boolean): { tensor: Tensor | null; causal: boolean } {
    const op = 'MultiheadAttention';
    let m: Tensor | null = null;
    const am = o.attnMask ?? null, kp = o.keyPaddingMask ?? null;
    if (am !== null) {
      tensorArg(op, 'attnMask', am);
      if (am.ndim === 2 && am.shape[0] === L && am.shape[1] === S) m = additive(am, dtype).reshape([1, 1, L, S]);
      else if (am.ndim === 3 && am.shape[0] === N * this.numHeads && am.shape[1] === L && am.shape[2] === S) m = additive(am, dtype).reshape([N, this.numHeads, L, S]);
      else throw new ShapeError(`${op}: expected attnMask of shape [${L},${S}] or [${N * this.numHeads},${L},${S}], got ${shapeStr(am)}`);
    }
    if (kp !== null) {
      tensorArg(op, 'keyPaddingMask', kp);
      const want = batched ? [N, S] : [S];
      if (kp.ndim !== want.length || kp.shape.some((d, i) => d !== want[i])) throw new ShapeError(`${op}: expected keyPaddingMask of shape [${want.join(',')}], got ${shapeStr(kp)}`);
      const a = additive(kp, dtype).reshape([N, 1, 1, S]);
      m = m ? m.add(a) : a;
    }
    if (o.isCausal && m) return { tensor: m.add(causalMask(L, S, dtype)), causal: false };
    return { tensor: m, causal: !!o.isCausal };
  }

  extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}${this.kdim !== this.embedDim ? `, kdim=${this.kdim}` : ''}${this.vdim !== this.embedDim ? `, vdim=${this.vdim}` : ''}${this.batchFirst ? ', batchFirst=true' : ''}`;
  }
}

/** (L, S): 0 where key j <= query i, -inf above the diagonal (PyTorch's top-left alignment). */
function causalMask(L: number, S: number, dtype: DType): Tensor {
  const i = arange(0, L, 1, { dtype: 'int32' }).reshape([L, 1]), j = arange(0, S, 1, { dtype: 'int32' }).reshape([1, S]);
  return where(j.gt(i), full([], -Infinity, { dtype }), full([], 0, { dtype }));
}

/** Options of the Transformer layers (PyTorch's). @example `new nn.TransformerEncoderLayer(64, 4, { dimFeedforward: 256, normFirst: true, batchFirst: true })` */
export interface TransformerLayerOptions {
  /** hidden features of the feed-forward block (default 2048) */
  dimFeedforward?: number;
  /** dropout after attention, inside and after the feed-forward block (default 0.1) */
  dropout?: number;
  /** the feed-forward activation (default 'relu'); 'gelu' is the exact (erf) GELU, as PyTorch's */
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  batchFirst?: boolean;
  /** pre-norm (x + f(norm(x))) instead of post-norm (norm(x + f(x))) (default false) */
  normFirst?: boolean;
  /** biases on the linear layers and layer norms (default true) */
  bias?: boolean;
  dtype?: DType;
}

function layerOptions(op: string, d: number, h: number, o: TransformerLayerOptions): Required<Omit<TransformerLayerOptions, 'dtype'>> & { dtype?: DType } {
  optionsArg(op, o);
  intArg(op, 'dModel', d, 1);
  intArg(op, 'nhead', h, 1);
  const act = o.activation ?? 'relu';
  if (act !== 'relu' && act !== 'gelu') throw new ArgumentError(`${op}: expected activation 'relu' or 'gelu', got ${describe(act)}`);
  const eps = o.layerNormEps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ArgumentError(`${op}: expected layerNormEps > 0, got ${describe(eps)}`);
  return {
    dimFeedforward: o.dimFeedforward === undefined ? 2048 : intArg(op, 'dimFeedforward', o.dimFeedforward, 1),
    dropout: o.dropout === undefined ? 0.1 : probArg(op, 'dropout', o.dropout),
    activation: act, layerNormEps: eps, batchFirst: o.batchFirst ?? false, normFirst: o.normFirst ?? false, bias: o.bias ?? true, dtype: o.dtype,
  };
}

// the feed-forward block: linear2(dropout(act(linear1(x))))
function feedForward(l: { linear1: Linear; linear2: Linear; dropout: Dropout; act: 'relu' | 'gelu' }, x: Tensor): Tensor {
  const h = l.linear1.forward(x);
  return l.linear2.forward(l.dropout.forward(l.act === 'relu' ? h.relu() : h.gelu()));
}

/** What a TransformerEncoderLayer / TransformerEncoder forward takes besides src (PyTorch's src_mask, ...). @example `enc.forward(x, { isCausal: true })` */
export interface EncoderCallOptions {
  mask?: Tensor | null;
  srcKeyPaddingMask?: Tensor | null;
  isCausal?: boolean;
}

/**
 * One Transformer encoder layer (torch.nn.TransformerEncoderLayer): self-attention and a feed-forward block, each
 * with dropout, a residual connection and LayerNorm (post-norm by default, pre-norm with normFirst).
 * @example `const layer = new nn.TransformerEncoderLayer(64, 4, { dimFeedforward: 256, batchFirst: true }); layer.forward(x)`
 */
export class TransformerEncoderLayer extends Module {
  self_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  readonly act: 'relu' | 'gelu';
  readonly normFirst: boolean;
  constructor(readonly dModel: number, readonly nhead: number, readonly options: TransformerLayerOptions = {}) {
    super();
    const o = layerOptions('TransformerEncoderLayer', dModel, nhead, options);
    const { dtype, bias } = o;
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, bias, batchFirst: o.batchFirst, dtype });
    this.linear1 = new Linear(dModel, o.dimFeedforward, { bias, dtype });
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, dModel, { bias, dtype });
    this.norm1 = new LayerNorm(dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm2 = new LayerNorm(dModel, { eps: o.layerNormEps, bias, dtype });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
    this.act = o.activation;
    this.normFirst = o.normFirst;
  }
  /** @example `layer.forward(src, { srcKeyPaddingMask: pad })` */
  forward(src: Tensor, o: EncoderCallOptions = {}): Tensor {
    tensorArg('TransformerEncoderLayer', 'src', src);
    optionsArg('TransformerEncoderLayer', o);
    const sa = (x: Tensor) => this.dropout1.forward(this.self_attn.forward(x, x, x, { attnMask: o.mask, keyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal }));
    const ff = (x: Tensor) => this.dropout2.forward(feedForward(this, x));
    let x = src;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      return x.add(ff(this.norm2.forward(x)));
    }
    x = this.norm1.forward(x.add(sa(x)));
    return this.norm2.forward(x.add(ff(x)));
  }
  /** A new layer with the same options and a copy of these weights (what PyTorch's TransformerEncoder deep-copies). @example `layer.clone()` */
  clone(): TransformerEncoderLayer {
    return copyWeights(this, new TransformerEncoderLayer(this.dModel, this.nhead, this.options));
  }
}

/** What a TransformerDecoderLayer / TransformerDecoder forward takes besides tgt and memory. @example `dec.forward(tgt, memory, { tgtIsCausal: true })` */
export interface DecoderCallOptions {
  tgtMask?: Tensor | null;
  memoryMask?: Tensor | null;
  tgtKeyPaddingMask?: Tensor | null;
  memoryKeyPaddingMask?: Tensor | null;
  tgtIsCausal?: boolean;
  memoryIsCausal?: boolean;
}

/**
 * One Transformer decoder layer (torch.nn.TransformerDecoderLayer): self-attention on the target, attention over
 * the encoder's memory, and a feed-forward block, each with dropout, a residual connection and LayerNorm.
 * @example `const layer = new nn.TransformerDecoderLayer(64, 4, { batchFirst: true }); layer.forward(tgt, memory, { tgtIsCausal: true })`
 */
export class TransformerDecoderLayer extends Module {
  self_attn: MultiheadAttention;
  multihead_attn: MultiheadAttention;
  linear1: Linear;
  dropout: Dropout;
  linear2: Linear;
  norm1: LayerNorm;
  norm2: LayerNorm;
  norm3: LayerNorm;
  dropout1: Dropout;
  dropout2: Dropout;
  dropout3: Dropout;
  readonly act: 'relu' | 'gelu';
  readonly normFirst: boolean;
  constructor(readonly dModel: number, readonly nhead: number, readonly options: TransformerLayerOptions = {}) {
    super();
    const o = layerOptions('TransformerDecoderLayer', dModel, nhead, options);
    const { dtype, bias } = o;
    this.self_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, bias, batchFirst: o.batchFirst, dtype });
    this.multihead_attn = new MultiheadAttention(dModel, nhead, { dropout: o.dropout, bias, batchFirst: o.batchFirst, dtype });
    this.linear1 = new Linear(dModel, o.dimFeedforward, { bias, dtype });
    this.dropout = new Dropout(o.dropout);
    this.linear2 = new Linear(o.dimFeedforward, dModel, { bias, dtype });
    this.norm1 = new LayerNorm(dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm2 = new LayerNorm(dModel, { eps: o.layerNormEps, bias, dtype });
    this.norm3 = new LayerNorm(dModel, { eps: o.layerNormEps, bias, dtype });
    this.dropout1 = new Dropout(o.dropout);
    this.dropout2 = new Dropout(o.dropout);
    this.dropout3 = new Dropout(o.dropout);
    this.act = o.activation;
    this.normFirst = o.normFirst;
  }
  /** @example `layer.forward(tgt, memory, { tgtIsCausal: true })` */
  forward(tgt: Tensor, memory?: Tensor, o: DecoderCallOptions = {}): Tensor {
    tensorArg('TransformerDecoderLayer', 'tgt', tgt);
    optionsArg('TransformerDecoderLayer', o);
    if (!(memory instanceof Tensor)) throw new ArgumentError(`TransformerDecoderLayer: expected memory to be a Tensor, got ${describe(memory)}`);
    const sa = (x: Tensor) => this.dropout1.forward(this.self_attn.forward(x, x, x, { attnMask: o.tgtMask, keyPaddingMask: o.tgtKeyPaddingMask, isCausal: o.tgtIsCausal }));
    const mha = (x: Tensor) => this.dropout2.forward(this.multihead_attn.forward(x, memory, memory, { attnMask: o.memoryMask, keyPaddingMask: o.memoryKeyPaddingMask, isCausal: o.memoryIsCausal }));
    const ff = (x: Tensor) => this.dropout3.forward(feedForward(this, x));
    let x = tgt;
    if (this.normFirst) {
      x = x.add(sa(this.norm1.forward(x)));
      x = x.add(mha(this.norm2.forward(x)));
      return x.add(ff(this.norm3.forward(x)));
    }
    x = this.norm1.forward(x.add(sa(x)));
    x = this.norm2.forward(x.add(mha(x)));
    return this.norm3.forward(x.add(ff(x)));
  }
  /** A new layer with the same options and a copy of these weights. @example `layer.clone()` */
  clone(): TransformerDecoderLayer {
    return copyWeights(this, new TransformerDecoderLayer(this.dModel, this.nhead, this.options));
  }
}

function copyWeights<M extends Module>(from: Module, to: M): M {
  noGrad(() => to.loadStateDict(from.stateDict()));
  return to;
}

function stackArgs(op: string, layer: unknown, kind: Function, numLayers: unknown, norm: unknown): void {
  if (!(layer instanceof kind)) throw new ArgumentError(`${op}: expected a ${kind.name}, got ${describe(layer)}`);
  intArg(op, 'numLayers', numLayers, 1);
  if (norm !== undefined && norm !== null && !(norm instanceof Module)) throw new ArgumentError(`${op}: expected norm to be a Module or null, got ${describe(norm)}`);
}

/**
 * A stack of numLayers copies of an encoder layer (torch.nn.TransformerEncoder; like PyTorch's deep copy, every
 * copy starts with the given layer's weights), then an optional final norm. State dict: layers.i.*, norm.*.
 * @example `const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(64, 4, { batchFirst: true }), 2)`
 */
export class TransformerEncoder extends Module {
  layers: ModuleList;
  norm: Module | null;
  constructor(encoderLayer: TransformerEncoderLayer, readonly numLayers: number, norm: Module | null = null) {
    super();
    stackArgs('TransformerEncoder', encoderLayer, TransformerEncoderLayer, numLayers, norm);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.clone()));
    this.norm = norm;
  }
  /** @example `enc.forward(src, { srcKeyPaddingMask: pad })` */
  forward(src: Tensor, o: EncoderCallOptions = {}): Tensor {
    tensorArg('TransformerEncoder', 'src', src);
    let x = src;
    for (const l of this.layers.items as TransformerEncoderLayer[]) x = l.forward(x, o);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/**
 * A stack of numLayers copies of a decoder layer (torch.nn.TransformerDecoder), then an optional final norm.
 * @example `const dec = new nn.TransformerDecoder(new nn.TransformerDecoderLayer(64, 4, { batchFirst: true }), 2)`
 */
export class TransformerDecoder extends Module {
  layers: ModuleList;
  norm: Module | null;
  constructor(decoderLayer: TransformerDecoderLayer, readonly numLayers: number, norm: Module | null = null) {
    super();
    stackArgs('TransformerDecoder', decoderLayer, TransformerDecoderLayer, numLayers, norm);
    this.layers = new ModuleList(Array.from({ length: numLayers }, () => decoderLayer.clone()));
    this.norm = norm;
  }
  /** @example `dec.forward(tgt, memory, { tgtIsCausal: true })` */
  forward(tgt: Tensor, memory?: Tensor, o: DecoderCallOptions = {}): Tensor {
    tensorArg('TransformerDecoder', 'tgt', tgt);
    let x = tgt;
    for (const l of this.layers.items as TransformerDecoderLayer[]) x = l.forward(x, memory, o);
    return this.norm ? this.norm.forward(x) : x;
  }
}

/**
 * Adds the sinusoidal position encoding of "Attention Is All You Need" (pe[p, 2i] = sin(p / 10000^(2i/d)),
 * pe[p, 2i+1] = cos(...)), then dropout. The table is a buffer `pe` [maxLen, dModel].
 * @example `const pos = new nn.SinusoidalPositionalEncoding(64, { batchFirst: true }); pos.forward(x)`
 */
export class SinusoidalPositionalEncoding extends Module {
  pe!: Tensor;
  dropout: Dropout;
  readonly batchFirst: boolean;
  constructor(readonly dModel: number, readonly options: { maxLen?: number; dropout?: number; batchFirst?: boolean; dtype?: DType } = {}) {
    super();
    const op = 'SinusoidalPositionalEncoding';
    optionsArg(op, options);
    intArg(op, 'dModel', dModel, 1);
    const maxLen = options.maxLen === undefined ? 5000 : intArg(op, 'maxLen', options.maxLen, 1);
    this.dropout = new Dropout(options.dropout === undefined ? 0 : probArg(op, 'dropout', options.dropout));
    this.batchFirst = options.batchFirst ?? false;
    const pe = new Float64Array(maxLen * dModel);
    for (let p = 0; p < maxLen; p++) {
      for (let i = 0; i < dModel; i += 2) {
        const a = p * Math.exp(-Math.log(10000) * i / dModel);
        pe[p * dModel + i] = Math.sin(a);
        if (i + 1 < dModel) pe[p * dModel + i + 1] = Math.cos(a);
      }
    }
    const dtype = options.dtype ?? 'float32';
    this.registerBuffer('pe', tensor(pe, { shape: [maxLen, dModel], dtype }));
  }
  /** x + pe[:L], for x (L, N, E) or (N, L, E) with batchFirst. @example `pos.forward(tokensEmbedded)` */
  forward(x: Tensor): Tensor {
    const op = 'SinusoidalPositionalEncoding';
    tensorArg(op, 'x', x);
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) throw new ShapeError(`${op}: expected input of rank 3 with ${this.dModel} features, got shape ${shapeStr(x)}`);
    const L = x.shape[this.batchFirst ? 1 : 0]!;
    if (L > this.pe.shape[0]!) throw new ShapeError(`${op}: expected at most ${this.pe.shape[0]} positions (maxLen), got ${L}`);
    const pe = this.pe.slice(0, 0, L);
    return this.dropout.forward(x.add(this.batchFirst ? pe.unsqueeze(0) : pe.unsqueeze(1)));
  }
}
