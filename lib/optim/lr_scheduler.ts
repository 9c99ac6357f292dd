/**
 * Learning-rate schedulers (torch.optim.lr_scheduler's formulas). Call step() once per epoch (or per batch for
 * OneCycleLR); each keeps its state for checkpoints.
 */
import { ArgumentError } from '../errors.js';
import { Optimizer } from './optimizer.js';
import { describe, isOptions, numbersArg, optionsArg } from '../check.js';

type Opt = Optimizer<{ lr: number }>;

function optimizerArg(name: string, o: unknown): void {
  if (!(o instanceof Optimizer)) throw new ArgumentError(`${name}: expected an optimizer, got ${describe(o)}`);
}
// a numeric option: a number for which ok() holds (NaN fails every comparison); undefined passes when optional
function num(name: string, key: string, v: unknown, ok: (x: number) => boolean, what: string, optional = true): void {
  if (v === undefined && optional) return;
  if (typeof v !== 'number' || !ok(v)) throw new ArgumentError(`${name}: expected ${key} ${what}, got ${typeof v === 'number' ? v : describe(v)}`);
}
const finite = (x: number) => Number.isFinite(x);
const posInt = (x: number) => Number.isInteger(x) && x >= 1;

// each parameter group's lr when the first scheduler of its optimizer was made (PyTorch's group['initial_lr']): the
// base of every later scheduler too, so one made after a LinearLR (which lowers the lr at once) starts from the same
// lr as the LinearLR, as SequentialLR needs
const initialLr = new WeakMap<object, number>();

/** Base class of the epoch-based schedulers: step() once per epoch sets each group's lr from lrAt(epoch). @example `const s = new optim.StepLR(opt, { stepSize: 10 }); for (...) { train(); s.step(); }` */
export abstract class LRScheduler {
  lastEpoch = 0;
  /** each group's lr before any scheduler of the optimizer changed it (PyTorch's base_lrs, from initial_lr) */
  readonly baseLrs: number[];
  constructor(readonly optimizer: Opt) {
    optimizerArg(this.constructor.name, optimizer);
    this.baseLrs = optimizer.paramGroups.map((g) => {
      if (!initialLr.has(g)) initialLr.set(g, g.lr);
      return initialLr.get(g)!;
    });
  }
  protected abstract lrAt(epoch: number, base: number, i: number): number;
  /** Advances one epoch and sets each group's lr. @example `sched.step()` */
  step(): void {
    this.lastEpoch++;
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lrAt(this.lastEpoch, this.baseLrs[i]!, i)));
  }
  /** @example `sched.getLastLr()[0]` */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  /** The scheduler's position, for checkpoints. @example `save({ sched: sched.stateDict() }, p)` */
  stateDict(): Record<string, unknown> {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs] };
  }
  /** Restores a position saved by stateDict(). @example `sched.loadStateDict(ckpt.sched)` */
  loadStateDict(sd: Record<string, unknown>): void {
    const op = `${this.constructor.name}.loadStateDict`;
    if (!isOptions(sd)) throw new ArgumentError(`${op}: expected a state dict { lastEpoch, baseLrs }, got ${describe(sd)}`);
    num(op, 'lastEpoch', sd['lastEpoch'], (x) => Number.isInteger(x) && x >= 0, 'to be an integer >= 0', false);
    const b = sd['baseLrs'];
    if (!Array.isArray(b) || b.length !== this.baseLrs.length || !b.every((x) => typeof x === 'number' && x >= 0 && x < Infinity)) {
      throw new ArgumentError(`${op}: expected baseLrs to be ${this.baseLrs.length} numbers >= 0 (one per parameter group), got ${describe(b)}`);
    }
    this.lastEpoch = sd['lastEpoch'] as number;
    (this.baseLrs as number[]).splice(0, this.baseLrs.length, ...(b as number[]));
  }
}

