// native/cuda/topk.cu's multinomial against the CPU's: the same seed gives the same samples, with replacement (the
// same draws, the same chunked float64 running sums, the same searches) and without (the same keys up to the
// device's log, the same sort order), for rows of a few to thousands of categories, zero weights, float32 and
// float64; the generator advances alike; and the kernel's errors with the CPU's messages. Runs under
// TENSILE_EMULATE_CUDA=1 (or a GPU).
import { describe, it, expect } from 'vitest';
import { tensor, multinomial, cuda, setRngState, getRngState, NativeError } from '../../lib/index.js';
import { randArray, rejectsExactly } from '../helpers.js';

const weights = (B: number, n: number, seed: number) =>
  Array.from({ length: B }, (_, b) => Array.from(randArray(n, seed + b, 0, 2), (v, i) => (i % 7 === 2 ? 0 : v)));

describe.skipIf(!cuda.isAvailable())('cuda multinomial against the CPU', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`the same samples for the same seed, ${dtype}, with and without replacement`, async () => {
      for (const [B, n, S] of [[1, 5, 3], [3, 257, 40], [2, 3000, 100], [4, 600, 600 - 86]] as [number, number, number][]) {
        for (const replacement of [true, false]) {
          if (!replacement && S > n - Math.ceil((n - 2) / 7)) continue;
          const w = weights(B, n, n);
          const state = { seed: 2 ** 35 + n, offset: 3 };
          setRngState(state);
          const c = Array.from(await multinomial(tensor(w, { dtype }), S, { replacement }).data());
          const after = getRngState();
          setRngState(state);
          const g = multinomial(tensor(w, { dtype, device: 'cuda' }), S, { replacement });
          expect(g.device).toBe('cuda:0');
          expect(getRngState()).toEqual(after);
          expect(Array.from(await g.cpu().data()), `B ${B} n ${n} S ${S} replacement ${replacement}`).toEqual(c);
        }
      }
    });
    it(`errors with the CPU's messages, ${dtype}`, async () => {
      const on = (v: number[][]) => tensor(v, { dtype, device: 'cuda' });
      await rejectsExactly(multinomial(on([[1, 2], [3, -1]]), 1).data(), NativeError, 'multinomial: expected non-negative finite weights, got -1 at [1, 1]');
      await rejectsExactly(multinomial(on([[1, NaN]]), 1, { replacement: true }).data(), NativeError, 'multinomial: expected non-negative finite weights, got nan at [0, 1]');
      await rejectsExactly(multinomial(on([[1, 2], [0, 0]]), 1).data(), NativeError, 'multinomial: expected every row to have a positive finite sum, got 0 in row 1');
      await rejectsExactly(multinomial(on([[1, 2, 3], [0, 4, 0]]), 2).data(), NativeError, 'multinomial: expected numSamples <= the number of non-zero weights without replacement, got 2 > 1 in row 1');
    });
  }
});
