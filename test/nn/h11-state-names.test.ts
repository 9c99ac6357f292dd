// State dicts named and laid out as PyTorch's (issue 17). Fixtures are safetensors files built byte by byte here
// (8-byte little-endian header length, JSON header, raw little-endian data) with torch.nn's key names, shapes and
// dtypes; each loads into its module with strict key checking, and the module's forward is compared with a float64
// reference computed from the fixture's numbers in PyTorch's layouts (a transposed weight, a swapped gate block or
// a misread layout fails it). Files the earlier camelCase names wrote still load, with one warning.
import { describe, it, expect, afterEach, vi } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nn, tensor, load, save, ArgumentError, Tensor } from '../../lib/index.js';
import { randArray, expectClose, TOL } from '../helpers.js';
import { covers } from '../api/coverage.js';

covers('nn.Module');
covers('nn.Linear');
covers('nn.Conv2d');
covers('nn.ConvTranspose2d');
covers('nn.BatchNorm1d');
covers('nn.BatchNorm2d');
covers('nn.LayerNorm');
covers('nn.Embedding');
covers('nn.LSTM');
covers('nn.GRU');
covers('nn.RNN');
covers('nn.Sequential');
covers('nn.ModuleList');

const dir = mkdtempSync(join(tmpdir(), 'tensile-h11-'));
afterEach(() => vi.restoreAllMocks());

// ---- the independent writer and reader of the format -------------------------------------------------------------

type StDType = 'F32' | 'I32' | 'I64';
interface Entry { dtype: StDType; shape: number[]; values: number[] }
const SIZE: Record<StDType, number> = { F32: 4, I32: 4, I64: 8 };
const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function writeFixture(name: string, entries: Record<string, Entry>): string {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  let off = 0;
  for (const [k, e] of Object.entries(entries)) {
    expect(e.values.length, k).toBe(prod(e.shape));
    const b = Buffer.alloc(e.values.length * SIZE[e.dtype]);
    e.values.forEach((v, i) => {
      if (e.dtype === 'F32') b.writeFloatLE(v, 4 * i);
      else if (e.dtype === 'I32') b.writeInt32LE(v, 4 * i);
      else b.writeBigInt64LE(BigInt(v), 8 * i);
    });
    header[k] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + b.length] };
    off += b.length;
    chunks.push(b);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const p = join(dir, `${name}.safetensors`);
  writeFileSync(p, Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]));
  return p;
}
// a file's header entries and each tensor's bytes, read by hand
function readFile(p: string): Record<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const buf = readFileSync(p);
  const hlen = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: Record<string, { dtype: string; shape: number[]; bytes: Buffer }> = {};
  for (const [k, e] of Object.entries(h)) {
    if (k !== '__metadata__') out[k] = { dtype: e.dtype, shape: e.shape, bytes: buf.subarray(8 + hlen + e.data_offsets[0], 8 + hlen + e.data_offsets[1]) };
  }
  return out;
}
const f32Bytes = (values: number[]) => {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeFloatLE(v, 4 * i));
  return b;
};

// fixture numbers: float32-exact, so the reference sees what the file holds
let seed = 100;
const vals = (n: number, lo = -1, hi = 1) => Array.from(randArray(n, seed++, lo, hi), Math.fround);
const f32 = (shape: number[], lo = -1, hi = 1): Entry => ({ dtype: 'F32', shape, values: vals(prod(shape), lo, hi) });
// PyTorch's num_batches_tracked is int64 (lib/io loads I64 as int32); tensile writes it back as I32
const count = (n: number): Entry => ({ dtype: 'I64', shape: [], values: [n] });
const count32 = (n: number): Entry => ({ dtype: 'I32', shape: [], values: [n] });

