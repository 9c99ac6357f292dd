// Gradient checks the op-by-op gradchecks leave out: casts between float32 and float64 (the gradient goes back in
// the input's dtype), and average pooling with its default countIncludePad: true.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, gradcheck, avgPool2d } from '../../lib/index.js';
import { randArray, f64, expectClose } from '../helpers.js';

let seed = 500;
const x64 = (shape: number[], lo = -1, hi = 1) => tensor(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), { shape, dtype: 'float64' }).requiresGrad_();
async function check(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tol = {}) {
  const r = await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4, ...tol });
  expect(r.worst, `worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
}

describe('gradcheck: casts between float32 and float64', () => {
  it('float64 -> float32 -> float64 inside a product, x=[3,5] w=[5]', async () => {
    // a float32 stretch: central differences of a quadratic are exact, so a wide step (1e-2) keeps float32 rounding
    // (about 6e-8 of each value) below 1e-5 of the slope
    await check((x, w) => x.cast('float32').mul(w.cast('float32')).mul(x.cast('float32')).cast('float64').add(x.mul(w)),
      [x64([3, 5]), x64([5])], { eps: 1e-2, atol: 1e-4, rtol: 1e-4 });
  });
  it('the gradient reaches each leaf in its own dtype and values: float32 leaf through float64, float64 leaf through float32', async () => {
    const av = randArray(6, 1), bv = randArray(6, 2);
    const a = tensor(Float32Array.from(av), { shape: [2, 3] }).requiresGrad_();
    const b = tensor(bv, { shape: [2, 3], dtype: 'float64' }).requiresGrad_();
    const g = randArray(6, 3);
    // y = (a as float64) * b + 3 * (b as float32 as float64): dy/da = b, dy/db = a + 3
    const y = a.cast('float64').mul(b).add(b.cast('float32').cast('float64').mul(3));
    expect(y.dtype).toBe('float64');
    y.backward(tensor(g, { shape: [2, 3], dtype: 'float64' }));
    expect(a.grad!.dtype).toBe('float32');
    expect(b.grad!.dtype).toBe('float64');
    const a32 = Float64Array.from(Float32Array.from(av));
    expect(Array.from(await a.grad!.data())).toEqual(Array.from(Float32Array.from(g.map((v, i) => v * bv[i]!))));
    expectClose(await f64(b.grad!), g.map((v, i) => v * (a32[i]! + 3)), { rtol: 1e-7, atol: 1e-7 }, 'db');  // 3g in float32
  });
});

describe('gradcheck: average pooling with the default countIncludePad (true)', () => {
  for (const [name, o] of [
    ['3x3 stride 2 padding 1', { kernelSize: 3, stride: 2, padding: 1 }],
    ['3x3 stride 2 padding 1 ceilMode', { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }],
    ['2x3 stride 1 padding [1,1]', { kernelSize: [2, 3] as [number, number], stride: 1, padding: [1, 1] as [number, number] }],
  ] as const) {
    it(`avg_pool2d ${name} x=[1,2,7,6]`, async () => {
      const x = x64([1, 2, 7, 6]);
      // the default divides by the whole window, padding included (PyTorch's countIncludePad: true)
      const d = await f64(avgPool2d(x.detach(), o));
      expect(Array.from(d)).toEqual(Array.from(await f64(avgPool2d(x.detach(), { ...o, countIncludePad: true }))));
      const corner = (await f64(avgPool2d(x.detach(), { ...o, countIncludePad: false })))[0]!;
      expect(Math.abs(d[0]! - corner)).toBeGreaterThan(1e-3);  // the corner window holds padding
      await check((t) => avgPool2d(t, o), [x]);
    });
  }
});
