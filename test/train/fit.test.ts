import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { nn, optim, data, train, fit, evaluate, predict, manualSeed, load, tensor, Tensor, ArgumentError } from '../../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensile-train-'));

// A separable toy problem: class = which of 3 blocks of the input holds the largest sum.
function toyArrays(n: number, seed: number) {
  const rnd = data.seededRandom(seed);
  const x = new Float32Array(n * 6), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * 3);
    y[i] = c;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = rnd() * 0.5 + (Math.floor(j / 2) === c ? 1 : 0);
  }
  return { x, y };
}
function toy(n: number, seed: number) {
  const { x, y } = toyArrays(n, seed);
  return new data.ArrayDataset(x, [6], y);
}

describe('fit / evaluate / predict', () => {
  it('learns a toy problem; History has per-epoch logs with validation; callbacks run', async () => {
    manualSeed(1);
    const model = new nn.Sequential(new nn.Linear(6, 16), new nn.ReLU(), new nn.Linear(16, 3));
    const trainLoader = new data.DataLoader(toy(512, 1), { batchSize: 32, shuffle: true, seed: 2 });
    const valLoader = new data.DataLoader(toy(256, 3), { batchSize: 128 });
    const seen: number[] = [];
    const ckpt = join(dir, 'best.safetensors'), csv = join(dir, 'h.csv');
    const history = await fit(model, trainLoader, {
      epochs: 4, optimizer: new optim.Adam(model.parameters(), { lr: 1e-2 }), validation: valLoader, verbose: 0, logEvery: 4,
      callbacks: [
        { onEpochEnd: (_c, e) => { seen.push(e); } },
        new train.ModelCheckpoint({ path: ckpt, monitor: 'valAccuracy', saveBestOnly: true }),
        new train.CSVLogger(csv),
      ],
    });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(history.epochs).toHaveLength(4);
    const last = history.epochs.at(-1)!;
    expect(last['valAccuracy']).toBeGreaterThan(0.95);
    expect(last['loss']).toBeLessThan(history.epochs[0]!['loss']!);
    expect(history.steps.length).toBeGreaterThan(0);
    const ck = await load(ckpt) as { model: Record<string, Tensor>; epoch: number };
    expect(Object.keys(ck.model)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toBe('epoch,loss,accuracy,valLoss,valAccuracy');
    // the accuracy counted here, from the model's logits on the raw validation arrays
    const val = toyArrays(256, 3);
    const logits = await model.forward(tensor(val.x, { shape: [256, 6] })).data();
    let correct = 0;
    for (let i = 0; i < 256; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      if (row.indexOf(Math.max(...row)) === val.y[i]) correct++;
    }
    expect(correct / 256).toBeGreaterThan(0.95);
    expect(last['valAccuracy']).toBe(correct / 256);
    const r = await evaluate(model, valLoader);
    expect(r['accuracy']).toBe(correct / 256);
    const p = await predict(model, valLoader);
    expect(p.shape).toEqual([256, 3]);
  });
  it('EarlyStopping stops when the monitored value stalls', async () => {
    manualSeed(2);
    const model = new nn.Linear(6, 3);
    const loader = new data.DataLoader(toy(64, 5), { batchSize: 64 });
    const h = await fit(model, loader, {
      epochs: 50, optimizer: new optim.SGD(model.parameters(), { lr: 0 }), verbose: 0,  // lr 0: nothing improves
      callbacks: [new train.EarlyStopping({ monitor: 'loss', patience: 2, restoreBest: true })], logEvery: 1,
    });
    expect(h.epochs.length).toBe(3);
  });
  it('EarlyStopping with restoreBest puts back the weights of the best epoch', async () => {
    manualSeed(3);
    const model = new nn.Linear(6, 3);
    const loader = new data.DataLoader(toy(64, 5), { batchSize: 64 });
    const seen: Float32Array[] = [];
    // gradient ascent: the loss grows every epoch, so the best epoch is the first and training stops at the third
    const h = await fit(model, loader, {
      epochs: 8, optimizer: new optim.SGD(model.parameters(), { lr: 0.5, maximize: true }), verbose: 0, logEvery: 1,
      callbacks: [{ onEpochEnd: async (ctx) => { seen.push((await ctx.model.stateDict()['weight']!.data()) as Float32Array); } },
        new train.EarlyStopping({ monitor: 'loss', patience: 2, restoreBest: true })],
    });
    const losses = h.epochs.map((e) => e['loss']!);
    const best = losses.indexOf(Math.min(...losses));
    expect(best).toBeLessThan(losses.length - 1);  // else restoring would be a no-op and prove nothing
    expect(Array.from(await model.weight.data())).toEqual(Array.from(seen[best]!));
  });
  it('metrics: top-k, confusion matrix and per-class precision/recall/F1', async () => {
    const logits = tensor([[3, 2, 1], [1, 3, 2], [1, 2, 3], [3, 1, 2]]);
    const y = tensor([0, 2, 2, 1], { dtype: 'int32' });
    const top2 = new train.TopKAccuracy(2);
    top2.update(logits, y);
    expect(await top2.result()).toBe(0.75);
    const cm = new train.ConfusionMatrix(3);
    cm.update(logits, y);
    const m = await cm.matrix();
    expect(m).toEqual([[1, 0, 0], [1, 0, 0], [0, 1, 1]]);
    const pc = train.perClass(m);
    expect(pc[0]).toEqual({ precision: 0.5, recall: 1, f1: 2 / 3, support: 1 });
  });
  it('bad options are clear errors', async () => {
    const model = new nn.Linear(6, 3);
    const loader = new data.DataLoader(toy(8, 1), { batchSize: 4 });
    await expect(fit(model, loader, { epochs: 0, optimizer: new optim.Adam(model.parameters()) })).rejects.toThrow(ArgumentError);
    await expect(fit(model, loader, { epochs: 1, optimizer: new optim.Adam(model.parameters()), inputKey: 'image', verbose: 0 })).rejects.toThrow("fit: expected batches with fields 'image' and 'y', got x, y");
  });
});

describe('HTML report', () => {
  it('is one self-contained file with loss/accuracy curves and the confusion matrix', () => {
    const history = { epochs: [1, 2, 3].map((e) => ({ epoch: e, loss: 1 / e, accuracy: 0.5 + e / 10, valLoss: 1.2 / e, valAccuracy: 0.45 + e / 10, seconds: 2, samplesPerSecond: 100 })), steps: [], interrupted: false };
    const html = train.renderReport({ history, modelSummary: 'Linear(6, 3)', confusion: [[5, 1], [2, 7]], classNames: ['cat', '<dog>'] });
    expect(html).not.toMatch(/<script|(?:src|href)="https?:|url\(/);  // nothing to fetch
    expect((html.match(/<polyline class="series"/g) ?? []).length).toBe(4);  // train + validation, loss + accuracy
    expect((html.match(/class="cell"/g) ?? []).length).toBe(4);
    expect(html).toContain('&lt;dog&gt;');
  });
  it.skipIf(!existsSync('/usr/bin/chromium'))('renders in headless Chromium with the charts drawn', async () => {
    const { chromium } = await import('playwright-core');
    const history = { epochs: [1, 2].map((e) => ({ epoch: e, loss: 1 / e, accuracy: 0.5 + e / 10, valLoss: 1.2 / e, valAccuracy: 0.45 + e / 10, seconds: 2, samplesPerSecond: 100 })), steps: [], interrupted: false };
    const path = join(dir, 'report.html');
    await train.writeReport(path, { history, modelSummary: 'm', confusion: [[3, 1], [0, 4]], classNames: ['a', 'b'] });
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${path}`);
      const lines = await page.$$eval('polyline.series', (els) => els.map((e) => (e as SVGGeometryElement).getTotalLength()));
      expect(lines.length).toBe(4);
      for (const len of lines) expect(len).toBeGreaterThan(10);
      const box = await page.$eval('svg.confusion', (e) => e.getBoundingClientRect().width);
      expect(box).toBeGreaterThan(100);
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

describe('command line', () => {
  const bin = new URL('../../bin/tensile.js', import.meta.url).pathname;
  const distReady = existsSync(new URL('../../dist/cli/main.js', import.meta.url));
  it.skipIf(!distReady)('--help and a bad command', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tensile train --model');
    const bad = spawnSync(process.execPath, [bin, 'fly'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("expected the command train, eval, generate, inspect, doctor or build, got 'fly'");
  });
  it.skipIf(!distReady)('train then eval on the built-in digits writes checkpoint, history and report', () => {
    const out = join(dir, 'cli');
    const r = spawnSync(process.execPath, [bin, 'train', '--model', 'mlp', '--data', 'digits', '--epochs', '1', '--limit', '2000', '--out', out, '--quiet'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const f of ['checkpoint.safetensors', 'report.html', 'history.json', 'history.csv']) expect(existsSync(join(out, f)), f).toBe(true);
    const e = spawnSync(process.execPath, [bin, 'eval', '--model', 'mlp', '--data', 'digits', '--checkpoint', join(out, 'checkpoint.safetensors')], { encoding: 'utf8' });
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/accuracy \d+\.\d+% on 2000 samples/);
  });
  it.skipIf(!distReady)('Ctrl-C during fit stops after the current batch, saves the checkpoint, and exits cleanly', async () => {
    const out = join(dir, 'sigint');
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [bin, 'train', '--model', 'cnn', '--data', 'digits', '--epochs', '50', '--out', out, '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    await new Promise((r) => setTimeout(r, 4000));
    child.kill('SIGINT');
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(0);
    expect(stdout).toContain('interrupted');
    expect(existsSync(join(out, 'checkpoint.safetensors'))).toBe(true);
  });
});

describe.skipIf(!existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'))('end to end on Fashion-MNIST', () => {
  it('the convnet trained on 5,000 images for one epoch reaches >= 0.75 on 1,000 test images', async () => {
    const { MODELS } = await import('../../lib/cli/models.js');
    const trainSet = (await data.datasets.fashionMnist({ split: 'train' })).take(5000);
    const testSet = (await data.datasets.fashionMnist({ split: 'test' })).take(1000);
    manualSeed(0);
    const model = MODELS['convnet']!();
    const shapes = { x: [1, 28, 28] };
    const h = await fit(model, new data.DataLoader(trainSet, { batchSize: 64, shuffle: true, seed: 1, shapes }), {
      epochs: 1, optimizer: new optim.Adam(model.parameters(), { lr: 1e-3 }), verbose: 0,
      validation: new data.DataLoader(testSet, { batchSize: 500, shapes }),
    });
    expect(h.epochs[0]!['valAccuracy']).toBeGreaterThanOrEqual(0.75);
  });
});
