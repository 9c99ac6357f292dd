// The remaining exports that no other test checks by behaviour: the error hierarchy, class-name tables, the host
// PRNG, the grad-mode switches, the pooling/flatten/ReLU modules, Parameter, the LRScheduler base class and Accuracy.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  nn, F, optim, data, train, tensor, zeros, noGrad, isGradEnabled, setGradEnabled, Tensor,
  TensileError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError, DisposedError, ArgumentError, NativeError, nativeErrorClasses,
} from '../../lib/index.js';
import { randTensor, expectClose, f64, TOL } from '../helpers.js';
import { covers } from './coverage.js';

covers('TensileError');
covers('MemoryError');
covers('nativeErrorClasses');
covers('data.datasets.DIGIT_CLASSES');
covers('data.datasets.FASHION_MNIST_CLASSES');
covers('data.seededRandom');
covers('isGradEnabled');
covers('setGradEnabled');
covers('nn.AvgPool2d');
covers('nn.MaxPool2d');
covers('nn.Flatten');
covers('nn.ReLU');
covers('nn.Parameter');
covers('nn.isParameter');
covers('optim.lrScheduler.LRScheduler');
covers('train.Accuracy');
covers('train.writeReport');
covers('F.maxPool2d');
covers('F.avgPool2d');
covers('F.relu');
covers('F.softplus');

describe('errors', () => {
  it('every error class is a TensileError (and an Error) whose name is its class name', () => {
    for (const C of [ShapeError, DTypeError, IndexError, DeviceError, MemoryError, DisposedError, ArgumentError, NativeError]) {
      const e = new C('op: expected a, got b');
      expect(e).toBeInstanceOf(TensileError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(C.name);
      expect(e.message).toBe('op: expected a, got b');
    }
    expect(new TensileError('x').name).toBe('TensileError');
    expect(new NativeError('conv2d: bad').code).toBe('conv2d');
    // a real one, thrown by an op
    expect(() => tensor([1, 2]).add(tensor([1, 2, 3]))).toThrow(TensileError);
  });
  it('an allocation the machine cannot hold is a MemoryError naming the size and the device', async () => {
    const run = async () => { const t = zeros([1 << 17, 1 << 20]); await t.data(); };  // 512 GiB: under the 1 TiB a tensor may ask for
    await expect(run()).rejects.toThrow(MemoryError);
    await expect(run()).rejects.toThrow('out of memory allocating 549755813888 bytes on cpu');
    // and the process goes on
    expect(Array.from(await zeros([2]).add(1).data())).toEqual([1, 1]);
  });
  it('nativeErrorClasses lists the classes in the order of native/core ErrKind', () => {
    expect(nativeErrorClasses).toEqual([NativeError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError]);
  });
});

describe('class names and the host PRNG', () => {
  it('DIGIT_CLASSES and FASHION_MNIST_CLASSES are the label names, by label (torchvision\'s order)', () => {
    expect(data.datasets.DIGIT_CLASSES).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(data.datasets.FASHION_MNIST_CLASSES).toEqual(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
  });
  it('seededRandom is mulberry32: the same stream as the published algorithm, in [0, 1), uniform', () => {
    // mulberry32 (Tommy Ettinger), written out from its reference C
    const ref = (seed: number) => {
      let a = seed >>> 0;
      return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let z = a;
        z = Math.imul(z ^ (z >>> 15), 1 | z);
        z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z;
        return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
      };
    };
    for (const seed of [0, 1, 12345, 2 ** 32 - 1]) {
      const r = data.seededRandom(seed), q = ref(seed);
      for (let i = 0; i < 100; i++) expect(r()).toBe(q());
    }
    const r = data.seededRandom(7);
    const xs = Array.from({ length: 20000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((a, b) => a + b, 0) / xs.length - 0.5)).toBeLessThan(0.01);
    expect(data.seededRandom(1)()).not.toBe(data.seededRandom(2)());
  });
});

describe('grad mode', () => {
  it('isGradEnabled is true by default, false inside noGrad; setGradEnabled(false) stops recording until set back', () => {
    expect(isGradEnabled()).toBe(true);
    noGrad(() => expect(isGradEnabled()).toBe(false));
    const x = tensor([1, 2]).requiresGrad_();
    setGradEnabled(false);
    try {
      expect(isGradEnabled()).toBe(false);
      const y = x.mul(2);
      expect(y.requiresGrad).toBe(false);
      expect(y.gradFn).toBe(null);
    } finally {
      setGradEnabled(true);
    }
    expect(isGradEnabled()).toBe(true);
    expect(x.mul(2).requiresGrad).toBe(true);
  });
});

// pooling over [N,C,H,W] by the definition: windows of k at stride s over the input padded by p
function refPool(xv: Float64Array, [N, C, H, W]: number[], k: number, s: number, p: number, kind: 'max' | 'avg', countIncludePad = true) {
  const OH = Math.floor((H! + 2 * p - k) / s) + 1, OW = Math.floor((W! + 2 * p - k) / s) + 1;
  const y: number[] = [];
  for (let nc = 0; nc < N! * C!; nc++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let m = -Infinity, sum = 0, cnt = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
      const h = oh * s - p + i, w = ow * s - p + j;
      if (h < 0 || h >= H! || w < 0 || w >= W!) continue;
      const v = xv[(nc * H! + h) * W! + w]!;
      m = Math.max(m, v);
      sum += v;
      cnt++;
    }
    y.push(kind === 'max' ? m : sum / (countIncludePad ? k * k : cnt));
  }
  return { y, shape: [N!, C!, OH, OW] };
}

