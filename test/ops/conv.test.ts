import { describe, it, expect } from 'vitest';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardWeightBias, convTranspose2d, tensor, ones, ShapeError, DTypeError, ArgumentError } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, refConv, refConvGrads, expectClose, f64, ConvP, randArray, numel } from '../helpers.js';
import { tfConv } from '../tfjs.js';

interface Case { x: number[]; w: number[]; p: ConvP; bias?: boolean }
const P = (sh: number, ph: number, dh = 1, g = 1, sw = sh, pw = ph, dw = dh): ConvP => ({ sh, sw, ph, pw, dh, dw, g });
const CASES: Case[] = [
  { x: [2, 3, 7, 9], w: [4, 3, 3, 3], p: P(2, 1) },
  { x: [1, 1, 5, 5], w: [1, 1, 1, 1], p: P(1, 0) },                 // 1x1 fast path
  { x: [3, 8, 6, 5], w: [16, 8, 1, 1], p: P(1, 0), bias: true },    // 1x1 fast path with bias
  { x: [2, 4, 9, 7], w: [6, 2, 3, 3], p: P(1, 1, 1, 2) },           // groups
  { x: [2, 6, 8, 8], w: [6, 1, 3, 3], p: P(1, 1, 1, 6) },           // depthwise
  { x: [1, 3, 17, 13], w: [5, 3, 3, 5], p: P(2, 2, 2, 1, 1, 1, 1) }, // dilation, asymmetric stride/pad
  { x: [3, 2, 7, 7], w: [3, 2, 7, 7], p: P(1, 0) },                 // kernel as big as the input
  { x: [2, 5, 11, 10], w: [7, 5, 5, 5], p: P(3, 2), bias: true },
  { x: [4, 3, 1, 33], w: [2, 3, 1, 3], p: P(1, 0) },
  // direct kernels (few taps, unit stride along w): C=1 with a partial block of output channels, 'same' padding
  // with more than four vectors per output row, row stride and dilation, three channels
  { x: [3, 1, 28, 28], w: [6, 1, 3, 3], p: P(1, 0), bias: true },
  { x: [2, 1, 12, 70], w: [5, 1, 5, 5], p: P(1, 2), bias: true },
  { x: [2, 3, 13, 11], w: [4, 3, 3, 3], p: P(2, 1, 2, 1, 1, 2, 2) },
  { x: [1, 2, 6, 40], w: [9, 2, 3, 5], p: P(1, 1, 1, 1, 1, 2, 1), bias: true },
  { x: [2, 2, 11, 13], w: [3, 2, 3, 3], p: P(1, 2, 2) },  // dilation 2, padding 2 (its backward input is direct too)
  // row blocks of 12 and 4 and a partial last block: a backward input with one output channel (31 rows), a forward
  // with two (30 rows, three input channels)
  { x: [2, 1, 31, 20], w: [4, 1, 3, 3], p: P(1, 1), bias: true },
  { x: [2, 3, 30, 17], w: [2, 3, 3, 3], p: P(1, 1) },
  { x: [2, 8, 6, 5], w: [130, 8, 3, 3], p: P(1, 1), bias: true },  // many output channels: dw = dy x col^T
  // large maps: the forward runs in bands of output rows (a partial last band; a row stride of 2)
  { x: [1, 8, 40, 36], w: [4, 8, 3, 3], p: P(1, 1), bias: true },
  { x: [1, 3, 70, 70], w: [2, 3, 5, 5], p: P(2, 1, 1, 1, 1), bias: true },
];

const name = (c: Case) => `x=[${c.x}] w=[${c.w}] s=${c.p.sh},${c.p.sw} p=${c.p.ph},${c.p.pw} d=${c.p.dh},${c.p.dw} g=${c.p.g}${c.bias ? ' bias' : ''}`;
const opts = (p: ConvP) => ({ stride: [p.sh, p.sw] as [number, number], padding: [p.ph, p.pw] as [number, number], dilation: [p.dh, p.dw] as [number, number], groups: p.g });

