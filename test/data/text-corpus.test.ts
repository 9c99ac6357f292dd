// The text corpora (datasets.jargonFile / textFile / splitText), the token windows for next-token prediction and
// the count-based baselines (ngramCrossEntropy), with values counted by hand.
import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { text, data, ArgumentError, IndexError } from '../../lib/index.js';
import { covers } from '../api/coverage.js';

covers('data.TokenWindowDataset');
covers('data.datasets.JARGON_FILE_PATH');
covers('data.datasets.jargonFile');
covers('data.datasets.splitText');
covers('data.datasets.textFile');
covers('text.ngramCrossEntropy');
covers('text.readTextFile');

const { datasets } = data;
const dir = mkdtempSync(join(tmpdir(), 'tensile-text-'));
async function rejectsExactly(p: Promise<unknown>, cls: new (...a: never[]) => Error, msg: string) {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}
function throwsExactly(f: () => unknown, cls: new (...a: never[]) => Error, msg: string) {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}

describe('datasets.splitText and textFile', () => {
  it('validation starts at the first line start at or after 90% of the text: 20 lines of 5 units split 18/2, 21 lines of 5 units 19/2', () => {
    const s = Array.from({ length: 20 }, (_, i) => `l${String(i).padStart(2, '0')}\n`.padStart(5, '-')).join('');
    expect(s.length).toBe(100);
    const { train, validation } = datasets.splitText(s);
    // 90% = unit 90, a line start ('-l18\n' spans 90..94)
    expect(train.length).toBe(90);
    expect(validation).toBe('-l18\n-l19\n');
    expect(datasets.splitText(s, { validationFraction: 0.5 }).validation.length).toBe(50);
    // 105 units: 90% = 94.5 -> 94, inside '-l18\n' (90..94): validation from the next line, 95
    const s21 = s + '-l20\n';
    expect(datasets.splitText(s21).validation).toBe('-l19\n-l20\n');
    expect(datasets.splitText(s21, { validationFraction: 0.2 }).validation).toBe('-l17\n-l18\n-l19\n-l20\n');  // 84 -> 85
  });
  it('without a newline after the cut it is at floor(0.9 * length), moved past a surrogate pair it would split', () => {
    expect(datasets.splitText('abcdefghij')).toEqual({ train: 'abcdefghi', validation: 'j' });
    const s = 'abcdefgh😀';  // 10 units, the pair at 8..9: the cut at 9 moves to 10
    expect(datasets.splitText(s)).toEqual({ train: s, validation: '' });
    throwsExactly(() => datasets.splitText('abc', { validationFraction: 1 }), ArgumentError, 'splitText: expected validationFraction in (0, 1), got 1');
  });
  it('textFile reads a plain or gzip user file through the checked reader: the same splits; errors name the file', async () => {
    const s = 'first line\nsecond line\nthird\nfourth é line\nlast\n';
    const p = join(dir, 'u.txt'), gz = join(dir, 'u.txt.gz');
    writeFileSync(p, s);
    writeFileSync(gz, gzipSync(Buffer.from(s)));
    for (const f of [p, gz]) {
      expect(await datasets.textFile({ path: f, split: 'all' })).toBe(s);
      const tr = await datasets.textFile({ path: f, split: 'train' }), va = await datasets.textFile({ path: f, split: 'validation' });
      expect(tr + va).toBe(s);
      expect(va).toBe('last\n');
    }
    const bad = join(dir, 'latin1.txt');
    writeFileSync(bad, Uint8Array.of(104, 105, 0xe9, 10));
    await rejectsExactly(datasets.textFile({ path: bad, split: 'all' }), data.DataError, `textFile: expected UTF-8 text, got the invalid byte 0xe9 at byte offset 2 in ${bad}`);
    const none = join(dir, 'none.txt');
    await rejectsExactly(datasets.textFile({ path: none, split: 'all' }), data.DataError, `textFile: expected a readable file at ${none}, got ENOENT: no such file or directory, stat '${none}'`);
    const one = join(dir, 'one.txt');
    writeFileSync(one, 'x');
    await rejectsExactly(datasets.textFile({ path: one, split: 'train' }), data.DataError, `textFile: expected text with a non-empty train and validation split, got 0 and 1 UTF-16 code units from ${one}`);
    await rejectsExactly(datasets.textFile({ path: p, split: 'test' as never }), ArgumentError, "textFile: expected split 'train', 'validation' or 'all', got the string 'test'");
  });
});

