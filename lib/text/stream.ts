/**
 * Text input for the tokenizers: files read in chunks (plain or gzip), a streaming UTF-8 scanner that never splits a
 * character at a chunk boundary, and the pre-split of text into chunks (GPT-2's pattern) that gives the same pieces
 * however the input is cut.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ArgumentError } from '../errors.js';
import { DataError } from '../data/idx.js';
import { describe } from '../check.js';

/** What the streaming entry points read: strings or bytes (UTF-8), in any number of chunks. */
export type TextSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/**
 * GPT-2's pre-tokenizer pattern (openai/gpt-2 encoder.py): contractions, an optional space and a run of letters, of
 * digits or of other symbols, and runs of whitespace (a run before a non-space keeps its last space for the next
 * word). BPE merges never cross the boundaries of these pieces, so "dog." and "dog!" share the token " dog".
 * @example `'Hello world!'.match(text.GPT2_PATTERN) // ['Hello', ' world', '!']`
 */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const MAX_STRING = 2 ** 29 - 24;  // V8's longest string, in UTF-16 code units

function pathArg(op: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`${op}: expected a file path, got ${describe(path)}`);
  return path;
}

/**
 * Reads a file in chunks of about `chunkSize` bytes (default 1 MiB), gunzipped when it starts with the gzip magic: the
 * reader of every text file (a corpus larger than memory streams through it). A missing or unreadable file, or a
 * corrupt gzip stream, is a DataError naming the path.
 * @example `for await (const bytes of text.readChunks('corpus.txt.gz')) n += bytes.length`
 */
export async function* readChunks(path: string, o: { chunkSize?: number; op?: string } = {}): AsyncGenerator<Uint8Array> {
  const op = o.op ?? 'readChunks';
  pathArg(op, path);
  const size = o.chunkSize ?? 1 << 20;
  if (!Number.isInteger(size) || size < 1) throw new ArgumentError(`${op}: expected chunkSize to be an integer >= 1, got ${describe(o.chunkSize)}`);
  let gz: boolean;
  try {
    const fh = await open(path, 'r');
    try {
      const head = Buffer.alloc(2);
      const { bytesRead } = await fh.read(head, 0, 2, 0);
      gz = bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new DataError(`${op}: expected a readable file at ${path}, got ${(e as Error).message}`);
  }
  const file = createReadStream(path, { highWaterMark: size });
  const stream = gz ? file.pipe(createGunzip({ chunkSize: Math.max(64, size) })) : file;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // gunzip's chunks can be larger than asked for: hand them on in pieces of at most `size` bytes
      for (let i = 0; i < chunk.length; i += size) yield new Uint8Array(chunk.buffer, chunk.byteOffset + i, Math.min(size, chunk.length - i));
    }
  } catch (e) {
    throw new DataError(`${op}: expected a valid ${gz ? 'gzip' : 'text'} file at ${path}, got ${(e as Error).message}`);
  } finally {
    file.destroy();
  }
}

/**
 * Reads a whole text file (plain or gzip) as a string, checked: the file must be readable, valid UTF-8 (the offset of
 * the first invalid byte is named) and fit in one string (longer files go through readChunks and the streaming
 * tokenizer methods). A byte-order mark is kept. The loader of data.datasets' corpora and of any user text file.
 * @example `const s = await text.readTextFile('input.txt')`
 */
