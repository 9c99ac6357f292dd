// Finite-difference gradient checks in float64 of F.scaledDotProductAttention's fused backward (q, k and v), with and
// without masks, causal, broadcast batch dims, a given scale, dropout (a fixed stream: the same weights dropped on
// every evaluation), and rows with every key masked (zero gradients there).
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, gradcheck, F, manualSeed } from '../../lib/index.js';
import { randArray } from '../helpers.js';

let seed = 1;
const x64 = (shape: number[], lo = -1, hi = 1) => tensor(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), { shape, dtype: 'float64' }).requiresGrad_();
async function check(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) {
  const r = await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
  expect(r.worst, `worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
}
const boolMask = (shape: number[], keep: number) =>
  tensor(Uint8Array.from(randArray(shape.reduce((a, b) => a * b, 1), seed++, 0, 1), (x) => (x < keep ? 1 : 0)), { shape, dtype: 'uint8' });

describe('gradcheck: scaledDotProductAttention (fused backward)', () => {
  const cases: [string, number[], number[], number[], () => F.AttentionOptions][] = [
    ['plain, L != S, E != Ev', [2, 5, 3], [2, 7, 3], [2, 7, 4], () => ({})],
    ['no batch dims', [4, 3], [6, 3], [6, 2], () => ({})],
    ['broadcast batch dims (k, v shared over the batch)', [2, 3, 4, 3], [1, 3, 5, 3], [2, 1, 5, 2], () => ({})],
    ['causal L < S', [1, 2, 4, 3], [1, 2, 6, 3], [1, 2, 6, 3], () => ({ isCausal: true })],
    ['causal L > S', [2, 6, 3], [2, 4, 3], [2, 4, 2], () => ({ isCausal: true })],
    ['bool mask [L,S] broadcast over the batch', [2, 5, 3], [2, 6, 3], [2, 6, 3], () => ({ attnMask: boolMask([5, 6], 0.7) })],
    ['additive mask [B,1,L,S] over heads', [2, 2, 4, 3], [2, 2, 5, 3], [2, 2, 5, 2], () => ({ attnMask: tensor(randArray(40, seed++, -1, 1), { shape: [2, 1, 4, 5], dtype: 'float64' }) })],
    ['scale 0.7', [1, 4, 5], [1, 3, 5], [1, 3, 2], () => ({ scale: 0.7 })],
    ['all-masked rows (mask [L,1])', [1, 5, 3], [1, 4, 3], [1, 4, 2], () => ({ attnMask: tensor(Uint8Array.from([1, 0, 1, 1, 0]), { shape: [5, 1], dtype: 'uint8' }) })],
    ['partial blocks L = 67, S = 66 (two tiles each)', [1, 67, 2], [1, 66, 2], [1, 66, 2], () => ({ isCausal: true })],
  ];
  for (const [name, qs, ks, vs, opts] of cases) {
    it(`${name}: q=[${qs}] k=[${ks}] v=[${vs}]`, async () => {
      const o = opts();
      await check((q, k, v) => F.scaledDotProductAttention(q!, k!, v!, o), [x64(qs), x64(ks), x64(vs)]);
    });
  }
  it('dropoutP 0.4 with a fixed stream: q=[2,5,3] k=[2,7,3] v=[2,7,2]', async () => {
    await check((q, k, v) => {
      manualSeed(3);
      return F.scaledDotProductAttention(q!, k!, v!, { dropoutP: 0.4 });
    }, [x64([2, 5, 3]), x64([2, 7, 3]), x64([2, 7, 2])]);
  });
  it('only some inputs require grad: q=[2,4,3] (no grad) k, v', async () => {
    const q = x64([2, 4, 3]).detach();
    await check((k, v) => F.scaledDotProductAttention(q, k!, v!, {}), [x64([2, 5, 3]), x64([2, 5, 2])]);
  });
});
