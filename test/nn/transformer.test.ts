// nn.MultiheadAttention and the Transformer layers against plain float64 loops written here from PyTorch's
// definitions (projections, per-head softmax attention with its masks, out_proj; post-norm and pre-norm blocks),
// PyTorch's state-dict names, gradients (gradcheck through the fused attention), errors.
import { describe, expect, it } from 'vitest';
import { nn, tensor, Tensor, gradcheck, manualSeed, ShapeError, ArgumentError, randn } from '../../lib/index.js';
import { covers } from '../api/coverage.js';
import { randArray, expectClose } from '../helpers.js';

covers('nn.MultiheadAttention');
covers('nn.TransformerEncoderLayer');
covers('nn.TransformerEncoder');
covers('nn.TransformerDecoderLayer');
covers('nn.TransformerDecoder');
covers('nn.SinusoidalPositionalEncoding');

type Arr = Float64Array;
const f64 = async (t: Tensor) => Float64Array.from(await t.data() as ArrayLike<number>);

// y[n, l, o] = sum_i x[n, l, i] w[o, i] + b[o]
function lin(x: Arr, N: number, L: number, I: number, w: Arr, O: number, b: Arr | null, wOff = 0, bOff = 0): Arr {
  const y = new Float64Array(N * L * O);
  for (let r = 0; r < N * L; r++) for (let o = 0; o < O; o++) {
    let s = b ? b[bOff + o]! : 0;
    for (let i = 0; i < I; i++) s += x[r * I + i]! * w[wOff + o * I + i]!;
    y[r * O + o] = s;
  }
  return y;
}
// mask[n][h][l][s] additive, from PyTorch's bool (true = not attended) / float masks
interface RefMasks { attn?: { v: Arr; bool: boolean; perHead: boolean }; pad?: { v: Arr; bool: boolean }; causal?: boolean }
function maskAt(m: RefMasks, H: number, L: number, S: number, n: number, h: number, l: number, s: number): number {
  let a = 0;
  if (m.attn) {
    const i = m.attn.perHead ? ((n * H + h) * L + l) * S + s : l * S + s;
    a += m.attn.bool ? (m.attn.v[i] ? -Infinity : 0) : m.attn.v[i]!;
  }
  if (m.pad) a += m.pad.bool ? (m.pad.v[n * S + s] ? -Infinity : 0) : m.pad.v[n * S + s]!;
  if (m.causal && s > l) a += -Infinity;
  return a;
}
// the reference multi-head attention on (N, L, E) query / (N, S, kdim|vdim) key, value; returns output and weights
function refMha(q: Arr, k: Arr, v: Arr, N: number, L: number, S: number, E: number, H: number, W: { wq: Arr; wk: Arr; wv: Arr; kdim: number; vdim: number; bin: Arr | null; wo: Arr; bo: Arr | null }, m: RefMasks) {
  const D = E / H;
  const Q = lin(q, N, L, E, W.wq, E, W.bin, 0, 0), K = lin(k, N, S, W.kdim, W.wk, E, W.bin, 0, E), V = lin(v, N, S, W.vdim, W.wv, E, W.bin, 0, 2 * E);
  const ctx = new Float64Array(N * L * E), weights = new Float64Array(N * H * L * S);
  for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) {
    const sc = new Float64Array(S);
    let mx = -Infinity;
    for (let s = 0; s < S; s++) {
      let d = 0;
      for (let j = 0; j < D; j++) d += Q[(n * L + l) * E + h * D + j]! * K[(n * S + s) * E + h * D + j]!;
      sc[s] = d / Math.sqrt(D) + maskAt(m, H, L, S, n, h, l, s);
      mx = Math.max(mx, sc[s]!);
    }
    let z = 0;
    for (let s = 0; s < S; s++) z += (sc[s] = Math.exp(sc[s]! - mx));
    for (let s = 0; s < S; s++) weights[((n * H + h) * L + l) * S + s] = sc[s]! / z;
    for (let j = 0; j < D; j++) {
      let a = 0;
      for (let s = 0; s < S; s++) a += weights[((n * H + h) * L + l) * S + s]! * V[(n * S + s) * E + h * D + j]!;
      ctx[(n * L + l) * E + h * D + j] = a;
    }
  }
  return { out: lin(ctx, N, L, E, W.wo, E, W.bo), weights };
}
async function weightsOf(m: nn.MultiheadAttention) {
  const E = m.embedDim;
  const all = m.in_proj_weight ? await f64(m.in_proj_weight) : null;
  return {
    wq: all ? all.slice(0, E * E) : await f64(m.q_proj_weight!),
    wk: all ? all.slice(E * E, 2 * E * E) : await f64(m.k_proj_weight!),
    wv: all ? all.slice(2 * E * E) : await f64(m.v_proj_weight!),
    kdim: m.kdim, vdim: m.vdim,
    bin: m.in_proj_bias ? await f64(m.in_proj_bias) : null,
    wo: await f64(m.out_proj.weight), bo: m.out_proj.bias ? await f64(m.out_proj.bias) : null,
  };
}
// (L, N, X) <-> (N, L, X)
function swap01(a: Arr, A: number, B: number, X: number): Arr {
  const o = new Float64Array(a.length);
  for (let i = 0; i < A; i++) for (let j = 0; j < B; j++) for (let x = 0; x < X; x++) o[(j * A + i) * X + x] = a[(i * B + j) * X + x]!;
  return o;
}
const T = (a: Arr, shape: number[]) => tensor(a, { shape, dtype: 'float64' });

