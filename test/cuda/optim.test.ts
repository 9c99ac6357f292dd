// native/cuda/optim.cu against the CPU backend: fused adam_ (Adam, AdamW, amsgrad, maximize, weight decay) and sgd_
// (momentum, dampening, nesterov, first step, maximize, weight decay) over lists of tensors of odd sizes (one chunk,
// several chunks, a partial last chunk, empty), more tensors than one launch takes (64) and than one call takes (128),
// and parameters at unaligned offsets (the scalar path), float32 and float64; then through optim.Adam / optim.SGD
// on a parameter that lives on the device. Runs under TENSILE_EMULATE_CUDA=1 (or a GPU); skipped without CUDA.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, zeros, cuda, adamStep, sgdStep, optim, DeviceError } from '../../lib/index.js';
import { randArray, expectClose } from '../helpers.js';

type DT = 'float32' | 'float64';
// The CPU's AVX2/AVX-512 builds contract a*b+c into FMAs as g++ chooses, nvcc as it chooses, the emulated build not
// at all: a few ulps of the terms, which cancel in momentum buffers (values near 0 made of terms near 1)
const TOLS = { float32: { rtol: 2e-6, atol: 4e-6 }, float64: { rtol: 1e-13, atol: 1e-14 } };
const SIZES = [1, 3, 17, 1000, 16383, 16384, 16385, 40001, 0, 5];

let seed = 100;
function arr(n: number, dtype: DT, lo = -1, hi = 1): Float64Array | Float32Array {
  const v = randArray(n, seed++, lo, hi);
  return dtype === 'float32' ? Float32Array.from(v) : v;
}
// a tensor of n values on `device`; `offset` > 0 makes it a view that starts `offset` elements into its storage
// (unaligned: the kernel's scalar path)
function make(values: Float64Array | Float32Array, dtype: DT, offset: number, device: 'cpu' | 'cuda'): Tensor {
  if (offset === 0) return tensor(values, { shape: [values.length], dtype }).to(device);
  const big = new (dtype === 'float32' ? Float32Array : Float64Array)(values.length + offset);
  big.set(values, offset);
  const t = tensor(big, { shape: [big.length], dtype }).to(device).slice(0, offset);
  expect(t.offset).toBe(offset);
  return t;
}
async function vals(t: Tensor): Promise<number[]> {
  return Array.from(await t.cpu().data() as ArrayLike<number>);
}
async function close(c: Tensor[], h: Tensor[], dtype: DT, what: string) {
  expect(c.length).toBe(h.length);
  for (let i = 0; i < c.length; i++) {
    expect(c[i]!.device, what).toBe('cuda:0');
    expectClose(await vals(c[i]!), await vals(h[i]!), TOLS[dtype], `${what} [${i}]`);
  }
}

// P tensors of the given sizes; every third parameter (and its first state) at an unaligned offset
function lists(sizes: number[], dtype: DT, nState: number) {
  const host: Tensor[][] = [], dev: Tensor[][] = [];
  for (let k = 0; k < 1 + nState; k++) {
    host.push([]);
    dev.push([]);
    sizes.forEach((n, i) => {
      const off = k <= 1 && i % 3 === 1 ? 1 : 0;
      const v = k === 0 ? arr(n, dtype) : k === 3 ? arr(n, dtype, 0, 0.01) : arr(n, dtype, 0, k === 2 ? 0.5 : 0.1);
      host[k]!.push(make(v, dtype, off, 'cpu'));
      dev[k]!.push(make(v, dtype, off, 'cuda'));
    });
  }
  return { host, dev };
}
const grads = (sizes: number[], dtype: DT) => {
  const g = sizes.map((n) => arr(n, dtype, -2, 2));
  return [g.map((v) => tensor(v, { shape: [v.length], dtype })), g.map((v) => tensor(v, { shape: [v.length], dtype }).to('cuda'))];
};

