// The embedding's backward (the index_select_bwd kernel alone: dx [V, D] from g [n, D] and n int32 token ids) at
// the GPT's shapes: V = 256 (characters/bytes) and 8192 (a BPE vocabulary), D = 128 and 384, n = B*T = 4096 and
// 16384 tokens. Each case: 5 warm-up samples, then the median (and the minimum: the
// figure least disturbed on a shared machine) of 15 timed ones, each the mean of 10 calls.
// Usage: npx tsc -p tsconfig.json && node bench/embedding.js [threads]
//   (TENSILE_ADDON=path/to/tensile.node node bench/embedding.js: another build, e.g. the one before a change)
import * as T from '../dist/index.js';
import { launch } from '../dist/tensor/tensor.js';

const threads = process.argv[2] === undefined ? T.getNumThreads() : Number(process.argv[2]);
T.setNumThreads(threads);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const rows = [];
for (const V of [256, 8192]) {
  for (const D of [128, 384]) {
    for (const n of [4096, 16384]) {
      const g = T.randn([n, D]);
      const idx = T.randint(0, V, [n]);
      // one sample: 10 calls queued back to back, then a wait for the last; the time per call (so that the worker's
      // wake-up and the read, ~ms on a loaded machine, are spread over ten kernels)
      const once = async () => {
        const t0 = process.hrtime.bigint();
        const outs = [];
        for (let r = 0; r < 10; r++) {
          outs.push(launch('index_select_bwd', 'float32', [{ t: g, shape: [1, n, D], strides: [n * D, D, 1], offset: 0 }, idx],
            [{ shape: [V, D], dtype: 'float32', kernelShape: [1, V, D] }])[0]);
        }
        await outs[9].data();
        const ms = Number(process.hrtime.bigint() - t0) / 1e6 / 10;
        for (const o of outs) o.dispose();
        return ms;
      };
      for (let i = 0; i < 5; i++) await once();
      const t = [];
      for (let i = 0; i < 15; i++) t.push(await once());
      const ms = median(t);
      rows.push({ V, D, n, ms: +ms.toFixed(3), minMs: +Math.min(...t).toFixed(3), GBps: +(((n * D + V * D) * 4) / ms / 1e6).toFixed(2) });
      g.dispose();
      idx.dispose();
    }
  }
}
console.log(JSON.stringify({ bench: 'embedding_bwd', isa: T.isa(), threads, addon: T.addon().kind, rows }));
