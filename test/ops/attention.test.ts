// F.scaledDotProductAttention: the fused kernels against a float64 reference written here, against the same
// computation composed of matmul / softmax / masking in tensile (forward and gradients), against TensorFlow.js
// composing it, on every instruction set; its errors; and its memory (the L x S matrix is never stored).
import { describe, it, expect } from 'vitest';
import { F, Tensor, tensor, ones, scope, memory, emptyCache, manualSeed, scaledDotProductAttention, getNumThreads, setNumThreads, ShapeError, DTypeError, ArgumentError } from '../../lib/index.js';
import { availableIsas, withIsa, randArray, expectClose, f64, numel, throwsExactly } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('F.scaledDotProductAttention');
covers('scaledDotProductAttention');

type DT = 'float32' | 'float64';
interface MaskSpec { shape: number[]; kind: 'bool' | 'add'; values: Float64Array }  // values: 0/1 (bool) or additive

// index of `idx` (an index into `to`) in a tensor of shape `from` broadcast to `to`
function bcastIndex(from: readonly number[], to: readonly number[], idx: number[]): number {
  let o = 0;
  const off = to.length - from.length;
  for (let d = 0; d < from.length; d++) o = o * from[d]! + (from[d] === 1 ? 0 : idx[off + d]!);
  return o;
}
function unravel(i: number, shape: readonly number[]): number[] {
  const r = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) { r[d] = i % shape[d]!; i = Math.floor(i / shape[d]!); }
  return r;
}
function bshape(...ss: number[][]): number[] {
  const n = Math.max(...ss.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => Math.max(...ss.map((s) => s[s.length - n + i] ?? 1)));
}

/** float64 reference: softmax(q k^T scale + mask) v with PyTorch's semantics (fully masked rows: 0). */
function refAttention(q: Float64Array, qs: number[], k: Float64Array, ks: number[], v: Float64Array, vs: number[],
  o: { mask?: MaskSpec; causal?: boolean; scale?: number }) {
  const L = qs.at(-2)!, E = qs.at(-1)!, S = ks.at(-2)!, Ev = vs.at(-1)!;
  const batch = bshape(qs.slice(0, -2), ks.slice(0, -2), vs.slice(0, -2));
  const B = numel(batch);
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const out = new Float64Array(B * L * Ev);
  const s = new Float64Array(S);
  for (let b = 0; b < B; b++) {
    const bi = unravel(b, batch);
    const qb = bcastIndex(qs.slice(0, -2), batch, bi), kb = bcastIndex(ks.slice(0, -2), batch, bi), vb = bcastIndex(vs.slice(0, -2), batch, bi);
    for (let i = 0; i < L; i++) {
      let mx = -Infinity;
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[(qb * L + i) * E + e]! * k[(kb * S + j) * E + e]!;
        d *= scale;
        if (o.mask) {
          const m = o.mask.values[bcastIndex(o.mask.shape, [...batch, L, S], [...bi, i, j])]!;
          d = o.mask.kind === 'bool' ? (m ? d : -Infinity) : d + m;
        }
        if (o.causal && j > i) d = -Infinity;
        s[j] = d;
        mx = Math.max(mx, d);
      }
      if (mx === -Infinity) continue;  // every key masked: zeros
      let sum = 0;
      for (let j = 0; j < S; j++) { s[j] = Math.exp(s[j]! - mx); sum += s[j]!; }
      for (let e = 0; e < Ev; e++) {
        let a = 0;
        for (let j = 0; j < S; j++) a += s[j]! * v[(vb * S + j) * Ev + e]!;
        out[(b * L + i) * Ev + e] = a / sum;
      }
    }
  }
  return { out, shape: [...batch, L, Ev] };
}