/** lr = base * gamma^floor(epoch / stepSize). @example `new StepLR(opt, { stepSize: 10, gamma: 0.1 })` */
export class StepLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { stepSize: number; gamma?: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    if (!(o.stepSize > 0)) throw new ArgumentError(`StepLR: expected stepSize > 0, got ${o.stepSize}`);
    num('StepLR', 'gamma', o.gamma, finite, 'to be a finite number');
  }
  protected lrAt(e: number, base: number): number {
    return base * Math.pow(this.o.gamma ?? 0.1, Math.floor(e / this.o.stepSize));
  }
}
/** lr = base * gamma^(number of milestones passed). @example `new MultiStepLR(opt, { milestones: [30, 80] })` */
export class MultiStepLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { milestones: number[]; gamma?: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    numbersArg('MultiStepLR', 'milestones', o.milestones);
    num('MultiStepLR', 'gamma', o.gamma, finite, 'to be a finite number');
  }
  protected lrAt(e: number, base: number): number {
    return base * Math.pow(this.o.gamma ?? 0.1, this.o.milestones.filter((m) => m <= e).length);
  }
}
/** lr = base * gamma^epoch. @example `new ExponentialLR(opt, { gamma: 0.95 })` */
export class ExponentialLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { gamma: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    num('ExponentialLR', 'gamma', o.gamma, finite, 'to be a finite number', false);
  }
  protected lrAt(e: number, base: number): number {
    return base * Math.pow(this.o.gamma, e);
  }
}
/** Cosine from base to etaMin over tMax epochs (closed form). @example `new CosineAnnealingLR(opt, { tMax: 50 })` */
export class CosineAnnealingLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { tMax: number; etaMin?: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    num('CosineAnnealingLR', 'tMax', o.tMax, (x) => x > 0 && x < Infinity, '> 0', false);
    num('CosineAnnealingLR', 'etaMin', o.etaMin, (x) => x >= 0 && x < Infinity, '>= 0');
  }
  protected lrAt(e: number, base: number): number {
    const m = this.o.etaMin ?? 0;
    return m + ((base - m) * (1 + Math.cos((Math.PI * e) / this.o.tMax))) / 2;
  }
}
/** Linear ramp of the factor from startFactor to endFactor over totalIters (warm-up). @example `new LinearLR(opt, { startFactor: 0.1, totalIters: 5 })` */
export class LinearLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { startFactor?: number; endFactor?: number; totalIters?: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    // torch.optim.lr_scheduler.LinearLR's ranges; checked before the lr is touched
    num('LinearLR', 'startFactor', o.startFactor, (x) => x > 0 && x <= 1, 'in (0, 1]');
    num('LinearLR', 'endFactor', o.endFactor, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    num('LinearLR', 'totalIters', o.totalIters, posInt, 'to be an integer >= 1');
    opt.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]! * (o.startFactor ?? 1 / 3)));
  }
  protected lrAt(e: number, base: number): number {
    const s = this.o.startFactor ?? 1 / 3, f = this.o.endFactor ?? 1, n = this.o.totalIters ?? 5;
    return base * (s + ((f - s) * Math.min(e, n)) / n);
  }
}
/**
 * One-cycle policy (Smith & Topin 2018), cosine annealing, stepped per batch: warm up from maxLr/divFactor to maxLr
 * over pctStart of totalSteps, then anneal to maxLr/(divFactor*finalDivFactor).
 * @example `new OneCycleLR(opt, { maxLr: 0.01, totalSteps: epochs * batchesPerEpoch })`
 */
