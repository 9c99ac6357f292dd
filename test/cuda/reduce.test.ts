// The CUDA kernels of native/cuda/reduce.cu (reductions, softmax/log_softmax and backward, cross-entropy and
// backward) against the same ops on the CPU. Runs where a GPU (or, with TENSILE_EMULATE_CUDA=1, the emulator) is
// available; skipped otherwise.
import { describe, it, expect } from 'vitest';
import { tensor, cuda, Tensor, softmaxBackward, crossEntropy, crossEntropyForward, crossEntropyBackward, IndexError } from '../../lib/index.js';
import { randTensor, expectClose, f64, numel, prng } from '../helpers.js';
import { same, type Tol } from './helpers.js';

const HAS = cuda.isAvailable();
// both backends accumulate in double: float32 results agree to the last bit or two, float64 ones to rounding
const TOL: Record<'float32' | 'float64', Tol> = { float32: { rtol: 2e-6, atol: 1e-6 }, float64: { rtol: 1e-11, atol: 1e-13 } };
const EXACT: Tol = { rtol: 0, atol: 0 };
const DTYPES = ['float32', 'float64'] as const;


/** Random values with ties (small integers), NaNs and infinities sprinkled in, per `kind`. */
function special(shape: number[], seed: number, dtype: 'float32' | 'float64', kind: 'ties' | 'nan' | 'inf'): Tensor {
  const r = prng(seed);
  const v = new Float64Array(numel(shape));
  for (let i = 0; i < v.length; i++) {
    v[i] = kind === 'ties' ? Math.floor(r() * 4) : r() * 6 - 3;
    if (kind === 'nan' && r() < 0.05) v[i] = NaN;
    if (kind === 'inf' && r() < 0.1) v[i] = r() < 0.5 ? Infinity : -Infinity;
  }
  return tensor(dtype === 'float32' ? Float32Array.from(v) : v, { shape, dtype });
}

// shapes and axes: single and several blocks, partial tiles (odd inner sizes), rows of one, non-consecutive axes
// (lib/ permutes them to the end), long reductions that split R across blocks, empty reductions and empty outputs
const CASES: [number[], number[] | undefined][] = [
  [[1], [0]], [[7], undefined], [[3, 5, 7], [1]], [[3, 5, 7], [0, 2]], [[2, 1, 9], [1]], [[4, 33], [1]], [[300], [0]],
  [[5, 3, 40], [1]], [[2, 17, 70], [0]], [[7, 1000], [1]], [[6, 9, 3], [0, 1]], [[2, 130, 31], [1]], [[33, 65], [0, 1]],
  [[40000], [0]], [[20000, 3], [0]], [[3000, 40], [0]], [[2, 9000, 5], [1]],
];
const EMPTY: [number[], number[]][] = [[[3, 0, 4], [1]], [[0, 4], [1]], [[0, 4], [0]]];

