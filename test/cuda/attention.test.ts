// The CUDA kernels of native/cuda/attention.cu (fused attention forward, its dQ and dK/dV backward kernels) against
// the same op on the CPU: several batch dims and broadcasting, L != S, E != Ev, partial tiles, boolean and
// additive masks that broadcast, causal, all-masked rows, dropout (the same Philox stream on both devices), long
// head dims (smaller key tiles). Runs where a GPU (or, with TENSILE_EMULATE_CUDA=1, the emulator) is available;
// skipped otherwise.
import { describe, it, expect } from 'vitest';
import { cuda, tensor, F, manualSeed, ShapeError, type Tensor } from '../../lib/index.js';
import { randArray, f64, numel } from '../helpers.js';
import { same, type Tol } from './helpers.js';

const HAS = cuda.isAvailable();
// both devices sum in the op's dtype, in different orders
const TOL: Record<'float32' | 'float64', Tol> = { float32: { rtol: 1e-4, atol: 2e-5 }, float64: { rtol: 1e-10, atol: 1e-12 } };
const DTYPES = ['float32', 'float64'] as const;

interface Case {
  name: string;
  q: number[]; k: number[]; v: number[];
  mask?: { shape: number[]; kind: 'bool' | 'add' };
  causal?: boolean; scale?: number; dropoutP?: number;
}
const CASES: Case[] = [
  { name: 'no batch dims', q: [5, 3], k: [7, 3], v: [7, 2] },
  { name: 'partial tiles L=37 S=70, E != Ev', q: [2, 3, 37, 16], k: [2, 3, 70, 16], v: [2, 3, 70, 24] },
  { name: 'broadcast batch dims', q: [2, 3, 17, 8], k: [1, 3, 33, 8], v: [2, 1, 33, 8] },
  { name: 'three batch dims, bool mask [L,S]', q: [2, 2, 2, 9, 6], k: [2, 2, 2, 11, 6], v: [2, 2, 2, 11, 5], mask: { shape: [9, 11], kind: 'bool' } },
  { name: 'additive mask [B,1,L,S]', q: [2, 3, 21, 7], k: [2, 3, 40, 7], v: [2, 3, 40, 9], mask: { shape: [2, 1, 21, 40], kind: 'add' } },
  { name: 'bool mask [B,L,1] (all-masked rows)', q: [2, 13, 8], k: [2, 10, 8], v: [2, 10, 6], mask: { shape: [2, 13, 1], kind: 'bool' } },
  { name: 'causal L < S', q: [1, 2, 5, 4], k: [1, 2, 45, 4], v: [1, 2, 45, 4], causal: true },
  { name: 'causal L > S', q: [2, 50, 8], k: [2, 20, 8], v: [2, 20, 3], causal: true },
  { name: 'causal L = S = 100, E = 64, scale', q: [1, 2, 100, 64], k: [1, 2, 100, 64], v: [1, 2, 100, 64], causal: true, scale: 0.2 },
  { name: 'dropout 0.3 with a bool mask', q: [2, 2, 19, 8], k: [2, 2, 35, 8], v: [2, 2, 35, 8], dropoutP: 0.3, mask: { shape: [19, 35], kind: 'bool' } },
  { name: 'long head dims (key tiles under 32)', q: [1, 6, 300], k: [1, 40, 300], v: [1, 40, 200] },
];

let seed = 900;
function input(shape: number[], dtype: 'float32' | 'float64', lo = -1.5, hi = 1.5): Tensor {
  const v = randArray(numel(shape), seed++, lo, hi);
  return tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape, dtype });
}
function maskOf(m: NonNullable<Case['mask']>, dtype: 'float32' | 'float64'): Tensor {
  const r = randArray(numel(m.shape), seed++, 0, 1);
  if (m.kind === 'bool') return tensor(Uint8Array.from(r, (x, i) => (m.shape.at(-1) === 1 ? (i % 3 === 1 ? 0 : 1) : x < 0.7 ? 1 : 0)), { shape: m.shape, dtype: 'uint8' });
  return tensor(r.map((x) => (x < 0.15 ? -Infinity : 4 * x - 2)), { shape: m.shape, dtype });
}

describe.skipIf(!HAS)('cuda scaledDotProductAttention', () => {
  for (const c of CASES) for (const dtype of DTYPES) {
    it(`${c.name}: q=[${c.q}] k=[${c.k}] v=[${c.v}]${c.mask ? ` ${c.mask.kind} mask=[${c.mask.shape}]` : ''}${c.causal ? ' causal' : ''}${c.dropoutP ? ` p=${c.dropoutP}` : ''} ${dtype}`, async () => {
      const q = input(c.q, dtype), k = input(c.k, dtype), v = input(c.v, dtype);
      const m = c.mask ? maskOf(c.mask, dtype) : null;
      const opts = { attnMask: m, isCausal: c.causal, scale: c.scale };
      const w = input(F.scaledDotProductAttention(q, k, v, opts).shape.slice(), dtype);  // the cotangent
      const run = (dev: 'cpu' | 'cuda') => {
        const [qd, kd, vd] = [q, k, v].map((t) => (dev === 'cpu' ? t.detach() : t.to('cuda')).requiresGrad_());
        if (c.dropoutP) manualSeed(11);
        const y = F.scaledDotProductAttention(qd!, kd!, vd!, { ...opts, attnMask: m ? (dev === 'cpu' ? m : m.to('cuda')) : null, dropoutP: c.dropoutP });
        y.mul(dev === 'cpu' ? w : w.to('cuda')).sum().backward();
        return [y, qd!.grad!, kd!.grad!, vd!.grad!];
      };
      const cpu = run('cpu'), gpu = run('cuda');
      for (const [i, name] of ['y', 'dq', 'dk', 'dv'].entries()) await same(gpu[i]!, cpu[i]!, TOL[dtype], name);
      if (c.mask?.shape.at(-1) === 1) {
        // the fully masked rows are zeros on the GPU too
        const y = await f64(gpu[0]!.cpu());
        expect(y.every((x) => Number.isFinite(x))).toBe(true);
      }
    });
  }
  it('head dims past the shared memory of one key (E + Ev = 12000, float32): ShapeError at the read', async () => {
    const q = input([1, 2, 6000], 'float32').to('cuda'), k = input([1, 3, 6000], 'float32').to('cuda'), v = input([1, 3, 6000], 'float32').to('cuda');
    const y = F.scaledDotProductAttention(q, k, v);
    await expect(y.cpu().data()).rejects.toThrow(ShapeError);
    await expect(y.cpu().data()).rejects.toThrow('attention: expected head dims E + Ev of at most 11262 on cuda for float32, got 6000 + 6000');
  });
});
