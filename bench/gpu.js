// GPU benchmarks (run by scripts/gpu-check.sh on a machine with an NVIDIA GPU): each kernel and the training step of
// the CNN of ANCHORS.md on 'cuda', beside our CPU in the same run (smaller sizes only: the CPU would take minutes),
// with each figure's bound on paper (FLOPs / time, bytes / time), and which implementation ran (ours, cuBLAS,
// cuBLASLt with its fused epilogue, cuDNN with the algorithm: the path record of TENSILE_PROFILE). bench/gpu_torch.py
// measures PyTorch on the same cases; --torch reads its JSON and gives each cuda row's time over PyTorch's.
// The libraries are chosen once per process, so each path is a run of its own (scripts/gpu-check.sh runs them all):
//   default                             cuBLAS (bias/ReLU fused by cuBLASLt) and cuDNN where found
//   TENSILE_CUBLASLT=0                  cuBLAS's GEMM, then our bias/ReLU kernel
//   TENSILE_CUBLAS=0 TENSILE_CUDNN=0    our own kernels only
// Usage: node bench/gpu.js [--json out.json] [--quick] [--only sgemm,linear,conv,...] [--label NAME]
//                          [--torch torch.json] [--tiny]
// --tiny: a few small cases, one timing each: checks the code paths (under the emulator, TENSILE_EMULATE_CUDA=1),
// measures nothing.
import { readFileSync, writeFileSync } from 'node:fs';
import * as T from '../dist/index.js';
import { binding } from '../dist/native.js';

const args = process.argv.slice(2);
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const jsonOut = opt('--json');
const quick = args.includes('--quick');
const tiny = args.includes('--tiny');
const only = opt('--only') ? new Set(opt('--only').split(',')) : null;
const want = (group) => !only || only.has(group);
const env = (k) => process.env[k] ?? '';
const label = opt('--label') ?? (env('TENSILE_CUBLAS') === '0' && env('TENSILE_CUDNN') === '0' ? 'ours'
  : env('TENSILE_CUBLASLT') === '0' ? 'no-cublaslt' : env('TENSILE_CUBLAS') === '0' || env('TENSILE_CUDNN') === '0' ? 'partial' : 'libraries');
const torch = opt('--torch') ? JSON.parse(readFileSync(opt('--torch'), 'utf8')) : null;
if (!T.cuda.isAvailable()) {
  console.log(`bench/gpu.js: no GPU (${T.cuda.status().reason})`);
  process.exit(0);
}
const st = T.cuda.status();
for (const [name, l] of [['cuBLAS', st.cublas], ['cuDNN', st.cudnn]]) {
  console.log(`${name}: ${l.found ? `${l.version} at ${l.path}` : 'not used'}${l.reason ? ` (${l.reason})` : ''}`);
}
console.log(`run: ${label}${tiny ? ' (--tiny: code paths only, no figures)' : ''}`);
const rows = [];
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const R = (o) => (tiny ? { reps: 1, samples: 1, warm: 1 } : o);

// ms per call of fn: warm-up, then the median of `samples` timings of `reps` calls each, every timing between two
// sync()s (which wait for the GPU)
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
// the implementations that ran since the last call, "op: path" (counts dropped), for the row
function pathsRan() {
  const seen = new Set(binding.cudaLibraryPaths(true).map(([op, path]) => `${op}: ${path}`));
  return [...seen].join('; ');
}
pathsRan();  // starts the record (TENSILE_PROFILE's)
function row(group, name, device, ms, extra = {}) {
  const r = { group, name, device, label, ms: +ms.toFixed(4), ...extra };
  if (device === 'cuda') r.path = pathsRan();
  else pathsRan();
  const peer = torch?.rows.find((p) => p.group === group && p.name === name);
  if (peer && device === 'cuda') r.vs_torch = +(ms / peer.ms).toFixed(3);
  rows.push(r);
  console.log(`${group.padEnd(8)} ${name.padEnd(34)} ${device.padEnd(7)} ${ms.toFixed(3).padStart(10)} ms  ` +
    `${Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(' ')}${r.vs_torch !== undefined ? ` vs_torch=${r.vs_torch}` : ''}${r.path ? `  [${r.path}]` : ''}`);
}