describe.skipIf(!HAS)('cuda reductions', () => {
  for (const dtype of DTYPES) {
    for (const [shape, axes] of CASES) {
      it(`sum mean max min var logsumexp x=[${shape}] axes=${axes ? `[${axes}]` : 'all'} ${dtype}`, async () => {
        const [x] = randTensor(shape, numel(shape) + 3, dtype, -3, 3);
        const xg = x.to('cuda');
        for (const keepdim of [false, true]) {
          for (const op of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) {
            await same(xg[op](axes, keepdim), x[op](axes, keepdim), TOL[dtype], `${op} keepdim=${keepdim}`);
          }
          for (const correction of [1, 0, 2]) {
            await same(xg.var(axes, { correction, keepdim }), x.var(axes, { correction, keepdim }), TOL[dtype], `var correction=${correction}`);
          }
        }
      });
    }
    for (const [shape, axes] of EMPTY) {
      it(`empty x=[${shape}] axes=[${axes}] ${dtype}`, async () => {
        const x = tensor(new Float64Array(0), { shape, dtype });
        const xg = x.to('cuda');
        for (const op of ['sum', 'mean'] as const) await same(xg[op](axes), x[op](axes), EXACT, op);
        await same(xg.var(axes), x.var(axes), EXACT, 'var');
        await same(xg.var(axes, { correction: -1 }), x.var(axes, { correction: -1 }), EXACT, 'var correction=-1');
        if (numel(shape.filter((_, i) => !axes.includes(i))) === 0 || shape[axes[0]!]! > 0) {
          await same(xg.max(axes), x.max(axes), EXACT, 'max');
        }
      });
    }
    for (const kind of ['ties', 'nan', 'inf'] as const) {
      for (const [shape, axis] of [[[5, 7, 3], 1], [[4, 300], 1], [[70, 33], 0], [[2, 20000], 1]] as [number[], number][]) {
        it(`max min argmax argmin logsumexp with ${kind} x=[${shape}] axis=${axis} ${dtype}`, async () => {
          const x = special(shape, numel(shape) + kind.length, dtype, kind);
          const xg = x.to('cuda');
          for (const op of ['max', 'min'] as const) await same(xg[op](axis), x[op](axis), EXACT, op);
          await same(xg.logsumexp(axis), x.logsumexp(axis), TOL[dtype], 'logsumexp');
          for (const op of ['argmax', 'argmin'] as const) {
            await same(xg[op](axis), x[op](axis), EXACT, `${op} axis`);
            await same(xg[op](axis, true), x[op](axis, true), EXACT, `${op} keepdim`);
            await same(xg[op](), x[op](), EXACT, `${op} flat`);
          }
          for (const op of ['maxWithIndices', 'minWithIndices'] as const) {
            const [gv, gi] = xg[op](axis);
            const [cv, ci] = x[op](axis);
            await same(gv!, cv!, EXACT, `${op} values`);
            await same(gi!, ci!, EXACT, `${op} indices`);
          }
        });
      }
    }
    it(`strided inputs (transposed and sliced views) ${dtype}`, async () => {
      const [x] = randTensor([6, 11, 13], 5, dtype, -2, 2);
      const xg = x.to('cuda');
      const views = (t: Tensor) => [t.transpose(0, 2), t.permute([1, 0, 2]), t.transpose(1, 2)];
      const vc = views(x), vg = views(xg);
      for (let k = 0; k < vc.length; k++) {
        for (const axes of [[0], [1], [2], [0, 2], undefined]) {
          for (const op of ['sum', 'max', 'logsumexp'] as const) await same(vg[k]![op](axes), vc[k]![op](axes), TOL[dtype], `${op} view ${k}`);
          await same(vg[k]!.var(axes), vc[k]!.var(axes), TOL[dtype], `var view ${k}`);
        }
        await same(vg[k]!.argmax(1), vc[k]!.argmax(1), EXACT, `argmax view ${k}`);
      }
    });
    it(`gradients of sum mean max min var logsumexp ${dtype}`, async () => {
      for (const [shape, axes] of [[[3, 5, 7], [1]], [[4, 6], [0]], [[2, 3, 4], [0, 2]], [[9], undefined]] as [number[], number[] | undefined][]) {
        const [x] = randTensor(shape, 11, dtype, -2, 2);
        const xc = x.requiresGrad_(), xg = x.to('cuda').detach().requiresGrad_();
        const [w] = randTensor(x.sum(axes).shape, 12, dtype);
        for (const op of ['sum', 'mean', 'max', 'min', 'var', 'logsumexp'] as const) {
          xc.grad = null;
          xg.grad = null;
          xc[op](axes).backward(w);
          xg[op](axes).backward(w.to('cuda'));
          await same(xg.grad!, xc.grad!, TOL[dtype], `d${op} x=[${shape}]`);
        }
      }
    });
  }
  it('int32 inputs (reduced in float64, as on the CPU)', async () => {
    const v = Int32Array.from({ length: 6 * 35 }, (_, i) => ((i * 7919) % 41) - 20);
    const x = tensor(v, { shape: [6, 35], dtype: 'int32' }), xg = x.to('cuda');
    for (const axes of [[0], [1], undefined]) {
      for (const op of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) await same(xg[op](axes), x[op](axes), TOL.float64, op);
      await same(xg.var(axes), x.var(axes), TOL.float64, 'var');
    }
    await same(xg.argmax(1), x.argmax(1), EXACT, 'argmax');
    await same(xg.argmin(), x.argmin(), EXACT, 'argmin');
  });
  it('is deterministic: the same bits run after run (split reductions included)', async () => {
    const [x] = randTensor([3, 50000], 9, 'float32', -1, 1);
    const xg = x.to('cuda');
    const first = await f64(xg.sum(1).cpu());
    const firstCol = await f64(xg.transpose(0, 1).contiguous().var(0).cpu());
    for (let k = 0; k < 3; k++) {
      expect(await f64(xg.sum(1).cpu())).toEqual(first);
      expect(await f64(xg.transpose(0, 1).contiguous().var(0).cpu())).toEqual(firstCol);
    }
  });
});

