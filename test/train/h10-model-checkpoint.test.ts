// Issue 17, library side: the metadata ModelCheckpoint records (what built the model, the training settings),
// loadWithMetadata(), fit()'s initialEpoch, CSVLogger's append, and the options of the built-in models.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { nn, optim, data, train, fit, manualSeed, load, save, tensor, Tensor, ArgumentError } from '../../lib/index.js';
import { loadWithMetadata } from '../../lib/io/safetensors.js';
import { buildModel, MODELS } from '../../lib/cli/models.js';
import { covers } from '../api/coverage.js';

covers('loadWithMetadata');

const dir = mkdtempSync(join(tmpdir(), 'tensile-h10-'));

function toy(n: number, seed: number) {
  const rnd = data.seededRandom(seed);
  const x = new Float32Array(n * 6), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(rnd() * 3);
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rnd() * 0.5 + (Math.floor(j / 2) === y[i] ? 1 : 0);
  }
  return new data.ArrayDataset(x, [6], y);
}
const shapesOf = (sd: Record<string, Tensor>) => Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.shape]));

describe('ModelCheckpoint metadata', () => {
  it('records the built-in model with its options, the settings, the optimizer, epoch of epochs and the module tree', async () => {
    manualSeed(4);
    const model = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.Linear(8, 3));
    const path = join(dir, 'builtin.safetensors');
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.5 });
    await fit(model, new data.DataLoader(toy(64, 1), { batchSize: 32 }), {
      epochs: 2, optimizer: opt, verbose: 0,
      callbacks: [new train.ModelCheckpoint({ path, model: { builtin: 'toy', options: { width: 8 } }, settings: { batchSize: 32, data: 'toy' } })],
    });
    const { state, metadata } = await loadWithMetadata(path);
    expect(Object.keys(metadata).sort()).toEqual(['format', 'tensile.model', 'tensile.summary', 'tensile.training']);
    expect(JSON.parse(metadata['tensile.model']!)).toEqual({ builtin: 'toy', options: { width: 8 } });
    expect(JSON.parse(metadata['tensile.training']!)).toEqual({
      batchSize: 32, data: 'toy', epoch: 2, epochs: 2, interrupted: false, optimizerClass: 'SGD', optimizerOptions: opt.defaults,
    });
    expect(metadata['tensile.summary']).toBe(String(model));
    expect(state['epoch']).toBe(2);
    expect(shapesOf(state['model'] as Record<string, Tensor>)).toEqual(shapesOf(model.stateDict()));
  });
  it('records a model file by its absolute path; without model or settings only the training and the tree', async () => {
    const model = new nn.Linear(6, 3);
    const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
    const ctx = { model, optimizer: opt, stopTraining: false, epoch: 3 };
    const withFile = new train.ModelCheckpoint({ path: join(dir, 'file.safetensors'), model: { file: 'models/my-net.js' } });
    await withFile.onEpochEnd(ctx, 3, { loss: 1 });
    const a = (await loadWithMetadata(join(dir, 'file.safetensors'))).metadata;
    expect(JSON.parse(a['tensile.model']!)).toEqual({ file: resolve('models/my-net.js'), options: {} });
    const bare = new train.ModelCheckpoint({ path: join(dir, 'bare.safetensors') });
    await bare.onInterrupt(ctx);
    const b = (await loadWithMetadata(join(dir, 'bare.safetensors'))).metadata;
    expect(b['tensile.model']).toBeUndefined();
    // a context from outside fit() has no epochs; Ctrl-C marks the epoch as interrupted
    expect(JSON.parse(b['tensile.training']!)).toEqual({ epoch: 3, interrupted: true, optimizerClass: 'Adam', optimizerOptions: opt.defaults });
  });
  it.each([
    [{ path: '' }, "ModelCheckpoint: expected path to be a non-empty string, got the string ''"],
    [{ path: 'x', model: { builtin: 'mlp', file: 'm.js' } }, 'ModelCheckpoint: expected model to be { builtin: name, options? } or { file: path, options? }, got { builtin, file }'],
    [{ path: 'x', model: { name: 'mlp' } }, 'ModelCheckpoint: expected model to be { builtin: name, options? } or { file: path, options? }, got { name }'],
    [{ path: 'x', model: { builtin: '' } }, 'ModelCheckpoint: expected model to be { builtin: name, options? } or { file: path, options? }, got { builtin }'],
    [{ path: 'x', model: { builtin: 'mlp', options: [1] } }, 'ModelCheckpoint: expected model.options to be a plain object, got an array of length 1'],
    [{ path: 'x', model: { builtin: 'mlp', options: { f: () => 1 } } }, 'ModelCheckpoint: expected model.options to hold JSON values (numbers, strings, booleans, null, arrays, plain objects), got a function'],
    [{ path: 'x', settings: { lr: NaN } }, 'ModelCheckpoint: expected settings to hold finite numbers (JSON), got NaN'],
    [{ path: 'x', settings: { epoch: 1 } }, "ModelCheckpoint: expected settings keys other than epoch, epochs, interrupted, optimizerClass, optimizerOptions (recorded from training), got 'epoch'"],
    [{ path: 'x', settings: 'fast' }, "ModelCheckpoint: expected settings to be a plain object, got the string 'fast'"],
  ])('refuses %j', (o, msg) => {
    const make = () => new train.ModelCheckpoint(o as never);
    expect(make).toThrow(ArgumentError);
    expect(make).toThrow(msg);
  });
});

