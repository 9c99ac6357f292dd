// tensile benchmarks: each figure is a ratio against a peer measured in the same run (see ../shared/ANCHORS.md).
// Usage: npm run build && (cd bench && npm run setup) && node bench/run.js [options]
//   --runs N       N runs one after the other, each in a fresh process, each recorded
//   --only a,b     a subset of dispatch,latency,train,gpt,sgemm,conv,pool,adam,memory,attention (not recorded unless --record)
//   --quick        fewer shapes and samples (not recorded unless --record)
//   --record       record a --only or --quick run too
//   --report       rewrite RESULTS.md from results.jsonl, running nothing
//   --out DIR      the folder of results.jsonl and RESULTS.md (default: bench/)
// A recorded run appends one line to results.jsonl (its date, commit, a fingerprint of the sources, the machine, and
// every row with its samples and bar) and rewrites RESULTS.md from that file: the latest run's table, then each row's
// range over the recorded runs of the same sources on the same machine, so that a range quoted from RESULTS.md is
// one that recorded runs show. Timings use the `benchmark` package (deferred for asynchronous ops) where a call is
// fast enough for many samples, and explicit loops elsewhere; each row says how many samples each side took.
import Benchmark from 'benchmark';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { mkdirSync, writeFileSync, existsSync, readFileSync, appendFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const GROUPS = ['dispatch', 'latency', 'train', 'gpt', 'sgemm', 'conv', 'pool', 'adam', 'memory', 'attention'];
/** @type {typeof import('../dist/index.js')} the library, loaded by main() (reporting alone does not need it) */
let T;
let quick = false;
const rows = [];
const log = (...a) => console.log(...a);

// ------------------------------------------------------------------ rows, bars, samples
// Each row records what was measured, what it is compared with, the ratio and which way it reads, the samples on
// each side, and its bar, which the report evaluates (a miss is flagged, not left to the reader).
// bar: { on: 'ratio' | 'ours', op: '>=' | '<=', value, floor? } (floor: a lower limit no run may cross), or null
// with noBar saying why there is none.

/** The number v, with digits enough to show on which side of `bar` it lies. */
function fmtAgainst(v, bar) {
  let d = Math.abs(v) >= 100 ? 1 : 3;
  while (d < 8 && Number(v.toFixed(d)) === bar && v !== bar) d++;
  return v.toFixed(d);
}
/** The bar's text, as the table shows it. */
export function barText(r) {
  if (!r.bar) return '-';
  const b = r.bar;
  const what = b.on === 'ratio' ? 'ratio' : 'ours';
  return `${what} ${b.op} ${b.value}${b.on === 'ours' ? ` ${r.unit}` : ''}${b.floor !== undefined ? ` (never < ${b.floor})` : ''}`;
}
/**
 * Whether a row meets its bar: status 'met', 'missed', 'unevaluated' (the figure it is judged on is missing: a peer
 * that did not run) or 'none' (no bar), and the text the table shows, misses and unevaluated bars in bold capitals.
 */
export function barStatus(r) {
  if (!r.bar) return { status: 'none', text: `no bar (${r.noBar})` };
  const b = r.bar;
  const v = b.on === 'ratio' ? r.ratio : r.ours;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    return { status: 'unevaluated', text: `**NOT EVALUATED** (no ${b.on === 'ratio' ? `figure from ${r.peerName}` : 'figure'})` };
  }
  const unit = b.on === 'ours' ? ` ${r.unit}` : '';
  if (b.op === '>=' ? v >= b.value : v <= b.value) return { status: 'met', text: `met (${fmtAgainst(v, b.value)} ${b.op} ${b.value}${unit})` };
  const floor = b.floor !== undefined && v < b.floor ? `; under the ${b.floor} floor` : '';
  return { status: 'missed', text: `**MISSED** (${fmtAgainst(v, b.value)} ${b.op === '>=' ? '<' : '>'} ${b.value}${unit}${floor})` };
}

/**
 * Adds a row. ratio: ours/peer for rates and peer/ours for times (so that > 1 means tensile is ahead), unless
 * `ratio` is given; ratioMeans says which, in words. samples: [ours, peer], each in words; n: their numbers.
 */
function row({ group, what, ours, peer, peerName, unit, lowerIsBetter = false, ratio, ratioMeans, samples, n, bar = null, noBar = '', note = '' }) {
  const has = typeof peer === 'number' && Number.isFinite(peer);
  const rt = ratio ?? (has ? (lowerIsBetter ? peer / ours : ours / peer) : NaN);
  const r = { group, what, ours, peer: has ? peer : null, peerName, unit, ratio: Number.isFinite(rt) ? rt : null, ratioMeans,
    samplesOurs: samples[0], samplesPeer: has ? samples[1] : 'did not run', nOurs: n[0], nPeer: has ? n[1] : 0, bar, noBar, note };
  rows.push(r);
  log(`${group.padEnd(8)} ${what.padEnd(40)} ours ${ours.toFixed(1).padStart(8)} ${unit}  ${peerName} ${has ? peer.toFixed(1) : '-'}  ratio ${r.ratio === null ? '-' : r.ratio.toFixed(2)}  ${barStatus(r).text}`);
}
const faster = (peer) => `ours/${peer}; > 1 is faster than the peer`;
const fasterTimes = (peer) => `${peer}'s time / ours; > 1 is faster than the peer`;

