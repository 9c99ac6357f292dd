import { describe, it, expect } from 'vitest';
import { nn, optim, F, tensor, randn, randint, zeros, manualSeed, noGrad, Tensor, ArgumentError, ShapeError, sync } from '../../lib/index.js';
import { expectClose, f64 } from '../helpers.js';
import { tfjs } from '../tfjs.js';

describe('nn.Sequential fusions', () => {
  // Conv2d/Linear + ReLU run as one fused op, and ReLU + MaxPool2d as MaxPool2d + ReLU: the same values and the
  // same gradients, bit for bit, as the modules called one by one.
  for (const dtype of ['float64', 'float32'] as const) {
    it(`gives what the modules give one by one (${dtype})`, async () => {
      manualSeed(7);
      const seq = new nn.Sequential(
        new nn.Conv2d(2, 4, 3, { padding: 1, dtype }), new nn.ReLU(), new nn.MaxPool2d(2),
        new nn.Conv2d(4, 5, 3, { dtype }), new nn.ReLU(), new nn.Flatten(),
        new nn.Linear(5 * 2 * 2, 6, { dtype }), new nn.ReLU(), new nn.Linear(6, 3, { dtype }));
      const x = randn([3, 2, 8, 8], { dtype });
      const run = (fused: boolean) => {
        seq.zeroGrad();
        let y = x;
        if (fused) y = seq.forward(x);
        else for (const m of seq.layers) y = m.forward(y);
        y.mul(randn(y.shape, { dtype }).detach()).sum().backward();
        return y;
      };
      manualSeed(1);
      const yf = await run(true).data();
      const gf = await Promise.all(seq.parameters().map((p) => p.grad!.data()));
      manualSeed(1);
      const yu = await run(false).data();
      const gu = await Promise.all(seq.parameters().map((p) => p.grad!.data()));
      expect(Array.from(yf)).toEqual(Array.from(yu));
      gf.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(gu[i]!)));
      expect(gf.some((g) => g.some((v) => v !== 0))).toBe(true);
    });
  }
  it('leaves subclasses with their own forward alone', async () => {
    class Shifted extends nn.ReLU { forward(x: Tensor) { return x.relu().add(1); } }
    const lin = new nn.Linear(3, 2);
    const x = randn([4, 3]);
    const y = await new nn.Sequential(lin, new Shifted()).forward(x).data();
    const ref = await lin.forward(x).relu().add(1).data();
    expect(Array.from(y)).toEqual(Array.from(ref));
  });
});