describe('nn.MultiheadAttention', () => {
  const N = 2, L = 3, S = 5, E = 8, H = 2;
  it.each([
    ['no mask', {}],
    ['a bool attnMask (L, S)', { attn: 'bool2' }],
    ['a float attnMask (N*H, L, S)', { attn: 'float3' }],
    ['a bool keyPaddingMask', { pad: 'bool' }],
    ['a float keyPaddingMask and isCausal', { pad: 'float', causal: true }],
    ['isCausal alone (top-left, L < S)', { causal: true }],
  ] as const)('batchFirst, %s: output and weights equal the float64 reference', async (_name, spec: { attn?: string; pad?: string; causal?: boolean }) => {
    manualSeed(1);
    const m = new nn.MultiheadAttention(E, H, { batchFirst: true, dtype: 'float64' });
    m.eval();
    const q = randArray(N * L * E, 1), k = randArray(N * S * E, 2), v = randArray(N * S * E, 3);
    const masks: RefMasks = {};
    const opts: Record<string, unknown> = {};
    if (spec.attn === 'bool2') {
      const a = Float64Array.from({ length: L * S }, (_, i) => (i % 3 === 1 ? 1 : 0));
      masks.attn = { v: a, bool: true, perHead: false };
      opts['attnMask'] = tensor(Uint8Array.from(a), { shape: [L, S], dtype: 'uint8' });
    } else if (spec.attn === 'float3') {
      const a = randArray(N * H * L * S, 4, -2, 2);
      masks.attn = { v: a, bool: false, perHead: true };
      opts['attnMask'] = T(a, [N * H, L, S]);
    }
    if (spec.pad === 'bool') {
      const p = Float64Array.from([0, 0, 1, 0, 1, 0, 1, 0, 0, 0]);
      masks.pad = { v: p, bool: true };
      opts['keyPaddingMask'] = tensor(Uint8Array.from(p), { shape: [N, S], dtype: 'uint8' });
    } else if (spec.pad === 'float') {
      const p = randArray(N * S, 5, -1, 0);
      masks.pad = { v: p, bool: false };
      opts['keyPaddingMask'] = T(p, [N, S]);
    }
    if (spec.causal) { masks.causal = true; opts['isCausal'] = true; }
    const ref = refMha(q, k, v, N, L, S, E, H, await weightsOf(m), masks);
    const y = m.forward(T(q, [N, L, E]), T(k, [N, S, E]), T(v, [N, S, E]), opts);
    expect(y.shape).toEqual([N, L, E]);
    expectClose(await f64(y), ref.out, { rtol: 1e-10, atol: 1e-12 });
    const r = m.run(T(q, [N, L, E]), T(k, [N, S, E]), T(v, [N, S, E]), { ...opts, averageAttnWeights: false });
    expectClose(await f64(r.output), ref.out, { rtol: 1e-10, atol: 1e-12 });
    expect(r.weights!.shape).toEqual([N, H, L, S]);
    expectClose(await f64(r.weights!), ref.weights, { rtol: 1e-10, atol: 1e-12 });
    const avg = m.run(T(q, [N, L, E]), T(k, [N, S, E]), T(v, [N, S, E]), opts).weights!;
    const want = new Float64Array(N * L * S);
    for (let n = 0; n < N; n++) for (let l = 0; l < L * S; l++) want[n * L * S + l] = (ref.weights[(n * H) * L * S + l]! + ref.weights[(n * H + 1) * L * S + l]!) / 2;
    expectClose(await f64(avg), want, { rtol: 1e-10, atol: 1e-12 });
  });
  it('sequence-first (L, N, E), kdim and vdim differ from embedDim, no bias', async () => {
    manualSeed(2);
    const m = new nn.MultiheadAttention(E, 4, { kdim: 3, vdim: 5, bias: false, dtype: 'float64' });
    expect(Object.keys(m.stateDict())).toEqual(['q_proj_weight', 'k_proj_weight', 'v_proj_weight', 'out_proj.weight']);
    const q = randArray(N * L * E, 6), k = randArray(N * S * 3, 7), v = randArray(N * S * 5, 8);
    const ref = refMha(q, k, v, N, L, S, E, 4, await weightsOf(m), {});
    const y = m.forward(T(swap01(q, N, L, E), [L, N, E]), T(swap01(k, N, S, 3), [S, N, 3]), T(swap01(v, N, S, 5), [S, N, 5]));
    expect(y.shape).toEqual([L, N, E]);
    expectClose(await f64(y), swap01(ref.out, N, L, E), { rtol: 1e-10, atol: 1e-12 });
  });
  it('unbatched (L, E) input', async () => {
    const m = new nn.MultiheadAttention(E, H, { dtype: 'float64' });
    const q = randArray(L * E, 9);
    const ref = refMha(q, q, q, 1, L, L, E, H, await weightsOf(m), {});
    const y = m.forward(T(q, [L, E]));
    expect(y.shape).toEqual([L, E]);
    expectClose(await f64(y), ref.out, { rtol: 1e-10, atol: 1e-12 });
  });
  it("PyTorch's parameter names and initialisation (xavier projections, zero biases)", async () => {
    const m = new nn.MultiheadAttention(16, 4);
    expect(Object.entries(m.stateDict()).map(([k, t]) => [k, t.shape])).toEqual([
      ['in_proj_weight', [48, 16]], ['in_proj_bias', [48]], ['out_proj.weight', [16, 16]], ['out_proj.bias', [16]],
    ]);
    expect(Array.from(await m.in_proj_bias!.data()).every((x) => x === 0)).toBe(true);
    expect(Array.from(await m.out_proj.bias!.data()).every((x) => x === 0)).toBe(true);
    const bound = Math.sqrt(6 / (16 + 48));
    const w = Array.from(await m.in_proj_weight!.data());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.9);
  });
  it('gradients of query, key, value and every parameter (gradcheck, float64, with a padding mask and causal)', async () => {
    manualSeed(3);
    const m = new nn.MultiheadAttention(4, 2, { batchFirst: true, dtype: 'float64' });
    const pad = tensor(Uint8Array.from([0, 0, 1, 0, 0, 0]), { shape: [2, 3], dtype: 'uint8' });
    const q = randn([2, 3, 4], { dtype: 'float64' }).requiresGrad_(), k = randn([2, 3, 4], { dtype: 'float64' }).requiresGrad_(), v = randn([2, 3, 4], { dtype: 'float64' }).requiresGrad_();
    const ps = [m.in_proj_weight!, m.in_proj_bias!, m.out_proj.weight, m.out_proj.bias!].map((p) => p.detach().requiresGrad_());
    // the parameters enter as inputs too: fn puts gradcheck's copies in place of the module's before each call
    const r = await gradcheck((q, k, v, wi, bi, wo, bo) => {
      m.in_proj_weight = wi!; m.in_proj_bias = bi!; m.out_proj.weight = wo!; m.out_proj.bias = bo!;
      return m.forward(q, k, v, { keyPaddingMask: pad, isCausal: true });
    }, [q, k, v, ...ps]);
    expect(r.ok, `worst ${r.worst} at input ${r.at}`).toBe(true);
  });
  it('errors name the shapes', () => {
    expect(() => new nn.MultiheadAttention(10, 3)).toThrow(new ArgumentError('MultiheadAttention: expected embedDim divisible by numHeads, got 10 and 3'));
    const m = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    expect(() => m.forward(randn([2, 3, 6]))).toThrow(new ShapeError('MultiheadAttention: expected query with 8 features (embedDim), got shape [2,3,6]'));
    expect(() => m.forward(randn([3, 8, 2, 1]))).toThrow(new ShapeError('MultiheadAttention: expected query of rank 3 (N, L, E) or 2 (L, E), got shape [3,8,2,1]'));
    expect(() => m.forward(randn([2, 3, 8]), randn([2, 4, 8]), randn([2, 5, 8]))).toThrow(ShapeError);
    expect(() => m.forward(randn([2, 3, 8]), undefined, undefined, { attnMask: randn([3, 4]) })).toThrow(new ShapeError('MultiheadAttention: expected attnMask of shape [3,3] or [4,3,3], got [3,4]'));
    expect(() => m.forward(randn([2, 3, 8]), undefined, undefined, { keyPaddingMask: randn([3]) })).toThrow(new ShapeError('MultiheadAttention: expected keyPaddingMask of shape [2,3], got [3]'));
  });
});

