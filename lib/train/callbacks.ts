/** Callbacks of fit(): hooks at epoch and batch boundaries; the built-in ones cover early stopping and checkpoints. */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArgumentError } from '../errors.js';
import { Module } from '../nn/module.js';
import { save } from '../io/safetensors.js';
import { describe, isOptions } from '../check.js';
import type { Optimizer } from '../optim/optimizer.js';

export type Logs = Record<string, number>;
export interface TrainContext {
  model: Module;
  optimizer: Optimizer<{ lr: number }>;
  /** set by a callback to end training after the current batch */
  stopTraining: boolean;
  epoch: number;
  /** the number of epochs fit() was asked for (absent in contexts built outside fit) */
  epochs?: number;
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

/** What built a model: a built-in of the CLI by name, or a module file whose default export builds it; with the options it was given. */
export type ModelSource = { builtin: string; options?: Record<string, unknown> } | { file: string; options?: Record<string, unknown> };

/** The checkpoint metadata entries ModelCheckpoint writes (JSON strings, except the summary). */
export const CHECKPOINT_KEYS = { model: 'tensile.model', training: 'tensile.training', summary: 'tensile.summary' } as const;
const RECORDED = ['epoch', 'epochs', 'interrupted', 'optimizerClass', 'optimizerOptions'];

function jsonArg(op: string, what: string, v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v, (_k, x) => {
      if (typeof x === 'number' && !Number.isFinite(x)) throw new ArgumentError(`${op}: expected ${what} to hold finite numbers (JSON), got ${x}`);
      if (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.getPrototypeOf(x) !== Object.prototype) {
        throw new ArgumentError(`${op}: expected ${what} to hold JSON values (numbers, strings, booleans, null, arrays, plain objects), got ${describe(x)}`);
      }
      if (typeof x === 'function' || typeof x === 'bigint' || typeof x === 'symbol') {
        throw new ArgumentError(`${op}: expected ${what} to hold JSON values (numbers, strings, booleans, null, arrays, plain objects), got ${describe(x)}`);
      }
      return x;
    });
  } catch (e) {
    if (e instanceof ArgumentError) throw e;
    throw new ArgumentError(`${op}: expected ${what} to be JSON (no cycles), got ${(e as Error).message}`);
  }
  return s!;
}

/**
 * Saves {model, optimizer, epoch} (atomic safetensors) after each epoch, or only when `monitor` improves. The file's
 * metadata records what built the model (`model`: a built-in's name or the module file's absolute path, with the
 * options; under "tensile.model"), the training settings ("tensile.training": the `settings` given, the optimizer's
 * class and options, the epoch reached and of how many, whether Ctrl-C interrupted it) and the module tree
 * ("tensile.summary"), so that `tensile eval` and `tensile train --resume` need only the file.
 * @example `new ModelCheckpoint({ path: 'out/best.safetensors', monitor: 'valAccuracy', saveBestOnly: true, model: { file: 'model.js' }, settings: { batchSize: 64 } })`
 */
