// Bugs the property sweep (scripts/sweep.mjs) found: arguments of the wrong kind that reached a TypeError inside
// the library ("fn is not a function", "Cannot read properties of undefined"); each is now an ArgumentError
// naming the op and what it got.
import { describe, it, expect } from 'vitest';
import { tensor, randn, nn, noGrad, enableGrad, gradcheck, ArgumentError, data, train, evaluate, predict } from '../../lib/index.js';

const cases: [string, () => unknown, string][] = [
  ['Linear.apply(3)', () => new nn.Linear(2, 2).apply(3 as never), 'Linear.apply: expected a function, got the number 3'],
  ['noGrad(1)', () => noGrad(1 as never), 'noGrad: expected a function, got a number'],
  ['enableGrad()', () => (enableGrad as (f?: unknown) => unknown)(), 'enableGrad: expected a function, got undefined'],
  ['enableGrad([])', () => enableGrad([] as never), 'enableGrad: expected a function, got an array'],
  ['init.zeros_(null)', () => nn.init.zeros_(null as never), 'zeros_: expected the tensor to be a Tensor, got null'],
  ['init.ones_(1)', () => nn.init.ones_(1 as never), 'ones_: expected the tensor to be a Tensor, got the number 1'],
  ["init.constant_('a', 1)", () => nn.init.constant_('a' as never, 1), "constant_: expected the tensor to be a Tensor, got the string 'a'"],
  ['init.uniform_()', () => (nn.init.uniform_ as (t?: unknown) => unknown)(), 'uniform_: expected the tensor to be a Tensor, got undefined'],
  ['init.normal_({})', () => nn.init.normal_({} as never), 'normal_: expected the tensor to be a Tensor, got an object'],
  ['init.xavierUniform_(-1)', () => nn.init.xavierUniform_(-1 as never), 'xavierUniform_: expected the tensor to be a Tensor, got the number -1'],
  ['init.xavierNormal_()', () => (nn.init.xavierNormal_ as (t?: unknown) => unknown)(), 'xavierNormal_: expected the tensor to be a Tensor, got undefined'],
  ['init.kaimingUniform_(true)', () => nn.init.kaimingUniform_(true as never), 'kaimingUniform_: expected the tensor to be a Tensor, got true'],
  ['init.kaimingNormal_(null)', () => nn.init.kaimingNormal_(null as never), 'kaimingNormal_: expected the tensor to be a Tensor, got null'],
  ['init.fanIn([1])', () => nn.init.fanIn([1] as never), 'fanIn: expected the tensor to be a Tensor, got an array of length 1'],
  ['clipGradNorm(0.5, 1)', () => nn.utils.clipGradNorm(0.5 as never, 1), 'clipGradNorm: expected params to be an array of tensors, got the number 0.5'],
  ['clipGradValue([1], 1)', () => nn.utils.clipGradValue([1] as never, 1), 'clipGradValue: expected params[0] to be a Tensor, got the number 1'],
  ['Accuracy.update(2, null)', () => new train.Accuracy().update(2 as never, null as never), 'Accuracy.update: expected logits to be a Tensor, got the number 2'],
  ['Accuracy.update(logits, [0])', () => new train.Accuracy().update(randn([1, 2]), [0] as never), 'Accuracy.update: expected labels to be a Tensor, got an array of length 1'],
  ["perClass('min')", () => train.perClass('min' as never), "perClass: expected a confusion matrix (an array of rows), got the string 'min'"],
  ['perClass([[1, 2], [3]])', () => train.perClass([[1, 2], [3]]), 'perClass: expected a square matrix of numbers (2 rows of 2), got row 1: an array of length 1'],
  ['renderReport(1e-8)', () => train.renderReport(1e-8 as never), 'renderReport: expected { history: { epochs: [...] }, modelSummary }, got number'],
  ['renderReport({})', () => train.renderReport({} as never), 'renderReport: expected { history: { epochs: [...] }, modelSummary }, got no history'],
  ['new ModelCheckpoint()', () => new (train.ModelCheckpoint as new (o?: unknown) => unknown)(), "ModelCheckpoint: expected options with a path, got undefined"],
  ["new ModelCheckpoint({path: ''})", () => new train.ModelCheckpoint({ path: '' }), "ModelCheckpoint: expected path to be a non-empty string, got the string ''"],
  ['new ArrayDataset(0, undefined, false)', () => new data.ArrayDataset(0 as never, undefined as never, false as never), 'ArrayDataset: expected images to be a Float32Array, got a number'],
  ["new ArrayDataset(images, 'x', labels)", () => new data.ArrayDataset(new Float32Array(2), 'x' as never, new Int32Array(2)), 'ArrayDataset: expected sampleShape to be an array of non-negative integers, got a string'],
  ['new ArrayDataset(images, [1.5], labels)', () => new data.ArrayDataset(new Float32Array(2), [1.5], new Int32Array(2)), 'ArrayDataset: expected sampleShape to be an array of non-negative integers, got [1.5]'],
  ['new ArrayDataset(images, [1], [0, 1])', () => new data.ArrayDataset(new Float32Array(2), [1], [0, 1] as never), 'ArrayDataset: expected labels to be an Int32Array, got Array'],
  ['new ArrayDataset(images, [1], labels, 3)', () => new data.ArrayDataset(new Float32Array(2), [1], new Int32Array(2), 3 as never), 'ArrayDataset: expected transform to be a function, got a number'],
];

