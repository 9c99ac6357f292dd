// loadStateDict (optimizers, modules, schedulers) and scheduler construction: everything is checked before anything
// changes, so a bad state dict or bad options leave the object exactly as it was (lr, momentum buffers, step counts,
// parameter values byte for byte).
import { describe, it, expect } from 'vitest';
import { nn, optim, tensor, randn, zeros, manualSeed, Tensor, ArgumentError, ShapeError, TensileError } from '../../lib/index.js';
import { throwsExactly, type ErrorClass } from '../helpers.js';


const hex = async (t: Tensor) => {
  const d = await t.data();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
};

/** Everything an optimizer holds: group options, and each parameter's state (tensor identity and bytes, numbers). */
async function snapshot(opt: optim.Optimizer<{ lr: number }>, params: Tensor[]) {
  const groups = opt.paramGroups.map((g) => {
    const { params: ps, ...o } = g;
    return { o: JSON.stringify(o), ps: ps.slice() };
  });
  const state: unknown[] = [];
  for (const p of params) {
    const s = opt.state.get(p);
    if (!s) { state.push(null); continue; }
    const entry: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s)) entry[k] = v instanceof Tensor ? { t: v, bytes: await hex(v) } : v;
    state.push(entry);
  }
  return { groups, state, values: await Promise.all(params.map(hex)), size: opt.state.size };
}
async function expectSame(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  expect(b.groups.map((g) => g.o)).toEqual(a.groups.map((g) => g.o));
  b.groups.forEach((g, i) => g.ps.forEach((p, j) => expect(p).toBe(a.groups[i]!.ps[j])));
  expect(b.size).toBe(a.size);
  expect(b.values).toEqual(a.values);
  b.state.forEach((s, i) => {
    const was = a.state[i] as Record<string, unknown> | null;
    if (was === null) { expect(s).toBeNull(); return; }
    const now = s as Record<string, unknown>;
    expect(Object.keys(now).sort()).toEqual(Object.keys(was).sort());
    for (const [k, v] of Object.entries(was)) {
      if (v && typeof v === 'object' && 't' in v) {
        expect((now[k] as { t: Tensor }).t).toBe((v as { t: Tensor }).t);  // the same buffer object, not a replacement
        expect((now[k] as { bytes: string }).bytes).toBe((v as { bytes: string }).bytes);
      } else expect(now[k]).toEqual(v);
    }
  });
}

function trained(make: (ps: Tensor[]) => optim.Optimizer<{ lr: number }>, inF = 4, steps = 3) {
  manualSeed(3);
  const model = new nn.Linear(inF, 2);
  const opt = make(model.parameters());
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    model.forward(randn([5, inF])).pow(2).sum().backward();
    opt.step();
  }
  return { model, opt, params: model.parameters() };
}

