// matmul on 'cuda' (native/cuda/gemm.cu) against the same op on 'cpu': both tile configurations and their partial
// tiles, strided / transposed / broadcast / misaligned operands as lib/ passes them, the bias + ReLU epilogue,
// split-K (bitwise the same run to run), empty shapes, gradients through autograd. Skipped without a CUDA device
// (run under the emulator with TENSILE_EMULATE_CUDA=1).
import { describe, it, expect } from 'vitest';
import { matmul, tensor, cuda, Tensor, ShapeError, DTypeError } from '../../lib/index.js';
import { hasKernel } from '../../lib/tensor/tensor.js';
import { randTensor, expectClose, f64 } from '../helpers.js';

const DTYPES = ['float32', 'float64'] as const;
type DT = (typeof DTYPES)[number];
const tolFor = (dtype: DT, K: number) =>
  dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 * Math.sqrt(Math.max(K, 1)) } : { rtol: 1e-10, atol: 1e-10 * Math.sqrt(Math.max(K, 1)) };

/** cpu and cuda copies of one random tensor */
function pair(shape: number[], seed: number, dtype: DT): [Tensor, Tensor] {
  const [t] = randTensor(shape, seed, dtype);
  return [t, t.to('cuda')];
}
async function same(gpu: Tensor, cpu: Tensor, tol: { rtol: number; atol: number }, what: string): Promise<void> {
  expect(gpu.device).not.toBe('cpu');
  expect(gpu.shape, `${what} shape`).toEqual(cpu.shape);
  expectClose(await f64(gpu.cpu()), await f64(cpu), tol, what);
}

