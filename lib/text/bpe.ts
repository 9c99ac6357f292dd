/**
 * Byte-level BPE (GPT-2's scheme): the 256 byte values are the base tokens, so any input, valid UTF-8 or not,
 * encodes and decodes back to the same bytes; merges are learnt on a corpus.
 */
import { ArgumentError } from '../errors.js';
import { describe, isOptions } from '../check.js';
import { GPT2_PATTERN, Piece, PreSplitter, TextSource, chunksOf, readChunks } from './stream.js';
import { TokenIds, encodeOptions, headerArg, idsArg, readJson, specialsArg, writeJson } from './common.js';

/** Options of ByteBPETokenizer.train. */
export interface BPETrainOptions {
  /** tokens in all: 256 bytes + the merges + the special tokens */
  vocabSize: number;
  /** strings that encode to one token each, never split or merged (ids after the merges), e.g. `['<|endoftext|>']` */
  specialTokens?: string[];
  /** the fewest occurrences a pair needs to be merged (default 2); training stops earlier when no pair has as many */
  minFrequency?: number;
}

/** The JSON form of a ByteBPETokenizer (save/load, toJSON/fromJSON). */
export interface BPEJson {
  format: 'tensile.ByteBPETokenizer';
  version: 1;
  pattern: 'gpt2';
  merges: [number, number][];
  specialTokens: string[];
}

const FORMAT = 'tensile.ByteBPETokenizer';
const MAX_VOCAB = 1 << 21;
const K = MAX_VOCAB;  // pair key: a * K + b (exact in a double)
const enc = new TextEncoder();
const latin1 = (b: ArrayLike<number>) => { let s = ''; for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!); return s; };

// max-heap of pairs: the higher count first, then the smaller (a, b); stale entries are skipped when popped
class PairHeap {
  private c: number[] = [];
  private k: number[] = [];
  private before(i: number, j: number): boolean {
    return this.c[i]! > this.c[j]! || (this.c[i] === this.c[j] && this.k[i]! < this.k[j]!);
  }
  private swap(i: number, j: number): void {
    [this.c[i], this.c[j]] = [this.c[j]!, this.c[i]!];
    [this.k[i], this.k[j]] = [this.k[j]!, this.k[i]!];
  }
  get size(): number { return this.c.length; }
  push(count: number, key: number): void {
    this.c.push(count); this.k.push(key);
    for (let i = this.c.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p); i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.c[0]!, this.k[0]!];
    const lc = this.c.pop()!, lk = this.k.pop()!;
    if (this.c.length) {
      this.c[0] = lc; this.k[0] = lk;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < this.c.length && this.before(l, m)) m = l;
        if (r < this.c.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m); i = m;
      }
    }
    return top;
  }
}

