// fit() records every training step's loss (and batch accuracy, for a classifier) in History.steps, reading them in
// one read per logEvery steps; the epoch loss is the sample-weighted mean of all of them.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { nn, optim, data, fit, manualSeed, tensor, Tensor, ArgumentError, ShapeError, crossEntropy, F } from '../../lib/index.js';
import { Progress } from '../../lib/train/progress.js';

function toyArrays(n: number, seed: number) {
  const rnd = data.seededRandom(seed);
  const x = new Float32Array(n * 6), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * 3);
    y[i] = c;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rnd() * 0.5 + (Math.floor(j / 2) === c ? 1 : 0);
  }
  return { x, y };
}

afterEach(() => vi.restoreAllMocks());

describe('History.steps', () => {
  it('has every step of 3 epochs x 16 batches (500 samples, batch 32, logEvery 5) with the loss and accuracy of its batch', async () => {
    manualSeed(4);
    const N = 500, B = 32;
    const { x, y } = toyArrays(N, 7);
    const model = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Linear(8, 3));
    // lr 0: the weights stay, so each batch's loss and accuracy can be computed here from the arrays
    const h = await fit(model, new data.DataLoader(new data.ArrayDataset(x, [6], y), { batchSize: B }), {
      epochs: 3, optimizer: new optim.SGD(model.parameters(), { lr: 0 }), verbose: 0, logEvery: 5,
    });
    const nb = Math.ceil(N / B);  // 16, the last one of 20 samples
    expect(h.steps.map((s) => [s.epoch, s.batch])).toEqual([1, 2, 3].flatMap((e) => Array.from({ length: nb }, (_, b) => [e, b + 1])));
    const want: { loss: number; accuracy: number; n: number }[] = [];
    for (let b = 0; b < nb; b++) {
      const n = Math.min(B, N - b * B);
      const xb = tensor(x.slice(b * B * 6, (b * B + n) * 6), { shape: [n, 6] });
      const yb = tensor(y.slice(b * B, b * B + n), { dtype: 'int32' });
      const out = model.forward(xb);
      const pred = (await out.argmax(1).data()) as Int32Array;
      let hits = 0;
      for (let i = 0; i < n; i++) if (pred[i] === y[b * B + i]) hits++;
      want.push({ loss: await crossEntropy(out, yb).item(), accuracy: hits / n, n });
    }
    h.steps.forEach((s, i) => {
      expect(s.loss).toBeCloseTo(want[i % nb]!.loss, 6);
      expect(s.accuracy).toBe(want[i % nb]!.accuracy);
    });
    // the epoch's loss: the mean over its samples (the short last batch weighs 20/500, not 1/16)
    const weighted = want.reduce((a, w) => a + w.loss * w.n, 0) / N;
    const unweighted = want.reduce((a, w) => a + w.loss, 0) / nb;
    expect(Math.abs(weighted - unweighted)).toBeGreaterThan(1e-6);  // else the check below could not tell them apart
    for (const e of h.epochs) expect(e['loss']).toBeCloseTo(weighted, 6);
  });

  it('reads once per 4 steps (not per step) over 10 steps, and onBatchEnd sees the loss of batches 4 and 8', async () => {
    manualSeed(5);
    const { x, y } = toyArrays(160, 8);
    const model = new nn.Linear(6, 3);
    const reads = vi.spyOn(Tensor.prototype, 'data');
    const perBatch: { batch: number; reads: number; loss?: number }[] = [];
    let before = 0;
    const h = await fit(model, new data.DataLoader(new data.ArrayDataset(x, [6], y), { batchSize: 16 }), {
      epochs: 1, optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), verbose: 0, logEvery: 4,
      callbacks: [{
        onEpochBegin: () => { before = reads.mock.calls.length; },
        onBatchEnd: (_c, batch, logs) => { perBatch.push({ batch, reads: reads.mock.calls.length - before, ...logs }); },
      }],
    });
    // cumulative reads after each batch: one at batch 4, one at batch 8, none in between
    expect(perBatch.map((p) => p.reads)).toEqual([0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
    expect(perBatch.filter((p) => p.loss !== undefined).map((p) => p.batch)).toEqual([4, 8]);
    expect(perBatch[3]!.loss).toBe(h.steps[3]!.loss);
    expect(perBatch[7]!.loss).toBe(h.steps[7]!.loss);
    expect(h.steps).toHaveLength(10);  // 9 and 10 read at the epoch's end
    expect(h.steps.every((s) => Number.isFinite(s.loss) && s.loss > 0)).toBe(true);
  });

  it('a regression model (float targets, mseLoss) has losses per step and no accuracy', async () => {
    manualSeed(6);
    const rnd = data.seededRandom(9);
    const x = Float32Array.from({ length: 40 * 4 }, () => rnd());
    const model = new nn.Linear(4, 1);
    const batches = Array.from({ length: 5 }, (_, i) => {
      const xb = tensor(x.slice(i * 32, (i + 1) * 32), { shape: [8, 4] });
      return { x: xb, y: xb.sum(1, true) };
    });
    const loader = { length: 5, async *[Symbol.asyncIterator]() { yield* batches; } };
    const h = await fit(model, loader, {
      epochs: 2, optimizer: new optim.SGD(model.parameters(), { lr: 0.05 }), verbose: 0, metrics: [], loss: (o, t) => F.mseLoss(o, t),
    });
    expect(h.steps).toHaveLength(10);
    expect(h.steps.every((s) => !('accuracy' in s) && Number.isFinite(s.loss))).toBe(true);
    expect(h.steps.at(-1)!.loss).toBeLessThan(h.steps[0]!.loss);
  });

  it('bad logEvery values and a non-scalar or non-tensor loss are named errors', async () => {
    const model = new nn.Linear(6, 3);
    const { x, y } = toyArrays(8, 1);
    const loader = new data.DataLoader(new data.ArrayDataset(x, [6], y), { batchSize: 4 });
    const opt = () => new optim.SGD(model.parameters(), { lr: 0.1 });
    for (const [v, got] of [[0, 'the number 0'], [2.5, 'the number 2.5']] as const) {
      const p = fit(model, loader, { epochs: 1, optimizer: opt(), verbose: 0, logEvery: v });
      await expect(p).rejects.toThrow(ArgumentError);
      await expect(p).rejects.toThrow(`fit: expected logEvery to be an integer >= 1, got ${got}`);
    }
    const vec = fit(model, loader, { epochs: 1, optimizer: opt(), verbose: 0, loss: (o, t) => crossEntropy(o, t, { reduction: 'none' }) });
    await expect(vec).rejects.toThrow(ShapeError);
    await expect(vec).rejects.toThrow('fit: expected the loss to be a one-element tensor, got shape [4]');
    const num = fit(model, loader, { epochs: 1, optimizer: opt(), verbose: 0, loss: (() => 1) as never });
    await expect(num).rejects.toThrow(ArgumentError);
    await expect(num).rejects.toThrow('fit: expected the loss function to return a Tensor, got');
  });
});

describe('Progress (verbose 2, not a TTY)', () => {
  it('writes a line at the first read past each 100 batches when reads come every 30 batches', () => {
    const lines: string[] = [];
    const out = { isTTY: false, write: (s: string) => { lines.push(s); return true; } } as unknown as NodeJS.WriteStream;
    const p = new Progress(2, out);
    p.epochBegin(1, 1, 250);
    for (let i = 30; i <= 250; i += 30) p.batch(i, 1 / i, '', 100);
    expect(lines.map((l) => l.trim().split(' ').slice(0, 2).join(' '))).toEqual(['batch 120', 'batch 210']);
    p.epochBegin(2, 2, 250);  // a new epoch counts from 0 again
    p.batch(120, 0.5, '', 100);
    expect(lines).toHaveLength(3);
  });
});