describe('Optimizer.loadStateDict checks the whole state first; on any error the optimizer is unchanged', () => {
  it('SGD(momentum 0.9): a state dict with a new lr and a null state entry (used to set lr, clear momentum, then TypeError)', async () => {
    const { opt, params } = trained((ps) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9 }));
    const before = await snapshot(opt, params);
    const sd = opt.stateDict();
    sd.paramGroups[0]!['lr'] = 0.5;
    (sd.state as Record<number, unknown>)[1] = null;
    throwsExactly(() => opt.loadStateDict(sd), ArgumentError, 'SGD.loadStateDict: expected the state of parameter 1 to be an object, got null');
    await expectSame(before, await snapshot(opt, params));
    expect(opt.paramGroups[0]!.lr).toBe(0.1);
  });
  it('Adam: another model\'s Adam state (Linear(3,2) into Linear(4,2)) is a ShapeError, step counts not advanced', async () => {
    const other = trained((ps) => new optim.Adam(ps, { lr: 0.05 }), 3);
    const { opt, params } = trained((ps) => new optim.Adam(ps, { lr: 0.01 }), 4);
    const before = await snapshot(opt, params);
    throwsExactly(() => opt.loadStateDict(other.opt.stateDict()), ShapeError,
      "Adam.loadStateDict: expected state 'expAvg' of parameter 0 of shape [2,4] (the parameter's), got [2,3]");
    await expectSame(before, await snapshot(opt, params));
    expect(opt.state.get(params[0]!)!['step']).toBe(3);
    expect(opt.paramGroups[0]!.lr).toBe(0.01);
    // and the optimizer still steps from where it was
    params[0]!.grad = zeros([2, 4]).add(1);
    params[1]!.grad = null;
    opt.step();
    expect(opt.state.get(params[0]!)!['step']).toBe(4);
  });
  const bad: [string, (sd: optim.OptimizerStateDict) => void, ErrorClass, string][] = [
    ['betas: 0.9 in a group', (sd) => { sd.paramGroups[0]!['betas'] = 0.9; }, ArgumentError, 'Adam: expected betas to be a pair of numbers in [0, 1), got the number 0.9'],
    ['lr NaN in a group', (sd) => { sd.paramGroups[0]!['lr'] = NaN; }, ArgumentError, 'Adam: expected lr >= 0, got NaN'],
    ['a missing expAvgSq', (sd) => { delete (sd.state[1] as Record<string, unknown>)['expAvgSq']; }, ArgumentError,
      "Adam.loadStateDict: expected state 'expAvgSq' of parameter 1 to be a Tensor, got undefined"],
    ['step -1', (sd) => { sd.state[0]!['step'] = -1; }, ArgumentError, "Adam.loadStateDict: expected state 'step' of parameter 0 to be an integer >= 0, got the number -1"],
    ['state for id 7 of 2', (sd) => { sd.state[7] = sd.state[0]!; }, ArgumentError, 'Adam.loadStateDict: expected state for the parameter ids of the groups, got id 7'],
    ['a group of 1 parameter for 2', (sd) => { (sd.paramGroups[0] as { params: number[] }).params = [0]; }, ArgumentError,
      'Adam.loadStateDict: expected group 0 with 2 parameters, got 1'],
    ['2 groups for 1', (sd) => { sd.paramGroups.push({ ...sd.paramGroups[0]! }); }, ArgumentError, 'Adam.loadStateDict: expected 1 parameter groups, got 2'],
    ['params [0, 0]', (sd) => { (sd.paramGroups[0] as { params: number[] }).params = [0, 0]; }, ArgumentError,
      'Adam.loadStateDict: expected distinct integer parameter ids, got the number 0 in group 0'],
  ];
  for (const [what, spoil, cls, msg] of bad) {
    it(`Adam: ${what} -> ${cls.name}, nothing changed`, async () => {
      const { opt, params } = trained((ps) => new optim.Adam(ps, { lr: 0.01 }));
      const before = await snapshot(opt, params);
      const sd = opt.stateDict();
      sd.paramGroups[0]!['lr'] = 0.5;  // a change that a partial load would apply first
      spoil(sd);
      throwsExactly(() => opt.loadStateDict(sd), cls, msg);
      await expectSame(before, await snapshot(opt, params));
    });
  }
  it('rejects a value that is not a state dict: SGD.loadStateDict(undefined)', () => {
    const { opt } = trained((ps) => new optim.SGD(ps, { lr: 0.1 }));
    throwsExactly(() => opt.loadStateDict(undefined as never), ArgumentError, 'SGD.loadStateDict: expected a state dict { state, paramGroups }, got undefined');
  });
  it('a good state dict still loads: values copied (not shared), float64 state cast to the float32 parameter', async () => {
    const a = trained((ps) => new optim.Adam(ps, { lr: 0.03 }));
    const b = trained((ps) => new optim.Adam(ps, { lr: 0.01 }), 4, 1);
    const sd = a.opt.stateDict();
    sd.state[0]!['expAvg'] = (sd.state[0]!['expAvg'] as Tensor).cast('float64');
    b.opt.loadStateDict(sd);
    expect(b.opt.paramGroups[0]!.lr).toBe(0.03);
    const s0 = b.opt.state.get(b.params[0]!)!;
    expect(s0['step']).toBe(3);
    expect((s0['expAvg'] as Tensor).dtype).toBe('float32');
    expect(await hex(s0['expAvgSq'] as Tensor)).toBe(await hex(a.opt.state.get(a.params[0]!)!['expAvgSq'] as Tensor));
    expect(s0['expAvgSq']).not.toBe(a.opt.state.get(a.params[0]!)!['expAvgSq']);
  });
});

