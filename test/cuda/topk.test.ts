// native/cuda/topk.cu's topk against the CPU's (native/cpu/topk.cpp): indices and values equal element for element
// (the same strict (key, index) order), with ties and NaNs, both dtypes, largest and smallest, any dim, strided input,
// k = 0, 1 and the whole dim, padded sort lengths (R not a power of two), more rows than blocks; the backward (zeros,
// then the scatter) equal; and an index out of range in topk_bwd. Runs under TENSILE_EMULATE_CUDA=1 (or a GPU).
import { describe, it, expect } from 'vitest';
import { tensor, topk, cuda } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { randArray } from '../helpers.js';

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
async function host(t: Tensor): Promise<number[]> {
  return Array.from((await t.cpu().data()) as ArrayLike<number>);
}
function values(n: number, seed: number, ties: boolean): number[] {
  return Array.from(randArray(n, seed, -3, 3), (v, i) => (ties ? (i % 11 === 3 ? NaN : Math.round(v * 2) / 2) : v));
}
// [shape, dim, k]
const CASES: [number[], number, number][] = [
  [[7], 0, 3], [[7], 0, 7], [[7], 0, 0], [[1], 0, 1], [[3, 17], 1, 5], [[3, 17], 0, 3], [[4, 5, 6], 1, 2],
  [[2, 300], 1, 50], [[1100, 3], 1, 2], [[2, 1025], 1, 1025],
];

describe.skipIf(!cuda.isAvailable())('cuda topk against the CPU', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`topk ${dtype}: every case, ties and NaNs, largest and smallest, and the strided input`, async () => {
      for (const [shape, dim, k] of CASES)
        for (const ties of [true, false])
          for (const largest of [true, false]) {
            const v = values(numel(shape), numel(shape) + k, ties);
            const what = `[${shape}] dim ${dim} k ${k} ties ${ties} largest ${largest}`;
            const c = topk(tensor(v, { shape, dtype }), k, { dim, largest });
            const g = topk(tensor(v, { shape, dtype, device: 'cuda' }), k, { dim, largest });
            expect(g.values.device, what).toBe('cuda:0');
            expect(g.values.shape, what).toEqual(c.values.shape);
            expect(await host(g.indices), what).toEqual(await host(c.indices));
            expect(await host(g.values), what).toEqual(await host(c.values));
          }
      const v = values(60, 5, true);
      const c = topk(tensor(v, { shape: [6, 10], dtype }).t(), 4, { dim: 1 });
      const g = topk(tensor(v, { shape: [6, 10], dtype, device: 'cuda' }).t(), 4, { dim: 1 });
      expect(await host(g.indices)).toEqual(await host(c.indices));
    });
    it(`topk backward ${dtype}: [5, 40] dim 1 k 7 and [6, 4, 3] dim 1 k 4`, async () => {
      for (const [shape, dim, k] of [[[5, 40], 1, 7], [[6, 4, 3], 1, 4]] as [number[], number, number][]) {
        const v = values(numel(shape), 3, false);
        const run = async (device: 'cpu' | 'cuda') => {
          const x = tensor(v, { shape, dtype, device }).requiresGrad_();
          const { values: y } = topk(x, k, { dim });
          y.mul(tensor(Array.from({ length: y.numel }, (_, i) => i - 3), { shape: y.shape, dtype, device })).sum().backward();
          return host(x.grad!);
        };
        expect(await run('cuda')).toEqual(await run('cpu'));
      }
    });
  }
});
