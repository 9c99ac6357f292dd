// Fused scaled-dot-product attention (F.scaledDotProductAttention: the flash-attention kernels of
// native/cpu/attention.cpp) against the same computation composed in tensile itself (matmul, scale, maskedFill of
// the causal mask, softmax, matmul: the L x S matrices stored), for L = S = 128, 512, 2048 and head dim 64, causal
// and not, in float32. Per case and path: the forward time (under noGrad), the forward + backward time (sum() of the
// output, gradients of q, k and v), and the native allocator's high-water mark over a forward + backward.
// Run by run.js in a process of its own, or alone: `node bench/attention.js [--samples N]` (after
// `npx tsc -p tsconfig.json`). Prints one JSON line.
//
// Times: one warm-up of each path, then N samples (default 5) alternating fused and composed, each ending with a sync
// (the ops have run); the medians. Memory: the test's measure (test/ops/attention.test.ts): after emptyCache(),
// the bytes the CPU allocator holds afterwards (live + pooled) less those live before. Freed blocks stay pooled, so
// that counts every block the run ever held at once or in turn: an upper bound of the peak, which the composed path's
// L x S matrices reach. The pool cap is lifted (TENSILE_POOL_MB, read once at the first allocation) so that no trim
// in the middle hides blocks.
process.env.TENSILE_POOL_MB ??= '16384';
const T = await import('../dist/index.js');

const samples = Number(process.argv[process.argv.indexOf('--samples') + 1]) || 5;
const E = 64;
// [batch, heads, L]: batch * heads chosen so that a case takes ~0.1-1 s on two cores
const CASES = [[32, 8, 128], [4, 8, 512], [1, 4, 2048]];
const med = (v) => [...v].sort((x, y) => x - y)[v.length >> 1];
const MiB = 2 ** 20;

function composed(q, k, v, future) {
  let s = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(E));
  if (future) s = s.maskedFill(future, -Infinity);
  return s.softmax(-1).matmul(v);
}
const fused = (q, k, v, future) => T.F.scaledDotProductAttention(q, k, v, { isCausal: future !== null });

async function time(fn) {
  const t0 = performance.now();
  T.scope(fn);
  await T.sync();
  return (performance.now() - t0) / 1e3;
}
async function highWater(fn) {
  await T.sync();
  T.emptyCache();
  const before = T.memory().cpu;
  T.scope(fn);
  await T.sync();
  const after = T.memory().cpu;
  return after.bytes + after.pooledBytes - before.bytes;
}

const results = [];
for (const [B, H, L] of CASES) {
  const mk = () => T.randn([B, H, L, E]).requiresGrad_();
  const q = mk(), k = mk(), v = mk();
  for (const causal of [false, true]) {
    const future = causal ? T.triu(T.ones([L, L], { dtype: 'uint8' }), 1) : null;
    const fwd = (f) => () => T.noGrad(() => f(q, k, v, future));
    const fwdBwd = (f) => () => {
      f(q, k, v, future).sum().backward();
      for (const t of [q, k, v]) { t.grad.dispose(); t.grad = null; }
    };
    const paths = { fused, composed };
    const r = { B, H, L, S: L, E, causal, samples };
    for (const [name, f] of Object.entries(paths)) {
      await time(fwd(f));
      await time(fwdBwd(f));
    }
    const t = { fused: { fwd: [], fwdBwd: [] }, composed: { fwd: [], fwdBwd: [] } };
    for (let i = 0; i < samples; i++) {
      for (const [name, f] of Object.entries(paths)) {
        t[name].fwd.push(await time(fwd(f)));
        t[name].fwdBwd.push(await time(fwdBwd(f)));
      }
    }
    for (const name of Object.keys(paths)) {
      r[name] = {
        fwdMs: med(t[name].fwd) * 1e3, fwdBwdMs: med(t[name].fwdBwd) * 1e3,
        fwdAllMs: t[name].fwd.map((s) => s * 1e3), fwdBwdAllMs: t[name].fwdBwd.map((s) => s * 1e3),
        peakMiB: (await highWater(fwdBwd(paths[name]))) / MiB,
      };
    }
    // the two paths agree (the figures compare the same computation)
    const d = T.noGrad(() => fused(q, k, v, future).sub(composed(q, k, v, future)).abs().max());
    r.maxAbsDiff = await d.item();
    results.push(r);
    future?.dispose();
    console.error(`attention L=S=${L} B=${B} H=${H} causal=${causal}: fwd fused ${r.fused.fwdMs.toFixed(1)} ms, composed ${r.composed.fwdMs.toFixed(1)} ms; ` +
      `fwd+bwd fused ${r.fused.fwdBwdMs.toFixed(1)} ms, composed ${r.composed.fwdBwdMs.toFixed(1)} ms; peak fused ${r.fused.peakMiB.toFixed(1)} MiB, ` +
      `composed ${r.composed.peakMiB.toFixed(1)} MiB; max |diff| ${r.maxAbsDiff.toExponential(1)}`);
  }
  for (const t of [q, k, v]) t.dispose();
}
console.log(JSON.stringify({ isa: T.isa(), threads: T.getNumThreads(), cases: results }));
