import { describe, it, expect } from 'vitest';
import { tensor, zeros, adamStep, sgdStep, ShapeError } from '../../lib/index.js';
import { availableIsas, withIsa, randArray, expectClose, f64 } from '../helpers.js';

// Plain references written from the algorithm boxes of torch.optim.Adam / AdamW / SGD, in float64.
function refAdam(p: Float64Array, grads: Float64Array[], o: { lr: number; b1: number; b2: number; eps: number; wd: number; ams: boolean; decoupled: boolean }) {
  const m = new Float64Array(p.length), v = new Float64Array(p.length), vmax = new Float64Array(p.length);
  grads.forEach((g0, t0) => {
    const t = t0 + 1;
    for (let i = 0; i < p.length; i++) {
      let g = g0[i]!;
      if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
      else g += o.wd * p[i]!;
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g * g;
      const mh = m[i]! / (1 - o.b1 ** t);
      let vv = v[i]!;
      if (o.ams) { vmax[i] = Math.max(vmax[i]!, vv); vv = vmax[i]!; }
      const vh = vv / (1 - o.b2 ** t);
      p[i] -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
    }
  });
  return p;
}
function refSgd(p: Float64Array, grads: Float64Array[], o: { lr: number; mom: number; damp: number; wd: number; nesterov: boolean }) {
  const buf = new Float64Array(p.length);
  grads.forEach((g0, t) => {
    for (let i = 0; i < p.length; i++) {
      let g = g0[i]! + o.wd * p[i]!;
      if (o.mom !== 0) {
        buf[i] = t === 0 ? g : o.mom * buf[i]! + (1 - o.damp) * g;
        g = o.nesterov ? g + o.mom * buf[i]! : buf[i]!;
      }
      p[i] -= o.lr * g;
    }
  });
  return p;
}

const STEPS = 20;
for (const isa of availableIsas()) {
  describe(`optimizers isa=${isa}`, () => {
    for (const [ams, decoupled, wd] of [[false, false, 0], [false, false, 0.01], [true, false, 0.01], [false, true, 0.05], [true, true, 0.05]] as [boolean, boolean, number][]) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`adam amsgrad=${ams} decoupled=${decoupled} weightDecay=${wd} ${dtype}, ${STEPS} steps on 2 tensors`, withIsa(isa, async () => {
          const sizes = [70001, 33];
          const init = sizes.map((n, k) => randArray(n, k + 1));
          const grads = sizes.map((n, k) => Array.from({ length: STEPS }, (_, t) => randArray(n, 100 * k + t)));
          const o = { lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, wd, ams, decoupled };
          const cast = (a: Float64Array) => (dtype === 'float32' ? Float64Array.from(Float32Array.from(a)) : a);
          const params = init.map((a) => tensor(dtype === 'float32' ? Float32Array.from(a) : a, { dtype }));
          const m = sizes.map((n) => zeros([n], { dtype })), v = sizes.map((n) => zeros([n], { dtype })), vm = sizes.map((n) => zeros([n], { dtype }));
          for (let t = 0; t < STEPS; t++) {
            const g = grads.map((gs) => tensor(dtype === 'float32' ? Float32Array.from(gs[t]!) : gs[t]!, { dtype }));
            adamStep(params, g, m, v, ams ? vm : null, { lr: o.lr, beta1: o.b1, beta2: o.b2, eps: o.eps, weightDecay: wd, step: t + 1, amsgrad: ams, decoupled });
          }
          for (let k = 0; k < sizes.length; k++) {
            const ref = refAdam(cast(init[k]!).slice(), grads[k]!.map(cast), o);
            expectClose(await f64(params[k]!), ref, dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-14 }, `param ${k}`);
          }
        }));
      }
    }
    for (const [mom, damp, nesterov, wd] of [[0, 0, false, 0], [0.9, 0, false, 1e-4], [0.9, 0.1, false, 0], [0.9, 0, true, 1e-3]] as [number, number, boolean, number][]) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`sgd momentum=${mom} dampening=${damp} nesterov=${nesterov} weightDecay=${wd} ${dtype}, ${STEPS} steps on 2 tensors`, withIsa(isa, async () => {
          const sizes = [70001, 33];
          const cast = (a: Float64Array) => (dtype === 'float32' ? Float64Array.from(Float32Array.from(a)) : a);
          const make = (a: Float64Array) => tensor(dtype === 'float32' ? Float32Array.from(a) : a, { dtype });
          const init = sizes.map((n, k) => randArray(n, k + 3));
          const grads = sizes.map((n, k) => Array.from({ length: STEPS }, (_, t) => randArray(n, 50 + 100 * k + t)));
          const params = init.map(make);
          const bufs = sizes.map((n) => zeros([n], { dtype }));
          for (let t = 0; t < STEPS; t++) {
            sgdStep(params, grads.map((gs) => make(gs[t]!)), bufs, { lr: 0.05, momentum: mom, dampening: damp, weightDecay: wd, nesterov, firstStep: t === 0 });
          }
          for (let k = 0; k < sizes.length; k++) {
            const ref = refSgd(cast(init[k]!).slice(), grads[k]!.map(cast), { lr: 0.05, mom, damp, wd, nesterov });
            expectClose(await f64(params[k]!), ref, dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-14 }, `param ${k}`);
          }
        }));
      }
    }
  });
}

describe('optimizer kernel errors', () => {
  it('mismatched lists', () => {
    const p = [zeros([3])];
    expect(() => adamStep(p, [zeros([4])], [zeros([3])], [zeros([3])], null, { lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, step: 1 })).toThrow(ShapeError);
    expect(() => sgdStep(p, [], [], { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true })).toThrow('sgd_: expected 1 grads, got 0');
  });
});
