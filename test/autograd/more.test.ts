import { describe, it, expect } from 'vitest';
import { tensor, gradcheck, indexSelect, cat, stack, nn, F, Tensor, IndexError, ShapeError, manualSeed } from '../../lib/index.js';
import { randArray, f64, expectClose } from '../helpers.js';

let seed = 100;
const x64 = (shape: number[]) => tensor(randArray(shape.reduce((a, b) => a * b, 1), seed++), { shape, dtype: 'float64' }).requiresGrad_();
const check = async (fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
  const r = await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 });
  expect(r.worst, `worst at ${r.at}`).toBeLessThanOrEqual(1);
};

describe('index_select, embedding, cat, stack', () => {
  const idx = tensor([2, 0, 2, 1], { dtype: 'int32' });
  it('index_select forward along each dim, and gradients (repeated indices add up)', async () => {
    const x = x64([3, 4, 5]);
    const y = indexSelect(x, 1, tensor([3, 0], { dtype: 'int32' }));
    expect(y.shape).toEqual([3, 2, 5]);
    const xv = await f64(x), yv = await f64(y);
    expect(yv[0]).toBe(xv[15]);
    expect(yv[5]).toBe(xv[0]);
    for (const d of [0, 1, 2]) await check((a) => indexSelect(a, d, idx.slice(0, 0, d === 0 ? 4 : 3)), [x64([3, 4, 5])]);
  });
  it('out-of-range indices raise an IndexError at the next read', async () => {
    const y = indexSelect(x64([3, 2]), 0, tensor([5], { dtype: 'int32' }));
    await expect(y.data()).rejects.toThrow(IndexError);
    await expect(indexSelect(x64([3, 2]), 0, tensor([-1], { dtype: 'int32' })).data()).rejects.toThrow('index_select: expected indices in [0, 3), got -1 at position 0');
  });
  it('embedding looks rows up for any index shape; paddingIdx gets no gradient', async () => {
    const w = x64([5, 3]);
    const tok = tensor([[1, 4], [0, 1]], { dtype: 'int32' });
    const e = F.embedding(tok, w, 0);
    expect(e.shape).toEqual([2, 2, 3]);
    e.sum().backward();
    const g = await f64(w.grad!);
    expect(Array.from(g.slice(0, 3))).toEqual([0, 0, 0]);    // padding row
    expect(Array.from(g.slice(3, 6))).toEqual([2, 2, 2]);    // index 1 used twice
    await check((a) => F.embedding(tok, a), [x64([5, 3])]);
    const m = new nn.Embedding(10, 4, { paddingIdx: 0 });
    expect(Array.from(await m.weight.slice(0, 0, 1).data())).toEqual([0, 0, 0, 0]);
  });
  it('cat and stack, forward and gradients', async () => {
    const a = x64([2, 3]), b = x64([2, 1]);
    const c = cat([a, b], 1);
    expect(c.shape).toEqual([2, 4]);
    const av = await f64(a), bv = await f64(b), cv = await f64(c);
    expect(Array.from(cv)).toEqual([av[0], av[1], av[2], bv[0], av[3], av[4], av[5], bv[1]]);
    await check((p, q) => cat([p, q], 1).mul(cat([p, q], 1)), [x64([2, 3]), x64([2, 1])]);
    await check((p, q) => stack([p, q], 1), [x64([2, 3]), x64([2, 3])]);
    expect(stack([a, a], 0).shape).toEqual([2, 2, 3]);
    expect(() => cat([a, x64([3, 3])], 1)).toThrow(ShapeError);
  });
});

// PyTorch's recurrent equations (torch.nn.RNN / LSTM / GRU docs), in float64 on plain arrays: x [L,N,I], states
// [layers,N,H]; per layer the weights W_ih [G*H,in], W_hh [G*H,H], b_ih, b_hh [G*H], gates in PyTorch's order.
type Layer = Float64Array[];
function affine(w: Float64Array, b: Float64Array, v: Float64Array, rows: number, cols: number, n: number, out: Float64Array, add: boolean) {
  for (let i = 0; i < n; i++)
    for (let r = 0; r < rows; r++) {
      let s = b[r]!;
      for (let k = 0; k < cols; k++) s += w[r * cols + k]! * v[i * cols + k]!;
      out[i * rows + r] = (add ? out[i * rows + r]! : 0) + s;
    }
}
const sigm = (v: number) => 1 / (1 + Math.exp(-v));
function refRecurrent(kind: 'tanh' | 'relu' | 'lstm' | 'gru', x: Float64Array, [L, N, I]: number[], H: number, layers: Layer[], h0: Float64Array, c0?: Float64Array) {
  const G = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
  let inp = x, width = I;
  const hN = new Float64Array(layers.length * N * H), cN = new Float64Array(layers.length * N * H);
  layers.forEach(([wi, wh, bi, bh], l) => {
    let h = h0.slice(l * N * H, (l + 1) * N * H), c = c0 ? c0.slice(l * N * H, (l + 1) * N * H) : new Float64Array(N * H);
    const out = new Float64Array(L * N * H);
    for (let t = 0; t < L; t++) {
      const xt = inp.subarray(t * N * width, (t + 1) * N * width);
      const gi = new Float64Array(N * G * H), gh = new Float64Array(N * G * H);
      affine(wi!, bi!, xt, G * H, width, N, gi, false);
      affine(wh!, bh!, h, G * H, H, N, gh, false);
      const hn = new Float64Array(N * H), cn = new Float64Array(N * H);
      for (let n = 0; n < N; n++)
        for (let j = 0; j < H; j++) {
          const a = (g: number) => gi[n * G * H + g * H + j]! + gh[n * G * H + g * H + j]!;
          const k = n * H + j;
          if (kind === 'tanh') hn[k] = Math.tanh(a(0));
          else if (kind === 'relu') hn[k] = Math.max(0, a(0));
          else if (kind === 'lstm') {
            const ig = sigm(a(0)), fg = sigm(a(1)), gg = Math.tanh(a(2)), og = sigm(a(3));
            cn[k] = fg * c[k]! + ig * gg;
            hn[k] = og * Math.tanh(cn[k]!);
          } else {
            const r = sigm(a(0)), z = sigm(a(1));
            const nn = Math.tanh(gi[n * G * H + 2 * H + j]! + r * gh[n * G * H + 2 * H + j]!);
            hn[k] = (1 - z) * nn + z * h[k]!;
          }
        }
      h = hn;
      if (kind === 'lstm') c = cn;
      out.set(h, t * N * H);
    }
    hN.set(h, l * N * H);
    cN.set(c, l * N * H);
    inp = out;
    width = H;
  });
  return { y: inp, hN, cN };
}

