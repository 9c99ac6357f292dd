// nn.GPT: shapes and state-dict names, the tied output projection (one Parameter), causality, the key/value cache
// (the cached logits are the full recompute's at every position, and a cached step runs one query), generate()
// (greedy against a full-recompute loop, the sliding window, eos, determinism per seed), a short training run on a
// tiny corpus, and the errors.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nn, optim, F, tensor, Tensor, manualSeed, noGrad, ArgumentError, ShapeError, DTypeError } from '../../lib/index.js';
import { covers } from '../api/coverage.js';
import { expectClose, throwsExactly, rejectsExactly } from '../helpers.js';

covers('nn.GPT');
covers('nn.KVCache');
covers('nn.CausalSelfAttention');

const ids = (a: number[], shape?: number[]) => tensor(Int32Array.from(a), { shape: shape ?? [a.length], dtype: 'int32' });
const f64 = async (t: Tensor) => Float64Array.from((await t.data()) as ArrayLike<number>);
const small = (o: Partial<nn.GPTOptions> = {}) => new nn.GPT({ vocabSize: 11, contextLength: 12, dModel: 16, nHeads: 4, nLayers: 2, ...o });
const seq = (n: number, seed: number, V = 11) => Array.from({ length: n }, (_, i) => (i * 7 + seed * 3 + ((i * i) % 5)) % V);

afterEach(() => vi.restoreAllMocks());

// weights N(0, 0.5) instead of GPT-2's N(0, 0.02): logits that depend strongly on the whole context, so a decoding
// that sees the wrong window picks other tokens
function sharpen(m: nn.GPT): nn.GPT {
  for (const [name, p] of m.namedParameters()) if (name.endsWith('weight') && p.ndim === 2) nn.init.normal_(p, 0, 0.5);
  return m;
}

