// data.defaultCollate, data.transforms.toUnit and data.datasets.mnist. No MNIST IDX files are installed on the
// test machines (no Debian package ships MNIST itself), so mnist() reads small IDX files written here, byte for byte
// in the format of the real ones (magic 0x00000803 / 0x00000801, big-endian sizes, uint8 payload), plain and gzip;
// the real files are read too when /usr/share/datasets/mnist holds them.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data } from '../../lib/index.js';
import { covers } from './coverage.js';

covers('data.defaultCollate');
covers('data.transforms.toUnit');
covers('data.datasets.mnist');

const { defaultCollate, transforms, datasets, DataError } = data;

describe('data.defaultCollate', () => {
  it('stacks array fields row by row into [B, ...shape], keeping each typed array\'s dtype', async () => {
    const samples = [0, 1, 2].map((i) => ({
      x: Float32Array.from({ length: 6 }, (_, j) => i * 10 + j + 0.5),
      m: Uint8Array.from([i, 255 - i]),
      k: Int32Array.from([-i, i * 1000]),
    }));
    const b = defaultCollate(samples, { x: [1, 2, 3] });
    expect(b['x']!.shape).toEqual([3, 1, 2, 3]);
    expect(b['x']!.dtype).toBe('float32');
    expect(Array.from(await b['x']!.data())).toEqual(samples.flatMap((s) => Array.from(s.x)));
    expect(b['m']!.shape).toEqual([3, 2]);  // no shape given: flat
    expect(b['m']!.dtype).toBe('uint8');
    expect(Array.from(await b['m']!.data())).toEqual([0, 255, 1, 254, 2, 253]);
    expect(b['k']!.dtype).toBe('int32');
    expect(Array.from(await b['k']!.data())).toEqual([0, 0, -1, 1000, -2, 2000]);
  });
  it('number fields: int32 [B] when all are integers, float32 [B] when any is not', async () => {
    const b = defaultCollate([{ y: 3, w: 1 }, { y: 0, w: 0.25 }, { y: 7, w: 2 }]);
    expect(b['y']!.dtype).toBe('int32');
    expect(b['y']!.shape).toEqual([3]);
    expect(Array.from(await b['y']!.data())).toEqual([3, 0, 7]);
    expect(b['w']!.dtype).toBe('float32');
    expect(Array.from(await b['w']!.data())).toEqual([1, 0.25, 2]);
  });
  it('a batch of one', async () => {
    const b = defaultCollate([{ x: Float32Array.from([1, 2]), y: 4 }], { x: [2, 1] });
    expect(b['x']!.shape).toEqual([1, 2, 1]);
    expect(Array.from(await b['y']!.data())).toEqual([4]);
  });
  it('is what DataLoader uses without a collate: the same batches', async () => {
    const ds = new data.ArrayDataset(Float32Array.from({ length: 20 }, (_, i) => i / 20), [1, 2, 2], Int32Array.from([4, 3, 2, 1, 0]));
    const loader = new data.DataLoader(ds, { batchSize: 2, shapes: { x: [1, 2, 2] } });
    let k = 0;
    for await (const batch of loader) {
      const idx = [2 * k, 2 * k + 1].filter((i) => i < 5);
      const ref = defaultCollate(idx.map((i) => ds.get(i)), { x: [1, 2, 2] });
      expect(batch['x']!.shape).toEqual(ref['x']!.shape);
      expect(Array.from(await batch['x']!.data())).toEqual(Array.from(await ref['x']!.data()));
      expect(Array.from(await batch['y']!.data())).toEqual(Array.from(await ref['y']!.data()));
      k++;
    }
    expect(k).toBe(3);
  });
});

describe('data.transforms.toUnit', () => {
  it('maps 0..255 to v/255 in a new array (the input is kept), like torchvision ToTensor', () => {
    const x = Float32Array.from({ length: 256 }, (_, i) => i);
    const y = transforms.toUnit()(x, Math.random);
    expect(y).not.toBe(x);
    expect(y).toBeInstanceOf(Float32Array);
    expect(Array.from(y)).toEqual(Array.from({ length: 256 }, (_, i) => Math.fround(i / 255)));
    expect(y[0]).toBe(0);
    expect(y[255]).toBe(1);
    expect(x[255]).toBe(255);
  });
  it('composes: toUnit then normalize(0.5, 0.5) gives [-1, 1]', () => {
    const s = { c: 1, h: 1, w: 3 };
    const t = transforms.compose([transforms.toUnit(), transforms.normalize([0.5], [0.5], s)]);
    expect(Array.from(t(Float32Array.from([0, 127.5, 255]), Math.random))).toEqual([-1, 0, 1]);
  });
});

