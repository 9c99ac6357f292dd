// GELU's tanh approximation on cuda (native/cuda/elementwise.cu GeluTanh / GeluTanhBwd) against the CPU's: forward
// and backward, fresh and transposed inputs, both dtypes, and the exact GELU unchanged beside it. Runs under
// TENSILE_EMULATE_CUDA=1 (or a GPU).
import { describe, it, expect } from 'vitest';
import { tensor, F, cuda } from '../../lib/index.js';
import { randArray } from '../helpers.js';
import { same } from './helpers.js';

const TOL = { float32: { rtol: 1e-6, atol: 1e-7 }, float64: { rtol: 1e-13, atol: 1e-15 } };

describe.skipIf(!cuda.isAvailable())('cuda gelu tanh against the CPU', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`forward and backward, [1031] and a transposed [13, 9], ${dtype}`, async () => {
      const v = Array.from(randArray(1031, 2, -6, 6));
      v.splice(0, 4, 0, 30, -30, NaN);
      for (const [shape, t] of [[[1031], false], [[9, 13], true]] as [number[], boolean][]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const run = (device: 'cpu' | 'cuda') => {
          const x = tensor(v.slice(0, n), { shape, dtype, device }).requiresGrad_();
          const y = F.gelu(t ? x.t() : x, { approximate: 'tanh' });
          y.mul(tensor(Array.from(randArray(n, 3, -1, 1)), { shape: y.shape, dtype, device })).sum().backward();
          return { y, dx: x.grad!, exact: F.gelu(t ? x.t() : x) };
        };
        const c = run('cpu'), g = run('cuda');
        await same(g.y, c.y, TOL[dtype], `y [${shape}]`);
        await same(g.dx, c.dx, TOL[dtype], `dx [${shape}]`);
        await same(g.exact, c.exact, TOL[dtype], `exact [${shape}]`);
        expect(Array.from(await g.y.cpu().data())).not.toEqual(Array.from(await g.exact.cpu().data()));
      }
    });
  }
});
