/**
 * The CLI's language model: `tensile train --model gpt --data <jargon|file.txt>` trains an nn.GPT character by
 * character (AdamW with weightDecayGroups, warm-up + cosine per step, gradient clipping at norm 1) and writes a
 * checkpoint whose metadata records the model's options (vocabSize included), the training settings and the
 * tokenizer ("tensile.tokenizer": the CharTokenizer's JSON), so `tensile eval` (the text loss) and `tensile
 * generate` need only the file. `train --resume` goes on to a larger --steps from the step it reached.
 * @internal
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as T from '../index.js';
import { GPT } from '../nn/gpt.js';
import { save } from '../io/safetensors.js';
import { CHECKPOINT_KEYS } from '../train/callbacks.js';
import type { History } from '../train/fit.js';
import type { Device } from '../native.js';

/** The metadata entry of a GPT checkpoint that holds its tokenizer. @internal */
export const TOKENIZER_KEY = 'tensile.tokenizer';
/** The model options `--model-options` may set for gpt (vocabSize comes from the tokenizer), and their defaults. @internal */
export const GPT_DEFAULTS = { contextLength: 128, dModel: 128, nHeads: 4, nLayers: 4, dropout: 0 };
/** Training defaults of `train --model gpt`. @internal */
export const GPT_TRAIN_DEFAULTS = { steps: 600, batchSize: 16, lr: 2e-3 };

/** The corpus of --data: 'jargon' (Debian's jargon-text) or a UTF-8 text file, with its fixed split. @internal */
export async function loadCorpus(src: string): Promise<{ train: string; validation: string; spec: string }> {
  const d = T.data.datasets;
  if (src === 'jargon') return { train: await d.jargonFile({ split: 'train' }), validation: await d.jargonFile({ split: 'validation' }), spec: 'jargon' };
  if (!existsSync(src)) throw new T.ArgumentError(`--data: expected jargon or a text file for --model gpt, got '${src}'`);
  const path = resolve(src);
  return { train: await d.textFile({ path, split: 'train' }), validation: await d.textFile({ path, split: 'validation' }), spec: path };
}

/** The tokenizer a GPT checkpoint records. @internal */
export function tokenizerOf(op: string, metadata: Record<string, string>, path: string): T.text.CharTokenizer {
  const raw = metadata[TOKENIZER_KEY];
  if (raw === undefined) throw new T.CheckpointError(`${op}: expected the tokenizer of '${path}' in its metadata entry ${TOKENIZER_KEY}, got none`);
  let j: unknown;
  try {
    j = JSON.parse(raw);
  } catch {
    throw new T.CheckpointError(`${op}: expected JSON in the metadata entry ${TOKENIZER_KEY} of '${path}', got '${raw.slice(0, 80)}'`);
  }
  return T.text.CharTokenizer.fromJSON(j);
}

// mean cross-entropy per predicted token over the non-overlapping windows of `ids`
async function textLoss(model: GPT, ids: Int32Array, device: Device): Promise<{ loss: number; windows: number }> {
  const ctx = model.config.contextLength, V = model.config.vocabSize;
  const ds = new T.data.TokenWindowDataset(ids, { blockSize: Math.min(ctx, ids.length - 1) });
  const wasTraining = model.training;
  model.eval();
  let s = 0, n = 0;
  await T.noGrad(async () => {
    for await (const { x, y } of new T.data.DataLoader(ds, { batchSize: 32 })) {
      const l = T.F.crossEntropy(model.forward(x!.to(device)).reshape([-1, V]), y!.to(device).reshape([-1]));
      s += (await l.item()) * x!.shape[0]!;
      n += x!.shape[0]!;
    }
  });
  model.train(wasTraining);
  return { loss: s / n, windows: ds.length };
}

const nats = (v: number) => `${v.toFixed(4)} nats (${(v / Math.LN2).toFixed(3)} bits) per character`;

