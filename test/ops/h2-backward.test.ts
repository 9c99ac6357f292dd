// The fused backward kernels of the activations (relu_bwd ... tanh_bwd) and index_select_bwd, on every instruction
// set in both dtypes, against derivatives written out in float64 (the gradchecks run them in float64 only, at the
// best set). Shapes: a row with a vector tail, and one above the elementwise kernels' parallel threshold.
import { describe, it, expect } from 'vitest';
import { tensor, indexSelect } from '../../lib/index.js';
import type { Tensor } from '../../lib/index.js';
import { availableIsas, withIsa, randTensor, expectClose, f64, numel } from '../helpers.js';

// erf by its Maclaurin series (|x| <= 3 here: 60 terms, cancellation error about 1e-12), independent of the kernel
function erf(x: number): number {
  let term = x, s = x;
  for (let n = 1; n < 60; n++) {
    term *= (-x * x) / n;
    s += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}
const sig = (x: number) => 1 / (1 + Math.exp(-x));
// activation, its derivative at x (PyTorch's: relu' (0) = 0, leaky_relu and elu take the x > 0 branch only for x > 0)
const ACTS: [string, (t: Tensor) => Tensor, (x: number) => number][] = [
  ['relu', (t) => t.relu(), (x) => (x > 0 ? 1 : 0)],
  ['leaky_relu 0.2', (t) => t.leakyRelu(0.2), (x) => (x > 0 ? 1 : 0.2)],
  ['elu 1.5', (t) => t.elu(1.5), (x) => (x > 0 ? 1 : 1.5 * Math.exp(x))],
  ['gelu', (t) => t.gelu(), (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI)],
  ['silu', (t) => t.silu(), (x) => sig(x) * (1 + x * (1 - sig(x)))],
  ['sigmoid', (t) => t.sigmoid(), (x) => sig(x) * (1 - sig(x))],
  ['tanh', (t) => t.tanh(), (x) => 1 - Math.tanh(x) ** 2],
  ['softplus', (t) => t.softplus(), sig],
];
const SHAPES = [[3, 37], [70001]];
const TOLS = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-11 } };

for (const isa of availableIsas()) {
  describe(`backward kernels isa=${isa}`, () => {
    for (const [name, f, d] of ACTS) for (const shape of SHAPES) for (const dtype of ['float32', 'float64'] as const) {
      it(`${name} backward x=[${shape}] ${dtype}`, withIsa(isa, async () => {
        const xv = randTensor(shape, numel(shape) + name.length, dtype, -3, 3)[1];
        if (name === 'relu' || name.startsWith('leaky')) xv[0] = 0;  // the kink: the x <= 0 branch, as in PyTorch
        const xt = tensor(dtype === 'float32' ? Float32Array.from(xv) : xv, { shape, dtype }).requiresGrad_();
        const [g, gv] = randTensor(shape, 7, dtype);
        f(xt).backward(g);
        expect(xt.grad!.dtype).toBe(dtype);
        expectClose(await f64(xt.grad!), xv.map((v, i) => gv[i]! * d(v)), TOLS[dtype], `${name}'`);
      }));
    }
    for (const dtype of ['float32', 'float64'] as const) {
      it(`index_select backward x=[4,5,6] dim=1 indices [3,0,3,1,4,3] and dim=0 over 70001 rows ${dtype}`, withIsa(isa, async () => {
        for (const [shape, dim, idx] of [[[4, 5, 6], 1, [3, 0, 3, 1, 4, 3]], [[70001, 2], 0, Array.from({ length: 50000 }, (_, i) => (i * 7919) % 70001)]] as [number[], number, number[]][]) {
          const [x] = randTensor(shape, 3, dtype);
          x.requiresGrad_();
          const y = indexSelect(x, dim, tensor(Int32Array.from(idx)));
          const [g, gv] = randTensor(y.shape as number[], 4, dtype);
          y.backward(g);
          // scatter-add of g along dim, repeated indices adding up
          const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1), inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
          const D = shape[dim]!, n = idx.length, ref = new Float64Array(numel(shape));
          for (let o = 0; o < outer; o++) for (let j = 0; j < n; j++) for (let k = 0; k < inner; k++) ref[(o * D + idx[j]!) * inner + k] += gv[(o * n + j) * inner + k]!;
          expectClose(await f64(x.grad!), ref, TOLS[dtype], `index_select dim=${dim}`);
        }
      }));
    }
  });
}
