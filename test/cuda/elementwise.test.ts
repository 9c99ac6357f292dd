// The cuda elementwise kernels (native/cuda/elementwise.cu) against the CPU's: every (op, dtype) the CPU registers,
// on each of the kernels' paths (contiguous and aligned: vectors; contiguous at an odd offset: element by element;
// broadcast, transposed and sliced views: the strided walk; copy from a transposed view: the shared-memory tiles),
// with odd sizes, several blocks, 0-d and empty tensors, special values (NaN, infinities, signed zeros, integer
// overflow), and the gradients through autograd. Runs where cuda.isAvailable() (TENSILE_EMULATE_CUDA=1: the SIMT
// emulator), skipped elsewhere.
import { describe, it, expect } from 'vitest';
import { tensor, where, cat, full, zeros, cuda } from '../../lib/index.js';
import type { Tensor, DType } from '../../lib/index.js';
import { randArray, expectClose, TOL } from '../helpers.js';

type Dev = 'cpu' | 'cuda';
type FloatDT = 'float32' | 'float64';
const FLOATS: FloatDT[] = ['float32', 'float64'];
const ALL: DType[] = ['float32', 'float64', 'int32', 'uint8'];

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e-30, 25, -25, 2, 0.5, -1, 1];
const INT_SPECIAL = [-2147483648, 2147483647, -1, 0, 1, 2, -2, 65536, 46341, -46341];

// Values for a tensor of n elements: specials first, then seeded random ones (ties common when `ties`).
function values(dtype: DType, n: number, seed: number, ties = false): number[] {
  const r = randArray(n, seed, -3, 3);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = r[i]!;
    if (dtype === 'float32' || dtype === 'float64') out.push(ties ? Math.round(v) : i < SPECIAL.length && seed % 2 === 0 ? SPECIAL[i]! : v);
    else if (dtype === 'int32') out.push(ties ? Math.round(v) : i < INT_SPECIAL.length ? INT_SPECIAL[i]! : Math.trunc(v * 7e8));
    else out.push(ties ? Math.round(v) + 3 : i < 3 ? [0, 255, 128][i]! : Math.trunc((v + 3) * 42.5));
  }
  return out;
}
function mk(vals: number[], shape: number[], dtype: DType, dev: Dev): Tensor {
  return tensor(vals, { shape, dtype, device: dev });
}
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

// A tensor of logical shape `shape`, laid out in one of the ways that select the kernels' paths.
type Layout = 'fresh' | 'offset' | 'transposed' | 'sliced';
function make(layout: Layout, shape: number[], dtype: DType, seed: number, dev: Dev, ties = false): Tensor {
  const n = numel(shape);
  switch (layout) {
    case 'fresh':
      return mk(values(dtype, n, seed, ties), shape, dtype, dev);
    case 'offset':  // a contiguous view one element in: not 16-byte aligned
      return mk(values(dtype, n + 1, seed, ties), [n + 1], dtype, dev).slice(0, 1).reshape(shape);
    case 'transposed': {  // the last two dims swapped
      const s = [...shape];
      [s[s.length - 1], s[s.length - 2]] = [s[s.length - 2]!, s[s.length - 1]!];
      return mk(values(dtype, n, seed, ties), s, dtype, dev).transpose(-2, -1);
    }
    case 'sliced': {  // every other element of the last dim
      const s = [...shape];
      s[s.length - 1] = 2 * s[s.length - 1]!;
      return mk(values(dtype, 2 * n, seed, ties), s, dtype, dev).slice(-1, 0, s[s.length - 1]!, 2);
    }
  }
}

async function host(t: Tensor): Promise<number[]> {
  return Array.from(await t.data(), Number);
}
// The op on cuda against the op on the CPU: exactly (Object.is: NaN matches NaN, 0 does not match -0) or within
// the CPU's tolerances.
async function compare(what: string, f: (dev: Dev) => Tensor, exact: boolean): Promise<void> {
  const c = f('cpu'), g = f('cuda');
  expect(g.device, what).toBe('cuda:0');
  expect(g.dtype, what).toBe(c.dtype);
  expect(g.shape, what).toEqual(c.shape);
  const want = await host(c), got = await host(g);
  if (exact || (c.dtype !== 'float32' && c.dtype !== 'float64')) {
    expect(got.length, what).toBe(want.length);
    const bad = got.findIndex((v, i) => !Object.is(v, want[i]));
    expect(bad, `${what}: at ${bad} got ${got[bad]} expected ${want[bad]}`).toBe(-1);
  } else {
    expectClose(got, want, TOL[c.dtype as FloatDT], what);
  }
}

