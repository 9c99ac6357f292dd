// Fused scaled-dot-product attention (native/cpu/attention.cpp, native/cuda/attention.cu): the flash-attention
// scheme, so that neither direction stores the L x S matrix of scores. The kernels see q, k, v and the mask as views
// over one shared (coalesced) batch shape, broadcast dims with stride 0: broadcasting costs no copy.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { describe, optionsArg, optTensorArg, tensorArg } from '../check.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch } from '../tensor/tensor.js';
import type { ViewArg } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, coalesce, contiguousStrides, fmt } from '../tensor/shape.js';
import { nextRng } from '../tensor/random.js';
import { needsGrad, record } from '../autograd/engine.js';
import { sumToShape } from './reduce.js';

const OP = 'scaled_dot_product_attention';
const MAX_BATCH_DIMS = 6;  // kMaxDims (8) less the two matrix dims

/** Options of {@link scaledDotProductAttention}, PyTorch's keyword arguments. */
export interface AttentionOptions {
  /** Broadcastable to [..., L, S]: uint8 (nonzero: the key takes part, PyTorch's boolean mask) or query's dtype (added to the scores). */
  attnMask?: Tensor | null;
  /** Row i attends to keys j <= i (top-left aligned when L != S, as PyTorch's is_causal). Not with attnMask. */
  isCausal?: boolean;
  /** Dropout probability on the attention weights, applied whenever > 0 (pass 0 at evaluation). Default 0. */
  dropoutP?: number;
  /** Factor on q k^T; default 1 / sqrt(E). */
  scale?: number | null;
}

function shapes(q: Tensor, k: Tensor, v: Tensor): string {
  return `${fmt(q.shape)}, ${fmt(k.shape)} and ${fmt(v.shape)}`;
}

// a tensor whose last dim has unit stride (the kernels read rows of q, k and v as contiguous runs)
function unitRows(t: Tensor): Tensor {
  const n = t.ndim;
  return t.shape[n - 1]! <= 1 || t.strides[n - 1] === 1 ? t : t.contiguous();
}

interface Plan {
  views: ViewArg[];  // q, k, v[, mask] over the coalesced batch shape
  batch: number[];   // the broadcast batch shape
  B: number;         // its numel
  nb: number;        // coalesced batch dims
  owned: Tensor[];   // copies made here
}

function batchOf(q: Tensor, k: Tensor, v: Tensor): number[] {
  try {
    return broadcastShapes(OP, broadcastShapes(OP, q.shape.slice(0, -2), k.shape.slice(0, -2)), v.shape.slice(0, -2));
  } catch {
    throw new ShapeError(`${OP}: expected query, key and value with broadcastable batch dims, got shapes ${shapes(q, k, v)}`);
  }
}

// The views of q, k, v (and the mask) over their broadcast batch shape, coalesced; at most MAX_BATCH_DIMS dims
// (beyond that the operands are materialised at the full batch shape, which coalesces to one dim).
function plan(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, batch: number[]): Plan {
  const L = q.shape[q.ndim - 2]!, S = k.shape[k.ndim - 2]!;
  const B = batch.reduce((a, b) => a * b, 1);
  const owned: Tensor[] = [];
  let ts = [q, k, v].map((t) => {
    const u = unitRows(t);
    if (u !== t) owned.push(u);
    return u;
  });
  if (mask) ts.push(mask);
  const full = (t: Tensor, i: number) => [...batch, i === 3 ? L : t.shape[t.ndim - 2]!, i === 3 ? S : t.shape[t.ndim - 1]!];
  const batchStrides = (t: Tensor, i: number) => broadcastStrides(t.shape, t.strides, full(t, i)).slice(0, batch.length);
  let c = coalesce(batch, [contiguousStrides(batch), ...ts.map(batchStrides)]);
  if (c.shape.length > MAX_BATCH_DIMS) {
    ts = ts.map((t, i) => {
      const e = t.expand(full(t, i));
      const m = e.contiguous();
      e.dispose();
      owned.push(m);
      return m;
    });
    c = coalesce(batch, [contiguousStrides(batch), ...ts.map(batchStrides)]);
  }
  const views = ts.map((t, i): ViewArg => {
    const fs = broadcastStrides(t.shape, t.strides, full(t, i));
    const n = fs.length;
    return { t, shape: [...c.shape, ...full(t, i).slice(-2)], strides: [...c.strides[i + 1]!, fs[n - 2]!, fs[n - 1]!], offset: t.offset };
  });
  return { views, batch, B, nb: c.shape.length, owned };
}

