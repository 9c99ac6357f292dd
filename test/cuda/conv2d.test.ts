// conv2d, conv2d_bwd_input, conv2d_bwd_weight (with and without the bias gradient) on 'cuda' (native/cuda/conv2d.cu,
// implicit GEMMs) against the same ops on 'cpu': stride, padding, dilation, groups, the fused bias + ReLU, partial
// tiles and split-K (bitwise the same run to run), empty batches, conv_transpose2d (lib/ builds it from the input
// gradient), gradients through autograd. Skipped without a CUDA device (run under the emulator with
// TENSILE_EMULATE_CUDA=1).
import { describe, it, expect } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardWeightBias, convTranspose2d, cuda, tensor, Tensor, ShapeError } from '../../lib/index.js';
import { randTensor, expectClose, f64, ConvP, numel } from '../helpers.js';

const DTYPES = ['float32', 'float64'] as const;
type DT = (typeof DTYPES)[number];
const tolFor = (dtype: DT) => (dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-10, atol: 1e-10 });

interface Case { x: number[]; w: number[]; p: ConvP; bias?: boolean }
const P = (sh: number, ph: number, dh = 1, g = 1, sw = sh, pw = ph, dw = dh): ConvP => ({ sh, sw, ph, pw, dh, dw, g });
const CASES: Case[] = [
  { x: [2, 3, 7, 9], w: [4, 3, 3, 3], p: P(2, 1), bias: true },
  { x: [1, 1, 5, 5], w: [1, 1, 1, 1], p: P(1, 0) },                   // 1x1
  { x: [3, 8, 6, 5], w: [16, 8, 1, 1], p: P(1, 0), bias: true },      // 1x1 with bias
  { x: [2, 4, 9, 7], w: [6, 2, 3, 3], p: P(1, 1, 1, 2), bias: true }, // groups
  { x: [2, 6, 8, 8], w: [6, 1, 3, 3], p: P(1, 1, 1, 6) },             // depthwise
  { x: [1, 3, 17, 13], w: [5, 3, 3, 5], p: P(2, 2, 2, 1, 1, 1, 1) },  // dilation, asymmetric stride/pad
  { x: [3, 2, 7, 7], w: [3, 2, 7, 7], p: P(1, 0) },                   // kernel as big as the input
  { x: [2, 5, 11, 10], w: [7, 5, 5, 5], p: P(3, 2), bias: true },     // stride 3: most input-gradient taps off the grid
  { x: [4, 3, 1, 33], w: [2, 3, 1, 3], p: P(1, 0) },
  { x: [2, 6, 11, 10], w: [9, 2, 3, 3], p: P(2, 2, 1, 3, 3, 1, 2), bias: true },
  { x: [2, 8, 6, 5], w: [130, 8, 3, 3], p: P(1, 1), bias: true },     // many output channels: several row tiles
  { x: [9, 2, 13, 12], w: [3, 2, 3, 3], p: P(1, 1), bias: true },     // weight gradient over 9*13*12: split-K
  { x: [24, 3, 24, 24], w: [16, 3, 3, 3], p: P(1, 1), bias: true },   // forward N = 13824 columns: the 128x128 tiles
];
const name = (c: Case) => `x=[${c.x}] w=[${c.w}] s=${c.p.sh},${c.p.sw} p=${c.p.ph},${c.p.pw} d=${c.p.dh},${c.p.dw} g=${c.p.g}${c.bias ? ' bias' : ''}`;
const opts = (p: ConvP) => ({ stride: [p.sh, p.sw] as [number, number], padding: [p.ph, p.pw] as [number, number], dilation: [p.dh, p.dw] as [number, number], groups: p.g });

async function same(gpu: Tensor, cpu: Tensor, tol: { rtol: number; atol: number }, what: string): Promise<void> {
  expect(gpu.device).not.toBe('cpu');
  expect(gpu.shape, `${what} shape`).toEqual(cpu.shape);
  expectClose(await f64(gpu.cpu()), await f64(cpu), tol, what);
}