describe.skipIf(!HAS)('cuda softmax and log_softmax', () => {
  const SHAPES: [number[], number][] = [
    [[1], 0], [[7], 0], [[3, 5], 1], [[3, 5], 0], [[2, 1, 9], 1], [[4, 33], -1], [[2, 300], 1], [[5, 3, 40], 1],
    [[2, 17, 70], 0], [[7, 1000], 1], [[3, 5000], 1], [[6, 9, 3], 2], [[2, 130, 31], 1], [[0, 4], 1], [[3, 0], 1],
  ];
  for (const dtype of DTYPES) {
    for (const [shape, axis] of SHAPES) {
      it(`x=[${shape}] axis=${axis} ${dtype}: forward, softmaxBackward, autograd`, async () => {
        const [x] = randTensor(shape, numel(shape) + 1, dtype, -4, 4);
        const [dy] = randTensor(shape, numel(shape) + 2, dtype);
        const xg = x.to('cuda'), dyg = dy.to('cuda');
        for (const op of ['softmax', 'logSoftmax'] as const) {
          const yc = x[op](axis), yg = xg[op](axis);
          await same(yg, yc, TOL[dtype], op);
          const bop = op === 'softmax' ? 'softmax_bwd' : 'log_softmax_bwd';
          await same(softmaxBackward(bop, dyg, yg, axis), softmaxBackward(bop, dy, yc, axis), TOL[dtype], bop);
          const ac = x.detach().requiresGrad_(), ag = xg.detach().requiresGrad_();
          ac[op](axis).backward(dy);
          ag[op](axis).backward(dyg);
          await same(ag.grad!, ac.grad!, TOL[dtype], `${op} grad`);
        }
      });
    }
    it(`rows with -inf, inf and NaN ${dtype}`, async () => {
      const v = [0, 1, -Infinity, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, Infinity, 0, 2, NaN, 0, 1, 3];
      const x = tensor(dtype === 'float32' ? Float32Array.from(v) : Float64Array.from(v), { shape: [4, 4], dtype });
      for (const op of ['softmax', 'logSoftmax'] as const) await same(x.to('cuda')[op](1), x[op](1), TOL[dtype], op);
    });
    it(`strided input ${dtype}`, async () => {
      const [x] = randTensor([5, 7, 9], 3, dtype, -3, 3);
      const t = x.transpose(0, 2), tg = x.to('cuda').transpose(0, 2);
      for (const axis of [0, 1, 2]) await same(tg.softmax(axis), t.softmax(axis), TOL[dtype], `softmax axis ${axis}`);
    });
  }
});

// cross-entropy: the per-sample losses, lse, label weights and dlogits; options as on the CPU
function labelsFor(N: number, C: number, seed: number, ignore?: number): Int32Array {
  const r = prng(seed);
  const y = new Int32Array(N);
  for (let n = 0; n < N; n++) y[n] = n % 5 === 3 && ignore !== undefined ? ignore : Math.floor(r() * C);
  return y;
}

