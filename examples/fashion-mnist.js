// Trains one of the benchmark-table architectures on Fashion-MNIST from Debian's dataset-fashion-mnist package and
// reports the test accuracy after each epoch. Results go to examples/results/<model>.json.
// Run: node examples/fashion-mnist.js --model convnet --epochs 12 [--batch-size 64] [--lr 0.001] [--optimizer adam|sgd]
//      [--schedule cosine] (cosine annealing of the lr over the epochs) [--augment] (random crop with 2 px padding and
//      horizontal flips) [--tag NAME] (results file suffix)
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import * as T from '../dist/index.js';
import { MODELS } from './models.js';

const { optim, F, data } = T;
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const name = args.model ?? 'convnet';
const epochs = Number(args.epochs ?? 10), batchSize = Number(args['batch-size'] ?? 64), lr = Number(args.lr ?? 1e-3);
const optimizer = args.optimizer ?? 'adam';
if (!MODELS[name]) throw new Error(`--model: expected one of ${Object.keys(MODELS).join(', ')}, got ${name}`);

const base = await data.datasets.fashionMnist({ split: 'train', dir: args.dir });
const s28 = { c: 1, h: 28, w: 28 };
const augment = process.argv.includes('--augment');
const train = augment
  ? base.withTransform(data.transforms.compose([data.transforms.randomCrop(s28, 2), data.transforms.randomHorizontalFlip(s28)]))
  : base;
const test = await data.datasets.fashionMnist({ split: 'test', dir: args.dir });
T.manualSeed(0);
const device = T.zeros([0]).to(args.device ?? 'auto').device;  // --device cpu|cuda|auto (checked; 'auto': a usable GPU, else the CPU)
const model = MODELS[name]().to(device);
const opt = optimizer === 'sgd' ? new optim.SGD(model.parameters(), { lr, momentum: 0.9 }) : new optim.Adam(model.parameters(), { lr });
const loader = new data.DataLoader(train, { batchSize, shuffle: true, seed: 1, shapes: { x: [1, 28, 28] } });
const schedule = args.schedule === 'cosine' ? new optim.CosineAnnealingLR(opt, { tMax: epochs }) : null;
const testLoader = new data.DataLoader(test, { batchSize: 1000, shapes: { x: [1, 28, 28] } });

async function evaluate() {
  model.eval();
  let correct = 0;
  await T.noGrad(async () => {
    for await (const { x, y } of testLoader) correct += await model.forward(x.to(device)).argmax(1).eq(y.to(device)).cast('float32').sum().item();
  });
  model.train();
  return correct / test.length;
}

console.log(`${name}: ${model.parameters().reduce((a, p) => a + p.numel, 0).toLocaleString('en-US')} parameters, ${optimizer} lr ${lr}, batch ${batchSize}, kernels ${T.isa()}`);
const history = [];
const t0 = performance.now();
let trainSec = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  const e0 = performance.now();
  let lossSum = 0, n = 0;
  for await (const b of loader) {
    const x = b.x.to(device), y = b.y.to(device);
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    if (n % 50 === 0) lossSum += await loss.item();
    n++;
  }
  await T.sync();
  schedule?.step();
  const sec = (performance.now() - e0) / 1e3;
  trainSec += sec;
  const acc = await evaluate();
  history.push({ epoch, testAccuracy: acc, seconds: sec, samplesPerSecond: train.length / sec });
  console.log(`epoch ${epoch}: test accuracy ${(acc * 100).toFixed(2)}%  ${sec.toFixed(1)} s  ${(train.length / sec).toFixed(0)} samples/s`);
}
const tag = args.tag ? `-${args.tag}` : '';
const result = {
  model: name, epochs, batchSize, optimizer: `${optimizer}${schedule ? ' + cosine lr' : ''}${augment ? ' + crop/flip augmentation' : ''}`, lr, wallSeconds: (performance.now() - t0) / 1e3,
  samplesPerSecond: (epochs * train.length) / trainSec, finalTestAccuracy: history.at(-1).testAccuracy,
  bestTestAccuracy: Math.max(...history.map((h) => h.testAccuracy)), history,
  machine: `${cpus().length} x ${cpus()[0]?.model}`, isa: T.isa(), date: new Date().toISOString(),
};
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`./results/${name}${tag}.json`, import.meta.url), JSON.stringify(result, null, 2) + '\n');
console.log(`final test accuracy ${(result.finalTestAccuracy * 100).toFixed(2)}%, ${result.samplesPerSecond.toFixed(0)} samples/s, ${result.wallSeconds.toFixed(0)} s`);
