/**
 * The training loop: fit(), evaluate(), predict(). A plain manual loop stays first-class; fit() is the same loop
 * with metrics, validation, callbacks, progress output, a History, and a clean stop on Ctrl-C.
 */
import { ArgumentError, ShapeError } from '../errors.js';
import { Tensor, toDevice } from '../tensor/tensor.js';
import { Device, deviceArg } from '../native.js';
import { Module } from '../nn/module.js';
import { noGrad } from '../autograd/engine.js';
import { crossEntropy } from '../ops/nn.js';
import { cat } from '../ops/index.js';
import { sync } from '../memory.js';
import { Optimizer } from '../optim/optimizer.js';
import { describe, optionsArg } from '../check.js';
import { fmt } from '../tensor/shape.js';
import { Accuracy, Metric } from './metrics.js';
import { Callback, Logs, TrainContext } from './callbacks.js';
import { Progress, Verbosity } from './progress.js';

export type Batch = Record<string, Tensor>;
export interface FitOptions {
  epochs: number;
  optimizer: Optimizer<{ lr: number }>;
  /** (output, target) -> scalar loss; default cross-entropy */
  loss?: (output: Tensor, target: Tensor) => Tensor;
  /** metrics by name; default { accuracy } */
  metrics?: Metric[];
  validation?: AsyncIterable<Batch>;
  callbacks?: Callback[];
  /** the batch fields used as input and target (default 'x' and 'y') */
  inputKey?: string;
  targetKey?: string;
  verbose?: Verbosity;
  /**
   * read the losses of the last n batches every n batches, in one read (each read waits for the device): the progress
   * bar and onBatchEnd's logs see the loss then; History.steps has every batch's loss either way. Default 10
   */
  logEvery?: number;
  /**
   * where to train: the model moves there first (`model.to(device)`) and each batch follows (its tensors are copied
   * to it as they come). 'auto' picks the GPU when one is usable. Default: the device the model's parameters are on.
   */
  device?: Device | 'auto';
  /** epochs already done (a resumed run): training runs epochs initialEpoch+1 .. epochs, numbered so; default 0 */
  initialEpoch?: number;
}
export interface EpochRecord extends Logs {
  epoch: number;
  seconds: number;
  samplesPerSecond: number;
}
/** One training step (batch) of a History: its loss and, for a classifier, the accuracy on that batch. */
export interface StepRecord {
  epoch: number;
  /** 1-based within the epoch */
  batch: number;
  loss: number;
  /** fraction of the batch whose arg-max logit is the label (2-D outputs with int32 labels only) */
  accuracy?: number;
}
/** What fit() returns: per-epoch logs and every training step's loss (and batch accuracy, for a classifier). */
export interface History {
  epochs: EpochRecord[];
  steps: StepRecord[];
  interrupted: boolean;
}

/**
 * Trains `model` on `train` for `epochs`. Ctrl-C stops after the current batch (ModelCheckpoint saves).
 * @example
 * ```ts
 * const history = await fit(model, trainLoader, { epochs: 5, optimizer: new optim.Adam(model.parameters()), validation: testLoader });
 * ```
 */
