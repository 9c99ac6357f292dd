// tensile benchmarks: each figure is a ratio against a peer measured in the same run (see ../shared/ANCHORS.md).
// Usage: npm run build && (cd bench && npm run setup) && node bench/run.js [--quick]
// Writes bench/RESULTS.md. Timings use the `benchmark` package (deferred for asynchronous ops).
import Benchmark from 'benchmark';
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const quick = process.argv.includes('--quick');
const rows = [];
const log = (...a) => console.log(...a);

/** Median seconds per call of fn (async when it returns a promise). */
function measure(fn, { async = true, maxTime = quick ? 0.5 : 1.5 } = {}) {
  return new Promise((resolve, reject) => {
    const b = new Benchmark({
      defer: async,
      fn: async ? (d) => fn().then(() => d.resolve(), reject) : fn,
      minSamples: 5,
      maxTime,
      onComplete() {
        const s = [...this.stats.sample].sort((x, y) => x - y);
        resolve(s[Math.floor(s.length / 2)]);
      },
      onError: (e) => reject(e.target.error),
    });
    b.run({ async: true });
  });
}
/** One warm-up and the median of n timed calls, for slow peers (tfjs cpu). */
async function measureSlow(fn, n = 2) {
  await fn();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) / 1e3);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
}
// ratio = ours / peer, or peer / ours for times (lowerIsBetter), so that > 1 always means tensile is ahead
const row = (group, what, ours, peer, peerName, unit, bar, note = '', lowerIsBetter = false) => {
  const ratio = peer ? (lowerIsBetter ? peer / ours : ours / peer) : NaN;
  rows.push({ group, what, ours, peer, peerName, unit, ratio, bar, note });
  log(`${group.padEnd(8)} ${what.padEnd(34)} ours ${ours.toFixed(1).padStart(8)} ${unit}  ${peerName} ${peer ? peer.toFixed(1) : '-'}  ratio ${ratio.toFixed(2)} ${bar ? `(bar ${bar})` : ''} ${note}`);
};

