// triu / tril over the last two dims of any batch: against a plain reference written here (every dtype, diagonals
// past both corners, empty matrices, views, NaN and infinities outside the triangle), against TensorFlow.js's
// linalg.bandPart, their gradients (gradcheck in float64 and the exact triangle of the cotangent), and their errors.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, triu, tril, gradcheck, ones, ShapeError, ArgumentError } from '../../lib/index.js';
import { randArray, expectClose, f64, numel, throwsExactly, TOL } from '../helpers.js';
import { tfjs } from '../tfjs.js';
import { covers } from '../api/coverage.js';

covers('triu');
covers('tril');

type DT = 'float32' | 'float64' | 'int32' | 'uint8';
const CTOR = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array };

/** The reference: entry (i, j) of each trailing matrix kept where j - i >= k (upper) or <= k (lower), else 0. */
function refTriangle(v: ArrayLike<number>, shape: number[], k: number, upper: boolean): number[] {
  const R = shape.at(-2)!, C = shape.at(-1)!;
  return Array.from(v, (x, idx) => {
    const j = idx % C, i = Math.floor(idx / C) % R;
    return (upper ? j - i >= k : j - i <= k) ? x : 0;
  });
}
let seed = 7;
function input(shape: number[], dtype: DT): [Tensor, number[]] {
  const r = randArray(numel(shape), seed++, dtype === 'uint8' ? 1 : -9, 9);
  const v = Array.from(CTOR[dtype].from(dtype === 'int32' || dtype === 'uint8' ? r.map(Math.round) : r));
  return [tensor(CTOR[dtype].from(v), { shape, dtype }), v];
}

const SHAPES = [[3, 4], [4, 3], [5, 5], [2, 3, 5, 4], [1, 1], [0, 3], [3, 0], [2, 0, 2]];
const DIAGONALS = [0, 1, -1, 2, -2, 3, -4, 100, -100, 2 ** 32, -(2 ** 32)];  // (2^32 would wrap to 0 in int32)

describe('triu / tril against the reference', () => {
  for (const dtype of ['float32', 'float64', 'int32', 'uint8'] as const) {
    for (const shape of SHAPES) {
      it(`x=[${shape}] ${dtype}, diagonals ${DIAGONALS.join(' ')}: exact, dtype and shape kept, method = function`, async () => {
        const [x, v] = input(shape, dtype);
        for (const k of DIAGONALS) {
          for (const upper of [true, false]) {
            const y = upper ? triu(x, k) : tril(x, k);
            expect(y.dtype).toBe(dtype);
            expect(y.shape).toEqual(shape);
            expect(Array.from(await y.data()), `${upper ? 'triu' : 'tril'}(${k})`).toEqual(refTriangle(v, shape, k, upper));
            const m = upper ? x.triu(k) : x.tril(k);
            expect(Array.from(await m.data()), `method ${upper ? 'triu' : 'tril'}(${k})`).toEqual(refTriangle(v, shape, k, upper));
          }
        }
        expect(Array.from(await triu(x).data()), 'default diagonal 0').toEqual(refTriangle(v, shape, 0, true));
        expect(Array.from(await tril(x).data()), 'default diagonal 0').toEqual(refTriangle(v, shape, 0, false));
      });
    }
  }
  it('x=[4,3] transposed view (non-contiguous) and a [3,2,4] slice: the triangle of the view', async () => {
    const [x] = input([3, 4], 'float32');
    const t = x.t();
    const tv = Array.from(await t.contiguous().data());
    expect(Array.from(await t.triu(1).data())).toEqual(refTriangle(tv, [4, 3], 1, true));
    expect(Array.from(await t.tril(-1).data())).toEqual(refTriangle(tv, [4, 3], -1, false));
    const [z] = input([3, 4, 4], 'float64');
    const s = z.slice(1, 1, 3);
    expect(Array.from(await s.tril().data())).toEqual(refTriangle(Array.from(await s.contiguous().data()), [3, 2, 4], 0, false));
  });
  it('NaN and +-Infinity outside the triangle become 0, inside they stay (as PyTorch)', async () => {
    const x = tensor([[NaN, Infinity, -Infinity], [Infinity, NaN, -Infinity], [-Infinity, Infinity, NaN]]);
    expect(await triu(x).toArray()).toEqual([[NaN, Infinity, -Infinity], [0, NaN, -Infinity], [0, 0, NaN]]);
    expect(await tril(x, -1).toArray()).toEqual([[0, 0, 0], [Infinity, 0, 0], [-Infinity, Infinity, 0]]);
  });
  it('a causal uint8 mask [4,4]: tril(ones) is 1 where key j <= query i', async () => {
    expect(await tril(ones([4, 4], { dtype: 'uint8' })).toArray()).toEqual([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]);
  });
});

