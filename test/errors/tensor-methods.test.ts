// Tensor methods with arguments of the wrong kind or value (issue: bad input never corrupts state): each a named
// error at the user's line, or the documented result; an unrelated tensor made before reads correctly after.
import { describe, it, expect } from 'vitest';
import { tensor, randn, randint, rand, ArgumentError, F } from '../../lib/index.js';

const unrelated = () => tensor([1, 2, 3]);
async function stillFine(u: ReturnType<typeof unrelated>): Promise<void> {
  expect(Array.from(await u.mul(10).data())).toEqual([10, 20, 30]);
}

describe('Tensor methods check their arguments', () => {
  const cases: [string, () => unknown, string][] = [
    ["leakyRelu('a')", () => tensor([-5, 0, 5]).leakyRelu('a' as never), "leaky_relu: expected negativeSlope to be a finite number, got the string 'a'"],
    ['leakyRelu(NaN)', () => tensor([-5, 0, 5]).leakyRelu(NaN), 'leaky_relu: expected negativeSlope to be a finite number, got the number NaN'],
    ["elu('1')", () => tensor([-5, 0, 5]).elu('1' as never), "elu: expected alpha to be a finite number, got the string '1'"],
    ["F.leakyRelu(x, 'a')", () => F.leakyRelu(tensor([1]), 'a' as never), "leaky_relu: expected negativeSlope to be a finite number, got the string 'a'"],
    ["clamp('0', 1)", () => tensor([1]).clamp('0' as never, 1), "clamp: expected min to be a number or null, got the string '0'"],
    ['clamp(0, NaN)', () => tensor([1]).clamp(0, NaN), 'clamp: expected max to be a number or null, got the number NaN'],
    ['backward({retainGraph: true})', () => randn([1]).requiresGrad_().sum().backward({ retainGraph: true } as never),
      'backward: expected the gradient to be a Tensor, got an object (options go second: backward(undefined, { retainGraph: true }))'],
    ['backward(3)', () => randn([1]).requiresGrad_().sum().backward(3 as never), 'backward: expected the gradient to be a Tensor, got the number 3'],
    ['backward(undefined, null)', () => randn([1]).requiresGrad_().sum().backward(undefined, null as never), 'backward: expected an options object, got null'],
    ["backward(undefined, {retainGraph: 'yes'})", () => randn([1]).requiresGrad_().sum().backward(undefined, { retainGraph: 'yes' as never }),
      "backward: expected retainGraph to be true or false, got the string 'yes'"],
    ['randint(0, 2**33)', () => randint(0, 2 ** 33, [3]), 'randint: expected high in [-2147483648, 2147483647], got 8589934592'],
    ['randint(-(2**31) - 1, 0)', () => randint(-(2 ** 31) - 1, 0, [3]), 'randint: expected low in [-2147483648, 2147483647], got -2147483649'],
    ["randn([2], 'float64')", () => randn([2], 'float64' as never), "randn: expected an options object such as { dtype: 'float64' }, got the string 'float64'"],
    ["rand([2], 'float64')", () => rand([2], 'float64' as never), "rand: expected an options object such as { dtype: 'float64' }, got the string 'float64'"],
    ['nll_loss ignoreIndex 1.5', () => F.nllLoss(randn([2, 3]).logSoftmax(1), tensor([0, 1], { dtype: 'int32' }), { ignoreIndex: 1.5 }),
      'nll_loss: expected ignoreIndex to be an integer, got the number 1.5'],
  ];
  for (const [name, f, msg] of cases) {
    it(`${name}: ArgumentError`, async () => {
      const u = unrelated();
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(msg);
      await stillFine(u);
    });
  }

  it('clamp(null, 1) and clamp(0) leave the other side unbounded', async () => {
    expect(Array.from(await tensor([-5, 0, 5]).clamp(null, 1).data())).toEqual([-5, 0, 1]);
    expect(Array.from(await tensor([-5, 0, 5]).clamp(0).data())).toEqual([0, 0, 5]);
    expect(Array.from(await tensor([-5, 0, 5]).clamp(undefined, -1).data())).toEqual([-5, -1, -1]);
  });

  it('randint at the int32 bounds draws inside them', async () => {
    const v = await randint(-(2 ** 31), 2 ** 31 - 1, [4096]).data();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-(2 ** 31));
    expect(Math.max(...v)).toBeLessThan(2 ** 31 - 1);
    expect(Math.min(...v)).toBeLessThan(-(2 ** 30));  // the range is used, not wrapped into a narrow one
    expect(Math.max(...v)).toBeGreaterThan(2 ** 30);
  });

  it("cast to the tensor's own dtype returns a tensor whose dispose() leaves the original alive", async () => {
    const x = tensor([1, 2, 3]);
    const y = x.cast('float32');
    expect(y).not.toBe(x);
    y.dispose();
    expect(x.isDisposed).toBe(false);
    expect(Array.from(await x.data())).toEqual([1, 2, 3]);
    // and the gradient still flows through it
    const w = randn([3]).requiresGrad_();
    w.cast('float32').mul(2).sum().backward();
    expect(Array.from(await w.grad!.data())).toEqual([2, 2, 2]);
  });
});

describe('scope checks its argument', () => {
  it('scope(3): ArgumentError', async () => {
    const { scope } = await import('../../lib/index.js');
    expect(() => scope(3 as never)).toThrow(ArgumentError);
    expect(() => scope(3 as never)).toThrow('scope: expected a function, got the number 3');
  });
});
