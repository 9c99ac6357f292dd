// Finite-difference gradient checks in float64 for every differentiable op, on several shapes and parameters.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, gradcheck, F, matmul, conv2d, convTranspose2d, maxPool2d, avgPool2d, adaptiveAvgPool2d, crossEntropy, batchNorm, dropout, zeros, ones, onesLike, stack, where, manualSeed, getRngState, ShapeError, ArgumentError, InPlaceError, optim, noGrad } from '../../lib/index.js';
import { record } from '../../lib/autograd/engine.js';
import { randArray } from '../helpers.js';

let seed = 1;
const x64 = (shape: number[], lo = -1, hi = 1) => tensor(randArray(shape.reduce((a, b) => a * b, 1), seed++, lo, hi), { shape, dtype: 'float64' }).requiresGrad_();
function expectCloseArrays(a: Float64Array, b: Float64Array, atol: number) {
  expect(a.length).toBe(b.length);
  for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!), `element ${k}: ${a[k]} vs ${b[k]}`).toBeLessThanOrEqual(atol);
}
async function check(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tol = {}) {
  const r = await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4, ...tol });
  expect(r.worst, `worst at input ${r.at[0]} element ${r.at[1]}`).toBeLessThanOrEqual(1);
}

describe('gradcheck: elementwise (with broadcasting)', () => {
  const pairs: [number[], number[]][] = [[[3, 4], [3, 4]], [[2, 3, 4], [4]], [[3, 1], [1, 5]]];
  for (const [sa, sb] of pairs) {
    for (const op of ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'] as const) {
      it(`${op} a=[${sa}] b=[${sb}]`, async () => {
        const a = op === 'pow' ? x64(sa, 0.5, 2) : x64(sa), b = op === 'div' || op === 'pow' ? x64(sb, 0.5, 2) : x64(sb);
        await check((p, q) => (p as unknown as Record<string, (o: Tensor) => Tensor>)[op]!.call(p, q), [a, b]);
      });
    }
  }
  it('scalar operands', async () => {
    await check((p) => p.mul(3).add(1).sub(0.5).div(2), [x64([5])]);
  });
  // cond broadcasts too; the gradient goes to a where cond holds, to b elsewhere, summed over broadcast dims
  const mask = tensor([1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1], { shape: [3, 4], dtype: 'uint8' });
  for (const [sa, sb] of [[[3, 4], [3, 4]], [[3, 1], [4]], [[1], [2, 3, 4]]] as [number[], number[]][]) {
    it(`where cond=[3,4] a=[${sa}] b=[${sb}]`, async () => {
      const a = x64(sa), b = x64(sb);
      expect(where(mask, a, b).requiresGrad).toBe(true);
      await check((p, q) => where(mask, p, q), [a, b]);
    });
  }
  it('where with one branch a number (cond=[3,4] a=[4] b=0; a=2 b=[3,4]) and a float64 cond (!= 0)', async () => {
    await check((p) => where(mask, p, 0), [x64([4])]);
    await check((q) => where(mask, 2, q), [x64([3, 4])]);
    await check((p, q) => where(tensor([0.5, 0, -2, 0], { dtype: 'float64' }), p, q), [x64([4]), x64([4])]);
  });
  it('where: only the branch that requires grad gets one, never cond', async () => {
    const c = tensor([1, 0, 2], { dtype: 'float64' }).requiresGrad_(), a = x64([3]), b = tensor([5, 6, 7], { dtype: 'float64' });
    where(c, a, b).mul(tensor([1, 2, 3], { dtype: 'float64' })).sum().backward();
    expect(Array.from(await a.grad!.data())).toEqual([1, 0, 3]);
    expect(b.grad).toBeNull();
    expect(c.grad).toBeNull();
  });
  const unary: [string, (t: Tensor) => Tensor, number, number][] = [
    ['neg', (t) => t.neg(), -1, 1], ['abs', (t) => t.abs(), 0.1, 1], ['exp', (t) => t.exp(), -1, 1], ['log', (t) => t.log(), 0.5, 2],
    ['sqrt', (t) => t.sqrt(), 0.5, 2], ['rsqrt', (t) => t.rsqrt(), 0.5, 2], ['relu', (t) => t.relu(), 0.1, 1],
    ['relu (negative side)', (t) => t.relu(), -1, -0.1], ['leaky_relu', (t) => t.leakyRelu(0.1), -1, 1], ['elu', (t) => t.elu(0.7), -1, 1],
    ['gelu', (t) => t.gelu(), -2, 2], ['silu', (t) => t.silu(), -2, 2], ['sigmoid', (t) => t.sigmoid(), -3, 3], ['tanh', (t) => t.tanh(), -2, 2],
    ['softplus', (t) => t.softplus(), -3, 3], ['clamp', (t) => t.clamp(-0.5, 0.5), -1, 1], ['pow 3', (t) => t.pow(3), -1, 1],
  ];
  for (const [name, f, lo, hi] of unary) {
    it(`${name} x=[2,7]`, async () => {
      await check(f, [x64([2, 7], lo, hi)]);
    });
  }
});

