// The CUDA kernels of native/cuda/norm.cu (batch_norm forward in training and eval, running-stat updates,
// batch_norm_bwd) against the same ops on the CPU. Runs where a GPU (or, with TENSILE_EMULATE_CUDA=1, the emulator)
// is available; skipped otherwise.
import { describe, it, expect } from 'vitest';
import { cuda, Tensor, batchNorm, batchNormForward, batchNormBackward } from '../../lib/index.js';
import { randTensor, expectClose, f64, numel } from '../helpers.js';
import { same, type Tol } from './helpers.js';

const HAS = cuda.isAvailable();
const TOL: Record<'float32' | 'float64', Tol> = { float32: { rtol: 1e-5, atol: 2e-6 }, float64: { rtol: 1e-11, atol: 1e-12 } };
const DTYPES = ['float32', 'float64'] as const;


// [N, C] and [N, C, ...]: S == 1 (one reduction level), short and long rows (several blocks per channel, R split),
// odd sizes, one sample, many channels
const SHAPES: number[][] = [
  [2, 3], [7, 5], [300, 3], [5000, 2], [4, 3, 5], [3, 2, 7, 7], [2, 4, 300], [9, 40, 2], [1, 2, 2], [2, 3, 1, 1],
  [2, 2, 200, 100], [16, 70, 3, 3],
];

function params(C: number, dtype: 'float32' | 'float64', seed: number) {
  const [g] = randTensor([C], seed, dtype, 0.5, 1.5);
  const [b] = randTensor([C], seed + 1, dtype, -1, 1);
  const [rm] = randTensor([C], seed + 2, dtype, -0.5, 0.5);
  const [rv] = randTensor([C], seed + 3, dtype, 0.5, 2);
  return { g, b, rm, rv };
}

describe.skipIf(!HAS)('cuda batch_norm', () => {
  for (const dtype of DTYPES) {
    for (const shape of SHAPES) {
      for (const training of [true, false]) {
        it(`x=[${shape}] training=${training} ${dtype}: y, saved stats, running stats, backward`, async () => {
          const C = shape[1]!;
          const [x] = randTensor(shape, numel(shape) + 5, dtype, -2, 5);
          const [dy] = randTensor(shape, numel(shape) + 6, dtype);
          const p = params(C, dtype, C);
          const q = { g: p.g.to('cuda'), b: p.b.to('cuda'), rm: p.rm.to('cuda'), rv: p.rv.to('cuda') };
          const xg = x.to('cuda'), dyg = dy.to('cuda');
          for (const [momentum, eps] of [[0.1, 1e-5], [0.5, 1e-3], [1, 1e-5], [0, 0.1]] as const) {
            const what = `momentum=${momentum} eps=${eps}`;
            const fc = batchNormForward(x, p.g, p.b, p.rm, p.rv, { training, momentum, eps });
            const fg = batchNormForward(xg, q.g, q.b, q.rm, q.rv, { training, momentum, eps });
            for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, TOL[dtype], `${what} output ${k}`);
            // the running statistics (updated in place in training, untouched in eval)
            await same(q.rm, p.rm, TOL[dtype], `${what} runningMean`);
            await same(q.rv, p.rv, TOL[dtype], `${what} runningVar`);
            const bc = batchNormBackward(dy, x, p.g, fc[1]!, fc[2]!, training);
            const bg = batchNormBackward(dyg, xg, q.g, fg[1]!, fg[2]!, training);
            for (let k = 0; k < 3; k++) await same(bg[k]!, bc[k]!, TOL[dtype], `${what} backward output ${k}`);
          }
        });
      }
    }
    it(`autograd through batchNorm (input, weight, bias) ${dtype}`, async () => {
      for (const shape of [[6, 3, 4, 5], [10, 4]]) {
        for (const training of [true, false]) {
          const C = shape[1]!;
          const [x] = randTensor(shape, 3, dtype, -1, 3);
          const [w] = randTensor(shape, 4, dtype);
          const p = params(C, dtype, 7);
          const run = async (dev: 'cpu' | 'cuda') => {
            const xx = x.to(dev).detach().requiresGrad_(), g = p.g.to(dev).detach().requiresGrad_(), b = p.b.to(dev).detach().requiresGrad_();
            const rm = p.rm.to(dev).clone(), rv = p.rv.to(dev).clone();
            batchNorm(xx, rm, rv, g, b, { training }).backward(w.to(dev));
            return [xx.grad!, g.grad!, b.grad!, rm, rv];
          };
          const c = await run('cpu'), g = await run('cuda');
          for (let k = 0; k < c.length; k++) await same(g[k]!, c[k]!, TOL[dtype], `x=[${shape}] training=${training} result ${k}`);
        }
      }
    });
    it(`strided input and dy (views of [N, C, S]) ${dtype}`, async () => {
      // x every second sample: a view whose [N, C, S] reshape keeps a stride; dy a transposed-back view
      const [big] = randTensor([10, 3, 4, 6], 21, dtype, -1, 2);
      const [dyt] = randTensor([3, 5, 4, 6], 22, dtype);
      const xc = big.slice(0, 0, 10, 2), xg = big.to('cuda').slice(0, 0, 10, 2);
      const dyc = dyt.transpose(0, 1), dyg = dyt.to('cuda').transpose(0, 1);
      expect(xg.isContiguous()).toBe(false);
      expect(dyg.isContiguous()).toBe(false);
      const p = params(3, dtype, 9);
      const q = { g: p.g.to('cuda'), b: p.b.to('cuda'), rm: p.rm.to('cuda'), rv: p.rv.to('cuda') };
      for (const training of [true, false]) {
        // the reference: the CPU on contiguous copies
        const fc = batchNormForward(xc.contiguous(), p.g, p.b, p.rm, p.rv, { training });
        const fg = batchNormForward(xg, q.g, q.b, q.rm, q.rv, { training });
        for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, TOL[dtype], `training=${training} output ${k}`);
        await same(q.rm, p.rm, TOL[dtype], 'runningMean');
        await same(q.rv, p.rv, TOL[dtype], 'runningVar');
        const bc = batchNormBackward(dyc.contiguous(), xc.contiguous(), p.g, fc[1]!, fc[2]!, training);
        const bg = batchNormBackward(dyg, xg, q.g, fg[1]!, fg[2]!, training);
        for (let k = 0; k < 3; k++) await same(bg[k]!, bc[k]!, TOL[dtype], `training=${training} backward output ${k}`);
      }
    });
  }
  it('is deterministic: the same bits run after run', async () => {
    const [x] = randTensor([4, 3, 100, 60], 1, 'float32', -1, 1);
    const xg = x.to('cuda');
    const p = params(3, 'float32', 2);
    const q = { g: p.g.to('cuda'), b: p.b.to('cuda') };
    const once = async () => {
      const rm = p.rm.to('cuda').clone(), rv = p.rv.to('cuda').clone();
      const [y, m, s] = batchNormForward(xg, q.g, q.b, rm, rv, { training: true });
      const [dx, dg, db] = batchNormBackward(y, xg, q.g, m, s, true);
      return Promise.all([y, m, s, rm, rv, dx, dg, db].map((t) => f64(t.cpu())));
    };
    const first = await once();
    for (let k = 0; k < 2; k++) expect(await once()).toEqual(first);
  });
});