// ------------------------------------------------------------------ peers
// numpy's OpenBLAS in a Python process of its own, serving one timed sample per request (bench/peers/gemm.py)
function numpyPeer() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const p = spawn('python3', [join(here, 'peers/gemm.py')], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  p.on('error', (e) => (err += e.message));
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  return {
    /** GFLOP/s of one sample of `reps` products */
    async sample(M, K, N, reps) {
      p.stdin.write(`${M},${K},${N},${reps}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error(err.trim().split('\n').pop() || 'python3 exited');
      return Number(value);
    },
    close: () => p.stdin.end(),
  };
}
// the triad's executable (built once per run): `triad()` runs it, a median of `reps` passes
function triadPeer() {
  const dir = join(here, '.cache');
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'triad');
  execFileSync('g++', ['-O3', '-fopenmp', '-march=native', join(here, 'peers/triad.cpp'), '-o', exe]); // a probe of this machine, not shipped
  return (reps = 9) => Number(execFileSync(exe, ['40000000', String(reps)], { encoding: 'utf8' }).trim());
}
async function ortPeer() {
  try {
    const ort = require(join(here, 'node_modules/onnxruntime-node'));
    const { onnx } = require(join(here, 'node_modules/onnx-proto'));
    const F = onnx.TensorProto.DataType.FLOAT;
    const vi = (name, shape) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: F, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
    const model = (node, inputs, output) => onnx.ModelProto.encode(onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'g', node: [node], input: inputs, output: [output] },
    })).finish();
    const ints = (name, v) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
    const opts = { intraOpNumThreads: cpus().length, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
    return {
      async conv(xs, ws, pad) {
        const oh = xs[2] + 2 * pad - ws[2] + 1, ow = xs[3] + 2 * pad - ws[3] + 1;
        const node = onnx.NodeProto.create({ opType: 'Conv', input: ['X', 'W'], output: ['Y'], attribute: [ints('pads', [pad, pad, pad, pad]), ints('kernel_shape', [ws[2], ws[3]])] });
        const s = await ort.InferenceSession.create(model(node, [vi('X', xs), vi('W', ws)], vi('Y', [xs[0], ws[0], oh, ow])), opts);
        const X = new ort.Tensor('float32', Float32Array.from({ length: xs.reduce((a, b) => a * b) }, Math.random), xs);
        const W = new ort.Tensor('float32', Float32Array.from({ length: ws.reduce((a, b) => a * b) }, Math.random), ws);
        return () => s.run({ X, W });
      },
      async maxpool(xs) {
        const node = onnx.NodeProto.create({ opType: 'MaxPool', input: ['X'], output: ['Y'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] });
        const s = await ort.InferenceSession.create(model(node, [vi('X', xs)], vi('Y', [xs[0], xs[1], xs[2] / 2, xs[3] / 2])), opts);
        const X = new ort.Tensor('float32', Float32Array.from({ length: xs.reduce((a, b) => a * b) }, Math.random), xs);
        return () => s.run({ X });
      },
    };
  } catch (e) {
    log(`onnxruntime-node unavailable (run \`cd bench && npm run setup\`): ${e.message.split('\n')[0]}`);
    return null;
  }
}
async function tfPeer() {
  // @tensorflow/tfjs (the union package: cpu backend and every gradient) from bench/'s own dependencies
  try {
    const tf = require(join(here, 'node_modules/@tensorflow/tfjs'));
    await tf.setBackend('cpu');
    return tf;
  } catch (e) {
    log(`@tensorflow/tfjs unavailable (run \`cd bench && npm run setup\`): ${e.message.split('\n')[0]}`);
    return null;
  }
}

// ------------------------------------------------------------------ benchmarks
const gflops = (flop, s) => flop / s / 1e9;

// Ours and numpy's samples alternate (9 rounds after 2 of warm-up, about 0.1 s each), and each side's median is
// reported: both see the same machine, and both figures come from the same estimator.
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 200);
async function benchGemm() {
  const sq = quick ? [256, 1024] : [256, 512, 1024, 2048];
  const shapes = [...sq.map((n) => [n, n, n]), [64, 288, 10816], [784, 800, 64]];
  let np = numpyPeer();
  const rounds = quick ? 5 : 9;
  for (const [M, K, N] of shapes) {
    const a = T.randn([M, K]), b = T.randn([K, N]);
    await T.sync();
    const flop = 2 * M * K * N;
    const reps = Math.max(1, Math.round(3e10 / flop));
    const ours = [], peer = [];
    for (let r = 0; r < rounds + 2; r++) {
      await new Promise((res) => setTimeout(res, SETTLE_MS));  // the peer's threads stop spinning (and ours, below)
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) T.matmul(a, b).dispose();  // hot loops free at once; see README on GC
      await T.sync();
      const g = gflops(flop * reps, (performance.now() - t0) / 1e3);
      let q = NaN;
      if (np) {
        try {
          q = await np.sample(M, K, N, reps);
        } catch (e) {
          log('numpy unavailable:', e.message);
          np = null;
        }
      }
      if (r >= 2) {
        ours.push(g);
        peer.push(q);
      }
    }
    a.dispose();
    b.dispose();
    const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
    row('sgemm', `M=${M} K=${K} N=${N}`, med(ours), np ? med(peer) : NaN, 'numpy/OpenBLAS', 'GFLOP/s', M === K && K === N ? '>= 0.9 (never < 0.8)' : '>= 0.8',
      `medians of ${rounds} alternating samples; ours ${Math.min(...ours).toFixed(0)}-${Math.max(...ours).toFixed(0)}, numpy ${np ? `${Math.min(...peer).toFixed(0)}-${Math.max(...peer).toFixed(0)}` : '-'}`);
  }
  np?.close();
}

const CONV_SHAPES = [[64, 1, 28, 32], [64, 32, 14, 64], [32, 64, 56, 64], [8, 256, 14, 256]];
async function benchConv(ort, tf) {
  for (const [N, C, H, K] of CONV_SHAPES) {
    const flop = 2 * N * H * H * K * C * 9;
    const x = T.randn([N, C, H, H]), w = T.randn([K, C, 3, 3]);
    await T.sync();
    const fwd = await measure(async () => { T.conv2d(x, w, null, { padding: 1 }).dispose(); await T.sync(); });
    let peer;
    if (ort) {
      const run = await ort.conv([N, C, H, H], [K, C, 3, 3], 1);
      peer = gflops(flop, await measure(run));
    }
    const name = `N${N} C${C} ${H}x${H} K${K}`;
    row('conv2d', `${name} fwd`, gflops(flop, fwd), peer, 'onnxruntime', 'GFLOP/s', '>= 1.0');
    const dy = T.randn([N, K, H, H]);
    await T.sync();
    const bi = await measure(async () => { T.conv2dBackwardInput(dy, w, [N, C, H, H], { padding: 1 }).dispose(); await T.sync(); });
    const bw = await measure(async () => { T.conv2dBackwardWeight(dy, x, [K, C, 3, 3], { padding: 1 }).dispose(); await T.sync(); });
    row('conv2d', `${name} bwd-input`, gflops(flop, bi), gflops(flop, fwd), 'our fwd', 'GFLOP/s', '>= 0.7');
    row('conv2d', `${name} bwd-weight`, gflops(flop, bw), gflops(flop, fwd), 'our fwd', 'GFLOP/s', '>= 0.7');
    if (tf && (N * C * H * H * K < 5e7 || !quick)) {
      const X = tf.randomNormal([N, H, H, C]), W = tf.randomNormal([3, 3, C, K]);
      const s = await measureSlow(async () => { const y = tf.conv2d(X, W, 1, 'same'); await y.data(); y.dispose(); }, 1);
      row('tfjs', `conv2d ${name} fwd (status quo)`, gflops(flop, fwd), gflops(flop, s), 'tfjs cpu', 'GFLOP/s', '', `tfjs ${(s * 1e3).toFixed(0)} ms`);
      X.dispose(); W.dispose();
    }
    for (const t of [x, w, dy]) t.dispose();
  }
}