describe.skipIf(!cuda.isAvailable())('cuda optim', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const o of [
      { amsgrad: false, decoupled: false, maximize: false, weightDecay: 0 },
      { amsgrad: false, decoupled: false, maximize: false, weightDecay: 0.01 },
      { amsgrad: true, decoupled: true, maximize: false, weightDecay: 0.05 },
      { amsgrad: true, decoupled: false, maximize: true, weightDecay: 0.01 },
    ]) {
      it(`adam_ ${JSON.stringify(o)} ${dtype}`, async () => {
        for (const sizes of [SIZES, Array.from({ length: 70 }, (_, i) => 1 + ((i * 37) % 300)), Array.from({ length: 131 }, (_, i) => 1 + (i % 9))]) {
          const P = sizes.length;
          const { host, dev } = lists(sizes, dtype, o.amsgrad ? 3 : 2);
          // m and v start at zero on step 1 in practice; here they start random (any state)
          for (let step = 1; step <= 3; step++) {
            const [gh, gc] = grads(sizes, dtype);
            const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, step, ...o };
            adamStep(host[0]!, gh!, host[1]!, host[2]!, o.amsgrad ? host[3]! : null, hp);
            adamStep(dev[0]!, gc!, dev[1]!, dev[2]!, o.amsgrad ? dev[3]! : null, hp);
          }
          await close(dev[0]!, host[0]!, dtype, `params P=${P}`);
          await close(dev[1]!, host[1]!, dtype, `m P=${P}`);
          await close(dev[2]!, host[2]!, dtype, `v P=${P}`);
          if (o.amsgrad) await close(dev[3]!, host[3]!, dtype, `vmax P=${P}`);
        }
      });
    }

    for (const o of [
      { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
      { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01, maximize: true },
      { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
      { momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0.01, maximize: false },
      { momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.001, maximize: true },
    ]) {
      it(`sgd_ ${JSON.stringify(o)} ${dtype}`, async () => {
        for (const sizes of [SIZES, Array.from({ length: 70 }, (_, i) => 1 + ((i * 37) % 300)), Array.from({ length: 131 }, (_, i) => 1 + (i % 9))]) {
          const P = sizes.length;
          const { host, dev } = lists(sizes, dtype, 1);
          for (let step = 1; step <= 3; step++) {
            const [gh, gc] = grads(sizes, dtype);
            const hp = { lr: 0.05, firstStep: step === 1, ...o };
            sgdStep(host[0]!, gh!, o.momentum !== 0 ? host[1]! : [], hp);
            sgdStep(dev[0]!, gc!, o.momentum !== 0 ? dev[1]! : [], hp);
          }
          await close(dev[0]!, host[0]!, dtype, `params P=${P}`);
          if (o.momentum !== 0) await close(dev[1]!, host[1]!, dtype, `bufs P=${P}`);
        }
      });
    }

    it(`optim.Adam and optim.SGD on device parameters ${dtype}`, async (ctx) => {
      // the optimizers create their state with zeros on the device (fill) and add into grads: other files' kernels
      for (const mk of [
        (p: Tensor) => new optim.Adam([p], { lr: 0.01, weightDecay: 0.01, amsgrad: true }),
        (p: Tensor) => new optim.AdamW([p], { lr: 0.01 }),
        (p: Tensor) => new optim.SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }),
      ]) {
        const init = arr(333, dtype);
        const ph = tensor(init, { dtype }).requiresGrad_(), pc = tensor(init, { dtype }).to('cuda').requiresGrad_();
        const oh = mk(ph), oc = mk(pc);
        for (let t = 0; t < 4; t++) {
          const g = arr(333, dtype);
          ph.grad = tensor(g, { dtype });
          pc.grad = tensor(g, { dtype }).to('cuda');
          oh.step();
          oc.step();
        }
        expect(pc.device).toBe('cuda:0');
        expectClose(await vals(pc), await vals(ph), TOLS[dtype], 'param');
      }
    });
  }
});