export async function fit(model: Module, train: AsyncIterable<Batch> & { length?: number }, o: FitOptions): Promise<History> {
  if (!(model instanceof Module)) throw new ArgumentError(`fit: expected a Module to train, got ${describe(model)}`);
  if (train === null || typeof train !== 'object' || typeof train[Symbol.asyncIterator] !== 'function') {
    throw new ArgumentError(`fit: expected the training data as an async iterable of batches (a DataLoader), got ${describe(train)}`);
  }
  if (o === undefined) throw new ArgumentError('fit: expected options with epochs and an optimizer, got undefined');
  o = optionsArg('fit', o);
  if (!(o.optimizer instanceof Optimizer)) throw new ArgumentError(`fit: expected options.optimizer to be an Optimizer, got ${describe(o.optimizer)}`);
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1)) throw new ArgumentError(`fit: expected epochs >= 1, got ${o.epochs}`);
  const initialEpoch = o.initialEpoch ?? 0;
  if (!(Number.isInteger(initialEpoch) && initialEpoch >= 0 && initialEpoch < o.epochs)) {
    throw new ArgumentError(`fit: expected initialEpoch to be an integer in [0, epochs) = [0, ${o.epochs}), got ${describe(o.initialEpoch)}`);
  }
  const device = o.device !== undefined ? deviceArg('fit', o.device) : modelDevice(model);
  if (o.device !== undefined) model.to(device);
  const lossFn = o.loss ?? ((out: Tensor, y: Tensor) => crossEntropy(out, y));
  const metrics = o.metrics ?? [new Accuracy()];
  const cbs = o.callbacks ?? [];
  const ik = o.inputKey ?? 'x', tk = o.targetKey ?? 'y';
  const progress = new Progress(o.verbose ?? 1);
  const logEvery = o.logEvery ?? 10;
  if (!(Number.isInteger(logEvery) && logEvery >= 1)) throw new ArgumentError(`fit: expected logEvery to be an integer >= 1, got ${describe(logEvery)}`);
  const ctx: TrainContext = { model, optimizer: o.optimizer, stopTraining: false, epoch: initialEpoch, epochs: o.epochs };
  const history: History = { epochs: [], steps: [], interrupted: false };
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    ctx.stopTraining = true;
  };
  process.on('SIGINT', onSigint);
  try {
    for (const cb of cbs) await cb.onTrainBegin?.(ctx);
    for (let epoch = initialEpoch + 1; epoch <= o.epochs && !ctx.stopTraining; epoch++) {
      ctx.epoch = epoch;
      for (const cb of cbs) await cb.onEpochBegin?.(ctx, epoch);
      model.train();
      metrics.forEach((m) => m.reset());
      const t0 = performance.now();
      progress.epochBegin(epoch, o.epochs, train.length ?? NaN);
      let seen = 0, batchNo = 0, lossSum = 0, lossSamples = 0;
      // every step's loss (and batch accuracy, for a classifier) stays on the device as a one-element tensor; every
      // logEvery steps the group is joined into one tensor and read at once: one wait per group, none per step
      let pending: { batch: number; n: number; loss: Tensor; acc: Tensor | null }[] = [];
      const readPending = async (): Promise<StepRecord | null> => {
        if (!pending.length) return null;
        const group = pending;
        pending = [];
        const vals = await cat([...group.map((p) => p.loss), ...group.flatMap((p) => (p.acc ? [p.acc] : []))], 0).data();
        let k = group.length;
        let last: StepRecord | null = null;
        group.forEach((p, i) => {
          const rec: StepRecord = { epoch, batch: p.batch, loss: vals[i]! };
          if (p.acc) rec.accuracy = vals[k++]!;
          history.steps.push(rec);
          lossSum += rec.loss * p.n;
          lossSamples += p.n;
          last = rec;
        });
        return last;
      };
      for await (const b of train) {
        const bx = b[ik], by = b[tk];
        if (!bx || !by) throw new ArgumentError(`fit: expected batches with fields '${ik}' and '${tk}', got ${Object.keys(b).join(', ')}`);
        const x = onDevice(bx, device), y = onDevice(by, device);
        const out = model.forward(x);
        const loss = lossFn(out, y);
        if (!(loss instanceof Tensor)) throw new ArgumentError(`fit: expected the loss function to return a Tensor, got ${describe(loss)}`);
        if (loss.numel !== 1) throw new ShapeError(`fit: expected the loss to be a one-element tensor, got shape ${fmt(loss.shape)}`);
        o.optimizer.zeroGrad();
        loss.backward();
        o.optimizer.step();
        for (const m of metrics) m.update(out.detach(), y);
        const classifier = out.ndim === 2 && y.dtype === 'int32' && y.ndim === 1 && y.shape[0] === out.shape[0];
        const acc = classifier ? noGrad(() => out.argmax(1).eq(y).cast(loss.dtype).mean().reshape([1])) : null;
        const n = x.shape[0]!;
        pending.push({ batch: batchNo + 1, n, loss: loss.detach().reshape([1]), acc });
        seen += n;
        batchNo++;
        let lv: number | null = null;
        if (batchNo % logEvery === 0) {
          const rec = (await readPending())!;
          lv = rec.loss;
          // the bar moves when the device has caught up (at each read): ops are queued ahead, so counting enqueued
          // batches would make the rate and the ETA jump
          progress.batch(batchNo, lv, rec.accuracy === undefined ? '' : `batch accuracy ${rec.accuracy.toPrecision(4)}`, seen / ((performance.now() - t0) / 1e3));
        }
        for (const cb of cbs) await cb.onBatchEnd?.(ctx, batchNo, lv === null ? {} : { loss: lv });
        if (ctx.stopTraining) break;
      }
      await readPending();  // the steps since the last read
      await sync();
      const seconds = (performance.now() - t0) / 1e3;
      const logs: Logs = { loss: lossSamples ? lossSum / lossSamples : NaN };
      for (const m of metrics) logs[m.name] = await m.result();
      if (o.validation && !interrupted) {
        const v = await evaluate(model, o.validation, { metrics, loss: lossFn, inputKey: ik, targetKey: tk });
        for (const [k, val] of Object.entries(v)) logs[`val${k[0]!.toUpperCase()}${k.slice(1)}`] = val;
      }
      const rec: EpochRecord = { epoch, ...logs, seconds, samplesPerSecond: seen / seconds };
      history.epochs.push(rec);
      progress.epochEnd(epoch, o.epochs, logs, seconds, seen / seconds);
      if (interrupted) {
        for (const cb of cbs) await cb.onInterrupt?.(ctx, logs);
        break;
      }
      for (const cb of cbs) await cb.onEpochEnd?.(ctx, epoch, logs);
    }
    history.interrupted = interrupted;
    for (const cb of cbs) await cb.onTrainEnd?.(ctx, history.epochs.at(-1) ?? {});
  } finally {
    process.off('SIGINT', onSigint);
  }
  return history;
}

