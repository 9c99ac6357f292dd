// optim.SequentialLR and warmupCosine against torch.optim.lr_scheduler's formulas written out here, their state
// dicts, and optim.weightDecayGroups (the GPT recipe's AdamW groups).
import { describe, it, expect } from 'vitest';
import { nn, optim, zeros, tensor, Tensor, ArgumentError } from '../../lib/index.js';
import { covers } from '../api/coverage.js';
import { throwsExactly, lrsOf, runScheduler, expectLrs } from '../helpers.js';

covers('optim.SequentialLR');
covers('optim.warmupCosine');
covers('optim.weightDecayGroups');

// two parameter groups, base lrs 1 and 0.3
const twoGroups = () => new optim.SGD([{ params: [zeros([1]).requiresGrad_()] }, { params: [zeros([1]).requiresGrad_()], lr: 0.3 }], { lr: 1 });
// PyTorch's closed forms (torch/optim/lr_scheduler.py _get_closed_form_lr)
const linear = (base: number, s: number, f: number, n: number, e: number) => base * (s + ((f - s) * Math.min(e, n)) / n);
const cosine = (base: number, etaMin: number, tMax: number, e: number) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * e) / tMax))) / 2;
const exponential = (base: number, g: number, e: number) => base * g ** e;
// SequentialLR.step: idx = bisect_right(milestones, last_epoch); at a milestone schedulers[idx].step(0) restarts it
const bisectRight = (ms: number[], x: number) => ms.filter((m) => m <= x).length;

