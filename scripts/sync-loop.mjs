// A loop that never awaits and never disposes, as a user ported from PyTorch writes it; prints one JSON line with
// its resident memory after warm-up and the live tensors it left. Used by test/native/sync-loop.test.ts (in a child
// process and in a worker_thread) and to measure the memory bound at full length:
//
//   node scripts/sync-loop.mjs --loop train --model readme --steps 2000          (the README's CNN, random batches)
//   node scripts/sync-loop.mjs --loop train --model convnet --data fashion-mnist  (one full epoch, 938 batches)
//   node scripts/sync-loop.mjs --loop infer --steps 2000                          (inference under noGrad)
//   node scripts/sync-loop.mjs --loop arrays --steps 2000                         (tensors made from Float32Arrays)
//   node scripts/sync-loop.mjs --device cuda --model mlp --steps 300              (on a GPU: its memory too)
//
// --limit-mb N stops the loop, and exits with code 3, once the resident set passes N MiB, so that a regression shows
// as a failed run and not as a machine out of memory. The loop runs synchronously from its first step to its last:
// nothing in it lets the event loop turn (memory() and dataSync() wait for the worker without yielding).
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

const MB = 1024 * 1024;

function parse(argv) {
  const o = { loop: 'train', model: 'readme', data: 'random', steps: 0, batch: 64, limitMb: 4096, warmup: 0, dist: '../dist/index.js', device: 'cpu' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase()), v = argv[i + 1];
    if (!(k in o)) throw new Error(`sync-loop: expected one of --${Object.keys(o).join(', --')}, got --${k}`);
    o[k] = typeof o[k] === 'number' ? Number(v) : v;
  }
  return o;
}

/** Runs the loop described by `o` (see parse()) and returns its measurements. */
export async function run(o) {
  const T = await import(new URL(o.dist, import.meta.url).href);
  const { nn, optim, F, randn, randint, tensor, noGrad, manualSeed, memory, data, cuda } = T;
  const device = o.device;
  const gpu = device !== 'cpu';
  manualSeed(0);
  const models = {
    // the model of the README's training loop
    readme: () => new nn.Sequential(
      new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.Linear(64 * 5 * 5, 10)),
  };
  const { MODELS } = await import(new URL(o.dist.replace(/index\.js$/, 'cli/models.js'), import.meta.url).href);
  const build = models[o.model] ?? MODELS[o.model];
  if (!build) throw new Error(`sync-loop: expected --model readme or one of ${Object.keys(MODELS).join(', ')}, got ${o.model}`);
  const model = build().to(device);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const B = o.batch;
  let ds = null;
  if (o.data === 'fashion-mnist') ds = await data.datasets.fashionMnist({ split: 'train' });
  else if (o.data !== 'random') throw new Error(`sync-loop: expected --data random or fashion-mnist, got ${o.data}`);
  const steps = o.steps > 0 ? o.steps : ds ? Math.floor(ds.length / B) : 300;
  const warmup = o.warmup > 0 ? o.warmup : Math.min(100, Math.max(20, Math.floor(steps / 10)));
  const xs = new Float32Array(B * 784), ys = new Int32Array(B);
  // a fresh input batch every step: random tensors, or tensors made from typed arrays (the data set's samples)
  const batch = (step) => {
    if (!ds && o.loop !== 'arrays') return [randn([B, 1, 28, 28], { device }), randint(0, 10, [B], { device })];
    for (let i = 0; i < B; i++) {
      if (ds) {
        const s = ds.get((step * B + i) % ds.length);
        xs.set(s.x, i * 784);
        ys[i] = s.y;
      } else {
        for (let j = 0; j < 784; j++) xs[i * 784 + j] = Math.sin(step + i + j);
        ys[i] = (step + i) % 10;
      }
    }
    return [tensor(xs, { shape: [B, 1, 28, 28], device }), tensor(ys, { dtype: 'int32', device })];
  };
  if (o.loop === 'infer') model.eval();
  else if (!['train', 'arrays'].includes(o.loop)) throw new Error(`sync-loop: expected --loop train, infer or arrays, got ${o.loop}`);

  let rssWarm = 0, rssMax = 0, liveMax = 0, exceeded = false, done = 0, gpuWarm = 0, gpuMax = 0;
  const trace = [];  // resident MiB at every tenth of the run
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    const [x, y] = batch(step);
    if (o.loop === 'infer') {
      noGrad(() => model.forward(x).argmax(1).eq(y).sum());
    } else {
      const loss = F.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    }
    done = step + 1;
    const rss = process.memoryUsage.rss();
    if (step === warmup) rssWarm = rss;
    if (step >= warmup) rssMax = Math.max(rssMax, rss);
    if (step % Math.max(1, Math.floor(steps / 10)) === 0) trace.push(Math.round(rss / MB));
    if (step % 50 === 0) liveMax = Math.max(liveMax, memory().liveTensors);
    if (gpu && (step === warmup || (step > warmup && step % 10 === 0))) {  // the GPU's allocator (waits for the worker)
      const a = cuda.memory(device).allocated;
      if (step === warmup) gpuWarm = a;
      gpuMax = Math.max(gpuMax, a);
    }
    if (rss > o.limitMb * MB) {
      exceeded = true;
      break;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const m = memory();
  return {
    loop: o.loop, model: o.model, data: o.data, batch: B, steps: done, warmup, exceeded,
    rssWarmMB: +(rssWarm / MB).toFixed(1), rssMaxMB: +(rssMax / MB).toFixed(1),
    growthMB: +((rssMax - rssWarm) / MB).toFixed(1),
    liveTensorsMax: liveMax, liveTensorsEnd: m.liveTensors, nativeMB: +(m.cpu.bytes / MB).toFixed(1),
    stepsPerSecond: +(done / seconds).toFixed(1), rssTraceMB: trace,
    ...(gpu ? { device, gpuWarmMB: +(gpuWarm / MB).toFixed(1), gpuMaxMB: +(gpuMax / MB).toFixed(1), gpuGrowthMB: +((gpuMax - gpuWarm) / MB).toFixed(1) } : {}),
  };
}

if (isMainThread && process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  const r = await run(parse(process.argv.slice(2)));
  console.log(JSON.stringify(r));
  if (r.exceeded) process.exitCode = 3;
} else if (!isMainThread && workerData?.syncLoop) {
  parentPort.postMessage(await run({ ...parse([]), ...workerData.syncLoop }));
}