describe('text.readTextFile', () => {
  it('keeps a byte-order mark, reads gzip by its magic, and names the offset of an invalid byte cut across chunks', async () => {
    const p = join(dir, 'bom.txt.gz');
    writeFileSync(p, gzipSync(Buffer.from('\ufeffbom é\n')));
    expect(await text.readTextFile(p)).toBe('\ufeffbom é\n');
    const bad = join(dir, 'cut.txt');
    writeFileSync(bad, Uint8Array.of(97, 0xe2, 0x82, 98));  // a 3-byte character missing its last byte
    await rejectsExactly(text.readTextFile(bad), data.DataError, `readTextFile: expected UTF-8 text, got the invalid byte 0xe2 at byte offset 1 in ${bad}`);
    await rejectsExactly(text.readTextFile(dir), data.DataError, `readTextFile: expected a file at ${dir}, got a directory or device`);
  });
});

const JARGON = datasets.JARGON_FILE_PATH;
describe('datasets.jargonFile', () => {
  it('a missing file is a DataError with the apt-get remedy', async () => {
    const p = join(dir, 'no-jargon.txt.gz');
    await rejectsExactly(datasets.jargonFile({ split: 'train', path: p }), data.DataError,
      `jargonFile: expected the Jargon File at ${p}, got no such file. Install Debian's package with \`apt-get install jargon-text\`, or pass {path} with its jargon.txt(.gz).`);
  });
  // run wherever jargon-text is installed, and always in CI (which installs it)
  it.skipIf(!existsSync(JARGON) && !process.env['CI'])('the installed file: 1,681,817 bytes, train + validation = all, validation from a line start; a truncated copy is a DataError', async () => {
    const all = await datasets.jargonFile({ split: 'all' });
    expect(Buffer.byteLength(all)).toBe(1681817);
    const train = await datasets.jargonFile({ split: 'train' }), val = await datasets.jargonFile({ split: 'validation' });
    expect(train + val).toBe(all);
    expect(train.endsWith('\n')).toBe(true);
    expect(train.length).toBeGreaterThanOrEqual(Math.floor(all.length * 0.9));
    expect(train.length - Math.floor(all.length * 0.9)).toBeLessThan(200);  // the next line start
    const cut = join(dir, 'jargon-cut.txt.gz');
    writeFileSync(cut, gzipSync(gunzipSync(readFileSync(JARGON)).subarray(0, 1000000)));
    await rejectsExactly(datasets.jargonFile({ split: 'all', path: cut }), data.DataError,
      `jargonFile: expected the Jargon File 4.4.7 of jargon-text (1681817 bytes of text), got 1000000 bytes in ${cut}: a truncated file or another version`);
  });
});

