// GPT training throughput and its FLOP rate as a share of this machine's measured FMA peak, beside the CNN's share
// measured in the same process (the Keras-style CNN of bench/run.js's train row, batch 64, Adam).
// FLOPs per trained token: 6 N + 12 nLayers dModel T (PaLM's appendix B, nanoGPT's estimate_mfu): N the parameters
// that multiply (the position table left out; the tied token embedding counted once, as the output projection's
// weight), forward + backward = 3 x the forward's 2 N; the attention's q k^T and p v, forward and backward, over the
// full T x T square (the causal kernel skips about half of it, which the convention does not credit).
// Usage: npm run build && node bench/gpt.js [--peak GFLOPS] [--steps 12] [--json]
//   --peak: the FMA peak in GFLOP/s (bench/run.js passes its own; otherwise measured here with bench/peers/fma.cpp)
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const flag = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const steps = Number(flag('steps', 12)), windows = 3;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function fmaPeak() {
  const dir = join(here, '.cache');
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'fma');
  execFileSync('g++', ['-O3', '-fopenmp', '-march=native', join(here, 'peers/fma.cpp'), '-o', exe]);
  return Number(execFileSync(exe, [], { encoding: 'utf8' }).trim());
}

// the median rate of `windows` windows of `n` steps after `warm` warm-up steps, in units per second
async function rate(step, n, warm, units) {
  for (let i = 0; i < warm; i++) await step();
  await T.sync();
  const rates = [];
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await step();
    await T.sync();
    rates.push((n * units) / ((performance.now() - t0) / 1e3));
  }
  return { median: median(rates), rates };
}

// examples/gpt.js's model: 4 layers, 4 heads, dModel 128, context 128, ~100 symbols; batch 16, AdamW, clipping
export async function benchGpt({ B = 16, T: ctx = 128, V = 98, dModel = 128, nLayers = 4, nHeads = 4 } = {}) {
  const { nn, optim, F } = T;
  T.manualSeed(0);
  const model = new nn.GPT({ vocabSize: V, contextLength: ctx, dModel, nHeads, nLayers });
  const opt = new optim.AdamW(optim.weightDecayGroups(model, { weightDecay: 0.1 }), { lr: 1e-3 });
  const x = T.randint(0, V, [B, ctx], { dtype: 'int32' }), y = T.randint(0, V, [B, ctx], { dtype: 'int32' });
  const step = async () => {
    const loss = F.crossEntropy(model.forward(x).reshape([-1, V]), y.reshape([-1]));
    opt.zeroGrad();
    loss.backward();
    nn.utils.clipGradNorm(model.parameters(), 1);
    opt.step();
    await loss.item();  // the example reads every step's loss
  };
  const N = model.numParameters({ nonEmbedding: true });
  const flopsPerToken = 6 * N + 12 * nLayers * dModel * ctx;
  const r = await rate(step, steps, 3, B * ctx);
  return { tokensPerSecond: r.median, windows: r.rates, gflops: (flopsPerToken * r.median) / 1e9, flopsPerToken, N, config: { B, T: ctx, V, dModel, nLayers, nHeads } };
}

// bench/run.js's CNN (ANCHORS.md), batch 64, Adam 1e-3: forward + backward = 3 x the forward's FLOPs
const CNN_FLOPS_FWD = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 3 * 3 * 64 * 576 + 576 * 64 + 64 * 10);
export async function benchCnnShare() {
  const { nn, optim, F } = T;
  T.manualSeed(0);
  const model = new nn.Sequential(
    new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(64, 64, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = T.rand([64, 1, 28, 28]), y = T.randint(0, 10, [64]);
  let i = 0;
  const step = async () => {
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    if (++i % 10 === 0) await loss.item();
  };
  const r = await rate(step, 40, 20, 64);
  return { samplesPerSecond: r.median, windows: r.rates, gflops: (3 * CNN_FLOPS_FWD * r.median) / 1e9 };
}

/** Both measurements and their shares of the peak. */
export async function measure(peak = fmaPeak()) {
  const gpt = await benchGpt();
  const cnn = await benchCnnShare();
  return { peak, gpt: { ...gpt, share: gpt.gflops / peak }, cnn: { ...cnn, share: cnn.gflops / peak } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const peakFlag = flag('peak', undefined);
  const r = await measure(peakFlag === undefined ? undefined : Number(peakFlag));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(r));
  } else {
    const c = r.gpt.config;
    console.log(`FMA peak ${r.peak.toFixed(0)} GFLOP/s (${T.isa()}, ${T.getNumThreads()} threads)`);
    console.log(`GPT (${c.nLayers} layers, ${c.nHeads} heads, d ${c.dModel}, T ${c.T}, batch ${c.B}, N ${r.gpt.N.toLocaleString('en-US')}): ${Math.round(r.gpt.tokensPerSecond)} tokens/s ` +
      `(windows ${r.gpt.windows.map(Math.round).join('/')}), ${(r.gpt.flopsPerToken / 1e6).toFixed(2)} MFLOP/token, ${r.gpt.gflops.toFixed(1)} GFLOP/s = ${(100 * r.gpt.share).toFixed(1)}% of peak`);
    console.log(`CNN (batch 64, Adam): ${Math.round(r.cnn.samplesPerSecond)} samples/s (windows ${r.cnn.windows.map(Math.round).join('/')}), ${r.cnn.gflops.toFixed(1)} GFLOP/s = ${(100 * r.cnn.share).toFixed(1)}% of peak`);
    console.log(`GPT share / CNN share: ${(r.gpt.share / r.cnn.share).toFixed(2)}`);
  }
}