async function loadInto(m: nn.Module, name: string, entries: Record<string, Entry>): Promise<void> {
  const sd = await load(writeFixture(name, entries)) as Record<string, Tensor>;
  const warn = vi.spyOn(process, 'emitWarning');
  m.loadStateDict(sd);  // strict by default: every key of the module, no other
  expect(warn).not.toHaveBeenCalled();  // PyTorch's names are this version's names: no renaming notice
  expect(Object.keys(m.stateDict()).sort()).toEqual(Object.keys(entries).sort());
  for (const [k, t] of Object.entries(m.stateDict())) expect(t.shape, k).toEqual(entries[k]!.shape);
}
// the module's state written by save(): PyTorch's keys, shapes and (float32) bytes, as the fixture had them
async function expectWritesBack(m: nn.Module, name: string, entries: Record<string, Entry>): Promise<void> {
  const p = join(dir, `${name}.out.safetensors`);
  await save(m.stateDict(), p);
  const back = readFile(p);
  expect(Object.keys(back).sort()).toEqual(Object.keys(entries).sort());
  for (const [k, e] of Object.entries(entries)) {
    expect(back[k]!.shape, k).toEqual(e.shape);
    expect(back[k]!.dtype, k).toBe(e.dtype === 'I64' ? 'I32' : e.dtype);  // tensile has no int64: it writes I32
    if (e.dtype === 'F32') expect(back[k]!.bytes.equals(f32Bytes(e.values)), k).toBe(true);
  }
}
const input = (shape: number[]): [Tensor, number[]] => {
  const v = vals(prod(shape), -2, 2);
  return [tensor(Float32Array.from(v), { shape }), v];
};
const out = async (t: Tensor) => Array.from(await t.data(), Number);

// ---- float64 references in PyTorch's layouts ---------------------------------------------------------------------