describe('gradcheck: reductions, softmax, views', () => {
  const red: [string, (t: Tensor) => Tensor][] = [
    ['sum all', (t) => t.sum()], ['sum axis 1 keepdim', (t) => t.sum(1, true)], ['mean axes [0,2]', (t) => t.mean([0, 2])],
    ['max axis 2', (t) => t.max(2)], ['min all', (t) => t.min()], ['var axis 1', (t) => t.var(1)], ['std axis 0', (t) => t.std(0)],
    ['logsumexp axis 1', (t) => t.logsumexp(1)], ['softmax axis 1', (t) => t.softmax(1)], ['log_softmax axis -1', (t) => t.logSoftmax(-1)],
    ['maxWithIndices', (t) => t.maxWithIndices(1)[0]],
  ];
  for (const [name, f] of red) it(`${name} x=[3,4,5]`, async () => check(f, [x64([3, 4, 5])]));
  const views: [string, (t: Tensor) => Tensor][] = [
    ['reshape', (t) => t.reshape([6, 10]).mul(t.reshape([6, 10]))], ['permute', (t) => t.permute([2, 0, 1]).mul(2)],
    ['transpose + contiguous', (t) => t.transpose(0, 2).contiguous().exp()], ['slice step 2', (t) => t.slice(2, 1, 5, 2).exp()],
    ['expand', (t) => t.slice(1, 0, 1).expand([3, 4, 5]).mul(t)], ['flatten/unsqueeze/squeeze', (t) => t.flatten(1).unsqueeze(0).squeeze(0).tanh()],
    ['clone', (t) => t.clone().mul(t)],
  ];
  for (const [name, f] of views) it(`${name} x=[3,4,5]`, async () => check(f, [x64([3, 4, 5])], { atol: 1e-5, rtol: 1e-3 }));
});

