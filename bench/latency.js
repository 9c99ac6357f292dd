// The latency of one op and its read, warm (back to back) and after the program has been idle (a timer of 30 ms
// between requests, as a model behind an HTTP handler sees them): a tiny op (add of two [16] tensors) and a 512x512
// matmul. Run by run.js in a process of its own, or alone: `node bench/latency.js [--samples N]`. Prints one JSON
// line: medians in microseconds and the after-idle / warm ratios (the bar: <= 2 for the tiny op).
import * as T from '../dist/index.js';

const samples = Number(process.argv[process.argv.indexOf('--samples') + 1]) || 41;
const idleMs = 30;
const a = T.randn([16]), b = T.randn([16]);
const m = T.randn([512, 512]), n = T.randn([512, 512]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];

async function once(kind) {
  const t0 = performance.now();
  const y = kind === 'tiny' ? a.add(b) : m.matmul(n);
  await y.data();
  const dt = (performance.now() - t0) * 1000;
  y.dispose();
  return dt;
}

async function measure(kind) {
  for (let i = 0; i < 20; i++) await once(kind);  // warm-up: V8's code, the worker, the allocator's pool
  const warm = [], idle = [];
  // alternate a warm burst and an idle sample, so that both see the same moments of a shared machine
  for (let s = 0; s < samples; s++) {
    for (let i = 0; i < 5; i++) {
      const dt = await once(kind);
      if (i >= 2) warm.push(dt);  // back to back: the previous request has just finished
    }
    await sleep(idleMs);
    idle.push(await once(kind));
  }
  return { warmUs: +med(warm).toFixed(1), idleUs: +med(idle).toFixed(1), ratio: +(med(idle) / med(warm)).toFixed(2), samples: idle.length };
}

const tiny = await measure('tiny');
const matmul = await measure('matmul');
console.log(JSON.stringify({ idleMs, tiny, matmul512: matmul }));
