// Modules without a behavioural test elsewhere: each is compared with its functional op (bit for bit: the module is
// a thin wrapper) and with a plain float64 reference written here from PyTorch's documented formulas.
import { describe, it, expect } from 'vitest';
import { nn, F, tensor, manualSeed, Tensor, ArgumentError } from '../../lib/index.js';
import { randTensor, randArray, expectClose, f64, TOL, numel } from '../helpers.js';
import { covers } from './coverage.js';

covers('nn.ConvTranspose2d');
covers('nn.AdaptiveAvgPool2d');
covers('nn.BatchNorm1d');
covers('nn.LayerNorm');
covers('nn.GELU');
covers('nn.SiLU');
covers('nn.Sigmoid');
covers('nn.Tanh');
covers('nn.LeakyReLU');
covers('nn.ELU');
covers('nn.Softmax');
covers('nn.LogSoftmax');
covers('nn.ModuleList');
covers('nn.CrossEntropyLoss');
covers('nn.NLLLoss');
covers('nn.MSELoss');
covers('nn.L1Loss');
covers('nn.BCELoss');
covers('nn.BCEWithLogitsLoss');
covers('F.maxPool2dIndices');
// the functional ops the modules wrap: each module's output is compared with its op bit for bit, and with the reference
covers('F.gelu');
covers('F.silu');
covers('F.sigmoid');
covers('F.tanh');
covers('F.leakyRelu');
covers('F.elu');
covers('F.softmax');
covers('F.logSoftmax');
covers('F.layerNorm');
covers('F.mseLoss');
covers('F.l1Loss');
covers('F.nllLoss');
covers('F.binaryCrossEntropy');
covers('F.binaryCrossEntropyWithLogits');
covers('F.crossEntropy');
covers('F.adaptiveAvgPool2d');
covers('F.convTranspose2d');
covers('F.batchNorm');

const same = async (a: Tensor, b: Tensor, what: string) => {
  expect(a.shape, what).toEqual(b.shape);
  expect(Array.from(await a.data()), what).toEqual(Array.from(await b.data()));
};

