// Arguments of the wrong kind (not a tensor, not an options object, not a list of sizes) and arguments whose shapes
// do not fit each other: every public function answers with a named error, never a TypeError from deep inside and
// never a kernel that reads or writes past a buffer.
import { describe, expect, it } from 'vitest';
import * as T from '../../lib/index.js';

const x4 = () => T.randn([1, 1, 4, 4]);
const BAD: unknown[] = [undefined, null, 3, 'a', {}, [1, 2], () => 0];
const NOT_CALLED = new Set(['Tensor', 'nativeErrorClasses', 'F', 'nn', 'optim', 'data', 'train', 'scope', 'memory', 'emptyCache',
  'sync', 'isa', 'opNames', 'getRngState', 'noGrad', 'enableGrad', 'isGradEnabled', 'fit', 'evaluate', 'predict', 'save', 'load',
  'gradcheck', 'manualSeed', 'setGradEnabled']);

// Calls f with a bad value in each of its first three argument positions (the others: a valid tensor) and returns
// what it threw that is not a TensileError.
async function strays(f: (...a: unknown[]) => unknown): Promise<string[]> {
  const out: string[] = [];
  for (let pos = 0; pos < 3; pos++) {
    for (const b of BAD) {
      const args: unknown[] = [x4(), x4(), x4()];
      args[pos] = b;
      try {
        const r = f(...args);
        if (r instanceof Promise) await r;
        if (r instanceof T.Tensor) await r.data();
      } catch (e) {
        if (!(e instanceof T.TensileError)) out.push(`arg ${pos} = ${String(b)}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    }
  }
  return out;
}

describe('arguments of the wrong kind', () => {
  const top = Object.entries(T).filter(([k, v]) => typeof v === 'function' && !/Error$/.test(k) && !NOT_CALLED.has(k));
  const functional = Object.entries(T.F).filter(([, v]) => typeof v === 'function');
  it.each(top)('%s throws only named errors', async (_name, f) => {
    expect(await strays(f as (...a: unknown[]) => unknown)).toEqual([]);
  });
  it.each(functional)('F.%s throws only named errors', async (_name, f) => {
    expect(await strays(f as (...a: unknown[]) => unknown)).toEqual([]);
  });
  // Tensor methods that take arguments (a listed name that is not a method fails its test: nothing is dropped)
  const methods = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'matmul', 'reshape',
    'view', 'permute', 'transpose', 'slice', 'expand', 'squeeze', 'unsqueeze', 'flatten', 'sum', 'mean', 'max', 'min',
    'maxWithIndices', 'minWithIndices', 'argmax', 'argmin', 'var', 'std', 'logsumexp', 'softmax', 'logSoftmax', 'cast', 'clamp',
    'leakyRelu', 'elu', 'requiresGrad_'];
  it.each(methods)('Tensor.%s throws only named errors', async (m) => {
    expect(typeof (x4() as unknown as Record<string, unknown>)[m], `Tensor.${m}`).toBe('function');
    expect(await strays((...a) => (x4() as unknown as Record<string, (...b: unknown[]) => unknown>)[m]!(...a))).toEqual([]);
  });

  it('names the op, what it wanted and what it got', () => {
    const x = T.randn([2, 3]);
    expect(() => x.add({} as never)).toThrow(T.ArgumentError);
    expect(() => x.add({} as never)).toThrow('add: expected a Tensor or a number, got an object');
    expect(() => T.matmul(x, 3 as never)).toThrow('matmul: expected b to be a Tensor, got the number 3');
    expect(() => T.where(1 as never, x, x)).toThrow('where: expected cond to be a Tensor, got the number 1');
    expect(() => T.cat(x as never)).toThrow('cat: expected tensors to be an array of tensors, got a tensor of shape [2,3] (float32)');
    expect(() => x.sum('a' as never)).toThrow("sum: expected axes to be an array of numbers, got the string 'a'");
    expect(() => T.maxPool2d(x4(), {} as never)).toThrow('max_pool2d: expected options with a kernelSize, got none');
    expect(() => T.conv2d(x4(), T.randn([1, 1, 3, 3]), 5 as never)).toThrow('conv2d: expected bias to be a Tensor, got the number 5');
    expect(() => T.adamStep([x], [x], [x], [x], null, { lr: 1e-3 } as never)).toThrow('adam_: expected beta1 to be a finite number, got undefined');
    expect(() => T.batchNorm(x4(), T.zeros([1]), T.ones([1]), T.ones([1]), T.zeros([1]), {} as never)).toThrow(
      'batch_norm: expected options with training: true or false, got undefined');
  });

  it('conv2d and convTranspose2d take their options in place of the bias', async () => {
    const x = T.randn([2, 3, 6, 6]), w = T.randn([4, 3, 3, 3]);
    const a = await T.conv2d(x, w, { padding: 1, stride: 2 }).data();
    const b = await T.conv2d(x, w, null, { padding: 1, stride: 2 }).data();
    expect(Array.from(a)).toEqual(Array.from(b));
    const wt = T.randn([3, 2, 3, 3]);
    const c = await T.convTranspose2d(x, wt, { stride: 2 }).data();
    const d = await T.convTranspose2d(x, wt, undefined, { stride: 2 }).data();
    expect(Array.from(c)).toEqual(Array.from(d));
  });
});

// Public gradient functions take tensors whose shapes must agree with each other: a mismatch is a ShapeError (the
// kernels trust lib/ for these, and used to read past the smaller buffer).
describe('gradient functions check that their tensors fit together', () => {
  const labels = () => T.tensor([0, 1, 2, 0], { dtype: 'int32' });
  it('crossEntropyBackward', () => {
    expect(() => T.crossEntropyBackward(T.randn([4, 3]), labels(), T.randn([1]), T.randn([4]))).toThrow(
      'cross_entropy_bwd: expected lse of shape [4], got [1]');
    expect(() => T.crossEntropyBackward(T.randn([4, 3]), labels(), T.randn([4]), T.randn([4], { dtype: 'float64' }))).toThrow(T.DTypeError);
  });
  it('batchNormBackward', () => {
    const x = T.randn([4, 2, 8]), c = () => T.randn([2]);
    expect(() => T.batchNormBackward(T.randn([1, 2, 2]), x, c(), c(), c(), true)).toThrow('batch_norm_bwd: expected dy of shape [4,2,8], got [1,2,2]');
    expect(() => T.batchNormBackward(T.randn([4, 2, 8]), x, T.randn([1]), c(), c(), true)).toThrow('batch_norm_bwd: expected weight of shape [2], got [1]');
    expect(() => T.batchNormForward(x, c(), c(), c(), T.randn([3]), { training: true })).toThrow('batch_norm: expected runningVar of shape [2], got [3]');
  });
  it('softmaxBackward', () => {
    expect(() => T.softmaxBackward('softmax_bwd', T.randn([4, 3]), T.randn([2, 3]), 1)).toThrow('softmax_bwd: expected dy of shape [2,3], got [4,3]');
  });
  it('pooling backward', async () => {
    expect(() => T.avgPool2dBackward(T.randn([1, 1, 3, 3]), [1, 1, 4, 4], { kernelSize: 2 })).toThrow(
      'avg_pool2d_bwd: expected dy of shape [1,1,2,2], got [1,1,3,3]');
    expect(() => T.adaptiveAvgPool2dBackward(T.randn([1, 2, 2, 2]), [1, 1, 4, 4])).toThrow(T.ShapeError);
    // max pooling's indices come from the caller: each must point inside its plane (checked by the kernel)
    const idx = T.tensor([[[[0, 1], [2, 1000]]]], { dtype: 'int32' });
    await expect(T.maxPool2dBackward(T.randn([1, 1, 2, 2]), idx, [1, 1, 4, 4]).data()).rejects.toThrow(
      'max_pool2d_bwd: expected indices in [0, 16), got 1000 at position 3');
    const neg = T.tensor([[[[0, -1], [2, 3]]]], { dtype: 'int32' });
    await expect(T.maxPool2dBackward(T.randn([1, 1, 2, 2]), neg, [1, 1, 5, 5]).data()).rejects.toThrow(T.IndexError);
  });
});

// Layers, optimizers and schedulers: their constructors and forward() answer bad arguments with named errors too.
describe('modules, optimizers and schedulers with arguments of the wrong kind', () => {
  const bad: unknown[] = [undefined, null, 'a', {}, -1, 1.5];
  const classes = Object.entries(T.nn).filter(([k, v]) => typeof v === 'function' && /^[A-Z]/.test(k)) as [string, new (...a: unknown[]) => unknown][];
  it.each(classes)('nn.%s', (_name, C) => {
    const strays: string[] = [];
    for (let pos = 0; pos < 3; pos++) {
      for (const b of bad) {
        const args: unknown[] = [4, 4, 3];
        args[pos] = b;
        try {
          const m = new C(...args) as { forward?: (x: unknown) => unknown };
          if (typeof m.forward === 'function') {
            try {
              m.forward(undefined);
            } catch (e) {
              if (!(e instanceof T.TensileError)) strays.push(`forward(undefined): ${(e as Error).message}`);
            }
          }
        } catch (e) {
          if (!(e instanceof T.TensileError)) strays.push(`arg ${pos} = ${String(b)}: ${(e as Error).message}`);
        }
      }
    }
    expect(strays).toEqual([]);
  });
  const opts = Object.entries(T.optim).filter(([k, v]) => typeof v === 'function' && /^[A-Z]/.test(k)) as [string, new (...a: unknown[]) => unknown][];
  it.each(opts)('optim.%s', (_name, C) => {
    const strays: string[] = [];
    for (const b of [undefined, null, 'a', {}, [1], [{ lr: 1 }]]) {
      for (const o of [b, undefined]) {
        try {
          new C(b, o);
        } catch (e) {
          if (!(e instanceof T.TensileError)) strays.push(`${JSON.stringify(b)}: ${(e as Error).message}`);
        }
      }
    }
    expect(strays).toEqual([]);
  });
  it('says what it got', () => {
    expect(() => new T.nn.Sequential(new T.nn.ReLU(), 3 as never)).toThrow('Sequential: expected modules, got the number 3 at position 1');
    expect(() => new T.nn.Conv2d(1, 2, undefined as never)).toThrow('Conv2d: expected a kernelSize, got undefined');
    expect(() => new T.nn.ReLU().forward(undefined as never)).toThrow('relu: expected input to be a Tensor, got undefined');
    expect(() => new T.optim.SGD('a' as never, { lr: 0.1 })).toThrow('SGD: expected an array of parameters or parameter groups, got the string');
    expect(() => new T.optim.StepLR({} as never, { stepSize: 1 })).toThrow('StepLR: expected an optimizer, got an object');
  });
});
