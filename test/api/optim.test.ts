// clipGradValue, MultiStepLR, ExponentialLR, LinearLR and the LearningRateScheduler callback against
// torch.optim.lr_scheduler's closed forms (and torch.nn.utils.clip_grad_value_), written out here.
import { describe, it, expect } from 'vitest';
import { nn, optim, train, data, fit, tensor, zeros, manualSeed, Tensor, ArgumentError } from '../../lib/index.js';
import { f64, lrsOf, runScheduler, expectLrs } from '../helpers.js';
import { covers } from './coverage.js';

covers('nn.utils.clipGradValue');
covers('optim.MultiStepLR');
covers('optim.ExponentialLR');
covers('optim.LinearLR');
covers('train.LearningRateScheduler');

describe('nn.utils.clipGradValue', () => {
  it('clamps every gradient element to [-0.5, 0.5] (float32 and float64), leaves the others and parameters without a gradient', async () => {
    const a = tensor([[0.1, -0.7, 2], [-3, 0.5, -0.5]]).requiresGrad_();
    const b = tensor([1e-3, -1e3], { dtype: 'float64' }).requiresGrad_();
    const c = tensor([1, 2]).requiresGrad_();  // no gradient
    a.grad = tensor([[0.1, -0.7, 2], [-3, 0.5, -0.5]]);
    b.grad = tensor([1e-3, -1e3], { dtype: 'float64' });
    nn.utils.clipGradValue([a, b, c], 0.5);
    const ref = (v: number) => Math.min(0.5, Math.max(-0.5, v));
    expect(Array.from(await a.grad.data())).toEqual([0.1, -0.7, 2, -3, 0.5, -0.5].map((v) => Math.fround(ref(v))));
    expect(b.grad.dtype).toBe('float64');
    expect(Array.from(await b.grad.data())).toEqual([1e-3, -0.5]);
    expect(c.grad).toBe(null);
    // the parameters themselves are untouched
    expect(Array.from(await f64(a))).toEqual([0.1, -0.7, 2, -3, 0.5, -0.5].map(Math.fround));
  });
  it('infinities clamp to the bound and NaN stays NaN (torch.clamp)', async () => {
    const p = zeros([3]).requiresGrad_();
    p.grad = tensor([Infinity, -Infinity, NaN]);
    nn.utils.clipGradValue([p], 2);
    const g = Array.from(await p.grad.data());
    expect(g.slice(0, 2)).toEqual([2, -2]);
    expect(Number.isNaN(g[2])).toBe(true);
  });
  it('after backward: the clipped gradient is what the optimizer steps with; clipValue 0 zeroes the gradient', async () => {
    const w = tensor([1, 1, 1]).requiresGrad_();
    w.mul(tensor([3, -0.2, -4])).sum().backward();  // grad [3, -0.2, -4]
    nn.utils.clipGradValue([w], 1);
    new optim.SGD([w], { lr: 0.1 }).step();
    expect(Array.from(await w.data())).toEqual([1 - 0.1, 1 + 0.02, 1 + 0.1].map(Math.fround));
    nn.utils.clipGradValue([w], 0);
    expect(Array.from(await w.grad!.data()).map(Math.abs)).toEqual([0, 0, 0]);
  });
  it('a negative, NaN or non-number clipValue is an ArgumentError (the clamp would be empty)', () => {
    const p = zeros([1]).requiresGrad_();
    p.grad = tensor([1]);
    expect(() => nn.utils.clipGradValue([p], -1)).toThrow(ArgumentError);
    expect(() => nn.utils.clipGradValue([p], -1)).toThrow('clipGradValue: expected clipValue >= 0, got the number -1');
    expect(() => nn.utils.clipGradValue([p], NaN)).toThrow('clipGradValue: expected clipValue >= 0, got the number NaN');
    expect(() => nn.utils.clipGradValue([p], '1' as unknown as number)).toThrow("clipGradValue: expected clipValue >= 0, got the string '1'");
  });
});

// two parameter groups with different base lrs: each follows its own closed form
function twoGroups(lr0 = 1, lr1 = 0.3) {
  return new optim.SGD([{ params: [zeros([1]).requiresGrad_()] }, { params: [zeros([1]).requiresGrad_()], lr: lr1 }], { lr: lr0 });
}
const bisectRight = (sorted: number[], x: number) => sorted.filter((m) => m <= x).length;

