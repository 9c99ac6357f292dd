// The dispatch microbenchmark, run by run.js in a process of its own (a fresh heap: the figures do not depend on
// which benchmarks ran before). It prints one JSON line.
// The JS-thread cost of one tiny op (enqueue an add of two [16] tensors, then dispose the result) and of a bare
// N-API call, in alternating passes of 100k: 20 warm-up rounds (V8 needs about a million of these ops before its
// code settles), then the medians of 10. The worker runs the ops meanwhile on the other core; the end-to-end time
// (until the last op has run) is reported too.
import * as T from '../dist/index.js';
import { binding } from '../dist/native.js';

const a = T.randn([16]), b = T.randn([16]);
await T.sync();
const count = 100_000;
const enq = [], total = [], bare = [];
for (let r = 0; r < 30; r++) {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) a.add(b).dispose();
  const t1 = performance.now();
  await T.sync();
  const t2 = performance.now();
  for (let i = 0; i < count; i++) binding.noop();
  const t3 = performance.now();
  if (r >= 20) {
    enq.push(((t1 - t0) / count) * 1e6);
    total.push(((t2 - t0) / count) * 1e6);
    bare.push(((t3 - t2) / count) * 1e6);
  }
}
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
console.log(JSON.stringify({ enqueueNs: med(enq), endToEndNs: med(total), bareNs: med(bare), passesNs: enq }));