/** The same computation composed of tensile's differentiable ops (a fully masked row gives NaN here). */
function composed(q: Tensor, k: Tensor, v: Tensor, o: { mask?: Tensor | null; causal?: boolean; scale?: number; drop?: Tensor }): Tensor {
  const E = q.shape.at(-1)!, L = q.shape.at(-2)!, S = k.shape.at(-2)!;
  let sc = q.matmul(k.transpose(-2, -1)).mul(o.scale ?? 1 / Math.sqrt(E));
  if (o.mask) sc = sc.add(o.mask);
  if (o.causal) {
    const c = new Float64Array(L * S);
    for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) c[i * S + j] = -Infinity;
    sc = sc.add(tensor(c, { shape: [L, S], dtype: q.dtype }));
  }
  let p = sc.softmax(-1);
  if (o.drop) p = p.mul(o.drop);
  return p.matmul(v);
}

// an additive mask of dtype dt with the bool mask's meaning (for the composed path)
function additive(m: MaskSpec, dt: DT): Tensor {
  return tensor(m.kind === 'bool' ? m.values.map((x) => (x ? 0 : -Infinity)) : m.values, { shape: m.shape, dtype: dt });
}
function maskTensor(m: MaskSpec, dt: DT): Tensor {
  return m.kind === 'bool' ? tensor(Uint8Array.from(m.values), { shape: m.shape, dtype: 'uint8' }) : tensor(m.values, { shape: m.shape, dtype: dt });
}
let seed = 100;
function boolMask(shape: number[], keepP = 0.7): MaskSpec {
  return { shape, kind: 'bool', values: randArray(numel(shape), seed++, 0, 1).map((x) => (x < keepP ? 1 : 0)) };
}
function addMask(shape: number[]): MaskSpec {
  // finite values with some -inf (excluded keys)
  return { shape, kind: 'add', values: randArray(numel(shape), seed++, -2, 2).map((x) => (x < -1.6 ? -Infinity : x)) };
}

interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  mask?: MaskSpec; causal?: boolean; scale?: number;
  emptyRows?: boolean;  // some row has every key masked (the composed path gives NaN there)
  permuted?: boolean;   // q, k, v are [B, L, H, E] tensors viewed as [B, H, L, E]
  qkv?: boolean;        // q, k, v are [B, H, L, E] views of the middle third of a [B, L, 3 H E] tensor (lib/nn/gpt.ts)
}
const CASES: Case[] = [
  { name: 'no batch dims, L != S, E != Ev', q: [7, 5], k: [9, 5], v: [9, 3] },
  { name: 'partial blocks L=70 S=130', q: [2, 3, 70, 16], k: [2, 3, 130, 16], v: [2, 3, 130, 24] },
  { name: 'broadcast batch dims', q: [2, 3, 33, 8], k: [1, 3, 65, 8], v: [2, 1, 65, 8] },
  { name: 'three batch dims, bool mask [L,S]', q: [2, 2, 3, 17, 6], k: [2, 2, 3, 19, 6], v: [2, 2, 3, 19, 5], mask: boolMask([17, 19], 0.8) },
  { name: 'additive mask [B,1,L,S] over heads', q: [2, 3, 21, 7], k: [2, 3, 67, 7], v: [2, 3, 67, 9], mask: addMask([2, 1, 21, 67]) },
  { name: 'bool mask [S] (rank 1)', q: [3, 11, 4], k: [3, 70, 4], v: [3, 70, 4], mask: boolMask([70], 0.5) },
  { name: 'bool mask [B,L,1] with all-masked rows', q: [2, 13, 8], k: [2, 10, 8], v: [2, 10, 6], mask: { shape: [2, 13, 1], kind: 'bool', values: Float64Array.from({ length: 26 }, (_, i) => (i % 4 === 1 ? 0 : 1)) }, emptyRows: true },
  { name: 'additive mask of -inf rows', q: [1, 5, 3], k: [1, 7, 3], v: [1, 7, 2], mask: { shape: [5, 7], kind: 'add', values: Float64Array.from({ length: 35 }, (_, i) => (Math.floor(i / 7) === 2 ? -Infinity : (i % 5) * 0.1)) }, emptyRows: true },
  { name: 'causal L < S (top-left)', q: [1, 2, 5, 4], k: [1, 2, 9, 4], v: [1, 2, 9, 4], causal: true },
  { name: 'causal L > S', q: [2, 70, 8], k: [2, 20, 8], v: [2, 20, 3], causal: true },
  { name: 'causal L = S = 150, E = 64', q: [1, 2, 150, 64], k: [1, 2, 150, 64], v: [1, 2, 150, 64], causal: true },
  { name: 'scale given', q: [2, 9, 12], k: [2, 14, 12], v: [2, 14, 12], scale: 0.3 },
  { name: 'permuted views [B,L,H,E] -> [B,H,L,E]', q: [2, 3, 19, 8], k: [2, 3, 23, 8], v: [2, 3, 23, 8], permuted: true, mask: boolMask([2, 1, 1, 23], 0.6) },
  // the float32 micro-kernels: whole vectors of E, two column blocks of them (E = 128), padded ones (E = 20, Ev = 12),
  // rows of stride 3 H E, and 8 batch items (the backward's one-pass scheme on 2 threads)
  { name: 'GPT qkv views (row stride 3*H*E = 384), E = 32, 8 batch items', q: [2, 4, 70, 32], k: [2, 4, 70, 32], v: [2, 4, 70, 32], qkv: true, causal: true },
  { name: 'head dim 128, L = S = 100', q: [1, 2, 100, 128], k: [1, 2, 100, 128], v: [1, 2, 100, 128], causal: true },
  { name: 'E = 20, Ev = 12 (not whole vectors), L = 65, S = 131', q: [3, 65, 20], k: [3, 131, 20], v: [3, 131, 12], mask: boolMask([65, 131], 0.8) },
];