describe('a failed step() leaves the state as it was', () => {
  it('Adam: a gradient of the wrong shape throws in the fused step and the step count stays 3', async () => {
    const { opt, params } = trained((ps) => new optim.Adam(ps, { lr: 0.01 }));
    const before = await snapshot(opt, params);
    params[0]!.grad = zeros([3]);
    params[1]!.grad = null;
    throwsExactly(() => opt.step(), ShapeError, 'adam_: expected grads[0] contiguous of shape [2,4], got [3]');
    await expectSame(before, await snapshot(opt, params));
  });
  it('SGD(momentum 0.9): a failed first step keeps no state (the next step is still a first step)', async () => {
    const p = zeros([2, 2]).requiresGrad_(true);
    const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = zeros([3]);
    throwsExactly(() => opt.step(), ShapeError, 'sgd_: expected grads[0] contiguous of shape [2,2], got [3]');
    expect(opt.state.size).toBe(0);
  });
});

describe('construction checks the options: new optim.Adam(ps, { betas: 0.9 }) and friends', () => {
  const p = () => [zeros([2]).requiresGrad_(true)];
  const cases: [string, () => unknown, string][] = [
    ['Adam betas 0.9', () => new optim.Adam(p(), { betas: 0.9 as never }), 'Adam: expected betas to be a pair of numbers in [0, 1), got the number 0.9'],
    ['Adam betas [0.9, 1]', () => new optim.Adam(p(), { betas: [0.9, 1] }), 'Adam: expected betas to be a pair of numbers in [0, 1), got [0.9, 1]'],
    ['AdamW amsgrad "yes"', () => new optim.AdamW(p(), { amsgrad: 'yes' as never }), "AdamW: expected amsgrad to be true or false, got the string 'yes'"],
    ['Adam lr Infinity', () => new optim.Adam(p(), { lr: Infinity }), 'Adam: expected lr >= 0, got Infinity'],
    ['SGD lr "0.1"', () => new optim.SGD(p(), { lr: '0.1' as never }), "SGD: expected lr >= 0, got the string '0.1'"],
    ['RMSprop momentum NaN', () => new optim.RMSprop(p(), { momentum: NaN }), 'RMSprop: expected momentum >= 0, got NaN'],
    ['Adagrad lrDecay -1', () => new optim.Adagrad(p(), { lrDecay: -1 }), 'Adagrad: expected lrDecay >= 0, got -1'],
  ];
  for (const [what, f, msg] of cases) it(what, () => throwsExactly(f, ArgumentError, msg));
});

