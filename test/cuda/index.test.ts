// The cuda index kernels (native/cuda/index.cu) against the CPU's: index_select for every dtype along the first,
// a middle and the last dim (vector and element paths), empty selections, duplicates; its backward (scatter-add,
// sorted segments) bit for bit equal to the CPU's (the same summation order) and the same run to run, with enough
// indices for the sort's global stages; and the IndexError of an index out of range, with the CPU's message.
import { describe, it, expect } from 'vitest';
import { tensor, indexSelect, cuda, IndexError } from '../../lib/index.js';
import type { Tensor, DType } from '../../lib/index.js';
import { randArray } from '../helpers.js';

type Dev = 'cpu' | 'cuda';
const ALL: DType[] = ['float32', 'float64', 'int32', 'uint8'];
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

function values(dtype: DType, n: number, seed: number): number[] {
  const r = randArray(n, seed, -3, 3);
  return Array.from(r, (v, i) =>
    dtype === 'uint8' ? Math.trunc((v + 3) * 42.5) : dtype === 'int32' ? Math.trunc(v * 7e8) : i % 7 === 0 ? v * 1e7 : v);
}
function ints(n: number, D: number, seed: number): number[] {
  return Array.from(randArray(n, seed, 0, D), Math.floor);
}
async function host(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}
async function same(what: string, f: (dev: Dev) => Tensor): Promise<void> {
  const c = f('cpu'), g = f('cuda');
  expect(g.device, what).toBe('cuda:0');
  expect(g.dtype, what).toBe(c.dtype);
  expect(g.shape, what).toEqual(c.shape);
  const want = await host(c), got = await host(g);
  expect(got.length, what).toBe(want.length);
  const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
  expect(bad, `${what}: at ${bad} got ${got[bad]} expected ${want[bad]}`).toBe(-1);
}

// [input shape, dim, index count]: inner 8/16 (vector path for every dtype's vector width or not), inner 1, a middle
// dim, odd sizes, several blocks, duplicates, empty selections and empty inputs
const CASES: [number[], number, number][] = [
  [[7, 5], 0, 9],
  [[7, 8], 0, 9],
  [[11, 16], 0, 40],
  [[3, 11, 4], 1, 13],
  [[3, 11, 6], -2, 5],
  [[4, 9], 1, 300],
  [[2, 3, 5], 2, 7],
  [[257, 3], 0, 1000],
  [[7, 5], 0, 0],
  [[0, 5], 1, 3],
  [[5, 0], 0, 4],
];

describe.skipIf(!cuda.isAvailable())('cuda index kernels against the CPU', () => {
  it('index_select, every dtype, dim and layout', async () => {
    for (const dtype of ALL) {
      for (const [shape, dim, n] of CASES) {
        const d = dim < 0 ? dim + shape.length : dim;
        const idx = ints(n, shape[d]!, n + 1);
        await same(`index_select ${dtype} ${JSON.stringify(shape)} dim ${dim} n ${n}`, (dev) =>
          indexSelect(tensor(values(dtype, numel(shape), 3), { shape, dtype, device: dev }), dim,
            tensor(idx, { dtype: 'int32', device: dev })));
      }
      // a non-contiguous input (lib/ makes it contiguous first) and an index that is a view at an offset
      await same(`index_select ${dtype} transposed input, sliced index`, (dev) =>
        indexSelect(tensor(values(dtype, 60, 3), { shape: [6, 10], dtype, device: dev }).t(), 1,
          tensor([9, 1, 4, 4, 0, 5, 2], { dtype: 'int32', device: dev }).slice(0, 1)));
    }
  });

  it('index_select_bwd: bit for bit the CPU sum (duplicates in index order), and the same every run', async () => {
    const cases: [number[], number, number][] = [
      [[7, 5], 0, 9], [[3, 11, 4], 1, 13], [[4, 9], 1, 300], [[2, 3, 5], 2, 7],
      [[37, 3], 0, 3000],      // more indices than a sort tile: the sort's global stages
      [[50, 8], 0, 1500],      // an embedding-like gradient
      [[2, 5, 1], 1, 2047],    // inner 1, all rows heavily duplicated
      [[6, 4], 0, 0],          // no index: zeros
      [[3, 6, 2], 1, 1],
    ];
    for (const dtype of ['float32', 'float64'] as DType[]) {
      for (const [shape, dim, n] of cases) {
        const idx = ints(n, shape[dim]!, n + 2);
        const outShape = [...shape];
        outShape[dim] = n;
        const grad = (dev: Dev) => {
          const x = tensor(values(dtype, numel(shape), 5), { shape, dtype, device: dev }).requiresGrad_();
          indexSelect(x, dim, tensor(idx, { dtype: 'int32', device: dev }))
            .backward(tensor(values(dtype, numel(outShape), 9), { shape: outShape, dtype, device: dev }));
          return x.grad!;
        };
        const what = `index_select_bwd ${dtype} ${JSON.stringify(shape)} dim ${dim} n ${n}`;
        await same(what, grad);
        const a = await host(grad('cuda')), b = await host(grad('cuda'));
        expect(a, `${what}: run to run`).toEqual(b);
      }
    }
  });

  it('an index out of range: the CPU error (first bad position), on each dtype, also when nothing is selected', async () => {
    const msg = async (dev: Dev, dtype: DType, idx: number[], shape: number[], dim: number) => {
      const x = tensor(values(dtype, numel(shape), 3), { shape, dtype, device: dev });
      try {
        await indexSelect(x, dim, tensor(idx, { dtype: 'int32', device: dev })).data();
      } catch (e) {
        return e;
      }
      return null;
    };
    const cases: [number[], number[], number][] = [
      [[1, 9, -1, 7], [4, 3], 0],     // two bad: the first is reported
      [[0, 1, 2, 3, -5], [2, 4], 1],
      [[2147483647], [3, 2, 2], 2],
      [[3], [0, 3], 1],                // checked even when nothing is selected
    ];
    for (const dtype of ALL) {
      for (const [idx, shape, dim] of cases) {
        const c = await msg('cpu', dtype, idx, shape, dim), g = await msg('cuda', dtype, idx, shape, dim);
        expect(c, `cpu ${idx}`).toBeInstanceOf(IndexError);
        expect(g, `cuda ${dtype} ${idx}`).toBeInstanceOf(IndexError);
        expect((g as Error).message).toBe((c as Error).message);
        expect((g as Error).message).toMatch(/^index_select: expected indices in \[0, \d+\), got -?\d+ at position \d+$/);
      }
    }
    // the device stays usable after the error
    await expect(host(indexSelect(tensor([1, 2, 3], { device: 'cuda' }), 0, tensor([2, 0], { dtype: 'int32', device: 'cuda' })))).resolves.toEqual([3, 1]);
  });
});
