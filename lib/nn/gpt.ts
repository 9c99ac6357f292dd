/**
 * A decoder-only Transformer language model (GPT-2's architecture, as nanoGPT writes it): token embedding plus a
 * position encoding, pre-norm blocks of causal self-attention (the fused F.scaledDotProductAttention with isCausal)
 * and a GELU MLP, a final LayerNorm and an output projection tied to the token embedding. generate() decodes with a
 * key/value cache per layer (KVCache), so each new token runs one position through the network, not the context.
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { arange, full, tensor, zeros } from '../tensor/create.js';
import { where } from '../ops/elementwise.js';
import { multinomial, topk } from '../ops/select.js';
import type { RngState } from '../tensor/random.js';
import { DType } from '../dtype.js';
import { Device } from '../native.js';
import { Module } from './module.js';
import { Dropout, Embedding, LayerNorm, Linear, ModuleList } from './layers.js';
import { SinusoidalPositionalEncoding } from './transformer.js';
import * as init from './init.js';
import * as F from './functional.js';
import { copyInto } from '../ops/view.js';
import { noGrad } from '../autograd/engine.js';
import { describe, isOptions, optionsArg, tensorArg } from '../check.js';
import { fmt } from '../tensor/shape.js';

/** Options of nn.GPT. @example `new nn.GPT({ vocabSize: 96, contextLength: 128, dModel: 128, nHeads: 4, nLayers: 4, dropout: 0.1 })` */
export interface GPTOptions {
  /** tokens of the vocabulary (the embedding's rows and the logits' width) */
  vocabSize: number;
  /** the most positions the model sees at once (the learned position table's rows, the cache's capacity) */
  contextLength: number;
  /** the width of the residual stream */
  dModel: number;
  /** attention heads per layer (dModel must be divisible by it) */
  nHeads: number;
  /** Transformer blocks */
  nLayers: number;
  /** dropout after the embeddings, on the attention weights, and on each block's two residual branches (default 0) */
  dropout?: number;
  /** the output projection reuses the token embedding's weight (one Parameter; default true) */
  tieWeights?: boolean;
  /**
   * 'learned' (default): an nn.Embedding(contextLength, dModel) over the positions 0..T-1, `wpe.weight` (GPT-2's);
   * 'sinusoidal': the fixed table of nn.SinusoidalPositionalEncoding, the buffer `wpe.pe`
   */
  posEncoding?: 'learned' | 'sinusoidal';
  /** hidden features of each block's MLP (default 4 * dModel) */
  dimFeedforward?: number;
  /** biases on the linear layers and the LayerNorms (default true) */
  bias?: boolean;
  layerNormEps?: number;
  dtype?: DType;
}

/** The options a GPT was built with, every default filled in (what a checkpoint records). */
export type GPTConfig = Required<Omit<GPTOptions, 'dtype'>> & { dtype: DType };

/** What generate() takes besides the prompt. @example `model.generate(ids, { maxNewTokens: 200, temperature: 0.8, topK: 40 })` */
export interface GenerateOptions {
  /** tokens to add (at most; fewer when every sequence has produced eos) */
  maxNewTokens: number;
  /** the logits are divided by it before sampling; 0 picks the most likely token (greedy, deterministic). Default 1 */
  temperature?: number;
  /** sample among the k most likely tokens only (default: all; a k above vocabSize means all) */
  topK?: number;
  /**
   * a private generator state { seed, offset } (as getRngState() gives; T.multinomial's generator) to sample from,
   * its offset advanced by one per token; default the global generator (manualSeed)
   */
  generator?: RngState;
  /** a token id that ends a sequence: after it, that row is padded with eos, and generation stops when every row has it */
  eos?: number;
}

const OP = 'GPT';