/** Settings of one `train --model gpt` run. @internal */
export interface GptTrainArgs {
  options: Record<string, unknown>;
  data: string;
  steps: number;
  batchSize: number;
  lr: number;
  out: string;
  device: Device;
  verbose: 0 | 1 | 2;
  /** a checkpoint to go on from: its state and metadata */
  resume?: { path: string; state: Record<string, unknown>; metadata: Record<string, string>; step: number };
}

/** `train --model gpt` (fresh or resumed): trains, writes checkpoint.safetensors, history.json, report.html. @internal */
export async function trainGpt(a: GptTrainArgs): Promise<void> {
  const op = a.resume ? 'train --resume' : 'train';
  const corpus = await loadCorpus(a.data);
  const tok = a.resume ? tokenizerOf(op, a.resume.metadata, a.resume.path) : T.text.CharTokenizer.train(corpus.train + corpus.validation);
  const trainIds = tok.encode(corpus.train), valIds = tok.encode(corpus.validation);
  const given = a.options;
  if (!a.resume && 'vocabSize' in given) throw new T.ArgumentError(`${op}: expected --model-options without vocabSize (the tokenizer's, ${tok.vocabSize}), got ${String(given['vocabSize'])}`);
  const options = { ...GPT_DEFAULTS, ...given, vocabSize: tok.vocabSize } as T.nn.GPTOptions;
  T.manualSeed(0);
  const model = new GPT(options).to(a.device);
  const ctx = model.config.contextLength, V = tok.vocabSize;
  if (trainIds.length < ctx + 1 || valIds.length < 2) {
    throw new T.ArgumentError(`${op}: expected a corpus with more than contextLength = ${ctx} characters of train text and 2 of validation, got ${trainIds.length} and ${valIds.length} in ${corpus.spec}`);
  }
  const opt = new T.optim.AdamW(T.optim.weightDecayGroups(model, { weightDecay: 0.1 }), { lr: a.lr, betas: [0.9, 0.99] });
  const warmup = Math.max(1, Math.min(100, Math.round(a.steps / 20)));
  const sched = T.optim.warmupCosine(opt, { warmupSteps: warmup, totalSteps: Math.max(a.steps, warmup + 1), etaMin: a.lr / 10 });
  let step = 0;
  if (a.resume) {
    model.loadStateDict(a.resume.state['model'] as Record<string, T.Tensor>);
    opt.loadStateDict(a.resume.state['optimizer'] as Parameters<typeof opt.loadStateDict>[0]);
    step = a.resume.step;
    for (let i = 0; i < step; i++) sched.step();  // the schedule of the new total, at the step reached
  }
  const remaining = a.steps - step;
  const windows = new T.data.TokenWindowDataset(trainIds, { blockSize: ctx, samples: remaining * a.batchSize });
  const loader = new T.data.DataLoader(windows, { batchSize: a.batchSize, seed: 1 + step });
  const every = Math.max(1, Math.min(100, Math.ceil(remaining / 10)));
  const history: History = { epochs: [], steps: [], interrupted: false };
  let stop = false;
  const onSigint = () => { stop = true; };
  process.on('SIGINT', onSigint);
  const t0 = performance.now();
  let tIv = t0, ivLoss = 0, ivSteps = 0, first = step;
  try {
    for await (const { x, y } of loader) {
      const loss = T.F.crossEntropy(model.forward(x!.to(a.device)).reshape([-1, V]), y!.to(a.device).reshape([-1]));
      opt.zeroGrad();
      loss.backward();
      T.nn.utils.clipGradNorm(model.parameters(), 1);
      opt.step();
      sched.step();
      step++;
      const lv = await loss.item();
      const iv = Math.floor((step - first - 1) / every) + 1;
      history.steps.push({ epoch: iv, batch: step - first - (iv - 1) * every, loss: lv });
      ivLoss += lv;
      ivSteps++;
      if ((step - first) % every === 0 || step === a.steps || stop) {
        const seconds = (performance.now() - tIv) / 1e3;
        history.epochs.push({ epoch: iv, loss: ivLoss / ivSteps, seconds, samplesPerSecond: (ivSteps * a.batchSize) / seconds });
        if (a.verbose) console.log(`step ${step}/${a.steps}: train loss ${(ivLoss / ivSteps).toFixed(4)} nats, ${Math.round((ivSteps * a.batchSize * ctx) / seconds)} tokens/s`);
        ivLoss = 0;
        ivSteps = 0;
        tIv = performance.now();
      }
      if (stop) break;
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  history.interrupted = stop;
  const seconds = (performance.now() - t0) / 1e3;
  const val = await textLoss(model, valIds, a.device);
  const last = history.epochs.at(-1);
  if (last) last['valLoss'] = val.loss;
  const bigram = T.text.ngramCrossEntropy(trainIds, valIds, { order: 2, vocabSize: V, alpha: 1 });
  mkdirSync(a.out, { recursive: true });
  const ckpt = join(a.out, 'checkpoint.safetensors');
  const { vocabSize, contextLength, dModel, nHeads, nLayers, dropout, tieWeights, posEncoding, dimFeedforward, bias, layerNormEps } = model.config;
  const recordedOptions = { vocabSize, contextLength, dModel, nHeads, nLayers, dropout, tieWeights, posEncoding, dimFeedforward, bias, layerNormEps };
  const training = {
    data: corpus.spec, batchSize: a.batchSize, lr: a.lr, steps: a.steps, step, interrupted: stop,
    optimizerClass: 'AdamW', optimizer: 'adamw', valLoss: val.loss,
  };
  await save({ model: model.stateDict(), optimizer: opt.stateDict(), step }, ckpt, {
    metadata: {
      [CHECKPOINT_KEYS.model]: JSON.stringify({ builtin: 'gpt', options: recordedOptions }),
      [CHECKPOINT_KEYS.training]: JSON.stringify(training),
      [CHECKPOINT_KEYS.summary]: String(model),
      [TOKENIZER_KEY]: JSON.stringify(tok.toJSON()),
    },
  });
  writeFileSync(join(a.out, 'history.json'), JSON.stringify(history, null, 2));
  await T.train.writeReport(join(a.out, 'report.html'), {
    title: `gpt on ${a.data}`, history, modelSummary: String(model),
    device: a.device === 'cpu' ? `cpu (${T.isa()})` : a.device,
    extra: { steps: `${first} -> ${step}`, 'batch size': a.batchSize, lr: a.lr, 'validation loss (nats/char)': Number(val.loss.toFixed(4)), 'bigram (nats/char)': Number(bigram.toFixed(4)) },
  });
  console.log(`${stop ? 'interrupted; ' : ''}${a.resume ? `resumed at step ${first}; ` : ''}step ${step}: validation loss ${nats(val.loss)}, bigram ${bigram.toFixed(4)}; ` +
    `${Math.round(((step - first) * a.batchSize * ctx) / seconds)} tokens/s; wrote ${ckpt}, report.html, history.json in ${a.out}`);
}

/** `eval --checkpoint FILE` of a GPT: the text loss on the validation split of --data (default the recorded one). @internal */
export async function evalGpt(model: GPT, metadata: Record<string, string>, path: string, data: string, device: Device): Promise<void> {
  const tok = tokenizerOf('eval', metadata, path);
  const corpus = await loadCorpus(data);
  const ids = tok.encode(corpus.validation);
  const r = await textLoss(model.to(device), ids, device);
  console.log(`validation loss ${nats(r.loss)} on ${r.windows} windows of ${Math.min(model.config.contextLength, ids.length - 1)} characters of ${data}`);
}

/** `generate --checkpoint FILE --prompt TEXT`: the prompt and its continuation on stdout. @internal */
export async function generateText(model: GPT, metadata: Record<string, string>, path: string, o: { prompt: string; maxNewTokens: number; temperature: number; topK?: number; seed: number; device: Device }): Promise<void> {
  const tok = tokenizerOf('generate', metadata, path);
  T.manualSeed(o.seed);
  const ids = tok.encode(o.prompt);
  if (!ids.length) throw new T.ArgumentError('generate: expected a non-empty --prompt, got an empty one');
  const out = await model.to(o.device).generate(ids, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, topK: o.topK });
  console.log(tok.decode(out));
}