const median = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
const range = (v, d = 0) => `${Math.min(...v).toFixed(d)}-${Math.max(...v).toFixed(d)}`;

/** Seconds per call of fn (async when it returns a promise): { s: the median of Benchmark.js's samples, n: their number }. */
function measure(fn, { async = true, maxTime = quick ? 0.5 : 1.5 } = {}) {
  return new Promise((resolve, reject) => {
    const b = new Benchmark({
      defer: async,
      fn: async ? (d) => fn().then(() => d.resolve(), reject) : fn,
      minSamples: 5,
      maxTime,
      onComplete() {
        resolve({ s: median(this.stats.sample), n: this.stats.sample.length });
      },
      onError: (e) => reject(e.target.error),
    });
    b.run({ async: true });
  });
}
const bjs = (m) => `median of ${m.n} Benchmark.js samples`;
/** For slow peers (tfjs cpu): one warm-up call, then n timed calls: { s: their median in seconds, n, all: every time }. */
const SLOW_SAMPLES = 3;
async function measureSlow(fn, n = SLOW_SAMPLES) {
  await fn();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) / 1e3);
  }
  return { s: median(t), n, all: t };
}
const slow = (m) => `median of ${m.n} calls after 1 warm-up`;
const slowNote = (m, what = 'tfjs') => `${what} ${(m.s * 1e3).toFixed(0)} ms per call (${range(m.all.map((s) => s * 1e3))} ms)`;

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
    const each = `median of ${rounds} (${reps} products each), alternating with the other side after 2 warm-up rounds`;
    row({
      group: 'sgemm', what: `M=${M} K=${K} N=${N}`, ours: median(ours), peer: np ? median(peer) : NaN, peerName: 'numpy/OpenBLAS',
      unit: 'GFLOP/s', ratioMeans: faster('numpy'), samples: [each, each], n: [rounds, rounds],
      bar: M === K && K === N ? { on: 'ratio', op: '>=', value: 0.9, floor: 0.8 } : { on: 'ratio', op: '>=', value: 0.8 },
      note: `ours ${range(ours)}, numpy ${np ? range(peer) : '-'}`,
    });
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
      peer = await measure(run);
    }
    const name = `N${N} C${C} ${H}x${H} K${K}`;
    row({
      group: 'conv2d', what: `${name} fwd`, ours: gflops(flop, fwd.s), peer: peer ? gflops(flop, peer.s) : NaN, peerName: 'onnxruntime',
      unit: 'GFLOP/s', ratioMeans: faster('onnxruntime'), samples: [bjs(fwd), peer ? bjs(peer) : ''], n: [fwd.n, peer?.n ?? 0],
      bar: { on: 'ratio', op: '>=', value: 1.0 },
    });
    const dy = T.randn([N, K, H, H]);
    await T.sync();
    const bi = await measure(async () => { T.conv2dBackwardInput(dy, w, [N, C, H, H], { padding: 1 }).dispose(); await T.sync(); });
    const bw = await measure(async () => { T.conv2dBackwardWeight(dy, x, [K, C, 3, 3], { padding: 1 }).dispose(); await T.sync(); });
    // the backward passes have no peer here: they are judged against our own forward pass of the same shape
    for (const [pass, m] of [['bwd-input', bi], ['bwd-weight', bw]]) {
      row({
        group: 'conv2d', what: `${name} ${pass}`, ours: gflops(flop, m.s), peer: gflops(flop, fwd.s), peerName: 'our forward (not a peer)',
        unit: 'GFLOP/s', ratioMeans: 'this pass / our forward of the shape; > 1 is faster than our forward',
        samples: [bjs(m), `${bjs(fwd)} (the fwd row's)`], n: [m.n, fwd.n], bar: { on: 'ratio', op: '>=', value: 0.7 },
      });
    }
    if (tf && (N * C * H * H * K < 5e7 || !quick)) {
      const X = tf.randomNormal([N, H, H, C]), W = tf.randomNormal([3, 3, C, K]);
      const m = await measureSlow(async () => { const y = tf.conv2d(X, W, 1, 'same'); await y.data(); y.dispose(); });
      row({
        group: 'tfjs', what: `conv2d ${name} fwd (status quo)`, ours: gflops(flop, fwd.s), peer: gflops(flop, m.s), peerName: 'tfjs cpu',
        unit: 'GFLOP/s', ratioMeans: faster('tfjs'), samples: [`${bjs(fwd)} (the fwd row's)`, slow(m)], n: [fwd.n, m.n],
        noBar: 'status quo', note: slowNote(m),
      });
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
  row({
    group: 'pool', what: 'max pool 2x2/2 N64 C32 28x28', ours: ours.s * 1e3, peer: peer ? peer.s * 1e3 : NaN, peerName: 'onnxruntime',
    unit: 'ms/call', lowerIsBetter: true, ratioMeans: fasterTimes('onnxruntime'), samples: [bjs(ours), peer ? bjs(peer) : ''], n: [ours.n, peer?.n ?? 0],
    bar: { on: 'ratio', op: '>=', value: 1.0 },
  });
  if (tf) {
    const X = tf.randomNormal([64, 28, 28, 32]);
    const m = await measureSlow(async () => { const y = tf.maxPool(X, 2, 2, 'valid'); await y.data(); y.dispose(); });
    row({
      group: 'tfjs', what: 'max pool 2x2/2 N64 C32 28x28 (status quo)', ours: ours.s * 1e3, peer: m.s * 1e3, peerName: 'tfjs cpu',
      unit: 'ms/call', lowerIsBetter: true, ratioMeans: fasterTimes('tfjs'), samples: [`${bjs(ours)} (the pool row's)`, slow(m)], n: [ours.n, m.n],
      noBar: 'status quo', note: slowNote(m),
    });
    X.dispose();
  }
  x.dispose();
}