/** erf by its Maclaurin series (|x| <= 4: about 1e-9 absolute in float64), for the exact GELU. */
function erf(x: number): number {
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('activation modules', () => {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const CASES: [string, () => nn.Module, (x: Tensor) => Tensor, (v: number) => number][] = [
    ['GELU', () => new nn.GELU(), (x) => F.gelu(x), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ['SiLU', () => new nn.SiLU(), (x) => F.silu(x), (v) => v * sig(v)],
    ['Sigmoid', () => new nn.Sigmoid(), (x) => F.sigmoid(x), sig],
    ['Tanh', () => new nn.Tanh(), (x) => F.tanh(x), Math.tanh],
    ['LeakyReLU default slope 0.01', () => new nn.LeakyReLU(), (x) => F.leakyRelu(x, 0.01), (v) => (v > 0 ? v : 0.01 * v)],
    ['LeakyReLU(0.2)', () => new nn.LeakyReLU(0.2), (x) => F.leakyRelu(x, 0.2), (v) => (v > 0 ? v : 0.2 * v)],
    ['ELU default alpha 1', () => new nn.ELU(), (x) => F.elu(x, 1), (v) => (v > 0 ? v : Math.exp(v) - 1)],
    ['ELU(0.5)', () => new nn.ELU(0.5), (x) => F.elu(x, 0.5), (v) => (v > 0 ? v : 0.5 * (Math.exp(v) - 1))],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const [name, make, fn, ref] of CASES) {
      it(`${name} x=[3,5,7] ${dtype}: equals the functional op and the formula`, async () => {
        const [x, xv] = randTensor([3, 5, 7], 41, dtype, -4, 4);
        const y = make().forward(x);
        await same(y, fn(x), 'module vs functional');
        expectClose(await f64(y), Array.from(xv, ref), dtype === 'float64' ? { rtol: 1e-8, atol: 1e-9 } : TOL.float32, name);
      });
    }
  }
  // softmax along dim d of [2,3,4], by the definition, in float64
  const refSoftmax = (xv: Float64Array, shape: number[], dim: number, log: boolean) => {
    const out = new Float64Array(xv.length);
    const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1), n = shape[dim]!;
    const outer = xv.length / (n * inner);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, xv[at(k)]!);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(xv[at(k)]! - m);
      for (let k = 0; k < n; k++) out[at(k)] = log ? xv[at(k)]! - m - Math.log(s) : Math.exp(xv[at(k)]! - m) / s;
    }
    return out;
  };
  for (const [dimArg, dim] of [[undefined, 2], [1, 1], [0, 0], [-2, 1]] as [number | undefined, number][]) {
    it(`Softmax and LogSoftmax dim=${dimArg ?? 'default (-1)'} x=[2,3,4] float64: the functional op and the definition`, async () => {
      const [x, xv] = randTensor([2, 3, 4], 5 + dim, 'float64', -3, 3);
      const sm = dimArg === undefined ? new nn.Softmax() : new nn.Softmax(dimArg);
      const lsm = dimArg === undefined ? new nn.LogSoftmax() : new nn.LogSoftmax(dimArg);
      await same(sm.forward(x), F.softmax(x, dimArg ?? -1), 'softmax module vs functional');
      await same(lsm.forward(x), F.logSoftmax(x, dimArg ?? -1), 'logSoftmax module vs functional');
      expectClose(await f64(sm.forward(x)), refSoftmax(xv, [2, 3, 4], dim, false), TOL.float64, 'softmax');
      expectClose(await f64(lsm.forward(x)), refSoftmax(xv, [2, 3, 4], dim, true), TOL.float64, 'logSoftmax');
    });
  }
  it('activation modules have no parameters and print their settings like PyTorch', () => {
    for (const m of [new nn.GELU(), new nn.SiLU(), new nn.Sigmoid(), new nn.Tanh(), new nn.LeakyReLU(), new nn.ELU(), new nn.Softmax(), new nn.LogSoftmax()]) {
      expect(m.parameters()).toEqual([]);
    }
    expect(String(new nn.LeakyReLU(0.2))).toContain('LeakyReLU(negativeSlope=0.2)');
    expect(String(new nn.ELU(0.5))).toContain('ELU(alpha=0.5)');
    expect(String(new nn.Softmax(1))).toContain('Softmax(dim=1)');
  });
});

// y[n, g*Og+o, ih*s - p + i*d, iw*s - p + j*d] += x[n, g*Cg+c, ih, iw] * w[g*Cg+c, o, i, j]
function refConvT(xv: Float64Array, xs: number[], wv: Float64Array, ws: number[], s: number, p: number, d: number, op: number, g: number, b?: Float64Array) {
  const [N, C, H, W] = xs as [number, number, number, number];
  const [, Og, kh, kw] = ws as [number, number, number, number];
  const Cg = C / g, Co = Og * g;
  const OH = (H - 1) * s - 2 * p + d * (kh - 1) + op + 1, OW = (W - 1) * s - 2 * p + d * (kw - 1) + op + 1;
  const y = new Float64Array(N * Co * OH * OW);
  for (let n = 0; n < N; n++) for (let oc = 0; oc < Co; oc++) for (let q = 0; q < OH * OW; q++) y[(n * Co + oc) * OH * OW + q] = b ? b[oc]! : 0;
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) {
    const gi = Math.floor(c / Cg);
    for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
      const xval = xv[((n * C + c) * H + ih) * W + iw]!;
      for (let o = 0; o < Og; o++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const oh = ih * s - p + i * d, ow = iw * s - p + j * d;
        if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
        y[((n * Co + gi * Og + o) * OH + oh) * OW + ow] += xval * wv[((c * Og + o) * kh + i) * kw + j]!;
      }
    }
  }
  return { y, shape: [N, Co, OH, OW] };
}

