// LayerNorm forward + backward, fused (F.layerNorm) against the same computation composed of mean/sub/mul/rsqrt, float32.
// Usage: npm run build && node bench/layernorm.js
import * as T from '../dist/index.js';
const { F } = T;
function composed(x, ns, w, b, eps = 1e-5) {
  const k = ns.length, axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const mean = x.mean(axes, true), xc = x.sub(mean), v = xc.mul(xc).mean(axes, true);
  return xc.mul(v.add(eps).rsqrt()).mul(w).add(b);
}
for (const [M, D] of [[2048, 128], [16384, 1024]]) {
  T.manualSeed(0);
  const x = T.randn([M, D]).requiresGrad_(), w = T.ones([D]).requiresGrad_(), b = T.zeros([D]).requiresGrad_(), dy = T.randn([M, D]);
  for (const [name, f] of [['fused', (a) => F.layerNorm(a, [D], w, b)], ['composed', (a) => composed(a, [D], w, b)]]) {
    const once = async () => { x.grad = null; w.grad = null; b.grad = null; f(x).backward(dy); await w.grad.sum().item(); };
    for (let i = 0; i < 3; i++) await once();
    const n = M > 4096 ? 10 : 50, t0 = performance.now();
    for (let i = 0; i < n; i++) await once();
    console.log(`[${M},${D}] ${name}: ${((performance.now() - t0) / n).toFixed(3)} ms fwd+bwd`);
  }
}