// Ours (a median of 7 steps per sample) and the triad (a median of 5 passes per sample) alternate over 7 rounds; medians.
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
  const rounds = quick ? 3 : 7;
  for (let r = 0; r < rounds; r++) {
    const t = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      adamStepOnce();
      await T.sync();
      t.push((performance.now() - t0) / 1e3);
    }
    ours.push((28 * n) / median(t) / 1e9);
    peer.push(triad(5));
  }
  const gbs = median(ours);
  row({
    group: 'adam', what: 'fused Adam, 10M params (28 B/param)', ours: gbs, peer: median(peer), peerName: 'triad', unit: 'GB/s',
    ratioMeans: faster('triad'),
    samples: [`median of ${rounds} (each the median of 7 steps), alternating after 2 warm-up steps`, `median of ${rounds} (each the median of 5 passes), alternating`], n: [rounds, rounds],
    bar: { on: 'ratio', op: '>=', value: 0.8 }, note: `ours ${range(ours)}, triad ${range(peer)}`,
  });
  for (const t of [p, g, m, v]) t.dispose();
  if (tf) {
    const P = tf.variable(tf.randomNormal([n])), G = tf.randomNormal([n]);
    const opt = tf.train.adam(1e-3);
    const t = await measureSlow(async () => { opt.applyGradients([{ name: P.name, tensor: G }]); await P.data(); });
    row({
      group: 'tfjs', what: 'Adam 10M params (status quo)', ours: gbs, peer: (28 * n) / t.s / 1e9, peerName: 'tfjs cpu', unit: 'GB/s',
      ratioMeans: faster('tfjs'), samples: [`the adam row's median of ${rounds}`, `${slow(t)} (one step each)`], n: [rounds, t.n], noBar: 'status quo', note: slowNote(t),
    });
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
  const steps = quick ? 20 : 40, windows = 3;
  const rates = [];
  for (let w = 0; w < windows; w++) {
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const l = step();
      if (i % 10 === 9) await l.item();  // a training loop reads its loss now and then
    }
    await T.sync();
    rates.push((steps * 64) / ((performance.now() - t0) / 1e3));
  }
  const sps = median(rates);
  const peak = fmaPeak();
  const gf = (3 * CNN_FLOPS_FWD * sps) / 1e9;  // forward + backward ~ 3x the forward FLOPs
  let tfm;
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
    tfm = await measureSlow(async () => { const l = topt.minimize(f, true); await l.data(); l.dispose(); });
  }
  row({
    group: 'train', what: 'CNN (ANCHORS) samples/s, batch 64, Adam', ours: sps, peer: tfm ? 64 / tfm.s : NaN, peerName: 'tfjs cpu',
    unit: 'samples/s', ratioMeans: faster('tfjs'),
    samples: [`median of ${windows} windows of ${steps} steps after 20 warm-up steps`, tfm ? `${slow(tfm)} (one step each)` : ''], n: [windows, tfm?.n ?? 0],
    bar: { on: 'ours', op: '>=', value: 5000 },
    note: `windows ${range(rates)} samples/s; ${gf.toFixed(0)} GFLOP/s = ${((100 * gf) / peak).toFixed(0)}% of the measured FMA peak ${peak.toFixed(0)} GFLOP/s${tfm ? `; ${slowNote(tfm, 'tfjs step')}` : ''}`,
  });
}