describe('nn.ConvTranspose2d', () => {
  const CASES: [string, number, number, number, { stride?: number; padding?: number; outputPadding?: number; dilation?: number; groups?: number }][] = [
    ['in 3 out 5 k 3', 3, 5, 3, {}],
    ['in 4 out 6 k 4 stride 2 padding 1', 4, 6, 4, { stride: 2, padding: 1 }],
    ['in 4 out 2 k 3 stride 2 padding 1 outputPadding 1', 4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }],
    ['in 4 out 6 k 3 groups 2 dilation 2', 4, 6, 3, { groups: 2, dilation: 2 }],
  ];
  for (const [name, cin, cout, k, o] of CASES) {
    it(`${name} float64: weight [in, out/groups, k, k]; the functional op and the scatter loop`, async () => {
      manualSeed(3);
      const m = new nn.ConvTranspose2d(cin, cout, k, { ...o, dtype: 'float64' });
      const g = o.groups ?? 1;
      expect(m.weight.shape).toEqual([cin, cout / g, k, k]);
      expect(m.bias!.shape).toEqual([cout]);
      const [x, xv] = randTensor([2, cin, 5, 4], 17, 'float64');
      const y = m.forward(x);
      await same(y, F.convTranspose2d(x, m.weight, m.bias, o), 'module vs functional');
      const r = refConvT(xv, [2, cin, 5, 4], await f64(m.weight), m.weight.shape as number[], o.stride ?? 1, o.padding ?? 0, o.dilation ?? 1, o.outputPadding ?? 0, g, await f64(m.bias!));
      expect(y.shape).toEqual(r.shape);
      expectClose(await f64(y), r.y, TOL.float64, name);
    });
  }
  it('bias: false leaves the bias out', async () => {
    const m = new nn.ConvTranspose2d(2, 3, 2, { bias: false, dtype: 'float64' });
    expect(m.bias).toBe(null);
    expect(m.parameters()).toEqual([m.weight]);
    const [x, xv] = randTensor([1, 2, 3, 3], 2, 'float64');
    expectClose(await f64(m.forward(x)), refConvT(xv, [1, 2, 3, 3], await f64(m.weight), [2, 3, 2, 2], 1, 0, 1, 0, 1).y, TOL.float64, 'no bias');
  });
  it('default init as PyTorch: weight and bias U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = weight.shape[1] * k * k = (out/groups)*k*k', async () => {
    manualSeed(11);
    // in 32, out 4: fanIn from dim 1 is 4*9 = 36 (bound 1/6); from dim 0 it would be 288 (bound 0.059)
    const m = new nn.ConvTranspose2d(32, 4, 3);
    const bound = 1 / 6;
    const w = await f64(m.weight), b = await f64(m.bias!);
    const maxW = Math.max(...Array.from(w, Math.abs));
    expect(maxW).toBeLessThanOrEqual(bound);
    expect(maxW).toBeGreaterThan(0.98 * bound);  // 1152 draws: the largest is within 1% of the bound w.p. > 1 - 1e-10
    expect(Math.max(...Array.from(b, Math.abs))).toBeLessThanOrEqual(bound);
  });
});

describe('nn.AdaptiveAvgPool2d', () => {
  // PyTorch's bins: rows floor(i*H/oh) .. ceil((i+1)*H/oh) (overlapping when oh does not divide H)
  function ref(xv: Float64Array, [N, C, H, W]: number[], oh: number, ow: number) {
    const y = new Float64Array(N! * C! * oh * ow);
    for (let nc = 0; nc < N! * C!; nc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      const h0 = Math.floor((i * H!) / oh), h1 = Math.ceil(((i + 1) * H!) / oh);
      const w0 = Math.floor((j * W!) / ow), w1 = Math.ceil(((j + 1) * W!) / ow);
      let s = 0;
      for (let h = h0; h < h1; h++) for (let w = w0; w < w1; w++) s += xv[(nc * H! + h) * W! + w]!;
      y[(nc * oh + i) * ow + j] = s / ((h1 - h0) * (w1 - w0));
    }
    return y;
  }
  const CASES: [string, number | [number, number], number, number][] = [
    ['outputSize 1 (global average)', 1, 1, 1],
    ['outputSize 3 on 7x5 (overlapping bins)', 3, 3, 3],
    ['outputSize [2,4] on 7x5', [2, 4], 2, 4],
    ['outputSize [7,5] on 7x5 (identity)', [7, 5], 7, 5],
  ];
  for (const [name, size, oh, ow] of CASES) {
    it(`${name} x=[2,3,7,5] float64: the functional op and PyTorch's bins`, async () => {
      const [x, xv] = randTensor([2, 3, 7, 5], 23, 'float64');
      const m = new nn.AdaptiveAvgPool2d(size);
      const y = m.forward(x);
      expect(y.shape).toEqual([2, 3, oh, ow]);
      await same(y, F.adaptiveAvgPool2d(x, size), 'module vs functional');
      expectClose(await f64(y), ref(xv, [2, 3, 7, 5], oh, ow), TOL.float64, name);
    });
  }
});