for (const isa of availableIsas()) {
  describe(`conv2d isa=${isa}`, () => {
    for (const c of CASES) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`conv2d ${name(c)} ${dtype}`, withIsa(isa, async () => {
          const tol = dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-10, atol: 1e-10 };
          const [x, xv] = randTensor(c.x, numel(c.x), dtype);
          const [w, wv] = randTensor(c.w, numel(c.w) + 7, dtype);
          const [b, bv] = randTensor([c.w[0]!], 99, dtype);
          const ref = refConv(xv, c.x, wv, c.w, c.p, c.bias ? bv : undefined);
          const y = conv2d(x, w, c.bias ? b : null, opts(c.p));
          expect(y.shape).toEqual(ref.shape);
          expectClose(await f64(y), ref.y, tol, 'forward');
          const relu = conv2d(x, w, c.bias ? b : null, { ...opts(c.p), relu: true });
          expectClose(await f64(relu), ref.y.map((v) => Math.max(0, v)), tol, 'forward+relu');
          const dyv = randArray(ref.y.length, 5);
          const dy = tensor(dtype === 'float32' ? Float32Array.from(dyv) : dyv, { shape: ref.shape, dtype });
          const dyr = dtype === 'float32' ? Float64Array.from(Float32Array.from(dyv)) : dyv;
          const g = refConvGrads(xv, c.x, wv, c.w, dyr, c.p);
          expectClose(await f64(conv2dBackwardInput(dy, w, c.x, opts(c.p))), g.dx, tol, 'backward input');
          expectClose(await f64(conv2dBackwardWeight(dy, x, c.w, opts(c.p))), g.dw, tol, 'backward weight');
          const [gw, gb] = conv2dBackwardWeightBias(dy, x, c.w, opts(c.p));
          expectClose(await f64(gw), g.dw, tol, 'backward weight (with bias)');
          const K = c.w[0]!, hw = ref.y.length / (c.x[0]! * K), db = new Float64Array(K);
          for (let i = 0; i < ref.y.length; i++) db[Math.floor(i / hw) % K] += dyr[i]!;
          expectClose(await f64(gb), db, tol, 'backward bias');
        }));
      }
    }
  });
}

describe('conv2d with non-finite inputs', () => {
  // an Inf reaches only the gradient entries whose windows touch it, as in the float64 reference: the direct
  // kernels' padding lanes and rows (past the last output column / row) must add exactly nothing
  for (const isa of availableIsas()) for (const k of [3, 5]) {
    it(`Inf in the last row and column, ${k}x${k}: forward, weight and bias gradients like the reference (isa=${isa})`, withIsa(isa, async () => {
      const S = 9, xs = [2, 1, S, S], ws = [3, 1, k, k];
      const [, xv] = randTensor(xs, 3, 'float64');
      xv[(S - 1) * S + 0] = Infinity;  // the last row: reached only through the last tap row
      xv[4 * S + S - 1] = -Infinity;  // the last column: reached only through the last tap column
      const x = tensor(Float32Array.from(xv), { shape: xs });
      const [w, wv] = randTensor(ws, 4, 'float32');
      const p = P(1, 0);
      const ref = refConv(Float64Array.from(Float32Array.from(xv)), xs, wv, ws, p);
      const dyv = randArray(ref.y.length, 5);
      const dy = tensor(Float32Array.from(dyv), { shape: ref.shape });
      const g = refConvGrads(Float64Array.from(Float32Array.from(xv)), xs, wv, ws, Float64Array.from(Float32Array.from(dyv)), p);
      const [gw, gb] = conv2dBackwardWeightBias(dy, x, ws, opts(p));
      expectClose(await f64(gw), g.dw, { rtol: 1e-4, atol: 1e-4 }, 'dw');
      expect(Array.from(await f64(gw)).some((v) => Number.isFinite(v))).toBe(true);
      // the bias gradient sums dy alone (the Infs of x must not reach it): per output channel, over batch and map
      const K = ws[0]!, hw = ref.y.length / (xs[0]! * K), dyr = Float64Array.from(Float32Array.from(dyv)), db = new Float64Array(K);
      for (let i = 0; i < ref.y.length; i++) db[Math.floor(i / hw) % K] += dyr[i]!;
      expectClose(await f64(gb), db, { rtol: 1e-5, atol: 1e-5 }, 'db');
      // and the forward: Inf wherever a window holds an Inf times a non-zero weight, like the reference
      expectClose(await f64(conv2d(x, w, null, opts(p))), ref.y, { rtol: 1e-4, atol: 1e-4 }, 'forward');
    }));
  }
});

describe('conv2d against tfjs (independent implementation)', () => {
  const TF_CASES: Case[] = [
    { x: [2, 3, 7, 9], w: [4, 3, 3, 3], p: P(2, 1) },
    { x: [2, 4, 10, 10], w: [5, 4, 3, 3], p: P(1, 1) }, // tfjs has no gradient for dilation > 1
    { x: [3, 2, 8, 6], w: [3, 2, 5, 3], p: P(1, 2) },
  ];
  for (const c of TF_CASES) {
    it(`forward and both gradients ${name(c)}`, async () => {
      const [x, xv] = randTensor(c.x, 1);
      const [w, wv] = randTensor(c.w, 2);
      const ref = await tfConv(xv, c.x, wv, c.w, [c.p.sh, c.p.sw], [c.p.ph, c.p.pw], [c.p.dh, c.p.dw]);
      const y = conv2d(x, w, null, opts(c.p));
      const tol = { rtol: 1e-4, atol: 1e-4 };
      expectClose(await f64(y), ref.y, tol, 'forward');
      const dy = ones(y.shape);
      expectClose(await f64(conv2dBackwardInput(dy, w, c.x, opts(c.p))), ref.dx, tol, 'dx');
      expectClose(await f64(conv2dBackwardWeight(dy, x, c.w, opts(c.p))), ref.dw, tol, 'dw');
    });
  }
});