// bench/gpt.js in a process of its own: GPT training tokens/s and its share of the FMA peak beside the CNN's,
// both measured there (the FLOP formula is in bench/gpt.js)
async function benchGptShare() {
  const peak = fmaPeak();
  const r = JSON.parse(execFileSync(process.execPath, [join(here, 'gpt.js'), '--peak', String(peak), '--json', ...(quick ? ['--steps', '4'] : [])], { encoding: 'utf8' }).trim().split('\n').pop());
  const c = r.gpt.config, pct = (x) => `${(100 * x).toFixed(1)}%`;
  row({
    group: 'gpt', what: `GPT training % of FMA peak (${c.nLayers} layers, d ${c.dModel}, T ${c.T}, batch ${c.B})`, ours: 100 * r.gpt.share, peer: 100 * r.cnn.share,
    peerName: 'CNN (same run)', unit: '% of peak', ratioMeans: "the GPT's share of the FMA peak over the CNN's; >= 1 is the goal",
    samples: [`median of ${r.gpt.windows.length} windows of ${quick ? 4 : 12} steps after 3 warm-up steps`, `median of ${r.cnn.windows.length} windows of 40 steps after 20 warm-up steps`], n: [r.gpt.windows.length, r.cnn.windows.length],
    bar: { on: 'ratio', op: '>=', value: 1 },
    note: `${Math.round(r.gpt.tokensPerSecond)} tokens/s, ${r.gpt.gflops.toFixed(1)} GFLOP/s = ${pct(r.gpt.share)} of the FMA peak ${peak.toFixed(0)} GFLOP/s (6 N + 12 L d T = ${(r.gpt.flopsPerToken / 1e6).toFixed(2)} MFLOP/token); CNN ${Math.round(r.cnn.samplesPerSecond)} samples/s, ${r.cnn.gflops.toFixed(1)} GFLOP/s = ${pct(r.cnn.share)}`,
  });
}

// bench/dispatch.js, in a process of its own per mode (see there)
async function benchDispatch() {
  const run = (mode) => JSON.parse(execFileSync(process.execPath, [join(here, 'dispatch.js'), mode], { encoding: 'utf8' }).trim().split('\n').pop());
  const passes = (r) => `median of ${r.passes} passes of ${r.opsPerPass / 1000}k after ${r.warmup} warm-up passes, alternating in chunks of ${r.chunk / 1000}k`;
  const common = (r) => ({
    peer: r.bareNs, peerName: 'bare N-API call', unit: 'ns/op', ratio: r.opNs / r.bareNs, samples: [passes(r), passes(r)], n: [r.passes, r.passes],
  });
  const disposed = run('disposed');
  row({
    group: 'dispatch', what: 'enqueue add [16]+[16], result disposed', ours: disposed.opNs, ...common(disposed),
    ratioMeans: 'ours/bare; <= 4 is the bar; lower is better', bar: { on: 'ratio', op: '<=', value: 4 },
    note: `end to end (until the ops have run) ${disposed.endToEndNs.toFixed(0)} ns/op; passes ${disposed.passesNs.map((t) => t.toFixed(0)).join('/')} ns`,
  });
  const dropped = run('dropped');
  row({
    group: 'dispatch', what: 'enqueue add [16]+[16], result dropped: released by the GC finalizer', ours: dropped.opNs, ...common(dropped),
    ratioMeans: 'ours/bare; lower is better', noBar: 'for information: what leaving results to the GC costs',
    note: `a process of its own; ${(dropped.opNs / disposed.opNs).toFixed(1)}x the disposed op's cost; end to end ${dropped.endToEndNs.toFixed(0)} ns/op; passes ${dropped.passesNs.map((t) => t.toFixed(0)).join('/')} ns; ` +
      `${dropped.liveTensorsAtEnd} tensors not yet collected at the end`,
  });
}

