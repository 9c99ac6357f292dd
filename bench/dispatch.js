// The dispatch microbenchmark, run by run.js in a process of its own per mode (a fresh heap: the figures do not
// depend on which benchmarks, or which mode, ran before). It prints one JSON line.
// Usage: node bench/dispatch.js [disposed|dropped]
// The JS-thread cost of one tiny op (enqueue an add of two [16] tensors) and of a bare N-API call, each over passes
// of 100k: 20 warm-up passes (V8 needs about a million of these ops before its code settles), then the medians of 10.
// - disposed: the op's result is disposed at once (a.add(b).dispose()), the hot-loop idiom.
// - dropped: the result is dropped; the GC releases it through the addon's GC-time finalizer (lib/tensor/tensor.ts
//   registerYoung hands each batch of new tensors to binding.track at a submit; lib/native.ts drainCollected releases
//   what the collections found at the next one). Its figure includes that whole path: the registration, V8's weak
//   processing in the scavenges the loop's own allocations trigger (the bare call allocates nothing, so none of
//   them falls on its chunks), and the releases.
// Within a pass the op and the bare call alternate in chunks of 10k (about half a millisecond of ours, a sixth of
// one of the bare call), so that the machine's slow spells (this is a shared VM: a few milliseconds at a time) fall
// on both alike. The worker runs the ops meanwhile on the other core; the end-to-end time (until the last op of a
// pass has run) is reported too.
import * as T from '../dist/index.js';
import { binding } from '../dist/native.js';

const mode = process.argv[2] ?? 'disposed';
if (mode !== 'disposed' && mode !== 'dropped') {
  console.error(`dispatch.js: expected the mode to be 'disposed' or 'dropped', got '${mode}'`);
  process.exit(2);
}
const a = T.randn([16]), b = T.randn([16]);
await T.sync();
const count = 100_000, chunk = 10_000, warmup = 20, passes = 10;
const enq = [], total = [], bare = [];
// (the loops are functions of their own: V8 optimises them as such, not as on-stack replacements of the module's
// top-level code, whose compiled form varied from run to run)
function disposed(n) {
  for (let i = 0; i < n; i++) a.add(b).dispose();
}
function dropped(n) {
  for (let i = 0; i < n; i++) a.add(b);
}
function noops(n) {
  for (let i = 0; i < n; i++) binding.noop();
}
const ours = mode === 'disposed' ? disposed : dropped;
for (let r = 0; r < warmup + passes; r++) {
  let tOurs = 0, tBare = 0;
  const t0 = performance.now();
  for (let c = 0; c < count; c += chunk) {
    const t1 = performance.now();
    ours(chunk);
    const t2 = performance.now();
    noops(chunk);
    const t3 = performance.now();
    tOurs += t2 - t1;
    tBare += t3 - t2;
  }
  await T.sync();
  const t5 = performance.now();
  if (r >= warmup) {
    enq.push((tOurs / count) * 1e6);
    bare.push((tBare / count) * 1e6);
    total.push(((t5 - t0 - tBare) / count) * 1e6);
  }
}
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log(JSON.stringify({
  mode, opNs: med(enq), endToEndNs: med(total), bareNs: med(bare), passesNs: enq, barePassesNs: bare,
  passes, warmup, opsPerPass: count, chunk, liveTensorsAtEnd: T.memory().liveTensors,
}));