export class OneCycleLR extends LRScheduler {
  constructor(opt: Opt, readonly o: { maxLr: number; totalSteps: number; pctStart?: number; divFactor?: number; finalDivFactor?: number }) {
    super(opt);
    optionsArg(this.constructor.name, o);
    num('OneCycleLR', 'maxLr', o.maxLr, (x) => x >= 0 && x < Infinity, '>= 0', false);
    num('OneCycleLR', 'totalSteps', o.totalSteps, posInt, 'to be an integer >= 1', false);
    num('OneCycleLR', 'pctStart', o.pctStart, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    num('OneCycleLR', 'divFactor', o.divFactor, (x) => x > 0 && x < Infinity, '> 0');
    num('OneCycleLR', 'finalDivFactor', o.finalDivFactor, (x) => x > 0 && x < Infinity, '> 0');
    // PyTorch's OneCycleLR sets initial_lr to its own first lr
    opt.paramGroups.forEach((g) => { g.lr = o.maxLr / (o.divFactor ?? 25); initialLr.set(g, g.lr); });
  }
  protected lrAt(e: number): number {
    const { maxLr, totalSteps } = this.o;
    const init = maxLr / (this.o.divFactor ?? 25), fin = init / (this.o.finalDivFactor ?? 1e4);
    const up = Math.floor((this.o.pctStart ?? 0.3) * totalSteps) - 1;
    const cos = (a: number, b: number, t: number) => b + ((a - b) * (1 + Math.cos(Math.PI * t))) / 2;
    if (e <= up) return cos(init, maxLr, e / up);
    return cos(maxLr, fin, Math.min(1, (e - up) / (totalSteps - 1 - up)));
  }
}

// the lr a scheduler gives group i at epoch e of its own (its closed form)
const lrOf = (s: LRScheduler, e: number, i: number) => (s as unknown as { lrAt(e: number, base: number, i: number): number }).lrAt(e, s.baseLrs[i]!, i);
const bisectRight = (sorted: readonly number[], x: number) => { let k = 0; while (k < sorted.length && sorted[k]! <= x) k++; return k; };

/**
 * Runs schedulers one after another (torch.optim.lr_scheduler.SequentialLR): schedulers[k] from epoch
 * milestones[k-1] on, restarted there at its own epoch 0 (PyTorch's `scheduler.step(0)`), so the lr at epoch e is
 * schedulers[k]'s closed form at e - milestones[k-1]. At construction each group's lr is reset to the first
 * scheduler's epoch 0 (the schedulers' own construction steps are undone, as in PyTorch). Every scheduler must drive
 * `opt`; there is one milestone fewer than schedulers, increasing. stateDict() holds each scheduler's.
 * @example
 * ```ts
 * // 100 steps of linear warm-up, then cosine decay over the remaining 900, stepped once per batch
 * const warm = new optim.LinearLR(opt, { startFactor: 0.01, totalIters: 100 });
 * const cos = new optim.CosineAnnealingLR(opt, { tMax: 900 });
 * const sched = new optim.SequentialLR(opt, { schedulers: [warm, cos], milestones: [100] });
 * ```
 */
export class SequentialLR extends LRScheduler {
  readonly schedulers: readonly LRScheduler[];
  readonly milestones: readonly number[];
  constructor(opt: Opt, o: { schedulers: LRScheduler[]; milestones: number[] }) {
    super(opt);
    const op = 'SequentialLR';
    optionsArg(op, o);
    const scheds = o.schedulers as unknown;
    if (!Array.isArray(scheds) || scheds.length === 0) throw new ArgumentError(`${op}: expected schedulers to be a non-empty array of schedulers, got ${describe(scheds)}`);
    scheds.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new ArgumentError(`${op}: expected schedulers[${i}] to be an epoch scheduler (StepLR, LinearLR, CosineAnnealingLR, ...), got ${describe(s)}`);
      if (s.optimizer !== opt) throw new ArgumentError(`${op}: expected every scheduler to drive the optimizer given, got schedulers[${i}] on another optimizer`);
    });
    const ms = o.milestones as unknown;
    if (!Array.isArray(ms)) throw new ArgumentError(`${op}: expected milestones to be an array of integers, got ${describe(ms)}`);
    if (ms.length !== scheds.length - 1) {
      throw new ArgumentError(`${op}: expected ${scheds.length - 1} milestones (one fewer than the ${scheds.length} schedulers), got ${ms.length}`);
    }
    ms.forEach((m, i) => {
      if (typeof m !== 'number' || !Number.isInteger(m) || m < 1 || (i > 0 && m <= ms[i - 1])) {
        throw new ArgumentError(`${op}: expected milestones to be increasing integers >= 1, got [${ms.map((x) => (typeof x === 'number' ? x : describe(x))).join(', ')}]`);
      }
    });
    this.schedulers = [...scheds];
    this.milestones = [...ms];
    for (const s of this.schedulers) s.lastEpoch = 0;
    opt.paramGroups.forEach((g, i) => (g.lr = lrOf(this.schedulers[0]!, 0, i)));
  }
  protected lrAt(e: number, _base: number, i: number): number {
    const k = bisectRight(this.milestones, e);
    return lrOf(this.schedulers[k]!, k ? e - this.milestones[k - 1]! : e, i);
  }
  /** Advances one step: the scheduler of this epoch sets the lrs (and its lastEpoch). @example `sched.step()` */
  step(): void {
    super.step();
    const k = bisectRight(this.milestones, this.lastEpoch);
    this.schedulers[k]!.lastEpoch = k ? this.lastEpoch - this.milestones[k - 1]! : this.lastEpoch;
  }
  /** The position of this scheduler and of each of its schedulers. @example `save({ sched: sched.stateDict() }, p)` */
  stateDict(): Record<string, unknown> {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }
  /** Restores a stateDict(); checked whole first, so a bad one changes nothing. @example `sched.loadStateDict(ckpt.sched)` */
  loadStateDict(sd: Record<string, unknown>): void {
    const op = 'SequentialLR.loadStateDict';
    const subs = isOptions(sd) ? (sd as Record<string, unknown>)['schedulers'] : undefined;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new ArgumentError(`${op}: expected a state dict { lastEpoch, baseLrs, schedulers } with ${this.schedulers.length} schedulers' states, got ${isOptions(sd) ? describe(subs) : describe(sd)}`);
    }
    const before = [this.stateDict(), ...this.schedulers.map((s) => s.stateDict())];
    try {
      super.loadStateDict(sd);
      this.schedulers.forEach((s, i) => s.loadStateDict(subs[i] as Record<string, unknown>));
    } catch (e) {
      LRScheduler.prototype.loadStateDict.call(this, before[0]!);
      this.schedulers.forEach((s, i) => s.loadStateDict(before[i + 1]!));
      throw e;
    }
  }
}