describe('gradcheck: matmul, conv, pooling, nn ops', () => {
  it('matmul [3,4]@[4,5], batched broadcast [2,3,4]@[4,5], vector [4]@[4,2]', async () => {
    await check((a, b) => matmul(a, b), [x64([3, 4]), x64([4, 5])]);
    await check((a, b) => matmul(a, b), [x64([2, 3, 4]), x64([4, 5])]);
    await check((a, b) => matmul(a, b), [x64([4]), x64([4, 2])]);
  });
  it('linear with fused bias and relu', async () => {
    await check((x, w, b) => F.linear(x, w, b).relu(), [x64([3, 4]), x64([5, 4]), x64([5])]);
    await check((x, w, b) => F.linear(x, w, b, { relu: true }), [x64([3, 4]), x64([5, 4]), x64([5])]);
    await check((x, w) => F.linear(x, w, null, { relu: true }), [x64([2, 3, 4]), x64([5, 4])]);
    await check((x, w, b) => F.linear(x, w, b), [x64([4]), x64([5, 4]), x64([5])]);
    await check((x, w, b) => matmul(x, w, { bias: b, relu: true }), [x64([3, 4]), x64([4, 5]), x64([5])]);
  });
  for (const [xs, ws, o] of [
    [[2, 3, 5, 6], [4, 3, 3, 3], { padding: 1 }], [[1, 4, 7, 7], [4, 2, 3, 3], { stride: 2, groups: 2 }],
    [[1, 2, 6, 6], [3, 2, 2, 2], { dilation: 2, padding: 'same' }],
  ] as [number[], number[], object][]) {
    it(`conv2d x=[${xs}] w=[${ws}] ${JSON.stringify(o)} (+bias, +fused relu)`, async () => {
      await check((x, w, b) => conv2d(x, w, b, o), [x64(xs), x64(ws), x64([ws[0]!])]);
      await check((x, w) => conv2d(x, w, null, { ...o, relu: true }), [x64(xs), x64(ws)]);
    });
  }
  it('conv_transpose2d x=[1,3,4,4] w=[3,2,3,3] stride 2 padding 1 outputPadding 1 (+bias)', async () => {
    await check((x, w, b) => convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1 }), [x64([1, 3, 4, 4]), x64([3, 2, 3, 3]), x64([2])]);
  });
  it('max/avg/adaptive pooling', async () => {
    await check((x) => maxPool2d(x, { kernelSize: 2 }), [x64([2, 2, 6, 6])]);
    await check((x) => maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true }), [x64([1, 2, 7, 7])]);
    await check((x) => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), [x64([1, 2, 7, 7])]);
    await check((x) => adaptiveAvgPool2d(x, [2, 3]), [x64([1, 2, 5, 7])]);
  });
  it('cross_entropy: mean, sum, none, label smoothing, weights, ignore_index', async () => {
    const y = tensor([0, 2, 1, -100], { dtype: 'int32' });
    const w = tensor([0.5, 1, 2], { dtype: 'float64' });
    await check((x) => crossEntropy(x, y), [x64([4, 3])]);
    await check((x) => crossEntropy(x, y, { reduction: 'sum', labelSmoothing: 0.2 }), [x64([4, 3])]);
    await check((x) => crossEntropy(x, y, { reduction: 'none', weight: w }).mul(tensor([1, 2, 3, 4], { dtype: 'float64' })), [x64([4, 3])]);
    await check((x) => crossEntropy(x, y, { weight: w, labelSmoothing: 0.1 }), [x64([4, 3])]);
  });
  it('nll, mse, l1, bce, bce with logits', async () => {
    const y = tensor([1, 0, 2], { dtype: 'int32' });
    await check((x) => F.nllLoss(x.logSoftmax(1), y), [x64([3, 3])]);
    await check((x) => F.nllLoss(x, y, { weight: tensor([1, 2, 3], { dtype: 'float64' }) }), [x64([3, 3])]);
    const t = tensor(randArray(6, 99, 0, 1), { shape: [2, 3], dtype: 'float64' });
    await check((x, z) => F.mseLoss(x, z), [x64([2, 3]), x64([2, 3])]);
    await check((x) => F.l1Loss(x, t), [x64([2, 3])]);
    await check((x) => F.binaryCrossEntropy(x, t), [x64([2, 3], 0.1, 0.9)]);
    await check((x) => F.binaryCrossEntropyWithLogits(x, t, { posWeight: tensor([1, 2, 3], { dtype: 'float64' }) }), [x64([2, 3], -3, 3)]);
  });
  it('batch_norm (training and eval) and layer_norm', async () => {
    const C = 3;
    await check((x, g, b) => batchNorm(x, zeros([C], { dtype: 'float64' }), ones([C], { dtype: 'float64' }), g, b, { training: true }), [x64([4, C, 2, 3]), x64([C], 0.5, 1.5), x64([C])]);
    await check((x, g, b) => batchNorm(x, tensor([0.1, -0.2, 0.3], { dtype: 'float64' }), tensor([1.5, 0.5, 2], { dtype: 'float64' }), g, b, { training: false }), [x64([4, C, 2]), x64([C], 0.5, 1.5), x64([C])]);
    await check((x, g, b) => F.layerNorm(x, [5], g, b), [x64([3, 5]), x64([5]), x64([5])]);
  });
  it('dropout: gradient follows the same mask', async () => {
    const x = x64([1000]);
    manualSeed(3);
    const y = dropout(x, { p: 0.3, training: true });
    y.sum().backward();
    const yv = await y.data(), gv = await x.grad!.data(), xv = await x.data();
    for (let i = 0; i < 1000; i++) expect(gv[i]).toBeCloseTo(yv[i] === 0 && xv[i] !== 0 ? 0 : 1 / 0.7, 10);
  });
});