describe('nn.Module', () => {
  class Net extends nn.Module {
    conv = new nn.Conv2d(1, 4, 3, { padding: 1 });
    bn = new nn.BatchNorm2d(4);
    head = new nn.Sequential(new nn.Flatten(), new nn.Dropout(0.5), new nn.Linear(4 * 8 * 8, 3));
    forward(x: Tensor) {
      return this.head.forward(this.bn.forward(this.conv.forward(x)).relu());
    }
  }
  it('finds parameters, buffers and children by property, with dotted names', () => {
    const m = new Net();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['conv.weight', 'conv.bias', 'bn.weight', 'bn.bias', 'head.2.weight', 'head.2.bias']);
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['bn.running_mean', 'bn.running_var', 'bn.num_batches_tracked']);
    expect(m.children().length).toBe(3);
    expect(m.modules().length).toBe(7);
    expect(Object.keys(m.stateDict())).toHaveLength(9);
    expect(m.parameters().reduce((a, p) => a + p.numel, 0)).toBe(4 * 9 + 4 + 4 + 4 + 256 * 3 + 3);
  });
  it('prints like PyTorch, with the parameter count', () => {
    const s = String(new Net());
    expect(s).toContain('(conv): Conv2d(1, 4, kernelSize=3, padding=1)');
    expect(s).toContain('(2): Linear(inFeatures=256, outFeatures=3, bias=true)');
    expect(s).toContain('[819 parameters]');
  });
  it('train/eval switch dropout and batch norm behaviour', async () => {
    manualSeed(1);
    const m = new Net();
    const x = randn([2, 1, 8, 8]);
    m.eval();
    const a = await m.forward(x).data(), b = await m.forward(x).data();
    expect(Array.from(a)).toEqual(Array.from(b));  // deterministic in eval
    m.train();
    const before = await m.bn.runningMean.data();
    m.forward(x);
    expect(Array.from(await m.bn.runningMean.data())).not.toEqual(Array.from(before));
  });
  it('the same seed gives the same model (PyTorch default init from the seeded generator)', async () => {
    manualSeed(7);
    const a = new nn.Linear(5, 3);
    manualSeed(7);
    const b = new nn.Linear(5, 3);
    expect(Array.from(await a.weight.data())).toEqual(Array.from(await b.weight.data()));
    const w = await a.weight.data();
    const bound = 1 / Math.sqrt(5);  // kaiming_uniform(a=sqrt(5)) on fan_in 5
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(bound);
  });
  it('loadStateDict copies values, checks keys (strict) and shapes', async () => {
    const a = new nn.Linear(3, 2), b = new nn.Linear(3, 2);
    b.loadStateDict(a.stateDict());
    expect(Array.from(await b.weight.data())).toEqual(Array.from(await a.weight.data()));
    expect(() => b.loadStateDict({ weight: a.weight })).toThrow(ArgumentError);
    expect(b.loadStateDict({ weight: a.weight }, { strict: false }).missing).toEqual(['bias']);
    expect(() => b.loadStateDict({ weight: zeros([2, 4]), bias: zeros([2]) })).toThrow(ShapeError);
  });
});