describe('triu / tril against TensorFlow.js linalg.bandPart', () => {
  // bandPart(a, lower, upper) keeps i - j <= lower and j - i <= upper (-1: no limit); triu(k > 0) and tril(k < 0)
  // are x minus the complementary band
  const tfTriangle = (t: Awaited<ReturnType<typeof tfjs>>, a: ReturnType<Awaited<ReturnType<typeof tfjs>>['tensor']>, k: number, upper: boolean) =>
    upper ? (k <= 0 ? t.linalg.bandPart(a, -k, -1) : t.sub(a, t.linalg.bandPart(a, -1, k - 1)))
      : (k >= 0 ? t.linalg.bandPart(a, -1, k) : t.sub(a, t.linalg.bandPart(a, -(k + 1), -1)));
  for (const shape of [[2, 3, 5, 4], [6, 6], [3, 7]]) {
    it(`x=[${shape}] float32, diagonals -3..3`, async () => {
      const t = await tfjs();
      const [x, v] = input(shape, 'float32');
      for (let k = -3; k <= 3; k++) {
        for (const upper of [true, false]) {
          const want = t.tidy(() => tfTriangle(t, t.tensor(Float32Array.from(v), shape), k, upper).dataSync());
          expectClose(await f64(upper ? triu(x, k) : tril(x, k)), Float64Array.from(want), TOL.float32, `${upper ? 'triu' : 'tril'}(${k})`);
        }
      }
    });
  }
});

describe('triu / tril gradients', () => {
  for (const [shape, k] of [[[4, 5], 0], [[4, 5], 1], [[5, 4], -2], [[2, 3, 4], 1], [[3, 3], 5]] as [number[], number][]) {
    it(`gradcheck float64 x=[${shape}] diagonal ${k}`, async () => {
      for (const f of [(a: Tensor) => triu(a, k), (a: Tensor) => tril(a, k)]) {
        const x = tensor(randArray(numel(shape), seed++), { shape, dtype: 'float64' }).requiresGrad_();
        const r = await gradcheck((a) => f(a).mul(f(a)), [x], { atol: 1e-6, rtol: 1e-4 });
        expect(r.worst, `worst at element ${r.at[1]}`).toBeLessThanOrEqual(1);
      }
    });
  }
  it('x=[2,3,4] diagonal -1: the gradient is the same triangle of the cotangent, exactly', async () => {
    for (const upper of [true, false]) {
      const shape = [2, 3, 4];
      const x = tensor(randArray(24, seed++), { shape, dtype: 'float64' }).requiresGrad_();
      const gv = randArray(24, seed++);
      const y = upper ? x.triu(-1) : x.tril(-1);
      y.backward(tensor(gv, { shape, dtype: 'float64' }));
      expect(Array.from(await x.grad!.data())).toEqual(refTriangle(gv, shape, -1, upper));
    }
  });
  it('integer inputs record no graph', () => {
    const [x] = input([3, 3], 'int32');
    expect(triu(x).requiresGrad).toBe(false);
  });
});

describe('triu / tril errors', () => {
  it('rank < 2, a fractional diagonal, not a tensor', () => {
    throwsExactly(() => triu(tensor([1, 2, 3])), ShapeError, 'triu: expected a tensor of rank >= 2, got shape [3]');
    throwsExactly(() => tril(tensor(5)), ShapeError, 'tril: expected a tensor of rank >= 2, got shape []');
    throwsExactly(() => tril(ones([2, 2]), 0.5), ArgumentError, 'tril: expected diagonal to be an integer, got the number 0.5');
    throwsExactly(() => ones([2, 2]).triu(NaN), ArgumentError, 'triu: expected diagonal to be an integer, got the number NaN');
    throwsExactly(() => triu([[1, 2], [3, 4]] as unknown as Tensor), ArgumentError, 'triu: expected input to be a Tensor, got an array of length 2');
  });
});