/**
 * The GPT recipe, stepped once per batch: a linear warm-up from startFactor * lr to lr over warmupSteps steps, then
 * a cosine decay to etaMin over the remaining totalSteps - warmupSteps (lr = etaMin after totalSteps steps):
 * SequentialLR of LinearLR({ startFactor, totalIters: warmupSteps }) and CosineAnnealingLR({ tMax: totalSteps -
 * warmupSteps, etaMin }) at milestone warmupSteps. startFactor defaults to 1 / warmupSteps.
 * @example `const sched = optim.warmupCosine(opt, { warmupSteps: 100, totalSteps: 5000, etaMin: 1e-5 })`
 */
export function warmupCosine(opt: Opt, o: { warmupSteps: number; totalSteps: number; startFactor?: number; etaMin?: number }): SequentialLR {
  const op = 'warmupCosine';
  optimizerArg(op, opt);
  optionsArg(op, o);
  num(op, 'warmupSteps', o.warmupSteps, posInt, 'to be an integer >= 1', false);
  num(op, 'totalSteps', o.totalSteps, (x) => Number.isInteger(x) && x > o.warmupSteps, `to be an integer > warmupSteps (${o.warmupSteps})`, false);
  num(op, 'startFactor', o.startFactor, (x) => x > 0 && x <= 1, 'in (0, 1]');
  num(op, 'etaMin', o.etaMin, (x) => x >= 0 && x < Infinity, '>= 0');
  const warm = new LinearLR(opt, { startFactor: o.startFactor ?? 1 / o.warmupSteps, endFactor: 1, totalIters: o.warmupSteps });
  const cos = new CosineAnnealingLR(opt, { tMax: o.totalSteps - o.warmupSteps, etaMin: o.etaMin });
  return new SequentialLR(opt, { schedulers: [warm, cos], milestones: [o.warmupSteps] });
}

