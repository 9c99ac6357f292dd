// nn.init against torch.nn.init's formulas: the bound of each uniform, the std of each normal, and the fans
// (fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field). The shapes are chosen so that
// fan_in and fan_out differ by 2x or more, so a wrong fan mode, a missing receptive field or a wrong gain moves the
// bound or the std well outside the statistical tolerances.
import { describe, it, expect } from 'vitest';
import { nn, zeros, tensor, manualSeed, Tensor, ArgumentError } from '../../lib/index.js';
import { f64 } from '../helpers.js';
import { covers } from './coverage.js';

covers('nn.init.uniform_');
covers('nn.init.normal_');
covers('nn.init.constant_');
covers('nn.init.zeros_');
covers('nn.init.ones_');
covers('nn.init.xavierUniform_');
covers('nn.init.xavierNormal_');
covers('nn.init.kaimingUniform_');
covers('nn.init.kaimingNormal_');
covers('nn.init.fanIn');

const { init } = nn;

function moments(v: Float64Array) {
  let s = 0, q = 0, maxAbs = 0, min = Infinity, max = -Infinity;
  for (const x of v) { s += x; maxAbs = Math.max(maxAbs, Math.abs(x)); min = Math.min(min, x); max = Math.max(max, x); }
  const mean = s / v.length;
  for (const x of v) q += (x - mean) ** 2;
  return { mean, std: Math.sqrt(q / (v.length - 1)), maxAbs, min, max, n: v.length };
}
// U(-b, b) with n >= 4096 draws: every value within the bound, the largest |w| above 0.99 b (P(fail) = 0.99^n < 1e-17),
// std b/sqrt(3) within 4% (about 6 standard errors), mean 0 within 6 standard errors
async function expectUniform(t: Tensor, b: number, what: string) {
  const m = moments(await f64(t));
  expect(m.n, what).toBeGreaterThanOrEqual(4096);
  expect(m.maxAbs, `${what}: max |w| <= bound ${b}`).toBeLessThanOrEqual(b * (1 + 1e-6));
  expect(m.maxAbs, `${what}: max |w| near bound ${b}`).toBeGreaterThan(0.99 * b);
  expect(Math.abs(m.std / (b / Math.sqrt(3)) - 1), `${what}: std ${m.std} vs ${b / Math.sqrt(3)}`).toBeLessThan(0.04);
  expect(Math.abs(m.mean), what).toBeLessThan((6 * b) / Math.sqrt(3 * m.n));
}
// N(0, s): std within 4%, mean within 6 standard errors
async function expectNormal(t: Tensor, s: number, what: string, mean = 0) {
  const m = moments(await f64(t));
  expect(m.n, what).toBeGreaterThanOrEqual(4096);
  expect(Math.abs(m.std / s - 1), `${what}: std ${m.std} vs ${s}`).toBeLessThan(0.04);
  expect(Math.abs(m.mean - mean), what).toBeLessThan((6 * s) / Math.sqrt(m.n));
  // a normal, not a uniform of that std: some draws beyond 2.5 std (P(|z| > 2.5) = 1.2%)
  const tail = Array.from(await f64(t)).filter((x) => Math.abs(x - mean) > 2.5 * s).length;
  expect(tail / m.n, `${what}: tail mass`).toBeGreaterThan(0.006);
}

// [out, in] Linear weight: fanIn = 256, fanOut = 32; [out, in, kh, kw] conv weight: fanIn = 16*9 = 144, fanOut = 64*9 = 576
const LINEAR = [32, 256], CONV = [64, 16, 3, 3];
const FANS: [string, number[], number, number][] = [['Linear [32,256]', LINEAR, 256, 32], ['Conv [64,16,3,3]', CONV, 144, 576]];

describe('nn.init fans', () => {
  for (const [name, shape, fi] of FANS) {
    it(`fanIn of a ${name} weight is shape[1] * receptive field = ${fi}`, () => {
      expect(init.fanIn(zeros(shape))).toBe(fi);
    });
  }
  it('fans of a tensor with fewer than 2 dims are an ArgumentError with the shape', () => {
    expect(() => init.fanIn(zeros([5]))).toThrow(ArgumentError);
    expect(() => init.fanIn(zeros([5]))).toThrow('init: expected a tensor with at least 2 dims for fan computation, got shape [5]');
    expect(() => init.xavierUniform_(zeros([5]))).toThrow('got shape [5]');
    expect(() => init.kaimingNormal_(zeros([]))).toThrow('got shape []');
  });
});

