// Arguments that used to give TypeErrors, NaNs or silently wrong results: each gives a named error with the real
// values, or the documented (PyTorch) result.
import { describe, it, expect } from 'vitest';
import {
  nn, optim, tensor, randn, zeros, ones, manualSeed, data, train, fit, convTranspose2d, adaptiveAvgPool2d, maxPool2d,
  crossEntropy, batchNorm, ArgumentError, ShapeError, DTypeError, IndexError, TensileError,
} from '../../lib/index.js';
import { throwsExactly, type ErrorClass } from '../helpers.js';

async function rejectsExactly(p: Promise<unknown>, cls: ErrorClass, msg: string): Promise<void> {
  let err: unknown = null;
  try { await p; } catch (e) { err = e; }
  expect(err, `expected ${cls.name}: ${msg}`).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}
const ints = (v: number[]) => tensor(Int32Array.from(v));

describe('recurrent layers: empty or wrongly shaped inputs and states are ShapeErrors', () => {
  const cases: [string, () => unknown, ErrorClass, string][] = [
    ['LSTM(3,4) input [0,2,3] (empty sequence; was a TypeError)', () => new nn.LSTM(3, 4).run(zeros([0, 2, 3])), ShapeError,
      'LSTM: expected a sequence length L >= 1, got input of shape [0,2,3] ([L,N,3])'],
    ['GRU(3,4,batchFirst) input [2,0,3] (empty sequence)', () => new nn.GRU(3, 4, { batchFirst: true }).run(zeros([2, 0, 3])), ShapeError,
      'GRU: expected a sequence length L >= 1, got input of shape [2,0,3] ([N,L,3])'],
    ['RNN(3,4) input [0,1,3]', () => new nn.RNN(3, 4).forward(zeros([0, 1, 3])), ShapeError,
      'RNN: expected a sequence length L >= 1, got input of shape [0,1,3] ([L,N,3])'],
    ['LSTM(3,4) h0 [1,5,4] for a batch of 2', () => new nn.LSTM(3, 4).run(zeros([2, 2, 3]), [zeros([1, 5, 4]), zeros([1, 2, 4])]), ShapeError,
      'LSTM: expected h0 of shape [1,2,4] (numLayers, batch, hiddenSize), got [1,5,4]'],
    ['LSTM(3,4) c0 [1,2,3]', () => new nn.LSTM(3, 4).run(zeros([2, 2, 3]), [zeros([1, 2, 4]), zeros([1, 2, 3])]), ShapeError,
      'LSTM: expected c0 of shape [1,2,4] (numLayers, batch, hiddenSize), got [1,2,3]'],
    ['GRU(3,4) h0 [1,1,4] for a batch of 2 (was silently broadcast)', () => new nn.GRU(3, 4).run(zeros([2, 2, 3]), zeros([1, 1, 4])), ShapeError,
      'GRU: expected h0 of shape [1,2,4] (numLayers, batch, hiddenSize), got [1,1,4]'],
    ['RNN(3,4) h0 [2,2,4] for 1 layer (was silently accepted)', () => new nn.RNN(3, 4).run(zeros([2, 2, 3]), zeros([2, 2, 4])), ShapeError,
      'RNN: expected h0 of shape [1,2,4] (numLayers, batch, hiddenSize), got [2,2,4]'],
    ['RNN(3,4) float64 h0 for float32 input', () => new nn.RNN(3, 4).run(zeros([2, 2, 3]), zeros([1, 2, 4], { dtype: 'float64' })), DTypeError,
      'RNN: expected h0 of dtype float32 (the input\'s), got float64'],
    ['LSTM state a single tensor', () => new nn.LSTM(3, 4).run(zeros([2, 2, 3]), zeros([1, 2, 4]) as never), ArgumentError,
      'LSTM: expected the state to be a pair [h0, c0], got a tensor of shape [1,2,4] (float32)'],
    ['LSTM state [h0, undefined]', () => new nn.LSTM(3, 4).run(zeros([2, 2, 3]), [zeros([1, 2, 4]), undefined] as never), ArgumentError,
      'LSTM: expected c0 to be a Tensor, got undefined'],
  ];
  for (const [what, f, cls, msg] of cases) it(what, () => throwsExactly(f, cls, msg));
  it('an empty batch still runs: LSTM(3,4) input [2,0,3] gives [2,0,4] and states [1,0,4]', () => {
    const [y, [h, c]] = new nn.LSTM(3, 4).run(zeros([2, 0, 3]));
    expect([y.shape, h.shape, c.shape]).toEqual([[2, 0, 4], [1, 0, 4], [1, 0, 4]]);
  });
  it('a right state is used: GRU with h0 = ones differs from the zero state', async () => {
    manualSeed(2);
    const g = new nn.GRU(3, 4, { numLayers: 2 });
    const x = randn([2, 3, 3]);
    const a = await g.run(x)[1].data(), b = await g.run(x, ones([2, 3, 4]))[1].data();
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

describe('Embedding paddingIdx: negative counts from the end, out of range is an IndexError', () => {
  it('Embedding(4, 2, {paddingIdx: -1}): the last row is zero and gets no gradient', async () => {
    manualSeed(4);
    const e = new nn.Embedding(4, 2, { paddingIdx: -1 });
    expect(e.paddingIdx).toBe(3);
    const w = Array.from(await e.weight.data());
    expect(w.slice(6)).toEqual([0, 0]);
    expect(w.slice(0, 6).every((v) => v !== 0)).toBe(true);
    e.forward(ints([3, 1, 3])).sum().backward();
    expect(Array.from(await e.weight.grad!.data())).toEqual([0, 0, 1, 1, 0, 0, 0, 0]);
  });
  it('Embedding(4, 2, {paddingIdx: -4}) is row 0', () => expect(new nn.Embedding(4, 2, { paddingIdx: -4 }).paddingIdx).toBe(0));
  const bad: [number, ErrorClass, string][] = [
    [4, IndexError, 'Embedding: expected paddingIdx in [-4, 4), got 4'],
    [-5, IndexError, 'Embedding: expected paddingIdx in [-4, 4), got -5'],
    [1.5, ArgumentError, 'Embedding: expected paddingIdx to be an integer, got the number 1.5'],
  ];
  for (const [pi, cls, msg] of bad) it(`Embedding(4, 2, {paddingIdx: ${pi}})`, () => throwsExactly(() => new nn.Embedding(4, 2, { paddingIdx: pi }), cls, msg));
});

describe('layer constructor options', () => {
  it('Linear(0, 2) has a zero bias (PyTorch: bound 0 without inputs), so its output is finite', async () => {
    const l = new nn.Linear(0, 2);
    expect(Array.from(await l.bias!.data())).toEqual([0, 0]);
    expect(Array.from(await l.forward(zeros([3, 0])).data())).toEqual([0, 0, 0, 0, 0, 0]);
  });
  it('Conv2d(0, 2, 3) has a zero bias too', async () => {
    expect(Array.from(await new nn.Conv2d(0, 2, 3).bias!.data())).toEqual([0, 0]);
  });
  const cases: [string, () => unknown, ErrorClass, string][] = [
    ['BatchNorm1d(2, {momentum: NaN})', () => new nn.BatchNorm1d(2, { momentum: NaN }), ArgumentError, 'BatchNorm1d: expected momentum in [0, 1], got the number NaN'],
    ['BatchNorm2d(2, {momentum: 1.5})', () => new nn.BatchNorm2d(2, { momentum: 1.5 }), ArgumentError, 'BatchNorm2d: expected momentum in [0, 1], got the number 1.5'],
    ['BatchNorm1d(2, {eps: 0})', () => new nn.BatchNorm1d(2, { eps: 0 }), ArgumentError, 'BatchNorm1d: expected eps > 0, got the number 0'],
    ['BatchNorm2d(2, {eps: -1e-5})', () => new nn.BatchNorm2d(2, { eps: -1e-5 }), ArgumentError, 'BatchNorm2d: expected eps > 0, got the number -0.00001'],
    ['F.batchNorm momentum NaN', () => batchNorm(randn([4, 2]), zeros([2]), ones([2]), ones([2]), zeros([2]), { training: true, momentum: NaN }), ArgumentError,
      'batch_norm: expected momentum in [0, 1], got the number NaN'],
    ['F.batchNorm eps 0', () => batchNorm(randn([4, 2]), zeros([2]), ones([2]), ones([2]), zeros([2]), { training: true, eps: 0 }), ArgumentError,
      'batch_norm: expected eps > 0, got the number 0'],
    ["LeakyReLU('a')", () => new nn.LeakyReLU('a' as never), ArgumentError, "LeakyReLU: expected negativeSlope to be a finite number, got the string 'a'"],
    ['ELU(NaN)', () => new nn.ELU(NaN), ArgumentError, 'ELU: expected alpha to be a finite number, got the number NaN'],
    ['ConvTranspose2d(4, 6, 3, {groups: 4})', () => new nn.ConvTranspose2d(4, 6, 3, { groups: 4 }), ArgumentError,
      'ConvTranspose2d: expected channels divisible by groups, got 4, 6 and groups=4'],
  ];
  for (const [what, f, cls, msg] of cases) it(what, () => throwsExactly(f, cls, msg));
  it('BatchNorm1d(2, {momentum: 0, eps: 1e-3}) is accepted and keeps its running statistics', async () => {
    const bn = new nn.BatchNorm1d(2, { momentum: 0, eps: 1e-3 });
    bn.forward(randn([4, 2]));
    expect(Array.from(await bn.runningMean.data())).toEqual([0, 0]);
  });
});

describe('losses, pooling and convolution arguments', () => {
  it('crossEntropy({ignoreIndex: 1.5}) is an ArgumentError (was a silently truncated index)', () => {
    throwsExactly(() => crossEntropy(randn([3, 2]), ints([0, 1, 1]), { ignoreIndex: 1.5 }), ArgumentError,
      'cross_entropy: expected ignoreIndex to be an integer, got the number 1.5');
  });
  it('crossEntropy({ignoreIndex: 1}) still ignores label 1', async () => {
    const x = tensor([[1, 2], [3, 0], [0, 0]]);
    const a = await crossEntropy(x, ints([0, 1, 0]), { ignoreIndex: 1 }).item();
    const b = await crossEntropy(tensor([[1, 2], [0, 0]]), ints([0, 0])).item();
    expect(a).toBeCloseTo(b, 6);
  });
  it('adaptiveAvgPool2d of an empty map [1,1,0,0] is a ShapeError (was NaN)', () => {
    throwsExactly(() => adaptiveAvgPool2d(zeros([1, 1, 0, 0]), 1), ShapeError, 'adaptive_avg_pool2d: expected non-zero sizes for C, H and W, got shape [1,1,0,0]');
  });
  it('maxPool2d of [1,0,4,4] (no channels) is a ShapeError', () => {
    throwsExactly(() => maxPool2d(zeros([1, 0, 4, 4]), { kernelSize: 2 }), ShapeError, 'max_pool2d: expected non-zero sizes for C, H and W, got shape [1,0,4,4]');
  });
  it('adaptiveAvgPool2d of an empty batch [0,1,2,2] gives [0,1,1,1] (PyTorch)', () => {
    expect(adaptiveAvgPool2d(zeros([0, 1, 2, 2]), 1).shape).toEqual([0, 1, 1, 1]);
  });
  const ct: [string, () => unknown, ErrorClass, string][] = [
    ['x [1,4,3,3], w [4,2,3,3], groups 3 (was conv2d_bwd_input with channels 6 and filters 4)', () => convTranspose2d(randn([1, 4, 3, 3]), randn([4, 2, 3, 3]), { groups: 3 }),
      ShapeError, 'conv_transpose2d: expected input channels (4) divisible by groups=3, got input [1,4,3,3]'],
    ['x [1,4,3,3], w [2,2,3,3], groups 2', () => convTranspose2d(randn([1, 4, 3, 3]), randn([2, 2, 3, 3]), { groups: 2 }),
      ShapeError, 'conv_transpose2d: expected weight of shape [4,C_out/groups,kh,kw] for input [1,4,3,3], got [2,2,3,3]'],
    ['groups 0', () => convTranspose2d(randn([1, 4, 3, 3]), randn([4, 2, 3, 3]), { groups: 0 }), ArgumentError, 'conv_transpose2d: expected groups to be an integer >= 1, got the number 0'],
    ['a float64 bias with float32 input (was a float64 output)', () => convTranspose2d(randn([1, 4, 3, 3]), randn([4, 2, 3, 3]), randn([2], { dtype: 'float64' })),
      DTypeError, 'conv_transpose2d: expected bias of dtype float32, got float64'],
    ['a float64 weight with float32 input', () => convTranspose2d(randn([1, 4, 3, 3]), randn([4, 2, 3, 3], { dtype: 'float64' })),
      DTypeError, 'conv_transpose2d: expected weight of dtype float32, got float64'],
    ['an int32 input', () => convTranspose2d(zeros([1, 4, 3, 3], { dtype: 'int32' }), zeros([4, 2, 3, 3], { dtype: 'int32' })),
      DTypeError, 'conv_transpose2d: expected a float32 or float64 input, got int32'],
  ];
  for (const [what, f, cls, msg] of ct) it(`convTranspose2d: ${what}`, () => throwsExactly(f, cls, msg));
  it('convTranspose2d with groups 2 still gives C_out = 2 * w.shape[1]', () => {
    expect(convTranspose2d(randn([1, 4, 3, 3]), randn([4, 3, 3, 3]), randn([6]), { groups: 2 }).shape).toEqual([1, 6, 5, 5]);
  });
});

describe('metrics: classes out of range', () => {
  it('ConfusionMatrix(3) fed 5-class logits: ShapeError (was a TypeError at matrix())', () => {
    const cm = new train.ConfusionMatrix(3);
    throwsExactly(() => cm.update(randn([4, 5]), ints([0, 2, 1, 2])), ShapeError, 'ConfusionMatrix.update: expected logits of shape [N,3], got [4,5]');
  });
  it('ConfusionMatrix(3) fed label 4: IndexError at matrix(), and the counts are not half made', async () => {
    const cm = new train.ConfusionMatrix(3);
    cm.update(tensor([[1, 0, 0], [0, 1, 0]]), ints([0, 1]));
    cm.update(tensor([[1, 0, 0], [0, 0, 1]]), ints([0, 4]));
    await rejectsExactly(cm.matrix(), IndexError, 'ConfusionMatrix: expected labels in [0, 3), got 4 at sample 1');
    cm.reset();
    cm.update(tensor([[1, 0, 0], [0, 0, 1]]), ints([0, 1]));
    expect(await cm.matrix()).toEqual([[1, 0, 0], [0, 0, 1], [0, 0, 0]]);
  });
  it('ConfusionMatrix(0) and float labels', () => {
    throwsExactly(() => new train.ConfusionMatrix(0), ArgumentError, 'ConfusionMatrix: expected numClasses to be an integer >= 1, got 0');
    throwsExactly(() => new train.ConfusionMatrix(2).update(randn([2, 2]), tensor([0, 1])), DTypeError, 'ConfusionMatrix.update: expected int32 labels, got float32');
  });
  it('TopKAccuracy(2) with label 3 for C = 3: IndexError (was counted as a hit)', async () => {
    const m = new train.TopKAccuracy(2);
    m.update(tensor([[3, 2, 1], [1, 2, 3]]), ints([0, 3]));
    await rejectsExactly(m.result(), IndexError, 'TopKAccuracy: expected labels in [0, 3), got 3 at sample 1');
  });
  it('TopKAccuracy(2) with labels [N+1]: ShapeError', () => {
    throwsExactly(() => new train.TopKAccuracy(2).update(randn([2, 3]), ints([0, 1, 2])), ShapeError, 'TopKAccuracy.update: expected labels of shape [2], got [3]');
  });
  it('TopKAccuracy(2) in range still counts', async () => {
    const m = new train.TopKAccuracy(2);
    m.update(tensor([[3, 2, 1], [1, 2, 3]]), ints([1, 0]));
    expect(await m.result()).toBe(0.5);
  });
});

describe('fit() without an optimizer', () => {
  const loader = () => new data.DataLoader({ length: 4, get: (i: number) => ({ x: Float32Array.of(i, 1), y: i % 2 }) }, { batchSize: 2 });
  it('is an ArgumentError before anything runs (was a TypeError after onTrainBegin)', async () => {
    manualSeed(1);
    const model = new nn.Linear(2, 2);
    const before = await model.weight.data();
    let began = 0;
    await rejectsExactly(fit(model, loader(), { epochs: 1, verbose: 0, callbacks: [{ onTrainBegin: () => { began++; } }] } as never), ArgumentError,
      'fit: expected options.optimizer to be an Optimizer, got undefined');
    expect(began).toBe(0);
    expect(Array.from(await model.weight.data())).toEqual(Array.from(before));
  });
  it('fit(model, loader) with no options, and with a non-module', async () => {
    await rejectsExactly(fit(new nn.Linear(2, 2), loader(), undefined as never), ArgumentError, 'fit: expected options with epochs and an optimizer, got undefined');
    await rejectsExactly(fit({} as never, loader(), { epochs: 1, optimizer: new optim.SGD([zeros([1]).requiresGrad_(true)], { lr: 1 }) }), ArgumentError,
      'fit: expected a Module to train, got an object');
  });
});

describe('transforms', () => {
  const { normalize, randomHorizontalFlip, randomCrop } = data.transforms;
  it('normalize for 3x2x2 images applied to 4 values: ShapeError (was a silent partial write)', () => {
    const t = normalize([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], { c: 3, h: 2, w: 2 });
    throwsExactly(() => t(new Float32Array(4), Math.random), ShapeError, "normalize: expected an image of 3x2x2 = 12 values (the transform's shape), got 4");
  });
  it('normalize with one mean for 3 channels applies it to every channel (was NaN channels)', () => {
    const t = normalize([0.5], [0.25], { c: 3, h: 1, w: 1 });
    expect(Array.from(t(Float32Array.of(1, 0.5, 0), Math.random))).toEqual([2, 0, -2]);
  });
  const cases: [string, () => unknown, ErrorClass, string][] = [
    ['normalize mean of 2 for 3 channels', () => normalize([0.5, 0.5], [0.5, 0.5, 0.5], { c: 3, h: 1, w: 1 }), ShapeError, 'normalize: expected mean of 3 values (one per channel) or 1, got 2'],
    ['normalize std with a zero', () => normalize([0.5], [0], { c: 1, h: 1, w: 1 }), ArgumentError, 'normalize: expected std without zeros, got [0]'],
    ['normalize shape {c: 0}', () => normalize([0.5], [0.5], { c: 0, h: 1, w: 1 }), ArgumentError, 'normalize: expected an image shape { c, h, w } of integers >= 1, got {"c":0,"h":1,"w":1}'],
    ['randomHorizontalFlip on 3 values for 1x2x2', () => randomHorizontalFlip({ c: 1, h: 2, w: 2 }, 1)(new Float32Array(3), Math.random), ShapeError,
      "randomHorizontalFlip: expected an image of 1x2x2 = 4 values (the transform's shape), got 3"],
    ['randomCrop padding -1', () => randomCrop({ c: 1, h: 2, w: 2 }, -1), ArgumentError, 'randomCrop: expected padding to be an integer >= 0, got the number -1'],
  ];
  for (const [what, f, cls, msg] of cases) it(what, () => throwsExactly(f, cls, msg));
});