/**
 * Scaled dot-product attention, softmax(q k^T * scale + mask) v, as PyTorch's
 * torch.nn.functional.scaled_dot_product_attention: q [..., L, E], k [..., S, E], v [..., S, Ev] with any batch and
 * head dims (broadcast between q, k and v), giving [..., L, Ev].
 *
 * A fused kernel, the flash-attention scheme: an online softmax over blocks of keys, so the L x S matrix of scores
 * is never stored (memory grows with L, not L x S); the forward saves each row's log-sum-exp and the backward
 * recomputes the probabilities from it. Gradients flow to q, k and v (none to the mask).
 *
 * - `attnMask`: broadcastable to [..., L, S]; uint8 is PyTorch's boolean mask (nonzero: the key takes part),
 *   a tensor of query's dtype is added to the scores (use -Infinity to exclude).
 * - `isCausal`: the mask j <= i, top-left aligned when L != S (PyTorch's); an error together with attnMask.
 * - `dropoutP`: dropout on the attention weights (each kept weight scaled by 1 / (1 - p)) from the seeded Philox
 *   stream (manualSeed), whenever p > 0: like PyTorch's, this function does not know about training, so pass
 *   `module.training ? p : 0`.
 * - `scale`: default 1 / sqrt(E).
 *
 * A row whose keys are all masked gives zeros (and zero gradients), which is what PyTorch's math backend gives
 * since 2.5 (its _safe_softmax) and what its fused kernels give; the plain formula would give NaN. Rows of padding
 * then cannot poison a loss through 0 * NaN.
 *
 * @example
 * ```ts
 * const [B, H, L, E] = [2, 4, 128, 64];
 * const q = randn([B, H, L, E]), k = randn([B, H, L, E]), v = randn([B, H, L, E]);
 * const y = F.scaledDotProductAttention(q, k, v, { isCausal: true }); // [2, 4, 128, 64]
 * ```
 */