// SGEMM
if (want('sgemm')) {
  for (const n of tiny ? [48] : quick ? [1024, 2048] : [1024, 2048, 4096, 8192]) {
    for (const device of n <= 1024 ? ['cuda', 'cpu'] : ['cuda']) {
      const a = T.randn([n, n], { device }), b = T.randn([n, n], { device });
      const ms = await time(() => T.matmul(a, b).dispose(), R({ reps: n >= 4096 ? 3 : 10 }));
      row('sgemm', `${n}x${n}x${n}`, device, ms, { gflops: +((2 * n ** 3) / ms / 1e6).toFixed(1) });
      a.dispose(); b.dispose();
    }
  }
}
// a linear layer with its ReLU: x [N, in] @ w^T + bias, then ReLU, as one op (the epilogue fused by cuBLASLt, or
// cuBLAS's GEMM then our epilogue kernel, or all ours); PyTorch: F.relu(F.linear(x, w, b))
if (want('linear')) {
  for (const [N, I, O] of tiny ? [[16, 24, 8]] : quick ? [[256, 576, 64], [4096, 1024, 4096]] : [[256, 576, 64], [4096, 1024, 4096], [16384, 4096, 4096]]) {
    for (const device of N * I * O <= 1 << 26 ? ['cuda', 'cpu'] : ['cuda']) {
      const x = T.randn([N, I], { device }), w = T.randn([O, I], { device }), b = T.randn([O], { device });
      const wt = w.t();
      const ms = await time(() => T.matmul(x, wt, { bias: b, relu: true }).dispose(), R({ reps: N * I * O >= 1 << 34 ? 3 : 10 }));
      row('linear', `relu(x W^T + b) ${N}x${I}->${O}`, device, ms, { gflops: +((2 * N * I * O) / ms / 1e6).toFixed(1) });
      x.dispose(); w.dispose(); b.dispose();
    }
  }
}
// conv2d forward and backward, ANCHORS shapes (3x3, stride 1, pad 1)
if (want('conv')) {
  for (const [N, C, H, K] of tiny ? [[2, 3, 8, 4]] : [[64, 1, 28, 32], [64, 32, 14, 64], [32, 64, 56, 64], [8, 256, 14, 256]]) {
    const flop = 2 * N * H * H * K * C * 9;
    for (const device of ['cuda', 'cpu']) {
      const x = T.randn([N, C, H, H], { device }), w = T.randn([K, C, 3, 3], { device });
      const ms = await time(() => T.conv2d(x, w, null, { padding: 1 }).dispose(), R({ reps: device === 'cpu' ? 2 : 10, samples: device === 'cpu' ? 3 : 5 }));
      row('conv', `fwd N${N} C${C} ${H}x${H} K${K}`, device, ms, { gflops: +(flop / ms / 1e6).toFixed(1) });
      const xg = x.requiresGrad_(), wg = w.requiresGrad_();
      const msb = await time(() => {
        const y = T.conv2d(xg, wg, null, { padding: 1 });
        y.sum().backward();
        xg.grad = null; wg.grad = null;
      }, R({ reps: device === 'cpu' ? 1 : 5, samples: 3 }));
      row('conv', `fwd+bwd N${N} C${C} ${H}x${H} K${K}`, device, msb, { gflops: +((3 * flop) / msb / 1e6).toFixed(1) });
    }
  }
}
// max pool 2x2/2
if (want('pool')) {
  for (const [N, C, H] of tiny ? [[2, 3, 8]] : [[64, 32, 28], [256, 64, 56]]) {
    for (const device of ['cuda', 'cpu']) {
      const x = T.randn([N, C, H, H], { device });
      const ms = await time(() => T.maxPool2d(x, { kernelSize: 2 }).dispose(), R({}));
      const bytes = 4 * N * C * H * H * 1.25;
      row('pool', `max2x2 N${N} C${C} ${H}x${H}`, device, ms, { gbps: +(bytes / ms / 1e6).toFixed(1) });
    }
  }
}
// the bandwidth a device-to-device copy reaches (the bound of the streaming kernels), and fused Adam
if (want('copy')) {
  const n = tiny ? 1 << 12 : 256 << 20;  // 1 GiB of float32
  const x = T.zeros([n], { device: 'cuda' });
  const ms = await time(() => x.clone().dispose(), R({ reps: 5 }));
  row('copy', tiny ? 'clone 16 KiB' : 'clone 1 GiB', 'cuda', ms, { gbps: +((2 * 4 * n) / ms / 1e6).toFixed(1) });
  x.dispose();
}
if (want('adam')) {
  for (const n of tiny ? [1000] : [10e6, 100e6]) {
    for (const device of n <= 10e6 ? ['cuda', 'cpu'] : ['cuda']) {
      const p = T.randn([n], { device }).requiresGrad_();
      p.grad = T.randn([n], { device });
      const opt = new T.optim.Adam([p], { lr: 1e-3 });
      const ms = await time(() => opt.step(), R({ reps: device === 'cpu' ? 3 : 10 }));
      row('adam', `${n / 1e6}M params`, device, ms, { gbps: +((28 * n) / ms / 1e6).toFixed(1) });
    }
  }
}
// the CNN of ANCHORS.md, one training step (forward, loss, backward, Adam)
if (want('cnn')) {
  for (const bs of tiny ? [2] : [64, 256]) {
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
      }, R({ reps: device === 'cpu' ? 3 : 20, samples: 3 }));
      row('cnn', `train step batch ${bs}`, device, ms, { samples_per_s: Math.round((bs * 1000) / ms) });
    }
  }
}
if (torch) {
  const r = rows.filter((x) => x.vs_torch !== undefined);
  console.log(`\n${label}: time over PyTorch's (${torch.torch ?? '?'} on ${torch.device ?? '?'}; < 1: faster; goal for sgemm/linear/conv through the libraries: <= 1.1)`);
  for (const x of r) console.log(`  ${x.group.padEnd(8)} ${x.name.padEnd(34)} ${String(x.vs_torch).padStart(7)}  [${x.path}]`);
  if (r.length === 0) console.log('  (no case in common)');
}
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ device: T.cuda.getDeviceProperties(0), label, cublas: st.cublas, cudnn: st.cudnn, rows }, null, 1));