describe('nn.BatchNorm1d', () => {
  // over [N,C] or [N,C,L]: statistics per channel over N (and L); biased variance normalises, the running variance
  // takes the unbiased one (PyTorch)
  function stats(xv: Float64Array, N: number, C: number, L: number) {
    const mean = new Float64Array(C), vb = new Float64Array(C), vu = new Float64Array(C);
    const m = N * L;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) s += xv[(n * C + c) * L + l]!;
      mean[c] = s / m;
      let q = 0;
      for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) q += (xv[(n * C + c) * L + l]! - mean[c]!) ** 2;
      vb[c] = q / m;
      vu[c] = q / (m - 1);
    }
    return { mean, vb, vu };
  }
  const norm = (xv: Float64Array, N: number, C: number, L: number, mean: ArrayLike<number>, v: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, eps: number) =>
    Float64Array.from(xv, (val, i) => {
      const c = Math.floor(i / L) % C;
      return ((val - mean[c]!) / Math.sqrt(v[c]! + eps)) * w[c]! + b[c]!;
    });
  for (const shape of [[8, 3], [4, 3, 5]]) {
    it(`x=[${shape}] float64, momentum 0.3, eps 1e-3: training normalises by batch statistics and updates the running ones; eval uses them`, async () => {
      const [N, C, L] = [shape[0]!, shape[1]!, shape[2] ?? 1];
      const m = new nn.BatchNorm1d(C, { momentum: 0.3, eps: 1e-3, dtype: 'float64' });
      // non-trivial affine parameters
      m.loadStateDict({ ...m.stateDict(), weight: tensor([0.5, 2, -1], { dtype: 'float64' }), bias: tensor([0.1, -0.2, 0.3], { dtype: 'float64' }) });
      const w = [0.5, 2, -1], b = [0.1, -0.2, 0.3];
      const [x, xv] = randTensor(shape, 31, 'float64', -2, 3);
      const st = stats(xv, N, C, L);
      const rm0 = await f64(m.runningMean), rv0 = await f64(m.runningVar);
      expect(Array.from(rm0)).toEqual([0, 0, 0]);
      expect(Array.from(rv0)).toEqual([1, 1, 1]);
      const y = m.forward(x);
      expect(y.shape).toEqual(shape);
      expectClose(await f64(y), norm(xv, N, C, L, st.mean, st.vb, w, b, 1e-3), TOL.float64, 'training');
      const rm = Array.from(st.mean, (v) => 0.3 * v), rv = Array.from(st.vu, (v) => 0.7 + 0.3 * v);
      expectClose(await f64(m.runningMean), rm, TOL.float64, 'runningMean');
      expectClose(await f64(m.runningVar), rv, TOL.float64, 'runningVar');
      // the functional op with the same state gives the same output and the same running statistics
      const fm = tensor(rm0, { dtype: 'float64' }), fv = tensor(rv0, { dtype: 'float64' });
      await same(F.batchNorm(x, fm, fv, m.weight!, m.bias!, { training: true, momentum: 0.3, eps: 1e-3 }), y, 'module vs functional');
      await same(fm, m.runningMean, 'running mean vs functional');
      m.eval();
      const [x2, x2v] = randTensor(shape, 32, 'float64');
      expectClose(await f64(m.forward(x2)), norm(x2v, N, C, L, rm, rv, w, b, 1e-3), TOL.float64, 'eval');
      expectClose(await f64(m.runningMean), rm, TOL.float64, 'eval leaves runningMean');
    });
  }
  it('affine: false has no parameters and normalises only; rank 4 input is an ArgumentError with the shape', async () => {
    const m = new nn.BatchNorm1d(2, { affine: false, dtype: 'float64' });
    expect(m.parameters()).toEqual([]);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['running_mean', 'running_var', 'num_batches_tracked']);
    const [x, xv] = randTensor([5, 2], 4, 'float64');
    const st = stats(xv, 5, 2, 1);
    expectClose(await f64(m.forward(x)), norm(xv, 5, 2, 1, st.mean, st.vb, [1, 1], [0, 0], 1e-5), TOL.float64, 'no affine');
    expect(() => m.forward(tensor(new Float64Array(16), { shape: [2, 2, 2, 2] }))).toThrow(ArgumentError);
    expect(() => m.forward(tensor(new Float64Array(16), { shape: [2, 2, 2, 2] }))).toThrow('BatchNorm1d: expected input of rank 2 or 3, got shape [2,2,2,2]');
  });
});