function idx(type: number, dims: number[], payload: Uint8Array): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, Buffer.from(payload)]);
}

describe('data.datasets.mnist', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensile-mnist-'));
  // train: 5 images of 28x28, image i holds (i*31 + p) % 256 at pixel p; labels 7 2 1 0 4 (plain files)
  // test: 3 images, gzip files, labels 9 8 5
  const N = 5, img = (n: number, seed: number) => Uint8Array.from({ length: n * 784 }, (_, p) => (Math.floor(p / 784) * seed + p) % 256);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx(0x08, [N, 28, 28], img(N, 31)));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [N], Uint8Array.from([7, 2, 1, 0, 4])));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idx(0x08, [3, 28, 28], img(3, 17))));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [3], Uint8Array.from([9, 8, 5]))));

  it('train split from plain IDX files: length, [1,28,28] float32 samples scaled to [0,1], labels', async () => {
    const ds = await datasets.mnist({ split: 'train', dir });
    expect(ds.length).toBe(5);
    expect(ds.sampleShape).toEqual([1, 28, 28]);
    expect(ds.labels).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.labels)).toEqual([7, 2, 1, 0, 4]);
    const raw = img(N, 31);
    for (const i of [0, 3, 4]) {
      const { x, y } = ds.get(i);
      expect(x).toBeInstanceOf(Float32Array);
      expect(x.length).toBe(784);
      expect(y).toBe([7, 2, 1, 0, 4][i]);
      expect(Array.from(x)).toEqual(Array.from(raw.subarray(i * 784, (i + 1) * 784), (v) => Math.fround(v / 255)));
    }
    const all = Array.from(ds.images);
    expect(Math.min(...all)).toBe(0);
    expect(Math.max(...all)).toBe(1);
  });
  it('test split from the t10k gzip files', async () => {
    const ds = await datasets.mnist({ split: 'test', dir });
    expect(ds.length).toBe(3);
    expect(Array.from(ds.labels)).toEqual([9, 8, 5]);
    expect(ds.get(2).x[5]).toBe(Math.fround(((2 * 17 + 2 * 784 + 5) % 256) / 255));  // pixel 5 of image 2
  });
  it('missing files: a DataError naming the files and the directory', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tensile-mnist-none-'));
    await expect(datasets.mnist({ split: 'train', dir: empty })).rejects.toThrow(DataError);
    await expect(datasets.mnist({ split: 'test', dir: empty })).rejects.toThrow(
      `mnist: expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in ${empty}, got none. Pass {dir} with the MNIST IDX files.`);
  });
  it('images and labels that do not match: a DataError with both shapes', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    writeFileSync(join(bad, 'train-images-idx3-ubyte'), idx(0x08, [3, 2, 2], new Uint8Array(12)));
    writeFileSync(join(bad, 'train-labels-idx1-ubyte'), idx(0x08, [4], new Uint8Array(4)));
    await expect(datasets.mnist({ split: 'train', dir: bad })).rejects.toThrow(DataError);
    await expect(datasets.mnist({ split: 'train', dir: bad })).rejects.toThrow('mnist: expected images [N,H,W] and labels [N], got [3,2,2] and [4]');
  });
  const real = '/usr/share/datasets/mnist';
  it.skipIf(!existsSync(join(real, 't10k-labels-idx1-ubyte.gz')) && !existsSync(join(real, 't10k-labels-idx1-ubyte')))('reads the real MNIST test split: 10,000 images, the first labels 7 2 1 0 4', async () => {
    const ds = await datasets.mnist({ split: 'test', dir: real });
    expect(ds.length).toBe(10000);
    expect(ds.sampleShape).toEqual([1, 28, 28]);
    expect(Array.from(ds.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });
});