describe('nn.init uniform_, normal_, constant_, zeros_, ones_', () => {
  it('uniform_(t, -0.3, 0.7) on [64,64]: every value in [-0.3, 0.7), mean 0.2, std 1/sqrt(12)', async () => {
    manualSeed(1);
    const t = zeros([64, 64]);
    expect(init.uniform_(t, -0.3, 0.7)).toBe(t);
    const m = moments(await f64(t));
    expect(m.min).toBeGreaterThanOrEqual(-0.3);
    expect(m.max).toBeLessThan(0.7);
    expect(m.min).toBeLessThan(-0.29);
    expect(m.max).toBeGreaterThan(0.69);
    expect(Math.abs(m.mean - 0.2)).toBeLessThan(6 / Math.sqrt(12 * 4096));
    expect(Math.abs(m.std * Math.sqrt(12) - 1)).toBeLessThan(0.04);
  });
  it('uniform_ default is U(0, 1)', async () => {
    manualSeed(2);
    const m = moments(await f64(init.uniform_(zeros([4096]))));
    expect(m.min).toBeGreaterThanOrEqual(0);
    expect(m.max).toBeLessThan(1);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.03);
  });
  it('uniform_ on a float64 tensor draws float64 values (not float32 ones widened)', async () => {
    manualSeed(4);
    const v = await f64(init.uniform_(zeros([256], { dtype: 'float64' }), -1, 1));
    expect(v.filter((x) => x !== Math.fround(x)).length).toBeGreaterThan(250);
  });
  it('normal_(t, 3, 0.5) on [64,64] float64: mean 3, std 0.5; default N(0, 1)', async () => {
    manualSeed(3);
    const t = zeros([64, 64], { dtype: 'float64' });
    expect(init.normal_(t, 3, 0.5)).toBe(t);
    expect(t.dtype).toBe('float64');
    await expectNormal(t, 0.5, 'normal_(3, 0.5)', 3);
    await expectNormal(init.normal_(zeros([64, 64])), 1, 'normal_ default');
  });
  it('constant_, zeros_, ones_ fill in place, through views too, keeping the dtype', async () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]], { dtype: 'float64' });
    expect(init.constant_(t, 0.1)).toBe(t);
    expect(Array.from(await t.data())).toEqual(new Array(6).fill(0.1));
    init.zeros_(t.slice(1, 0, 1));  // column 0
    expect(await t.toArray()).toEqual([[0, 0.1, 0.1], [0, 0.1, 0.1]]);
    init.ones_(t.slice(0, 1, 2));   // row 1
    expect(await t.toArray()).toEqual([[0, 0.1, 0.1], [1, 1, 1]]);
    const i = tensor([7, 8], { dtype: 'int32' });
    init.constant_(i, 3);
    expect(i.dtype).toBe('int32');
    expect(Array.from(await i.data())).toEqual([3, 3]);
  });
  it('on a Parameter: values change in place, no graph is recorded, and it still trains', async () => {
    const p = nn.Parameter(zeros([3, 4]));
    init.kaimingUniform_(p);
    init.normal_(p);
    expect(p.requiresGrad).toBe(true);
    expect(p.gradFn).toBe(null);
    expect(p.isLeaf).toBe(true);
    p.sum().backward();
    expect(Array.from(await p.grad!.data())).toEqual(new Array(12).fill(1));
  });
  it('the same seed gives the same values', async () => {
    const draw = async () => {
      manualSeed(42);
      return [Array.from(await init.uniform_(zeros([50])).data()), Array.from(await init.kaimingNormal_(zeros([5, 10])).data())];
    };
    expect(await draw()).toEqual(await draw());
  });
});

describe('nn.init xavier (Glorot)', () => {
  for (const [name, shape, fi, fo] of FANS) {
    for (const gain of [1, 2]) {
      it(`xavierUniform_ ${name} gain ${gain}: U(-a, a), a = gain*sqrt(6/(fanIn+fanOut)) = ${(gain * Math.sqrt(6 / (fi + fo))).toFixed(4)}`, async () => {
        manualSeed(10 + gain);
        const t = zeros(shape);
        expect(init.xavierUniform_(t, gain)).toBe(t);
        await expectUniform(t, gain * Math.sqrt(6 / (fi + fo)), 'xavierUniform_');
      });
      it(`xavierNormal_ ${name} gain ${gain}: N(0, gain*sqrt(2/(fanIn+fanOut))) = ${(gain * Math.sqrt(2 / (fi + fo))).toFixed(4)}`, async () => {
        manualSeed(20 + gain);
        const t = zeros(shape);
        expect(init.xavierNormal_(t, gain)).toBe(t);
        await expectNormal(t, gain * Math.sqrt(2 / (fi + fo)), 'xavierNormal_');
      });
    }
  }
});