function make(shape: number[], dt: DT, permuted: boolean, qkv = false): [Tensor, Float64Array] {
  // values in the [.., L, E] order the reference reads
  const v = randArray(numel(shape), seed++, -1.5, 1.5);
  const vals = dt === 'float32' ? Float64Array.from(Float32Array.from(v)) : v;
  if (qkv) {  // [B, L, 3, H, E] storage, the values at [:, :, 1]
    const [B, H, L, E] = shape as [number, number, number, number];
    const st = randArray(3 * vals.length, seed++);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let e = 0; e < E; e++) {
      st[(((b * L + l) * 3 + 1) * H + h) * E + e] = vals[((b * H + h) * L + l) * E + e]!;
    }
    const t = tensor(st, { shape: [B, L, 3 * H * E], dtype: dt }).slice(2, H * E, 2 * H * E).reshape([B, L, H, E]).transpose(1, 2);
    expect(t.strides[2], 'a view of row stride 3 H E').toBe(3 * H * E);
    return [t, vals];
  }
  if (!permuted) return [tensor(vals, { shape, dtype: dt }), vals];
  // store as [B, L, H, E] and view as [B, H, L, E]
  const [B, H, L, E] = shape as [number, number, number, number];
  const st = new Float64Array(vals.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) for (let e = 0; e < E; e++) {
    st[((b * L + l) * H + h) * E + e] = vals[((b * H + h) * L + l) * E + e]!;
  }
  return [tensor(st, { shape: [B, L, H, E], dtype: dt }).permute([0, 2, 1, 3]), vals];
}

const TOLS = { float32: { rtol: 2e-4, atol: 2e-5 }, float64: { rtol: 1e-10, atol: 1e-12 } };