describe('loadWithMetadata', () => {
  it('gives the state load() gives and the metadata save() wrote (not the structure entry)', async () => {
    const p = join(dir, 'meta.safetensors');
    await save({ w: tensor([1, 2, 3]), step: 7, nested: { b: tensor([[1], [2]], { dtype: 'int32' }) } }, p, { metadata: { author: 'me', note: '{"a":1}' } });
    const { state, metadata } = await loadWithMetadata(p);
    expect(metadata).toEqual({ format: 'pt', author: 'me', note: '{"a":1}' });
    const plain = await load(p);
    expect(Object.keys(state)).toEqual(Object.keys(plain));
    expect(state['step']).toBe(7);
    expect(Array.from(await (state['w'] as Tensor).data())).toEqual([1, 2, 3]);
    expect((state['nested'] as { b: Tensor }).b.dtype).toBe('int32');
    const flat = join(dir, 'flat.safetensors');
    await save({ a: tensor([1]) }, flat);
    expect((await loadWithMetadata(flat)).metadata).toEqual({ format: 'pt' });
  });
  it('names itself in its errors', async () => {
    const p = join(dir, 'short.safetensors');
    writeFileSync(p, 'abc');
    await expect(loadWithMetadata(p)).rejects.toThrow(`loadWithMetadata: expected a safetensors file of at least 8 bytes, got 3 bytes in '${p}'`);
    await expect(load(p)).rejects.toThrow(`load: expected a safetensors file of at least 8 bytes, got 3 bytes in '${p}'`);
  });
});

describe('fit initialEpoch', () => {
  it('initialEpoch 1 of 3 runs epochs 2 and 3, numbered so, for the callbacks and the History', async () => {
    const model = new nn.Linear(6, 3);
    const seen: number[] = [];
    const ctxEpochs: (number | undefined)[] = [];
    const h = await fit(model, new data.DataLoader(toy(32, 2), { batchSize: 32 }), {
      epochs: 3, initialEpoch: 1, optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), verbose: 0,
      callbacks: [{ onEpochBegin: (ctx, e) => { seen.push(e); ctxEpochs.push(ctx.epochs); } }],
    });
    expect(seen).toEqual([2, 3]);
    expect(ctxEpochs).toEqual([3, 3]);
    expect(h.epochs.map((e) => e.epoch)).toEqual([2, 3]);
  });
  it.each([[3, 'the number 3'], [-1, 'the number -1'], [0.5, 'the number 0.5']])('initialEpoch %s of 3 is an ArgumentError', async (initialEpoch, got) => {
    const model = new nn.Linear(6, 3);
    const run = fit(model, new data.DataLoader(toy(8, 2), { batchSize: 8 }), { epochs: 3, initialEpoch, optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), verbose: 0 });
    await expect(run).rejects.toThrow(ArgumentError);
    await expect(fit(model, new data.DataLoader(toy(8, 2), { batchSize: 8 }), { epochs: 3, initialEpoch, optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }), verbose: 0 }))
      .rejects.toThrow(`fit: expected initialEpoch to be an integer in [0, epochs) = [0, 3), got ${got}`);
  });
});

describe('CSVLogger append', () => {
  it('append keeps the rows there and adds the new ones under the existing header; without it the file starts anew', async () => {
    const p = join(dir, 'h.csv');
    writeFileSync(p, 'epoch,loss,accuracy\n1,0.5,0.25\n');
    const ctx = {} as never;
    const a = new train.CSVLogger(p, { append: true });
    a.onTrainBegin();
    a.onEpochEnd(ctx, 2, { accuracy: 0.75, loss: 0.25 });  // the header's order, not the logs'
    expect(readFileSync(p, 'utf8')).toBe('epoch,loss,accuracy\n1,0.5,0.25\n2,0.25,0.75\n');
    const fresh = new train.CSVLogger(p);
    fresh.onTrainBegin();
    fresh.onEpochEnd(ctx, 1, { loss: 0.125 });
    expect(readFileSync(p, 'utf8')).toBe('epoch,loss\n1,0.125\n');
  });
});

describe('built-in model options', () => {
  it('mlp {hidden: [8, 4], classes: 3} has those widths; the defaults are the benchmark architectures', () => {
    const m = buildModel('mlp', { hidden: [8, 4], classes: 3 }, '--model');
    expect(Object.values(m.stateDict()).map((t) => t.shape)).toEqual([[8, 784], [8], [4, 8], [4], [3, 4], [3]]);
    expect(Object.values(MODELS['mlp']!().stateDict()).map((t) => t.shape)).toEqual([[256, 784], [256], [128, 256], [128], [100, 128], [100], [10, 100], [10]]);
    expect(MODELS['cnn']!().parameters().reduce((a, p) => a + p.numel, 0)).toBe(93322);
    expect(String(buildModel('convnet', { dropout: 0.25 }, '--model'))).toContain('Dropout(p=0.25)');
  });
  it.each([
    ['lenet5', { hidden: [8] }, "--model: expected options of lenet5 among classes, got 'hidden'"],
    ['mlp', { hidden: [] }, "--model: expected mlp's option hidden to be a non-empty array of integers >= 1, got an array of length 0"],
    ['mlp', { classes: 2.5 }, "--model: expected mlp's option classes to be an integer >= 1, got the number 2.5"],
    ['convnet', { dropout: 1 }, "--model: expected convnet's option dropout to be a number in [0, 1), got the number 1"],
    ['resnet', {}, "--model: expected a built-in model (mlp, lenet5, convnet, convnet-bn, cnn, gpt), got 'resnet'"],
  ])('%s %j is an ArgumentError', (name, o, msg) => {
    expect(() => buildModel(name, o, '--model')).toThrow(ArgumentError);
    expect(() => buildModel(name, o, '--model')).toThrow(msg);
  });
});