describe('optim.SequentialLR', () => {
  it('LinearLR(0.1, 4) then CosineAnnealingLR(tMax 6, etaMin 0.01) at milestone 4, two groups, 12 steps', () => {
    const o = twoGroups();
    const warm = new optim.LinearLR(o, { startFactor: 0.1, totalIters: 4 });
    const cos = new optim.CosineAnnealingLR(o, { tMax: 6, etaMin: 0.01 });
    expect(cos.baseLrs).toEqual([1, 0.3]);  // PyTorch's initial_lr: not the lr LinearLR lowered at construction
    const s = new optim.SequentialLR(o, { schedulers: [warm, cos], milestones: [4] });
    const want = Array.from({ length: 13 }, (_, e) => [1, 0.3].map((b) => (e < 4 ? linear(b, 0.1, 1, 4, e) : cosine(b, 0.01, 6, e - 4))));
    expectLrs(runScheduler(o, s, 12), want, 13);
    expect(lrsOf(o)[0]).not.toBeCloseTo(cosine(1, 0.01, 6, 12), 5);  // past tMax the cosine goes back up, as PyTorch's
    expect(cos.lastEpoch).toBe(8);
    expect(warm.lastEpoch).toBe(3);
  });
  it('three schedulers, milestones [3, 5]: LinearLR, ExponentialLR(0.5) restarted at 3, CosineAnnealingLR(4) at 5, 10 steps', () => {
    const o = twoGroups();
    const a = new optim.LinearLR(o, { startFactor: 0.5, totalIters: 3 });
    const b = new optim.ExponentialLR(o, { gamma: 0.5 });
    const c = new optim.CosineAnnealingLR(o, { tMax: 4 });
    const s = new optim.SequentialLR(o, { schedulers: [a, b, c], milestones: [3, 5] });
    const ms = [3, 5];
    const want = Array.from({ length: 11 }, (_, e) => [1, 0.3].map((base) => {
      const k = bisectRight(ms, e), local = k ? e - ms[k - 1]! : e;
      return k === 0 ? linear(base, 0.5, 1, 3, local) : k === 1 ? exponential(base, 0.5, local) : cosine(base, 0, 4, local);
    }));
    expectLrs(runScheduler(o, s, 10), want, 13);
  });
  it('stateDict/loadStateDict: a new SequentialLR on a new optimizer resumes the sequence after 5 of 10 steps', () => {
    const make = () => {
      const o = twoGroups();
      const s = new optim.SequentialLR(o, { schedulers: [new optim.LinearLR(o, { startFactor: 0.2, totalIters: 3 }), new optim.CosineAnnealingLR(o, { tMax: 7 })], milestones: [3] });
      return { o, s };
    };
    const full = make();
    const all = runScheduler(full.o, full.s, 10);
    const first = make();
    runScheduler(first.o, first.s, 5);
    const sd = JSON.parse(JSON.stringify(first.s.stateDict()));
    const second = make();
    second.s.loadStateDict(sd);
    const rest: number[][] = [];
    for (let i = 0; i < 5; i++) { second.s.step(); rest.push(lrsOf(second.o)); }
    expectLrs(rest, all.slice(6), 13);
    expect(second.s.schedulers[1]!.lastEpoch).toBe(7);
  });
  it('a bad state dict changes nothing: a wrong sub-state leaves every lastEpoch as it was', () => {
    const o = twoGroups();
    const a = new optim.LinearLR(o, { totalIters: 2 }), c = new optim.CosineAnnealingLR(o, { tMax: 3 });
    const s = new optim.SequentialLR(o, { schedulers: [a, c], milestones: [2] });
    s.step(); s.step(); s.step();
    const sd = s.stateDict() as { lastEpoch: number; baseLrs: number[]; schedulers: Record<string, unknown>[] };
    const bad = { ...sd, lastEpoch: 9, schedulers: [{ ...sd.schedulers[0], lastEpoch: 5 }, { lastEpoch: -1, baseLrs: [1, 0.3] }] };
    throwsExactly(() => s.loadStateDict(bad), ArgumentError, 'CosineAnnealingLR.loadStateDict: expected lastEpoch to be an integer >= 0, got -1');
    expect([s.lastEpoch, a.lastEpoch, c.lastEpoch]).toEqual([3, 1, 1]);
    throwsExactly(() => s.loadStateDict({ lastEpoch: 1, baseLrs: [1, 0.3] }), ArgumentError,
      'SequentialLR.loadStateDict: expected a state dict { lastEpoch, baseLrs, schedulers } with 2 schedulers\' states, got undefined');
  });
  it('errors: milestones of the wrong count or not increasing, a scheduler of another optimizer, not a scheduler', () => {
    const o = twoGroups(), other = twoGroups();
    const a = new optim.LinearLR(o, {}), b = new optim.ExponentialLR(o, { gamma: 0.9 });
    throwsExactly(() => new optim.SequentialLR(o, { schedulers: [a, b], milestones: [2, 4] }), ArgumentError, 'SequentialLR: expected 1 milestones (one fewer than the 2 schedulers), got 2');
    throwsExactly(() => new optim.SequentialLR(o, { schedulers: [a, b, a], milestones: [4, 4] }), ArgumentError, 'SequentialLR: expected milestones to be increasing integers >= 1, got [4, 4]');
    throwsExactly(() => new optim.SequentialLR(o, { schedulers: [a, new optim.StepLR(other, { stepSize: 2 })], milestones: [2] }), ArgumentError,
      'SequentialLR: expected every scheduler to drive the optimizer given, got schedulers[1] on another optimizer');
    throwsExactly(() => new optim.SequentialLR(o, { schedulers: [a, new optim.ReduceLROnPlateau(o) as never], milestones: [2] }), ArgumentError,
      'SequentialLR: expected schedulers[1] to be an epoch scheduler (StepLR, LinearLR, CosineAnnealingLR, ...), got a ReduceLROnPlateau');
    throwsExactly(() => new optim.SequentialLR(o, { schedulers: [], milestones: [] }), ArgumentError, 'SequentialLR: expected schedulers to be a non-empty array of schedulers, got an array of length 0');
  });
});