// fn's values with a wrong backward: fn's true backward, run on cot(g) (default g), its gradients then passed
// through grads (default unchanged). Checks that gradcheck catches the wrong backwards that a cotangent of ones
// cannot tell from the right one.
type Grads = (Tensor | null)[];
function wrongBackward(fn: (...xs: Tensor[]) => Tensor, o: { cot?: (g: Tensor) => Tensor; grads?: (gs: Grads, xs: Tensor[]) => Grads }) {
  return (...xs: Tensor[]) => {
    if (!xs.some((x) => x.requiresGrad)) return fn(...xs);
    const inner = xs.map((x) => (x.requiresGrad ? x.detach().requiresGrad_() : x));
    const y = fn(...inner);
    const out = y.detach();
    record(out, xs, 'wrong_backward', (g) => {
      y.backward(o.cot ? o.cot(g) : g);
      const gs = inner.map((t, i) => (xs[i]!.requiresGrad ? t.grad : null));
      return o.grads ? o.grads(gs, xs) : gs;
    });
    return out;
  };
}
// the gradients of sum(fn(inputs)) (the cotangent of ones the old gradcheck used), as arrays
async function onesGrads(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Promise<Float64Array[]> {
  const xs = await Promise.all(inputs.map(async (x) => tensor(await x.data(), { shape: x.shape as number[], dtype: 'float64' }).requiresGrad_()));
  fn(...xs).sum().backward();
  return Promise.all(xs.map(async (x) => Float64Array.from(await x.grad!.data())));
}
const zeroed = (which: number[]) => (gs: Grads) => gs.map((g, i) => (g && which.includes(i) ? g.mul(0) : g));

describe('gradcheck: a random cotangent catches wrong backwards that a cotangent of ones cannot', () => {
  const C = 3;
  const bnTrain = (x: Tensor, g: Tensor, b: Tensor) => batchNorm(x, zeros([C], { dtype: 'float64' }), ones([C], { dtype: 'float64' }), g, b, { training: true });
  const cases: [string, (...xs: Tensor[]) => Tensor, Parameters<typeof wrongBackward>[1], () => Tensor[], number[]][] = [
    // the gradient of sum(softmax(x)) is zero: a backward returning zeros
    ['softmax axis 0 x=[4,3], backward returns zeros', (x) => x.softmax(0), { grads: zeroed([0]) }, () => [x64([4, 3], -2, 2)], [0]],
    ['softmax axis -1 x=[3,4,5], backward returns zeros', (x) => x.softmax(-1), { grads: zeroed([0]) }, () => [x64([3, 4, 5], -2, 2)], [0]],
    // log_softmax's backward g - softmax * sum(g): one that ignores g (a ones cotangent) along the axis
    ['log_softmax axis 1 x=[3,4,5], backward ignores the cotangent', (x) => x.logSoftmax(1), { cot: (g) => onesLike(g) }, () => [x64([3, 4, 5], -2, 2)], [0]],
    // batch norm in training: the gradients of sum(y) to x and gamma are zero
    ['batch_norm training x=[4,3,2,3], backward returns zeros for x and gamma', bnTrain, { grads: zeroed([0, 1]) }, () => [x64([4, C, 2, 3]), x64([C], 0.5, 1.5), x64([C])], [0, 1]],
    // permute().mul(2): the gradient of the sum is 2 everywhere; a backward that reshapes instead of permuting
    ['permute [2,0,1] then mul 2 x=[3,4,5], backward reshapes instead of permuting', (x) => x.permute([2, 0, 1]).mul(2),
      { grads: (gs, xs) => gs.map((g, i) => g && g.permute([2, 0, 1]).contiguous().reshape(xs[i]!.shape as number[])) }, () => [x64([3, 4, 5])], [0]],
    // stack: the gradient of the sum is 1 for every input; a backward that swaps the inputs' gradients
    ['stack dim 1 a=[3,4] b=[3,4], backward swaps the gradients', (a, b) => stack([a, b], 1), { grads: (gs) => [gs[1]!, gs[0]!] }, () => [x64([3, 4]), x64([3, 4])], [0, 1]],
  ];
  for (const [name, fn, wrong, make, affected] of cases) {
    it(name, async () => {
      const inputs = make();
      const bad = wrongBackward(fn, wrong);
      // under a cotangent of ones the wrong backward gives the right gradients: the old check passed it
      const [right, wrongG] = [await onesGrads(fn, inputs), await onesGrads(bad, inputs)];
      for (let i = 0; i < inputs.length; i++) expectCloseArrays(wrongG[i]!, right[i]!, 1e-9);
      expect((await gradcheck(fn, inputs, { atol: 1e-6, rtol: 1e-4 })).ok).toBe(true);
      const r = await gradcheck(bad, inputs, { atol: 1e-6, rtol: 1e-4 });
      expect(r.ok).toBe(false);
      expect(affected).toContain(r.at[0]);
    });
  }
  it('the cotangent is seeded: one seed gives one result, other seeds also catch a wrong backward', async () => {
    const x = x64([3, 4]);
    const bad = wrongBackward((t) => t.softmax(1), { grads: zeroed([0]) });
    const r1 = await gradcheck(bad, [x], { seed: 7 }), r2 = await gradcheck(bad, [x], { seed: 7 }), r3 = await gradcheck(bad, [x], { seed: 8 });
    expect(r2).toEqual(r1);
    expect(r3.worst).not.toBe(r1.worst);
    for (const r of [r1, r3]) expect(r.ok).toBe(false);
  });
  it('leaves the global generator (manualSeed) alone', async () => {
    manualSeed(11);
    const before = getRngState();
    await gradcheck((t) => t.tanh(), [x64([5])]);
    expect(getRngState()).toEqual(before);
  });
  it('a seed that is not a non-negative integer is an ArgumentError', async () => {
    await expect(gradcheck((t) => t.tanh(), [x64([2])], { seed: -1 })).rejects.toThrow(ArgumentError);
    await expect(gradcheck((t) => t.tanh(), [x64([2])], { seed: 0.5 })).rejects.toThrow('gradcheck: expected seed to be a non-negative safe integer, got 0.5');
  });
});

describe('autograd semantics', () => {
  it('accumulates across backward calls and zeroGrad drops', async () => {
    const w = x64([3]);
    w.mul(2).sum().backward();
    w.mul(3).sum().backward();
    expect(Array.from(await w.grad!.data())).toEqual([5, 5, 5]);
    w.zeroGrad();
    expect(w.grad).toBeNull();
  });
  it('a tensor used twice gets both contributions (x*x)', async () => {
    const x = x64([4]);
    x.mul(x).sum().backward();
    const xv = await x.data(), g = await x.grad!.data();
    for (let i = 0; i < 4; i++) expect(g[i]).toBeCloseTo(2 * xv[i]!, 12);
  });
  it('non-scalar backward needs a gradient; with one it is a vector-Jacobian product', async () => {
    const x = x64([3]);
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(ShapeError);
    expect(() => y.backward()).toThrow('backward: expected a gradient argument for a non-scalar output, got none for shape [3]');
    y.backward(tensor([1, 2, 3], { dtype: 'float64' }));
    expect(Array.from(await x.grad!.data())).toEqual([2, 4, 6]);
  });
  it('the graph is freed after backward unless retainGraph', () => {
    const x = x64([2]);
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(ArgumentError);
    const z = x.exp().sum();
    z.backward(undefined, { retainGraph: true });
    expect(() => z.backward()).not.toThrow();
  });
  it('noGrad (also across await), detach and enableGrad', async () => {
    const x = x64([2]);
    expect(noGrad(() => x.mul(2)).requiresGrad).toBe(false);
    const y = await noGrad(async () => { await new Promise((r) => setTimeout(r, 1)); return x.mul(2); });
    expect(y.requiresGrad).toBe(false);
    expect(x.detach().requiresGrad).toBe(false);
    expect(x.mul(2).requiresGrad).toBe(true);
  });
  it('in-place updates of saved tensors are rejected at backward', () => {
    const w = x64([3]);
    const x = x64([3]);
    const y = w.mul(x).sum();
    const opt = new optim.SGD([x], { lr: 0.1 });
    x.grad = tensor([1, 1, 1], { dtype: 'float64' });
    opt.step();  // updates x in place, which mul saved
    expect(() => y.backward()).toThrow(InPlaceError);
  });
  it('backward on a tensor without grad is a clear error', () => {
    expect(() => tensor([1]).backward()).toThrow('backward: expected a tensor that requires grad');
  });
});