describe('nn.GPT structure', () => {
  it('maps [B, T] ids to [B, T, vocabSize] logits and [T] to [T, vocabSize]', async () => {
    manualSeed(1);
    const m = small();
    expect(m.forward(ids(seq(14, 1).slice(0, 10), [2, 5])).shape).toEqual([2, 5, 11]);
    const one = m.forward(ids(seq(7, 2)));
    expect(one.shape).toEqual([7, 11]);
    // the unbatched row is the batched one
    expectClose(await f64(one), await f64(m.forward(ids(seq(7, 2), [1, 7])).squeeze(0)), { rtol: 0, atol: 0 }, 'unbatched');
  });

  it('names its state as nanoGPT does, with no lm_head when tied (learned positions)', () => {
    const keys = Object.keys(small({ nLayers: 1 }).stateDict());
    expect(keys).toEqual([
      'wte.weight', 'wpe.weight',
      'h.0.ln_1.weight', 'h.0.ln_1.bias', 'h.0.attn.c_attn.weight', 'h.0.attn.c_attn.bias', 'h.0.attn.c_proj.weight', 'h.0.attn.c_proj.bias',
      'h.0.ln_2.weight', 'h.0.ln_2.bias', 'h.0.mlp.c_fc.weight', 'h.0.mlp.c_fc.bias', 'h.0.mlp.c_proj.weight', 'h.0.mlp.c_proj.bias',
      'ln_f.weight', 'ln_f.bias',
    ]);
    const sin = Object.keys(small({ nLayers: 1, posEncoding: 'sinusoidal', tieWeights: false }).stateDict());
    expect(sin[0]).toBe('wte.weight');
    expect(sin).toContain('wpe.pe');
    expect(sin).not.toContain('wpe.weight');
    expect(sin.at(-1)).toBe('lm_head.weight');
  });

  it('ties the output projection to the token embedding: one Parameter, once in parameters() and the state dict', async () => {
    manualSeed(2);
    const m = small();
    expect(m.outputWeight).toBe(m.wte.weight);
    expect(m.lm_head).toBeNull();
    const params = m.parameters();
    expect(params.filter((p) => p === m.wte.weight)).toHaveLength(1);
    const sd = m.stateDict();
    expect(Object.values(sd).filter((t) => t === m.wte.weight)).toHaveLength(1);
    expect(Object.keys(sd)).toHaveLength(params.length);
    // V d + C d + per layer (2 LN + qkv + proj + fc + proj) + ln_f; the tied projection adds nothing
    const V = 11, C = 12, d = 16, h = 64, L = 2;
    const perLayer = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (h * d + h) + (d * h + d);
    expect(m.numParameters()).toBe(V * d + C * d + L * perLayer + 2 * d);
    expect(m.numParameters({ nonEmbedding: true })).toBe(V * d + L * perLayer + 2 * d);
    expect(params.reduce((a, p) => a + p.numel, 0)).toBe(m.numParameters());
    // the gradient of a token that is only predicted (never an input) reaches wte.weight through the projection
    const x = ids([1, 2, 3, 1], [1, 4]);
    F.crossEntropy(m.forward(x).reshape([-1, V]), ids([2, 3, 1, 9])).backward();
    const g = await f64(m.wte.weight.grad!);
    expect(g.slice(9 * d, 10 * d).some((v) => v !== 0)).toBe(true);
    expect(g.slice(10 * d, 11 * d).some((v) => v !== 0)).toBe(true);  // a token never seen: softmax's push-down
    // untied: its own lm_head.weight, a second Parameter
    const u = small({ tieWeights: false });
    expect(u.outputWeight).toBe(u.lm_head!.weight);
    expect(u.outputWeight).not.toBe(u.wte.weight);
    expect(u.numParameters()).toBe(m.numParameters() + V * d);
  });

  it('loads its own state dict back (tied) and gives the same logits', async () => {
    manualSeed(3);
    const a = small(), b = small();
    const x = ids(seq(8, 4), [1, 8]);
    b.loadStateDict(a.stateDict());
    expect(b.outputWeight).toBe(b.wte.weight);
    expectClose(await f64(b.forward(x)), await f64(a.forward(x)), { rtol: 0, atol: 0 }, 'reloaded');
  });

  for (const posEncoding of ['learned', 'sinusoidal'] as const) {
    it(`is causal: changing token j changes no logits before j (${posEncoding})`, async () => {
      manualSeed(4);
      const m = small({ posEncoding });
      const a = seq(10, 5);
      const base = await f64(m.forward(ids(a)));
      for (const j of [0, 4, 9]) {
        const b = [...a];
        b[j] = (b[j]! + 3) % 11;
        const got = await f64(m.forward(ids(b)));
        expectClose(got.slice(0, j * 11), base.slice(0, j * 11), { rtol: 0, atol: 0 }, `positions before ${j}`);
        expect(got.slice(j * 11, (j + 1) * 11).some((v, i) => v !== base[j * 11 + i]), `position ${j} changes`).toBe(true);
      }
    });
  }
});