describe('nn.LayerNorm', () => {
  function ref(xv: Float64Array, k: number, eps: number, w?: ArrayLike<number>, b?: ArrayLike<number>) {
    const out = new Float64Array(xv.length);
    for (let r = 0; r < xv.length / k; r++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += xv[r * k + i]!;
      const mean = s / k;
      let q = 0;
      for (let i = 0; i < k; i++) q += (xv[r * k + i]! - mean) ** 2;
      const inv = 1 / Math.sqrt(q / k + eps);  // biased variance, as PyTorch
      for (let i = 0; i < k; i++) out[r * k + i] = (xv[r * k + i]! - mean) * inv * (w ? w[i]! : 1) + (b ? b[i]! : 0);
    }
    return out;
  }
  for (const [ns, shape] of [[5, [3, 5]], [[4, 5], [2, 3, 4, 5]]] as [number | number[], number[]][]) {
    it(`normalizedShape ${JSON.stringify(ns)} x=[${shape}] float64, eps 1e-2, learned weight and bias: the functional op and the formula`, async () => {
      const m = new nn.LayerNorm(ns, { eps: 1e-2, dtype: 'float64' });
      const nsArr = typeof ns === 'number' ? [ns] : ns, k = numel(nsArr);
      expect(m.weight!.shape).toEqual(nsArr);
      // PyTorch's init: weight 1, bias 0
      expect(Array.from(await m.weight!.data())).toEqual(new Array(k).fill(1));
      expect(Array.from(await m.bias!.data())).toEqual(new Array(k).fill(0));
      const wv = randArray(k, 7, 0.5, 2), bv = randArray(k, 8);
      m.loadStateDict({ weight: tensor(wv, { shape: nsArr }), bias: tensor(bv, { shape: nsArr }) });
      const [x, xv] = randTensor(shape, 9, 'float64', -3, 3);
      const y = m.forward(x);
      await same(y, F.layerNorm(x, nsArr, m.weight, m.bias, 1e-2), 'module vs functional');
      expectClose(await f64(y), ref(xv, k, 1e-2, wv, bv), TOL.float64, 'layer norm');
    });
  }
  it('elementwiseAffine: false has no parameters; default eps 1e-5', async () => {
    const m = new nn.LayerNorm([6], { elementwiseAffine: false, dtype: 'float64' });
    expect(m.parameters()).toEqual([]);
    const [x, xv] = randTensor([4, 6], 12, 'float64', -0.01, 0.01);  // small variance: eps matters
    expectClose(await f64(m.forward(x)), ref(xv, 6, 1e-5), TOL.float64, 'no affine');
  });
});