export function scaledDotProductAttention(query: Tensor, key: Tensor, value: Tensor, o?: AttentionOptions): Tensor {
  const q = tensorArg(OP, 'query', query), k = tensorArg(OP, 'key', key), v = tensorArg(OP, 'value', value);
  o = optionsArg(OP, o);
  const mask = optTensorArg(OP, 'attnMask', o.attnMask);
  if (o.isCausal !== undefined && typeof o.isCausal !== 'boolean') {
    throw new ArgumentError(`${OP}: expected isCausal to be true or false, got ${describe(o.isCausal)}`);
  }
  const causal = o.isCausal ?? false;
  const p = o.dropoutP ?? 0;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ArgumentError(`${OP}: expected dropoutP in [0, 1], got ${describe(o.dropoutP)}`);
  if (o.scale !== undefined && o.scale !== null && (typeof o.scale !== 'number' || !Number.isFinite(o.scale))) {
    throw new ArgumentError(`${OP}: expected scale to be a finite number, got ${describe(o.scale)}`);
  }
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) {
    throw new ShapeError(`${OP}: expected query, key and value of rank >= 2 ([..., L, E], [..., S, E], [..., S, Ev]), got shapes ${shapes(q, k, v)}`);
  }
  if (!isFloat(q.dtype) || k.dtype !== q.dtype || v.dtype !== q.dtype) {
    throw new DTypeError(`${OP}: expected query, key and value of one float dtype, got ${q.dtype}, ${k.dtype} and ${v.dtype}`);
  }
  const L = q.shape[q.ndim - 2]!, E = q.shape[q.ndim - 1]!, S = k.shape[k.ndim - 2]!;
  if (k.shape[k.ndim - 1] !== E) throw new ShapeError(`${OP}: expected key with last dim ${E} (query's E), got shapes ${shapes(q, k, v)}`);
  if (v.shape[v.ndim - 2] !== S) throw new ShapeError(`${OP}: expected value with ${S} rows (key's S), got shapes ${shapes(q, k, v)}`);
  let maskKind = 0;
  if (mask) {
    if (causal) throw new ArgumentError(`${OP}: expected attnMask or isCausal, not both (an explicit mask with isCausal: true), got a mask of shape ${fmt(mask.shape)}`);
    if (mask.dtype === 'uint8') maskKind = 1;
    else if (mask.dtype === q.dtype) maskKind = 2;
    else throw new DTypeError(`${OP}: expected attnMask of dtype uint8 (boolean) or ${q.dtype} (additive, query's), got ${mask.dtype}`);
  }
  const batch = batchOf(q, k, v);
  const target = [...batch, L, S];
  if (mask) {
    const off = target.length - mask.ndim;
    if (off < 0 || mask.shape.some((d, i) => d !== 1 && d !== target[off + i])) {
      throw new ShapeError(`${OP}: expected attnMask broadcastable to ${fmt(target)}, got shape ${fmt(mask.shape)}`);
    }
  }
  const pl = plan(q, k, v, mask, batch);
  const Ev = v.shape[v.ndim - 1]!;
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const rng = p > 0 ? nextRng() : [0, 0];
  const ip = [pl.nb, maskKind, causal ? 1 : 0, rng[0]!, rng[1]!];
  const fp = [scale, p];
  const [out, lse] = launch('attention', q.dtype, pl.views, [
    { shape: [...pl.batch, L, Ev], dtype: q.dtype, kernelShape: [pl.B, L, Ev] },
    { shape: [pl.B, L], dtype: q.dtype },
  ], ip, fp);
  if (!needsGrad(q, k, v)) {
    lse!.dispose();
    pl.owned.forEach((t) => t.dispose());
    return out!;
  }
  record(out!, [q, k, v], OP, (g) => {
    const gc = g.isContiguous() ? g : g.contiguous();
    const flat = (t: Tensor, n: number): ViewArg => ({ t, shape: [pl.B, L, n], strides: [L * n, n, 1], offset: t.offset });
    const ins: ViewArg[] = [pl.views[0]!, pl.views[1]!, pl.views[2]!, flat(out!, Ev), flat(gc, Ev), { t: lse!, shape: [pl.B, L], strides: [L, 1], offset: 0 }];
    if (mask) ins.push(pl.views[3]!);
    const [dq, dk, dv] = launch('attention_bwd', q.dtype, ins, [
      { shape: [...pl.batch, L, E], dtype: q.dtype, kernelShape: [pl.B, L, E] },
      { shape: [...pl.batch, S, E], dtype: q.dtype, kernelShape: [pl.B, S, E] },
      { shape: [...pl.batch, S, Ev], dtype: q.dtype, kernelShape: [pl.B, S, Ev] },
    ], ip, fp);
    if (gc !== g) gc.dispose();
    const back = (d: Tensor, t: Tensor) => {
      if (!t.requiresGrad) {
        d.dispose();
        return null;
      }
      const r = sumToShape(d, t.shape, t.dtype);
      if (r !== d) d.dispose();
      return r;
    };
    return [back(dq!, q), back(dk!, k), back(dv!, v)];
  }, mask ? [q, k, v, out!, mask] : [q, k, v, out!]);
  return out!;
}