function intArg(op: string, name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(`${op}: expected ${name} to be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

function configOf(o: unknown): GPTConfig {
  if (!isOptions(o)) throw new ArgumentError(`${OP}: expected options { vocabSize, contextLength, dModel, nHeads, nLayers, ... }, got ${describe(o)}`);
  const g = o as GPTOptions;
  const known = ['vocabSize', 'contextLength', 'dModel', 'nHeads', 'nLayers', 'dropout', 'tieWeights', 'posEncoding', 'dimFeedforward', 'bias', 'layerNormEps', 'dtype'];
  const extra = Object.keys(g).find((k) => !known.includes(k));
  if (extra !== undefined) throw new ArgumentError(`${OP}: expected options among ${known.join(', ')}, got '${extra}'`);
  const vocabSize = intArg(OP, 'vocabSize', g.vocabSize, 1);
  const contextLength = intArg(OP, 'contextLength', g.contextLength, 1);
  const dModel = intArg(OP, 'dModel', g.dModel, 1);
  const nHeads = intArg(OP, 'nHeads', g.nHeads, 1);
  const nLayers = intArg(OP, 'nLayers', g.nLayers, 1);
  if (dModel % nHeads !== 0) throw new ArgumentError(`${OP}: expected dModel divisible by nHeads, got ${dModel} and ${nHeads}`);
  const dropout = g.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new ArgumentError(`${OP}: expected dropout in [0, 1), got ${describe(g.dropout)}`);
  const tieWeights = g.tieWeights ?? true;
  if (typeof tieWeights !== 'boolean') throw new ArgumentError(`${OP}: expected tieWeights to be true or false, got ${describe(g.tieWeights)}`);
  const posEncoding = g.posEncoding ?? 'learned';
  if (posEncoding !== 'learned' && posEncoding !== 'sinusoidal') throw new ArgumentError(`${OP}: expected posEncoding 'learned' or 'sinusoidal', got ${describe(g.posEncoding)}`);
  const dimFeedforward = g.dimFeedforward === undefined ? 4 * dModel : intArg(OP, 'dimFeedforward', g.dimFeedforward, 1);
  const bias = g.bias ?? true;
  if (typeof bias !== 'boolean') throw new ArgumentError(`${OP}: expected bias to be true or false, got ${describe(g.bias)}`);
  const layerNormEps = g.layerNormEps ?? 1e-5;
  if (typeof layerNormEps !== 'number' || !(layerNormEps > 0 && layerNormEps < Infinity)) throw new ArgumentError(`${OP}: expected layerNormEps > 0, got ${describe(g.layerNormEps)}`);
  const dtype = g.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float64') throw new ArgumentError(`${OP}: expected dtype 'float32' or 'float64', got ${describe(g.dtype)}`);
  return { vocabSize, contextLength, dModel, nHeads, nLayers, dropout, tieWeights, posEncoding, dimFeedforward, bias, layerNormEps, dtype };
}

/**
 * The keys and values of every layer of a GPT for incremental decoding: per layer a buffer [B, nHeads,
 * contextLength, headDim] for each, filled from position 0 to `length`. GPT.forward(idx, { cache }) writes the
 * new positions' keys and values and attends over every cached position. Make one with `model.createCache(B)`;
 * reset() empties it, dispose() frees it.
 * @example
 * ```ts
 * const cache = model.createCache(1);
 * let logits = model.forward(prompt, { cache });        // [1, P, V]: the prompt, causally
 * logits = model.forward(nextToken, { cache });          // [1, 1, V]: one position, attending to P + 1 keys
 * cache.dispose();
 * ```
 */
export class KVCache {
  /** positions filled */
  length = 0;
  /** per layer: the key and value buffers [B, nHeads, capacity, headDim] */
  readonly layers: { k: Tensor; v: Tensor }[];
  constructor(readonly batchSize: number, readonly capacity: number, nLayers: number, nHeads: number, headDim: number, o: { dtype?: DType; device?: Device } = {}) {
    const op = 'KVCache';
    intArg(op, 'batchSize', batchSize, 1);
    intArg(op, 'capacity', capacity, 1);
    intArg(op, 'nLayers', nLayers, 1);
    intArg(op, 'nHeads', nHeads, 1);
    intArg(op, 'headDim', headDim, 1);
    optionsArg(op, o);
    const shape = [batchSize, nHeads, capacity, headDim];
    this.layers = Array.from({ length: nLayers }, () => ({ k: zeros(shape, o), v: zeros(shape, o) }));
  }
  /** Empties the cache (its buffers are kept). @example `cache.reset()` */
  reset(): void {
    this.length = 0;
  }
  /** Frees the buffers. @example `cache.dispose()` */
  dispose(): void {
    for (const l of this.layers) {
      l.k.dispose();
      l.v.dispose();
    }
    this.length = 0;
  }
}

// the keys at positions 0..S-1 that the T new queries at positions S-T..S-1 attend to: key j <= query position
// (the causal mask aligned to the bottom right), as the uint8 mask of the fused op (nonzero: attended)
function offsetCausalMask(T: number, S: number, device: Device): Tensor {
  const m = new Uint8Array(T * S);
  for (let i = 0; i < T; i++) for (let j = 0; j <= S - T + i; j++) m[i * S + j] = 1;
  return tensor(m, { shape: [T, S], dtype: 'uint8', device });
}

/**
 * Causal multi-head self-attention of a GPT block (nanoGPT's CausalSelfAttention): one projection c_attn [3 dModel,
 * dModel] to queries, keys and values, the fused attention with isCausal (dropout on its weights in training), and
 * the output projection c_proj. With a layer cache it writes the new keys and values at positions `start`.. and
 * attends over every cached position (no graph is recorded for the cache writes: decoding is inference).
 * @example `const attn = new nn.CausalSelfAttention(64, 4); const y = attn.forward(x) // x: [B, T, 64]`
 */
export class CausalSelfAttention extends Module {
  c_attn: Linear;
  c_proj: Linear;
  resid_dropout: Dropout;
  readonly headDim: number;
  constructor(readonly dModel: number, readonly nHeads: number, readonly options: { dropout?: number; bias?: boolean; dtype?: DType } = {}) {
    super();
    const op = 'CausalSelfAttention';
    optionsArg(op, options);
    intArg(op, 'dModel', dModel, 1);
    intArg(op, 'nHeads', nHeads, 1);
    if (dModel % nHeads !== 0) throw new ArgumentError(`${op}: expected dModel divisible by nHeads, got ${dModel} and ${nHeads}`);
    const p = options.dropout ?? 0;
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ArgumentError(`${op}: expected dropout in [0, 1), got ${describe(options.dropout)}`);
    this.headDim = dModel / nHeads;
    this.c_attn = new Linear(dModel, 3 * dModel, { bias: options.bias ?? true, dtype: options.dtype });
    this.c_proj = new Linear(dModel, dModel, { bias: options.bias ?? true, dtype: options.dtype });
    this.resid_dropout = new Dropout(p);
  }
  /** x [B, T, dModel] -> [B, T, dModel]; with `cache` (one layer's buffers) the T positions start at `start`. @example `attn.forward(x)` */
  forward(x: Tensor, o: { cache?: { k: Tensor; v: Tensor }; start?: number } = {}): Tensor {
    const op = 'CausalSelfAttention';
    tensorArg(op, 'x', x);
    optionsArg(op, o);
    if (x.ndim !== 3 || x.shape[2] !== this.dModel) throw new ShapeError(`${op}: expected x of shape [B, T, ${this.dModel}], got ${fmt(x.shape)}`);
    const [B, T] = x.shape as [number, number, number];
    const H = this.nHeads, D = this.headDim, E = this.dModel;
    const qkv = this.c_attn.forward(x);
    // [B, T, E] slices -> [B, H, T, D]
    const heads = (i: number) => qkv.slice(2, i * E, (i + 1) * E).reshape([B, T, H, D]).transpose(1, 2);
    const q = heads(0), k = heads(1), v = heads(2);
    const p = this.training ? this.resid_dropout.p : 0;
    let y: Tensor;
    if (!o.cache) {
      y = F.scaledDotProductAttention(q, k, v, { isCausal: true, dropoutP: p });
    } else {
      const start = o.start ?? 0, S = start + T, c = o.cache;
      if (c.k.shape[2]! < S) throw new ShapeError(`${op}: expected a cache with room for ${S} positions, got ${c.k.shape[2]}`);
      noGrad(() => {
        copyInto(c.k.slice(2, start, S), k);
        copyInto(c.v.slice(2, start, S), v);
      });
      const K = c.k.slice(2, 0, S), V = c.v.slice(2, 0, S);
      if (start === 0) y = F.scaledDotProductAttention(q, K, V, { isCausal: true, dropoutP: p });
      else if (T === 1) y = F.scaledDotProductAttention(q, K, V, { dropoutP: p });  // one query sees every key
      else y = F.scaledDotProductAttention(q, K, V, { attnMask: offsetCausalMask(T, S, x.device), dropoutP: p });
    }
    return this.resid_dropout.forward(this.c_proj.forward(y.transpose(1, 2).reshape([B, T, E])));
  }
  extraRepr(): string {
    return `dModel=${this.dModel}, nHeads=${this.nHeads}`;
  }
}

/** A block's MLP: c_proj(GELU(c_fc(x))), then dropout (GPT-2's; the exact, erf GELU). */
class GPTMLP extends Module {
  c_fc: Linear;
  c_proj: Linear;
  dropout: Dropout;
  constructor(d: number, hidden: number, p: number, bias: boolean, dtype: DType) {
    super();
    this.c_fc = new Linear(d, hidden, { bias, dtype });
    this.c_proj = new Linear(hidden, d, { bias, dtype });
    this.dropout = new Dropout(p);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(this.c_fc.forward(x).gelu()));
  }
}

/** One pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
class GPTBlock extends Module {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: GPTMLP;
  constructor(c: GPTConfig) {
    super();
    const ln = { eps: c.layerNormEps, bias: c.bias, dtype: c.dtype };
    this.ln_1 = new LayerNorm(c.dModel, ln);
    this.attn = new CausalSelfAttention(c.dModel, c.nHeads, { dropout: c.dropout, bias: c.bias, dtype: c.dtype });
    this.ln_2 = new LayerNorm(c.dModel, ln);
    this.mlp = new GPTMLP(c.dModel, c.dimFeedforward, c.dropout, c.bias, c.dtype);
  }
  forward(x: Tensor, o: { cache?: { k: Tensor; v: Tensor }; start?: number } = {}): Tensor {
    const h = x.add(this.attn.forward(this.ln_1.forward(x), o));
    return h.add(this.mlp.forward(this.ln_2.forward(h)));
  }
}

/**
 * A decoder-only Transformer language model (GPT-2's architecture): logits [B, T, vocabSize] for token ids
 * [B, T] (int32; or [T], giving [T, vocabSize]). Token embedding `wte` plus the position encoding `wpe`, dropout,
 * nLayers pre-norm blocks `h.i` (ln_1, causal self-attention attn.c_attn / attn.c_proj, ln_2, GELU MLP mlp.c_fc /
 * mlp.c_proj), the final LayerNorm `ln_f`, and the output projection: with tieWeights (the default) the token
 * embedding's weight itself, one Parameter that appears once in parameters() and in the state dict (as
 * `wte.weight`; there is no lm_head), else its own `lm_head.weight` [vocabSize, dModel] (no bias, as GPT-2's).
 * The position encoding is learned by default: nn.Embedding(contextLength, dModel) over the positions (PyTorch
 * and GPT-2's wpe); posEncoding 'sinusoidal' uses the fixed table of nn.SinusoidalPositionalEncoding instead.
 * Initialisation is GPT-2's: the linear and embedding weights N(0, 0.02), the residual projections (attn.c_proj,
 * mlp.c_proj) N(0, 0.02 / sqrt(2 nLayers)), biases zero. weightDecayGroups exempts the embeddings (and so the tied
 * projection), the LayerNorms and the biases.
 * @example
 * ```ts
 * const model = new nn.GPT({ vocabSize: tok.vocabSize, contextLength: 128, dModel: 128, nHeads: 4, nLayers: 4 });
 * const logits = model.forward(x);                        // x: int32 [B, T] -> [B, T, vocabSize]
 * const loss = F.crossEntropy(logits.reshape([-1, tok.vocabSize]), y.reshape([-1]));
 * const text = tok.decode(await model.generate(tok.encode('The '), { maxNewTokens: 100, temperature: 0.8, topK: 20 }));
 * ```
 */
export class GPT extends Module {
  wte: Embedding;
  wpe: Embedding | SinusoidalPositionalEncoding;
  drop: Dropout;
  h: ModuleList;
  ln_f: LayerNorm;
  lm_head: Linear | null;
  /** the options, defaults filled in */
  readonly config: GPTConfig;
  constructor(options: GPTOptions) {
    super();
    const c = configOf(options);
    this.config = c;
    this.wte = new Embedding(c.vocabSize, c.dModel, { dtype: c.dtype });
    this.wpe = c.posEncoding === 'learned'
      ? new Embedding(c.contextLength, c.dModel, { dtype: c.dtype })
      : new SinusoidalPositionalEncoding(c.dModel, { maxLen: c.contextLength, batchFirst: true, dtype: c.dtype });
    this.drop = new Dropout(c.dropout);
    this.h = new ModuleList(Array.from({ length: c.nLayers }, () => new GPTBlock(c)));
    this.ln_f = new LayerNorm(c.dModel, { eps: c.layerNormEps, bias: c.bias, dtype: c.dtype });
    this.lm_head = c.tieWeights ? null : new Linear(c.dModel, c.vocabSize, { bias: false, dtype: c.dtype });
    // GPT-2's initialisation
    const std = 0.02, projStd = 0.02 / Math.sqrt(2 * c.nLayers);
    for (const [name, m] of this.namedModules()) {
      if (m instanceof Linear) {
        init.normal_(m.weight, 0, /\.c_proj$/.test(name) ? projStd : std);
        if (m.bias) init.zeros_(m.bias);
      } else if (m instanceof Embedding) {
        init.normal_(m.weight, 0, std);
      }
    }
  }

  /** The output projection's weight [vocabSize, dModel]: the token embedding's when tied. @example `model.outputWeight === model.wte.weight // tied` */
  get outputWeight(): Tensor {
    return this.lm_head ? this.lm_head.weight : this.wte.weight;
  }

  /** The parameters, each counted once (a tied weight once); nonEmbedding leaves out the position table (what 6 N counts). @example `model.numParameters()` */
  numParameters(o: { nonEmbedding?: boolean } = {}): number {
    optionsArg('GPT.numParameters', o);
    const skip = o.nonEmbedding && this.wpe instanceof Embedding ? this.wpe.weight : null;
    return this.parameters().reduce((a, p) => (p === skip ? a : a + p.numel), 0);
  }

  /** An empty key/value cache for `batchSize` sequences, on the model's device. @example `const cache = model.createCache(1)` */
  createCache(batchSize: number): KVCache {
    const c = this.config;
    return new KVCache(batchSize, c.contextLength, c.nLayers, c.nHeads, c.dModel / c.nHeads, { dtype: c.dtype, device: this.wte.weight.device });
  }

  /**
   * Logits for token ids: [B, T] -> [B, T, vocabSize], [T] -> [T, vocabSize]. With `cache`, the ids are the next
   * positions after the cache's `length` (which grows by T): their keys and values go into it and they attend to
   * every cached position, so a decoding step of one token costs one position. Positions past contextLength are a
   * ShapeError (generate() slides its window instead).
   * @example `const logits = model.forward(x)` @example `model.forward(next, { cache })`
   */
  forward(idx: Tensor, o: { cache?: KVCache } = {}): Tensor {
    return this.run(idx, o, false);
  }

  private run(idx: Tensor, o: { cache?: KVCache }, lastOnly: boolean): Tensor {
    tensorArg(OP, 'idx', idx);
    optionsArg(OP, o);
    const c = this.config;
    if (idx.dtype !== 'int32') throw new DTypeError(`${OP}: expected token ids of dtype int32, got ${idx.dtype}`);
    if (idx.ndim !== 1 && idx.ndim !== 2) throw new ShapeError(`${OP}: expected token ids of shape [B, T] or [T], got ${fmt(idx.shape)}`);
    const batched = idx.ndim === 2;
    const ids = batched ? idx : idx.unsqueeze(0);
    const [B, T] = ids.shape as [number, number];
    if (T < 1) throw new ShapeError(`${OP}: expected at least one token, got shape ${fmt(idx.shape)}`);
    const cache = o.cache;
    if (cache !== undefined && !(cache instanceof KVCache)) throw new ArgumentError(`${OP}: expected cache to be a KVCache (model.createCache(B)), got ${describe(cache)}`);
    const start = cache ? cache.length : 0;
    if (cache) {
      if (cache.layers.length !== c.nLayers || cache.layers[0]!.k.shape[1] !== c.nHeads || cache.layers[0]!.k.shape[3] !== c.dModel / c.nHeads) {
        throw new ArgumentError(`${OP}: expected a cache of this model (${c.nLayers} layers of ${c.nHeads} heads of ${c.dModel / c.nHeads}), got ${cache.layers.length} layers of shape ${fmt(cache.layers[0]!.k.shape)}`);
      }
      if (cache.batchSize !== B) throw new ShapeError(`${OP}: expected ${cache.batchSize} sequences (the cache's batch), got shape ${fmt(idx.shape)}`);
    }
    if (start + T > c.contextLength) {
      throw new ShapeError(cache && start > 0
        ? `${OP}: expected at most contextLength = ${c.contextLength} positions, got ${start} cached and ${T} new`
        : `${OP}: expected at most contextLength = ${c.contextLength} positions, got ${T}`);
    }
    let x = this.wte.forward(ids);  // [B, T, d]
    const pos = this.wpe instanceof Embedding
      ? this.wpe.forward(arange(start, start + T, 1, { dtype: 'int32', device: ids.device }))
      : this.wpe.pe.slice(0, start, start + T);
    x = this.drop.forward(x.add(pos));
    (this.h.items as GPTBlock[]).forEach((b, i) => {
      x = b.forward(x, cache ? { cache: cache.layers[i]!, start } : {});
    });
    if (cache) cache.length = start + T;
    if (lastOnly) x = x.slice(1, T - 1, T);
    const logits = F.linear(this.ln_f.forward(x), this.outputWeight);
    return batched ? logits : logits.squeeze(0);
  }

  /**
   * Continues each prompt by up to maxNewTokens tokens and returns prompt and continuation, int32: [B, P + n] for a
   * [B, P] prompt (an int32 tensor), [P + n] for a 1-D one (an int32 tensor, an Int32Array or an array of ids).
   * Runs in eval mode (dropout off; the mode is restored after) without a graph, with a KVCache: the prompt is
   * encoded once, then each new token runs one position. temperature 0 is greedy (argmax); otherwise the token is
   * drawn from softmax(logits / temperature), restricted to the topK most likely tokens when given, by
   * T.multinomial from the Philox streams: the same seed (manualSeed, or the same generator) gives the same text.
   * Context overflow slides the window: a prompt longer than contextLength keeps its last contextLength tokens;
   * when the cache is full, the last ceil(contextLength / 2) tokens are encoded anew into an emptied cache (one
   * forward of that many positions, every contextLength / 2 tokens) and decoding goes on, each token seeing between
   * contextLength / 2 and contextLength tokens of context. With eos, a row that produces it is padded with eos from
   * then on, and generation stops once every row has produced it.
   * @example `const out = await model.generate(tok.encode('The '), { maxNewTokens: 200, temperature: 0.8, topK: 40 }); tok.decode(out)`
   */
  async generate(prompt: Tensor | ArrayLike<number>, o: GenerateOptions): Promise<Tensor> {
    const op = 'GPT.generate';
    const c = this.config;
    const rows = promptRows(op, prompt, c.vocabSize);
    if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { maxNewTokens, temperature?, topK?, generator?, eos? }, got ${describe(o)}`);
    const maxNew = intArg(op, 'maxNewTokens', o.maxNewTokens, 0);
    const temperature = o.temperature ?? 1;
    if (typeof temperature !== 'number' || !(temperature >= 0 && temperature < Infinity)) throw new ArgumentError(`${op}: expected temperature >= 0, got ${describe(o.temperature)}`);
    const topK = o.topK === undefined ? undefined : Math.min(intArg(op, 'topK', o.topK, 1), c.vocabSize);
    const eos = o.eos === undefined ? undefined : intArg(op, 'eos', o.eos, 0);
    if (eos !== undefined && eos >= c.vocabSize) throw new ArgumentError(`${op}: expected eos in [0, ${c.vocabSize}), got ${eos}`);
    const B = rows.ids.length, P = rows.ids[0]!.length;
    const seqs = rows.ids.map((r) => Array.from(r));
    const done = new Array<boolean>(B).fill(false);
    const device = this.wte.weight.device;
    const wasTraining = this.training;
    this.eval();
    const cache = this.createCache(B);
    const C = c.contextLength;
    // the last n tokens of every row as an int32 [B, n] tensor
    const lastTokens = (n: number) => {
      const a = new Int32Array(B * n);
      seqs.forEach((s, b) => a.set(s.slice(s.length - n), b * n));
      return tensor(a, { shape: [B, n], dtype: 'int32', device });
    };
    try {
      await noGrad(async () => {
        if (maxNew === 0) return;
        let logits = this.run(lastTokens(Math.min(P, C)), { cache }, true).reshape([B, c.vocabSize]);
        for (let i = 0; i < maxNew; i++) {
          const next = sampleNext(logits, { temperature, topK, generator: o.generator });
          logits.dispose();
          const got = (await next.data()) as Int32Array;
          for (let b = 0; b < B; b++) {
            const t = done[b] ? eos! : got[b]!;
            seqs[b]!.push(t);
            if (eos !== undefined && t === eos) done[b] = true;
          }
          if (i === maxNew - 1 || (eos !== undefined && done.every(Boolean))) {
            next.dispose();
            break;
          }
          if (cache.length === C) {
            // the window slides: the last ceil(C / 2) tokens, encoded anew
            cache.reset();
            logits = this.run(lastTokens(Math.ceil(C / 2)), { cache }, true);
          } else {
            logits = this.run(eos === undefined ? next.reshape([B, 1]) : lastTokens(1), { cache }, true);
          }
          logits = logits.reshape([B, c.vocabSize]);
          next.dispose();
        }
      });
    } finally {
      cache.dispose();
      this.train(wasTraining);
    }
    const n = seqs[0]!.length;
    const out = new Int32Array(B * n);
    seqs.forEach((s, b) => out.set(s, b * n));
    return tensor(out, { shape: rows.batched ? [B, n] : [n], dtype: 'int32', device });
  }

  extraRepr(): string {
    const c = this.config;
    return `vocabSize=${c.vocabSize}, contextLength=${c.contextLength}, dModel=${c.dModel}, nHeads=${c.nHeads}, nLayers=${c.nLayers}${c.tieWeights ? '' : ', tieWeights=false'}${c.posEncoding === 'learned' ? '' : `, posEncoding=${c.posEncoding}`}`;
  }
}

// the next token of each row from its logits [B, V]: argmax at temperature 0, else a draw from
// softmax(logits / temperature) over the topK largest (int32 [B])
function sampleNext(logits: Tensor, o: { temperature: number; topK?: number; generator?: RngState }): Tensor {
  if (o.temperature === 0) return logits.argmax(-1);
  const [B, V] = logits.shape as [number, number];
  let l = o.temperature === 1 ? logits : logits.div(o.temperature);
  if (o.topK !== undefined && o.topK < V) {
    // every logit below the k-th largest of its row out (ties with it stay in), as nanoGPT's and Hugging Face's
    const { values } = topk(l, o.topK, { dim: -1 });
    l = where(l.lt(values.slice(1, o.topK - 1, o.topK)), full([], -Infinity, { dtype: l.dtype, device: l.device }), l);
  }
  return multinomial(l.softmax(-1), 1, { generator: o.generator }).reshape([B]);
}

// a prompt as rows of ids: an int32 tensor [P] or [B, P], an Int32Array or an array of ids; P >= 1, ids < V
function promptRows(op: string, p: unknown, V: number): { ids: Int32Array[]; batched: boolean } {
  let flat: ArrayLike<number>, shape: number[];
  if (p instanceof Tensor) {
    if (p.dtype !== 'int32') throw new DTypeError(`${op}: expected a prompt of dtype int32, got ${p.dtype}`);
    if (p.ndim !== 1 && p.ndim !== 2) throw new ShapeError(`${op}: expected a prompt of shape [P] or [B, P], got ${fmt(p.shape)}`);
    flat = p.dataSync() as Int32Array;
    shape = [...p.shape];
  } else if (Array.isArray(p) || p instanceof Int32Array) {
    flat = p as ArrayLike<number>;
    shape = [flat.length];
  } else {
    throw new ArgumentError(`${op}: expected a prompt of token ids (an int32 tensor, an Int32Array or an array), got ${describe(p)}`);
  }
  const P = shape[shape.length - 1]!, B = shape.length === 2 ? shape[0]! : 1;
  if (P < 1 || B < 1) throw new ShapeError(`${op}: expected a prompt of at least one token, got shape ${fmt(shape)}`);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= V) {
      throw new ArgumentError(`${op}: expected prompt ids in [0, ${V}), got ${typeof v === 'number' ? v : describe(v)} at position ${i}`);
    }
  }
  const ids = Array.from({ length: B }, (_, b) => Int32Array.from({ length: P }, (_, j) => flat[b * P + j]!));
  return { ids, batched: shape.length === 2 };
}