// bench/latency.js, in a process of its own: a tiny op and a 512x512 matmul with their reads, back to back and after
// 30 ms idle
async function benchLatency() {
  const r = JSON.parse(execFileSync(process.execPath, [join(here, 'latency.js'), '--samples', quick ? '15' : '41'], { encoding: 'utf8' }).trim().split('\n').pop());
  const samples = (m) => [`median of ${m.samples} requests, each after ${r.idleMs} ms idle`, `median of ${3 * m.samples} requests back to back`];
  row({
    group: 'latency', what: `add [16]+[16] and its read, after ${r.idleMs} ms idle`, ours: r.tiny.idleUs, peer: r.tiny.warmUs, peerName: 'our warm latency',
    unit: 'us', ratio: r.tiny.ratio, ratioMeans: 'after idle / warm; <= 2 is the bar; lower is better', samples: samples(r.tiny),
    n: [r.tiny.samples, 3 * r.tiny.samples], bar: { on: 'ratio', op: '<=', value: 2 },
    note: `warm ${r.tiny.warmUs} us (interleaved with the idle samples); ${r.tiny.contextSwitches} context switches in the ${r.tiny.samples} idle requests (each ran on the JS thread alone)` +
      (r.ortAdd16 ? `; onnxruntime-node's Add after idle / warm: ${r.ortAdd16.ratio} in the same run` : '') +
      (r.coldCache32k ? `; a 32 KiB pointer chase in C: ${r.coldCache32k.ratio}x slower after ${r.idleMs} ms asleep` : ''),
  });
  if (r.ortAdd16) {
    row({
      group: 'latency', what: `onnxruntime-node Add [16]+[16] (session.run), after ${r.idleMs} ms idle`, ours: r.ortAdd16.idleUs, peer: r.ortAdd16.warmUs,
      peerName: 'its warm latency', unit: 'us', ratio: r.ortAdd16.ratio, ratioMeans: 'after idle / warm, the peer\'s own; lower is better',
      samples: samples(r.ortAdd16), n: [r.ortAdd16.samples, 3 * r.ortAdd16.samples],
      noBar: `for information: the same request in a peer (ours after idle: ${r.tiny.idleUs} us against its ${r.ortAdd16.idleUs} us)`,
    });
  }
  if (r.coldCache32k) {
    const c = r.coldCache32k;
    row({
      group: 'latency', what: `C pointer chase over ${c.kb} KiB, after ${r.idleMs} ms asleep (bench/peers/coldcache.cpp)`, ours: c.sleptUs, peer: c.warmUs,
      peerName: 'the same chase back to back', unit: 'us', ratio: c.ratio, ratioMeans: 'after the pause / warm; 1 = the caches kept their lines',
      samples: [`median of ${r.tiny.samples} chases after the pause`, `median of ${3 * r.tiny.samples} back to back`], n: [r.tiny.samples, 3 * r.tiny.samples],
      noBar: `for information: what this machine keeps in its caches over ${r.idleMs} ms (after spinning instead of sleeping: ${c.spunUs} us)`,
    });
  }
  row({
    group: 'latency', what: `matmul 512x512 and its read, after ${r.idleMs} ms idle`, ours: r.matmul512.idleUs, peer: r.matmul512.warmUs,
    peerName: 'our warm latency', unit: 'us', ratio: r.matmul512.ratio, ratioMeans: 'after idle / warm; lower is better',
    samples: samples(r.matmul512), n: [r.matmul512.samples, 3 * r.matmul512.samples], noBar: 'for information (the bar is the tiny op\'s)',
  });
}

// bench/attention.js, in a process of its own (its pool cap lifted for the high-water mark): fused attention against
// the same computation composed of matmul, softmax and masking in tensile, the peer; per case a forward time, a
// forward + backward time and the allocator's high-water mark
async function benchAttention() {
  const r = JSON.parse(execFileSync(process.execPath, [join(here, 'attention.js'), '--samples', quick ? '3' : '5'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 }).trim().split('\n').pop());
  for (const c of r.cases) {
    const what = `L=S=${c.L} E=${c.E} B=${c.B} H=${c.H}${c.causal ? ' causal' : ''}`;
    const timed = `median of ${c.samples} runs after 1 warm-up, alternating with the other path, each ending with a sync`;
    const big = c.L >= 512;
    const times = (v) => v.map((t) => t.toFixed(0)).join('/');
    for (const [key, label] of [['fwdMs', 'forward (noGrad)'], ['fwdBwdMs', 'forward + backward']]) {
      const all = key === 'fwdMs' ? 'fwdAllMs' : 'fwdBwdAllMs';
      row({
        group: 'attention', what: `fused ${label}, ${what}`, ours: c.fused[key], peer: c.composed[key], peerName: 'composed matmul-softmax-matmul (tensile)',
        unit: 'ms', lowerIsBetter: true, ratioMeans: fasterTimes('the composed path'), samples: [timed, timed], n: [c.samples, c.samples],
        ...(big ? { bar: { on: 'ratio', op: '>=', value: 1 } } : { noBar: 'for information: at L = 128 the L x S matrices are small' }),
        note: `fused ${times(c.fused[all])} ms, composed ${times(c.composed[all])} ms; max |fused - composed| ${c.maxAbsDiff.toExponential(1)}`,
      });
    }
    row({
      group: 'attention', what: `fused forward + backward allocator high-water, ${what}`, ours: c.fused.peakMiB, peer: c.composed.peakMiB,
      peerName: 'composed matmul-softmax-matmul (tensile)', unit: 'MiB', lowerIsBetter: true, ratioMeans: 'the composed path\'s MiB / ours; > 1 is less memory',
      samples: ['one run after emptyCache(): live + pooled bytes afterwards less live before', 'the same'], n: [1, 1],
      ...(c.L >= 2048 ? { bar: { on: 'ratio', op: '>=', value: 4 } } : { noBar: 'for information (the bar is at L = 2048, where L x S dominates)' }),
      note: `the output, its gradient and those of q, k and v (q, k, v themselves are live before): ${((5 * c.B * c.H * c.L * c.E * 4) / 2 ** 20).toFixed(1)} MiB; ` +
        `one L x S float32 matrix for all heads: ${((c.B * c.H * c.L * c.L * 4) / 2 ** 20).toFixed(1)} MiB`,
    });
  }
}