describe('data.TokenWindowDataset', () => {
  const toks = Int32Array.from({ length: 11 }, (_, i) => 100 + i);  // 100..110
  it('strided, blockSize 4 (stride 4): floor((11 - 5) / 4) + 1 = 2 windows, y = x shifted by one', () => {
    const ds = new data.TokenWindowDataset(toks, { blockSize: 4 });
    expect(ds.length).toBe(2);
    expect(Array.from(ds.get(0).x)).toEqual([100, 101, 102, 103]);
    expect(Array.from(ds.get(0).y)).toEqual([101, 102, 103, 104]);
    expect(Array.from(ds.get(1).x)).toEqual([104, 105, 106, 107]);
    expect(Array.from(ds.get(1).y)).toEqual([105, 106, 107, 108]);
    const s1 = new data.TokenWindowDataset(toks, { blockSize: 4, stride: 1 });
    expect(s1.length).toBe(7);  // starts 0..6: the last y ends at token 10
    expect(Array.from(s1.get(6).y)).toEqual([107, 108, 109, 110]);
    throwsExactly(() => s1.get(7), ArgumentError, 'TokenWindowDataset.get: expected an index in [0, 7), got the number 7');
  });
  it('random offsets (samples 5): start = floor(rng() * (N - T)) from the given random source', () => {
    const ds = new data.TokenWindowDataset(toks, { blockSize: 4, samples: 5 });
    expect(ds.length).toBe(5);
    const r = data.seededRandom(9), r2 = data.seededRandom(9);
    for (let i = 0; i < 5; i++) {
      const s = Math.floor(r2() * 7);
      const { x, y } = ds.get(i, r);
      expect(Array.from(x)).toEqual([0, 1, 2, 3].map((k) => 100 + s + k));
      expect(Array.from(y)).toEqual([1, 2, 3, 4].map((k) => 100 + s + k));
    }
  });
  it('the DataLoader batches the windows into int32 [B, T] tensors, shuffled per seed', async () => {
    const ds = new data.TokenWindowDataset(toks, { blockSize: 3, stride: 2 });  // 4 windows, starts 0 2 4 6
    const seen: number[][] = [];
    for await (const { x, y } of new data.DataLoader(ds, { batchSize: 2, shuffle: true, seed: 3 })) {
      expect(x.dtype).toBe('int32');
      expect(x.shape).toEqual([2, 3]);
      const xv = Array.from(x.dataSync()), yv = Array.from(y.dataSync());
      expect(yv).toEqual(xv.map((v) => v + 1));
      seen.push(xv.filter((_, i) => i % 3 === 0));
    }
    expect(seen.flat().sort()).toEqual([100, 102, 104, 106]);
  });
  it('too few tokens and bad options are errors naming them', () => {
    throwsExactly(() => new data.TokenWindowDataset(toks, { blockSize: 11 }), data.DataError, 'TokenWindowDataset: expected at least blockSize + 1 = 12 tokens (a window and its next token), got 11');
    throwsExactly(() => new data.TokenWindowDataset(toks, { blockSize: 0 }), ArgumentError, 'TokenWindowDataset: expected blockSize to be an integer >= 1, got 0');
    throwsExactly(() => new data.TokenWindowDataset(toks, { blockSize: 2, stride: 1, samples: 3 }), ArgumentError, 'TokenWindowDataset: expected either stride (strided windows) or samples (random windows), got both');
  });
});

describe('text.ngramCrossEntropy: unigram and bigram cross-entropy by counting', () => {
  // fit a b a b a c (ids 0 1 0 1 0 2), evaluate on a b c a (0 1 2 0)
  const fit = [0, 1, 0, 1, 0, 2], ev = [0, 1, 2, 0];
  it('unigram, alpha 0: p(a) 3/6, p(b) 2/6, p(c) 1/6 over the 4 eval tokens', () => {
    const want = -(Math.log(3 / 6) + Math.log(2 / 6) + Math.log(1 / 6) + Math.log(3 / 6)) / 4;
    expect(text.ngramCrossEntropy(fit, ev, { order: 1, vocabSize: 3 })).toBeCloseTo(want, 14);
  });
  it('bigram, alpha 1 over V = 3: pairs ab 2, ba 2, ac 1 (n(a,.) 3, n(b,.) 2, n(c,.) 0) on ab, bc, ca', () => {
    // p(b|a) = (2+1)/(3+3), p(c|b) = (0+1)/(2+3), p(a|c) = (0+1)/(0+3)
    const want = -(Math.log(3 / 6) + Math.log(1 / 5) + Math.log(1 / 3)) / 3;
    expect(text.ngramCrossEntropy(fit, ev, { order: 2, vocabSize: 3, alpha: 1 })).toBeCloseTo(want, 14);
    expect(text.ngramCrossEntropy(fit, ev, { order: 2, vocabSize: 3 })).toBe(Infinity);  // bc never seen, no smoothing
  });
  it('the exact (alpha 0) bigram entropy of a split fitted on itself: ababac -> -(2 ln 2/3 + ln 1/3 + 2 ln 1) / 5', () => {
    // pairs of 0 1 0 1 0 2: ab ba ab ba ac; p(b|a) 2/3, p(c|a) 1/3, p(a|b) 1
    expect(text.ngramCrossEntropy(fit, fit, { order: 2, vocabSize: 3 })).toBeCloseTo(-(2 * Math.log(2 / 3) + Math.log(1 / 3)) / 5, 14);
  });
  it('ids outside the vocabulary and a bad order are errors', () => {
    throwsExactly(() => text.ngramCrossEntropy([0, 3], ev, { order: 1, vocabSize: 3 }), IndexError, 'ngramCrossEntropy: expected token ids in [0, 3), got 3 at position 1');
    throwsExactly(() => text.ngramCrossEntropy(fit, ev, { order: 3 as never, vocabSize: 3 }), ArgumentError, 'ngramCrossEntropy: expected order 1 or 2, got the number 3');
  });
});