// Pairs of (layout, shape) operands: one flat vector path (several blocks and a tail), unaligned, broadcast,
// transposed, sliced, scalar, empty.
const PAIRS: [Layout, number[], Layout, number[]][] = [
  ['fresh', [1031], 'fresh', [1031]],
  ['offset', [1031], 'fresh', [1031]],
  ['fresh', [5, 1, 7], 'fresh', [3, 1]],
  ['fresh', [300, 1], 'fresh', [7]],
  ['transposed', [13, 9], 'fresh', [13, 9]],
  ['sliced', [6, 11], 'transposed', [6, 11]],
  ['fresh', [], 'fresh', []],
  ['fresh', [], 'offset', [6]],
  ['fresh', [0, 4], 'fresh', [4]],
];

const ARITH: [string, (a: Tensor, b: Tensor) => Tensor, boolean][] = [
  ['add', (a, b) => a.add(b), true],
  ['sub', (a, b) => a.sub(b), true],
  ['mul', (a, b) => a.mul(b), true],
  ['minimum', (a, b) => a.minimum(b), true],
  ['maximum', (a, b) => a.maximum(b), true],
];
const FLOAT_ARITH: [string, (a: Tensor, b: Tensor) => Tensor, boolean][] = [
  ['div', (a, b) => a.div(b), true],
  ['pow', (a, b) => a.abs().pow(b), false],
];
const COMPARE: [string, (a: Tensor, b: Tensor) => Tensor][] = [
  ['eq', (a, b) => a.eq(b)],
  ['ne', (a, b) => a.ne(b)],
  ['lt', (a, b) => a.lt(b)],
  ['le', (a, b) => a.le(b)],
  ['gt', (a, b) => a.gt(b)],
  ['ge', (a, b) => a.ge(b)],
];
// unary float ops (and the activations whose backward kernels are the *_bwd ops); exact: one rounding
const UNARY: [string, (t: Tensor) => Tensor, boolean][] = [
  ['neg', (t) => t.neg(), true],
  ['abs', (t) => t.abs(), true],
  ['sign', (t) => t.sign(), true],
  ['exp', (t) => t.exp(), false],
  ['log', (t) => t.log(), false],
  ['sqrt', (t) => t.sqrt(), true],
  ['rsqrt', (t) => t.rsqrt(), true],
  ['relu', (t) => t.relu(), true],
  ['leaky_relu', (t) => t.leakyRelu(0.2), true],
  ['elu', (t) => t.elu(1.5), false],
  ['gelu', (t) => t.gelu(), false],
  ['silu', (t) => t.silu(), false],
  ['sigmoid', (t) => t.sigmoid(), false],
  ['tanh', (t) => t.tanh(), false],
  ['softplus', (t) => t.softplus(), false],
  ['clamp', (t) => t.clamp(-0.5, 0.25), true],
  ['clamp (one bound)', (t) => t.clamp(null, 1.5), true],
  ['pow_scalar 2', (t) => t.pow(2), true],
  ['pow_scalar 3', (t) => t.pow(3), false],
  ['pow_scalar -0.5', (t) => t.pow(-0.5), false],
];
const UNARY_LAYOUTS: [Layout, number[]][] = [['fresh', [1031]], ['offset', [1031]], ['transposed', [13, 9]], ['sliced', [5, 12]], ['fresh', []], ['fresh', [0]]];

