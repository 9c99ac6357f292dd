// The latency of one op and its read, warm (back to back) and after the program has been idle (a timer of 30 ms
// between requests, as a model behind an HTTP handler sees them): a tiny op (add of two [16] tensors) and a 512x512
// matmul; beside them, two peers measured the same way in the same run:
// - onnxruntime-node running a one-node Add model on the same [16] inputs (session.run and its output's data), when
//   bench/'s dependencies are installed (`cd bench && npm run setup`);
// - bench/peers/coldcache.cpp: a C pointer chase over 32 KiB, back to back and after 30 ms of sleep or of spinning,
//   which shows how much of the caches' contents this machine keeps over such a pause.
// It also counts the process's context switches during the tiny op's idle requests: a request that ran on the JS
// thread alone, without waking the worker, switches none. Run by run.js in a process of its own, or alone:
// `node bench/latency.js [--samples N]`. Prints one JSON line: medians in microseconds and the after-idle / warm
// ratios (the bar: <= 2 for the tiny op).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as T from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const samples = Number(process.argv[process.argv.indexOf('--samples') + 1]) || 41;
const idleMs = 30;
const a = T.randn([16]), b = T.randn([16]);
const m = T.randn([512, 512]), n = T.randn([512, 512]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
const switches = () => {
  const u = process.resourceUsage();
  return u.voluntaryContextSwitches + u.involuntaryContextSwitches;
};

const ours = {
  async tiny() {
    const y = a.add(b);
    await y.data();
    y.dispose();
  },
  async matmul() {
    const y = m.matmul(n);
    await y.data();
    y.dispose();
  },
};

async function ortPeer() {
  try {
    const require = createRequire(join(here, 'package.json'));
    const ort = require('onnxruntime-node');
    const { onnx } = require('onnx-proto');
    const F = onnx.TensorProto.DataType.FLOAT;
    const vi = (name) => onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: F, shape: { dim: [{ dimValue: 16 }] } } } });
    const model = onnx.ModelProto.encode(onnx.ModelProto.create({
      irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
      graph: { name: 'add', node: [onnx.NodeProto.create({ opType: 'Add', input: ['A', 'B'], output: ['Y'] })], input: [vi('A'), vi('B')], output: [vi('Y')] },
    })).finish();
    const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const A = new ort.Tensor('float32', Float32Array.from({ length: 16 }, Math.random), [16]);
    const B = new ort.Tensor('float32', Float32Array.from({ length: 16 }, Math.random), [16]);
    return async () => {
      const r = await s.run({ A, B });
      if (r.Y.data.length !== 16) throw new Error('latency.js: expected 16 outputs from onnxruntime-node');
    };
  } catch (e) {
    console.error(`latency.js: onnxruntime-node unavailable (run \`cd bench && npm run setup\`): ${e.message.split('\n')[0]}`);
    return null;
  }
}

async function measure(request, countSwitches = false) {
  const once = async () => {
    const t0 = performance.now();
    await request();
    return (performance.now() - t0) * 1000;
  };
  for (let i = 0; i < 20; i++) await once();  // warm-up: V8's code, the worker, the allocator's pool
  const warm = [], idle = [];
  let switched = 0;
  // alternate a warm burst and an idle sample, so that both see the same moments of a shared machine
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < 5; i++) {
      const dt = await once();
      if (i >= 2) warm.push(dt);  // back to back: the previous request has just finished
    }
    await sleep(idleMs);
    const c0 = countSwitches ? switches() : 0;
    idle.push(await once());
    if (countSwitches) switched += switches() - c0;
  }
  const r = { warmUs: +med(warm).toFixed(1), idleUs: +med(idle).toFixed(1), ratio: +(med(idle) / med(warm)).toFixed(2), samples: idle.length };
  return countSwitches ? { ...r, contextSwitches: switched } : r;
}

function coldCache() {
  try {
    const dir = join(here, '.cache');
    mkdirSync(dir, { recursive: true });
    const exe = join(dir, 'coldcache');
    execFileSync('g++', ['-O2', join(here, 'peers/coldcache.cpp'), '-o', exe]);  // a probe of this machine, not shipped
    const r = JSON.parse(execFileSync(exe, ['32', String(idleMs), String(samples)], { encoding: 'utf8' }));
    return { kb: r.kb, warmUs: r.warmUs, sleptUs: r.sleptUs, spunUs: r.spunUs, ratio: +(r.sleptUs / r.warmUs).toFixed(1) };
  } catch (e) {
    console.error(`latency.js: the cache probe did not build or run: ${e.message.split('\n')[0]}`);
    return null;
  }
}

const tiny = await measure(ours.tiny, true);
const matmul = await measure(ours.matmul);
const ortRun = await ortPeer();
const ort = ortRun ? await measure(ortRun) : null;
const cache = coldCache();
console.log(JSON.stringify({ idleMs, tiny, matmul512: matmul, ortAdd16: ort, coldCache32k: cache }));
