// F.crossEntropy (float32, mean reduction) forward + backward of [N, C] logits, medians of 11 after 3 warm-ups; the
// step ends with a read of the gradient's sum (so that the figure is the kernels', not a copy of the gradient to JS).
// The peer is the same loss as F.nllLoss(x.logSoftmax(-1), y) (two ops each way) in the same run.
// Usage: node bench/cross_entropy.js [path of dist/index.js] (default ../dist)
const T = await import(process.argv[2] ?? new URL('../dist/index.js', import.meta.url).href);
async function median(f) {
  for (let i = 0; i < 3; i++) await f();
  const ts = [];
  for (let r = 0; r < 11; r++) { const t0 = performance.now(); await f(); ts.push(performance.now() - t0); }
  return ts.sort((a, b) => a - b)[5];
}
console.log('| [N, C] | fused ms | log_softmax + nll ms | composed / fused |\n|---|---|---|---|');
for (const [N, C] of [[2048, 96], [2048, 4096], [256, 50257]]) {
  const x = T.randn([N, C]).requiresGrad_();
  const y = T.tensor(Int32Array.from({ length: N }, (_, i) => (i * 31) % C));
  const step = (loss) => async () => { x.grad = null; loss().backward(); await x.grad.sum().data(); };
  const fused = await median(step(() => T.F.crossEntropy(x, y)));
  const composed = await median(step(() => T.F.nllLoss(x.logSoftmax(-1), y)));
  console.log(`| [${N}, ${C}] | ${fused.toFixed(2)} | ${composed.toFixed(2)} | ${(composed / fused).toFixed(2)} |`);
}
