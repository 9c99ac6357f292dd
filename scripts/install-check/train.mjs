// Trains a small CNN on a synthetic task inside the minimal system (scripts/install-check.sh) and checks that the
// loss falls: `node train.mjs main|worker|two-workers` (in the main thread, in a worker_thread, in two at once).
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

async function train(seed) {
  const T = await import('tensile');
  const { nn, optim, F } = T;
  T.manualSeed(seed);
  // two classes: images whose left or right half is brighter, with noise
  const n = 256;
  const x = T.randn([n, 1, 12, 12]).mul(0.5);
  const y = T.randint(0, 2, [n]);
  const side = T.arange(12).ge(6).cast('float32').reshape([1, 1, 1, 12]);
  const shift = y.cast('float32').reshape([n, 1, 1, 1]).mul(side.mul(2).sub(1)).mul(0.8);
  const xs = x.add(shift);
  const model = new nn.Sequential(new nn.Conv2d(1, 8, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(8 * 5 * 5, 2));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
  let first = 0, last = 0;
  for (let step = 0; step < 60; step++) {
    const loss = F.crossEntropy(model.forward(xs), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    if (step === 0) first = await loss.item();
    if (step === 59) last = await loss.item();
  }
  if (!(last < first * 0.5)) throw new Error(`expected the loss to fall below half of ${first}, got ${last}`);
  const a = T.addon();
  if (a.kind !== 'prebuild') throw new Error(`expected the prebuild to load, got ${a.kind} ${a.path}`);
  return `loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ${a.kind} ${a.path}, isa ${T.isa()}, cuda: ${T.cuda.status().reason || 'available'}`;
}

if (!isMainThread) {
  train(workerData.seed).then((r) => parentPort.postMessage({ ok: r }), (e) => parentPort.postMessage({ err: e.stack }));
} else {
  const mode = process.argv[2] ?? 'main';
  const inWorker = (seed) => new Promise((res, rej) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: { seed } });
    w.on('message', (m) => (m.err ? rej(new Error(m.err)) : res(m.ok)));
    w.on('error', rej);
  });
  const runs = mode === 'main' ? [train(1)] : mode === 'worker' ? [inWorker(2)] : mode === 'two-workers' ? [inWorker(3), inWorker(4)] : null;
  if (!runs) throw new Error(`train.mjs: expected main, worker or two-workers, got ${mode}`);
  const out = await Promise.all(runs);
  for (const r of out) console.log(`train.mjs ${mode}: ${r}`);
}
