// A DCGAN-style generative model on Fashion-MNIST: a generator of ConvTranspose2d layers and a discriminator of
// Conv2d layers, trained with binary cross-entropy and two Adam optimizers (Radford et al. 2016's recipe: lr 2e-4,
// betas [0.5, 0.999], batch norm in the generator, LeakyReLU 0.2 in the discriminator). After each epoch it writes
// an SVG grid of 8x8 generated images to examples/results/dcgan-epoch<N>.svg.
// Run: node examples/dcgan.js [--epochs 5] [--limit 60000]
import { mkdirSync, writeFileSync } from 'node:fs';
import * as T from '../dist/index.js';

const { nn, optim, F, data } = T;
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const epochs = arg('epochs', 5), limit = arg('limit', 60000), Z = 64, bs = 64;

const base = (await data.datasets.fashionMnist({ split: 'train' })).take(limit);
// images scaled to [-1, 1] to match the generator's tanh
const train = base.withTransform((x) => x.map((v) => v * 2 - 1));
const loader = new data.DataLoader(train, { batchSize: bs, shuffle: true, seed: 3, dropLast: true, shapes: { x: [1, 28, 28] } });

T.manualSeed(0);
const G = new nn.Sequential(
  new nn.ConvTranspose2d(Z, 128, 7, { bias: false }), new nn.BatchNorm2d(128), new nn.ReLU(),                  // 1 -> 7
  new nn.ConvTranspose2d(128, 64, 4, { stride: 2, padding: 1, bias: false }), new nn.BatchNorm2d(64), new nn.ReLU(), // 7 -> 14
  new nn.ConvTranspose2d(64, 1, 4, { stride: 2, padding: 1 }), new nn.Tanh(),                               // 14 -> 28
);
const D = new nn.Sequential(
  new nn.Conv2d(1, 64, 4, { stride: 2, padding: 1 }), new nn.LeakyReLU(0.2),                                 // 28 -> 14
  new nn.Conv2d(64, 128, 4, { stride: 2, padding: 1, bias: false }), new nn.BatchNorm2d(128), new nn.LeakyReLU(0.2), // 14 -> 7
  new nn.Flatten(), new nn.Linear(128 * 7 * 7, 1),
);
for (const m of [...G.modules(), ...D.modules()]) {
  if (m instanceof nn.Conv2d || m instanceof nn.ConvTranspose2d) nn.init.normal_(m.weight, 0, 0.02);
}
const optG = new optim.Adam(G.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
const optD = new optim.Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] });
const ones = T.ones([bs, 1]), zeros = T.zeros([bs, 1]);
const fixedNoise = T.randn([64, Z, 1, 1]);

function svgGrid(pixels, n, path) {
  const cell = 28, pad = 2, size = n * (cell + pad);
  const rects = [];
  for (let k = 0; k < n * n; k++) {
    const ox = (k % n) * (cell + pad), oy = Math.floor(k / n) * (cell + pad);
    for (let i = 0; i < cell; i++) for (let j = 0; j < cell; j++) {
      const v = Math.round(((pixels[k * 784 + i * 28 + j] + 1) / 2) * 255);
      if (v > 8) rects.push(`<rect x="${ox + j}" y="${oy + i}" width="1" height="1" fill="rgb(${v},${v},${v})"/>`);
    }
  }
  writeFileSync(path, `<svg xmlns="http://www.w3.org/2000/svg" width="${size * 3}" height="${size * 3}" viewBox="0 0 ${size} ${size}" shape-rendering="crispEdges"><rect width="${size}" height="${size}" fill="#000"/>${rects.join('')}</svg>\n`);
}

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
for (let epoch = 1; epoch <= epochs; epoch++) {
  const t0 = performance.now();
  let lossD = 0, lossG = 0, n = 0;
  for await (const { x } of loader) {
    // discriminator: real -> 1, fake -> 0
    const fake = G.forward(T.randn([bs, Z, 1, 1]));
    const dLoss = F.binaryCrossEntropyWithLogits(D.forward(x), ones).add(F.binaryCrossEntropyWithLogits(D.forward(fake.detach()), zeros));
    optD.zeroGrad();
    dLoss.backward();
    optD.step();
    // generator: make D say 1 on fakes
    const gLoss = F.binaryCrossEntropyWithLogits(D.forward(fake), ones);
    optG.zeroGrad();
    gLoss.backward();
    optG.step();
    if (n % 50 === 0) { lossD += await dLoss.item(); lossG += await gLoss.item(); }
    n++;
  }
  G.eval();
  const samples = await T.noGrad(() => G.forward(fixedNoise)).data();
  G.train();
  const path = new URL(`./results/dcgan-epoch${epoch}.svg`, import.meta.url);
  svgGrid(samples, 8, path);
  const k = Math.ceil(n / 50);
  console.log(`epoch ${epoch}: D loss ${(lossD / k).toFixed(3)}, G loss ${(lossG / k).toFixed(3)}, ${((performance.now() - t0) / 1e3).toFixed(0)} s; wrote ${path.pathname}`);
}