// y[n, o] = sum_i x[n, i] W[o, i] + b[o]  (W: [out, in])
function refLinear(x: number[], N: number, I: number, W: number[], b: number[] | null, O: number): number[] {
  const y = new Array<number>(N * O).fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < I; i++) s += x[n * I + i]! * W[o * I + i]!;
    y[n * O + o] = s;
  }
  return y;
}
interface Conv { s: [number, number]; p: [number, number]; d: [number, number]; g: number }
// weight [O, C/g, KH, KW]
function refConv2d(x: number[], [N, C, H, W]: number[], w: number[], [O, , KH, KW]: number[], b: number[], c: Conv): [number[], number[]] {
  const Ho = Math.floor((H + 2 * c.p[0] - c.d[0] * (KH - 1) - 1) / c.s[0]) + 1, Wo = Math.floor((W + 2 * c.p[1] - c.d[1] * (KW - 1) - 1) / c.s[1]) + 1;
  const Cg = C / c.g, Og = O / c.g;
  const y = new Array<number>(N * O * Ho * Wo).fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++) {
    let s = b[o]!;
    const g = Math.floor(o / Og);
    for (let ci = 0; ci < Cg; ci++) for (let ki = 0; ki < KH; ki++) for (let kj = 0; kj < KW; kj++) {
      const ih = i * c.s[0] - c.p[0] + ki * c.d[0], iw = j * c.s[1] - c.p[1] + kj * c.d[1];
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      s += x[((n * C + g * Cg + ci) * H + ih) * W + iw]! * w[((o * Cg + ci) * KH + ki) * KW + kj]!;
    }
    y[((n * O + o) * Ho + i) * Wo + j] = s;
  }
  return [y, [N, O, Ho, Wo]];
}
// weight [C, O/g, KH, KW]: input channel c scatters into the outputs of its group
function refConvTranspose2d(x: number[], [N, C, H, W]: number[], w: number[], [, Og, KH, KW]: number[], b: number[], c: Conv & { op: [number, number] }): [number[], number[]] {
  const O = Og * c.g, Cg = C / c.g;
  const Ho = (H - 1) * c.s[0] - 2 * c.p[0] + c.d[0] * (KH - 1) + c.op[0] + 1, Wo = (W - 1) * c.s[1] - 2 * c.p[1] + c.d[1] * (KW - 1) + c.op[1] + 1;
  const y = new Array<number>(N * O * Ho * Wo).fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let i = 0; i < Ho * Wo; i++) y[(n * O + o) * Ho * Wo + i] = b[o]!;
  for (let n = 0; n < N; n++) for (let ch = 0; ch < C; ch++) for (let ih = 0; ih < H; ih++) for (let iw = 0; iw < W; iw++) {
    const g = Math.floor(ch / Cg), xv = x[((n * C + ch) * H + ih) * W + iw]!;
    for (let oc = 0; oc < Og; oc++) for (let ki = 0; ki < KH; ki++) for (let kj = 0; kj < KW; kj++) {
      const oh = ih * c.s[0] - c.p[0] + ki * c.d[0], ow = iw * c.s[1] - c.p[1] + kj * c.d[1];
      if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
      y[((n * O + g * Og + oc) * Ho + oh) * Wo + ow]! += xv * w[((ch * Og + oc) * KH + ki) * KW + kj]!;
    }
  }
  return [y, [N, O, Ho, Wo]];
}
// eval-mode batch norm over channel dim 1 of x [N, C, ...]: (x - running_mean) / sqrt(running_var + eps) * w + b
function refBatchNorm(x: number[], C: number, inner: number, sd: Record<string, Entry>, p: string, eps = 1e-5): number[] {
  const v = (k: string) => sd[`${p}${k}`]!.values;
  return x.map((xv, i) => {
    const c = Math.floor(i / inner) % C;
    return (xv - v('running_mean')[c]!) / Math.sqrt(v('running_var')[c]! + eps) * v('weight')[c]! + v('bias')[c]!;
  });
}
function refLayerNorm(x: number[], k: number, w: number[], b: number[], eps = 1e-5): number[] {
  const y: number[] = [];
  for (let r = 0; r < x.length / k; r++) {
    const row = x.slice(r * k, r * k + k);
    const mean = row.reduce((a, c) => a + c, 0) / k;
    const vr = row.reduce((a, c) => a + (c - mean) ** 2, 0) / k;
    row.forEach((c, i) => y.push((c - mean) / Math.sqrt(vr + eps) * w[i]! + b[i]!));
  }
  return y;
}
const sig = (v: number) => 1 / (1 + Math.exp(-v));
// torch.nn.RNN / LSTM / GRU from zero initial states; x [L, N, I]; returns y [L, N, H] (the last layer)
function refRecurrent(kind: 'lstm' | 'gru' | 'rnn', x: number[], [L, N, I]: number[], H: number, layers: number, sd: Record<string, Entry>): number[] {
  let seq: number[][] = Array.from({ length: L }, (_, t) => x.slice(t * N * I, (t + 1) * N * I));
  let inp = I;
  for (let l = 0; l < layers; l++) {
    const G = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
    const w = (k: string) => sd[`${k}_l${l}`]!.values;
    let h = new Array<number>(N * H).fill(0), c = new Array<number>(N * H).fill(0);
    const outs: number[][] = [];
    for (const xt of seq) {
      const gi = refLinear(xt, N, inp, w('weight_ih'), w('bias_ih'), G * H);  // [N, G*H]: gate blocks of H
      const gh = refLinear(h, N, H, w('weight_hh'), w('bias_hh'), G * H);
      const at = (a: number[], n: number, gate: number, j: number) => a[n * G * H + gate * H + j]!;
      const hn = new Array<number>(N * H), cn = new Array<number>(N * H);
      for (let n = 0; n < N; n++) for (let j = 0; j < H; j++) {
        const q = n * H + j;
        if (kind === 'lstm') {  // i, f, g, o
          const a = (gate: number) => at(gi, n, gate, j) + at(gh, n, gate, j);
          cn[q] = sig(a(1)) * c[q]! + sig(a(0)) * Math.tanh(a(2));
          hn[q] = sig(a(3)) * Math.tanh(cn[q]!);
        } else if (kind === 'gru') {  // r, z, n
          const r = sig(at(gi, n, 0, j) + at(gh, n, 0, j)), z = sig(at(gi, n, 1, j) + at(gh, n, 1, j));
          const nn_ = Math.tanh(at(gi, n, 2, j) + r * at(gh, n, 2, j));
          hn[q] = (1 - z) * nn_ + z * h[q]!;
        } else {
          hn[q] = Math.tanh(at(gi, n, 0, j) + at(gh, n, 0, j));
        }
      }
      h = hn;
      c = cn;
      outs.push(h);
    }
    seq = outs;
    inp = H;
  }
  return seq.flat();
}

// ---- fixtures written the PyTorch way, loaded into each module ---------------------------------------------------