for (const isa of availableIsas()) {
  describe(`scaledDotProductAttention isa=${isa}`, () => {
    for (const c of CASES) for (const dt of ['float32', 'float64'] as const) {
      it(`${c.name}: q=[${c.q}] k=[${c.k}] v=[${c.v}]${c.mask ? ` ${c.mask.kind} mask=[${c.mask.shape}]` : ''}${c.causal ? ' causal' : ''} ${dt}`, withIsa(isa, async () => {
        const [q, qv] = make(c.q, dt, !!c.permuted, c.qkv), [k, kv] = make(c.k, dt, !!c.permuted, c.qkv), [v, vv] = make(c.v, dt, !!c.permuted, c.qkv);
        const ref = refAttention(qv, c.q, kv, c.k, vv, c.v, { mask: c.mask, causal: c.causal, scale: c.scale });
        const mask = c.mask ? maskTensor(c.mask, dt) : null;
        [q, k, v].forEach((t) => t.requiresGrad_());
        const y = F.scaledDotProductAttention(q, k, v, { attnMask: mask, isCausal: c.causal, scale: c.scale });
        expect(y.shape).toEqual(ref.shape);
        expect(y.dtype).toBe(dt);
        const tol = TOLS[dt];
        expectClose(await f64(y), ref.out, tol, 'vs float64 reference');
        // gradients of sum(y * w) through the fused backward vs the composed ops' backward
        const w = tensor(randArray(numel(ref.shape), seed++), { shape: ref.shape, dtype: dt });
        y.mul(w).sum().backward();
        const fused = [q.grad!, k.grad!, v.grad!];
        const grads = await Promise.all(fused.map(f64));
        for (const [i, t] of [q, k, v].entries()) expect(fused[i]!.shape, `grad ${i} shape`).toEqual(t.shape);
        if (c.emptyRows) {
          // the composed path gives NaN there; the fused one zeros, with finite gradients
          const yc = await f64(composed(q, k, v, { mask: additive(c.mask!, dt), scale: c.scale }));
          expect(yc.some((x) => Number.isNaN(x))).toBe(true);
          for (const g of grads) expect(g.every((x) => Number.isFinite(x))).toBe(true);
          // and equal the composed gradients once the empty rows are unmasked and get no upstream gradient
          const add = additive(c.mask!, dt);
          const av = await f64(add), m = c.mask!.shape.at(-1)!;
          for (let r = 0; r < av.length; r += m) if (av.subarray(r, r + m).every((x) => x === -Infinity)) av.fill(0, r, r + m);
          const wv = await f64(w);
          const w2 = tensor(wv.map((x, i) => (Number.isNaN(yc[i]!) ? 0 : x)), { shape: ref.shape, dtype: dt });
          const qd = q.detach().requiresGrad_(), kd = k.detach().requiresGrad_(), vd = v.detach().requiresGrad_();
          composed(qd, kd, vd, { mask: tensor(av, { shape: c.mask!.shape, dtype: dt }), scale: c.scale }).mul(w2).sum().backward();
          const gtol = dt === 'float32' ? { rtol: 1e-3, atol: 1e-4 } : { rtol: 1e-9, atol: 1e-11 };
          expectClose(grads[0]!, await f64(qd.grad!), gtol, 'dq');
          expectClose(grads[1]!, await f64(kd.grad!), gtol, 'dk');
          expectClose(grads[2]!, await f64(vd.grad!), gtol, 'dv');
          return;
        }
        const qc = q.detach().requiresGrad_(), kc = k.detach().requiresGrad_(), vc = v.detach().requiresGrad_();
        const yc = composed(qc, kc, vc, { mask: c.mask ? additive(c.mask, dt) : null, causal: c.causal, scale: c.scale });
        expectClose(await f64(y), await f64(yc), tol, 'vs composed');
        yc.mul(w).sum().backward();
        const gtol = dt === 'float32' ? { rtol: 1e-3, atol: 1e-4 } : { rtol: 1e-9, atol: 1e-11 };
        expectClose(grads[0]!, await f64(qc.grad!), gtol, 'dq');
        expectClose(grads[1]!, await f64(kc.grad!), gtol, 'dk');
        expectClose(grads[2]!, await f64(vc.grad!), gtol, 'dv');
      }));
    }

    for (const [p, causal] of [[0.3, false], [0.6, true]] as const) {
      it(`dropoutP=${p}${causal ? ' causal' : ''} q=[2,3,37,8] k=[2,3,70,8]: the F.dropout stream of [2,3,37,70] on the weights, forward and gradients`, withIsa(isa, async () => {
        const dt = 'float64';
        const [q] = make([2, 3, 37, 8], dt, false), [k] = make([2, 3, 70, 8], dt, false), [v] = make([2, 3, 70, 5], dt, false);
        [q, k, v].forEach((t) => t.requiresGrad_());
        manualSeed(7);
        const y = F.scaledDotProductAttention(q, k, v, { dropoutP: p, isCausal: causal });
        manualSeed(7);
        const keep = F.dropout(ones([2, 3, 37, 70], { dtype: dt }), { p });  // 0 or 1 / (1 - p)
        const qc = q.detach().requiresGrad_(), kc = k.detach().requiresGrad_(), vc = v.detach().requiresGrad_();
        const yc = composed(qc, kc, vc, { causal, drop: keep });
        const tol = { rtol: 1e-10, atol: 1e-12 };
        expectClose(await f64(y), await f64(yc), tol, 'dropout forward');
        const w = tensor(randArray(2 * 3 * 37 * 5, seed++), { shape: [2, 3, 37, 5], dtype: dt });
        y.mul(w).sum().backward();
        yc.mul(w).sum().backward();
        for (const [a, b, n] of [[q, qc, 'dq'], [k, kc, 'dk'], [v, vc, 'dv']] as const) expectClose(await f64(a.grad!), await f64(b.grad!), { rtol: 1e-9, atol: 1e-11 }, n);
        // another stream drops other weights
        manualSeed(8);
        const y2 = await f64(F.scaledDotProductAttention(q, k, v, { dropoutP: p, isCausal: causal }));
        const y1 = await f64(y);
        expect(y1.some((x, i) => Math.abs(x - y2[i]!) > 1e-6)).toBe(true);
        // dropoutP 0 is no dropout at all
        expectClose(await f64(F.scaledDotProductAttention(q, k, v, { dropoutP: 0, isCausal: causal })), await f64(composed(q, k, v, { causal })), tol, 'p=0');
      }));
    }

    // 3 batch items: one task per item on 1 thread, the two-pass scheme on 2 (native/cpu/attention.cpp, bwd_f32)
    const detCases = [
      ['causal', () => ({ isCausal: true })],
      ['additive mask [L,S]', () => ({ attnMask: tensor(Float32Array.from(randArray(67 * 67, 11, -2, 2)), { shape: [67, 67] }) })],
      ['dropoutP 0.3', () => { manualSeed(5); return { dropoutP: 0.3 }; }],
    ] as const;
    for (const [what, opts] of detCases) {
      it(`float32 backward, ${what}, q=k=v=[1,3,67,32]: the same bits on 1 thread and on 2`, withIsa(isa, async () => {
        const mk = (s: number) => tensor(Float32Array.from(randArray(3 * 67 * 32, s)), { shape: [1, 3, 67, 32] });
        const q0 = mk(21), k0 = mk(22), v0 = mk(23), w = mk(24);
        const run = async () => {
          const [q, k, v] = [q0, k0, v0].map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
          const y = F.scaledDotProductAttention(q, k, v, opts());
          y.mul(w).sum().backward();
          return Promise.all([y, q.grad!, k.grad!, v.grad!].map(async (t) => Array.from(await t.data())));
        };
        const threads = getNumThreads();
        try {
          setNumThreads(1);
          const one = await run();
          setNumThreads(2);
          const two = await run();
          for (const [i, n] of ['y', 'dq', 'dk', 'dv'].entries()) expect(two[i], `${n}, 1 vs 2 threads`).toEqual(one[i]);
        } finally {
          setNumThreads(threads);
        }
      }));
    }
  });
}