describe.skipIf(!cuda.isAvailable())('cuda elementwise kernels against the CPU', () => {
  for (const dtype of ALL) {
    const ops = dtype === 'float32' || dtype === 'float64' ? [...ARITH, ...FLOAT_ARITH] : ARITH;
    it(`${dtype}: arithmetic (${ops.map((o) => o[0]).join(', ')}) on every layout`, async () => {
      for (const [name, f, exact] of ops) {
        for (const [la, sa, lb, sb] of PAIRS) {
          await compare(`${name} ${dtype} ${la}${JSON.stringify(sa)} ${lb}${JSON.stringify(sb)}`,
            (dev) => f(make(la, sa, dtype, 2, dev), make(lb, sb, dtype, 5, dev)), exact);
        }
      }
    });
    it(`${dtype}: comparisons into uint8 (ties, NaN) on every layout`, async () => {
      for (const [name, f] of COMPARE) {
        for (const [la, sa, lb, sb] of PAIRS) {
          for (const ties of [true, false]) {
            await compare(`${name} ${dtype} ${la}${JSON.stringify(sa)} ${lb}${JSON.stringify(sb)} ties=${ties}`,
              (dev) => f(make(la, sa, dtype, 4, dev, ties), make(lb, sb, dtype, 6, dev, ties)), true);
          }
        }
      }
    });
  }

  for (const dtype of FLOATS) {
    it(`${dtype}: unary ops (specials, every layout)`, async () => {
      for (const [name, f, exact] of UNARY) {
        for (const [l, s] of UNARY_LAYOUTS) {
          await compare(`${name} ${dtype} ${l}${JSON.stringify(s)}`, (dev) => f(make(l, s, dtype, 8, dev)), exact);
        }
      }
    });
    it(`${dtype}: gradients of the unary ops (the *_bwd kernels) through autograd`, async () => {
      for (const [name, f] of UNARY) {
        if (name === 'sign') continue;  // no gradient (null on the CPU too)
        for (const [l, s] of [['fresh', [1031]], ['transposed', [13, 9]]] as [Layout, number[]][]) {
          await compare(`d ${name} ${dtype} ${l}`, (dev) => {
            const x = mk(values(dtype, numel(s), 3), s, dtype, dev).requiresGrad_();
            const xin = l === 'transposed' ? x.transpose(0, 1).contiguous().transpose(0, 1) : x;
            const y = f(xin);
            y.backward(mk(values(dtype, numel(s), 7), s, dtype, dev));
            return x.grad!;
          }, false);
        }
      }
    });
    it(`${dtype}: gradients of the binary ops through autograd`, async () => {
      for (const [name, f] of [...ARITH, ...FLOAT_ARITH]) {
        for (const tied of [false, true]) {
          await compare(`d ${name} ${dtype} ties=${tied}`, (dev) => {
            const a = mk(values(dtype, 77, 3, tied), [7, 11], dtype, dev).requiresGrad_();
            const b = mk(values(dtype, 77, 5, tied), [7, 11], dtype, dev).requiresGrad_();
            f(a, b).backward(mk(values(dtype, 77, 9), [7, 11], dtype, dev));
            return cat([a.grad!, b.grad!], 0);
          }, false);
        }
      }
    });
  }

  it('int32: neg, abs, sign, relu, clamp (wrapping at INT32_MIN) on every layout', async () => {
    const ops: [string, (t: Tensor) => Tensor][] = [
      ['neg', (t) => t.neg()], ['abs', (t) => t.abs()], ['sign', (t) => t.sign()], ['relu', (t) => t.relu()],
      ['clamp', (t) => t.clamp(-1000000, 300000000)], ['clamp (one bound)', (t) => t.clamp(5)],
    ];
    for (const [name, f] of ops) {
      for (const [l, s] of UNARY_LAYOUTS) {
        await compare(`${name} int32 ${l}${JSON.stringify(s)}`, (dev) => f(make(l, s, 'int32', 8, dev)), true);
      }
    }
  });

  it('int32 clamp with fractional bounds computes in float32', async () => {
    await compare('clamp int32 0.5', (dev) => make('fresh', [37], 'int32', 2, dev).clamp(-0.5, 1e6), true);
  });

  it('where, every dtype: broadcast, transposed, contiguous; a cond of another dtype', async () => {
    for (const dtype of ALL) {
      await compare(`where ${dtype} broadcast`, (dev) =>
        where(make('fresh', [5, 1, 7], 'uint8', 2, dev, true).gt(2), make('fresh', [3, 1], dtype, 3, dev), make('fresh', [7], dtype, 4, dev)), true);
      await compare(`where ${dtype} flat`, (dev) =>
        where(make('fresh', [1031], 'uint8', 2, dev, true).gt(2), make('fresh', [1031], dtype, 3, dev), make('fresh', [1031], dtype, 4, dev)), true);
      await compare(`where ${dtype} unaligned`, (dev) =>
        where(make('offset', [1031], 'uint8', 2, dev, true).gt(2), make('fresh', [1031], dtype, 3, dev), make('offset', [1031], dtype, 4, dev)), true);
      await compare(`where ${dtype} transposed, float cond`, (dev) =>
        where(make('transposed', [9, 13], 'float32', 6, dev, true), make('transposed', [9, 13], dtype, 3, dev), make('sliced', [9, 13], dtype, 4, dev)), true);
      await compare(`where ${dtype} empty`, (dev) =>
        where(make('fresh', [0, 3], 'uint8', 2, dev), make('fresh', [3], dtype, 3, dev), make('fresh', [0, 3], dtype, 4, dev)), true);
    }
  });

  it('fill, every dtype (full, zeros, 0-d, empty)', async () => {
    for (const dtype of ALL) {
      const v = dtype === 'uint8' ? 200 : dtype === 'int32' ? -7 : Math.PI;
      await compare(`full ${dtype}`, (dev) => full([1031], v, { dtype, device: dev }), true);
      await compare(`full ${dtype} 0-d`, (dev) => full([], v, { dtype, device: dev }), true);
      await compare(`full ${dtype} odd`, (dev) => full([3, 5, 7], v, { dtype, device: dev }), true);
      await compare(`zeros ${dtype} empty`, (dev) => zeros([4, 0], { dtype, device: dev }), true);
    }
    await compare('full float32 -0', (dev) => full([5], -0, { device: dev }), true);
  });

  it('copy: casts between all four dtypes, from fresh, unaligned, transposed, permuted and broadcast views', async () => {
    const cast = (t: Tensor, d: DType) => (t.dtype === d ? t.clone() : t.cast(d));
    const sources: [string, (dtype: DType, dev: Dev) => Tensor][] = [
      ['fresh', (dt, dev) => make('fresh', [1031], dt, 1, dev)],
      ['offset', (dt, dev) => make('offset', [1031], dt, 1, dev)],
      ['transposed 37x45', (dt, dev) => make('transposed', [37, 45], dt, 1, dev)],
      ['transposed batched', (dt, dev) => mk(values(dt, 3 * 20 * 33, 1), [3, 20, 33], dt, dev).transpose(1, 2)],
      ['permuted', (dt, dev) => mk(values(dt, 120, 1), [4, 5, 6], dt, dev).permute([2, 0, 1])],
      ['column expanded', (dt, dev) => mk(values(dt, 5, 1), [5, 1], dt, dev).expand([5, 7])],
      ['row expanded', (dt, dev) => mk(values(dt, 7, 1), [1, 7], dt, dev).expand([5, 7])],
      ['sliced', (dt, dev) => make('sliced', [6, 11], dt, 1, dev)],
      ['0-d', (dt, dev) => make('fresh', [], dt, 1, dev)],
      ['empty', (dt, dev) => make('fresh', [0, 3], dt, 1, dev)],
    ];
    for (const src of ALL) {
      for (const dst of ALL) {
        for (const [name, f] of sources) await compare(`copy ${src} -> ${dst} ${name}`, (dev) => cast(f(src, dev), dst), true);
      }
    }
  });

  it('copy: out-of-range and fractional floats into integers convert as on the CPU (x86)', async () => {
    const v = [NaN, 3e9, -3e9, -1.5, -2, -300, 300.7, 1e20, 255.9, 0.99, -0.99, 2147483647.5, -2147483648.5];
    for (const src of FLOATS) {
      for (const dst of ['int32', 'uint8'] as DType[]) {
        await compare(`cast ${src} -> ${dst}`, (dev) => tensor(v, { dtype: src, device: dev }).cast(dst), true);
      }
    }
  });

  it('copy into strided views: cat (fill, then copies into its slices), slice gradients', async () => {
    for (const dtype of ALL) {
      await compare(`cat dim 1 ${dtype}`, (dev) => cat([make('fresh', [4, 3], dtype, 1, dev), make('transposed', [4, 5], dtype, 2, dev), make('sliced', [4, 2], dtype, 3, dev)], 1), true);
      await compare(`cat dim 0 ${dtype}`, (dev) => cat([make('fresh', [3, 3], dtype, 1, dev), make('offset', [5, 3], dtype, 2, dev)], 0), true);
      await compare(`cat dim 1 transposed into a strided view, several tiles ${dtype}`, (dev) =>
        cat([make('transposed', [40, 70], dtype, 1, dev), make('fresh', [40, 3], dtype, 2, dev)], 1), true);
    }
    for (const dtype of FLOATS) {
      await compare(`d slice ${dtype}`, (dev) => {
        const x = mk(values(dtype, 60, 2), [5, 12], dtype, dev).requiresGrad_();
        x.slice(1, 1, 11, 3).backward(mk(values(dtype, 20, 4), [5, 4], dtype, dev));
        return x.grad!;
      }, true);
      await compare(`d cast ${dtype}`, (dev) => {
        const x = mk(values(dtype, 60, 2), [5, 12], dtype, dev).requiresGrad_();
        const other: FloatDT = dtype === 'float32' ? 'float64' : 'float32';
        x.cast(other).backward(mk(values(other, 60, 4), [5, 12], other, dev));
        return x.grad!;
      }, true);
    }
  });
});