async function benchPool(ort, tf) {
  const shape = [64, 32, 28, 28];
  const x = T.randn(shape);
  await T.sync();
  const ours = await measure(async () => { T.maxPool2d(x, { kernelSize: 2 }).dispose(); await T.sync(); });
  const peer = ort ? await measure(await ort.maxpool(shape)) : undefined;
  row('pool', 'max 2x2/2 N64 C32 28x28 (ms, ratio = peer/ours)', ours * 1e3, peer ? peer * 1e3 : undefined, 'onnxruntime', 'ms', '>= 1.0', '', true);
  if (tf) {
    const X = tf.randomNormal([64, 28, 28, 32]);
    const s = await measureSlow(async () => { const y = tf.maxPool(X, 2, 2, 'valid'); await y.data(); y.dispose(); }, 3);
    row('tfjs', 'maxpool (status quo, ratio = tfjs/ours)', ours * 1e3, s * 1e3, 'tfjs cpu', 'ms', '', '', true);
  }
}

// Ours (one step per sample) and the triad (a median of 5 passes per sample) alternate over 7 rounds; medians.
async function benchAdam(tf) {
  const n = 10_000_000;
  const p = T.randn([n]), g = T.randn([n]), m = T.zeros([n]), v = T.zeros([n]);
  await T.sync();
  let step = 0;
  const adamStepOnce = () => T.adamStep([p], [g], [m], [v], null, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: ++step });
  const triad = triadPeer();
  const ours = [], peer = [];
  for (let r = 0; r < 2; r++) adamStepOnce();
  await T.sync();
  for (let r = 0; r < (quick ? 3 : 7); r++) {
    const t = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      adamStepOnce();
      await T.sync();
      t.push((performance.now() - t0) / 1e3);
    }
    ours.push((28 * n) / t.sort((x, y) => x - y)[3] / 1e9);
    peer.push(triad(5));
  }
  const med = (x) => [...x].sort((a, b) => a - b)[x.length >> 1];
  const s = (28 * n) / med(ours) / 1e9;
  row('adam', 'fused Adam, 10M params (28 B/param)', med(ours), med(peer), 'triad', 'GB/s', '>= 0.8',
    `medians of alternating samples; ours ${Math.min(...ours).toFixed(0)}-${Math.max(...ours).toFixed(0)}, triad ${Math.min(...peer).toFixed(0)}-${Math.max(...peer).toFixed(0)}`);
  if (tf) {
    const P = tf.variable(tf.randomNormal([n])), G = tf.randomNormal([n]);
    const opt = tf.train.adam(1e-3);
    const t = await measureSlow(async () => { opt.applyGradients([{ name: P.name, tensor: G }]); await P.data(); }, 1);
    row('tfjs', 'Adam 10M params (status quo)', (28 * n) / s / 1e9, (28 * n) / t / 1e9, 'tfjs cpu', 'GB/s', '', `tfjs ${(t * 1e3).toFixed(0)} ms`);
  }
}

function fmaPeak() {
  const dir = join(here, '.cache');
  mkdirSync(dir, { recursive: true });
  const exe = join(dir, 'fma');
  execFileSync('g++', ['-O3', '-fopenmp', '-march=native', join(here, 'peers/fma.cpp'), '-o', exe]); // a probe of this machine, not shipped
  return Number(execFileSync(exe, [], { encoding: 'utf8' }).trim());
}

