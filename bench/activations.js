// float32 activations on [16, 128, 512] (1M elements), forward and forward + backward, beside ReLU moving the same
// bytes (the memory-bandwidth peer, same run): medians of 15 after 3 warm-ups (of a second round), and each one's ratio to ReLU's.
// Usage: node bench/activations.js [path of dist/index.js] (default ../dist)
// (GELU is exact; the others as PyTorch's defaults: softplus with beta 1 and threshold 20; log of |x| + 1e-3.)
const T = await import(process.argv[2] ?? new URL('../dist/index.js', import.meta.url).href);
const x = T.randn([16, 128, 512]).mul(4), dy = T.randn([16, 128, 512]);
const xr = x.clone().requiresGrad_();
const xpos = x.abs().add(1e-3).detach().requiresGrad_();  // log's input
const acts = {
  relu: (t) => t.relu(), gelu: (t) => T.F.gelu(t), sigmoid: (t) => t.sigmoid(), tanh: (t) => t.tanh(),
  silu: (t) => t.silu(), softplus: (t) => t.softplus(), log: (t) => t.log(),
};
async function median(f) {
  for (let i = 0; i < 3; i++) await f().data();
  const ts = [];
  for (let r = 0; r < 15; r++) { const t0 = performance.now(); await f().data(); ts.push(performance.now() - t0); }
  return ts.sort((a, b) => a - b)[7];
}
// Two rounds over the list, the second reported: the first op measured was slower than the same op measured again
// later (2x for ReLU), whatever ran first.
let rows = [];
for (let round = 0; round < 2; round++) {
  rows = [];
  for (const [name, f] of Object.entries(acts)) {
    const [xin, xg] = name === 'log' ? [xpos.detach(), xpos] : [x, xr];
    const fwd = await median(() => f(xin));
    const both = await median(() => { xg.grad = null; f(xg).backward(dy); return xg.grad; });
    rows.push({ name, fwd, both });
  }
}
const relu = rows[0];
console.log('| op | fwd ms | fwd + bwd ms | fwd / relu | fwd + bwd / relu |\n|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.name} | ${r.fwd.toFixed(2)} | ${r.both.toFixed(2)} | ${(r.fwd / relu.fwd).toFixed(2)} | ${(r.both / relu.both).toFixed(2)} |`);
