import { describe, it, expect } from 'vitest';
import { rand, randn, randint, manualSeed, getRngState, setRngState, ArgumentError } from '../../lib/index.js';
import { availableIsas, withIsa } from '../helpers.js';

describe('random', () => {
  it('the same seed gives the same stream; state can be saved and restored', async () => {
    manualSeed(123);
    const a = await randn([1000]).data();
    const s = getRngState();
    const b = await rand([10]).data();
    manualSeed(123);
    expect(Array.from(await randn([1000]).data())).toEqual(Array.from(a));
    setRngState(s);
    expect(Array.from(await rand([10]).data())).toEqual(Array.from(b));
  });
  for (const isa of availableIsas()) {
    it(`statistics isa=${isa}: uniform mean 0.5, normal mean 0 std 1, randint in range`, withIsa(isa, async () => {
      manualSeed(1);
      const u = await rand([200000]).data();
      const n = await randn([200000], { dtype: 'float64' }).data();
      const mean = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0) / v.length;
      const lo = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => Math.min(a, b), Infinity);
      const hi = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => Math.max(a, b), -Infinity);
      expect(Math.abs(mean(u) - 0.5)).toBeLessThan(0.005);
      expect(lo(u)).toBeGreaterThanOrEqual(0);
      expect(hi(u)).toBeLessThan(1);
      const m = mean(n);
      expect(Math.abs(m)).toBeLessThan(0.01);
      expect(Math.abs(Math.sqrt(mean(Array.from(n, (x) => (x - m) ** 2))) - 1)).toBeLessThan(0.01);
      const r = await randint(-3, 4, [10000]).data();
      expect(lo(r)).toBe(-3);
      expect(hi(r)).toBe(3);
    }));
  }
  it('results do not depend on the instruction set or thread count', async () => {
    const { setIsa, isa } = await import('../../lib/index.js');
    const best = isa() as 'avx512';
    manualSeed(9);
    const a = Array.from(await randn([5000]).data());
    setIsa('scalar');
    manualSeed(9);
    const b = Array.from(await randn([5000]).data());
    setIsa(best);
    expect(b).toEqual(a);
  });
  it('bad arguments', () => {
    expect(() => manualSeed(-1)).toThrow(ArgumentError);
    expect(() => randint(3, 3, [2])).toThrow('randint: expected integers low < high, got 3 and 3');
  });
});