// scripts/sync-loop.mjs: loops that never await and never dispose, each in a process of its own; the bound is the
// memory issue's: resident-set growth after warm-up under 256 MiB
async function benchMemory() {
  const loops = [
    ['train', 'readme', 'random', quick ? 300 : 2000, 'README CNN training'],
    ['infer', 'readme', 'random', quick ? 300 : 2000, 'README CNN inference under noGrad'],
    ['arrays', 'readme', 'random', quick ? 300 : 2000, 'README CNN training on tensors made from Float32Arrays'],
    ...(quick ? [] : [['train', 'convnet', 'fashion-mnist', 0, 'convnet training, one Fashion-MNIST epoch']]),
  ];
  for (const [loop, model, data, steps, what] of loops) {
    const args = [join(here, '../scripts/sync-loop.mjs'), '--loop', loop, '--model', model, '--data', data, '--limit-mb', '4096'];
    if (steps) args.push('--steps', String(steps));
    const r = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }).trim().split('\n').pop());
    row({
      group: 'memory', what: `${what}, ${r.steps} steps of batch ${r.batch}, never awaiting`, ours: r.growthMB, peerName: 'none (a bound)',
      unit: 'MiB RSS growth', ratioMeans: 'no ratio: the growth itself; <= 256 MiB is the bar', samples: ['one run', ''], n: [1, 0],
      bar: { on: 'ours', op: '<=', value: 256 },
      note: `RSS ${r.rssWarmMB} MiB after ${r.warmup} warm-up steps, at most ${r.rssMaxMB} MiB after; trace ${r.rssTraceMB.join('/')} MiB; live tensors <= ${r.liveTensorsMax}; ${r.stepsPerSecond} steps/s`,
    });
  }
}

// ------------------------------------------------------------------ records and RESULTS.md
const cell = (s) => String(s ?? '').replaceAll('|', '\\|');
// figures: one decimal from 100 up, three significant digits below (a pool time of 0.27 ms keeps its digits)
const fig = (v) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));
const num = (v, fmt) => (typeof v === 'number' && Number.isFinite(v) ? fmt(v) : '-');
const spread = (vs, fmt) => {
  const ok = vs.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (ok.length === 0) return '-';
  const lo = fmt(Math.min(...ok)), hi = fmt(Math.max(...ok));
  return lo === hi ? lo : `${lo}-${hi}`;
};
const ratioFig = (v) => v.toFixed(2);
const count = (v) => String(v);
const rowKey = (r) => `${r.group}\u0000${r.what}`;
const barLabel = (r) => `${r.group} ${r.what}`;

/** The runs of `records` that the summary ranges cover: those of the latest one's sources, machine and mode. */
export function comparableRuns(records) {
  const last = records[records.length - 1];
  return records.filter((r) => r.sources === last.sources && r.machine === last.machine && r.quick === last.quick);
}