describe('PyTorch-named safetensors fixtures load into each module with strict keys; forward matches the float64 reference', () => {
  it('Linear(3, 2): weight [out, in] = [2,3], bias [2]; x=[4,3]', async () => {
    const sd = { weight: f32([2, 3]), bias: f32([2]) };
    const m = new nn.Linear(3, 2);
    await loadInto(m, 'linear', sd);
    const [x, xv] = input([4, 3]);
    expectClose(await out(m.forward(x)), refLinear(xv, 4, 3, sd.weight.values, sd.bias.values, 2), TOL.float32, 'linear');
    await expectWritesBack(m, 'linear', sd);
  });
  it('Conv2d(4, 6, [2,3], stride [2,1], padding [1,0], dilation [1,2], groups 2): weight [out, in/groups, kh, kw] = [6,2,2,3]; x=[2,4,5,7]', async () => {
    const sd = { weight: f32([6, 2, 2, 3]), bias: f32([6]) };
    const c: Conv = { s: [2, 1], p: [1, 0], d: [1, 2], g: 2 };
    const m = new nn.Conv2d(4, 6, [2, 3], { stride: c.s, padding: c.p, dilation: c.d, groups: c.g });
    await loadInto(m, 'conv', sd);
    const [x, xv] = input([2, 4, 5, 7]);
    const [ref, shape] = refConv2d(xv, [2, 4, 5, 7], sd.weight.values, sd.weight.shape, sd.bias.values, c);
    const y = m.forward(x);
    expect(y.shape).toEqual(shape);
    expectClose(await out(y), ref, TOL.float32, 'conv2d');
    await expectWritesBack(m, 'conv', sd);
  });
  it('ConvTranspose2d(4, 6, [3,2], stride [2,1], padding [1,0], outputPadding [1,0], groups 2): weight [in, out/groups, kh, kw] = [4,3,3,2]; x=[2,4,3,4]', async () => {
    const sd = { weight: f32([4, 3, 3, 2]), bias: f32([6]) };
    const c = { s: [2, 1] as [number, number], p: [1, 0] as [number, number], d: [1, 1] as [number, number], g: 2, op: [1, 0] as [number, number] };
    const m = new nn.ConvTranspose2d(4, 6, [3, 2], { stride: c.s, padding: c.p, outputPadding: c.op, groups: c.g });
    await loadInto(m, 'convt', sd);
    const [x, xv] = input([2, 4, 3, 4]);
    const [ref, shape] = refConvTranspose2d(xv, [2, 4, 3, 4], sd.weight.values, sd.weight.shape, sd.bias.values, c);
    const y = m.forward(x);
    expect(y.shape).toEqual(shape);
    expectClose(await out(y), ref, TOL.float32, 'conv_transpose2d');
    await expectWritesBack(m, 'convt', sd);
  });
  for (const [name, make, shape] of [
    ['BatchNorm1d(3), x=[4,3,2]', () => new nn.BatchNorm1d(3), [4, 3, 2]],
    ['BatchNorm2d(3), x=[2,3,2,2]', () => new nn.BatchNorm2d(3), [2, 3, 2, 2]],
  ] as [string, () => nn.Module, number[]][]) {
    it(`${name}: weight, bias, running_mean, running_var [3], num_batches_tracked []; eval uses the running statistics, training counts batches`, async () => {
      const sd = { weight: f32([3], 0.5, 2), bias: f32([3]), running_mean: f32([3]), running_var: f32([3], 0.2, 3), num_batches_tracked: count(7) };
      const m = make().eval();
      await loadInto(m, name.slice(0, 11), sd);
      const [x, xv] = input(shape);
      expectClose(await out(m.forward(x)), refBatchNorm(xv, 3, prod(shape.slice(2)), sd, ''), TOL.float32, 'batch norm eval');
      const nbt = m.stateDict()['num_batches_tracked']!;
      expect(nbt.dtype).toBe('int32');
      expect(await out(nbt)).toEqual([7]);  // eval: no batch counted
      await expectWritesBack(m, name.slice(0, 11), { ...sd, num_batches_tracked: count32(7) });
      m.train();
      m.forward(x);
      m.forward(x);
      expect(await out(m.stateDict()['num_batches_tracked']!)).toEqual([9]);  // PyTorch adds 1 per training forward
    });
  }
  it('LayerNorm([2,3]): weight, bias [2,3]; x=[4,2,3]', async () => {
    const sd = { weight: f32([2, 3], 0.5, 2), bias: f32([2, 3]) };
    const m = new nn.LayerNorm([2, 3]);
    await loadInto(m, 'layernorm', sd);
    const [x, xv] = input([4, 2, 3]);
    expectClose(await out(m.forward(x)), refLayerNorm(xv, 6, sd.weight.values, sd.bias.values), TOL.float32, 'layer norm');
    await expectWritesBack(m, 'layernorm', sd);
  });
  it('Embedding(5, 3): weight [num, dim] = [5,3]; idx=[2,3] int32', async () => {
    const sd = { weight: f32([5, 3]) };
    const m = new nn.Embedding(5, 3);
    await loadInto(m, 'embedding', sd);
    const idx = [4, 0, 2, 2, 1, 3];
    const y = m.forward(tensor(Int32Array.from(idx), { shape: [2, 3] }));
    expect(y.shape).toEqual([2, 3, 3]);
    expect(await out(y)).toEqual(idx.flatMap((i) => sd.weight.values.slice(3 * i, 3 * i + 3)));
    await expectWritesBack(m, 'embedding', sd);
  });
  for (const [kind, G, make] of [
    ['lstm', 4, () => new nn.LSTM(3, 4, { numLayers: 2 })],
    ['gru', 3, () => new nn.GRU(3, 4, { numLayers: 2 })],
    ['rnn', 1, () => new nn.RNN(3, 4, { numLayers: 2 })],
  ] as ['lstm' | 'gru' | 'rnn', number, () => nn.LSTM | nn.GRU | nn.RNN][]) {
    it(`${kind.toUpperCase()}(3, 4, numLayers 2): weight_ih_l0 [${G}*4,3], weight_hh_lk [${G}*4,4], weight_ih_l1 [${G}*4,4], bias_ih_lk, bias_hh_lk [${G}*4]; x=[5,2,3]`, async () => {
      const sd: Record<string, Entry> = {};
      for (const l of [0, 1]) {
        sd[`weight_ih_l${l}`] = f32([G * 4, l ? 4 : 3]);
        sd[`weight_hh_l${l}`] = f32([G * 4, 4]);
        sd[`bias_ih_l${l}`] = f32([G * 4]);
        sd[`bias_hh_l${l}`] = f32([G * 4]);
      }
      const m = make();
      await loadInto(m, kind, sd);
      const [x, xv] = input([5, 2, 3]);
      const y = m.forward(x);
      expect(y.shape).toEqual([5, 2, 4]);
      expectClose(await out(y), refRecurrent(kind, xv, [5, 2, 3], 4, 2, sd), TOL.float32, kind);
      await expectWritesBack(m, kind, sd);
    });
  }
  it('Sequential(Linear(3,4), BatchNorm1d(4), ReLU(), Linear(4,2)) numbers its children 0..3 as PyTorch: 0.weight, 1.running_mean, 3.bias ...', async () => {
    const sd = {
      '0.weight': f32([4, 3]), '0.bias': f32([4]),
      '1.weight': f32([4], 0.5, 2), '1.bias': f32([4]), '1.running_mean': f32([4]), '1.running_var': f32([4], 0.2, 3), '1.num_batches_tracked': count(3),
      '3.weight': f32([2, 4]), '3.bias': f32([2]),
    };
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.BatchNorm1d(4), new nn.ReLU(), new nn.Linear(4, 2)).eval();
    await loadInto(m, 'sequential', sd);
    // PyTorch's state_dict order: each module's parameters, then its buffers, module by module
    expect(Object.keys(m.stateDict())).toEqual(Object.keys(sd));
    const [x, xv] = input([5, 3]);
    const h = refBatchNorm(refLinear(xv, 5, 3, sd['0.weight'].values, sd['0.bias'].values, 4), 4, 1, sd, '1.').map((v) => Math.max(v, 0));
    expectClose(await out(m.forward(x)), refLinear(h, 5, 4, sd['3.weight'].values, sd['3.bias'].values, 2), TOL.float32, 'sequential');
    await expectWritesBack(m, 'sequential', sd);
  });
  it('a ModuleList property and an LSTM child nest their names: blocks.0.weight, blocks.1.running_var, rnn.weight_hh_l0', async () => {
    class Net extends nn.Module {
      blocks = new nn.ModuleList([new nn.Linear(2, 3), new nn.BatchNorm1d(3)]);
      rnn = new nn.LSTM(3, 2);
      forward(x: Tensor) { return x; }
    }
    const sd = {
      'blocks.0.weight': f32([3, 2]), 'blocks.0.bias': f32([3]),
      'blocks.1.weight': f32([3]), 'blocks.1.bias': f32([3]), 'blocks.1.running_mean': f32([3]), 'blocks.1.running_var': f32([3], 0.2, 3), 'blocks.1.num_batches_tracked': count(0),
      'rnn.weight_ih_l0': f32([8, 3]), 'rnn.weight_hh_l0': f32([8, 2]), 'rnn.bias_ih_l0': f32([8]), 'rnn.bias_hh_l0': f32([8]),
    };
    const m = new Net();
    await loadInto(m, 'modulelist', sd);
    expect(Object.keys(m.stateDict())).toEqual(Object.keys(sd));
    expect(m.namedParameters().map(([n]) => n)).toEqual(Object.keys(sd).filter((k) => !/running|num_batches/.test(k)));
    expect(m.namedBuffers().map(([n]) => n)).toEqual(['blocks.1.running_mean', 'blocks.1.running_var', 'blocks.1.num_batches_tracked']);
    // the values went to the tensors behind the camelCase properties
    expect(await out(m.rnn.weightHhL0)).toEqual(sd['rnn.weight_hh_l0'].values);
    expect(await out((m.blocks.items[1] as nn.BatchNorm1d).runningVar)).toEqual(sd['blocks.1.running_var'].values);
    await expectWritesBack(m, 'modulelist', sd);
  });
});