describe('epoch schedulers against PyTorch closed forms', () => {
  it('MultiStepLR milestones [6, 2, 6] gamma 0.5, 9 steps: base * gamma^bisect_right(sorted milestones, epoch)', () => {
    const o = twoGroups();
    const got = runScheduler(o, new optim.MultiStepLR(o, { milestones: [6, 2, 6], gamma: 0.5 }), 9);
    const sorted = [2, 6, 6];
    expectLrs(got, Array.from({ length: 10 }, (_, e) => [1, 0.3].map((b) => b * 0.5 ** bisectRight(sorted, e))));
    expect(got[6]![0]).toBeCloseTo(0.125, 14);  // two milestones at 6: gamma applied twice
  });
  it('MultiStepLR default gamma 0.1, milestones [3, 5], 7 steps', () => {
    const o = twoGroups(0.2, 0.05);
    expectLrs(runScheduler(o, new optim.MultiStepLR(o, { milestones: [3, 5] }), 7), Array.from({ length: 8 }, (_, e) => [0.2, 0.05].map((b) => b * 0.1 ** bisectRight([3, 5], e))));
  });
  it('ExponentialLR gamma 0.9, 12 steps: base * gamma^epoch', () => {
    const o = twoGroups();
    expectLrs(runScheduler(o, new optim.ExponentialLR(o, { gamma: 0.9 }), 12), Array.from({ length: 13 }, (_, e) => [1, 0.3].map((b) => b * 0.9 ** e)));
  });
  const linear = (b: number, s: number, f: number, n: number, e: number) => b * (s + ((f - s) * Math.min(e, n)) / n);
  it('LinearLR defaults (startFactor 1/3, endFactor 1, totalIters 5), 8 steps: base * (s + (f - s) * min(e, n) / n), set at construction too', () => {
    const o = twoGroups();
    const got = runScheduler(o, new optim.LinearLR(o, {}), 8);
    expectLrs(got, Array.from({ length: 9 }, (_, e) => [1, 0.3].map((b) => linear(b, 1 / 3, 1, 5, e))));
    expect(got[0]![0]).toBeCloseTo(1 / 3, 14);
    expect(got[8]).toEqual(got[5]);
  });
  it('LinearLR startFactor 1 endFactor 0.1 totalIters 4 (a decay), 6 steps', () => {
    const o = twoGroups();
    expectLrs(runScheduler(o, new optim.LinearLR(o, { startFactor: 1, endFactor: 0.1, totalIters: 4 }), 6), Array.from({ length: 7 }, (_, e) => [1, 0.3].map((b) => linear(b, 1, 0.1, 4, e))));
  });
  it('stateDict/loadStateDict: a new scheduler on a new optimizer resumes the same sequence', () => {
    for (const make of [
      (o: optim.SGD) => new optim.MultiStepLR(o, { milestones: [2, 4], gamma: 0.5 }),
      (o: optim.SGD) => new optim.ExponentialLR(o, { gamma: 0.8 }),
      (o: optim.SGD) => new optim.LinearLR(o, { startFactor: 0.2, totalIters: 6 }),
    ]) {
      const o1 = twoGroups(), s1 = make(o1);
      const full = runScheduler(o1, s1, 7);
      const o2 = twoGroups(), s2 = make(o2);
      runScheduler(o2, s2, 3);
      const sd = s2.stateDict();
      const o3 = twoGroups(), s3 = make(o3);
      s3.loadStateDict(sd);
      const rest: number[][] = [];
      for (let i = 0; i < 4; i++) { s3.step(); rest.push(lrsOf(o3)); }
      expectLrs(rest, full.slice(4));
    }
  });
  it('a scheduler needs an optimizer and its options', () => {
    expect(() => new optim.ExponentialLR({} as optim.SGD, { gamma: 0.9 })).toThrow('ExponentialLR: expected an optimizer, got an object');
    expect(() => new optim.MultiStepLR(twoGroups(), { milestones: 3 as unknown as number[] })).toThrow('MultiStepLR: expected milestones to be an array of numbers, got the number 3');
  });
});

