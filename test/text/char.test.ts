// CharTokenizer: the vocabulary in code-point order, special tokens, streamed = whole (chunks cut inside characters
// and special tokens), errors, JSON files.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text, data, tensor, ArgumentError, IndexError } from '../../lib/index.js';
import { covers } from '../api/coverage.js';
import { throwsExactly, rejectsExactly } from '../helpers.js';

covers('text.CharTokenizer');

const { CharTokenizer } = text;
const dir = mkdtempSync(join(tmpdir(), 'tensile-char-'));
async function collect(g: AsyncIterable<Int32Array>) {
  const out: number[] = [];
  for await (const ids of g) out.push(...ids);
  return out;
}

describe('CharTokenizer', () => {
  it("'hello world': ids in code-point order (' ' d e h l o r w), the special token after them", () => {
    const tok = CharTokenizer.train('hello world', { specialTokens: ['<|endoftext|>'] });
    expect(tok.chars).toEqual([' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
    expect(Array.from(tok.encode('hold'))).toEqual([3, 5, 4, 1]);
    expect(tok.specialId('<|endoftext|>')).toBe(8);
    expect(tok.vocabSize).toBe(9);
    expect(Array.from(tok.encode('low<|endoftext|>'))).toEqual([4, 5, 7, 8]);
    expect(tok.decode(tensor(Int32Array.of(3, 2, 8)))).toBe('he<|endoftext|>');
  });
  it('an emoji (a surrogate pair) is one character; special-token strings in the corpus are not counted as characters', () => {
    const tok = CharTokenizer.train('b😀a<|s|>a', { specialTokens: ['<|s|>'] });
    expect(tok.chars).toEqual(['a', 'b', '😀']);
    expect(Array.from(tok.encode('😀<|s|>b'))).toEqual([2, 3, 1]);
    throwsExactly(() => tok.encode('<|s|>', { allowSpecial: false }), ArgumentError, 'CharTokenizer.encode: expected characters of the vocabulary (3 characters), got "<" (U+003C)');
  });
  it('a character outside the vocabulary, an id outside it and bytes that are not UTF-8 are errors naming them', async () => {
    const tok = CharTokenizer.train('ab');
    throwsExactly(() => tok.encode('abc'), ArgumentError, 'CharTokenizer.encode: expected characters of the vocabulary (2 characters), got "c" (U+0063)');
    throwsExactly(() => tok.decode([0, 2]), IndexError, 'CharTokenizer.decode: expected token ids in [0, 2), got 2 at position 1');
    await rejectsExactly(CharTokenizer.trainStream([Uint8Array.of(97, 98, 0xff)]), data.DataError, 'CharTokenizer.trainStream: expected UTF-8 text, got the invalid byte 0xff at byte offset 2');
  });
  const s = 'Ünïcödé 😀 text <|eot|> with € and 𝄞 <|eo and more 😀😀 <|eot|>';
  const tok = CharTokenizer.train(s, { specialTokens: ['<|eot|>'] });
  const ids = Array.from(tok.encode(s));
  for (const n of [1, 2, 3, 5]) {
    it(`UTF-8 byte chunks of ${n} and string chunks of ${n} UTF-16 units: the same vocabulary and ids as the whole string`, async () => {
      const b = Buffer.from(s);
      const bytes = Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
      const strs = Array.from({ length: Math.ceil(s.length / n) }, (_, i) => s.slice(i * n, (i + 1) * n));
      for (const chunks of [bytes, strs]) {
        const t = await CharTokenizer.trainStream(chunks, { specialTokens: ['<|eot|>'] });
        expect(t.chars).toEqual(tok.chars);
        expect(await collect(tok.encodeStream(chunks))).toEqual(ids);
      }
    });
  }
  it('trainFile / encodeFile in chunks of 1 byte, save/load round trip', async () => {
    const p = join(dir, 'c.txt');
    writeFileSync(p, s);
    const t = await CharTokenizer.trainFile(p, { specialTokens: ['<|eot|>'], chunkSize: 1 });
    expect(t.chars).toEqual(tok.chars);
    expect(Array.from(await tok.encodeFile(p, { chunkSize: 1 }))).toEqual(ids);
    const j = join(dir, 'c.json');
    await t.save(j);
    const back = await CharTokenizer.load(j);
    expect(back.decode(ids)).toBe(s);
  });
  it('a wrong file is an ArgumentError naming what is wrong: version, format, repeated or multi-character chars', async () => {
    const j = tok.toJSON();
    const cases: [unknown, string][] = [
      [{ ...j, version: 0 }, 'expected version 1, got the number 0'],
      [{ ...j, format: 'tensile.ByteBPETokenizer' }, "expected format 'tensile.CharTokenizer', got the string 'tensile.ByteBPETokenizer'"],
      [{ ...j, chars: ['a', 'b', 'a'] }, "expected distinct chars, got 'a' as chars[0] and chars[2]"],
      [{ ...j, chars: ['ab'] }, "expected chars[0] to be one character, got the string 'ab'"],
    ];
    for (const [bad, msg] of cases) {
      throwsExactly(() => CharTokenizer.fromJSON(bad), ArgumentError, `CharTokenizer.fromJSON: ${msg}`);
      const p = join(dir, 'bad.json');
      writeFileSync(p, JSON.stringify(bad));
      await rejectsExactly(CharTokenizer.load(p), ArgumentError, `CharTokenizer.load: ${msg} in ${p}`);
    }
  });
});
