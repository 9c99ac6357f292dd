/** Callbacks of fit(): hooks at epoch and batch boundaries; the built-in ones cover early stopping and checkpoints. */
import { appendFileSync, writeFileSync } from 'node:fs';
import { ArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';
import { save } from '../io/safetensors.js';
import type { Optimizer } from '../optim/optimizer.js';

export type Logs = Record<string, number>;
export interface TrainContext {
  model: Module;
  optimizer: Optimizer<{ lr: number }>;
  /** set by a callback to end training after the current batch */
  stopTraining: boolean;
  epoch: number;
}
export interface Callback {
  /** Before the first epoch. @example `onTrainBegin(ctx) { console.log(ctx.model.toString()) }` */
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  /** After the last epoch, with its logs. @example `onTrainEnd(ctx, logs) { console.log(logs) }` */
  onTrainEnd?(ctx: TrainContext, logs: Logs): void | Promise<void>;
  /** Before each epoch (0-based). @example `onEpochBegin(ctx, epoch) { ... }` */
  onEpochBegin?(ctx: TrainContext, epoch: number): void | Promise<void>;
  /** After each epoch, with its losses and metrics (validation ones prefixed val_). @example `onEpochEnd(ctx, epoch, logs) { console.log(logs.val_accuracy) }` */
  onEpochEnd?(ctx: TrainContext, epoch: number, logs: Logs): void | Promise<void>;
  /** After each batch. @example `onBatchEnd(ctx, batch, logs) { ... }` */
  onBatchEnd?(ctx: TrainContext, batch: number, logs: Logs): void | Promise<void>;
  /** called on SIGINT before fit returns @example `onInterrupt(ctx) { return save(ctx.model.stateDict(), "last.safetensors") }` */
  onInterrupt?(ctx: TrainContext, logs: Logs): void | Promise<void>;
}

function better(mode: 'min' | 'max', a: number, b: number, minDelta: number): boolean {
  return mode === 'min' ? a < b - minDelta : a > b + minDelta;
}
const modeFor = (monitor: string, mode?: 'min' | 'max') => mode ?? (/acc|f1|precision|recall/i.test(monitor) ? 'max' : 'min');

/**
 * Stops when `monitor` has not improved by minDelta for `patience` epochs; restoreBest puts back the best weights.
 * @example `new EarlyStopping({ monitor: 'valLoss', patience: 3, restoreBest: true })`
 */
export class EarlyStopping implements Callback {
  private best = NaN;
  private wait = 0;
  private bestState: Map<string, Float32Array | Float64Array | Int32Array | Uint8Array> | null = null;
  readonly mode: 'min' | 'max';
  constructor(readonly o: { monitor?: string; patience?: number; minDelta?: number; restoreBest?: boolean; mode?: 'min' | 'max' } = {}) {
    this.mode = modeFor(o.monitor ?? 'valLoss', o.mode);
  }
  async onEpochEnd(ctx: TrainContext, _epoch: number, logs: Logs): Promise<void> {
    const monitor = this.o.monitor ?? 'valLoss';
    const v = logs[monitor];
    if (v === undefined) throw new ArgumentError(`EarlyStopping: expected '${monitor}' in the epoch logs, got ${Object.keys(logs).join(', ')}`);
    if (Number.isNaN(this.best) || better(this.mode, v, this.best, this.o.minDelta ?? 0)) {
      this.best = v;
      this.wait = 0;
      if (this.o.restoreBest) {
        this.bestState = new Map();
        for (const [k, t] of Object.entries(ctx.model.stateDict())) this.bestState.set(k, await t.data());
      }
    } else if (++this.wait >= (this.o.patience ?? 0)) {
      ctx.stopTraining = true;
    }
  }
  async onTrainEnd(ctx: TrainContext): Promise<void> {
    if (!this.bestState) return;
    const { tensor } = await import('../tensor/create.js');
    const sd = ctx.model.stateDict();
    ctx.model.loadStateDict(Object.fromEntries([...this.bestState].map(([k, v]) => [k, tensor(v, { shape: sd[k]!.shape as number[], dtype: sd[k]!.dtype })])));
  }
}

/**
 * Saves {model, optimizer, epoch} (atomic safetensors) after each epoch, or only when `monitor` improves.
 * @example `new ModelCheckpoint({ path: 'out/best.safetensors', monitor: 'valAccuracy', saveBestOnly: true })`
 */
export class ModelCheckpoint implements Callback {
  private best = NaN;
  readonly mode: 'min' | 'max';
  constructor(readonly o: { path: string; monitor?: string; saveBestOnly?: boolean; mode?: 'min' | 'max' }) {
    if (o === null || typeof o !== 'object' || typeof o.path !== 'string' || o.path === '') {
      throw new ArgumentError(`ModelCheckpoint: expected options with a file path, such as { path: 'best.safetensors' }, got ${o === null || typeof o !== 'object' ? String(o === null ? 'null' : typeof o) : `path ${JSON.stringify(o.path) ?? 'undefined'}`}`);
    }
    this.mode = modeFor(o.monitor ?? 'valLoss', o.mode);
  }
  private async write(ctx: TrainContext, epoch: number): Promise<void> {
    await save({ model: ctx.model.stateDict(), optimizer: ctx.optimizer.stateDict(), epoch }, this.o.path);
  }
  async onEpochEnd(ctx: TrainContext, epoch: number, logs: Logs): Promise<void> {
    if (!this.o.saveBestOnly) return this.write(ctx, epoch);
    const v = logs[this.o.monitor ?? 'valLoss'];
    if (v === undefined) return;
    if (Number.isNaN(this.best) || better(this.mode, v, this.best, 0)) {
      this.best = v;
      await this.write(ctx, epoch);
    }
  }
  async onInterrupt(ctx: TrainContext): Promise<void> {
    await this.write(ctx, ctx.epoch);
  }
}

/** Sets the learning rate from a function of the epoch (0-based) before each epoch. @example `new LearningRateScheduler((e) => 1e-3 * 0.9 ** e)` */
export class LearningRateScheduler implements Callback {
  constructor(readonly schedule: (epoch: number, lr: number) => number) {}
  onEpochBegin(ctx: TrainContext, epoch: number): void {
    for (const g of ctx.optimizer.paramGroups) g.lr = this.schedule(epoch - 1, g.lr);
  }
}

/** Appends one row per epoch to a CSV file, or one JSON object per line (.jsonl). @example `new CSVLogger('out/history.csv')` */
export class CSVLogger implements Callback {
  private keys: string[] | null = null;
  constructor(readonly path: string) {}
  onTrainBegin(): void {
    writeFileSync(this.path, '');
    this.keys = null;
  }
  onEpochEnd(_ctx: TrainContext, epoch: number, logs: Logs): void {
    if (this.path.endsWith('.jsonl')) {
      appendFileSync(this.path, JSON.stringify({ epoch, ...logs }) + '\n');
      return;
    }
    if (!this.keys) {
      this.keys = Object.keys(logs);
      appendFileSync(this.path, ['epoch', ...this.keys].join(',') + '\n');
    }
    appendFileSync(this.path, [epoch, ...this.keys.map((k) => logs[k])].join(',') + '\n');
  }
}