// The Keras-style CNN of ANCHORS.md (93,322 parameters), batch 64, Adam 1e-3, softmax cross-entropy.
const CNN_FLOPS_FWD = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 3 * 3 * 64 * 576 + 576 * 64 + 64 * 10); // per sample
async function benchCnn(tf) {
  const { nn, optim, F } = T;
  T.manualSeed(0);
  const model = new nn.Sequential(
    new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(64, 64, 3), new nn.ReLU(), new nn.Flatten(),
    new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = T.rand([64, 1, 28, 28]), y = T.randint(0, 10, [64]);
  const step = () => {
    const loss = F.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss;
  };
  // warm-up (JIT, the allocator's pool), then the median of three windows, as ANCHORS.md's figures are taken
  for (let i = 0; i < 20; i++) step();
  await T.sync();
  const steps = quick ? 20 : 40;
  const rates = [];
  for (let w = 0; w < 3; w++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const l = step();
      if (i % 10 === 9) await l.item();  // a training loop reads its loss now and then
    }
    await T.sync();
    rates.push((steps * 64) / ((performance.now() - t0) / 1e3));
  }
  const sps = rates.sort((a, b) => a - b)[1];
  const peak = fmaPeak();
  const gf = (3 * CNN_FLOPS_FWD * sps) / 1e9;  // forward + backward ~ 3x the forward FLOPs
  let tfSps;
  if (tf) {
    const v = (shape, fanIn) => tf.variable(tf.randomUniform(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn)));
    const W1 = v([3, 3, 1, 32], 9), W2 = v([3, 3, 32, 64], 288), W3 = v([3, 3, 64, 64], 576), D1 = v([576, 64], 576), D2 = v([64, 10], 64);
    const b = [v([32], 9), v([64], 288), v([64], 576), v([64], 576), v([10], 64)];
    const X = tf.randomUniform([64, 28, 28, 1]), Y = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32'), 10);
    const topt = tf.train.adam(1e-3);
    const f = () => {
      let h = tf.maxPool(tf.relu(tf.add(tf.conv2d(X, W1, 1, 'valid'), b[0])), 2, 2, 'valid');
      h = tf.maxPool(tf.relu(tf.add(tf.conv2d(h, W2, 1, 'valid'), b[1])), 2, 2, 'valid');
      h = tf.relu(tf.add(tf.conv2d(h, W3, 1, 'valid'), b[2]));
      h = tf.relu(tf.add(tf.matMul(tf.reshape(h, [64, 576]), D1), b[3]));
      return tf.losses.softmaxCrossEntropy(Y, tf.add(tf.matMul(h, D2), b[4]));
    };
    const s = await measureSlow(async () => { const l = topt.minimize(f, true); await l.data(); l.dispose(); }, 1);
    tfSps = 64 / s;
  }
  row('train', 'CNN (ANCHORS) samples/s, batch 64, Adam', sps, tfSps, 'tfjs cpu', 'samples/s', '>= 5000 samples/s', `${gf.toFixed(0)} GFLOP/s = ${((100 * gf) / peak).toFixed(0)}% of the measured FMA peak ${peak.toFixed(0)} GFLOP/s`);
}

// bench/dispatch.js, in a process of its own (see there)
async function benchDispatch() {
  const out = execFileSync(process.execPath, [join(here, 'dispatch.js')], { encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n').pop());
  row('dispatch', 'enqueue add [16]+[16] + dispose (ns/op, ratio = ours/bare)', r.enqueueNs, r.bareNs, 'bare N-API call', 'ns', 'ours/bare <= 4',
    `end to end (until the ops have run) ${r.endToEndNs.toFixed(0)} ns/op; passes ${r.passesNs.map((t) => t.toFixed(0)).join('/')} ns`);
}

const t0 = Date.now();
log(`tensile bench: isa=${T.isa()} cpus=${cpus().length} ${cpus()[0]?.model ?? ''}`);
const tf = await tfPeer();
const ort = await ortPeer();
// --only dispatch,sgemm,conv,pool,adam,train runs a subset (and leaves RESULTS.md alone)
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? new Set(process.argv[onlyArg + 1].split(',')) : null;
const want = (g) => !only || only.has(g);
// dispatch first, while this process is quiet (it runs in a process of its own, but a busy heap's GC threads here
// would take a core), then training: onnxruntime's thread pool, once it has run, competes for the two cores
if (want('dispatch')) await benchDispatch();
if (want('train')) await benchCnn(tf);
if (want('sgemm')) await benchGemm();
if (want('conv')) await benchConv(ort, tf);
if (want('pool')) await benchPool(ort, tf);
if (want('adam')) await benchAdam(tf);

const md = [
  '# Benchmark results',
  '',
  `Command: \`npm run build && (cd bench && npm run setup) && node bench/run.js\`  `,
  `Date: ${new Date().toISOString()}  `,
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, kernels ${T.isa()}, run took ${((Date.now() - t0) / 1e3).toFixed(0)} s  `,
  'Each ratio compares against a peer measured in the same run (ANCHORS.md explains the peers). The machine is shared and',
  'noisy: expect +-10% between runs.',
  '',
  '| group | what | ours | peer | peer value | unit | ratio | bar | note |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.group} | ${r.what} | ${r.ours.toFixed(1)} | ${r.peerName} | ${r.peer ? r.peer.toFixed(1) : '-'} | ${r.unit} | ${Number.isFinite(r.ratio) ? r.ratio.toFixed(2) : '-'} | ${r.bar} | ${r.note} |`),
  '',
];
if (!quick && !only) writeFileSync(join(here, 'RESULTS.md'), md.join('\n'));
log(`done in ${((Date.now() - t0) / 1e3).toFixed(0)} s`);
