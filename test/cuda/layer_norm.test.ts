// The CUDA kernels of layer_norm / layer_norm_bwd (native/cuda/norm.cu: a warp per row, the weight and bias
// gradients by reduce.cuh's column reduction) against the same ops on the CPU, forward and backward. Runs where a
// GPU (or, with TENSILE_EMULATE_CUDA=1, the emulator) is available; skipped otherwise.
import { describe, it, expect } from 'vitest';
import { cuda, F } from '../../lib/index.js';
import { layerNormForward, layerNormBackward } from '../../lib/ops/layer_norm.js';
import { randTensor, numel } from '../helpers.js';
import { same, type Tol } from './helpers.js';

const HAS = cuda.isAvailable();
const TOL: Record<'float32' | 'float64', Tol> = { float32: { rtol: 1e-5, atol: 2e-6 }, float64: { rtol: 1e-11, atol: 1e-12 } };

// [x shape, normalizedShape]: rows shorter than a warp, a tail past whole warps, two normalised dims, M = 1, D = 1,
// many rows (the column reduction split over chunks of rows), a long row
const CASES: [number[], number[]][] = [
  [[4, 6], [6]], [[17, 130], [130]], [[3, 5, 7], [5, 7]], [[1, 33], [33]], [[9, 1], [1]], [[4100, 16], [16]], [[2, 3000], [3000]],
];

describe.skipIf(!HAS)('cuda layer_norm', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [shape, ns] of CASES) {
      for (const [hw, hb] of [[true, true], [true, false], [false, true], [false, false]] as const) {
        it(`x=[${shape}] normalizedShape=[${ns}] weight=${hw} bias=${hb} ${dtype}: y, mean, rstd, dx, dweight, dbias`, async () => {
          const D = numel(ns);
          const [x] = randTensor(shape, numel(shape) + 3, dtype, -2, 3);
          const [w] = randTensor(ns, D + 1, dtype, 0.5, 1.5);
          const [b] = randTensor(ns, D + 2, dtype);
          const [dy] = randTensor(shape, D + 4, dtype);
          const xg = x.to('cuda'), wg = w.to('cuda'), bg = b.to('cuda'), dyg = dy.to('cuda');
          const fc = layerNormForward(x, ns, hw ? w : null, hb ? b : null, 1e-5);
          const fg = layerNormForward(xg, ns, hw ? wg : null, hb ? bg : null, 1e-5);
          for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, TOL[dtype], `forward output ${k}`);
          const bc = layerNormBackward(dy, x, ns, fc[1]!, fc[2]!, hw ? w : null, [true, hw, hb]);
          const bgr = layerNormBackward(dyg, xg, ns, fg[1]!, fg[2]!, hw ? wg : null, [true, hw, hb]);
          for (let k = 0; k < 3; k++) {
            expect(bgr[k] === null, `backward output ${k}`).toBe(bc[k] === null);
            if (bc[k]) await same(bgr[k]!, bc[k]!, TOL[dtype], `backward output ${k}`);
          }
        });
      }
    }
    it(`autograd through F.layerNorm on a non-contiguous input ${dtype}`, async () => {
      const [xt] = randTensor([40, 12], 5, dtype, -1, 2);
      const [w] = randTensor([40], 6, dtype, 0.5, 1.5);
      const [b] = randTensor([40], 7, dtype);
      const [dy] = randTensor([12, 40], 8, dtype);
      const run = async (dev: 'cpu' | 'cuda') => {
        const x = xt.to(dev).transpose(0, 1).detach().requiresGrad_();
        expect(x.isContiguous()).toBe(false);
        const ww = w.to(dev).detach().requiresGrad_(), bb = b.to(dev).detach().requiresGrad_();
        const y = F.layerNorm(x, [40], ww, bb);
        y.backward(dy.to(dev));
        return [y, x.grad!, ww.grad!, bb.grad!];
      };
      const c = await run('cpu'), g = await run('cuda');
      for (let k = 0; k < 4; k++) await same(g[k]!, c[k]!, TOL[dtype], `result ${k}`);
    });
    it(`the weight and bias gradients bit for bit from run to run, x=[4100,16] ${dtype}`, async () => {
      const [x] = randTensor([4100, 16], 11, dtype, -2, 2);
      const [dy] = randTensor([4100, 16], 12, dtype);
      const [w] = randTensor([16], 13, dtype, 0.5, 1.5);
      const xg = x.to('cuda'), dyg = dy.to('cuda'), wg = w.to('cuda');
      const [, m, s] = layerNormForward(xg, [16], wg, null);
      const a = layerNormBackward(dyg, xg, [16], m, s, wg), b2 = layerNormBackward(dyg, xg, [16], m, s, wg);
      for (let k = 1; k < 3; k++) expect(Array.from(await b2[k]!.cpu().data())).toEqual(Array.from(await a[k]!.cpu().data()));
    });
  }
});
