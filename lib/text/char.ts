/** Character-level tokenizer: one token per Unicode code point of the corpus (char-rnn / nanoGPT's Shakespeare). */
import { ArgumentError } from '../errors.js';
import { DataError } from '../data/idx.js';
import { describe, isOptions } from '../check.js';
import { PreSplitter, TextSource, chunksOf, readChunks } from './stream.js';
import { TokenIds, encodeOptions, headerArg, idsArg, readJson, specialsArg, writeJson } from './common.js';
import { concat } from './bpe.js';

/** The JSON form of a CharTokenizer (save/load, toJSON/fromJSON). */
export interface CharJson {
  format: 'tensile.CharTokenizer';
  version: 1;
  chars: string[];
  specialTokens: string[];
}

const FORMAT = 'tensile.CharTokenizer';

function trainOptions(op: string, o: unknown): string[] {
  if (o === undefined) return [];
  if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { specialTokens? }, got ${describe(o)}`);
  return specialsArg(op, (o as { specialTokens?: unknown }).specialTokens);
}

// the distinct code points of a text (special tokens left out), in the order of their code points
class CharSet {
  readonly seen = new Set<string>();
  readonly splitter: PreSplitter;
  constructor(op: string, specials: string[]) {
    this.splitter = new PreSplitter(null, specials, (p) => {
      if (p.kind === 'text') for (const ch of p.s) this.seen.add(ch);
    }, (b, offset) => {
      throw new DataError(`${op}: expected UTF-8 text, got the invalid byte 0x${b[0]!.toString(16).padStart(2, '0')} at byte offset ${offset}`);
    });
  }
  sorted(): string[] {
    return [...this.seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  }
}

/**
 * One token per character: ids 0..n-1 are the corpus's distinct code points in code-point order (a surrogate pair is
 * one character), then the special tokens. A character outside the vocabulary is an ArgumentError naming it.
 * @example
 * ```ts
 * const tok = text.CharTokenizer.train('hello world', { specialTokens: ['<|endoftext|>'] });
 * tok.encode('hold') // Int32Array [3, 5, 4, 1]
 * tok.decode([3, 5, 4, 1]) // 'hold'
 * ```
 */
export class CharTokenizer {
  readonly chars: readonly string[];
  readonly specialTokens: readonly string[];
  private readonly ids = new Map<string, number>();

  /** A tokenizer of these characters (distinct, one code point each) and special tokens. @example `new text.CharTokenizer(['a', 'b', 'c'])` */
  constructor(chars: readonly string[], o: { specialTokens?: string[] } = {}) {
    const op = 'CharTokenizer';
    if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { specialTokens? }, got ${describe(o)}`);
    if (!Array.isArray(chars)) throw new ArgumentError(`${op}: expected chars to be an array of characters, got ${describe(chars)}`);
    chars.forEach((c, i) => {
      if (typeof c !== 'string' || [...c].length !== 1) throw new ArgumentError(`${op}: expected chars[${i}] to be one character, got ${describe(c)}`);
      if (this.ids.has(c)) throw new ArgumentError(`${op}: expected distinct chars, got '${c}' as chars[${this.ids.get(c)}] and chars[${i}]`);
      this.ids.set(c, i);
    });
    this.chars = [...chars];
    this.specialTokens = specialsArg(op, o.specialTokens);
    this.specialTokens.forEach((s, i) => this.ids.set(s, chars.length + i));
  }
  /** Characters + special tokens. @example `tok.vocabSize` */
  get vocabSize(): number {
    return this.chars.length + this.specialTokens.length;
  }
  /** The vocabulary of a corpus (special-token strings in it are not counted as characters). @example `text.CharTokenizer.train(corpus)` */
  static train(corpus: string, o?: { specialTokens?: string[] }): CharTokenizer {
    const op = 'CharTokenizer.train';
    const specials = trainOptions(op, o);
    if (typeof corpus !== 'string') throw new ArgumentError(`${op}: expected the corpus as a string, got ${describe(corpus)}`);
    const cs = new CharSet(op, specials);
    cs.splitter.push(corpus);
    cs.splitter.end();
    return new CharTokenizer(cs.sorted(), { specialTokens: specials });
  }
  /**
   * train() over chunks (strings or UTF-8 bytes, sync or async), for corpora larger than memory; bytes that are not
   * UTF-8 are a DataError naming their offset. @example `await text.CharTokenizer.trainStream(text.readChunks('big.txt'))`
   */
  static async trainStream(src: TextSource, o?: { specialTokens?: string[] }): Promise<CharTokenizer> {
    const op = 'CharTokenizer.trainStream';
    const specials = trainOptions(op, o);
    const cs = new CharSet(op, specials);
    for await (const c of chunksOf(op, src)) cs.splitter.push(c);
    cs.splitter.end();
    return new CharTokenizer(cs.sorted(), { specialTokens: specials });
  }
  /** trainStream() over a file (plain or gzip). @example `await text.CharTokenizer.trainFile('input.txt')` */
  static async trainFile(path: string, o?: { specialTokens?: string[]; chunkSize?: number }): Promise<CharTokenizer> {
    const op = 'CharTokenizer.trainFile';
    const specials = trainOptions(op, o);
    return CharTokenizer.trainStream(readChunks(path, { chunkSize: o?.chunkSize, op }), { specialTokens: specials });
  }

  private splitter(op: string, allowSpecial: boolean, out: Int32Array[]): PreSplitter {
    return new PreSplitter(null, allowSpecial ? this.specialTokens : [], (p) => {
      if (p.kind === 'special') { out.push(Int32Array.of(this.ids.get(p.s)!)); return; }
      if (p.kind !== 'text') return;
      const ids = new Int32Array(p.s.length);
      let n = 0;
      for (const ch of p.s) {
        const id = this.charIds(ch);
        if (id === undefined) {
          const cp = ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
          throw new ArgumentError(`${op}: expected characters of the vocabulary (${this.chars.length} characters), got ${JSON.stringify(ch)} (U+${cp})`);
        }
        ids[n++] = id;
      }
      out.push(ids.subarray(0, n));
    }, (b, offset) => {
      throw new DataError(`${op}: expected UTF-8 text, got the invalid byte 0x${b[0]!.toString(16).padStart(2, '0')} at byte offset ${offset}`);
    });
  }
  private charIds(ch: string): number | undefined {
    const id = this.ids.get(ch);
    return id !== undefined && id < this.chars.length ? id : undefined;
  }
  /**
   * Token ids of a string. allowSpecial (default true): special-token strings in it are those tokens.
   * @example `tok.encode('hello')`
   */
  encode(s: string, o?: { allowSpecial?: boolean }): Int32Array {
    const op = 'CharTokenizer.encode';
    if (typeof s !== 'string') throw new ArgumentError(`${op}: expected a string, got ${describe(s)}`);
    const out: Int32Array[] = [];
    const sp = this.splitter(op, encodeOptions(op, o).allowSpecial, out);
    sp.push(s);
    sp.end();
    return concat(out);
  }
  /**
   * encode() over chunks (strings or UTF-8 bytes): the ids of each chunk as it goes; chunk boundaries (inside a
   * character or a special token) do not change them. @example `for await (const ids of tok.encodeStream(text.readChunks(p))) n += ids.length`
   */
  async *encodeStream(src: TextSource, o?: { allowSpecial?: boolean }): AsyncGenerator<Int32Array> {
    const op = 'CharTokenizer.encodeStream';
    const out: Int32Array[] = [];
    const sp = this.splitter(op, encodeOptions(op, o).allowSpecial, out);
    for await (const c of chunksOf(op, src)) {
      sp.push(c);
      if (out.length) yield concat(out.splice(0));
    }
    sp.end();
    if (out.length) yield concat(out.splice(0));
  }
  /** The ids of a whole file (plain or gzip), read in chunks. @example `const ids = await tok.encodeFile('input.txt')` */
  async encodeFile(path: string, o?: { allowSpecial?: boolean; chunkSize?: number }): Promise<Int32Array> {
    const parts: Int32Array[] = [];
    for await (const ids of this.encodeStream(readChunks(path, { chunkSize: o?.chunkSize, op: 'CharTokenizer.encodeFile' }), o === undefined ? undefined : { allowSpecial: o.allowSpecial })) parts.push(ids);
    return concat(parts);
  }
  /** The text of token ids. @example `tok.decode(tok.encode('hello')) // 'hello'` */
  decode(ids: TokenIds): string {
    const a = idsArg('CharTokenizer.decode', ids, this.vocabSize);
    const n = this.chars.length;
    let s = '';
    for (let i = 0; i < a.length; i++) s += a[i]! < n ? this.chars[a[i]!]! : this.specialTokens[a[i]! - n]!;
    return s;
  }
  /** The id of a special token. @example `tok.specialId('<|endoftext|>')` */
  specialId(token: string): number {
    const i = this.specialTokens.indexOf(token);
    if (i < 0) throw new ArgumentError(`CharTokenizer.specialId: expected one of the special tokens [${this.specialTokens.join(', ')}], got ${describe(token)}`);
    return this.chars.length + i;
  }
  /** The JSON form (what save() writes). @example `tok.toJSON().chars` */
  toJSON(): CharJson {
    return { format: FORMAT, version: 1, chars: [...this.chars], specialTokens: [...this.specialTokens] };
  }
  /** A tokenizer from its JSON form, checked (format, version, distinct single characters). @example `text.CharTokenizer.fromJSON(j)` */
  static fromJSON(j: unknown): CharTokenizer {
    const op = 'CharTokenizer.fromJSON';
    const o = headerArg(op, j, FORMAT, 'format, version, chars, specialTokens');
    try {
      return new CharTokenizer(o['chars'] as string[], { specialTokens: (o['specialTokens'] as string[] | undefined) ?? [] });
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(e.message.replace(/^CharTokenizer:/, `${op}:`));
      throw e;
    }
  }
  /** Writes the JSON form to a file. @example `await tok.save('chars.json')` */
  async save(path: string): Promise<void> {
    await writeJson('CharTokenizer.save', path, this.toJSON());
  }
  /** Reads a file that save() wrote; a missing, non-JSON or invalid file is an ArgumentError naming what is wrong. @example `const tok = await text.CharTokenizer.load('chars.json')` */
  static async load(path: string): Promise<CharTokenizer> {
    const j = await readJson('CharTokenizer.load', path);
    try {
      return CharTokenizer.fromJSON(j);
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(`${e.message.replace(/^CharTokenizer\.fromJSON:/, 'CharTokenizer.load:')} in ${path}`);
      throw e;
    }
  }
}