function trainOptions(op: string, o: unknown): { vocabSize: number; specials: string[]; minFrequency: number } {
  if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { vocabSize, specialTokens?, minFrequency? }, got ${describe(o)}`);
  const t = o as BPETrainOptions;
  const specials = specialsArg(op, t.specialTokens);
  const v = t.vocabSize as unknown;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 256 + specials.length || v > MAX_VOCAB) {
    throw new ArgumentError(`${op}: expected vocabSize to be an integer in [${256 + specials.length}, ${MAX_VOCAB}] (256 bytes + ${specials.length} special tokens at least), got ${typeof v === 'number' ? v : describe(v)}`);
  }
  const f = t.minFrequency as unknown;
  if (f !== undefined && (typeof f !== 'number' || !Number.isInteger(f) || f < 1)) {
    throw new ArgumentError(`${op}: expected minFrequency to be an integer >= 1, got ${typeof f === 'number' ? f : describe(f)}`);
  }
  return { vocabSize: v, specials, minFrequency: (f as number | undefined) ?? 2 };
}

// the pre-tokens of a training corpus with their counts (text pieces and runs of invalid bytes kept apart)
class WordCounter {
  readonly text = new Map<string, number>();
  readonly bytes = new Map<string, number>();
  readonly splitter: PreSplitter;
  constructor(specials: string[]) {
    this.splitter = new PreSplitter(GPT2_PATTERN, specials, (p) => this.add(p));
  }
  private add(p: Piece): void {
    if (p.kind === 'text') this.text.set(p.s, (this.text.get(p.s) ?? 0) + 1);
    else if (p.kind === 'bytes') { const k = latin1(p.b); this.bytes.set(k, (this.bytes.get(k) ?? 0) + 1); }
  }
  words(): { seqs: number[][]; counts: number[] } {
    const seqs: number[][] = [], counts: number[] = [];
    for (const [s, c] of this.text) { seqs.push(Array.from(enc.encode(s))); counts.push(c); }
    for (const [s, c] of this.bytes) { seqs.push(Array.from(s, (ch) => ch.charCodeAt(0))); counts.push(c); }
    return { seqs, counts };
  }
}

/**
 * The merges, in order, that BPE learns from words with counts. Each step merges the adjacent pair with the highest
 * count (adjacent occurrences within a word, times the word's count; "aaa" holds (a, a) twice); a tie goes to the
 * smaller pair (first id, then second id). The merge replaces the pair left to right in every word that holds it,
 * and only those words' pair counts are updated (a heap keeps the order): the cost of a merge is the length of the
 * words it touches, not a recount of the corpus.
 */
function learnMerges(seqs: number[][], counts: number[], nMerges: number, minFrequency: number): [number, number][] {
  const pairs = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  seqs.forEach((w, wi) => {
    const c = counts[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i]! * K + w[i + 1]!;
      pairs.set(key, (pairs.get(key) ?? 0) + c);
      let s = where.get(key);
      if (!s) where.set(key, (s = new Set()));
      s.add(wi);
    }
  });
  const heap = new PairHeap();
  for (const [key, c] of pairs) heap.push(c, key);
  const merges: [number, number][] = [];
  const delta = new Map<number, number>();
  while (merges.length < nMerges && heap.size) {
    const [c, key] = heap.pop();
    if (pairs.get(key) !== c) continue;  // stale
    if (c < minFrequency) break;
    const a = Math.floor(key / K), b = key - a * K, z = 256 + merges.length;
    merges.push([a, b]);
    delta.clear();
    for (const wi of where.get(key)!) {
      const w = seqs[wi]!, n = w.length, cnt = counts[wi]!;
      let found = false;
      for (let i = 0; i + 1 < n; i++) if (w[i] === a && w[i + 1] === b) { found = true; break; }
      if (!found) continue;
      for (let i = 0; i + 1 < n; i++) { const k = w[i]! * K + w[i + 1]!; delta.set(k, (delta.get(k) ?? 0) - cnt); }
      const out: number[] = [];
      for (let i = 0; i < n;) {
        if (i + 1 < n && w[i] === a && w[i + 1] === b) { out.push(z); i += 2; } else out.push(w[i++]!);
      }
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i]! * K + out[i + 1]!;
        delta.set(k, (delta.get(k) ?? 0) + cnt);
        if (out[i] === z || out[i + 1] === z) {
          let s = where.get(k);
          if (!s) where.set(k, (s = new Set()));
          s.add(wi);
        }
      }
      seqs[wi] = out;
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const v = (pairs.get(k) ?? 0) + d;
      if (v > 0) { pairs.set(k, v); heap.push(v, k); } else pairs.delete(k);
    }
    pairs.delete(key);
    where.delete(key);
  }
  return merges;
}

/**
 * Byte-level BPE tokenizer, GPT-2 style. Ids 0..255 are the bytes; id 256 + i is merges[i] (the concatenation of
 * its pair's bytes); the special tokens follow. Text is first pre-split with GPT-2's pattern (GPT2_PATTERN:
 * contractions, ` ?letters`, ` ?digits`, ` ?symbols`, whitespace) and merges never cross the boundaries of those pieces
 * (as in GPT-2: a word's token carries its leading space, " world", and no token spans two words); a run of bytes that is not UTF-8 is a piece of its own. A piece is encoded by merging, again and
 * again, its adjacent pair of lowest merge rank (all its occurrences, left to right) until none is left: the
 * segmentation training gave the corpus.
 *
 * Training on the Jargon File (datasets.jargonFile, 1.68 MB) to vocabSize 4096 takes about 2 s on one core of the
 * 2-core development machine (test/text/bpe.test.ts trains it); encoding it takes about 1 s.
 *
 * @example
 * ```ts
 * const tok = text.ByteBPETokenizer.train(corpus, { vocabSize: 1024, specialTokens: ['<|endoftext|>'] });
 * const ids = tok.encode('hello world<|endoftext|>');
 * tok.decode(ids) // 'hello world<|endoftext|>'
 * await tok.save('tok.json');
 * ```
 */
export class ByteBPETokenizer {
  /** merges[i] = [a, b]: token 256 + i is a followed by b */
  readonly merges: readonly (readonly [number, number])[];
  readonly specialTokens: readonly string[];
  private readonly ranks = new Map<number, number>();
  private readonly bytesOf: Uint8Array[] = [];
  private readonly specialIds = new Map<string, number>();
  private readonly cache = new Map<string, Int32Array>();

  /**
   * A tokenizer from its merges (each pair of earlier ids, no pair twice) and special tokens; train() and load()
   * make one. @example `new text.ByteBPETokenizer([[104, 105]], { specialTokens: ['<|endoftext|>'] })`
   */
  constructor(merges: readonly (readonly [number, number])[], o: { specialTokens?: string[] } = {}) {
    const op = 'ByteBPETokenizer';
    if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { specialTokens? }, got ${describe(o)}`);
    this.specialTokens = specialsArg(op, o.specialTokens);
    if (!Array.isArray(merges)) throw new ArgumentError(`${op}: expected merges to be an array of [a, b] id pairs, got ${describe(merges)}`);
    if (256 + merges.length + this.specialTokens.length > MAX_VOCAB) throw new ArgumentError(`${op}: expected at most ${MAX_VOCAB} tokens, got ${256 + merges.length + this.specialTokens.length}`);
    for (let i = 0; i < 256; i++) this.bytesOf.push(Uint8Array.of(i));
    merges.forEach((m, i) => {
      const ok = Array.isArray(m) && m.length === 2 && m.every((x) => Number.isInteger(x) && x >= 0 && x < 256 + i);
      if (!ok) throw new ArgumentError(`${op}: expected merges[${i}] to be a pair of earlier token ids in [0, ${256 + i}), got ${Array.isArray(m) ? `[${m.map((x) => (typeof x === 'number' ? x : describe(x))).join(', ')}]` : describe(m)}`);
      const key = m[0] * K + m[1];
      const prev = this.ranks.get(key);
      if (prev !== undefined) throw new ArgumentError(`${op}: expected each pair merged once, got [${m[0]}, ${m[1]}] as merges[${prev}] and merges[${i}]`);
      this.ranks.set(key, i);
      const x = this.bytesOf[m[0]]!, y = this.bytesOf[m[1]]!;
      const b = new Uint8Array(x.length + y.length);
      b.set(x);
      b.set(y, x.length);
      this.bytesOf.push(b);
    });
    this.merges = merges.map((m) => [m[0], m[1]] as const);
    this.specialTokens.forEach((s, i) => {
      this.specialIds.set(s, 256 + merges.length + i);
      this.bytesOf.push(enc.encode(s));
    });
  }

  /** 256 + merges + special tokens. @example `tok.vocabSize // 1024` */
  get vocabSize(): number {
    return this.bytesOf.length;
  }

  /**
   * Learns merges on a corpus (a string, or bytes that need not be UTF-8) up to `vocabSize` tokens.
   * @example `const tok = text.ByteBPETokenizer.train(corpus, { vocabSize: 512 })`
   */
  static train(corpus: string | Uint8Array, o: BPETrainOptions): ByteBPETokenizer {
    const op = 'ByteBPETokenizer.train';
    const t = trainOptions(op, o);
    if (typeof corpus !== 'string' && !(corpus instanceof Uint8Array)) throw new ArgumentError(`${op}: expected the corpus as a string or a Uint8Array, got ${describe(corpus)}`);
    const wc = new WordCounter(t.specials);
    wc.splitter.push(corpus);
    wc.splitter.end();
    return ByteBPETokenizer.fromCounts(wc, t);
  }
  /**
   * train() over chunks (strings or UTF-8 bytes, sync or async): only the distinct pre-tokens and their counts are
   * kept, so the corpus may be larger than memory. A chunk boundary anywhere (inside a character or a word) gives the
   * same merges as the whole string.
   * @example `const tok = await text.ByteBPETokenizer.trainStream(text.readChunks('big.txt'), { vocabSize: 4096 })`
   */
  static async trainStream(src: TextSource, o: BPETrainOptions): Promise<ByteBPETokenizer> {
    const op = 'ByteBPETokenizer.trainStream';
    const t = trainOptions(op, o);
    const wc = new WordCounter(t.specials);
    for await (const c of chunksOf(op, src)) wc.splitter.push(c);
    wc.splitter.end();
    return ByteBPETokenizer.fromCounts(wc, t);
  }
  /** trainStream() over a file (plain or gzip) read in chunks. @example `await text.ByteBPETokenizer.trainFile('corpus.txt', { vocabSize: 4096 })` */
  static async trainFile(path: string, o: BPETrainOptions & { chunkSize?: number }): Promise<ByteBPETokenizer> {
    const op = 'ByteBPETokenizer.trainFile';
    const t = trainOptions(op, o);
    return ByteBPETokenizer.trainStream(readChunks(path, { chunkSize: o.chunkSize, op }), { vocabSize: t.vocabSize, specialTokens: t.specials, minFrequency: t.minFrequency });
  }
  private static fromCounts(wc: WordCounter, t: { vocabSize: number; specials: string[]; minFrequency: number }): ByteBPETokenizer {
    const { seqs, counts } = wc.words();
    return new ByteBPETokenizer(learnMerges(seqs, counts, t.vocabSize - 256 - t.specials.length, t.minFrequency), { specialTokens: t.specials });
  }

  // the ids of one pre-token's bytes
  private word(b: Uint8Array): Int32Array {
    let ids: number[] = Array.from(b);
    while (ids.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < ids.length; i++) {
        const r = this.ranks.get(ids[i]! * K + ids[i + 1]!);
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, c] = this.merges[best]!, z = 256 + best;
      const out: number[] = [];
      for (let i = 0; i < ids.length;) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === c) { out.push(z); i += 2; } else out.push(ids[i++]!);
      }
      ids = out;
    }
    return Int32Array.from(ids);
  }
  private pieceIds(p: Piece): Int32Array {
    if (p.kind === 'special') return Int32Array.of(this.specialIds.get(p.s)!);
    if (p.kind === 'bytes') return this.word(p.b);
    let ids = this.cache.get(p.s);
    if (!ids) {
      if (this.cache.size >= 1 << 16) this.cache.clear();
      this.cache.set(p.s, (ids = this.word(enc.encode(p.s))));
    }
    return ids;
  }
  private splitter(allowSpecial: boolean, out: Int32Array[]): PreSplitter {
    return new PreSplitter(GPT2_PATTERN, allowSpecial ? this.specialTokens : [], (p) => out.push(this.pieceIds(p)));
  }

  /**
   * Token ids of a string (a lone surrogate becomes U+FFFD, as in UTF-8) or of bytes (any bytes: invalid UTF-8 is
   * kept as byte tokens). allowSpecial (default true): special-token strings in the input are those tokens; false
   * encodes them as text. @example `tok.encode('Hello, world!')`
   */
  encode(input: string | Uint8Array, o?: { allowSpecial?: boolean }): Int32Array {
    const op = 'ByteBPETokenizer.encode';
    if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new ArgumentError(`${op}: expected a string or a Uint8Array, got ${describe(input)}`);
    const out: Int32Array[] = [];
    const s = this.splitter(encodeOptions(op, o).allowSpecial, out);
    s.push(input);
    s.end();
    return concat(out);
  }
  /**
   * encode() over chunks (strings or bytes, sync or async): yields the ids of each chunk's complete pieces as it
   * goes, the rest at the end; the concatenation equals encode() of the whole input however it is chunked.
   * @example `for await (const ids of tok.encodeStream(text.readChunks('big.txt'))) out.write(ids)`
   */
  async *encodeStream(src: TextSource, o?: { allowSpecial?: boolean }): AsyncGenerator<Int32Array> {
    const op = 'ByteBPETokenizer.encodeStream';
    const out: Int32Array[] = [];
    const s = this.splitter(encodeOptions(op, o).allowSpecial, out);
    for await (const c of chunksOf(op, src)) {
      s.push(c);
      if (out.length) yield concat(out.splice(0));
    }
    s.end();
    if (out.length) yield concat(out.splice(0));
  }
  /** The ids of a whole file (plain or gzip), read in chunks. @example `const ids = await tok.encodeFile('input.txt')` */
  async encodeFile(path: string, o?: { allowSpecial?: boolean; chunkSize?: number }): Promise<Int32Array> {
    const op = 'ByteBPETokenizer.encodeFile';
    const parts: Int32Array[] = [];
    for await (const ids of this.encodeStream(readChunks(path, { chunkSize: o?.chunkSize, op }), o === undefined ? undefined : { allowSpecial: o.allowSpecial })) parts.push(ids);
    return concat(parts);
  }
  /** The bytes of token ids (exactly the encoded input). @example `tok.decodeBytes(tok.encode(bytes)) // bytes` */
  decodeBytes(ids: TokenIds): Uint8Array {
    const a = idsArg('ByteBPETokenizer.decodeBytes', ids, this.vocabSize);
    let n = 0;
    for (let i = 0; i < a.length; i++) n += this.bytesOf[a[i]!]!.length;
    const out = new Uint8Array(n);
    for (let i = 0, o = 0; i < a.length; i++) { const b = this.bytesOf[a[i]!]!; out.set(b, o); o += b.length; }
    return out;
  }
  /** The text of token ids (bytes that are not UTF-8 become U+FFFD). @example `tok.decode([72, 105]) // 'Hi'` */
  decode(ids: TokenIds): string {
    idsArg('ByteBPETokenizer.decode', ids, this.vocabSize);
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }
  /** The bytes of one token. @example `tok.tokenBytes(256)` */
  tokenBytes(id: number): Uint8Array {
    idsArg('ByteBPETokenizer.tokenBytes', [id], this.vocabSize);
    return this.bytesOf[id]!.slice();
  }
  /** The id of a special token. @example `tok.specialId('<|endoftext|>')` */
  specialId(token: string): number {
    const id = this.specialIds.get(token);
    if (id === undefined) throw new ArgumentError(`ByteBPETokenizer.specialId: expected one of the special tokens [${this.specialTokens.join(', ')}], got ${describe(token)}`);
    return id;
  }
  /** The JSON form (what save() writes). @example `JSON.stringify(tok.toJSON())` */
  toJSON(): BPEJson {
    return { format: FORMAT, version: 1, pattern: 'gpt2', merges: this.merges.map((m) => [m[0], m[1]]), specialTokens: [...this.specialTokens] };
  }
  /**
   * A tokenizer from its JSON form, checked: the format and version, the pattern, and every merge (a pair of
   * earlier ids, no pair twice); what is wrong is named in an ArgumentError. @example `text.ByteBPETokenizer.fromJSON(JSON.parse(s))`
   */
  static fromJSON(j: unknown): ByteBPETokenizer {
    const op = 'ByteBPETokenizer.fromJSON';
    const o = headerArg(op, j, FORMAT, 'format, version, pattern, merges, specialTokens');
    if (o['pattern'] !== 'gpt2') throw new ArgumentError(`${op}: expected pattern 'gpt2', got ${describe(o['pattern'])}`);
    if (!Array.isArray(o['merges'])) throw new ArgumentError(`${op}: expected merges to be an array of [a, b] id pairs, got ${describe(o['merges'])}`);
    specialsArg(op, o['specialTokens'] ?? [], 'specialTokens');
    try {
      return new ByteBPETokenizer(o['merges'] as [number, number][], { specialTokens: (o['specialTokens'] as string[] | undefined) ?? [] });
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(e.message.replace(/^ByteBPETokenizer:/, `${op}:`));
      throw e;
    }
  }
  /** Writes the JSON form to a file. @example `await tok.save('tokenizer.json')` */
  async save(path: string): Promise<void> {
    await writeJson('ByteBPETokenizer.save', path, this.toJSON());
  }
  /** Reads a file that save() wrote; a missing, non-JSON or invalid file is an ArgumentError naming what is wrong. @example `const tok = await text.ByteBPETokenizer.load('tokenizer.json')` */
  static async load(path: string): Promise<ByteBPETokenizer> {
    const j = await readJson('ByteBPETokenizer.load', path);
    try {
      return ByteBPETokenizer.fromJSON(j);
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(`${e.message.replace(/^ByteBPETokenizer\.fromJSON:/, 'ByteBPETokenizer.load:')} in ${path}`);
      throw e;
    }
  }
}

/** @internal */
export function concat(parts: Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int32Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