describe.skipIf(!cuda.isAvailable())('cuda matmul', () => {
  // [M, K, N]: one small tile, partial tiles of both configurations, several blocks, a long K over a small C
  // (split-K), K = 1, a row or a column; [1536, 20, 1420] is the first with enough 128x128 tiles for the big one
  const SHAPES: [number, number, number][] = [
    [1, 1, 1], [5, 3, 7], [33, 17, 65], [65, 9, 64], [130, 40, 129], [1, 70, 300], [300, 70, 1], [200, 1, 31],
    [8, 1100, 6], [40, 2100, 70], [1536, 20, 1420],
  ];
  for (const [M, K, N] of SHAPES)
    for (const dtype of DTYPES) {
      it(`[${M},${K}] @ [${K},${N}] ${dtype}: plain and through transposed strides`, async () => {
        const [a, ag] = pair([M, K], M * 31 + K, dtype);
        const [b, bg] = pair([K, N], N * 17 + K, dtype);
        const tol = tolFor(dtype, K);
        await same(matmul(ag, bg), matmul(a, b), tol, 'plain');
        // A^T and B^T storage (unit stride along M, along N's other dim): x @ W^T, the linear layer's case
        const at = a.t().contiguous(), bt = b.t().contiguous();
        const atg = at.to('cuda'), btg = bt.to('cuda');
        await same(matmul(atg.t(), btg.t()), matmul(at.t(), bt.t()), tol, 'transposed');
        await same(matmul(ag, btg.t()), matmul(a, bt.t()), tol, 'B transposed');
      });
    }

  for (const dtype of DTYPES) {
    it(`bias + ReLU epilogue, with and without split-K ${dtype}`, async () => {
      for (const [M, K, N] of [[33, 65, 17], [20, 1500, 9], [130, 7, 131]] as const) {
        const [a, ag] = pair([M, K], 1, dtype);
        const [b, bg] = pair([K, N], 2, dtype);
        const [bias, biasg] = pair([N], 3, dtype);
        const tol = tolFor(dtype, K);
        await same(matmul(ag, bg, { bias: biasg }), matmul(a, b, { bias }), tol, `bias ${M}x${K}x${N}`);
        await same(matmul(ag, bg, { relu: true }), matmul(a, b, { relu: true }), tol, `relu ${M}x${K}x${N}`);
        const y = matmul(ag, bg, { bias: biasg, relu: true });
        await same(y, matmul(a, b, { bias, relu: true }), tol, `bias+relu ${M}x${K}x${N}`);
        expect(Array.from(await f64(y.cpu())).some((v) => v === 0)).toBe(true);  // the ReLU did clamp
      }
    });

    it(`batched, broadcast batch dims (stride 0), 1-D operands ${dtype}`, async () => {
      const [a, ag] = pair([1, 5, 7], 4, dtype);
      const [b, bg] = pair([3, 7, 4], 5, dtype);
      const tol = tolFor(dtype, 7);
      await same(matmul(ag, bg), matmul(a, b), tol, '[1,5,7] @ [3,7,4]');
      const [w, wg] = pair([2, 3, 5, 7], 25, dtype);
      await same(matmul(wg, bg.slice(0, 1, 2)), matmul(w, b.slice(0, 1, 2)), tol, '[2,3,5,7] @ [1,7,4] (an offset view, batch strides 0)');
      const [c, cg] = pair([6, 33, 19], 6, dtype);
      const [d, dg] = pair([6, 19, 35], 7, dtype);
      await same(matmul(cg, dg), matmul(c, d), tolFor(dtype, 19), 'batched');
      await same(matmul(cg, d.transpose(1, 2).contiguous().to('cuda').transpose(1, 2)), matmul(c, d), tolFor(dtype, 19), 'batched, B transposed');
      // one matrix against a batch: its batch stride is 0
      const [e, eg] = pair([33, 19], 8, dtype);
      await same(matmul(eg, dg), matmul(e, d), tolFor(dtype, 19), 'broadcast A');
      await same(matmul(cg, eg.t()), matmul(c, e.t()), tolFor(dtype, 19), 'broadcast B^T');
      const [v, vg] = pair([19], 9, dtype);
      await same(matmul(cg, vg), matmul(c, v), tolFor(dtype, 19), 'matrix @ vector');
      await same(matmul(vg, dg), matmul(v, d), tolFor(dtype, 19), 'vector @ matrix');
      await same(matmul(vg, vg), matmul(v, v), tolFor(dtype, 19), 'vector @ vector');
    });

    // batch dims that do not fold into one stride: lib/ first makes the operands contiguous, a strided copy on the
    // device (elementwise.cu's, which the kernel table shows through its other ops)
    it.skipIf(!hasKernel('add', 'cuda:0', dtype))(`broadcast batch dims that need a copy first ${dtype}`, async () => {
      const [a, ag] = pair([2, 1, 5, 7], 26, dtype);
      const [b, bg] = pair([3, 7, 4], 27, dtype);
      await same(matmul(ag, bg), matmul(a, b), tolFor(dtype, 7), '[2,1,5,7] @ [3,7,4]');
    });

    it(`views with offsets and odd strides (unaligned rows, no vector loads) ${dtype}`, async () => {
      const [a, ag] = pair([41, 38], 10, dtype);
      const [b, bg] = pair([37, 45], 11, dtype);
      // a[1:, 1:] (offset 39 elements, rows 38 apart), b[:, 2:] (offset 2), every other row of b
      const va = a.slice(0, 1).slice(1, 1), vag = ag.slice(0, 1).slice(1, 1);
      const vb = b.slice(1, 2), vbg = bg.slice(1, 2);
      await same(matmul(vag, vbg), matmul(va, vb), tolFor(dtype, 37), 'offset views');
      const [w, wg] = pair([74, 45], 12, dtype);
      const sb = w.slice(0, 0, 74, 2), sbg = wg.slice(0, 0, 74, 2);  // rows 90 apart
      await same(matmul(vag, sbg), matmul(va, sb), tolFor(dtype, 37), 'strided rows');
      await same(matmul(sbg.t(), vag.t()), matmul(sb.t(), va.t()), tolFor(dtype, 37), 'strided, transposed');
      // a broadcast column (expand: stride 0 along K)
      const [col, colg] = pair([41, 1], 13, dtype);
      await same(matmul(colg.expand([41, 37]), vbg), matmul(col.expand([41, 37]), vb), tolFor(dtype, 37), 'expanded A');
    });

    it(`empty shapes: M = 0, N = 0, K = 0 (bias and ReLU only) ${dtype}`, async () => {
      const z = (shape: number[]) => pair(shape, 14, dtype);
      const [a0, a0g] = z([0, 5]), [b0, b0g] = z([5, 3]);
      await same(matmul(a0g, b0g), matmul(a0, b0), tolFor(dtype, 5), 'M = 0');
      const [a1, a1g] = z([4, 5]), [b1, b1g] = z([5, 0]);
      await same(matmul(a1g, b1g), matmul(a1, b1), tolFor(dtype, 5), 'N = 0');
      const [a2, a2g] = z([3, 0]), [b2, b2g] = z([0, 6]);
      const [bias, biasg] = pair([6], 15, dtype);
      await same(matmul(a2g, b2g), matmul(a2, b2), tolFor(dtype, 0), 'K = 0');
      await same(matmul(a2g, b2g, { bias: biasg, relu: true }), matmul(a2, b2, { bias, relu: true }), tolFor(dtype, 0), 'K = 0, bias+relu');
      const [a3, a3g] = z([0, 2, 3]), [b3, b3g] = z([0, 3, 4]);
      await same(matmul(a3g, b3g), matmul(a3, b3), tolFor(dtype, 3), 'no batches');
    });

    it(`split-K and big tiles are bitwise the same run to run ${dtype}`, async () => {
      for (const [M, K, N] of [[12, 3000, 10], [1536, 20, 1420]] as const) {
        const [, ag] = pair([M, K], 16, dtype);
        const [, bg] = pair([K, N], 17, dtype);
        const r1 = await f64(matmul(ag, bg).cpu());
        const r2 = await f64(matmul(ag, bg).cpu());
        expect(r1).toEqual(r2);
      }
    });

    it(`gradients through autograd on cuda match cpu ${dtype}`, async () => {
      const [av] = randTensor([23, 37], 18, dtype);
      const [bv] = randTensor([37, 29], 19, dtype);
      const [gv] = randTensor([23, 29], 20, dtype);
      const run = async (device: 'cpu' | 'cuda') => {
        const a = av.to(device).detach().requiresGrad_(), b = bv.to(device).detach().requiresGrad_();
        matmul(a, b).backward(gv.to(device));
        return [await f64(a.grad!.cpu()), await f64(b.grad!.cpu())];
      };
      const [ga, gb] = await run('cpu');
      const [gag, gbg] = await run('cuda');
      expectClose(gag!, ga!, tolFor(dtype, 29), 'dA');
      expectClose(gbg!, gb!, tolFor(dtype, 23), 'dB');
    });

    it.skipIf(!hasKernel('relu_bwd', 'cuda:0', dtype) || !hasKernel('sum', 'cuda:0', dtype))(`gradients with the fused bias + ReLU on cuda match cpu ${dtype}`, async () => {
      const [av] = randTensor([17, 33], 21, dtype);
      const [bv] = randTensor([33, 13], 22, dtype);
      const [biasv] = randTensor([13], 23, dtype);
      const [gv] = randTensor([17, 13], 24, dtype);
      const run = async (device: 'cpu' | 'cuda') => {
        const a = av.to(device).detach().requiresGrad_(), b = bv.to(device).detach().requiresGrad_();
        const bias = biasv.to(device).detach().requiresGrad_();
        matmul(a, b, { bias, relu: true }).backward(gv.to(device));
        return [await f64(a.grad!.cpu()), await f64(b.grad!.cpu()), await f64(bias.grad!.cpu())];
      };
      const want = await run('cpu');
      const got = await run('cuda');
      for (let i = 0; i < 3; i++) expectClose(got[i]!, want[i]!, tolFor(dtype, 33), ['dA', 'dB', 'dbias'][i]);
    });
  }

  it('NaN and Inf propagate like IEEE arithmetic (as on the cpu)', async () => {
    const a = tensor([[NaN, 1], [Infinity, 1]], { device: 'cuda' });
    const b = tensor([[1, 0], [0, 1]], { device: 'cuda' });
    const r = Array.from(await matmul(a, b).cpu().data());
    // NaN * 0 and Inf * 0 are NaN: only C[1][0] = Inf * 1 + 1 * 0 is a number (Inf)
    expect(r.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', 'NaN', Infinity, 'NaN']);
    const want = Array.from(await matmul(a.cpu(), b.cpu()).data());
    expect(r.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(want.map((v) => (Number.isNaN(v) ? 'NaN' : v)));
  });

  it('errors are the cpu\'s (class and message)', () => {
    const a = tensor([[1, 2, 3]], { device: 'cuda' }), b = tensor([[1, 2]], { device: 'cuda' });
    expect(() => matmul(a, b)).toThrow(ShapeError);
    expect(() => matmul(a, b)).toThrow('matmul: expected inner dims to match, got shapes [1,3] and [1,2]');
    const d = tensor([[1], [2], [3]], { dtype: 'float64', device: 'cuda' });
    expect(() => matmul(a, d)).toThrow(DTypeError);
    expect(() => matmul(a, d)).toThrow('matmul: expected operands of one dtype, got float32 and float64');
  });
});
