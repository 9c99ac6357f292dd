// GPU benchmarks (run by scripts/gpu-check.sh on a machine with an NVIDIA GPU): each kernel and the training step of
// the CNN of ANCHORS.md on 'cuda', beside our CPU in the same run (smaller sizes only: the CPU would take minutes),
// with each figure's bound on paper (FLOPs / time, bytes / time). bench/gpu_torch.py measures PyTorch on the same
// cases; scripts/gpu-check.sh runs both, and bench/RESULTS.md records the ratios.
// Usage: node bench/gpu.js [--json out.json] [--quick]
import { writeFileSync } from 'node:fs';
import * as T from '../dist/index.js';

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const quick = args.includes('--quick');
if (!T.cuda.isAvailable()) {
  console.log(`bench/gpu.js: no GPU (${T.cuda.status().reason})`);
  process.exit(0);
}
const rows = [];
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

// ms per call of fn on `device`: warm-up, then the median of `samples` timings of `reps` calls each, every timing
// between two sync()s (which wait for the GPU)
async function time(fn, { reps = 10, samples = 5, warm = 3 } = {}) {
  for (let i = 0; i < warm; i++) fn();
  await T.sync();
  const ts = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await T.sync();
    ts.push((performance.now() - t0) / reps);
  }
  return median(ts);
}
function row(group, name, device, ms, extra = {}) {
  const r = { group, name, device, ms: +ms.toFixed(4), ...extra };
  rows.push(r);
  console.log(`${group.padEnd(8)} ${name.padEnd(34)} ${device.padEnd(7)} ${ms.toFixed(3).padStart(10)} ms  ${Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

// SGEMM
for (const n of quick ? [1024, 2048] : [1024, 2048, 4096, 8192]) {
  for (const device of n <= 1024 ? ['cuda', 'cpu'] : ['cuda']) {
    const a = T.randn([n, n], { device }), b = T.randn([n, n], { device });
    const ms = await time(() => T.matmul(a, b).dispose(), { reps: n >= 4096 ? 3 : 10 });
    row('sgemm', `${n}x${n}x${n}`, device, ms, { gflops: +((2 * n ** 3) / ms / 1e6).toFixed(1) });
    a.dispose(); b.dispose();
  }
}
// conv2d forward and backward, ANCHORS shapes (3x3, stride 1, pad 1)
for (const [N, C, H, K] of [[64, 1, 28, 32], [64, 32, 14, 64], [32, 64, 56, 64], [8, 256, 14, 256]]) {
  const flop = 2 * N * H * H * K * C * 9;
  for (const device of ['cuda', 'cpu']) {
    const x = T.randn([N, C, H, H], { device }), w = T.randn([K, C, 3, 3], { device });
    const ms = await time(() => T.conv2d(x, w, null, { padding: 1 }).dispose(), { reps: device === 'cpu' ? 2 : 10, samples: device === 'cpu' ? 3 : 5 });
    row('conv', `fwd N${N} C${C} ${H}x${H} K${K}`, device, ms, { gflops: +(flop / ms / 1e6).toFixed(1) });
    const xg = x.requiresGrad_(), wg = w.requiresGrad_();
    const msb = await time(() => {
      const y = T.conv2d(xg, wg, null, { padding: 1 });
      y.sum().backward();
      xg.grad = null; wg.grad = null;
    }, { reps: device === 'cpu' ? 1 : 5, samples: 3 });
    row('conv', `fwd+bwd N${N} C${C} ${H}x${H} K${K}`, device, msb, { gflops: +((3 * flop) / msb / 1e6).toFixed(1) });
  }
}
// max pool 2x2/2
for (const [N, C, H] of [[64, 32, 28], [256, 64, 56]]) {
  for (const device of ['cuda', 'cpu']) {
    const x = T.randn([N, C, H, H], { device });
    const ms = await time(() => T.maxPool2d(x, 2).dispose());
    const bytes = 4 * N * C * H * H * 1.25;
    row('pool', `max2x2 N${N} C${C} ${H}x${H}`, device, ms, { gbps: +(bytes / ms / 1e6).toFixed(1) });
  }
}
// the bandwidth a device-to-device copy reaches (the bound of the streaming kernels), and fused Adam
{
  const n = 256 << 20;  // 1 GiB of float32
  const x = T.zeros([n], { device: 'cuda' });
  const ms = await time(() => x.clone().dispose(), { reps: 5 });
  row('copy', 'clone 1 GiB', 'cuda', ms, { gbps: +((2 * 4 * n) / ms / 1e6).toFixed(1) });
  x.dispose();
}
for (const n of [10e6, 100e6]) {
  for (const device of n === 10e6 ? ['cuda', 'cpu'] : ['cuda']) {
    const p = T.randn([n], { device }).requiresGrad_();
    p.grad = T.randn([n], { device });
    const opt = new T.optim.Adam([p], { lr: 1e-3 });
    const ms = await time(() => opt.step(), { reps: device === 'cpu' ? 3 : 10 });
    row('adam', `${n / 1e6}M params`, device, ms, { gbps: +((28 * n) / ms / 1e6).toFixed(1) });
  }
}
// the CNN of ANCHORS.md, one training step (forward, loss, backward, Adam)
for (const bs of [64, 256]) {
  for (const device of ['cuda', 'cpu']) {
    const { nn, optim, F } = T;
    const model = new nn.Sequential(
      new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(64, 64, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10),
    ).to(device);
    const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
    const x = T.randn([bs, 1, 28, 28], { device }), y = T.randint(0, 10, [bs], { device });
    const ms = await time(() => {
      opt.zeroGrad();
      const loss = F.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
    }, { reps: device === 'cpu' ? 3 : 20, samples: 3 });
    row('cnn', `train step batch ${bs}`, device, ms, { samples_per_s: Math.round((bs * 1000) / ms) });
  }
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ device: T.cuda.getDeviceProperties(0), rows }, null, 1));
