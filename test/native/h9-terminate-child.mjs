// The child process of test/native/h9-terminate.test.ts: worker_threads running tensile are terminated here, so that
// a crash (the process aborting) fails that test instead of taking its runner down. Prints one JSON line.
//
//   node h9-terminate-child.mjs terminate ROUNDS SEED   each round starts a worker on one of SCENARIOS and terminates
//                                                       it after a random delay; then a fresh worker computes a sum
//                                                       (and this thread, which holds a tensor throughout, another)
//   node h9-terminate-child.mjs memory WORKERS MB       each worker holds MB MiB of tensors (and reads of them in
//                                                       flight) when it is terminated; prints the resident set
//
// Workers run the compiled dist/ (plain Node cannot import lib/'s .ts).
import { Worker } from 'node:worker_threads';

const dist = new URL('../../dist/index.js', import.meta.url).href;
const MB = 1024 * 1024;

// Worker code by scenario: each posts 'ready' once tensile is loaded (the 'import' scenario posts nothing: it is
// terminated while loading), then works until it is terminated.
const SCENARIOS = {
  // terminated while the module (and the addon) loads
  import: `await import(workerData.dist);`,
  // ops with reads left pending, the event loop turning between steps
  loop: `for (;;) { const a = T.randn([128, 128]); void a.matmul(a).relu().sum().data(); await null; }`,
  // a synchronous loop that never lets the event loop turn (dataSync blocks on the stream)
  sync: `for (;;) { const a = T.randn([128, 128]); a.matmul(a).tanh().dataSync(); }`,
  // a long chain of work with an await t.data() pending on it
  await: `for (;;) { const a = T.randn([256, 256]); let b = a; for (let i = 0; i < 30; i++) b = b.matmul(a).tanh(); await b.data(); }`,
  // a queue of heavy ops far ahead of the stream with a read at its end: the stream is still busy at teardown, and
  // the read's fence runs while the environment goes away
  busy: `for (;;) { const a = T.randn([384, 384]); let b = a; for (let i = 0; i < 400; i++) b = b.matmul(a).tanh(); await b.data(); }`,
  // many reads in flight at once, and a timer keeping the loop alive
  pending: `for (;;) { const ps = []; for (let i = 0; i < 64; i++) { const a = T.randn([64, 64]); ps.push(a.matmul(a).data()); } await Promise.all(ps); }`,
  // errors thrown synchronously and ones rejected from the stream (the error classes are constructed natively)
  errors: `for (;;) {
    try { T.tensor([1, 2]).add(T.tensor([1, 2, 3])); } catch {}
    const [l] = T.crossEntropyForward(T.randn([4, 3]), T.tensor([0, 1, 5, 2], { dtype: 'int32' }));
    try { await l.data(); } catch {}
    try { l.mul(2).dataSync(); } catch {}
  }`,
  // big tensors made from bytes and read back, with garbage for the GC's finalizers
  bytes: `for (;;) { const t = T.tensor(new Float32Array(1 << 18)); void t.add(1).data(); for (let i = 0; i < 200; i++) T.randn([16]); await null; }`,
};

function workerCode(body, ready) {
  return `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      ${ready ? `const T = await import(workerData.dist); parentPort.postMessage('ready');` : ''}
      ${body}
    })().catch((e) => parentPort.postMessage('error: ' + (e && e.stack || e)));`;
}

// a small deterministic generator (mulberry32): the rounds' delays are the same for one seed
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(code, data = {}) {
  const w = new Worker(code, { eval: true, workerData: { dist, ...data } });
  const errors = [];
  w.on('error', (e) => errors.push(String(e && e.stack || e)));
  w.on('message', (m) => { if (typeof m === 'string' && m.startsWith('error: ')) errors.push(m); });
  const ready = new Promise((resolve, reject) => {
    w.on('message', (m) => { if (m === 'ready') resolve(); });
    w.once('exit', (code) => reject(new Error(`worker exited (code ${code}) before it was ready: ${errors.join('; ')}`)));
  });
  ready.catch(() => {});  // a worker terminated while loading never gets ready
  return { w, ready, errors };
}