/**
 * Multiplies lr by factor when a metric stopped improving for `patience` epochs. Call step(metric).
 * @example `const s = new ReduceLROnPlateau(opt, { mode: 'min', patience: 2 }); s.stepWith(valLoss)`
 */
export class ReduceLROnPlateau {
  best = Infinity;
  badEpochs = 0;
  cooldownLeft = 0;
  constructor(readonly optimizer: Opt, readonly o: { mode?: 'min' | 'max'; factor?: number; patience?: number; threshold?: number; cooldown?: number; minLr?: number } = {}) {
    optimizerArg('ReduceLROnPlateau', optimizer);
    optionsArg('ReduceLROnPlateau', o);
    if (!((o.factor ?? 0.1) < 1)) throw new ArgumentError(`ReduceLROnPlateau: expected factor < 1, got ${o.factor}`);
    if (o.mode !== undefined && o.mode !== 'min' && o.mode !== 'max') throw new ArgumentError(`ReduceLROnPlateau: expected mode 'min' or 'max', got ${describe(o.mode)}`);
    num('ReduceLROnPlateau', 'factor', o.factor, (x) => x >= 0, 'in [0, 1)');
    num('ReduceLROnPlateau', 'patience', o.patience, (x) => Number.isInteger(x) && x >= 0, 'to be an integer >= 0');
    num('ReduceLROnPlateau', 'threshold', o.threshold, (x) => x >= 0 && x < Infinity, '>= 0');
    num('ReduceLROnPlateau', 'cooldown', o.cooldown, (x) => Number.isInteger(x) && x >= 0, 'to be an integer >= 0');
    num('ReduceLROnPlateau', 'minLr', o.minLr, (x) => x >= 0 && x < Infinity, '>= 0');
    this.best = o.mode === 'max' ? -Infinity : Infinity;
  }
  /** Records the monitored value of an epoch; lowers the lr after `patience` epochs without improvement. @example `plateau.stepWith(valLoss)` */
  stepWith(metric: number): void {
    const max = this.o.mode === 'max', th = this.o.threshold ?? 1e-4;
    const better = max ? metric > this.best * (1 + th) : metric < this.best * (1 - th);
    if (better) { this.best = metric; this.badEpochs = 0; } else this.badEpochs++;
    if (this.cooldownLeft > 0) { this.cooldownLeft--; this.badEpochs = 0; }
    if (this.badEpochs > (this.o.patience ?? 10)) {
      for (const g of this.optimizer.paramGroups) g.lr = Math.max(g.lr * (this.o.factor ?? 0.1), this.o.minLr ?? 0);
      this.cooldownLeft = this.o.cooldown ?? 0;
      this.badEpochs = 0;
    }
  }
  /** The learning rate of each parameter group after the last step(). @example `sched.getLastLr()[0]` */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
  /** The scheduler's state (best value, bad epochs), for checkpoints. @example `plateau.stateDict()` */
  stateDict(): Record<string, unknown> {
    return { best: this.best, badEpochs: this.badEpochs, cooldownLeft: this.cooldownLeft };
  }
  /** Restores a state saved by stateDict(). @example `plateau.loadStateDict(ckpt.plateau)` */
  loadStateDict(sd: Record<string, unknown>): void {
    const op = 'ReduceLROnPlateau.loadStateDict';
    if (!isOptions(sd)) throw new ArgumentError(`${op}: expected a state dict { best, badEpochs, cooldownLeft }, got ${describe(sd)}`);
    num(op, 'best', sd['best'], (x) => !Number.isNaN(x), 'to be a number', false);
    num(op, 'badEpochs', sd['badEpochs'], (x) => Number.isInteger(x) && x >= 0, 'to be an integer >= 0', false);
    num(op, 'cooldownLeft', sd['cooldownLeft'], (x) => Number.isInteger(x) && x >= 0, 'to be an integer >= 0', false);
    this.best = sd['best'] as number;
    this.badEpochs = sd['badEpochs'] as number;
    this.cooldownLeft = sd['cooldownLeft'] as number;
  }
}