describe('schedulers whose options would make lr NaN throw at construction, lr untouched', () => {
  const make = () => new optim.SGD([zeros([2]).requiresGrad_(true)], { lr: 0.1 });
  const cases: [string, (o: optim.SGD) => unknown, string][] = [
    ['CosineAnnealingLR({tMax: 0})', (o) => new optim.CosineAnnealingLR(o, { tMax: 0 }), 'CosineAnnealingLR: expected tMax > 0, got 0'],
    ['CosineAnnealingLR({tMax: 5, etaMin: NaN})', (o) => new optim.CosineAnnealingLR(o, { tMax: 5, etaMin: NaN }), 'CosineAnnealingLR: expected etaMin >= 0, got NaN'],
    ['ExponentialLR({})', (o) => new optim.ExponentialLR(o, {} as never), 'ExponentialLR: expected gamma to be a finite number, got undefined'],
    ['LinearLR({totalIters: 0})', (o) => new optim.LinearLR(o, { totalIters: 0 }), 'LinearLR: expected totalIters to be an integer >= 1, got 0'],
    ['LinearLR({startFactor: 0})', (o) => new optim.LinearLR(o, { startFactor: 0 }), 'LinearLR: expected startFactor in (0, 1], got 0'],
    ['StepLR({stepSize: 2, gamma: NaN})', (o) => new optim.StepLR(o, { stepSize: 2, gamma: NaN }), 'StepLR: expected gamma to be a finite number, got NaN'],
    ['OneCycleLR({maxLr: 0.1, totalSteps: 0})', (o) => new optim.OneCycleLR(o, { maxLr: 0.1, totalSteps: 0 }), 'OneCycleLR: expected totalSteps to be an integer >= 1, got 0'],
    ['OneCycleLR({maxLr: 0.1, totalSteps: 10, divFactor: 0})', (o) => new optim.OneCycleLR(o, { maxLr: 0.1, totalSteps: 10, divFactor: 0 }), 'OneCycleLR: expected divFactor > 0, got 0'],
    ['ReduceLROnPlateau({factor: NaN})', (o) => new optim.ReduceLROnPlateau(o, { factor: NaN }), 'ReduceLROnPlateau: expected factor < 1, got NaN'],
  ];
  for (const [what, f, msg] of cases) {
    it(what, () => {
      const o = make();
      throwsExactly(() => f(o), ArgumentError, msg);
      expect(o.paramGroups[0]!.lr).toBe(0.1);
    });
  }
  it('the valid edges still work: LinearLR({startFactor: 1, totalIters: 1}), CosineAnnealingLR({tMax: 1})', () => {
    const o = make();
    const s = new optim.LinearLR(o, { startFactor: 1, endFactor: 0.5, totalIters: 1 });
    s.step();
    expect(o.paramGroups[0]!.lr).toBeCloseTo(0.05, 12);
    const o2 = make();
    const c = new optim.CosineAnnealingLR(o2, { tMax: 1 });
    c.step();
    expect(o2.paramGroups[0]!.lr).toBeCloseTo(0, 12);
  });
  it('LRScheduler.loadStateDict checks first: a bad baseLrs leaves lastEpoch and baseLrs as they were', () => {
    const o = make();
    const s = new optim.StepLR(o, { stepSize: 2 });
    s.step();
    throwsExactly(() => s.loadStateDict({ lastEpoch: 7, baseLrs: [NaN] }), ArgumentError,
      'StepLR.loadStateDict: expected baseLrs to be 1 numbers >= 0 (one per parameter group), got an array of length 1');
    expect(s.lastEpoch).toBe(1);
    expect(s.baseLrs).toEqual([0.1]);
    throwsExactly(() => s.loadStateDict({ lastEpoch: 1.5, baseLrs: [0.2] }), ArgumentError, 'StepLR.loadStateDict: expected lastEpoch to be an integer >= 0, got 1.5');
    expect(s.baseLrs).toEqual([0.1]);
  });
});

describe('Module.loadStateDict checks every entry first; on any error no tensor changes', () => {
  const model = () => { manualSeed(1); return new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.Linear(4, 2)); };
  const values = (m: nn.Module) => Promise.all(Object.values(m.stateDict()).map(hex));
  it('a wrong shape in the last entry: ShapeError, and the earlier entries were not copied', async () => {
    const m = model();
    const before = await values(m);
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) sd[k] = randn(t.shape);
    sd['2.bias'] = randn([3]);
    throwsExactly(() => m.loadStateDict(sd), ShapeError, "Sequential.loadStateDict: expected '2.bias' of shape [2], got [3]");
    expect(await values(m)).toEqual(before);
  });
  it('a value that is not a tensor: ArgumentError, nothing copied', async () => {
    const m = model();
    const before = await values(m);
    const sd: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(m.stateDict())) sd[k] = randn(t.shape);
    sd['1.running_var'] = [1, 1, 1, 1];
    throwsExactly(() => m.loadStateDict(sd as never), ArgumentError, "Sequential.loadStateDict: expected '1.running_var' to be a Tensor, got an array of length 4");
    expect(await values(m)).toEqual(before);
  });
  it('a good one still loads (float64 values cast to float32)', async () => {
    const m = model();
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(m.stateDict())) sd[k] = randn(t.shape, { dtype: 'float64' });
    m.loadStateDict(sd);
    expect(Array.from(await m.stateDict()['0.bias']!.data())).toEqual(Array.from(await sd['0.bias']!.cast('float32').data()));
    expect(m.stateDict()['0.bias']!.dtype).toBe('float32');
  });
  it('loadStateDict(null): ArgumentError', () => {
    throwsExactly(() => model().loadStateDict(null as never), ArgumentError, 'Sequential.loadStateDict: expected a state dict (tensors by name), got null');
  });
  it('tensor() as a state dict is not an object of tensors', () => {
    throwsExactly(() => model().loadStateDict(tensor([1]) as never), ArgumentError, 'Sequential.loadStateDict: expected a state dict (tensors by name), got a tensor of shape [1] (float32)');
  });
});