describe('nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.ReLU', () => {
  for (const [k, s, p] of [[2, 2, 0], [3, 2, 1]]) {
    it(`MaxPool2d(${k}, stride ${s}, padding ${p}) x=[2,3,7,6] float64: the functional op and the window maximum`, async () => {
      const [x, xv] = randTensor([2, 3, 7, 6], 91, 'float64');
      const y = new nn.MaxPool2d(k, { stride: s, padding: p }).forward(x);
      const r = refPool(xv, [2, 3, 7, 6], k, s, p, 'max');
      expect(y.shape).toEqual(r.shape);
      expect(Array.from(await y.data())).toEqual(Array.from(await F.maxPool2d(x, { kernelSize: k, stride: s, padding: p }).data()));
      expect(Array.from(await f64(y))).toEqual(r.y);
    });
    for (const cip of [true, false]) {
      it(`AvgPool2d(${k}, stride ${s}, padding ${p}, countIncludePad ${cip}) x=[2,3,7,6] float64: the functional op and the window mean`, async () => {
        const [x, xv] = randTensor([2, 3, 7, 6], 92, 'float64');
        const y = new nn.AvgPool2d(k, { stride: s, padding: p, countIncludePad: cip }).forward(x);
        const r = refPool(xv, [2, 3, 7, 6], k, s, p, 'avg', cip);
        expect(y.shape).toEqual(r.shape);
        expect(Array.from(await y.data())).toEqual(Array.from(await F.avgPool2d(x, { kernelSize: k, stride: s, padding: p, countIncludePad: cip }).data()));
        expectClose(await f64(y), r.y, TOL.float64, 'avg pool');
      });
    }
  }
  it('MaxPool2d(2) and AvgPool2d(2) default the stride to the kernel size (PyTorch)', () => {
    expect(new nn.MaxPool2d(2).forward(zeros([1, 1, 8, 6])).shape).toEqual([1, 1, 4, 3]);
    expect(new nn.AvgPool2d(2).forward(zeros([1, 1, 8, 6])).shape).toEqual([1, 1, 4, 3]);
  });
  it('Flatten() keeps dim 0 and flattens the rest in row-major order; Flatten(0, 1) merges the first two', async () => {
    const x = tensor(Float64Array.from({ length: 24 }, (_, i) => i), { shape: [2, 3, 4] });
    const y = new nn.Flatten().forward(x);
    expect(y.shape).toEqual([2, 12]);
    expect(Array.from(await y.data())).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect(new nn.Flatten(0, 1).forward(x).shape).toEqual([6, 4]);
    expect(new nn.Flatten(1, 1).forward(x).shape).toEqual([2, 3, 4]);
  });
  it('ReLU: max(x, 0), the functional op, gradient 1 where x > 0', async () => {
    const x = tensor([-2, -0.5, 0, 0.5, 3], { dtype: 'float64' }).requiresGrad_();
    const y = new nn.ReLU().forward(x);
    expect(Array.from(await y.data())).toEqual([0, 0, 0, 0.5, 3]);
    expect(Array.from(await y.data())).toEqual(Array.from(await F.relu(x).data()));
    y.sum().backward();
    expect(Array.from(await x.grad!.data())).toEqual([0, 0, 0, 1, 1]);
  });
  it('F.softplus: log(1 + exp(x)), stable for large |x| (x for x = 800, exp(x) for x = -800)', async () => {
    const xs = [-800, -20, -1, 0, 0.5, 3, 20, 800];
    const y = await f64(F.softplus(tensor(xs, { dtype: 'float64' })));
    expectClose(y, xs.map((v) => (v > 30 ? v : Math.log1p(Math.exp(v)))), TOL.float64, 'softplus');
    expect(y[0]).toBeGreaterThanOrEqual(0);
  });
});