describe('scaledDotProductAttention vs TensorFlow.js composing it', () => {
  for (const [B, H, L, S, E, Ev, withMask] of [[2, 2, 19, 33, 8, 5, false], [1, 3, 70, 70, 16, 16, true]] as const) {
    it(`q=[${B},${H},${L},${E}] k=[${B},${H},${S},${E}] v=[..,${S},${Ev}]${withMask ? ' additive mask [L,S]' : ''}: output and gradients (float32)`, async () => {
      const t = await tfjs();
      const qv = randArray(B * H * L * E, seed++), kv = randArray(B * H * S * E, seed++), vv = randArray(B * H * S * Ev, seed++), wv = randArray(B * H * L * Ev, seed++);
      const mv = randArray(L * S, seed++, -2, 2);
      const q = tensor(Float32Array.from(qv), { shape: [B, H, L, E] }).requiresGrad_();
      const k = tensor(Float32Array.from(kv), { shape: [B, H, S, E] }).requiresGrad_();
      const v = tensor(Float32Array.from(vv), { shape: [B, H, S, Ev] }).requiresGrad_();
      const mask = withMask ? tensor(Float32Array.from(mv), { shape: [L, S] }) : null;
      const y = F.scaledDotProductAttention(q, k, v, { attnMask: mask });
      y.mul(tensor(Float32Array.from(wv), { shape: [B, H, L, Ev] })).sum().backward();
      const ref = t.tidy(() => {
        const Q = t.tensor3d(Float32Array.from(qv), [B * H, L, E]), K = t.tensor3d(Float32Array.from(kv), [B * H, S, E]), V = t.tensor3d(Float32Array.from(vv), [B * H, S, Ev]);
        const W = t.tensor3d(Float32Array.from(wv), [B * H, L, Ev]), M = t.tensor2d(Float32Array.from(mv), [L, S]);
        const f = (a: import('@tensorflow/tfjs-core').Tensor, b: import('@tensorflow/tfjs-core').Tensor, c: import('@tensorflow/tfjs-core').Tensor) => {
          let s = t.mul(t.matMul(a as never, b as never, false, true), 1 / Math.sqrt(E));
          if (withMask) s = t.add(s, M);
          return t.matMul(t.softmax(s), c as never);
        };
        const out = f(Q, K, V);
        const g = t.grads((a, b, c) => t.sum(t.mul(f(a, b, c), W)))([Q, K, V]);
        return [out, ...g].map((x) => Float64Array.from(x.dataSync()));
      });
      const tol = { rtol: 1e-3, atol: 1e-5 };
      expectClose(await f64(y), ref[0]!, tol, 'y');
      expectClose(await f64(q.grad!), ref[1]!, tol, 'dq');
      expectClose(await f64(k.grad!), ref[2]!, tol, 'dk');
      expectClose(await f64(v.grad!), ref[3]!, tol, 'dv');
    });
  }
});

