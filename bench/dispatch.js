// The dispatch microbenchmark, run by run.js in a process of its own (a fresh heap: the figures do not depend on
// which benchmarks ran before). It prints one JSON line.
// The JS-thread cost of one tiny op (enqueue an add of two [16] tensors, then dispose the result) and of a bare
// N-API call, each over passes of 100k: 20 warm-up passes (V8 needs about a million of these ops before its code
// settles), then the medians of 10. Within a pass the two alternate in chunks of 10k (about half a millisecond of
// ours, a sixth of one of the bare call), so that the machine's slow spells (this is a shared VM: a few
// milliseconds at a time) fall on both alike. The worker runs the ops meanwhile on the other core; the end-to-end
// time (until the last op of a pass has run) is reported too.
import * as T from '../dist/index.js';
import { binding } from '../dist/native.js';

const a = T.randn([16]), b = T.randn([16]);
await T.sync();
const count = 100_000, chunk = 10_000;
const enq = [], total = [], bare = [];
// (the loops are functions of their own: V8 optimises them as such, not as on-stack replacements of the module's
// top-level code, whose compiled form varied from run to run)
function ours(n) {
  for (let i = 0; i < n; i++) a.add(b).dispose();
}
function noops(n) {
  for (let i = 0; i < n; i++) binding.noop();
}
for (let r = 0; r < 30; r++) {
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
  if (r >= 20) {
    enq.push((tOurs / count) * 1e6);
    bare.push((tBare / count) * 1e6);
    total.push(((t5 - t0 - tBare) / count) * 1e6);
  }
}
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log(JSON.stringify({ enqueueNs: med(enq), endToEndNs: med(total), bareNs: med(bare), passesNs: enq }));