// The model runs in float64 so that the comparison measures the fused update itself, not float32 rounding (the
// float32 kernels are checked against the same references in test/ops/optim.test.ts).
describe('optimizers on a real model: fused kernels vs plain TypeScript references, 100 steps', () => {
  // reference implementations written from torch.optim's algorithm boxes, run in float64 on the host
  function refAdam(ps: Float64Array[], gs: Float64Array[][], lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean) {
    const m = ps.map((p) => new Float64Array(p.length)), v = ps.map((p) => new Float64Array(p.length));
    gs.forEach((step, t0) => {
      const t = t0 + 1;
      ps.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) {
          let g = step[k]![i]!;
          if (decoupled) p[i] *= 1 - lr * wd; else g += wd * p[i]!;
          m[k]![i] = b1 * m[k]![i]! + (1 - b1) * g;
          v[k]![i] = b2 * v[k]![i]! + (1 - b2) * g * g;
          p[i] -= (lr / (1 - b1 ** t)) * m[k]![i]! / (Math.sqrt(v[k]![i]! / (1 - b2 ** t)) + eps);
        }
      });
    });
  }
  function refSgd(ps: Float64Array[], gs: Float64Array[][], lr: number, mom: number, wd: number, nesterov: boolean) {
    const buf = ps.map((p) => new Float64Array(p.length));
    gs.forEach((step, t) => ps.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) {
        let g = step[k]![i]! + wd * p[i]!;
        buf[k]![i] = t === 0 ? g : mom * buf[k]![i]! + g;
        g = nesterov ? g + mom * buf[k]![i]! : buf[k]![i]!;
        p[i] -= lr * g;
      }
    }));
  }
  const cases: [string, (ps: Tensor[]) => optim.Optimizer<{ lr: number }>, (p: Float64Array[], g: Float64Array[][]) => void][] = [
    ['Adam', (ps) => new optim.Adam(ps, { lr: 1e-3, weightDecay: 1e-4 }), (p, g) => refAdam(p, g, 1e-3, 0.9, 0.999, 1e-8, 1e-4, false)],
    ['AdamW', (ps) => new optim.AdamW(ps, { lr: 1e-3 }), (p, g) => refAdam(p, g, 1e-3, 0.9, 0.999, 1e-8, 0.01, true)],
    ['SGD nesterov', (ps) => new optim.SGD(ps, { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }), (p, g) => refSgd(p, g, 0.01, 0.9, 5e-4, true)],
  ];
  for (const [name, make, ref] of cases) {
    it(`${name}: fused and reference agree to 1e-6 relative over 100 steps`, async () => {
      manualSeed(3);
      const model = new nn.Sequential(new nn.Conv2d(1, 4, 3, { dtype: 'float64' }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 6 * 6, 5, { dtype: 'float64' }));
      for (const p of model.parameters()) p.requiresGrad_(true);
      const params = model.parameters();
      const init = await Promise.all(params.map((p) => f64(p)));
      const opt = make(params);
      const grads: Float64Array[][] = [];
      for (let s = 0; s < 100; s++) {
        const x = randn([8, 1, 8, 8], { dtype: 'float64' }), y = randint(0, 5, [8]);
        const loss = F.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        loss.backward();
        grads.push(await Promise.all(params.map((p) => f64(p.grad!))));
        opt.step();
      }
      const refParams = init.map((a) => a.slice());
      ref(refParams, grads);
      for (let k = 0; k < params.length; k++) expectClose(await f64(params[k]!), refParams[k]!, { rtol: 1e-6, atol: 1e-7 }, `param ${k}`);
    });
  }
  it('parameter groups keep their own options; stateDict round-trips', async () => {
    const a = new nn.Linear(2, 2), b = new nn.Linear(2, 2);
    const opt = new optim.SGD([{ params: a.parameters() }, { params: b.parameters(), lr: 0.5 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);
    expect(() => new optim.Adam([])).toThrow(ArgumentError);
    expect(() => new optim.Adam(a.parameters(), { lr: -1 })).toThrow('Adam: expected lr >= 0, got -1');
    const sd = opt.stateDict();
    expect(sd.paramGroups[1]!['params']).toEqual([2, 3]);
  });
  it('schedulers follow their closed forms', () => {
    const p = [zeros([1]).requiresGrad_()];
    const o1 = new optim.SGD(p, { lr: 1 });
    const s1 = new optim.StepLR(o1, { stepSize: 2, gamma: 0.5 });
    const lrs = [];
    for (let i = 0; i < 5; i++) { s1.step(); lrs.push(o1.paramGroups[0]!.lr); }
    expect(lrs).toEqual([1, 0.5, 0.5, 0.25, 0.25]);
    const o2 = new optim.SGD(p, { lr: 1 });
    const s2 = new optim.CosineAnnealingLR(o2, { tMax: 4 });
    for (let i = 0; i < 4; i++) s2.step();
    expect(o2.paramGroups[0]!.lr).toBeCloseTo(0, 12);
    const o3 = new optim.SGD(p, { lr: 1 });
    const s3 = new optim.ReduceLROnPlateau(o3, { patience: 1, factor: 0.5 });
    for (const m of [1, 1, 1, 1]) s3.stepWith(m);
    expect(o3.paramGroups[0]!.lr).toBe(0.5);
    const o4 = new optim.SGD(p, { lr: 0.01 });
    const s4 = new optim.OneCycleLR(o4, { maxLr: 0.1, totalSteps: 100 });
    let peak = 0;
    for (let i = 0; i < 99; i++) { s4.step(); peak = Math.max(peak, o4.paramGroups[0]!.lr); }
    expect(peak).toBeCloseTo(0.1, 10);
    expect(o4.paramGroups[0]!.lr).toBeLessThan(1e-5);
  });
  it('clipGradNorm scales gradients to the max norm', async () => {
    const w = tensor([3, 4]).requiresGrad_();
    w.grad = tensor([3, 4]);
    const n = nn.utils.clipGradNorm([w], 1);
    expect(await n.item()).toBeCloseTo(5, 5);
    expectClose(await f64(w.grad), [0.6, 0.8], { rtol: 1e-5, atol: 1e-6 }, 'clipped');
  });
});