describe('nn.Parameter and nn.isParameter', () => {
  it('Parameter marks the tensor itself as a trainable leaf; isParameter tells it from a tensor that only requires grad', () => {
    const t = zeros([2]);
    const p = nn.Parameter(t);
    expect(p).toBe(t);
    expect(p.requiresGrad).toBe(true);
    expect(nn.isParameter(p)).toBe(true);
    expect(nn.isParameter(zeros([2]).requiresGrad_())).toBe(false);
    expect(nn.isParameter(zeros([2]))).toBe(false);
    expect(nn.isParameter(p.mul(2))).toBe(false);
  });
  it('a module finds Parameters among its properties, not other tensors', () => {
    class M extends nn.Module {
      w = nn.Parameter(zeros([3]));
      notParam = zeros([3]).requiresGrad_();
      forward(x: Tensor) { return x.mul(this.w); }
    }
    const m = new M();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['w']);
    expect(() => nn.Parameter([1] as unknown as Tensor)).toThrow(ArgumentError);
    expect(() => nn.Parameter([1] as unknown as Tensor)).toThrow('Parameter: expected its argument to be a Tensor, got an array of length 1');
  });
});

describe('optim.lrScheduler.LRScheduler', () => {
  it('a subclass defines lrAt(epoch, base, group); step() advances lastEpoch and sets every group from its base lr', () => {
    class Halving extends optim.lrScheduler.LRScheduler {
      protected lrAt(e: number, base: number, i: number) { return base / 2 ** e + i; }
    }
    const o = new optim.SGD([{ params: [zeros([1]).requiresGrad_()] }, { params: [zeros([1]).requiresGrad_()], lr: 4 }], { lr: 1 });
    const s = new Halving(o);
    expect(s.baseLrs).toEqual([1, 4]);
    expect(s.lastEpoch).toBe(0);
    s.step();
    s.step();
    expect(s.lastEpoch).toBe(2);
    expect(o.paramGroups.map((g) => g.lr)).toEqual([0.25, 2]);
    expect(s.getLastLr()).toEqual([0.25, 2]);
    expect(s.stateDict()).toEqual({ lastEpoch: 2, baseLrs: [1, 4] });
    expect(new optim.StepLR(o, { stepSize: 1 })).toBeInstanceOf(optim.lrScheduler.LRScheduler);
  });
});

describe('train.Accuracy', () => {
  it('the fraction of argmax(logits) == label over all updates; reset starts again; NaN before any update', async () => {
    const a = new train.Accuracy();
    expect(a.name).toBe('accuracy');
    expect(Number.isNaN(await a.result())).toBe(true);
    a.update(tensor([[0.1, 0.9], [2, 1], [0, 3]]), tensor(Int32Array.from([1, 1, 1])));  // 2 of 3
    a.update(tensor([[5, 1]]), tensor(Int32Array.from([0])));                            // 1 of 1
    expect(await a.result()).toBe(3 / 4);
    a.reset();
    a.update(tensor([[1, 0]]), tensor(Int32Array.from([1])));
    expect(await a.result()).toBe(0);
  });
});

describe('train.writeReport', () => {
  it('writes renderReport\'s HTML to the path, through a temporary file that does not stay behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-report-'));
    const input = {
      history: { epochs: [1, 2].map((e) => ({ epoch: e, loss: 1 / e, accuracy: 0.5 + e / 10, seconds: 2, samplesPerSecond: 100 })), steps: [], interrupted: false },
      modelSummary: 'Linear(2, 2)', confusion: [[3, 1], [0, 4]], classNames: ['a', 'b'],
    };
    const path = join(dir, 'report.html');
    await train.writeReport(path, input);
    expect(readFileSync(path, 'utf8')).toBe(train.renderReport(input));
    expect(readdirSync(dir)).toEqual(['report.html']);
  });
});