// LayerNorm over the last dim (weight 1, bias 0 as made), in float64
function refNorm(x: Arr, rows: number, E: number, w: Arr, b: Arr | null, eps = 1e-5): Arr {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mu = 0, va = 0;
    for (let i = 0; i < E; i++) mu += x[r * E + i]!;
    mu /= E;
    for (let i = 0; i < E; i++) va += (x[r * E + i]! - mu) ** 2;
    va /= E;
    for (let i = 0; i < E; i++) y[r * E + i] = (x[r * E + i]! - mu) / Math.sqrt(va + eps) * w[i]! + (b ? b[i]! : 0);
  }
  return y;
}
const addA = (a: Arr, b: Arr) => a.map((x, i) => x + b[i]!);
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-10: integrate the series instead
  let s = 0, term = x, n = 0;
  while (Math.abs(term) > 1e-17 * Math.abs(s) || n < 5) { s += term / (2 * n + 1); n++; term *= -x * x / n; if (n > 200) break; }
  return 2 / Math.sqrt(Math.PI) * s;
}

describe('nn.TransformerEncoderLayer / nn.TransformerEncoder', () => {
  const N = 2, L = 4, E = 8, H = 2, F = 12;
  async function refLayer(l: nn.TransformerEncoderLayer, x: Arr, masks: RefMasks): Promise<Arr> {
    const W = await weightsOf(l.self_attn);
    const nw = async (n: nn.LayerNorm) => [await f64(n.weight!), n.bias ? await f64(n.bias) : null] as const;
    const [n1w, n1b] = await nw(l.norm1), [n2w, n2b] = await nw(l.norm2);
    const w1 = await f64(l.linear1.weight), b1 = await f64(l.linear1.bias!), w2 = await f64(l.linear2.weight), b2 = await f64(l.linear2.bias!);
    const sa = (y: Arr) => refMha(y, y, y, N, L, L, E, H, W, masks).out;
    const ff = (y: Arr) => lin(lin(y, N, L, E, w1, F, b1).map(l.act === 'relu' ? (t) => Math.max(t, 0) : gelu), N, L, F, w2, E, b2);
    if (l.normFirst) {
      const a = addA(x, sa(refNorm(x, N * L, E, n1w, n1b)));
      return addA(a, ff(refNorm(a, N * L, E, n2w, n2b)));
    }
    const a = refNorm(addA(x, sa(x)), N * L, E, n1w, n1b);
    return refNorm(addA(a, ff(a)), N * L, E, n2w, n2b);
  }
  it.each([
    ['post-norm, relu', { normFirst: false, activation: 'relu' }],
    ['pre-norm, gelu', { normFirst: true, activation: 'gelu' }],
  ] as const)('%s (eval): equals the float64 reference, with a key padding mask and isCausal', async (_n, o) => {
    manualSeed(4);
    const l = new nn.TransformerEncoderLayer(E, H, { dimFeedforward: F, batchFirst: true, dtype: 'float64', ...o });
    l.eval();
    const x = randArray(N * L * E, 11);
    const pad = Float64Array.from([0, 0, 0, 1, 0, 1, 0, 0]);
    const want = await refLayer(l, x, { pad: { v: pad, bool: true }, causal: true });
    const y = l.forward(T(x, [N, L, E]), { srcKeyPaddingMask: tensor(Uint8Array.from(pad), { shape: [N, L], dtype: 'uint8' }), isCausal: true });
    expectClose(await f64(y), want, { rtol: 1e-9, atol: 1e-11 });
  });
  it("PyTorch's state-dict names; the encoder's copies start equal and train apart; its final norm", async () => {
    const l = new nn.TransformerEncoderLayer(E, H, { dimFeedforward: F });
    expect(Object.keys(l.stateDict())).toEqual([
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias', 'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias',
    ]);
    const enc = new nn.TransformerEncoder(l, 2, new nn.LayerNorm(E));
    const keys = Object.keys(enc.stateDict());
    expect(keys.filter((k) => k.startsWith('layers.1.'))).toHaveLength(12);
    expect(keys.slice(-2)).toEqual(['norm.weight', 'norm.bias']);
    const a = await enc.stateDict()['layers.0.linear1.weight']!.data(), b = await enc.stateDict()['layers.1.linear1.weight']!.data();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).toEqual(Array.from(await l.linear1.weight.data()));
    expect(enc.stateDict()['layers.0.linear1.weight']).not.toBe(enc.stateDict()['layers.1.linear1.weight']);
    const nb = new nn.TransformerEncoderLayer(E, H, { bias: false });
    expect(Object.keys(nb.stateDict())).toEqual(['self_attn.in_proj_weight', 'self_attn.out_proj.weight', 'linear1.weight', 'linear2.weight', 'norm1.weight', 'norm2.weight']);
  });
  it('the encoder runs its layers in order, then the norm', async () => {
    manualSeed(5);
    const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(E, H, { dimFeedforward: F, batchFirst: true, dtype: 'float64' }), 2, new nn.LayerNorm(E, { dtype: 'float64' }));
    enc.eval();
    const x = T(randArray(N * L * E, 12), [N, L, E]);
    const [l0, l1] = enc.layers.items as nn.TransformerEncoderLayer[];
    const want = enc.norm!.forward(l1!.forward(l0!.forward(x)));
    expectClose(await f64(enc.forward(x)), await f64(want), { rtol: 1e-12, atol: 1e-14 });
  });
  it('dropout is active in training and off in eval', async () => {
    manualSeed(6);
    const l = new nn.TransformerEncoderLayer(E, H, { dimFeedforward: F, dropout: 0.5 });
    const x = randn([N, L, E]);
    const a = await l.forward(x).data(), b = await l.forward(x).data();
    expect(Array.from(a)).not.toEqual(Array.from(b));
    l.eval();
    expect(Array.from(await l.forward(x).data())).toEqual(Array.from(await l.forward(x).data()));
  });
  it('errors', () => {
    expect(() => new nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' as never })).toThrow(new ArgumentError("TransformerEncoderLayer: expected activation 'relu' or 'gelu', got the string 'tanh'"));
    expect(() => new nn.TransformerEncoder({} as never, 2)).toThrow(ArgumentError);
    expect(() => new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2), 0)).toThrow(new ArgumentError('TransformerEncoder: expected numLayers to be an integer >= 1, got the number 0'));
  });
});