async function terminateRounds(rounds, seed) {
  // this thread uses tensile too: its tensors and its stream are untouched by the workers' ends
  const T = await import(dist);
  const kept = T.randn([256, 256]);
  const keptValues = Array.from(kept.dataSync());
  const rand = rng(seed);
  const names = Object.keys(SCENARIOS);
  const counts = {};
  const errors = [];
  for (let i = 0; i < rounds; i++) {
    const name = names[i % names.length];
    const { w, ready, errors: errs } = start(workerCode(SCENARIOS[name], name !== 'import'));
    // when: at once (while the worker starts), or once loaded and a random while into its work
    const at = rand();
    if (name !== 'import' && at > 0.15) {
      try {
        await ready;
      } catch (e) {
        errs.push(String(e.message));
      }
      await sleep(Math.floor(rand() * 40));
    } else {
      await sleep(Math.floor(at * 30));
    }
    await w.terminate();
    counts[name] = (counts[name] ?? 0) + 1;
    errors.push(...errs.map((e) => `${name}: ${e}`));
  }
  // a fresh worker afterwards works
  const fresh = await new Promise((resolve, reject) => {
    const w = new Worker(workerCode(`parentPort.postMessage(await T.tensor([1, 2, 3]).mul(2).sum().item());`, true),
      { eval: true, workerData: { dist } });
    w.on('message', (m) => { if (m !== 'ready') { resolve(m); void w.terminate(); } });
    w.once('error', reject);
  });
  const same = Array.from(kept.dataSync()).every((v, i) => v === keptValues[i]);
  const ownSum = await T.tensor([1, 2, 3]).mul(kept.sum().mul(0).add(1)).sum().item();
  return { rounds, counts, errors, fresh, mainThread: { same, ownSum } };
}

// Each worker makes `mb` MiB of float32 tensors (4 MiB each), reads one back, leaves reads of as much again in
// flight (their outputs and their copies) and waits to be terminated.
async function memoryRounds(workers, mb) {
  const T = await import(dist);  // for memory(): the process's pool of freed native blocks
  const body = `
    const held = [];
    for (let i = 0; i < ${mb} / 4; i++) held.push(T.randn([1024, 1024]));
    await held[0].sum().item();
    globalThis.pending = held.map((t) => t.add(1).data());
    parentPort.postMessage(T.memory().cpu.bytes);
    await new Promise(() => setInterval(() => {}, 1000));`;
  const run = async () => {
    const { w, ready, errors } = start(workerCode(body, true));
    await ready;  // (rejects when the worker fails to load)
    const held = await new Promise((resolve) => w.on('message', (m) => { if (typeof m === 'number') resolve(m); }));
    rssHeld = Math.max(rssHeld, process.memoryUsage.rss());
    await w.terminate();
    if (errors.length) throw new Error(errors.join('\n'));
    return held;
  };
  let rssHeld = 0;
  // one worker first, so that the code, the thread stacks and the allocator's arenas are warm before measuring
  await run();
  const rss0 = process.memoryUsage.rss();
  rssHeld = 0;
  const held = [];
  for (let i = 0; i < workers; i++) held.push(await run());
  const rss1 = process.memoryUsage.rss();
  // heldMB: the native bytes each worker held when terminated; rssHeldMB: the most the process held while one did
  return {
    workers, heldMB: held.map((b) => b / MB), rssStartMB: rss0 / MB, rssHeldMB: rssHeld / MB, rssEndMB: rss1 / MB,
    pooledMB: T.memory().cpu.pooledBytes / MB,
  };
}

const [mode, a, b] = process.argv.slice(2);
const out = mode === 'terminate' ? await terminateRounds(Number(a), Number(b))
  : mode === 'memory' ? await memoryRounds(Number(a), Number(b))
  : (() => { throw new Error(`h9-terminate-child: expected mode terminate or memory, got ${mode}`); })();
console.log(JSON.stringify(out));