describe('nn.ModuleList', () => {
  it('registers its items as children: parameters, dotted names, stateDict, train/eval, append by push', () => {
    class Net extends nn.Module {
      blocks = new nn.ModuleList([new nn.Linear(2, 3), new nn.BatchNorm1d(3)]);
      forward(x: Tensor) {
        let y = x;
        for (const b of this.blocks.items) y = b.forward(y);
        return y;
      }
    }
    const net = new Net();
    expect(net.namedParameters().map(([n]) => n)).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias']);
    expect(Object.keys(net.stateDict())).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'blocks.1.running_mean', 'blocks.1.running_var', 'blocks.1.num_batches_tracked']);
    expect(net.blocks.children()).toEqual(net.blocks.items);
    net.eval();
    expect(net.blocks.items.every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.blocks.items.every((m) => m.training)).toBe(true);
    const extra = new nn.Linear(3, 1);
    net.blocks.items.push(extra);
    expect(net.parameters()).toContain(extra.weight);
    expect(net.namedParameters().at(-1)![0]).toBe('blocks.2.bias');
    expect(new nn.ModuleList().parameters()).toEqual([]);
  });
  it('forward() is an ArgumentError: its modules are called one by one', () => {
    const l = new nn.ModuleList([new nn.ReLU()]);
    expect(() => l.forward()).toThrow(ArgumentError);
    expect(() => l.forward()).toThrow('ModuleList: expected its modules to be called one by one, got a call to forward()');
  });
});

