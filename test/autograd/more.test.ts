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

describe('recurrent layers', () => {
  it('LSTM follows PyTorch equations (one step, by hand)', async () => {
    manualSeed(1);
    const lstm = new nn.LSTM(3, 2, { dtype: 'float64' });
    const x = x64([1, 1, 3]).detach();
    const [y, [h, c]] = lstm.run(x);
    const [wi, wh, bi, bh] = await Promise.all(lstm.weights[0]!.map((t) => f64(t)));
    const xv = await f64(x);
    const gate = (r: number) => { let s = bi![r]! + bh![r]!; for (let k = 0; k < 3; k++) s += wi![r * 3 + k]! * xv[k]!; return s; };
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const H = 2, want: number[] = [], wantC: number[] = [];
    for (let j = 0; j < H; j++) {
      const i = sig(gate(j)), g = Math.tanh(gate(2 * H + j)), o = sig(gate(3 * H + j));
      const cc = i * g;  // c0 = 0, so the forget gate does not matter
      wantC.push(cc);
      want.push(o * Math.tanh(cc));
    }
    void wh;
    expectClose(await f64(y), want, { rtol: 1e-12, atol: 1e-14 }, 'y');
    expectClose(await f64(h), want, { rtol: 1e-12, atol: 1e-14 }, 'h');
    expectClose(await f64(c), wantC, { rtol: 1e-12, atol: 1e-14 }, 'c');
  });
  for (const [name, make] of [
    ['RNN tanh 2 layers batchFirst', () => new nn.RNN(3, 4, { numLayers: 2, batchFirst: true, dtype: 'float64' })],
    ['LSTM', () => new nn.LSTM(3, 4, { dtype: 'float64', batchFirst: true })],
    ['GRU 2 layers', () => new nn.GRU(3, 4, { numLayers: 2, dtype: 'float64', batchFirst: true })],
  ] as const) {
    it(`${name}: backpropagation through time passes gradcheck (input and every weight)`, async () => {
      manualSeed(2);
      const m = make();
      expect(m.forward(x64([2, 5, 3])).shape).toEqual([2, 5, 4]);
      await check((x) => m.forward(x), [x64([2, 3, 3])]);
      // weights: each becomes a gradcheck input by loading it into the module before the forward
      const names = m.namedParameters().map(([n]) => n);
      for (const name of names.slice(0, 4)) {
        const w = (await f64(m.stateDict()[name]!));
        const shape = m.stateDict()[name]!.shape as number[];
        await check((wt) => {
          const sd = { ...m.stateDict() };
          const mm = make();
          mm.loadStateDict(sd);
          (mm as unknown as Record<string, Tensor>)[name] = wt;
          mm.weights.forEach((ws, l) => ws.forEach((_, k) => { const key = `${['weightIh', 'weightHh', 'biasIh', 'biasHh'][k]}L${l}`; ws[k] = (mm as unknown as Record<string, Tensor>)[key]!; }));
          return mm.forward(tensor(randArray(18, 7), { shape: [2, 3, 3], dtype: 'float64' }));
        }, [tensor(w, { shape, dtype: 'float64' }).requiresGrad_()]);
      }
    });
  }
});
