// float32 exp and last-dim softmax (the vectorised exp of native/cpu/vexp.h) against numpy on the same shapes, in one
// sitting: `node bench/exp.js` (needs dist/ and python3 with numpy). Prints one JSON line per round: [ours, numpy] ms,
// medians of 5 after one warm-up. numpy runs on one thread, ours on the addon's threads.
import * as T from '../dist/index.js';
import { execFileSync } from 'node:child_process';
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
async function ours(shape, f) { const x = T.randn(shape); await T.sync(); const s = []; for (let i = 0; i < 6; i++) { const t0 = performance.now(); const y = f(x); await T.sync(); s.push(performance.now() - t0); y.dispose(); } return med(s.slice(1)); }
const py = `
import numpy as np, time, sys
def med(v): v=sorted(v); return v[len(v)//2]
def t(shape, f):
    x = np.random.randn(*shape).astype(np.float32); s=[]
    for i in range(6):
        t0=time.perf_counter(); f(x); s.append(time.perf_counter()-t0)
    return med(s[1:])*1e3
def sm(x):
    e = np.exp(x - x.max(-1, keepdims=True)); return e / e.sum(-1, keepdims=True)
print(t([16<<20], np.exp), t([4,8,512,512], sm), t([1,4,2048,2048], sm))`;
for (let r = 0; r < 3; r++) {
  const e = await ours([16 << 20], (x) => x.exp());
  const s1 = await ours([4, 8, 512, 512], (x) => x.softmax(-1));
  const s2 = await ours([1, 4, 2048, 2048], (x) => x.softmax(-1));
  const [ne, ns1, ns2] = execFileSync('python3', ['-c', py], { encoding: 'utf8' }).trim().split(' ').map(Number);
  console.log(JSON.stringify({ expMs: [e, ne], softmax512Ms: [s1, ns1], softmax2048Ms: [s2, ns2] }));
}