describe('arguments of the wrong kind the sweep found: ArgumentError naming the op', () => {
  for (const [name, f, msg] of cases) {
    it(`${name}: ArgumentError`, () => {
      expect(f).toThrow(ArgumentError);
      expect(f).toThrow(msg);
    });
  }

  const rejects: [string, () => Promise<unknown>, string][] = [
    ['gradcheck(0, [x])', () => gradcheck(0 as never, [randn([2], { dtype: 'float64' }).requiresGrad_()]), 'gradcheck: expected fn to be a function, got the number 0'],
    ['gradcheck(fn, 3)', () => gradcheck((a) => a, 3 as never), 'gradcheck: expected inputs to be an array of tensors, got the number 3'],
    ['gradcheck(fn, [x], null)', () => gradcheck((a) => a, [randn([2], { dtype: 'float64' }).requiresGrad_()], null as never), 'gradcheck: expected an options object, got null'],
    ['evaluate(null, loader)', () => evaluate(null as never, [] as never), 'evaluate: expected model to be an nn.Module, got null'],
    ['predict(x)', () => predict(tensor([1]) as never, tensor([1])), 'predict: expected model to be an nn.Module, got a tensor of shape [1] (float32)'],
    ['writeReport(1, r)', () => train.writeReport(1 as never, 2 as never), 'writeReport: expected a file path, got number'],
    ["writeReport('r.html', 2)", () => train.writeReport('r.html', 2 as never), 'renderReport: expected { history: { epochs: [...] }, modelSummary }, got number'],
    ['fashionMnist()', () => (data.datasets.fashionMnist as (o?: unknown) => Promise<unknown>)(), "fashionMnist: expected an options object such as { split: 'train' }, got undefined"],
    ['mnist(2)', () => data.datasets.mnist(2 as never), "mnist: expected an options object such as { split: 'train' }, got number"],
    ["mnist({split: 'train'})", () => data.datasets.mnist({ split: 'train' } as never), 'mnist: expected dir to be a directory path, got undefined'],
    ["mnist({split: 'x', dir: '/tmp'})", () => data.datasets.mnist({ split: 'x' as never, dir: '/tmp' }), 'mnist: expected split \'train\' or \'test\', got "x"'],
    ["fashionMnist({split: 'test', dir: 3})", () => data.datasets.fashionMnist({ split: 'test', dir: 3 as never }), 'fashionMnist: expected dir to be a directory path, got 3'],
  ];
  for (const [name, f, msg] of rejects) {
    it(`${name}: rejects with an ArgumentError`, async () => {
      await expect(f()).rejects.toThrow(ArgumentError);
      await expect(f()).rejects.toThrow(msg);
    });
  }

  it('the checked functions still work on good arguments', async () => {
    expect(train.perClass([[2, 0], [1, 1]]).map((c) => c.support)).toEqual([2, 2]);
    let seen = 0;
    new nn.Sequential(new nn.Linear(2, 2), new nn.ReLU()).apply(() => { seen++; });
    expect(seen).toBe(3);
    expect(noGrad(() => 7)).toBe(7);
    const w = nn.init.zeros_(randn([2, 3]));
    expect(Array.from(await w.data())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(nn.init.fanIn(randn([4, 3]))).toBe(3);
    expect(new data.ArrayDataset(new Float32Array(4), [2], new Int32Array(2)).length).toBe(2);
  });
});