describe('scaledDotProductAttention errors', () => {
  const q = tensor(new Float32Array(2 * 3 * 4), { shape: [2, 3, 4] });
  const k = tensor(new Float32Array(2 * 5 * 4), { shape: [2, 5, 4] });
  const v = tensor(new Float32Array(2 * 5 * 6), { shape: [2, 5, 6] });
  const op = 'scaled_dot_product_attention';
  it('rank < 2', () => {
    throwsExactly(() => F.scaledDotProductAttention(tensor([1, 2, 3, 4]), k, v), ShapeError,
      `${op}: expected query, key and value of rank >= 2 ([..., L, E], [..., S, E], [..., S, Ev]), got shapes [4], [2,5,4] and [2,5,6]`);
  });
  it('E mismatch, S mismatch, batch dims not broadcastable', () => {
    throwsExactly(() => F.scaledDotProductAttention(q, tensor(new Float32Array(30), { shape: [2, 5, 3] }), v), ShapeError,
      `${op}: expected key with last dim 4 (query's E), got shapes [2,3,4], [2,5,3] and [2,5,6]`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, tensor(new Float32Array(48), { shape: [2, 4, 6] })), ShapeError,
      `${op}: expected value with 5 rows (key's S), got shapes [2,3,4], [2,5,4] and [2,4,6]`);
    throwsExactly(() => F.scaledDotProductAttention(tensor(new Float32Array(36), { shape: [3, 3, 4] }), k, v), ShapeError,
      `${op}: expected query, key and value with broadcastable batch dims, got shapes [3,3,4], [2,5,4] and [2,5,6]`);
  });
  it('mask not broadcastable to [..., L, S]', () => {
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor(new Uint8Array(12), { shape: [3, 4], dtype: 'uint8' }) }), ShapeError,
      `${op}: expected attnMask broadcastable to [2,3,5], got shape [3,4]`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor(new Uint8Array(60), { shape: [2, 2, 3, 5], dtype: 'uint8' }) }), ShapeError,
      `${op}: expected attnMask broadcastable to [2,3,5], got shape [2,2,3,5]`);
  });
  it('mask dtype, qkv dtypes', () => {
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor(new Float64Array(15), { shape: [3, 5], dtype: 'float64' }) }), DTypeError,
      `${op}: expected attnMask of dtype uint8 (boolean) or float32 (additive, query's), got float64`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor(new Int32Array(15), { shape: [3, 5], dtype: 'int32' }) }), DTypeError,
      `${op}: expected attnMask of dtype uint8 (boolean) or float32 (additive, query's), got int32`);
    throwsExactly(() => F.scaledDotProductAttention(q, k.cast('float64'), v), DTypeError,
      `${op}: expected query, key and value of one float dtype, got float32, float64 and float32`);
  });
  it('isCausal with a mask; bad options', () => {
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { attnMask: tensor(new Uint8Array(15), { shape: [3, 5], dtype: 'uint8' }), isCausal: true }), ArgumentError,
      `${op}: expected attnMask or isCausal, not both (an explicit mask with isCausal: true), got a mask of shape [3,5]`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { dropoutP: 1.5 }), ArgumentError, `${op}: expected dropoutP in [0, 1], got the number 1.5`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { scale: Infinity }), ArgumentError, `${op}: expected scale to be a finite number, got the number Infinity`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, v, { isCausal: 1 as unknown as boolean }), ArgumentError, `${op}: expected isCausal to be true or false, got the number 1`);
    throwsExactly(() => F.scaledDotProductAttention(q, k, 'v' as unknown as Tensor), ArgumentError, `${op}: expected value to be a Tensor, got the string 'v'`);
  });
});