// A separable toy problem (the class is the block with the largest values)
function toy(n: number) {
  const rnd = data.seededRandom(4);
  const x = new Float32Array(n * 4), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(rnd() * 2);
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rnd() + (Math.floor(j / 2) === y[i] ? 1 : 0);
  }
  return new data.DataLoader(new data.ArrayDataset(x, [4], y), { batchSize: 8 });
}

describe('train.LearningRateScheduler', () => {
  // the lr in force during each batch of each epoch, read by a callback
  async function lrsDuring(sched: train.LearningRateScheduler, epochs: number, o: optim.SGD, model: nn.Module) {
    const seen: number[][] = [];
    await fit(model, toy(32), {
      epochs, optimizer: o, verbose: 0,
      callbacks: [sched, { onBatchEnd: (ctx, b) => { if (b === 1) seen.push(ctx.optimizer.paramGroups.map((g) => g.lr)); } }],
    });
    return seen;
  }
  it('schedule(epoch) with 0-based epochs, 5 epochs, two groups: the same lrs as ExponentialLR(0.7) stepped after each epoch', async () => {
    manualSeed(1);
    const model = new nn.Linear(4, 2);
    const o = new optim.SGD([{ params: [model.weight] }, { params: [model.bias!], lr: 0.05 }], { lr: 0.1 });
    const calls: [number, number][] = [];
    // the chained form of base * 0.7^e: each group's lr times 0.7 from the second epoch on
    const sched = new train.LearningRateScheduler((e, lr) => {
      calls.push([e, lr]);
      return e === 0 ? lr : lr * 0.7;
    });
    const seen = await lrsDuring(sched, 5, o, model);
    // PyTorch: ExponentialLR(gamma=0.7) with scheduler.step() at the end of each epoch gives base * 0.7^e in epoch e
    const ref = twoGroups(0.1, 0.05), exp = new optim.ExponentialLR(ref, { gamma: 0.7 });
    const want: number[][] = [];
    for (let e = 0; e < 5; e++) { want.push(lrsOf(ref)); exp.step(); }
    expectLrs(seen, want);
    // once per group per epoch, 0-based, with that group's lr
    expect(calls.map(([e]) => e)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect(calls.slice(0, 2).map(([, lr]) => lr)).toEqual([0.1, 0.05]);
  });
  it('a closed-form schedule (e) => 0.1 * 0.5^floor(e / 2), 5 epochs: StepLR(stepSize 2, gamma 0.5)\'s lrs', async () => {
    manualSeed(4);
    const model = new nn.Linear(4, 2);
    const seen = await lrsDuring(new train.LearningRateScheduler((e) => 0.1 * 0.5 ** Math.floor(e / 2)), 5, new optim.SGD(model.parameters(), { lr: 1 }), model);
    expectLrs(seen, [0, 1, 2, 3, 4].map((e) => [0.1 * 0.5 ** Math.floor(e / 2)]));
  });
  it('the schedule gets the current lr (Keras semantics): halving from the second epoch on', async () => {
    manualSeed(2);
    const model = new nn.Linear(4, 2);
    const o = new optim.SGD(model.parameters(), { lr: 0.08 });
    const seen = await lrsDuring(new train.LearningRateScheduler((e, lr) => (e === 0 ? lr : lr / 2)), 4, o, model);
    expectLrs(seen, [[0.08], [0.04], [0.02], [0.01]]);
  });
  it('the lr it sets is the one SGD steps with: one batch, weights move by lr * grad', async () => {
    manualSeed(3);
    const model = new nn.Linear(4, 1, { bias: false });
    const w0 = await f64(model.weight);
    const x = tensor([[1, 2, 3, 4]]), y = tensor([[0]]);
    const loader = { length: 1, async *[Symbol.asyncIterator]() { yield { x, y }; } };
    await fit(model, loader, {
      epochs: 1, verbose: 0, optimizer: new optim.SGD(model.parameters(), { lr: 123 }),
      loss: (out: Tensor) => out.sum(),  // d loss / d w = x
      callbacks: [new train.LearningRateScheduler(() => 0.25)],
    });
    const w1 = await f64(model.weight);
    Array.from(w1).forEach((v, i) => expect(v).toBeCloseTo(w0[i]! - 0.25 * (i + 1), 6));
  });
});