describe.skipIf(!cuda.isAvailable())('cuda conv2d', () => {
  for (const c of CASES)
    for (const dtype of DTYPES) {
      it(`${name(c)} ${dtype}: forward (+ReLU), input and weight (+bias) gradients`, async () => {
        const tol = tolFor(dtype);
        const [x] = randTensor(c.x, numel(c.x), dtype);
        const [w] = randTensor(c.w, numel(c.w) + 7, dtype);
        const [b] = randTensor([c.w[0]!], 99, dtype);
        const xg = x.to('cuda'), wg = w.to('cuda'), bg = b.to('cuda');
        const o = opts(c.p);
        const y = conv2d(x, w, c.bias ? b : null, o);
        await same(conv2d(xg, wg, c.bias ? bg : null, o), y, tol, 'forward');
        await same(conv2d(xg, wg, c.bias ? bg : null, { ...o, relu: true }), conv2d(x, w, c.bias ? b : null, { ...o, relu: true }), tol, 'forward+relu');
        const [dy] = randTensor(y.shape as number[], 5, dtype);
        const dyg = dy.to('cuda');
        await same(conv2dBackwardInput(dyg, wg, c.x, o), conv2dBackwardInput(dy, w, c.x, o), tol, 'backward input');
        await same(conv2dBackwardWeight(dyg, xg, c.w, o), conv2dBackwardWeight(dy, x, c.w, o), tol, 'backward weight');
        const [gw, gb] = conv2dBackwardWeightBias(dyg, xg, c.w, o);
        const [cw, cb] = conv2dBackwardWeightBias(dy, x, c.w, o);
        await same(gw, cw, tol, 'backward weight (with bias)');
        await same(gb, cb, tol, 'backward bias');
      });
    }

  for (const dtype of DTYPES) {
    it(`an empty batch: an empty output, zero weight and bias gradients ${dtype}`, async () => {
      const [x] = randTensor([0, 3, 6, 6], 1, dtype);
      const [w] = randTensor([4, 3, 3, 3], 2, dtype);
      const [b] = randTensor([4], 3, dtype);
      const o = opts(P(1, 1));
      const y = conv2d(x.to('cuda'), w.to('cuda'), b.to('cuda'), o);
      expect(y.shape).toEqual([0, 4, 6, 6]);
      const [dy] = randTensor([0, 4, 6, 6], 4, dtype);
      await same(conv2dBackwardInput(dy.to('cuda'), w.to('cuda'), [0, 3, 6, 6], o), conv2dBackwardInput(dy, w, [0, 3, 6, 6], o), tolFor(dtype), 'dx');
      const [gw, gb] = conv2dBackwardWeightBias(dy.to('cuda'), x.to('cuda'), [4, 3, 3, 3], o);
      expect(Array.from(await f64(gw.cpu()))).toEqual(new Array(4 * 27).fill(0));
      expect(Array.from(await f64(gb.cpu()))).toEqual([0, 0, 0, 0]);
    });

    it(`split-K weight gradients are bitwise the same run to run ${dtype}`, async () => {
      const [x] = randTensor([16, 4, 15, 14], 6, dtype);
      const [dy] = randTensor([16, 5, 15, 14], 7, dtype);
      const xg = x.to('cuda'), dyg = dy.to('cuda');
      const o = opts(P(1, 1));
      const run = async () => {
        const [gw, gb] = conv2dBackwardWeightBias(dyg, xg, [5, 4, 3, 3], o);
        return [await f64(gw.cpu()), await f64(gb.cpu())];
      };
      const r1 = await run(), r2 = await run();
      expect(r1[0]).toEqual(r2[0]);
      expect(r1[1]).toEqual(r2[1]);
      await same(conv2dBackwardWeight(dyg, xg, [5, 4, 3, 3], o), conv2dBackwardWeight(dy, x, [5, 4, 3, 3], o), tolFor(dtype), 'dw');
    });

    it(`Inf in the input reaches the outputs and weight gradients whose windows touch it, as on the cpu ${dtype}`, async () => {
      const S = 9;
      const [x0] = randTensor([2, 1, S, S], 3, dtype);
      const xv = await f64(x0);
      xv[(S - 1) * S] = Infinity;
      xv[4 * S + S - 1] = -Infinity;
      const x = tensor(dtype === 'float32' ? Float32Array.from(xv) : xv, { shape: [2, 1, S, S], dtype });
      const [w] = randTensor([3, 1, 3, 3], 4, dtype);
      const o = opts(P(1, 0));
      const y = conv2d(x, w, null, o);
      await same(conv2d(x.to('cuda'), w.to('cuda'), null, o), y, tolFor(dtype), 'forward');
      const [dy] = randTensor(y.shape as number[], 5, dtype);
      const [gw, gb] = conv2dBackwardWeightBias(dy.to('cuda'), x.to('cuda'), [3, 1, 3, 3], o);
      const [cw, cb] = conv2dBackwardWeightBias(dy, x, [3, 1, 3, 3], o);
      await same(gw, cw, tolFor(dtype), 'dw');
      await same(gb, cb, tolFor(dtype), 'db');
      expect(Array.from(await f64(gw.cpu())).some((v) => Number.isFinite(v))).toBe(true);
    });

    it(`gradients through autograd on cuda match cpu (input, weight, bias) ${dtype}`, async () => {
      const [xv] = randTensor([2, 4, 9, 8], 8, dtype);
      const [wv] = randTensor([6, 2, 3, 3], 9, dtype);
      const [bv] = randTensor([6], 10, dtype);
      const o = opts(P(2, 1, 1, 2));
      const [gv] = randTensor(conv2d(xv, wv, bv, o).shape as number[], 11, dtype);
      const run = async (device: 'cpu' | 'cuda') => {
        const x = xv.to(device).detach().requiresGrad_(), w = wv.to(device).detach().requiresGrad_();
        const b = bv.to(device).detach().requiresGrad_();
        conv2d(x, w, b, o).backward(gv.to(device));
        return [await f64(x.grad!.cpu()), await f64(w.grad!.cpu()), await f64(b.grad!.cpu())];
      };
      const want = await run('cpu'), got = await run('cuda');
      for (let i = 0; i < 3; i++) expectClose(got[i]!, want[i]!, tolFor(dtype), ['dx', 'dw', 'db'][i]);
    });

    it(`conv_transpose2d (the input gradient's kernel) and its gradients ${dtype}`, async () => {
      const [zv] = randTensor([2, 4, 5, 6], 12, dtype);
      const [wv] = randTensor([4, 3, 3, 3], 13, dtype);
      const o = { stride: 2, padding: 1, outputPadding: [1, 0] as [number, number], groups: 1 };
      const y = convTranspose2d(zv, wv, null, o);
      await same(convTranspose2d(zv.to('cuda'), wv.to('cuda'), null, o), y, tolFor(dtype), 'forward');
      const [gv] = randTensor(y.shape as number[], 14, dtype);
      const run = async (device: 'cpu' | 'cuda') => {
        const z = zv.to(device).detach().requiresGrad_(), w = wv.to(device).detach().requiresGrad_();
        convTranspose2d(z, w, null, o).backward(gv.to(device));
        return [await f64(z.grad!.cpu()), await f64(w.grad!.cpu())];
      };
      const want = await run('cpu'), got = await run('cuda');
      expectClose(got[0]!, want[0]!, tolFor(dtype), 'dz');
      expectClose(got[1]!, want[1]!, tolFor(dtype), 'dw');
      // grouped, dilated
      const [z2] = randTensor([1, 6, 4, 5], 15, dtype);
      const [w2] = randTensor([6, 2, 2, 3], 16, dtype);
      const o2 = { stride: [1, 2] as [number, number], padding: [0, 1] as [number, number], dilation: 2, groups: 3 };
      await same(convTranspose2d(z2.to('cuda'), w2.to('cuda'), null, o2), convTranspose2d(z2, w2, null, o2), tolFor(dtype), 'grouped, dilated');
    });
  }

  it('errors are the cpu\'s (class and message)', () => {
    const [x] = randTensor([2, 3, 8, 8], 1);
    const [w] = randTensor([4, 2, 3, 3], 2);
    expect(() => conv2d(x.to('cuda'), w.to('cuda'))).toThrow(ShapeError);
    expect(() => conv2d(x.to('cuda'), w.to('cuda'))).toThrow('conv2d: expected weight of shape [4,3,kh,kw] for input [2,3,8,8] and groups=1, got [4,2,3,3]');
  });
});