describe('recurrent layers', () => {
  type Rec = InstanceType<typeof nn.RNN> | InstanceType<typeof nn.LSTM> | InstanceType<typeof nn.GRU>;
  const KINDS: [string, 'tanh' | 'relu' | 'lstm' | 'gru', () => Rec][] = [
    ['RNN tanh', 'tanh', () => new nn.RNN(3, 4, { numLayers: 2, dtype: 'float64' })],
    ['RNN relu', 'relu', () => new nn.RNN(3, 4, { numLayers: 2, nonlinearity: 'relu', dtype: 'float64' })],
    ['LSTM', 'lstm', () => new nn.LSTM(3, 4, { numLayers: 2, dtype: 'float64' })],
    ['GRU', 'gru', () => new nn.GRU(3, 4, { numLayers: 2, dtype: 'float64' })],
  ];
  // the module's outputs: y, hN (and cN for the LSTM)
  const run = (m: Rec, x: Tensor, h0: Tensor, c0?: Tensor): Tensor[] => {
    if (m instanceof nn.LSTM) { const [y, [h, c]] = m.run(x, [h0, c0!]); return [y, h, c]; }
    return (m as InstanceType<typeof nn.RNN>).run(x, h0);
  };
  for (const [name, kind, make] of KINDS) {
    it(`${name} 2 layers, non-zero initial state: forward follows PyTorch's equations (float64 reference), x=[5,2,3] H=4`, async () => {
      manualSeed(4);
      const m = make();
      const L = 5, N = 2, I = 3, H = 4;
      const x = x64([L, N, I]).detach(), h0 = x64([2, N, H]).detach(), c0 = x64([2, N, H]).detach();
      const layers = await Promise.all(m.weights.map((ws) => Promise.all(ws.map((w) => f64(w)))));
      const ref = refRecurrent(kind, await f64(x), [L, N, I], H, layers, await f64(h0), kind === 'lstm' ? await f64(c0) : undefined);
      const outs = run(m, x, h0, c0);
      const tol = { rtol: 1e-12, atol: 1e-14 };
      expect(outs[0]!.shape).toEqual([L, N, H]);
      expectClose(await f64(outs[0]!), ref.y, tol, 'y');
      expectClose(await f64(outs[1]!), ref.hN, tol, 'hN');
      if (kind === 'lstm') expectClose(await f64(outs[2]!), ref.cN, tol, 'cN');
      if (kind === 'relu') expect(Array.from(ref.y).filter((v) => v === 0).length).toBeGreaterThan(0);  // both sides of relu
      // batchFirst: the same numbers with the batch leading
      const bf = (kind === 'lstm' ? new nn.LSTM(3, 4, { numLayers: 2, dtype: 'float64', batchFirst: true })
        : kind === 'gru' ? new nn.GRU(3, 4, { numLayers: 2, dtype: 'float64', batchFirst: true })
          : new nn.RNN(3, 4, { numLayers: 2, nonlinearity: kind, dtype: 'float64', batchFirst: true })) as Rec;
      bf.loadStateDict(m.stateDict());
      const yb = run(bf, x.transpose(0, 1).contiguous(), h0, c0)[0]!;
      expect(yb.shape).toEqual([N, L, H]);
      expectClose(await f64(yb.transpose(0, 1).contiguous()), ref.y, tol, 'y batchFirst');
    });
    it(`${name} 2 layers: backpropagation through time passes gradcheck (input, initial state, every weight of every layer)`, async () => {
      manualSeed(5);
      const m = make();
      const nW = m.weights.flat().length;
      expect(nW).toBe(8);
      const ws = await Promise.all(m.weights.flat().map(async (w) => tensor(await f64(w), { shape: w.shape as number[], dtype: 'float64' }).requiresGrad_()));
      const lstm = kind === 'lstm';
      await check((x, h0, c0, ...w) => {
        let i = 0;
        for (const layer of m.weights) for (let k = 0; k < layer.length; k++) layer[k] = w[i++]!;
        return cat(run(m, x, h0, lstm ? c0 : undefined).map((t) => t.flatten()), 0);
      }, [x64([3, 2, 3]), x64([2, 2, 4]), lstm ? x64([2, 2, 4]) : x64([1]).detach(), ...ws]);
    });
  }
});