describe('nn.TransformerDecoderLayer / nn.TransformerDecoder', () => {
  const N = 2, L = 3, S = 5, E = 8, H = 2, F = 10;
  it.each([[false], [true]])('normFirst %s (eval): equals the float64 reference, causal target over the memory', async (normFirst) => {
    manualSeed(7);
    const l = new nn.TransformerDecoderLayer(E, H, { dimFeedforward: F, batchFirst: true, normFirst, dtype: 'float64' });
    l.eval();
    const t = randArray(N * L * E, 13), mem = randArray(N * S * E, 14);
    const Ws = await weightsOf(l.self_attn), Wc = await weightsOf(l.multihead_attn);
    const nws = await Promise.all([l.norm1, l.norm2, l.norm3].map(async (n) => [await f64(n.weight!), await f64(n.bias!)] as const));
    const w1 = await f64(l.linear1.weight), b1 = await f64(l.linear1.bias!), w2 = await f64(l.linear2.weight), b2 = await f64(l.linear2.bias!);
    const norm = (y: Arr, i: number) => refNorm(y, N * L, E, nws[i]![0], nws[i]![1]);
    const sa = (y: Arr) => refMha(y, y, y, N, L, L, E, H, Ws, { causal: true }).out;
    const ca = (y: Arr) => refMha(y, mem, mem, N, L, S, E, H, Wc, {}).out;
    const ff = (y: Arr) => lin(lin(y, N, L, E, w1, F, b1).map((x) => Math.max(x, 0)), N, L, F, w2, E, b2);
    let want: Arr;
    if (normFirst) {
      let x = addA(t, sa(norm(t, 0)));
      x = addA(x, ca(norm(x, 1)));
      want = addA(x, ff(norm(x, 2)));
    } else {
      let x = norm(addA(t, sa(t)), 0);
      x = norm(addA(x, ca(x)), 1);
      want = norm(addA(x, ff(x)), 2);
    }
    const y = l.forward(T(t, [N, L, E]), T(mem, [N, S, E]), { tgtIsCausal: true });
    expectClose(await f64(y), want, { rtol: 1e-9, atol: 1e-11 });
    const dec = new nn.TransformerDecoder(l, 2);
    expect(Object.keys(dec.stateDict()).filter((k) => k.startsWith('layers.0.'))).toEqual([
      'layers.0.self_attn.in_proj_weight', 'layers.0.self_attn.in_proj_bias', 'layers.0.self_attn.out_proj.weight', 'layers.0.self_attn.out_proj.bias',
      'layers.0.multihead_attn.in_proj_weight', 'layers.0.multihead_attn.in_proj_bias', 'layers.0.multihead_attn.out_proj.weight', 'layers.0.multihead_attn.out_proj.bias',
      'layers.0.linear1.weight', 'layers.0.linear1.bias', 'layers.0.linear2.weight', 'layers.0.linear2.bias',
      'layers.0.norm1.weight', 'layers.0.norm1.bias', 'layers.0.norm2.weight', 'layers.0.norm2.bias', 'layers.0.norm3.weight', 'layers.0.norm3.bias',
    ]);
    dec.eval();
    const [d0, d1] = dec.layers.items as nn.TransformerDecoderLayer[];
    const mT = T(mem, [N, S, E]);
    expectClose(await f64(dec.forward(T(t, [N, L, E]), mT, { tgtIsCausal: true })), await f64(d1!.forward(d0!.forward(T(t, [N, L, E]), mT, { tgtIsCausal: true }), mT, { tgtIsCausal: true })), { rtol: 1e-12, atol: 1e-14 });
  });
  it('a decoder layer without memory is an error', () => {
    expect(() => new nn.TransformerDecoderLayer(8, 2).forward(randn([3, 2, 8]))).toThrow(new ArgumentError('TransformerDecoderLayer: expected memory to be a Tensor, got undefined'));
  });
});