/** RESULTS.md's text for the recorded runs (oldest first, as results.jsonl holds them). */
export function renderResults(records) {
  if (records.length === 0) throw new Error('renderResults: expected at least one recorded run, got none');
  const last = records[records.length - 1];
  const same = comparableRuns(records);
  const status = last.rows.map((r) => [r, barStatus(r)]);
  const withBar = status.filter(([, s]) => s.status !== 'none');
  const missed = status.filter(([, s]) => s.status === 'missed');
  const unevaluated = status.filter(([, s]) => s.status === 'unevaluated');
  const md = [
    '# Benchmark results',
    '',
    'Command: `npm run build && (cd bench && npm run setup) && node bench/run.js` (`--runs N`: N runs, each recorded)  ',
    `Latest run: ${last.date}, commit ${last.commit}${last.dirty ? ' with uncommitted changes to the benchmarked sources' : ''}, ` +
      `took ${last.seconds} s${last.quick ? ', --quick' : ''}${last.only ? `, only ${last.only.join(',')}` : ''}  `,
    `Machine: ${last.machine}`,
    '',
    'How to read a row: "ours" and "compared with" are measured in the same run (ANCHORS.md explains the peers); the',
    'conv2d backward rows are compared with our own forward pass of the shape, not with a peer. "ratio means" says what',
    'the ratio divides and which way is better; "samples" says what each side\'s figure is the median of; "bar met?"',
    'judges the row against its bar, and a miss reads **MISSED**. The machine is shared and noisy: expect +-10% between',
    'runs, the CNN more; the ranges over the recorded runs below show how much.',
    '',
    missed.length === 0
      ? `Every bar was met in the latest run (${withBar.length - unevaluated.length} of ${withBar.length}).`
      : `**Bars MISSED in the latest run: ${missed.length} of ${withBar.length}**: ${missed.map(([r, s]) => `${barLabel(r)} ${s.text.replace('**MISSED** ', '')}`).join('; ')}.`,
  ];
  if (unevaluated.length > 0) {
    md.push('', `**Bars NOT EVALUATED in the latest run: ${unevaluated.length}** (the figure they judge is missing): ${unevaluated.map(([r]) => barLabel(r)).join('; ')}.`);
  }
  md.push(
    '',
    `## Latest run (${last.date})`,
    '',
    '| group | what is measured | ours | compared with | its value | unit | ratio | ratio means | samples: ours | samples: compared with | bar | bar met? | note |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...status.map(([r, s]) => `| ${[r.group, r.what, num(r.ours, fig), r.peerName, num(r.peer, fig), r.unit, num(r.ratio, ratioFig), r.ratioMeans,
      r.samplesOurs, r.samplesPeer, barText(r), s.text, r.note].map(cell).join(' | ')} |`),
    '',
    '## Over the recorded runs',
    '',
    `${same.length} recorded run${same.length === 1 ? '' : 's'} of these sources (fingerprint ${last.sources.slice(0, 12)}) on this machine` +
      `${last.quick ? ' (--quick)' : ''}, from bench/results.jsonl: ${same.map((r) => `${r.date} (${r.commit}${r.dirty ? '+changes' : ''})`).join(', ')}.` +
      (same.length === 1 ? ' With one run, each range is that run\'s figure.' : '') +
      (records.length > same.length ? ` ${records.length - same.length} other recorded run${records.length - same.length === 1 ? '' : 's'} (other sources, machine or mode) ${records.length - same.length === 1 ? 'is' : 'are'} left out.` : ''),
    '',
    '| group | what is measured | compared with | unit | runs | ours (min-max) | its value (min-max) | ratio (min-max) | ratio means | samples per run: ours; compared with | bar | bar met in |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const order = [], byKey = new Map();
  for (const run of [...same].reverse()) {
    for (const r of run.rows) {
      const k = rowKey(r);
      if (!byKey.has(k)) {
        byKey.set(k, []);
        order.push(k);
      }
      byKey.get(k).push(r);
    }
  }
  for (const k of order) {
    const rs = byKey.get(k), r = rs[0];
    const st = rs.map((x) => barStatus(x).status);
    const runs = (s) => st.filter((x) => x === s).length;
    const met = r.bar
      ? `${runs('met')} of ${rs.length} run${rs.length === 1 ? '' : 's'}` + (runs('missed') ? `; **MISSED in ${runs('missed')}**` : '') +
        (runs('unevaluated') ? `; **NOT EVALUATED in ${runs('unevaluated')}**` : '')
      : `no bar (${r.noBar})`;
    md.push(`| ${[r.group, r.what, r.peerName, r.unit, rs.length, spread(rs.map((x) => x.ours), fig), spread(rs.map((x) => x.peer), fig),
      spread(rs.map((x) => x.ratio), ratioFig), r.ratioMeans, `${spread(rs.map((x) => x.nOurs), count)}; ${spread(rs.map((x) => x.nPeer), count)}`,
      barText(r), met].map(cell).join(' | ')} |`);
  }
  md.push('');
  return md.join('\n');
}

/**
 * The sections of an existing RESULTS.md that people wrote (a `## ` heading that says "written by hand"), in their
 * order, each up to the next `## ` heading: a rewrite from results.jsonl keeps them after the generated tables.
 */
export function handWrittenSections(text) {
  const out = [];
  let keep = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) keep = line.includes('written by hand');
    if (keep) out.push(line);
  }
  while (out.length > 0 && out[out.length - 1].trim() === '') out.pop();
  return out.length > 0 ? out.join('\n') + '\n' : '';
}
function writeResults(dir, records) {
  const file = join(dir, 'RESULTS.md');
  const hand = existsSync(file) ? handWrittenSections(readFileSync(file, 'utf8')) : '';
  writeFileSync(file, renderResults(records) + (hand ? '\n' + hand : ''));
}

/** The records of results.jsonl in `dir` (none when it does not exist). */
function readRecords(dir) {
  const file = join(dir, 'results.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l, i) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      throw new Error(`${file}: expected one JSON object per line, got line ${i + 1}: ${e.message}`);
    }
  });
}