describe('scaledDotProductAttention memory', () => {
  // The allocator's high-water mark over a forward and backward: after emptyCache() every block it hands out is
  // either live or back in its pool (freed blocks are pooled, not returned, below its cap), so live + pooled bytes
  // afterwards bound the peak from above (and the composed path's from below: its L x S matrices were all live at
  // some point).
  async function highWater(fn: () => void): Promise<number> {
    emptyCache();
    const before = memory().cpu;
    scope(fn);
    const after = memory().cpu;
    return after.bytes + after.pooledBytes - before.bytes;
  }
  it('L = S = 2048, E = 64, float32: fused forward + backward stays O(L); the composed path holds L x S matrices', async () => {
    const L = 2048, E = 64, LS = L * L * 4;  // one L x S float32 matrix: 16 MiB
    const mk = () => tensor(Float32Array.from(randArray(L * E, seed++)), { shape: [1, L, E] }).requiresGrad_();
    const q = mk(), k = mk(), v = mk();
    const run = (f: (a: Tensor, b: Tensor, c: Tensor) => Tensor) => () => {
      f(q, k, v).sum().backward();
      for (const t of [q, k, v]) { t.grad?.dispose(); t.grad = null; }
    };
    const fused = await highWater(run((a, b, c) => scaledDotProductAttention(a, b, c, { isCausal: true })));
    const comp = await highWater(run((a, b, c) => composed(a, b, c, { causal: true })));
    console.log(`attention memory, L = S = ${L}, E = ${E}, float32: fused ${(fused / 2 ** 20).toFixed(2)} MiB, composed ${(comp / 2 ** 20).toFixed(2)} MiB`);
    expect(fused).toBeLessThan(LS / 4);       // q, k, v, out, their gradients: 512 KiB each
    expect(comp).toBeGreaterThan(2 * LS);     // scores, probabilities, and their gradients
  });
});