function moduleArg(op: string, model: unknown): void {
  if (!(model instanceof Module)) throw new ArgumentError(`${op}: expected model to be an nn.Module, got ${describe(model)}`);
}

/**
 * Average loss and metrics over a loader, in eval mode and without the graph.
 * @example `const { loss, accuracy } = await evaluate(model, testLoader)`
 */
export async function evaluate(model: Module, loader: AsyncIterable<Batch>, o: { metrics?: Metric[]; loss?: (out: Tensor, y: Tensor) => Tensor; inputKey?: string; targetKey?: string } = {}): Promise<Logs> {
  moduleArg('evaluate', model);
  o = optionsArg('evaluate', o);
  const metrics = o.metrics ?? [new Accuracy()];
  const lossFn = o.loss ?? ((out: Tensor, y: Tensor) => crossEntropy(out, y));
  const ik = o.inputKey ?? 'x', tk = o.targetKey ?? 'y';
  const wasTraining = model.training;
  model.eval();
  metrics.forEach((m) => m.reset());
  const losses: [Tensor, number][] = [];
  const device = modelDevice(model);
  await noGrad(async () => {
    for await (const b of loader) {
      const x = onDevice(b[ik]!, device), y = onDevice(b[tk]!, device);
      const out = model.forward(x);
      losses.push([lossFn(out, y), x.shape[0]!]);
      for (const m of metrics) m.update(out, y);
    }
  });
  model.train(wasTraining);
  let s = 0, n = 0;
  for (const [l, k] of losses) { s += (await l.item()) * k; n += k; }
  const logs: Logs = { loss: n ? s / n : NaN };
  for (const m of metrics) logs[m.name] = await m.result();
  return logs;
}

/** The model's outputs for a tensor, or for every batch of a loader concatenated. @example `const logits = await predict(model, x)` */
export async function predict(model: Module, input: Tensor | AsyncIterable<Batch>, o: { inputKey?: string } = {}): Promise<Tensor> {
  moduleArg('predict', model);
  o = optionsArg('predict', o);
  const wasTraining = model.training;
  model.eval();
  try {
    const device = modelDevice(model);
    if (input instanceof Tensor) return noGrad(() => model.forward(onDevice(input, device)));
    const outs: Tensor[] = [];
    await noGrad(async () => {
      for await (const b of input) outs.push(model.forward(onDevice(b[o.inputKey ?? 'x']!, device)));
    });
    return cat(outs, 0);
  } finally {
    model.train(wasTraining);
  }
}

// the device of a model's parameters (the CPU for a model without any)
function modelDevice(model: Module): Device {
  const p = model.parameters()[0] ?? model.buffers()[0];
  return p ? p.device : 'cpu';
}
// a batch's tensor on the model's device (a copy there; a tensor already there as it is)
function onDevice(t: Tensor, device: Device): Tensor {
  return t instanceof Tensor && t.device !== device ? toDevice(t, device) : t;
}