describe('loss modules', () => {
  type Red = 'mean' | 'sum' | 'none';
  const reduce = (per: number[], r: Red, denom = per.length) => (r === 'none' ? per : r === 'sum' ? [per.reduce((a, b) => a + b, 0)] : [per.reduce((a, b) => a + b, 0) / denom]);
  const close = async (t: Tensor, want: number[], what: string) => expectClose(await f64(t), want, TOL.float64, what);
  const N = 6, C = 4;
  const logits = () => randTensor([N, C], 51, 'float64', -3, 3);
  const labelsArr = [0, 3, 1, 3, 2, 0];
  const labels = () => tensor(Int32Array.from(labelsArr));
  const logSoftmax = (xv: Float64Array) => Float64Array.from(xv, (v, i) => {
    const r = Math.floor(i / C);
    let m = -Infinity, s = 0;
    for (let c = 0; c < C; c++) m = Math.max(m, xv[r * C + c]!);
    for (let c = 0; c < C; c++) s += Math.exp(xv[r * C + c]! - m);
    return v - m - Math.log(s);
  });
  const weightArr = [0.5, 1, 2, 1.25];  // summed weights of the kept samples differ from their count (4 and 5.5 of 6)

  for (const r of ['mean', 'sum', 'none'] as Red[]) {
    it(`CrossEntropyLoss reduction=${r}, weight, labelSmoothing 0.2, ignoreIndex 3: the functional op and PyTorch's formula`, async () => {
      const [x, xv] = logits();
      const o = { reduction: r, weight: tensor(weightArr, { dtype: 'float64' }), labelSmoothing: 0.2, ignoreIndex: 3 };
      const loss = new nn.CrossEntropyLoss(o).forward(x, labels());
      await same(loss, F.crossEntropy(x, labels(), o), 'module vs functional');
      // PyTorch: (1-e) * w[y] * -lp[y] + e/C * sum_c w[c] * -lp[c]; 'mean' divides by the sum of w[y] over kept samples
      const lp = logSoftmax(xv), per: number[] = [];
      let denom = 0;
      labelsArr.forEach((y, n) => {
        if (y === 3) { per.push(0); return; }
        let smooth = 0;
        for (let c = 0; c < C; c++) smooth -= weightArr[c]! * lp[n * C + c]!;
        per.push(0.8 * weightArr[y]! * -lp[n * C + y]! + (0.2 / C) * smooth);
        denom += weightArr[y]!;
      });
      await close(loss, reduce(per, r, denom), 'cross entropy');
    });
  }
  it('CrossEntropyLoss defaults: mean of -log softmax at the label', async () => {
    const [x, xv] = logits();
    const lp = logSoftmax(xv);
    await close(new nn.CrossEntropyLoss().forward(x, labels()), reduce(labelsArr.map((y, n) => -lp[n * C + y]!), 'mean'), 'default');
  });
  for (const r of ['mean', 'sum', 'none'] as Red[]) {
    it(`NLLLoss reduction=${r}, weight, ignoreIndex 0: the functional op and -w[y] * input[n, y]`, async () => {
      const [x, xv] = logits();
      const o = { reduction: r, weight: tensor(weightArr, { dtype: 'float64' }), ignoreIndex: 0 };
      const loss = new nn.NLLLoss(o).forward(x, labels());
      await same(loss, F.nllLoss(x, labels(), o), 'module vs functional');
      let denom = 0;
      const per = labelsArr.map((y, n) => {
        if (y === 0) return 0;
        denom += weightArr[y]!;
        return -weightArr[y]! * xv[n * C + y]!;
      });
      await close(loss, reduce(per, r, denom), 'nll');
    });
  }
  it('NLLLoss default (mean, ignoreIndex -100) on log-probabilities equals CrossEntropyLoss on the logits', async () => {
    const [x] = logits();
    expectClose(await f64(new nn.NLLLoss().forward(x.logSoftmax(1), labels())), await f64(new nn.CrossEntropyLoss().forward(x, labels())), TOL.float64, 'nll of log softmax');
  });
  const regress: [string, (o: { reduction?: Red }) => nn.Module, (a: Tensor, b: Tensor, o: { reduction?: Red }) => Tensor, (a: number, b: number) => number][] = [
    ['MSELoss', (o) => new nn.MSELoss(o), (a, b, o) => F.mseLoss(a, b, o), (a, b) => (a - b) ** 2],
    ['L1Loss', (o) => new nn.L1Loss(o), (a, b, o) => F.l1Loss(a, b, o), (a, b) => Math.abs(a - b)],
  ];
  for (const [name, make, fn, ref] of regress) {
    for (const r of [undefined, 'mean', 'sum', 'none'] as (Red | undefined)[]) {
      it(`${name} reduction=${r ?? 'default (mean)'} x=[3,5] float64: the functional op and the formula`, async () => {
        const [a, av] = randTensor([3, 5], 61, 'float64', -2, 2), [b, bv] = randTensor([3, 5], 62, 'float64', -2, 2);
        const o = r === undefined ? {} : { reduction: r };
        const loss = make(o).forward(a, b);
        await same(loss, fn(a, b, o), 'module vs functional');
        const per = Array.from(av, (v, i) => ref(v, bv[i]!));
        expect(loss.shape).toEqual(r === 'none' ? [3, 5] : []);
        await close(loss, reduce(per, r ?? 'mean'), name);
      });
    }
  }
  for (const r of ['mean', 'sum', 'none'] as Red[]) {
    it(`BCELoss reduction=${r} with weight, probabilities including 0 and 1 (log clamped at -100): the functional op and the formula`, async () => {
      const pv = [0, 1, 0.25, 0.9, 0.5, 1e-3], yv = [1, 0, 0.3, 1, 0, 0.7], wv = [1, 2, 0.5, 1, 3, 1];
      const p = tensor(pv, { dtype: 'float64' }), y = tensor(yv, { dtype: 'float64' }), w = tensor(wv, { dtype: 'float64' });
      const loss = new nn.BCELoss({ reduction: r, weight: w }).forward(p, y);
      await same(loss, F.binaryCrossEntropy(p, y, { reduction: r, weight: w }), 'module vs functional');
      const lg = (v: number) => Math.max(Math.log(v), -100);
      await close(loss, reduce(pv.map((q, i) => -wv[i]! * (yv[i]! * lg(q) + (1 - yv[i]!) * lg(1 - q))), r), 'bce');
    });
  }
  for (const r of ['mean', 'sum', 'none'] as Red[]) {
    it(`BCEWithLogitsLoss reduction=${r} x=[4,3], weight and posWeight [3]: the functional op and -w[pw*y*log(s(x)) + (1-y)*log(1-s(x))]`, async () => {
      const [x, xv] = randTensor([4, 3], 71, 'float64', -6, 6), [, yvRaw] = randTensor([4, 3], 72, 'float64', 0, 1);
      const y = tensor(yvRaw, { shape: [4, 3], dtype: 'float64' });
      const wv = randArray(12, 73, 0.5, 2), pw = [0.5, 2, 3];
      const o = { reduction: r, weight: tensor(wv, { shape: [4, 3] }), posWeight: tensor(pw, { dtype: 'float64' }) };
      const loss = new nn.BCEWithLogitsLoss(o).forward(x, y);
      await same(loss, F.binaryCrossEntropyWithLogits(x, y, o), 'module vs functional');
      const per = Array.from(xv, (v, i) => {
        const s = 1 / (1 + Math.exp(-v));
        return -wv[i]! * (pw[i % 3]! * yvRaw[i]! * Math.log(s) + (1 - yvRaw[i]!) * Math.log(1 - s));
      });
      expectClose(await f64(loss), reduce(per, r), { rtol: 1e-9, atol: 1e-12 }, 'bce with logits');
      // without posWeight and weight it is BCELoss of the sigmoid
      expectClose(await f64(new nn.BCEWithLogitsLoss({ reduction: r }).forward(x, y)), await f64(new nn.BCELoss({ reduction: r }).forward(x.sigmoid(), y)), { rtol: 1e-9, atol: 1e-12 }, 'vs BCELoss(sigmoid)');
    });
  }
  it('loss modules have no parameters, and a bad reduction is an ArgumentError naming the op', () => {
    const mods = [new nn.CrossEntropyLoss(), new nn.NLLLoss(), new nn.MSELoss(), new nn.L1Loss(), new nn.BCELoss(), new nn.BCEWithLogitsLoss()];
    for (const m of mods) expect(m.parameters()).toEqual([]);
    const a = tensor([0.5, 0.5]);
    expect(() => new nn.MSELoss({ reduction: 'avg' as Red }).forward(a, a)).toThrow(ArgumentError);
    expect(() => new nn.MSELoss({ reduction: 'avg' as Red }).forward(a, a)).toThrow("mse_loss: expected reduction 'mean', 'sum' or 'none', got the string 'avg'");
    expect(() => new nn.BCELoss({ reduction: 'avg' as Red }).forward(a, a)).toThrow("binary_cross_entropy: expected reduction 'mean', 'sum' or 'none', got the string 'avg'");
  });
});

