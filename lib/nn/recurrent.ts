/**
 * Recurrent layers built from matmul and elementwise ops (autograd gives backpropagation through time).
 * Gate layouts and equations follow torch.nn.RNN / LSTM / GRU, and so do the state-dict names (the property
 * weightIhL0 is `weight_ih_l0`), so state dicts move to and from PyTorch unchanged: per layer k, weight_ih_lk
 * [G*H, in] (in: inputSize for k = 0, else H), weight_hh_lk [G*H, H], bias_ih_lk and bias_hh_lk [G*H], the G gate
 * blocks stacked in PyTorch's order: LSTM (i, f, g, o), GRU (r, z, n), RNN one block.
 */
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { zeros } from '../tensor/create.js';
import { DType } from '../dtype.js';
import { Module, Parameter } from './module.js';
import * as init from './init.js';
import { linear } from './functional.js';
import { stack } from '../ops/index.js';
import { describe, optionsArg, tensorArg } from '../check.js';
import { shapesEqual } from '../tensor/shape.js';

export interface RNNOptions {
  numLayers?: number;
  bias?: boolean;
  batchFirst?: boolean;
  nonlinearity?: 'tanh' | 'relu';
  dtype?: DType;
}

abstract class RNNBase extends Module {
  readonly numLayers: number;
  readonly batchFirst: boolean;
  weights: Tensor[][] = [];  // per layer: [weightIh, weightHh, biasIh?, biasHh?]
  constructor(readonly inputSize: number, readonly hiddenSize: number, readonly gates: number, readonly options: RNNOptions) {
    super();
    optionsArg(this.constructor.name, options);
    this.numLayers = options.numLayers ?? 1;
    this.batchFirst = options.batchFirst ?? false;
    if (!(this.numLayers >= 1) || !(hiddenSize >= 1)) throw new ArgumentError(`${this.constructor.name}: expected numLayers and hiddenSize >= 1, got ${this.numLayers} and ${hiddenSize}`);
    const k = 1 / Math.sqrt(hiddenSize);  // PyTorch: every weight and bias U(-1/sqrt(H), 1/sqrt(H))
    for (let l = 0; l < this.numLayers; l++) {
      const inp = l === 0 ? inputSize : hiddenSize;
      const ws = [zeros([gates * hiddenSize, inp], { dtype: options.dtype }), zeros([gates * hiddenSize, hiddenSize], { dtype: options.dtype })];
      if (options.bias !== false) ws.push(zeros([gates * hiddenSize], { dtype: options.dtype }), zeros([gates * hiddenSize], { dtype: options.dtype }));
      for (const w of ws) init.uniform_(Parameter(w), -k, k);
      const names = ['weightIh', 'weightHh', 'biasIh', 'biasHh'], torchNames = ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'];
      ws.forEach((w, i) => {
        (this as unknown as Record<string, Tensor>)[`${names[i]}L${l}`] = w;
        this.setStateName(`${names[i]}L${l}`, `${torchNames[i]}_l${l}`);
      });
      this.weights.push(ws);
    }
  }
  protected seq(x: Tensor): Tensor[] {
    tensorArg(this.constructor.name, 'input', x);
    if (x.ndim !== 3 || x.shape[2] !== this.inputSize) {
      throw new ShapeError(`${this.constructor.name}: expected input of shape ${this.batchFirst ? '[N,L,' : '[L,N,'}${this.inputSize}], got ${fmt(x.shape)}`);
    }
    const xs = this.batchFirst ? x.transpose(0, 1) : x;
    if (xs.shape[0] === 0) {  // an empty batch is fine (an empty output), an empty sequence has no final state
      throw new ShapeError(`${this.constructor.name}: expected a sequence length L >= 1, got input of shape ${fmt(x.shape)} (${this.batchFirst ? '[N,L,' : '[L,N,'}${this.inputSize}])`);
    }
    return Array.from({ length: xs.shape[0]! }, (_, t) => xs.slice(0, t, t + 1).squeeze(0));
  }
  /** The initial state given for batch size n: undefined (zeros) or a tensor [numLayers, n, hiddenSize] of x's dtype. @example `const h = this.state('h0', h0, N, x)` */
  protected state(what: string, s: unknown, n: number, x: Tensor): Tensor {
    if (s === undefined) return this.zeroState(n, x);
    const name = this.constructor.name;
    const t = tensorArg(name, what, s);
    const want = [this.numLayers, n, this.hiddenSize];
    if (!shapesEqual(t.shape, want)) {
      throw new ShapeError(`${name}: expected ${what} of shape ${fmt(want)} (numLayers, batch, hiddenSize), got ${fmt(t.shape)}`);
    }
    if (t.dtype !== x.dtype) throw new DTypeError(`${name}: expected ${what} of dtype ${x.dtype} (the input's), got ${t.dtype}`);
    return t;
  }
  protected out(hs: Tensor[]): Tensor {
    const y = stack(hs, 0);
    return this.batchFirst ? y.transpose(0, 1).contiguous() : y;
  }
  protected gatesAt(l: number, x: Tensor, h: Tensor): Tensor {
    const [wi, wh, bi, bh] = this.weights[l]!;
    return linear(x, wi!, bi).add(linear(h, wh!, bh));
  }
  protected zeroState(n: number, x: Tensor): Tensor {
    return zeros([this.numLayers, n, this.hiddenSize], { dtype: x.dtype });
  }
  extraRepr(): string {
    return `${this.inputSize}, ${this.hiddenSize}, numLayers=${this.numLayers}, batchFirst=${this.batchFirst}`;
  }
}
const fmt = (s: readonly number[]) => `[${s.join(',')}]`;

