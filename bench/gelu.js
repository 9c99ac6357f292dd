// GELU (exact, float32, [16,128,512]) forward and forward + backward beside ReLU moving the same bytes (the memory
// bandwidth peer), medians of 15 after 3 warm-ups. Usage: node bench/gelu.js [path of dist/index.js] (default ../dist)
const T = await import(process.argv[2] ?? new URL('../dist/index.js', import.meta.url).href);
const x = T.randn([16, 128, 512]), dy = T.randn([16, 128, 512]);
const xr = x.clone().requiresGrad_();
const cases = {
  'gelu fwd': () => T.F.gelu(x),
  'gelu fwd+bwd': () => { xr.grad = null; T.F.gelu(xr).backward(dy); return xr.grad; },
  'relu fwd (the same bytes moved)': () => x.relu(),
  'relu fwd+bwd': () => { xr.grad = null; xr.relu().backward(dy); return xr.grad; },
};
for (const [k, f] of Object.entries(cases)) {
  for (let i = 0; i < 3; i++) await f().data();
  const ts = [];
  for (let r = 0; r < 15; r++) { const t0 = performance.now(); await f().data(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log(k, ts[7].toFixed(2), 'ms');
}