describe('conv2d padding modes and conv_transpose2d', () => {
  it("padding 'same' keeps H and W, even kernels pad bottom/right", async () => {
    const [x, xv] = randTensor([1, 2, 6, 5], 3);
    const [w, wv] = randTensor([3, 2, 4, 2], 4);
    const y = conv2d(x, w, null, { padding: 'same' });
    expect(y.shape).toEqual([1, 3, 6, 5]);
    // PyTorch's rule: total padding 3 rows (top 1, bottom 2) and 1 column (left 0, right 1). Pad by hand, then 'valid'.
    const H = 9, W = 6;
    const xp = new Float64Array(2 * H * W);
    for (let c = 0; c < 2; c++) for (let h = 0; h < 6; h++) for (let v = 0; v < 5; v++) xp[(c * H + h + 1) * W + v] = xv[(c * 6 + h) * 5 + v]!;
    const ref = refConv(xp, [1, 2, H, W], wv, [3, 2, 4, 2], P(1, 0));
    expect(ref.shape).toEqual([1, 3, 6, 5]);
    expectClose(await f64(y), ref.y, { rtol: 1e-4, atol: 1e-5 }, 'same');
    expect(conv2d(x, w, null, { padding: 'valid' }).shape).toEqual([1, 3, 3, 4]);
  });
  it('conv_transpose2d is the adjoint of conv2d: <conv(x), y> = <x, convT(y)>', async () => {
    const [x] = randTensor([2, 3, 9, 8], 7, 'float64');
    const [w] = randTensor([4, 3, 3, 3], 8, 'float64');
    const o = { stride: 2, padding: 1 };
    const y = conv2d(x, w, null, o);
    const [r] = randTensor(y.shape as number[], 9, 'float64');
    const z = convTranspose2d(r, w, null, { ...o, outputPadding: [0, 1] });
    expect(z.shape).toEqual([2, 3, 9, 8]);
    const lhs = await y.mul(r).sum().item();
    const rhs = await x.mul(z).sum().item();
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * Math.max(1, Math.abs(lhs)));
  });
  it('conv_transpose2d output size with outputPadding', () => {
    const [x] = randTensor([1, 4, 7, 7], 1);
    const [w] = randTensor([4, 2, 3, 3], 2);
    expect(convTranspose2d(x, w, null, { stride: 2, padding: 1, outputPadding: 1 }).shape).toEqual([1, 2, 14, 14]);
  });
});

describe('conv2d errors', () => {
  const [x] = randTensor([2, 3, 8, 8], 1);
  const [w] = randTensor([4, 3, 3, 3], 2);
  it('wrong rank', () => {
    const [x3] = randTensor([3, 32, 32], 1);
    expect(() => conv2d(x3, w)).toThrow(ShapeError);
    expect(() => conv2d(x3, w)).toThrow('conv2d: expected input of rank 4 (N,C,H,W), got shape [3,32,32]');
  });
  it('channel mismatch', () => {
    const [w2] = randTensor([4, 2, 3, 3], 2);
    expect(() => conv2d(x, w2)).toThrow('conv2d: expected weight of shape [4,3,kh,kw] for input [2,3,8,8] and groups=1, got [4,2,3,3]');
  });
  it('kernel larger than the padded input', () => {
    const [w9] = randTensor([4, 3, 9, 9], 2);
    expect(() => conv2d(x, w9)).toThrow(ShapeError);
    expect(() => conv2d(x, w9, null, { padding: 1 })).not.toThrow();
  });
  it('bad stride, groups and dtype', () => {
    expect(() => conv2d(x, w, null, { stride: 0 })).toThrow(ArgumentError);
    expect(() => conv2d(x, w, null, { groups: 2 })).toThrow(ShapeError);
    expect(() => conv2d(x, w.cast('float64'))).toThrow(DTypeError);
    expect(() => conv2d(x.cast('int32'), w)).toThrow(DTypeError);
    expect(() => conv2d(x, w, null, { padding: 'same', stride: 2 })).toThrow(ArgumentError);
  });
});