describe('optim.warmupCosine', () => {
  it('warmupSteps 5, totalSteps 20, etaMin 1e-4, per batch: base/5 ramps to base at step 5, cosine to etaMin at step 20', () => {
    const o = twoGroups();
    const s = optim.warmupCosine(o, { warmupSteps: 5, totalSteps: 20, etaMin: 1e-4 });
    const want = Array.from({ length: 21 }, (_, e) => [1, 0.3].map((b) => (e < 5 ? linear(b, 1 / 5, 1, 5, e) : cosine(b, 1e-4, 15, e - 5))));
    const got = runScheduler(o, s, 20);
    expectLrs(got, want, 13);
    expect(got[5]).toEqual([1, 0.3]);
    expect(got[20]![0]).toBeCloseTo(1e-4, 15);
  });
  it('totalSteps not above warmupSteps is an ArgumentError, the lr left as it was', () => {
    const o = twoGroups();
    throwsExactly(() => optim.warmupCosine(o, { warmupSteps: 5, totalSteps: 5 }), ArgumentError, 'warmupCosine: expected totalSteps to be an integer > warmupSteps (5), got 5');
    throwsExactly(() => optim.warmupCosine(o, { warmupSteps: 5, totalSteps: 9, etaMin: -1 }), ArgumentError, 'warmupCosine: expected etaMin >= 0, got -1');
    expect(lrsOf(o)).toEqual([1, 0.3]);
  });
});

class Tiny extends nn.Module {
  emb = new nn.Embedding(10, 4);
  pos = new nn.Embedding(8, 4);
  ln = new nn.LayerNorm([4]);
  fc = new nn.Linear(4, 6);
  head = new nn.Linear(4, 10, { bias: false });
  gain = nn.Parameter(zeros([4]));
  frozen = zeros([3, 3]).requiresGrad_(false);
  constructor() {
    super();
    this.head.weight = this.emb.weight;  // tied
  }
  forward(x: Tensor): Tensor { return x; }
}
describe('optim.weightDecayGroups', () => {
  it('decays the Linear weights only; biases, LayerNorm, embeddings (the tied head too) and 1-d parameters are not', () => {
    const m = new Tiny();
    const [decay, rest] = optim.weightDecayGroups(m, { weightDecay: 0.1 });
    expect(decay.weightDecay).toBe(0.1);
    expect(rest.weightDecay).toBe(0);
    expect(decay.params).toEqual([m.fc.weight]);
    expect(rest.params).toEqual([m.gain, m.emb.weight, m.pos.weight, m.ln.weight, m.ln.bias, m.fc.bias]);
    expect(decay.params.length + rest.params.length).toBe(m.parameters().length);
  });
  it('with AdamW and zero gradients, a step shrinks only the decayed group by lr * weightDecay', async () => {
    const m = new Tiny();
    const groups = optim.weightDecayGroups(m, { weightDecay: 0.5 });
    const opt = new optim.AdamW(groups, { lr: 0.1 });
    for (const p of m.parameters()) p.grad = zeros(p.shape);
    const before = new Map(m.parameters().map((p) => [p, Array.from(p.dataSync())]));
    opt.step();
    for (const p of groups[0].params) {
      const b = before.get(p)!;
      Array.from(p.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(b[i]! * (1 - 0.1 * 0.5), 6));
      expect(b.some((v) => Math.abs(v) > 0.01)).toBe(true);  // a visible shrink
    }
    for (const p of groups[1].params) expect(Array.from(p.dataSync())).toEqual(before.get(p));
  });
  it('a negative weightDecay or a non-module is an ArgumentError', () => {
    throwsExactly(() => optim.weightDecayGroups(new Tiny(), { weightDecay: -0.1 }), ArgumentError, 'weightDecayGroups: expected weightDecay >= 0, got -0.1');
    throwsExactly(() => optim.weightDecayGroups(tensor([1]) as never, { weightDecay: 0.1 }), ArgumentError, 'weightDecayGroups: expected an nn.Module, got a tensor of shape [1] (float32)');
  });
});