describe('nn.SinusoidalPositionalEncoding', () => {
  it('adds sin/cos of position / 10000^(2i/d), sequence-first and batch-first', async () => {
    const d = 6, L = 4;
    const pe = new nn.SinusoidalPositionalEncoding(d, { maxLen: 10, dtype: 'float64' });
    const want = new Float64Array(L * d);
    for (let p = 0; p < L; p++) for (let i = 0; i < d; i++) want[p * d + i] = i % 2 === 0 ? Math.sin(p / 10000 ** (i / d)) : Math.cos(p / 10000 ** ((i - 1) / d));
    const y = pe.forward(T(new Float64Array(L * 2 * d), [L, 2, d]));
    const got = await f64(y);
    for (let p = 0; p < L; p++) for (let n = 0; n < 2; n++) for (let i = 0; i < d; i++) expect(got[(p * 2 + n) * d + i]).toBeCloseTo(want[p * d + i]!, 12);
    const bf = new nn.SinusoidalPositionalEncoding(d, { maxLen: 10, batchFirst: true, dtype: 'float64' });
    expectClose(await f64(bf.forward(T(new Float64Array(L * d), [1, L, d]))), want, { rtol: 1e-12, atol: 1e-14 });
    expect(Object.keys(pe.stateDict())).toEqual(['pe']);
    expect(() => pe.forward(T(new Float64Array(11 * d), [11, 1, d]))).toThrow(new ShapeError('SinusoidalPositionalEncoding: expected at most 10 positions (maxLen), got 11'));
  });
});