describe('a whole model against tfjs (tf.grads) on the same weights and input', () => {
  it('conv + maxpool + batchnorm + linear + cross-entropy gradients agree to 1e-4 relative', async () => {
    const tf = await tfjs();
    manualSeed(11);
    const conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
    const bn = new nn.BatchNorm2d(4);
    const fc = new nn.Linear(4 * 3 * 3, 5);
    const x = randn([6, 2, 6, 6]);
    const labels = [0, 1, 2, 3, 4, 0];
    const y = tensor(Int32Array.from(labels));
    const forward = () => F.crossEntropy(fc.forward(F.maxPool2d(bn.forward(conv.forward(x)).relu(), { kernelSize: 2 }).flatten(1)), y);
    const loss = forward();
    loss.backward();
    // the same computation in tfjs, NHWC
    const T = async (t: Tensor) => Float32Array.from(await t.data());
    const X = tf.transpose(tf.tensor4d(await T(x), [6, 2, 6, 6]), [0, 2, 3, 1]);
    const W = tf.transpose(tf.tensor4d(await T(conv.weight), [4, 2, 3, 3]), [2, 3, 1, 0]);
    const B = tf.tensor1d(await T(conv.bias!));
    const G = tf.tensor1d(await T(bn.weight!)), Be = tf.tensor1d(await T(bn.bias!));
    const FW = tf.transpose(tf.tensor2d(await T(fc.weight), [5, 36]));
    const FB = tf.tensor1d(await T(fc.bias!));
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), 5);
    const f = (w: import('@tensorflow/tfjs-core').Tensor, b: import('@tensorflow/tfjs-core').Tensor, g: import('@tensorflow/tfjs-core').Tensor, be: import('@tensorflow/tfjs-core').Tensor, fw: import('@tensorflow/tfjs-core').Tensor, fb: import('@tensorflow/tfjs-core').Tensor) => {
      const c = tf.add(tf.conv2d(X as import('@tensorflow/tfjs-core').Tensor4D, w as import('@tensorflow/tfjs-core').Tensor4D, 1, 'same'), b);
      const { mean, variance } = tf.moments(c, [0, 1, 2]);
      const n = tf.add(tf.mul(tf.div(tf.sub(c, mean), tf.sqrt(tf.add(variance, 1e-5))), g), be);
      const p = tf.maxPool(tf.relu(n) as import('@tensorflow/tfjs-core').Tensor4D, 2, 2, 'valid');
      const flat = tf.reshape(tf.transpose(p, [0, 3, 1, 2]), [6, 36]);  // NCHW flatten order, as ours
      return tf.losses.softmaxCrossEntropy(onehot, tf.add(tf.matMul(flat, fw), fb));
    };
    const { value, grads } = tf.valueAndGrads(f)([W, B, G, Be, FW, FB]);
    expect(await loss.item()).toBeCloseTo(value.dataSync()[0]!, 4);
    const tol = { rtol: 1e-4, atol: 1e-5 };
    expectClose(await f64(conv.weight.grad!), Float64Array.from(tf.transpose(grads[0]!, [3, 2, 0, 1]).dataSync()), tol, 'conv weight');
    expectClose(await f64(conv.bias!.grad!), Float64Array.from(grads[1]!.dataSync()), tol, 'conv bias');
    expectClose(await f64(bn.weight!.grad!), Float64Array.from(grads[2]!.dataSync()), tol, 'bn weight');
    expectClose(await f64(bn.bias!.grad!), Float64Array.from(grads[3]!.dataSync()), tol, 'bn bias');
    expectClose(await f64(fc.weight.grad!), Float64Array.from(tf.transpose(grads[4]!).dataSync()), tol, 'fc weight');
    expectClose(await f64(fc.bias!.grad!), Float64Array.from(grads[5]!.dataSync()), tol, 'fc bias');
    await sync();
    noGrad(() => undefined);
  });
});