describe.skipIf(!HAS)('cuda cross_entropy', () => {
  const SIZES: [number, number][] = [[1, 1], [5, 3], [17, 10], [40, 257], [3, 1000], [64, 33], [2, 3000]];
  for (const dtype of DTYPES) {
    for (const [N, C] of SIZES) {
      for (const weighted of [false, true]) {
        it(`N=${N} C=${C} weight=${weighted} ${dtype}: forward and backward, each option`, async () => {
          const [x] = randTensor([N, C], N * C + 7, dtype, -4, 4);
          const [w] = randTensor([C], C, dtype, 0.2, 2);
          const [dl] = randTensor([N], N, dtype);
          const xg = x.to('cuda'), wg = w.to('cuda'), dlg = dl.to('cuda');
          for (const [ignoreIndex, labelSmoothing] of [[undefined, 0], [-100, 0.1], [1, 0], [1, 0.25], [C - 1, 1]] as [number | undefined, number][]) {
            const what = `ignoreIndex=${ignoreIndex} labelSmoothing=${labelSmoothing}`;
            const yv = labelsFor(N, C, N + C, ignoreIndex);
            const y = tensor(yv, { dtype: 'int32' }), yg = y.to('cuda');
            const oc = { ignoreIndex, labelSmoothing, ...(weighted ? { weight: w } : {}) };
            const og = { ignoreIndex, labelSmoothing, ...(weighted ? { weight: wg } : {}) };
            const fc = crossEntropyForward(x, y, oc), fg = crossEntropyForward(xg, yg, og);
            for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, TOL[dtype], `${what} forward output ${k}`);
            await same(crossEntropyBackward(xg, yg, fg[1]!, dlg, og), crossEntropyBackward(x, y, fc[1]!, dl, oc), TOL[dtype], `${what} backward`);
            for (const reduction of ['mean', 'sum', 'none'] as const) {
              const ac = x.detach().requiresGrad_(), ag = xg.detach().requiresGrad_();
              const lc = crossEntropy(ac, y, { ...oc, reduction }), lg = crossEntropy(ag, yg, { ...og, reduction });
              await same(lg, lc, TOL[dtype], `${what} ${reduction}`);
              lc.backward(reduction === 'none' ? dl : undefined);
              lg.backward(reduction === 'none' ? dlg : undefined);
              await same(ag.grad!, ac.grad!, TOL[dtype], `${what} ${reduction} grad`);
            }
          }
        });
      }
    }
    it(`strided labels, weight and logits ${dtype}`, async () => {
      const N = 13, C = 6;
      const [x2] = randTensor([C, N], 4, dtype, -3, 3);
      const [w2] = randTensor([C, 2], 5, dtype, 0.5, 1.5);
      const y2v = new Int32Array(2 * N);
      const yv = labelsFor(N, C, 6, 2);
      for (let n = 0; n < N; n++) { y2v[2 * n] = yv[n]!; y2v[2 * n + 1] = 99; }
      // views: logits transposed (lib/ copies), labels and weight every second element
      const xv = x2.transpose(0, 1), y = tensor(y2v, { shape: [N, 2], dtype: 'int32' }).slice(1, 0, 1).reshape([N]), w = w2.slice(1, 1, 2).reshape([C]);
      const g = { x: x2.to('cuda').transpose(0, 1), y: tensor(y2v, { shape: [N, 2], dtype: 'int32' }).to('cuda').slice(1, 0, 1).reshape([N]), w: w2.to('cuda').slice(1, 1, 2).reshape([C]) };
      expect(g.y.isContiguous()).toBe(false);
      expect(g.w.isContiguous()).toBe(false);
      // the reference: the CPU on contiguous copies
      const oc = { ignoreIndex: 2, labelSmoothing: 0.1, weight: w.contiguous() }, og = { ignoreIndex: 2, labelSmoothing: 0.1, weight: g.w };
      const fc = crossEntropyForward(xv.contiguous(), y.contiguous(), oc), fg = crossEntropyForward(g.x, g.y, og);
      for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, TOL[dtype], `forward output ${k}`);
      const [dl] = randTensor([N], 8, dtype);
      await same(crossEntropyBackward(g.x, g.y, fg[1]!, dl.to('cuda'), og), crossEntropyBackward(xv.contiguous(), y.contiguous(), fc[1]!, dl, oc), TOL[dtype], 'backward');
    });
    it(`labels out of range: IndexError with the CPU's message (the first bad sample) ${dtype}`, async () => {
      const [x] = randTensor([12, 7], 1, dtype);
      const xg = x.to('cuda');
      const CASES: [[number, number][], object][] = [
        [[[4, 10], [6, -7]], {}], [[[0, 7]], { labelSmoothing: 0.2 }], [[[11, -1]], { ignoreIndex: -2 }], [[[3, -100]], { ignoreIndex: 0 }],
      ];
      for (const [bad, opts] of CASES) {
        const yv = labelsFor(12, 7, 3);
        for (const [n, v] of bad) yv[n] = v;
        const msgs: string[] = [];
        for (const [xx, dev] of [[x, 'cpu'], [xg, 'cuda']] as const) {
          const [loss] = crossEntropyForward(xx, tensor(yv, { dtype: 'int32' }).to(dev), opts);
          const err = await loss.data().then(() => null, (e: unknown) => e);
          expect(err, dev).toBeInstanceOf(IndexError);
          msgs.push((err as Error).message);
        }
        expect(msgs[1]).toBe(msgs[0]);
        expect(msgs[0]).toContain(`got ${bad[0]![1]} at index ${bad[0]![0]}`);
        // the device stays usable
        await same(xg.sum(1), x.sum(1), TOL[dtype], 'after the error');
      }
    });
  }
  it('empty batch', async () => {
    const x = tensor(new Float32Array(0), { shape: [0, 5] }), y = tensor(new Int32Array(0), { dtype: 'int32' });
    const fc = crossEntropyForward(x, y), fg = crossEntropyForward(x.to('cuda'), y.to('cuda'));
    for (let k = 0; k < 3; k++) await same(fg[k]!, fc[k]!, EXACT, `output ${k}`);
    await same(crossEntropy(x.to('cuda'), y.to('cuda'), { reduction: 'sum' }), crossEntropy(x, y, { reduction: 'sum' }), EXACT, 'sum');
  });
});
