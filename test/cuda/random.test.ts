// native/cuda/random.cu against the CPU backend: the same (seed, offset) gives the same Philox stream on both.
// rand (float32 and float64), randint (int32 and float32) and dropout (values and mask) bit for bit; randn within the
// rounding of the device's log/sin/cos (stated in random.cu). Sizes around the groups of four, several blocks, empty
// tensors, offsets and seeds past 2^32. Runs under TENSILE_EMULATE_CUDA=1 (or a GPU); skipped without CUDA.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, cuda, DeviceError, rand, randn, randint, manualSeed, setRngState, getRngState, dropout, dropoutForward } from '../../lib/index.js';
import { randArray, expectClose, numel } from '../helpers.js';

const SIZES = [[0], [1], [3], [4], [5], [2, 3, 7], [1023], [4097], [3, 70001]];
const STATES = [{ seed: 42, offset: 0 }, { seed: 2 ** 40 + 12345, offset: 2 ** 33 + 7 }];

async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.cpu().data() as ArrayLike<number>);
}
// the same call on both devices from the same generator state; the generator advances alike
async function both(make: (device: 'cpu' | 'cuda') => Tensor, state: { seed: number; offset: number }): Promise<[number[], number[], Tensor]> {
  setRngState(state);
  const h = make('cpu');
  const after = getRngState();
  setRngState(state);
  const c = make('cuda');
  expect(getRngState()).toEqual(after);
  expect(c.device).toBe('cuda:0');
  expect(c.dtype).toBe(h.dtype);
  expect(c.shape).toEqual(h.shape);
  return [await vals(c), await vals(h), c];
}

describe.skipIf(!cuda.isAvailable())('cuda random', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    it(`rand is the CPU's stream bit for bit ${dtype}`, async () => {
      for (const st of STATES)
        for (const s of SIZES) {
          const [c, h] = await both((device) => rand(s, { dtype, device }), st);
          expect(c, `rand [${s}] seed ${st.seed}`).toEqual(h);
          const [c2, h2] = await both((device) => rand(s, { dtype, device, low: -3.25, high: 1e3 / 7 }), st);
          expect(c2, `rand [${s}] low/high`).toEqual(h2);
        }
      // values in [low, high)
      manualSeed(7);
      const v = await vals(rand([5000], { dtype, device: 'cuda', low: 2, high: 3 }));
      expect(v.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(2);
      expect(v.reduce((a, b) => Math.max(a, b))).toBeLessThan(3);
    });

    it(`randn is the CPU's stream within the rounding of log/sin/cos ${dtype}`, async () => {
      for (const st of STATES)
        for (const s of SIZES) {
          const [c, h] = await both((device) => randn(s, { dtype, device, mean: 0.5, std: 2 }), st);
          expectClose(c, h, dtype === 'float32' ? { rtol: 1e-6, atol: 1e-6 } : { rtol: 1e-13, atol: 1e-13 }, `randn [${s}]`);
        }
      // the moments of a large sample
      manualSeed(3);
      const v = await vals(randn([200000], { dtype, device: 'cuda' }));
      const mean = v.reduce((a, b) => a + b, 0) / v.length, sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      expect(Math.abs(mean)).toBeLessThan(0.01);
      expect(Math.abs(sd - 1)).toBeLessThan(0.01);
    });

    it(`dropout: the CPU's mask and values ${dtype}`, async () => {
      for (const st of STATES)
        for (const s of SIZES)
          for (const p of [0, 0.3, 0.9, 1]) {
            const v = randArray(numel(s), 11, -2, 2);
            const x = tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape: s, dtype });
            const xc = x.to('cuda');
            setRngState(st);
            const [yh, mh] = dropoutForward(x, p);
            setRngState(st);
            const [yc, mc] = dropoutForward(xc, p);
            expect(mc.dtype).toBe('uint8');
            expect(await vals(mc), `mask [${s}] p=${p}`).toEqual(await vals(mh));
            expect(await vals(yc), `y [${s}] p=${p}`).toEqual(await vals(yh));
          }
    });

    it(`dropout: the gradient through autograd ${dtype}`, async (ctx) => {
      // the backward casts the mask and multiplies on the device: it needs the device's copy and mul kernels
      const xh = tensor(Float64Array.from(randArray(6 * 9, 5)), { shape: [6, 9], dtype });
      const gh = xh.detach().requiresGrad_(), gc = xh.to('cuda').requiresGrad_();
      const dy = tensor(Float64Array.from(randArray(6 * 9, 6)), { shape: [6, 9], dtype });
      setRngState(STATES[0]!);
      dropout(gh, { p: 0.4, training: true }).backward(dy);
      setRngState(STATES[0]!);
      dropout(gc, { p: 0.4, training: true }).backward(dy.to('cuda'));
      expect(await vals(gc.grad!)).toEqual(await vals(gh.grad!));
    });
  }

  for (const dtype of ['int32', 'float32'] as const) {
    it(`randint is the CPU's stream ${dtype}`, async () => {
      for (const st of STATES)
        for (const s of SIZES)
          for (const [lo, hi] of [[0, 10], [-7, 3], [-(2 ** 31), 2 ** 31 - 1], [5, 6], [0, 1000003]]) {
            const [c, h] = await both((device) => randint(lo!, hi!, s, { dtype, device }), st);
            expect(c, `randint(${lo}, ${hi}) [${s}]`).toEqual(h);
            if (dtype === 'int32' && c.length > 0) {  // (float32 rounds values near 2^31 up to high)
              expect(c.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(lo!);
              expect(c.reduce((a, b) => Math.max(a, b))).toBeLessThan(hi!);
            }
          }
    });
  }
});