/** Elman RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh). @example `const [y, h] = new nn.RNN(8, 16).run(x)` */
export class RNN extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, o: RNNOptions = {}) {
    super(inputSize, hiddenSize, 1, o);
  }
  /** Output (all time steps of the last layer) and the final hidden state [numLayers, N, H]. @example `const [y, hN] = rnn.run(x, h0)` */
  run(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    let inputs = this.seq(x);
    const N = inputs[0]!.shape[0]!;
    const h = this.state('h0', h0, N, x);
    const finals: Tensor[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      let hl = h.slice(0, l, l + 1).squeeze(0);
      const outs: Tensor[] = [];
      for (const xt of inputs) {
        const a = this.gatesAt(l, xt, hl);
        hl = this.options.nonlinearity === 'relu' ? a.relu() : a.tanh();
        outs.push(hl);
      }
      finals.push(hl);
      inputs = outs;
    }
    return [this.out(inputs), stack(finals, 0)];
  }
  /** The output of every time step (run() also returns the final state). @example `rnn.forward(x)` */
  forward(x: Tensor, h0?: Tensor): Tensor {
    return this.run(x, h0)[0];
  }
}

/** LSTM with PyTorch's gate order (input, forget, cell, output). @example `const [y, [h, c]] = new nn.LSTM(28, 64, { batchFirst: true }).run(x)` */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, o: Omit<RNNOptions, 'nonlinearity'> = {}) {
    super(inputSize, hiddenSize, 4, o);
  }
  /** @example `const [y, [h, c]] = lstm.run(x)` */
  run(x: Tensor, state?: [Tensor, Tensor]): [Tensor, [Tensor, Tensor]] {
    let inputs = this.seq(x);
    const N = inputs[0]!.shape[0]!, H = this.hiddenSize;
    if (state !== undefined && !(Array.isArray(state) && state.length === 2)) {
      throw new ArgumentError(`LSTM: expected the state to be a pair [h0, c0], got ${describe(state)}`);
    }
    if (state) state.forEach((t, i) => tensorArg('LSTM', i ? 'c0' : 'h0', t));
    const h0 = this.state('h0', state?.[0], N, x), c0 = this.state('c0', state?.[1], N, x);
    const hs: Tensor[] = [], cs: Tensor[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      let h = h0.slice(0, l, l + 1).squeeze(0), c = c0.slice(0, l, l + 1).squeeze(0);
      const outs: Tensor[] = [];
      for (const xt of inputs) {
        const g = this.gatesAt(l, xt, h);
        const i = g.slice(1, 0, H).sigmoid(), f = g.slice(1, H, 2 * H).sigmoid();
        const gg = g.slice(1, 2 * H, 3 * H).tanh(), o = g.slice(1, 3 * H, 4 * H).sigmoid();
        c = f.mul(c).add(i.mul(gg));
        h = o.mul(c.tanh());
        outs.push(h);
      }
      hs.push(h);
      cs.push(c);
      inputs = outs;
    }
    return [this.out(inputs), [stack(hs, 0), stack(cs, 0)]];
  }
  /** The output of every time step (run() also returns the final states). @example `lstm.forward(x).slice(1, -1)  // the last time step (batchFirst)` */
  forward(x: Tensor): Tensor {
    return this.run(x)[0];
  }
}

/** GRU with PyTorch's gate order (reset, update, new). @example `const [y, h] = new nn.GRU(28, 64).run(x)` */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, o: Omit<RNNOptions, 'nonlinearity'> = {}) {
    super(inputSize, hiddenSize, 3, o);
  }
  /** @example `const [y, hN] = gru.run(x)` */
  run(x: Tensor, h0?: Tensor): [Tensor, Tensor] {
    let inputs = this.seq(x);
    const N = inputs[0]!.shape[0]!, H = this.hiddenSize;
    const hInit = this.state('h0', h0, N, x);
    const finals: Tensor[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      const [wi, wh, bi, bh] = this.weights[l]!;
      let h = hInit.slice(0, l, l + 1).squeeze(0);
      const outs: Tensor[] = [];
      for (const xt of inputs) {
        const gi = linear(xt, wi!, bi), gh = linear(h, wh!, bh);
        const r = gi.slice(1, 0, H).add(gh.slice(1, 0, H)).sigmoid();
        const z = gi.slice(1, H, 2 * H).add(gh.slice(1, H, 2 * H)).sigmoid();
        const n = gi.slice(1, 2 * H, 3 * H).add(r.mul(gh.slice(1, 2 * H, 3 * H))).tanh();
        h = z.neg().add(1).mul(n).add(z.mul(h));  // (1 - z) * n + z * h
        outs.push(h);
      }
      finals.push(h);
      inputs = outs;
    }
    return [this.out(inputs), stack(finals, 0)];
  }
  /** The output of every time step (run() also returns the final state). @example `gru.forward(x)` */
  forward(x: Tensor, h0?: Tensor): Tensor {
    return this.run(x, h0)[0];
  }
}