describe('nn.init kaiming (He)', () => {
  // torch.nn.init.calculate_gain
  const GAINS: [string, { a?: number; nonlinearity?: 'relu' | 'leaky_relu' | 'linear' | 'sigmoid' | 'tanh' | 'selu' }, number][] = [
    ['default (leaky_relu, a=0)', {}, Math.SQRT2],
    ['relu', { nonlinearity: 'relu' }, Math.SQRT2],
    ['leaky_relu a=0.2', { nonlinearity: 'leaky_relu', a: 0.2 }, Math.sqrt(2 / 1.04)],
    ['a=sqrt(5) (the Linear/Conv default)', { a: Math.sqrt(5) }, Math.sqrt(1 / 3)],
    ['linear', { nonlinearity: 'linear' }, 1],
    ['sigmoid', { nonlinearity: 'sigmoid' }, 1],
    ['tanh', { nonlinearity: 'tanh' }, 5 / 3],
    ['selu', { nonlinearity: 'selu' }, 3 / 4],
  ];
  for (const [name, shape, fi, fo] of FANS) {
    for (const mode of [undefined, 'fanIn', 'fanOut'] as const) {
      const fan = mode === 'fanOut' ? fo : fi;
      for (const [gname, o, gain] of GAINS) {
        if (mode !== undefined && gname !== 'relu' && gname !== 'default (leaky_relu, a=0)') continue;
        it(`kaimingUniform_ ${name} mode ${mode ?? 'default (fanIn)'} ${gname}: U(-b, b), b = gain*sqrt(3/${fan})`, async () => {
          manualSeed(30);
          const t = zeros(shape);
          expect(init.kaimingUniform_(t, { ...o, mode })).toBe(t);
          await expectUniform(t, gain * Math.sqrt(3 / fan), 'kaimingUniform_');
        });
        it(`kaimingNormal_ ${name} mode ${mode ?? 'default (fanIn)'} ${gname}: N(0, gain/sqrt(${fan}))`, async () => {
          manualSeed(31);
          const t = zeros(shape);
          expect(init.kaimingNormal_(t, { ...o, mode })).toBe(t);
          await expectNormal(t, gain / Math.sqrt(fan), 'kaimingNormal_');
        });
      }
    }
  }
  it('an unknown mode or nonlinearity is an ArgumentError (PyTorch raises), not a silent default', () => {
    const t = zeros([4, 4]);
    const badMode = { mode: 'fan_out' } as unknown as { mode: 'fanOut' };
    expect(() => init.kaimingUniform_(t, badMode)).toThrow(ArgumentError);
    expect(() => init.kaimingUniform_(t, badMode)).toThrow("kaimingUniform_: expected mode 'fanIn' or 'fanOut', got the string 'fan_out'");
    expect(() => init.kaimingNormal_(t, badMode)).toThrow("kaimingNormal_: expected mode 'fanIn' or 'fanOut', got the string 'fan_out'");
    const badNl = { nonlinearity: 'gelu' } as unknown as { nonlinearity: 'relu' };
    expect(() => init.kaimingNormal_(t, badNl)).toThrow("kaimingNormal_: expected nonlinearity 'relu', 'leaky_relu', 'linear', 'sigmoid', 'tanh' or 'selu', got the string 'gelu'");
    expect(() => init.kaimingUniform_(t, 'relu' as unknown as object)).toThrow('kaimingUniform_: expected an options object, got the string \'relu\'');
  });
});

describe('default initialisation of Linear and Conv2d (PyTorch: kaiming_uniform_(a=sqrt(5)), bias U(+-1/sqrt(fanIn)))', () => {
  it('nn.Linear(256, 32): weight and bias bounded by 1/sqrt(256) = 1/16, the weight filling it', async () => {
    manualSeed(5);
    const l = new nn.Linear(256, 32);
    await expectUniform(l.weight, 1 / 16, 'Linear weight');
    const b = moments(await f64(l.bias!));
    expect(b.maxAbs).toBeLessThanOrEqual(1 / 16);
    expect(b.maxAbs).toBeGreaterThan(0.5 / 16);  // 32 draws: P(all within half the bound) = 2^-32
  });
  it('nn.Conv2d(16, 64, 3): weight and bias bounded by 1/sqrt(16*9) = 1/12', async () => {
    manualSeed(6);
    const c = new nn.Conv2d(16, 64, 3);
    await expectUniform(c.weight, 1 / 12, 'Conv2d weight');
    const b = moments(await f64(c.bias!));
    expect(b.maxAbs).toBeLessThanOrEqual(1 / 12);
    expect(b.maxAbs).toBeGreaterThan(0.5 / 12);
  });
});