export class ModelCheckpoint implements Callback {
  private best = NaN;
  readonly mode: 'min' | 'max';
  private readonly modelJson: string | null;
  constructor(readonly o: { path: string; monitor?: string; saveBestOnly?: boolean; mode?: 'min' | 'max'; model?: ModelSource; settings?: Record<string, unknown> }) {
    const op = 'ModelCheckpoint';
    if (!isOptions(o)) throw new ArgumentError(`${op}: expected options with a path, got ${describe(o)}`);
    if (typeof o.path !== 'string' || o.path === '') throw new ArgumentError(`${op}: expected path to be a non-empty string, got ${describe(o.path)}`);
    this.mode = modeFor(o.monitor ?? 'valLoss', o.mode);
    this.modelJson = null;
    if (o.model !== undefined) {
      const m = o.model as { builtin?: unknown; file?: unknown; options?: unknown };
      const keys = isOptions(m) ? Object.keys(m).filter((k) => m[k as keyof typeof m] !== undefined) : [];
      const kind = keys.filter((k) => k === 'builtin' || k === 'file');
      if (!isOptions(m) || kind.length !== 1 || keys.some((k) => k !== 'builtin' && k !== 'file' && k !== 'options')
        || typeof m[kind[0] as 'builtin'] !== 'string' || m[kind[0] as 'builtin'] === '') {
        throw new ArgumentError(`${op}: expected model to be { builtin: name, options? } or { file: path, options? }, got ${isOptions(m) ? `{ ${keys.join(', ')} }` : describe(m)}`);
      }
      if (m.options !== undefined && (!isOptions(m.options) || Array.isArray(m.options))) {
        throw new ArgumentError(`${op}: expected model.options to be a plain object, got ${describe(m.options)}`);
      }
      const source = kind[0] === 'file' ? { file: resolve(m.file as string), options: m.options ?? {} } : { builtin: m.builtin, options: m.options ?? {} };
      this.modelJson = jsonArg(op, 'model.options', source);
    }
    if (o.settings !== undefined) {
      if (!isOptions(o.settings) || Array.isArray(o.settings)) throw new ArgumentError(`${op}: expected settings to be a plain object, got ${describe(o.settings)}`);
      const taken = Object.keys(o.settings).find((k) => RECORDED.includes(k));
      if (taken) throw new ArgumentError(`${op}: expected settings keys other than ${RECORDED.join(', ')} (recorded from training), got '${taken}'`);
      jsonArg(op, 'settings', o.settings);
    }
  }
  private async write(ctx: TrainContext, epoch: number, interrupted: boolean): Promise<void> {
    // the optimizer's options that JSON holds as they are (a custom optimizer may take functions)
    const plain = (v: unknown) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';
    const optimizerOptions = Object.fromEntries(Object.entries(ctx.optimizer.defaults)
      .filter(([, v]) => plain(v) || (Array.isArray(v) && v.every(plain))));
    const training = {
      ...this.o.settings, epoch, ...(ctx.epochs === undefined ? {} : { epochs: ctx.epochs }), interrupted,
      optimizerClass: ctx.optimizer.constructor.name, optimizerOptions,
    };
    const metadata: Record<string, string> = {
      [CHECKPOINT_KEYS.training]: jsonArg('ModelCheckpoint', 'the optimizer options', training),
      [CHECKPOINT_KEYS.summary]: String(ctx.model),
    };
    if (this.modelJson !== null) metadata[CHECKPOINT_KEYS.model] = this.modelJson;
    await save({ model: ctx.model.stateDict(), optimizer: ctx.optimizer.stateDict(), epoch }, this.o.path, { metadata });
  }
  async onEpochEnd(ctx: TrainContext, epoch: number, logs: Logs): Promise<void> {
    if (!this.o.saveBestOnly) return this.write(ctx, epoch, false);
    const v = logs[this.o.monitor ?? 'valLoss'];
    if (v === undefined) return;
    if (Number.isNaN(this.best) || better(this.mode, v, this.best, 0)) {
      this.best = v;
      await this.write(ctx, epoch, false);
    }
  }
  async onInterrupt(ctx: TrainContext): Promise<void> {
    await this.write(ctx, ctx.epoch, true);
  }
}

/** Sets the learning rate from a function of the epoch (0-based) before each epoch. @example `new LearningRateScheduler((e) => 1e-3 * 0.9 ** e)` */
export class LearningRateScheduler implements Callback {
  constructor(readonly schedule: (epoch: number, lr: number) => number) {}
  onEpochBegin(ctx: TrainContext, epoch: number): void {
    for (const g of ctx.optimizer.paramGroups) g.lr = this.schedule(epoch - 1, g.lr);
  }
}

/**
 * Appends one row per epoch to a CSV file, or one JSON object per line (.jsonl). The file starts empty unless
 * `append` (a resumed run): then the rows follow the existing ones, under the existing CSV header.
 * @example `new CSVLogger('out/history.csv')` @example `new CSVLogger('out/history.csv', { append: true })`
 */
export class CSVLogger implements Callback {
  private keys: string[] | null = null;
  constructor(readonly path: string, readonly o: { append?: boolean } = {}) {}
  onTrainBegin(): void {
    this.keys = null;
    if (this.o.append && existsSync(this.path)) {
      const header = readFileSync(this.path, 'utf8').split('\n')[0]!;
      if (header && !this.path.endsWith('.jsonl')) this.keys = header.split(',').slice(1);
      return;
    }
    writeFileSync(this.path, '');
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