describe('F.maxPool2dIndices', () => {
  // PyTorch's indices: the flat position h*W + w of the maximum within its (n, c) plane; padding is -inf
  function ref(xv: Float64Array, [N, C, H, W]: number[], k: number, s: number, p: number, d: number) {
    const OH = Math.floor((H! + 2 * p - d * (k - 1) - 1) / s) + 1, OW = Math.floor((W! + 2 * p - d * (k - 1) - 1) / s) + 1;
    const y: number[] = [], idx: number[] = [];
    for (let nc = 0; nc < N! * C!; nc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let best = -Infinity, bi = -1;
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
        const h = oh * s - p + i * d, w = ow * s - p + j * d;
        if (h < 0 || h >= H! || w < 0 || w >= W!) continue;
        const v = xv[(nc * H! + h) * W! + w]!;
        if (v > best) { best = v; bi = h * W! + w; }
      }
      y.push(best);
      idx.push(bi);
    }
    return { y, idx, shape: [N!, C!, OH, OW] };
  }
  const CASES: [string, number, number, number, number][] = [
    ['kernel 2 stride 2', 2, 2, 0, 1],
    ['kernel 3 stride 2 padding 1', 3, 2, 1, 1],
    ['kernel 2 stride 1 dilation 2', 2, 1, 0, 2],
  ];
  for (const [name, k, s, p, d] of CASES) {
    it(`${name} x=[2,3,7,6] float32: values and flat per-plane int32 indices as PyTorch, the same as maxPool2d`, async () => {
      const [x, xv] = randTensor([2, 3, 7, 6], 81, 'float32');
      const o = { kernelSize: k, stride: s, padding: p, dilation: d };
      const [y, idx] = F.maxPool2dIndices(x, o);
      const r = ref(xv, [2, 3, 7, 6], k, s, p, d);
      expect(y.shape).toEqual(r.shape);
      expect(idx.shape).toEqual(r.shape);
      expect(idx.dtype).toBe('int32');
      expect(Array.from(await f64(y))).toEqual(r.y);
      expect(Array.from(await idx.data())).toEqual(r.idx);
      await same(y, F.maxPool2d(x, o), 'vs maxPool2d');
    });
  }
});