export async function readTextFile(path: string, o: { op?: string } = {}): Promise<string> {
  const op = o.op ?? 'readTextFile';
  pathArg(op, path);
  try {
    if (!(await stat(path)).isFile()) throw new DataError(`${op}: expected a file at ${path}, got a directory or device`);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${op}: expected a readable file at ${path}, got ${(e as Error).message}`);
  }
  const parts: string[] = [];
  let units = 0;
  const scanner = new Utf8Scanner((s) => {
    units += s.length;
    if (units > MAX_STRING) throw new DataError(`${op}: expected at most ${MAX_STRING} UTF-16 code units of text (V8's longest string), got more in ${path}; read it with text.readChunks and the tokenizers' stream methods`);
    parts.push(s);
  }, (_bytes, offset) => {
    throw new DataError(`${op}: expected UTF-8 text, got the invalid byte 0x${_bytes[0]!.toString(16).padStart(2, '0')} at byte offset ${offset} in ${path}`);
  });
  for await (const chunk of readChunks(path, { op })) scanner.push(chunk);
  scanner.end();
  return parts.join('');
}

/**
 * Cuts a byte stream into valid UTF-8 text and invalid bytes, whatever the chunk boundaries: an incomplete character at
 * the end of a chunk waits for the next one. onText gets decoded text, onBytes each invalid byte with its offset.
 * @internal
 */
export class Utf8Scanner {
  private carry: Uint8Array = new Uint8Array(0);
  private offset = 0;  // bytes before this.carry
  private readonly dec = new TextDecoder('utf-8', { ignoreBOM: true });
  constructor(private readonly onText: (s: string) => void, private readonly onBytes: (b: Uint8Array, offset: number) => void) {}

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.carry.length) {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
    }
    this.carry = this.scan(buf, false);
  }
  end(): void {
    if (this.carry.length) this.scan(this.carry, true);
    this.carry = new Uint8Array(0);
  }
  // emits buf's text and invalid bytes; returns the incomplete character at its end (none when final)
  private scan(buf: Uint8Array, final: boolean): Uint8Array {
    let i = 0, start = 0;
    const n = buf.length;
    const text = (a: number, b: number) => { if (b > a) this.onText(this.dec.decode(buf.subarray(a, b))); };
    while (i < n) {
      const b = buf[i]!;
      if (b < 0x80) { i++; continue; }
      const len = utf8Length(buf, i);
      if (len > 0) { i += len; continue; }
      if (len === 0 && !final) {  // a valid prefix cut by the end of the chunk
        text(start, i);
        this.offset += i;
        return buf.slice(i);
      }
      text(start, i);
      this.onBytes(buf.subarray(i, i + 1), this.offset + i);
      i++;
      start = i;
    }
    text(start, n);
    this.offset += n;
    return new Uint8Array(0);
  }
}

// the length of the UTF-8 character at buf[i] (a lead byte >= 0x80): 2..4, 0 when it is a valid prefix cut by the
// end of buf, -1 when invalid (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)
function utf8Length(buf: Uint8Array, i: number): number {
  const b = buf[i]!;
  let need: number, lo = 0x80, hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) { need = 2; if (b === 0xe0) lo = 0xa0; else if (b === 0xed) hi = 0x9f; }
  else if (b >= 0xf0 && b <= 0xf4) { need = 3; if (b === 0xf0) lo = 0x90; else if (b === 0xf4) hi = 0x8f; }
  else return -1;
  for (let k = 1; k <= need; k++) {
    if (i + k >= buf.length) return 0;
    const c = buf[i + k]!;
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return -1;
  }
  return need + 1;
}

/** A piece of pre-split input: text (one pre-token), a special token, or a run of bytes that are not UTF-8. @internal */
export type Piece = { kind: 'text'; s: string } | { kind: 'special'; s: string } | { kind: 'bytes'; b: Uint8Array };

/**
 * The streaming pre-split: special tokens first (the longest at a position wins), then `pattern` over the text
 * between them (when pattern is null, the text as it comes, cut anywhere but inside a surrogate pair or a possible special token); a run of invalid bytes is one piece. A match is
 * handed on only once no later input can change it: it ends more than 3 code units before the end of what has come
 * (GPT-2's pattern reads at most 2 past a match's end: its contractions and the lookahead of `\s+(?!\S)`), and before
 * any tail that could still begin a special token. So the pieces of a text do not depend on how it is chunked.
 * @internal
 */
export class PreSplitter {
  private buf = '';
  private bad: number[] = [];
  private readonly specialRe: RegExp | null;
  private readonly maxSpecial: number;
  private readonly scanner: Utf8Scanner;
  constructor(private readonly pattern: RegExp | null, private readonly specials: readonly string[], private readonly emit: (p: Piece) => void,
    onInvalid?: (b: Uint8Array, offset: number) => void) {
    const sorted = [...specials].sort((a, b) => b.length - a.length);
    this.specialRe = sorted.length ? new RegExp(sorted.map(escapeRe).join('|'), 'g') : null;
    this.maxSpecial = sorted.length ? sorted[0]!.length : 0;
    this.scanner = new Utf8Scanner((s) => this.text(s), onInvalid ?? ((b) => this.bytes(b)));
  }
  /** Adds a chunk of text or of UTF-8 bytes. */
  push(chunk: string | Uint8Array): void {
    if (typeof chunk === 'string') {
      this.scanner.end();  // bytes of a character cut before a string chunk are invalid
      this.text(chunk);
    } else this.scanner.push(chunk);
  }
  /** No more input: everything held back is handed on. */
  end(): void {
    this.scanner.end();
    this.flushBytes();
    this.drain(true);
  }
  private text(s: string): void {
    if (!s) return;
    this.flushBytes();
    this.buf += s;
    this.drain(false);
  }
  private bytes(b: Uint8Array): void {
    this.drain(true);  // invalid bytes end a run of text
    for (const x of b) this.bad.push(x);
  }
  private flushBytes(): void {
    if (this.bad.length) this.emit({ kind: 'bytes', b: Uint8Array.from(this.bad) });
    this.bad = [];
  }
  private drain(final: boolean): void {
    let buf = this.buf;
    // a high surrogate at the end waits for its low half
    let hold = !final && buf.length && isHigh(buf.charCodeAt(buf.length - 1)) ? buf.length - 1 : buf.length;
    if (!final && this.maxSpecial > 1) {
      for (let q = Math.max(0, buf.length - this.maxSpecial + 1); q < hold; q++) {
        const tail = buf.slice(q);
        if (this.specials.some((t) => t.length > tail.length && t.startsWith(tail))) { hold = q; break; }
      }
    }
    if (this.specialRe) {
      const re = this.specialRe;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      let from = 0;
      while ((m = re.exec(buf)) !== null && m.index < hold) {
        this.split(buf.slice(from, m.index), true);
        this.emit({ kind: 'special', s: m[0] });
        from = m.index + m[0].length;
      }
      if (from > 0) {
        buf = buf.slice(from);
        hold = Math.max(0, hold - from);
      }
    }
    const done = final ? buf.length : this.split(buf.slice(0, hold), false);
    if (final) this.split(buf, true);
    this.buf = buf.slice(done);
  }
  // emits the stable pieces of s (all when final); returns the length emitted
  private split(s: string, final: boolean): number {
    if (!s) return 0;
    if (!this.pattern) {  // text as it comes (up to the held-back tail)
      this.emit({ kind: 'text', s });
      return s.length;
    }
    const re = this.pattern;
    re.lastIndex = 0;
    let end = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) {
      const e = m.index + m[0].length;
      if (!final && e + 3 >= s.length) break;
      if (m.index > end) this.emit({ kind: 'text', s: s.slice(end, m.index) });  // nothing matched there (the pattern covers everything)
      this.emit({ kind: 'text', s: m[0] });
      end = e;
    }
    if (final && end < s.length) this.emit({ kind: 'text', s: s.slice(end) });
    return final ? s.length : end;
  }
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Iterates a TextSource (sync or async) or reads a file path, for the stream and file methods. @internal */
export async function* chunksOf(op: string, src: TextSource): AsyncGenerator<string | Uint8Array> {
  const ok = src !== null && typeof src === 'object' && (typeof (src as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' || typeof (src as Iterable<unknown>)[Symbol.iterator] === 'function');
  if (!ok || typeof src === 'string' || ArrayBuffer.isView(src)) {
    throw new ArgumentError(`${op}: expected an iterable of string or Uint8Array chunks, got ${describe(src)}`);
  }
  let i = 0;
  for await (const c of src as AsyncIterable<unknown>) {
    if (typeof c !== 'string' && !(c instanceof Uint8Array)) throw new ArgumentError(`${op}: expected chunks of string or Uint8Array, got ${describe(c)} as chunk ${i}`);
    yield c;
    i++;
  }
}
