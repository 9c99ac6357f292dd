import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data } from '../../lib/index.js';

const { readIdx, DataError, DataLoader, ArrayDataset, transforms, datasets } = data;
const dir = mkdtempSync(join(tmpdir(), 'tensile-data-'));

function idx(type: number, dims: number[], payload: Buffer): Buffer {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([h, payload]);
}

describe('IDX reader', () => {
  it('reads uint8 images and big-endian int32/float32, plain and gzip', async () => {
    const p1 = join(dir, 'u8.idx'), p2 = join(dir, 'u8.idx.gz'), p3 = join(dir, 'i32.idx'), p4 = join(dir, 'f32.idx');
    const img = idx(0x08, [2, 2, 3], Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]));
    writeFileSync(p1, img);
    writeFileSync(p2, gzipSync(img));
    const i32 = Buffer.alloc(8); i32.writeInt32BE(-5, 0); i32.writeInt32BE(70000, 4);
    writeFileSync(p3, idx(0x0c, [2], i32));
    const f32 = Buffer.alloc(4); f32.writeFloatBE(1.5, 0);
    writeFileSync(p4, idx(0x0d, [1], f32));
    for (const p of [p1, p2]) {
      const r = await readIdx(p);
      expect(r.shape).toEqual([2, 2, 3]);
      expect(Array.from(r.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]);
    }
    expect(Array.from((await readIdx(p3)).data)).toEqual([-5, 70000]);
    expect(Array.from((await readIdx(p4)).data)).toEqual([1.5]);
  });
  it('rejects wrong magic, truncated and oversized files, and missing files, with DataError', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['magic', Buffer.from([1, 2, 3, 4, 0, 0, 0, 1, 7]), /IDX magic/],
      ['truncated', idx(0x08, [10], Buffer.alloc(7)), /truncated/],
      ['too long', idx(0x08, [2], Buffer.alloc(3)), /got more/],
      ['header only', Buffer.from([0, 0, 8]), /IDX header/],
      ['truncated gzip', gzipSync(idx(0x08, [100], Buffer.alloc(100))).subarray(0, 20), /valid gzip IDX/],
    ];
    for (const [name, buf, msg] of cases) {
      const p = join(dir, `${name.replace(' ', '-')}.idx`);
      writeFileSync(p, buf);
      await expect(readIdx(p), name).rejects.toThrow(DataError);
      await expect(readIdx(p), name).rejects.toThrow(msg);
    }
    await expect(readIdx(join(dir, 'nope.idx'))).rejects.toThrow(DataError);
  });
  it('fashionMnist says how to get the data when it is missing', async () => {
    await expect(datasets.fashionMnist({ split: 'train', dir })).rejects.toThrow('apt-get install dataset-fashion-mnist');
  });
  it.skipIf(!existsSync('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'))('reads the Debian Fashion-MNIST test split', async () => {
    const t = await datasets.fashionMnist({ split: 'test' });
    expect(t.length).toBe(10000);
    expect(t.sampleShape).toEqual([1, 28, 28]);
    const { x, y } = t.get(0);
    expect(y).toBe(9);  // the first test image is an ankle boot
    expect(Math.max(...x)).toBeLessThanOrEqual(1);
  });
});

describe('DataLoader', () => {
  const n = 10;
  const ds = new ArrayDataset(Float32Array.from({ length: n * 4 }, (_, i) => i), [1, 2, 2], Int32Array.from({ length: n }, (_, i) => i));
  const labelsOf = async (l: DataLoader) => { const out: number[][] = []; for await (const b of l) out.push(Array.from(await b['y']!.data())); return out; };
  it('batches with shapes, keeps the last partial batch unless dropLast', async () => {
    const l = new DataLoader(ds, { batchSize: 4, shapes: { x: [1, 2, 2] } });
    expect(l.length).toBe(3);
    const batches = [];
    for await (const b of l) batches.push(b);
    expect(batches[0]!['x']!.shape).toEqual([4, 1, 2, 2]);
    expect(batches[2]!['y']!.shape).toEqual([2]);
    expect(batches[0]!['y']!.dtype).toBe('int32');
    expect((await labelsOf(new DataLoader(ds, { batchSize: 4, dropLast: true }))).length).toBe(2);
  });
  it('shuffles deterministically for a seed, differently each epoch, and covers every sample', async () => {
    const a = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const b = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const e1 = await labelsOf(a), e2 = await labelsOf(a);
    expect(await labelsOf(b)).toEqual(e1);
    expect(e2).not.toEqual(e1);
    expect(e1.flat().sort((p, q) => p - q)).toEqual([...Array(n).keys()]);
  });
  it('reads async iterables (data larger than memory)', async () => {
    async function* gen() { for (let i = 0; i < 5; i++) yield { x: Float32Array.of(i, i), y: i }; }
    const l = new DataLoader(gen(), { batchSize: 2 });
    expect(await labelsOf(l)).toEqual([[0, 1], [2, 3], [4]]);
  });
});

describe('transforms', () => {
  const s = { c: 1, h: 2, w: 3 };
  const x = () => Float32Array.from([1, 2, 3, 4, 5, 6]);
  it('flip, normalize, crop and translate', () => {
    expect(Array.from(transforms.randomHorizontalFlip(s, 1)(x(), () => 0))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(transforms.randomVerticalFlip(s, 1)(x(), () => 0))).toEqual([4, 5, 6, 1, 2, 3]);
    expect(Array.from(transforms.normalize([1], [2], s)(x(), () => 0))).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    // rng 0 -> shift by -padding in both directions
    expect(Array.from(transforms.randomCrop(s, 1)(x(), () => 0))).toEqual([5, 6, 0, 0, 0, 0]);
    expect(Array.from(transforms.compose([transforms.randomHorizontalFlip(s, 1), transforms.randomVerticalFlip(s, 1)])(x(), () => 0))).toEqual([6, 5, 4, 3, 2, 1]);
    expect(transforms.randomTranslate(s, 0.5)(x(), () => 0.5)).toEqual(x());
  });
});