/** Where the benchmarked code stands: the commit, whether the sources differ from it, and a hash of their content. */
function sourceState() {
  const paths = ['lib', 'native', 'CMakeLists.txt', 'bench/run.js', 'bench/dispatch.js', 'bench/latency.js', 'bench/attention.js', 'scripts/sync-loop.mjs', 'bench/peers'];
  try {
    const git = (...a) => execFileSync('git', a, { cwd: root, encoding: 'utf8' });
    const files = git('ls-files', '-co', '--exclude-standard', '--', ...paths).split('\n').filter(Boolean).sort();
    const h = createHash('sha256');
    for (const f of files) {
      if (!existsSync(join(root, f))) continue;
      h.update(`${f}\u0000`);
      h.update(readFileSync(join(root, f)));
      h.update('\u0000');
    }
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), dirty: git('status', '--porcelain', '--', ...paths).trim() !== '', sources: h.digest('hex') };
  } catch {
    return { commit: 'unknown', dirty: false, sources: 'unknown' };
  }
}

function parseArgs(argv) {
  const o = { runs: 1, only: null, quick: false, record: false, report: false, out: here };
  const fail = (m) => {
    console.error(`bench/run.js: ${m}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--record') o.record = true;
    else if (a === '--report') o.report = true;
    else if (a === '--runs') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) fail(`--runs: expected a positive integer, got ${argv[i] ?? 'nothing'}`);
      o.runs = n;
    } else if (a === '--only') {
      const gs = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = gs.filter((g) => !GROUPS.includes(g));
      if (gs.length === 0 || bad.length > 0) fail(`--only: expected some of ${GROUPS.join(',')}, got ${argv[i] ?? 'nothing'}`);
      o.only = gs;
    } else if (a === '--out') {
      if (argv[i + 1] === undefined) fail('--out: expected a folder, got nothing');
      o.out = resolve(argv[++i]);
    } else fail(`expected one of --runs N, --only a,b, --quick, --record, --report, --out DIR, got ${a}`);
  }
  return o;
}

async function main() {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  if (o.report) {
    const records = readRecords(o.out);
    if (records.length === 0) {
      console.error(`bench/run.js --report: expected recorded runs in ${join(o.out, 'results.jsonl')}, got none`);
      process.exit(1);
    }
    writeResults(o.out, records);
    log(`wrote ${join(o.out, 'RESULTS.md')} from ${records.length} recorded runs`);
    return;
  }
  if (o.runs > 1) {
    // each run in a fresh process: within one, onnxruntime's thread pool, once it has run, competes with the rest
    const rest = [];
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === '--runs') i++;
      else rest.push(argv[i]);
    }
    for (let k = 1; k <= o.runs; k++) {
      log(`--- run ${k} of ${o.runs}`);
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...rest, '--record'], { stdio: 'inherit' });
      if (r.status !== 0) {
        console.error(`bench/run.js: run ${k} of ${o.runs} failed (exit ${r.status ?? r.signal}); the runs before it are recorded`);
        process.exit(1);
      }
    }
    return;
  }
  quick = o.quick;
  T = await import('../dist/index.js');
  const t0 = Date.now();
  log(`tensile bench: isa=${T.isa()} cpus=${cpus().length} ${cpus()[0]?.model ?? ''}`);
  const tf = await tfPeer();
  const ort = await ortPeer();
  const want = (g) => !o.only || o.only.includes(g);
  // dispatch first, while this process is quiet (it runs in processes of its own, but a busy heap's GC threads here
  // would take a core), then training: onnxruntime's thread pool, once it has run, competes for the two cores
  if (want('dispatch')) await benchDispatch();
  if (want('latency')) await benchLatency();
  if (want('train')) await benchCnn(tf);
  if (want('gpt')) await benchGptShare();
  if (want('sgemm')) await benchGemm();
  if (want('conv')) await benchConv(ort, tf);
  if (want('pool')) await benchPool(ort, tf);
  if (want('adam')) await benchAdam(tf);
  if (want('memory')) await benchMemory();
  if (want('attention')) await benchAttention();
  const seconds = Math.round((Date.now() - t0) / 1e3);
  if (o.record || (!o.quick && !o.only)) {
    const record = {
      date: new Date().toISOString(), seconds, ...sourceState(),
      machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}, kernels ${T.isa()}`,
      quick: o.quick, only: o.only, rows,
    };
    mkdirSync(o.out, { recursive: true });
    appendFileSync(join(o.out, 'results.jsonl'), `${JSON.stringify(record)}\n`);
    const records = readRecords(o.out);
    writeResults(o.out, records);
    log(`recorded in ${join(o.out, 'results.jsonl')} (${comparableRuns(records).length} comparable runs); wrote ${join(o.out, 'RESULTS.md')}`);
  } else {
    log('not recorded (--only or --quick without --record): results.jsonl and RESULTS.md are left alone');
  }
  const missed = rows.filter((r) => barStatus(r).status === 'missed');
  log(`done in ${seconds} s${missed.length ? `; bars missed: ${missed.map(barLabel).join('; ')}` : ''}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