// ---- files written with the earlier camelCase names --------------------------------------------------------------

describe('state dicts under the earlier camelCase names still load, with one warning per load', () => {
  const model = () => new nn.Sequential(new nn.Linear(2, 3), new nn.BatchNorm1d(3), new nn.GRU(3, 2));
  const oldFile = () => ({
    '0.weight': f32([3, 2]), '0.bias': f32([3]),
    '1.weight': f32([3]), '1.bias': f32([3]), '1.runningMean': f32([3]), '1.runningVar': f32([3], 0.2, 3),
    '2.weightIhL0': f32([6, 3]), '2.weightHhL0': f32([6, 2]), '2.biasIhL0': f32([6]), '2.biasHhL0': f32([6]),
  });
  it('Sequential(Linear, BatchNorm1d, GRU) from 1.runningMean, 2.weightIhL0 ...: strict load, values in place, num_batches_tracked kept, one one-line warning naming the renaming', async () => {
    const entries = oldFile();
    const sd = await load(writeFixture('old', entries)) as Record<string, Tensor>;
    const m = model();
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(m.loadStateDict(sd)).toEqual({ missing: [], unexpected: [] });
    expect(warn).toHaveBeenCalledTimes(1);
    const msg = String(warn.mock.calls[0]![0]);
    expect(msg).toBe("Sequential.loadStateDict: read 6 entries under the names tensile wrote before it took PyTorch's " +
      "(1.runningMean -> 1.running_mean, 1.runningVar -> 1.running_var, 2.weightIhL0 -> 2.weight_ih_l0, 2.weightHhL0 -> 2.weight_hh_l0 and 2 more); stateDict() now writes PyTorch's names");
    expect(warn.mock.calls[0]![1]).toEqual({ type: 'DeprecationWarning', code: 'TENSILE_OLD_STATE_NAMES' });
    const now = m.stateDict();
    expect(await out(now['1.running_var']!)).toEqual(entries['1.runningVar'].values);
    expect(await out(now['2.weight_ih_l0']!)).toEqual(entries['2.weightIhL0'].values);
    expect(await out(now['2.bias_hh_l0']!)).toEqual(entries['2.biasHhL0'].values);
    expect(await out(now['1.num_batches_tracked']!)).toEqual([0]);
    // and a second load under PyTorch's names (what save() writes now) warns no more
    warn.mockClear();
    model().loadStateDict(now);
    expect(warn).not.toHaveBeenCalled();
  });
  it('one renamed entry: the warning says "1 entry" and lists it', () => {
    const m = new nn.BatchNorm1d(2);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    m.loadStateDict({ weight: tensor([1, 2]), bias: tensor([0, 0]), runningMean: tensor([3, 4]), running_var: tensor([1, 1]) });
    expect(String(warn.mock.calls[0]![0])).toBe("BatchNorm1d.loadStateDict: read 1 entry under the names tensile wrote before it took PyTorch's (runningMean -> running_mean); stateDict() now writes PyTorch's names");
  });
  it('an old file that lacks an entry is still missing it: 1.runningVar absent -> ArgumentError naming 1.running_var, nothing changed, no warning', async () => {
    const { ['1.runningVar']: _, ...entries } = oldFile();
    const sd = await load(writeFixture('old-missing', entries)) as Record<string, Tensor>;
    const m = model();
    const before = await out(m.stateDict()['0.weight']!);
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(() => m.loadStateDict(sd)).toThrow(ArgumentError);
    expect(() => m.loadStateDict(sd)).toThrow('Sequential.loadStateDict: expected the keys of this module, got missing [1.running_var] and unexpected []');
    expect(warn).not.toHaveBeenCalled();
    expect(await out(m.stateDict()['0.weight']!)).toEqual(before);
    expect(m.loadStateDict(sd, { strict: false }).missing).toEqual(['1.running_var']);
  });
  it('num_batches_tracked is optional only beside old names: a PyTorch-named BatchNorm1d(2) state without it is missing it', () => {
    const m = new nn.BatchNorm1d(2);
    const sd = { weight: tensor([1, 2]), bias: tensor([0, 0]), running_mean: tensor([3, 4]), running_var: tensor([1, 1]) };
    expect(() => m.loadStateDict(sd)).toThrow(ArgumentError);
    expect(() => m.loadStateDict(sd)).toThrow('BatchNorm1d.loadStateDict: expected the keys of this module, got missing [num_batches_tracked] and unexpected []');
  });
  it('both names for one entry (runningMean and running_mean): the old one is unexpected', () => {
    const m = new nn.BatchNorm1d(2);
    const sd = { weight: tensor([1, 2]), bias: tensor([0, 0]), running_mean: tensor([3, 4]), runningMean: tensor([5, 6]), running_var: tensor([1, 1]), num_batches_tracked: tensor(0, { dtype: 'int32' }) };
    expect(() => m.loadStateDict(sd)).toThrow(ArgumentError);
    expect(() => m.loadStateDict(sd)).toThrow('BatchNorm1d.loadStateDict: expected the keys of this module, got missing [] and unexpected [runningMean]');
    expect(m.loadStateDict(sd, { strict: false }).unexpected).toEqual(['runningMean']);
  });
  it('errors name the key the state holds: 2.weightIhL0 of shape [3,6] -> ShapeError naming 2.weightIhL0', async () => {
    const entries = oldFile();
    entries['2.weightIhL0'] = f32([3, 6]);
    const sd = await load(writeFixture('old-shape', entries)) as Record<string, Tensor>;
    const m = model();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    expect(() => m.loadStateDict(sd)).toThrow("Sequential.loadStateDict: expected '2.weightIhL0' of shape [6,3], got [3,6]");
  });
});

describe('tied weights: one tensor under two names', () => {
  class Tied extends nn.Module {
    embed = new nn.Embedding(4, 3);
    head = new nn.Linear(3, 4, { bias: false });
    constructor() {
      super();
      this.head.weight = this.embed.weight;
    }
    forward(x: Tensor) { return x; }
  }
  it('stateDict names it under both, as PyTorch does; namedParameters once; either name loads it', async () => {
    const m = new Tied();
    expect(Object.keys(m.stateDict())).toEqual(['embed.weight', 'head.weight']);
    expect(m.namedParameters().map(([n]) => n)).toEqual(['embed.weight']);
    const w = tensor(Float32Array.from(vals(12)), { shape: [4, 3] });
    m.loadStateDict({ 'embed.weight': w });  // the file of an earlier version holds the first name only
    expect(await out(m.head.weight)).toEqual(await out(w));
    const m2 = new Tied();
    m2.loadStateDict({ 'embed.weight': w, 'head.weight': w });
    expect(await out(m2.embed.weight)).toEqual(await out(w));
  });
});
