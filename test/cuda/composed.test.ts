// The lib-level ops composed of other ops (triu/tril, maskedFill, split/chunk, repeatInterleave, rmsNorm) on cuda
// against the same ops on the CPU: forward values, dtypes and devices, and the gradients through autograd. They have
// no kernels of their own, so this checks that every piece they are made of (the ranges and masks, where, views,
// index_select, the reductions) runs on the device and that nothing crosses devices. Runs where cuda.isAvailable()
// (TENSILE_EMULATE_CUDA=1: the SIMT emulator), skipped elsewhere.
import { describe, it, expect } from 'vitest';
import { cuda, tensor, triu, tril, maskedFill, split, chunk, repeatInterleave, F, nn } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { randArray, randTensor, numel } from '../helpers.js';
import { same, type Tol } from './helpers.js';

const HAS = cuda.isAvailable();
const EXACT: Tol = { rtol: 0, atol: 0 };
const TOL: Record<'float32' | 'float64', Tol> = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-12, atol: 1e-13 } };

let seed = 51;
const ints = (shape: number[], dtype: 'int32' | 'uint8') =>
  tensor((dtype === 'int32' ? Int32Array : Uint8Array).from(randArray(numel(shape), seed++, 0, 200), Math.round), { shape, dtype });
// the same values as a leaf on the CPU and one on the GPU (both requiring grad)
function pair(shape: number[], dtype: 'float32' | 'float64'): [Tensor, Tensor] {
  const [c] = randTensor(shape, seed++, dtype, -2, 2);
  const g = c.to('cuda');
  return [c.requiresGrad_(), g.requiresGrad_()];
}
// the backward of sum(y * w) on both devices, w the same seeded weights
function backward(yc: Tensor, yg: Tensor): void {
  const [w] = randTensor([...yc.shape], seed++, yc.dtype as 'float32' | 'float64');
  yc.mul(w).sum().backward();
  yg.mul(w.to('cuda')).sum().backward();
}

describe.skipIf(!HAS)('cuda composed ops vs cpu', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`triu / tril x=[2,3,5,4] ${dtype}, diagonals -2..2: values and gradients`, async () => {
      for (let k = -2; k <= 2; k++) {
        for (const f of [triu, tril]) {
          const [c, g] = pair([2, 3, 5, 4], dtype);
          const yc = f(c, k), yg = f(g, k);
          await same(yg, yc, EXACT, `${f.name}(${k})`);
          backward(yc, yg);
          await same(g.grad!, c.grad!, EXACT, `${f.name}(${k}) gradient`);
        }
      }
    });
    it(`maskedFill x=[2,3,4,5] ${dtype}, masks [5], [4,5], [2,1,1,5]: values and gradients`, async () => {
      for (const ms of [[5], [4, 5], [2, 1, 1, 5]]) {
        const m = tensor(Uint8Array.from(randArray(numel(ms), seed++, 0, 1), (r) => (r < 0.4 ? 1 : 0)), { shape: ms, dtype: 'uint8' });
        const [c, g] = pair([2, 3, 4, 5], dtype);
        const yc = maskedFill(c, m, -1e9), yg = g.maskedFill(m.to('cuda'), -1e9);
        await same(yg, yc, EXACT, `mask [${ms}]`);
        backward(yc, yg);
        await same(g.grad!, c.grad!, EXACT, `mask [${ms}] gradient`);
      }
    });
    it(`split / chunk x=[7,6] ${dtype}: pieces (views on the device) and the input's gradient`, async () => {
      const [c, g] = pair([7, 6], dtype);
      const pc = [...split(c, 3), ...chunk(c, 4, 1)], pg = [...g.split(3), ...g.chunk(4, 1)];
      expect(pg.map((p) => p.shape)).toEqual(pc.map((p) => p.shape));
      for (let i = 0; i < pc.length; i++) await same(pg[i]!, pc[i]!, EXACT, `piece ${i}`);
      const loss = (ps: Tensor[]) => ps.map((p, i) => p.mul(p).sum().mul(i + 1)).reduce((a, b) => a.add(b));
      loss(pc).backward();
      loss(pg).backward();
      await same(g.grad!, c.grad!, TOL[dtype], 'gradient');
    });
    it(`repeatInterleave x=[3,4] ${dtype}: one count, counts per entry (array and an int32 tensor on the device), no dim`, async () => {
      const cases: [string, (t: Tensor, dev: 'cpu' | 'cuda') => Tensor][] = [
        ['2 dim 1', (t) => t.repeatInterleave(2, 1)],
        ['[2,0,3] dim 0', (t) => repeatInterleave(t, [2, 0, 3], 0)],
        ['int32 tensor [1,3,0,2] dim -1', (t, dev) => t.repeatInterleave(tensor([1, 3, 0, 2], { dtype: 'int32' }).to(dev), -1)],
        ['3, no dim', (t) => t.repeatInterleave(3)],
      ];
      for (const [what, f] of cases) {
        const [c, g] = pair([3, 4], dtype);
        const yc = f(c, 'cpu'), yg = f(g, 'cuda');
        await same(yg, yc, EXACT, what);
        backward(yc, yg);
        await same(g.grad!, c.grad!, TOL[dtype], `${what} gradient`);
      }
    });
    it(`rmsNorm x=[4,3,8] ${dtype} over [8] and [3,8], with and without weight, default eps: values and gradients`, async () => {
      for (const ns of [[8], [3, 8]]) {
        const [c, g] = pair([4, 3, 8], dtype);
        const [wc, wg] = pair(ns, dtype);
        const yc = F.rmsNorm(c, ns, wc), yg = F.rmsNorm(g, ns, wg);
        await same(yg, yc, TOL[dtype], `[${ns}]`);
        backward(yc, yg);
        await same(g.grad!, c.grad!, TOL[dtype], `[${ns}] input gradient`);
        await same(wg.grad!, wc.grad!, TOL[dtype], `[${ns}] weight gradient`);
        await same(F.rmsNorm(g, ns), F.rmsNorm(c, ns), TOL[dtype], `[${ns}] no weight`);
      }
      const m = new nn.RMSNorm(8, { dtype });
      const [x] = randTensor([2, 8], seed++, dtype);
      const yc = m.forward(x);
      m.to('cuda');
      await same(m.forward(x.to('cuda')), yc, TOL[dtype], 'nn.RMSNorm moved to cuda');
    });
  }
  for (const dtype of ['int32', 'uint8'] as const) {
    it(`${dtype}: triu / tril, maskedFill, split, repeatInterleave`, async () => {
      const c = ints([3, 4, 5], dtype), g = c.to('cuda');
      const m = tensor(Uint8Array.from([1, 0, 0, 1, 0]), { dtype: 'uint8' });
      await same(triu(g, 1), triu(c, 1), EXACT, 'triu');
      await same(tril(g, -1), tril(c, -1), EXACT, 'tril');
      await same(g.maskedFill(m.to('cuda'), 7), c.maskedFill(m, 7), EXACT, 'maskedFill');
      const pc = c.split([1, 3], 1), pg = g.split([1, 3], 1);
      for (let i = 0; i < 2; i++) await same(pg[i]!, pc[i]!, EXACT, `split piece ${i}`);
      await same(g.repeatInterleave([0, 2, 1], 0), c.repeatInterleave([0, 2, 1], 0), EXACT, 'repeatInterleave');
    });
  }
});