describe('nn.GPT key/value cache', () => {
  for (const [dtype, tol] of [['float64', { rtol: 1e-10, atol: 1e-12 }], ['float32', { rtol: 1e-4, atol: 2e-5 }]] as const) {
    for (const posEncoding of ['learned', 'sinusoidal'] as const) {
      it(`gives the full recompute's logits at every position, prompt 4 then 8 single steps (${dtype}, ${posEncoding})`, async () => {
        manualSeed(5);
        const m = small({ dtype, posEncoding }).eval();
        const B = 2, T = 12, V = 11;
        const all = [...seq(T, 6), ...seq(T, 7)];
        const full = await f64(noGrad(() => m.forward(ids(all, [B, T]))));  // [B, T, V]
        const cache = m.createCache(B);
        const at = (b: number, t: number) => full.slice((b * T + t) * V, (b * T + t + 1) * V);
        const prompt = ids([...all.slice(0, 4), ...all.slice(T, T + 4)], [B, 4]);
        const first = await f64(noGrad(() => m.forward(prompt, { cache })));
        expect(cache.length).toBe(4);
        for (let b = 0; b < B; b++) for (let t = 0; t < 4; t++) expectClose(first.slice((b * 4 + t) * V, (b * 4 + t + 1) * V), at(b, t), tol, `prompt b${b} t${t}`);
        for (let t = 4; t < T; t++) {
          const step = noGrad(() => m.forward(ids([all[t]!, all[T + t]!], [B, 1]), { cache }));
          expect(step.shape).toEqual([B, 1, V]);
          expect(cache.length).toBe(t + 1);
          const s = await f64(step);
          for (let b = 0; b < B; b++) expectClose(s.slice(b * V, (b + 1) * V), at(b, t), tol, `step b${b} t${t}`);
        }
        cache.dispose();
      });
    }
    it(`gives the full recompute's logits for a chunk of 3 after 5 cached positions (the offset causal mask, ${dtype})`, async () => {
      manualSeed(6);
      const m = small({ dtype }).eval();
      const a = seq(8, 8), V = 11;
      const full = await f64(noGrad(() => m.forward(ids(a))));
      const cache = m.createCache(1);
      noGrad(() => m.forward(ids(a.slice(0, 5)), { cache }));
      const chunk = await f64(noGrad(() => m.forward(ids(a.slice(5)), { cache })));
      expectClose(chunk, full.slice(5 * V), tol, 'chunk');
      cache.dispose();
    });
  }

  it('runs one query per layer and step: the attention of a cached step sees x (so q) of length 1 and every cached key', async () => {
    manualSeed(7);
    const m = small();
    const calls: { T: number; keys: number }[] = [];
    const orig = nn.CausalSelfAttention.prototype.forward;
    vi.spyOn(nn.CausalSelfAttention.prototype, 'forward').mockImplementation(function (this: nn.CausalSelfAttention, x: Tensor, o: { start?: number; cache?: unknown } = {}) {
      calls.push({ T: x.shape[1]!, keys: o.cache ? (o.start ?? 0) + x.shape[1]! : x.shape[1]! });
      return orig.call(this, x, o);
    });
    await m.generate(ids(seq(3, 9)), { maxNewTokens: 6, temperature: 0 });
    // the prompt once (3 positions), then 5 steps of one position each, in each of the 2 layers
    expect(calls.map((c) => c.T)).toEqual([3, 3, ...Array(10).fill(1)]);
    expect(calls.map((c) => c.keys)).toEqual([3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
  });
});

// greedy decoding by full recompute: the window of generate() (the last contextLength tokens of the prompt; when a
// full window needs another token, its last ceil(C / 2) tokens) and the argmax of the last position's logits
async function greedyReference(m: nn.GPT, prompt: number[], n: number): Promise<number[]> {
  const C = m.config.contextLength;
  const out = [...prompt];
  let w = prompt.slice(-C);
  for (let i = 0; i < n; i++) {
    const logits = await f64(noGrad(() => m.forward(ids(w))));
    const V = m.config.vocabSize, last = logits.slice((w.length - 1) * V);
    let best = 0;
    for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
    out.push(best);
    if (i === n - 1) break;
    w = w.length === C ? out.slice(-Math.ceil(C / 2)) : [...w, best];
  }
  return out;
}

describe('nn.GPT.generate', () => {
  it('greedy (temperature 0) equals argmax decoding by full recompute, within the context (prompt 4, 6 new)', async () => {
    manualSeed(8);
    const m = sharpen(small({ dtype: 'float64' }));
    const prompt = seq(4, 10);
    const got = await m.generate(prompt, { maxNewTokens: 6, temperature: 0 });
    expect(got.shape).toEqual([10]);
    expect(got.dtype).toBe('int32');
    expect(Array.from(await got.data())).toEqual(await greedyReference(m, prompt, 6));
  });

  it('slides the window past contextLength 12 (prompt 14 cropped to 12, 20 new: slides at each full window)', async () => {
    manualSeed(9);
    const m = sharpen(small({ dtype: 'float64' }));
    const prompt = seq(14, 11);
    const got = Array.from(await (await m.generate(prompt, { maxNewTokens: 20, temperature: 0 })).data());
    expect(got).toHaveLength(34);
    expect(got.slice(0, 14)).toEqual(prompt);
    expect(got).toEqual(await greedyReference(m, prompt, 20));
  });

  it('decodes a batch [2, 3] row by row as the rows alone, and restores training mode', async () => {
    manualSeed(10);
    const m = sharpen(small({ dtype: 'float64', dropout: 0.2 }));
    expect(m.training).toBe(true);
    const rows = [seq(3, 12), seq(3, 13)];
    const got = await m.generate(ids(rows.flat(), [2, 3]), { maxNewTokens: 5, temperature: 0 });
    expect(got.shape).toEqual([2, 8]);
    expect(m.training).toBe(true);
    const flat = Array.from(await got.data());
    m.eval();
    for (let b = 0; b < 2; b++) expect(flat.slice(b * 8, (b + 1) * 8)).toEqual(await greedyReference(m, rows[b]!, 5));
  });

  it('stops at eos and pads finished rows with it (batch of 2: one row ends at its first new token)', async () => {
    manualSeed(11);
    const m = sharpen(small({ dtype: 'float64', tieWeights: false }));
    // row a: eos is its first new token and greedy would go on with another; row b: no eos among its first 4 new
    let a: number[] = [], ga: number[] = [], b: number[] = [], gb: number[] = [];
    for (let s = 0; s < 40 && !b.length; s++) {
      a = seq(3, s);
      ga = await greedyReference(m, a, 8);
      if (ga[4] === ga[3]) continue;
      for (let r = 0; r < 40; r++) {
        const g = await greedyReference(m, seq(3, 100 + r), 8);
        if (!g.slice(3, 7).includes(ga[3]!)) { b = seq(3, 100 + r); gb = g; break; }
      }
    }
    expect(b.length).toBe(3);
    const eos = ga[3]!;
    // alone: stops right after eos
    expect(Array.from(await (await m.generate(a, { maxNewTokens: 8, temperature: 0, eos })).data())).toEqual(ga.slice(0, 4));
    // batched: a is padded with eos while b goes on, until b's eos or the budget
    const kb = gb.indexOf(eos, 3), n = kb < 0 ? 11 : kb + 1;
    const both = await m.generate(ids([...a, ...b], [2, 3]), { maxNewTokens: 8, temperature: 0, eos });
    expect(both.shape).toEqual([2, n]);
    const flat = Array.from(await both.data());
    expect(flat.slice(0, n)).toEqual([...ga.slice(0, 4), ...Array(n - 4).fill(eos)]);
    expect(flat.slice(n)).toEqual(gb.slice(0, n));
  });

  it('samples the same text for the same seed and other text for another (temperature 1, 40 new)', async () => {
    manualSeed(20);
    const m = small();
    const run = async (seed: number) => { manualSeed(seed); return Array.from(await (await m.generate([1, 2, 3], { maxNewTokens: 40 })).data()); };
    const a = await run(5), b = await run(5), c = await run(6);
    expect(a).toHaveLength(43);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // a private generator: the same state gives the same text, whatever the global stream did in between; it
    // advances by one per token
    const g1 = { seed: 9, offset: 0 }, g2 = { seed: 9, offset: 0 };
    const p = Array.from(await (await m.generate([1, 2, 3], { maxNewTokens: 40, generator: g1 })).data());
    manualSeed(123);
    const q = Array.from(await (await m.generate([1, 2, 3], { maxNewTokens: 40, generator: g2 })).data());
    expect(q).toEqual(p);
    expect(g1).toEqual({ seed: 9, offset: 40 });
  });

  it('topK 1 is greedy at any temperature, topK 3 draws only among the 3 likeliest tokens of each step, temperature 0.001 is greedy', async () => {
    manualSeed(21);
    const m = sharpen(small({ dtype: 'float64', tieWeights: false }));
    const prompt = seq(3, 22);
    manualSeed(1);
    const one = Array.from(await (await m.generate(prompt, { maxNewTokens: 8, temperature: 1.5, topK: 1 })).data());
    expect(one).toEqual(await greedyReference(m, prompt, 8));
    for (const seed of [1, 2, 3]) {
      manualSeed(seed);
      const got = Array.from(await (await m.generate(prompt, { maxNewTokens: 8, temperature: 2, topK: 3 })).data());
      for (let t = 3; t < got.length; t++) {
        const logits = await f64(noGrad(() => m.forward(ids(got.slice(0, t)))));
        const last = Array.from(logits.slice((t - 1) * 11));
        const rank = last.filter((v) => v > last[got[t]!]!).length;
        expect(rank, `seed ${seed} step ${t}`).toBeLessThan(3);
      }
    }
    // temperature 0.001 makes the draw the argmax (the gaps between logits are far above it); temperature 1 does not
    const greedy = await greedyReference(m, prompt, 8);
    for (const seed of [1, 2, 3]) {
      manualSeed(seed);
      expect(Array.from(await (await m.generate(prompt, { maxNewTokens: 8, temperature: 1e-3 })).data()), `seed ${seed}`).toEqual(greedy);
    }
    const warm = await Promise.all([1, 2, 3].map(async (seed) => { manualSeed(seed); return Array.from(await (await m.generate(prompt, { maxNewTokens: 8, temperature: 1 })).data()); }));
    expect(warm.some((w) => w.join() !== greedy.join())).toBe(true);
    // and with topK the whole vocabulary is not reached: among 200 draws of one step at temperature 5, only 3 tokens
    manualSeed(4);
    const many = await m.generate(ids(Array(200).fill(prompt).flat(), [200, 3]), { maxNewTokens: 1, temperature: 5, topK: 3 });
    const firsts = new Set(Array.from(await many.slice(1, 3, 4).contiguous().data()));
    expect(firsts.size).toBe(3);
  });

  it('returns the prompt alone for maxNewTokens 0', async () => {
    const m = small();
    expect(Array.from(await (await m.generate([1, 2, 3], { maxNewTokens: 0 })).data())).toEqual([1, 2, 3]);
  });
});

describe('nn.GPT trains', () => {
  it('lowers the loss on a tiny corpus (AdamW + weightDecayGroups + clipGradNorm, 60 steps of "hello world! ")', async () => {
    manualSeed(12);
    const corpus = 'hello world! '.repeat(8);
    const chars = [...new Set(corpus)].sort();
    const tok = corpus.split('').map((c) => chars.indexOf(c));
    const V = chars.length, T = 16;
    const m = new nn.GPT({ vocabSize: V, contextLength: T, dModel: 32, nHeads: 4, nLayers: 2 });
    const opt = new optim.AdamW(optim.weightDecayGroups(m, { weightDecay: 0.1 }), { lr: 3e-3 });
    const x = ids([0, 13, 26, 39].flatMap((s) => tok.slice(s, s + T)), [4, T]);
    const y = ids([0, 13, 26, 39].flatMap((s) => tok.slice(s + 1, s + T + 1)), [4, T]);
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      const loss = F.crossEntropy(m.forward(x).reshape([-1, V]), y.reshape([-1]));
      opt.zeroGrad();
      loss.backward();
      nn.utils.clipGradNorm(m.parameters(), 1);
      opt.step();
      losses.push(await loss.item());
    }
    // from about ln V (uniform) to a small fraction of it: the text is periodic, so it is nearly predictable
    expect(losses[0]!).toBeGreaterThan(0.8 * Math.log(V));
    expect(losses.at(-1)!).toBeLessThan(0.25 * losses[0]!);
    // and greedy decoding continues the pattern
    const out = await m.generate(tok.slice(0, 6), { maxNewTokens: 7, temperature: 0 });
    expect(Array.from(await out.data()).map((i) => chars[i]).join('')).toBe('hello world! ');
  });
});

describe('nn.GPT errors', () => {
  it('checks its options', () => {
    const base = { vocabSize: 11, contextLength: 12, dModel: 16, nHeads: 4, nLayers: 2 };
    throwsExactly(() => new nn.GPT({ ...base, dModel: 18 }), ArgumentError, 'GPT: expected dModel divisible by nHeads, got 18 and 4');
    throwsExactly(() => new nn.GPT({ ...base, vocabSize: 0 }), ArgumentError, 'GPT: expected vocabSize to be an integer >= 1, got the number 0');
    throwsExactly(() => new nn.GPT({ ...base, dropout: 1 }), ArgumentError, 'GPT: expected dropout in [0, 1), got the number 1');
    throwsExactly(() => new nn.GPT({ ...base, posEncoding: 'rotary' as 'learned' }), ArgumentError, "GPT: expected posEncoding 'learned' or 'sinusoidal', got the string 'rotary'");
    throwsExactly(() => new nn.GPT({ ...base, heads: 4 } as nn.GPTOptions), ArgumentError,
      "GPT: expected options among vocabSize, contextLength, dModel, nHeads, nLayers, dropout, tieWeights, posEncoding, dimFeedforward, bias, layerNormEps, dtype, got 'heads'");
    throwsExactly(() => new nn.GPT(undefined as unknown as nn.GPTOptions), ArgumentError, 'GPT: expected options { vocabSize, contextLength, dModel, nHeads, nLayers, ... }, got undefined');
  });

  it('checks forward: dtype, rank, context length, the cache', () => {
    const m = small();
    throwsExactly(() => m.forward(tensor([1, 2])), DTypeError, 'GPT: expected token ids of dtype int32, got float32');
    throwsExactly(() => m.forward(ids([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2])), ShapeError, 'GPT: expected token ids of shape [B, T] or [T], got [2,2,2]');
    throwsExactly(() => m.forward(ids(seq(13, 1))), ShapeError, 'GPT: expected at most contextLength = 12 positions, got 13');
    const cache = m.createCache(1);
    noGrad(() => m.forward(ids(seq(10, 1)), { cache }));
    throwsExactly(() => noGrad(() => m.forward(ids([1, 2, 3]), { cache })), ShapeError, 'GPT: expected at most contextLength = 12 positions, got 10 cached and 3 new');
    throwsExactly(() => m.forward(ids([1, 2], [2, 1]), { cache }), ShapeError, 'GPT: expected 1 sequences (the cache\'s batch), got shape [2,1]');
    throwsExactly(() => m.forward(ids([1]), { cache: {} as nn.KVCache }), ArgumentError, 'GPT: expected cache to be a KVCache (model.createCache(B)), got an object');
    throwsExactly(() => small({ nLayers: 1 }).forward(ids([1]), { cache }), ArgumentError, 'GPT: expected a cache of this model (1 layers of 4 heads of 4), got 2 layers of shape [1,4,12,4]');
    cache.dispose();
  });

  it('checks generate: prompt and options', async () => {
    const m = small();
    await rejectsExactly(m.generate([1, 11], { maxNewTokens: 2 }), ArgumentError, 'GPT.generate: expected prompt ids in [0, 11), got 11 at position 1');
    await rejectsExactly(m.generate([], { maxNewTokens: 2 }), ShapeError, 'GPT.generate: expected a prompt of at least one token, got shape [0]');
    await rejectsExactly(m.generate(tensor([1]), { maxNewTokens: 2 }), DTypeError, 'GPT.generate: expected a prompt of dtype int32, got float32');
    await rejectsExactly(m.generate('hi' as unknown as number[], { maxNewTokens: 2 }), ArgumentError, "GPT.generate: expected a prompt of token ids (an int32 tensor, an Int32Array or an array), got the string 'hi'");
    await rejectsExactly(m.generate([1], { maxNewTokens: -1 }), ArgumentError, 'GPT.generate: expected maxNewTokens to be an integer >= 0, got the number -1');
    await rejectsExactly(m.generate([1], { maxNewTokens: 2, temperature: -0.5 }), ArgumentError, 'GPT.generate: expected temperature >= 0, got the number -0.5');
    await rejectsExactly(m.generate([1], { maxNewTokens: 2, topK: 0 }), ArgumentError, 'GPT.generate: expected topK to be an integer >= 1, got the number 0');
    await rejectsExactly(m.generate([1], { maxNewTokens: 2, eos: 11 }), ArgumentError, 'GPT.generate: expected eos in [0, 11), got 11');
    await rejectsExactly(m.generate([1], undefined as unknown as nn.GenerateOptions), ArgumentError, 'GPT.generate: expected options { maxNewTokens, temperature?, topK?, generator?, eos? }, got undefined');
  });
});
