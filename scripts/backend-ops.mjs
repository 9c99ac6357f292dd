#!/usr/bin/env node
// backend-ops: every op of native/core/ops.def, run through the public API on each non-CPU device and on the CPU,
// compared by normalised mean squared error (the idea of ggml's test-backend-ops).
//
//   node scripts/backend-ops.mjs [--device cuda[:N][,..]] [--op name[,name]] [--seeds N] [--perf [--runs N]]
//                                [--json out.json] [--fake] [--list]
//
// For each op and each dtype with a kernel on the CPU (asked of the kernel table, never a hand list), every case of
// the op runs with several seeded inputs on the CPU and on the device; each output (forward results, gradients
// through autograd with the same cotangent, tensors updated in place) is compared:
//   NMSE = sum((a - b)^2) / sum(b^2), b = the CPU's result (0 when both are all zeros; NaN/Inf must match exactly)
//   thresholds by the output's dtype: float32 1e-7, float64 1e-20, int32 and uint8 exact (NMSE 0)
// One line per (device, op, dtype, case): OK / FAIL with the worst NMSE over seeds and outputs, or `not supported`
// when the device has no kernel for (op, dtype) (or, for a part of a case, for an op the case also needs).
// Ops without a case of their own are listed in COVERED_BY with the case whose backward runs them; an op that has
// a kernel on the device but neither a case nor a COVERED_BY entry is a FAIL (a new op cannot slip through).
// Exit code 1 on any FAIL, 2 on bad arguments; 0 (after saying so) when no GPU device is available.
//   --perf: the same cases at larger shapes, per device: one warm-up, then the median of --runs (default 5) timed
//           runs, each ending with a sync; prints ms on the CPU and on the device and the ratio device/cpu.
//   --fake: perturbs every value read back from the device (x*(1+1e-3)+1e-3, integers +1): proves the comparison
//           fails (used by test/cuda/backend-ops.test.ts).
//   --list: prints the case table as JSON ({ cases: {op: [case names]}, coveredBy: {op: 'case op'} }) and exits;
//           loads no native code.
import { writeFileSync } from 'node:fs';

const DTYPES = ['float32', 'float64', 'int32', 'uint8'];
const THRESHOLD = { float32: 1e-7, float64: 1e-20, int32: 0, uint8: 0 };
const isFloat = (d) => d === 'float32' || d === 'float64';
const CTOR = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array };

let T = null;  // the compiled library (dist/index.js), imported once the arguments are read

// ------------------------------------------------------------------------------------------ seeded host data
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const numel = (shape) => shape.reduce((a, b) => a * b, 1);

// Input specs made on the host (plain values, so every device gets the very same numbers).
// h.f: floats in [lo, hi); h.i: integers in [lo, hi]; h.n(small, large): a size, large under --perf.
function hostGen(seed, big) {
  const r = mulberry32(seed * 2654435761);
  const vals = (n, f) => { const v = new Float64Array(n); for (let i = 0; i < n; i++) v[i] = f(); return v; };
  return {
    big,
    n: (small, large) => (big ? large : small),
    f: (shape, dtype, o = {}) => {
      const lo = o.lo ?? -2, hi = o.hi ?? 2;
      // away from zero when asked (divisors): magnitude in [lo, hi), random sign
      const f = o.nonzero ? () => (r() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r()) : () => lo + (hi - lo) * r();
      return { shape, dtype, values: vals(numel(shape), f), grad: !!o.grad && isFloat(dtype) };
    },
    i: (shape, dtype, lo, hi, o = {}) => ({
      shape, dtype, values: vals(numel(shape), () => lo + Math.floor((hi - lo + 1) * r())), grad: !!o.grad && isFloat(dtype),
    }),
    // values of `dtype` that suit the op: small integers for integer dtypes (no overflow), floats otherwise
    v: (shape, dtype, o = {}) => (isFloat(dtype)
      ? { shape, dtype, values: vals(numel(shape), () => (o.lo ?? -2) + ((o.hi ?? 2) - (o.lo ?? -2)) * r()), grad: !!o.grad }
      : { shape, dtype, values: vals(numel(shape), () => (dtype === 'uint8' ? 0 : (o.ilo ?? -20)) + Math.floor(((o.ihi ?? 20) + 1 - (dtype === 'uint8' ? 0 : (o.ilo ?? -20))) * r())), grad: false }),
  };
}

function materialise(spec, device) {
  const t = T.tensor(CTOR[spec.dtype].from(spec.values), { shape: spec.shape, device });
  return spec.grad ? t.requiresGrad_() : t;
}

// ------------------------------------------------------------------------------------------ the case table
// A case: { name, inputs(h, dt) -> { name: spec }, run(x, c) } where x holds the inputs on the device; run makes
// its outputs through the public API and registers each with c.out(name, tensor); c.backward(y) backpropagates a
// seeded cotangent (the same values on every device); c.device, c.seed. `dtypes(dt)` limits a case to some dtypes.
const S = (h, small, large) => h.n(small, large);

function binaryCases(op, call, o = {}) {
  const spec = (h, shape, dt, which) => (op === 'pow' && which === 'a' ? h.f(shape, dt, { lo: 0.2, hi: 2, grad: true })
    : op === 'div' && which === 'b' ? h.f(shape, dt, { lo: 0.5, hi: 2, nonzero: true, grad: true })
      : h.v(shape, dt, { grad: true, ilo: o.ilo, ihi: o.ihi }));
  const grads = (c, x, y) => {
    c.out('y', y);
    if (!y.requiresGrad) return;
    c.backward(y);
    c.out('da', x.a.grad);
    c.out('db', x.b.grad);
  };
  return [
    { name: 'same-shape', inputs: (h, dt) => ({ a: spec(h, [S(h, 1031, 1 << 20)], dt, 'a'), b: spec(h, [S(h, 1031, 1 << 20)], dt, 'b') }),
      run: (x, c) => grads(c, x, call(x.a, x.b)) },
    // a: a transposed view [5,4,7]; b: a step-2 slice [4,7]: broadcasting over strided operands
    { name: 'bcast-strided', inputs: (h, dt) => ({ a: spec(h, [5, 7, S(h, 4, 64)], dt, 'a'), b: spec(h, [2 * S(h, 4, 64), 7], dt, 'b') }),
      run: (x, c) => grads(c, x, call(x.a.transpose(1, 2), x.b.slice(0, 0, x.b.shape[0], 2))) },
    { name: 'bcast-both', inputs: (h, dt) => ({ a: spec(h, [3, 1, S(h, 33, 1000)], dt, 'a'), b: spec(h, [S(h, 4, 100), 1], dt, 'b') }),
      run: (x, c) => grads(c, x, call(x.a, x.b)) },
    { name: 'scalar', inputs: (h, dt) => ({ a: spec(h, [S(h, 37, 1000), 29], dt, 'a'), b: spec(h, [1], dt, 'b') }),
      run: (x, c) => {
        const s = isFloat(x.a.dtype) ? (op === 'pow' ? 1.5 : 1.75) : 3;
        const y = call(x.a, s);
        c.out('y', y);
        if (y.requiresGrad) { c.backward(y); c.out('da', x.a.grad); }
      } },
  ];
}

function comparisonCases(op) {
  // values from a small set, so that ties (eq, le, ge) occur
  const v = (h, shape, dt) => h.i(shape, dt, dt === 'uint8' ? 0 : -3, 3);
  return [
    { name: 'same-shape', inputs: (h, dt) => ({ a: v(h, [S(h, 1031, 1 << 20)], dt), b: v(h, [S(h, 1031, 1 << 20)], dt) }),
      run: (x, c) => c.out('y', x.a[op](x.b)) },
    { name: 'bcast-strided', inputs: (h, dt) => ({ a: v(h, [5, 7, S(h, 4, 64)], dt), b: v(h, [S(h, 4, 64), 1], dt) }),
      run: (x, c) => c.out('y', x.a.transpose(1, 2)[op](x.b)) },
    { name: 'scalar', inputs: (h, dt) => ({ a: v(h, [S(h, 37, 1000), 29], dt) }),
      run: (x, c) => c.out('y', x.a[op](1)) },
  ];
}

function unaryCases(op, call, o = {}) {
  const spec = (h, shape, dt) => (o.positive ? h.f(shape, dt, { lo: 0.1, hi: 3, grad: true }) : h.v(shape, dt, { grad: true, lo: o.lo, hi: o.hi }));
  const go = (c, x, y) => {
    c.out('y', y);
    if (y.requiresGrad) { c.backward(y); c.out('dx', x.x.grad); }
  };
  return [
    { name: 'contiguous', inputs: (h, dt) => ({ x: spec(h, [S(h, 1031, 1 << 20)], dt) }), run: (x, c) => go(c, x, call(x.x)) },
    { name: 'strided', inputs: (h, dt) => ({ x: spec(h, [S(h, 13, 1000), 2 * 7 + 1], dt) }),
      run: (x, c) => go(c, x, call(x.x.transpose(0, 1).slice(0, 1, 15, 2))) },
  ];
}

function reduceCases(call) {
  const go = (c, x, y) => {
    c.out('y', y);
    if (y.requiresGrad) { c.backward(y); c.out('dx', x.x.grad); }
  };
  const x3 = (h, dt) => ({ x: h.f([5, 7, S(h, 9, 4000)], dt, { grad: true }) });
  return [
    { name: 'all', inputs: x3, run: (x, c) => go(c, x, call(x.x, undefined, false)) },
    { name: 'axis1-keepdim', inputs: x3, run: (x, c) => go(c, x, call(x.x, 1, true)) },
    { name: 'last-axis', inputs: x3, run: (x, c) => go(c, x, call(x.x, -1, false)) },
    { name: 'axes02-strided', inputs: (h, dt) => ({ x: h.f([S(h, 9, 4000), 7, 5], dt, { grad: true }) }),
      run: (x, c) => go(c, x, call(x.x.transpose(0, 2), [0, 2], false)) },
  ];
}

const nchw = (h, dt, n, ch, hh, ww, grad = true) => h.f([n, ch, hh, ww], dt, { grad });

export const CASES = {
  copy: [
    { name: 'transfer', inputs: (h, dt) => ({ x: h.v([S(h, 37, 1000), 29], dt) }), host: true,
      // from the CPU to the device (the CPU's strided view made contiguous there first), read back from the device
      run: (x, c) => c.out('y', x.x.transpose(0, 1).to(c.device)) },
    { name: 'strided-contiguous', inputs: (h, dt) => ({ x: h.v([5, 7, S(h, 9, 4000)], dt) }),
      run: (x, c) => { c.out('y', x.x.transpose(0, 2).contiguous()); c.out('slice', x.x.slice(2, 1, x.x.shape[2], 3).contiguous()); } },
    { name: 'cast', inputs: (h, dt) => ({ x: h.f([S(h, 37, 1000), 13], dt, { lo: 0, hi: 100 }) }),
      run: (x, c) => { for (const d of DTYPES) if (d !== x.x.dtype) c.out(`to-${d}`, x.x.cast(d)); } },
    { name: 'clone-grad', dtypes: isFloat, inputs: (h, dt) => ({ x: h.f([S(h, 31, 1000), 9], dt, { grad: true }) }),
      run: (x, c) => { const y = x.x.t().clone(); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  fill: [
    { name: 'full', inputs: () => ({}),
      run: (x, c) => { c.out('y', T.full([S(c.h, 37, 1000), 29], isFloat(c.dtype) ? -2.5 : 7, { dtype: c.dtype, device: c.device })); } },
    { name: 'zeros-ones-like', inputs: (h, dt) => ({ x: h.v([S(h, 1031, 1 << 20)], dt) }),
      run: (x, c) => {
        c.out('zeros', T.zeros([3, 5, 7], { dtype: c.dtype, device: c.device }));
        c.out('ones', T.ones([1031], { dtype: c.dtype, device: c.device }));
        c.out('fullLike', T.fullLike(x.x, 3));
      } },
  ],
  where: [
    { name: 'bcast-strided', inputs: (h, dt) => ({ m: h.i([5, 1, S(h, 7, 1000)], 'uint8', 0, 1), a: h.v([S(h, 7, 1000), 3], dt, { grad: true }), b: h.v([5, 3, 1], dt, { grad: true }) }),
      run: (x, c) => {
        const y = T.where(x.m, x.a.t(), x.b);
        c.out('y', y);
        if (y.requiresGrad) { c.backward(y); c.out('da', x.a.grad); c.out('db', x.b.grad); }
      } },
    { name: 'scalar', inputs: (h, dt) => ({ m: h.i([S(h, 1031, 1 << 20)], 'uint8', 0, 1), a: h.v([S(h, 1031, 1 << 20)], dt, { grad: true }) }),
      run: (x, c) => {
        const y = T.where(x.m, x.a, 2);
        c.out('y', y);
        if (y.requiresGrad) { c.backward(y); c.out('da', x.a.grad); }
      } },
  ],
  add: binaryCases('add', (a, b) => a.add(b), { ilo: -50, ihi: 50 }),
  sub: binaryCases('sub', (a, b) => a.sub(b), { ilo: -50, ihi: 50 }),
  mul: binaryCases('mul', (a, b) => a.mul(b), { ilo: -15, ihi: 15 }),
  div: binaryCases('div', (a, b) => a.div(b)),
  pow: binaryCases('pow', (a, b) => a.pow(b)),
  minimum: binaryCases('minimum', (a, b) => a.minimum(b)),
  maximum: binaryCases('maximum', (a, b) => a.maximum(b)),
  eq: comparisonCases('eq'), ne: comparisonCases('ne'), lt: comparisonCases('lt'),
  le: comparisonCases('le'), gt: comparisonCases('gt'), ge: comparisonCases('ge'),
  neg: unaryCases('neg', (x) => x.neg()),
  abs: unaryCases('abs', (x) => x.abs()),
  exp: unaryCases('exp', (x) => x.exp()),
  log: unaryCases('log', (x) => x.log(), { positive: true }),
  sqrt: unaryCases('sqrt', (x) => x.sqrt(), { positive: true }),
  rsqrt: unaryCases('rsqrt', (x) => x.rsqrt(), { positive: true }),
  relu: unaryCases('relu', (x) => x.relu()),
  leaky_relu: unaryCases('leaky_relu', (x) => x.leakyRelu(0.2)),
  elu: unaryCases('elu', (x) => x.elu(0.7)),
  gelu: [
    ...unaryCases('gelu', (x) => x.gelu(), { lo: -4, hi: 4 }),
    ...unaryCases('gelu', (x) => T.F.gelu(x, { approximate: 'tanh' }), { lo: -4, hi: 4 }).map((k) => ({ ...k, name: `${k.name}-tanh` })),
  ],
  silu: unaryCases('silu', (x) => x.silu(), { lo: -4, hi: 4 }),
  sigmoid: unaryCases('sigmoid', (x) => x.sigmoid(), { lo: -6, hi: 6 }),
  tanh: unaryCases('tanh', (x) => x.tanh(), { lo: -3, hi: 3 }),
  softplus: unaryCases('softplus', (x) => x.softplus(), { lo: -25, hi: 25 }),
  clamp: unaryCases('clamp', (x) => (isFloat(x.dtype) ? x.clamp(-0.5, 0.8) : x.clamp(-5, 7))),
  pow_scalar: [
    ...unaryCases('pow_scalar', (x) => x.pow(2.5), { positive: true }),
    ...unaryCases('pow_scalar', (x) => x.pow(3)).map((k) => ({ ...k, name: `${k.name}-int-exponent` })),
  ],
  sign: unaryCases('sign', (x) => x.sign()),
  sum: reduceCases((x, a, k) => x.sum(a, k)),
  mean: reduceCases((x, a, k) => x.mean(a, k)),
  max: [
    ...reduceCases((x, a, k) => x.max(a, k)),
    { name: 'with-indices', inputs: (h, dt) => ({ x: h.f([5, S(h, 9, 4000), 7], dt, { grad: true }) }),
      run: (x, c) => { const [v, i] = x.x.maxWithIndices(1); c.out('values', v); c.out('indices', i); c.backward(v); c.out('dx', x.x.grad); } },
  ],
  min: [
    ...reduceCases((x, a, k) => x.min(a, k)),
    { name: 'with-indices', inputs: (h, dt) => ({ x: h.f([5, S(h, 9, 4000), 7], dt, { grad: true }) }),
      run: (x, c) => { const [v, i] = x.x.minWithIndices(2, true); c.out('values', v); c.out('indices', i); c.backward(v); c.out('dx', x.x.grad); } },
  ],
  argmax: [
    { name: 'flat', inputs: (h, dt) => ({ x: h.f([5, 7, S(h, 9, 4000)], dt) }), run: (x, c) => c.out('y', x.x.argmax()) },
    { name: 'axis1-keepdim', inputs: (h, dt) => ({ x: h.f([5, S(h, 37, 4000), 9], dt) }), run: (x, c) => c.out('y', x.x.argmax(1, true)) },
    { name: 'strided', inputs: (h, dt) => ({ x: h.f([S(h, 9, 4000), 7], dt) }), run: (x, c) => c.out('y', x.x.t().argmax(-1)) },
  ],
  argmin: [
    { name: 'flat', inputs: (h, dt) => ({ x: h.f([5, 7, S(h, 9, 4000)], dt) }), run: (x, c) => c.out('y', x.x.argmin()) },
    { name: 'axis0', inputs: (h, dt) => ({ x: h.f([S(h, 37, 4000), 11], dt) }), run: (x, c) => c.out('y', x.x.argmin(0)) },
  ],
  var: [
    ...reduceCases((x, a, k) => x.var(a, { keepdim: k })),
    { name: 'correction0-std', inputs: (h, dt) => ({ x: h.f([5, S(h, 37, 4000), 3], dt, { grad: true }) }),
      run: (x, c) => {
        const v = x.x.var(1, { correction: 0 }), s = x.x.std([0, 2], { keepdim: true });
        c.out('var', v); c.out('std', s);
        c.backward(v.sum().add(s.sum())); c.out('dx', x.x.grad);
      } },
  ],
  logsumexp: reduceCases((x, a, k) => x.logsumexp(a, k)),
  softmax: [
    { name: 'last-axis', inputs: (h, dt) => ({ x: h.f([3, 5, S(h, 37, 4000)], dt, { lo: -5, hi: 5, grad: true }) }),
      run: (x, c) => { const y = x.x.softmax(-1); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'inner-axis-strided', inputs: (h, dt) => ({ x: h.f([3, S(h, 37, 4000), 5], dt, { lo: -5, hi: 5, grad: true }) }),
      run: (x, c) => { const y = x.x.transpose(1, 2).softmax(1); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  log_softmax: [
    { name: 'last-axis', inputs: (h, dt) => ({ x: h.f([3, 5, S(h, 37, 4000)], dt, { lo: -5, hi: 5, grad: true }) }),
      run: (x, c) => { const y = x.x.logSoftmax(-1); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'axis0', inputs: (h, dt) => ({ x: h.f([S(h, 37, 4000), 7], dt, { lo: -5, hi: 5, grad: true }) }),
      run: (x, c) => { const y = x.x.logSoftmax(0); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  cross_entropy: (() => {
    const inputs = (h, dt) => {
      const N = S(h, 13, 4096), C = S(h, 7, 1000);
      const labels = h.i([N], 'int32', 0, C - 1);
      const ignored = { ...labels, values: labels.values.map((v, i) => (i % 5 === 0 ? -1 : v)) };  // ignoreIndex: -1
      return { logits: h.f([N, C], dt, { lo: -4, hi: 4, grad: true }), labels, ignored, weight: h.f([C], dt, { lo: 0.2, hi: 2 }) };
    };
    const go = (o) => (x, c) => {
      const opts = { ...o.opts, ...(o.weight ? { weight: x.weight } : {}), ...(o.ignore ? { ignoreIndex: -1 } : {}) };
      const loss = T.F.crossEntropy(x.logits, o.ignore ? x.ignored : x.labels, opts);
      c.out('loss', loss);
      c.backward(loss);
      c.out('dlogits', x.logits.grad);
    };
    return [
      { name: 'mean', inputs, run: go({ opts: {} }) },
      { name: 'sum-smoothing', inputs, run: go({ opts: { reduction: 'sum', labelSmoothing: 0.1 } }) },
      { name: 'none-weight', inputs, run: go({ opts: { reduction: 'none' }, weight: true }) },
      { name: 'mean-weight-ignore-smoothing', inputs, run: go({ opts: { labelSmoothing: 0.2 }, weight: true, ignore: true }) },
    ];
  })(),
  matmul: (() => {
    const go = (c, x, y) => {
      c.out('y', y); c.backward(y);
      for (const k of Object.keys(x)) c.out(`d${k}`, x[k].grad);
    };
    return [
      { name: '2d', inputs: (h, dt) => ({ a: h.f([S(h, 37, 512), 29], dt, { grad: true }), b: h.f([29, S(h, 19, 512)], dt, { grad: true }) }),
        run: (x, c) => go(c, x, x.a.matmul(x.b)) },
      { name: 'batched-bcast', inputs: (h, dt) => ({ a: h.f([3, 1, 13, S(h, 17, 256)], dt, { grad: true }), b: h.f([4, S(h, 17, 256), 9], dt, { grad: true }) }),
        run: (x, c) => go(c, x, x.a.matmul(x.b)) },
      { name: 'transposed', inputs: (h, dt) => ({ a: h.f([S(h, 29, 512), 37], dt, { grad: true }), b: h.f([S(h, 21, 512), 29], dt, { grad: true }) }),
        run: (x, c) => go(c, x, x.a.t().matmul(x.b.t())) },
      { name: 'bias-relu', inputs: (h, dt) => ({ a: h.f([S(h, 33, 512), 65], dt, { grad: true }), b: h.f([65, 17], dt, { grad: true }), bias: h.f([17], dt, { grad: true }) }),
        run: (x, c) => go(c, x, T.matmul(x.a, x.b, { bias: x.bias, relu: true })) },
      { name: 'vector', inputs: (h, dt) => ({ a: h.f([S(h, 67, 4096)], dt, { grad: true }), b: h.f([S(h, 67, 4096), 5], dt, { grad: true }) }),
        run: (x, c) => go(c, x, x.a.matmul(x.b)) },
      { name: 'linear', inputs: (h, dt) => ({ a: h.f([2, S(h, 9, 256), 31], dt, { grad: true }), w: h.f([11, 31], dt, { grad: true }), bias: h.f([11], dt, { grad: true }) }),
        run: (x, c) => go(c, x, T.F.linear(x.a, x.w, x.bias)) },
    ];
  })(),
  conv2d: (() => {
    const go = (o) => (x, c) => {
      const y = x.b ? T.conv2d(x.x, x.w, x.b, o) : T.conv2d(x.x, x.w, o);
      c.out('y', y); c.backward(y);
      c.out('dx', x.x.grad); c.out('dw', x.w.grad);
      if (x.b) c.out('db', x.b.grad);
    };
    return [
      { name: '3x3-pad1-bias', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 9, S(h, 11, 64)), w: h.f([4, 3, 3, 3], dt, { grad: true }), b: h.f([4], dt, { grad: true }) }),
        run: go({ padding: 1 }) },
      { name: 'stride2-dilation-pad', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 13, S(h, 10, 64)), w: h.f([5, 3, 3, 2], dt, { grad: true }) }),
        run: go({ stride: 2, padding: [1, 2], dilation: [2, 1] }) },
      { name: 'groups', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 4, 7, S(h, 8, 64)), w: h.f([6, 2, 3, 3], dt, { grad: true }), b: h.f([6], dt, { grad: true }) }),
        run: go({ groups: 2, stride: [1, 2], padding: 1 }) },
      { name: '1x1', inputs: (h, dt) => ({ x: nchw(h, dt, 3, 5, 6, S(h, 7, 64)), w: h.f([9, 5, 1, 1], dt, { grad: true }) }),
        run: go({}) },
      { name: '5x5-one-channel-same-relu', inputs: (h, dt) => ({ x: nchw(h, dt, 3, 1, 13, S(h, 12, 64)), w: h.f([4, 1, 5, 5], dt, { grad: true }), b: h.f([4], dt, { grad: true }) }),
        run: go({ padding: 'same', relu: true }) },
    ];
  })(),
  max_pool2d: [
    { name: 'k3-s2-p1', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 11, S(h, 9, 128)) }),
      run: (x, c) => { const y = T.maxPool2d(x.x, { kernelSize: 3, stride: 2, padding: 1 }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'k2-tiling-indices', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 10, S(h, 8, 128)) }),
      run: (x, c) => { const [y, i] = T.maxPool2dWithIndices(x.x, { kernelSize: 2 }); c.out('y', y); c.out('indices', i); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'dilation-ceil', inputs: (h, dt) => ({ x: nchw(h, dt, 1, 2, 11, S(h, 13, 128)) }),
      run: (x, c) => { const y = T.maxPool2d(x.x, { kernelSize: [2, 3], stride: 2, dilation: [1, 2], ceilMode: true }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  avg_pool2d: [
    { name: 'k3-s2-p1-exclude-pad', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 11, S(h, 9, 128)) }),
      run: (x, c) => { const y = T.avgPool2d(x.x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'k2-include-pad-ceil', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 9, S(h, 7, 128)) }),
      run: (x, c) => { const y = T.avgPool2d(x.x, { kernelSize: 2, padding: 1, ceilMode: true }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  adaptive_avg_pool2d: [
    { name: 'uneven-bins', inputs: (h, dt) => ({ x: nchw(h, dt, 2, 3, 10, S(h, 7, 128)) }),
      run: (x, c) => { const y = T.adaptiveAvgPool2d(x.x, [3, 4]); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'global', inputs: (h, dt) => ({ x: nchw(h, dt, 3, 5, 9, S(h, 11, 128)) }),
      run: (x, c) => { const y = T.adaptiveAvgPool2d(x.x, 1); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  batch_norm: (() => {
    const inputs4 = (h, dt) => ({ x: nchw(h, dt, 6, 5, 4, S(h, 3, 128)), w: h.f([5], dt, { lo: 0.5, hi: 1.5, grad: true }), b: h.f([5], dt, { grad: true }),
      rm: h.f([5], dt, { lo: -0.5, hi: 0.5 }), rv: h.f([5], dt, { lo: 0.5, hi: 2 }) });
    const go = (o) => (x, c) => {
      const y = T.F.batchNorm(x.x, x.rm, x.rv, x.w, x.b, o);
      c.out('y', y); c.out('runningMean', x.rm); c.out('runningVar', x.rv);
      c.backward(y); c.out('dx', x.x.grad); c.out('dweight', x.w.grad); c.out('dbias', x.b.grad);
    };
    return [
      { name: 'train-4d', inputs: inputs4, run: go({ training: true, momentum: 0.2, eps: 1e-3 }) },
      { name: 'train-2d', inputs: (h, dt) => ({ x: h.f([S(h, 9, 4096), 5], dt, { grad: true }), w: h.f([5], dt, { lo: 0.5, hi: 1.5, grad: true }), b: h.f([5], dt, { grad: true }),
        rm: h.f([5], dt), rv: h.f([5], dt, { lo: 0.5, hi: 2 }) }), run: go({ training: true }) },
      { name: 'eval-4d', inputs: inputs4, run: go({ training: false }) },
    ];
  })(),
  rand_uniform: [
    { name: 'rand', inputs: () => ({}),
      run: (x, c) => { T.manualSeed(c.seed); c.out('a', T.rand([S(c.h, 37, 1000), 29], { dtype: c.dtype, device: c.device })); c.out('b', T.rand([1031], { dtype: c.dtype, device: c.device, low: -1, high: 3 })); } },
  ],
  rand_normal: [
    { name: 'randn', inputs: () => ({}),
      run: (x, c) => { T.manualSeed(c.seed); c.out('a', T.randn([S(c.h, 1031, 1 << 20)], { dtype: c.dtype, device: c.device })); c.out('b', T.randn([7, 33], { dtype: c.dtype, device: c.device, mean: 0.5, std: 2 })); } },
  ],
  randint: [
    { name: 'randint', inputs: () => ({}),
      run: (x, c) => { T.manualSeed(c.seed); c.out('a', T.randint(-5, 17, [S(c.h, 37, 1000), 29], { dtype: c.dtype, device: c.device })); c.out('b', T.randint(0, 1000003, [1031], { dtype: c.dtype, device: c.device })); } },
  ],
  dropout: [
    { name: 'train', inputs: (h, dt) => ({ x: h.f([S(h, 1031, 1 << 20)], dt, { grad: true }) }),
      run: (x, c) => { T.manualSeed(c.seed); const y = T.F.dropout(x.x, { p: 0.3, training: true }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
    { name: 'train-strided-p0.5', inputs: (h, dt) => ({ x: h.f([S(h, 13, 1000), 7], dt, { grad: true }) }),
      run: (x, c) => { T.manualSeed(c.seed + 1); const y = T.F.dropout(x.x.t(), { p: 0.5 }); c.out('y', y); c.backward(y); c.out('dx', x.x.grad); } },
  ],
  index_select: (() => {
    const go = (dim) => (x, c) => {
      const y = T.indexSelect(x.x, dim, x.idx);
      c.out('y', y);
      if (y.requiresGrad) { c.backward(y); c.out('dx', x.x.grad); }
    };
    return [
      { name: 'dim0-repeats', inputs: (h, dt) => ({ x: h.v([7, S(h, 5, 4096)], dt, { grad: true }), idx: h.i([9], 'int32', 0, 6) }), run: go(0) },
      { name: 'dim1', inputs: (h, dt) => ({ x: h.v([3, 11, S(h, 4, 4096)], dt, { grad: true }), idx: h.i([6], 'int32', 0, 10) }), run: go(1) },
      { name: 'last-dim', inputs: (h, dt) => ({ x: h.v([S(h, 5, 4096), 13], dt, { grad: true }), idx: h.i([17], 'int32', 0, 12) }), run: go(-1) },
    ];
  })(),
  topk: (() => {
    const go = (k, o) => (x, c) => {
      const { values, indices } = T.topk(o.t ? x.x.t() : x.x, k, o);
      c.out('values', values); c.out('indices', indices);
      if (values.requiresGrad) { c.backward(values); c.out('dx', x.x.grad); }
    };
    return [
      { name: 'last-dim-k5', inputs: (h, dt) => ({ x: h.f([6, S(h, 300, 50257)], dt, { grad: true }) }), run: go(5, {}) },
      { name: 'dim0-smallest-strided', inputs: (h, dt) => ({ x: h.f([S(h, 37, 2000), 9], dt, { grad: true }) }), run: go(9, { dim: 1, largest: false, t: true }) },
      { name: 'middle-dim-all', inputs: (h, dt) => ({ x: h.f([3, S(h, 40, 1000), 5], dt, { grad: true }) }), run: (x, c) => go(x.x.shape[1], { dim: 1 })(x, c) },
    ];
  })(),
  multinomial: (() => {
    const go = (S, o) => (x, c) => { T.manualSeed(c.seed); c.out('y', T.multinomial(x.w, S, o)); };
    return [
      { name: 'replacement', inputs: (h, dt) => ({ w: h.f([S(h, 8, 64), S(h, 300, 50257)], dt, { lo: 0, hi: 1 }) }), run: go(20, { replacement: true }) },
      { name: 'no-replacement', inputs: (h, dt) => ({ w: h.f([S(h, 8, 64), S(h, 300, 50257)], dt, { lo: 0, hi: 1 }) }), run: go(20, {}) },
      { name: 'one-row-all', inputs: (h, dt) => ({ w: h.f([S(h, 50, 2000)], dt, { lo: 0.5, hi: 3 }) }), run: (x, c) => go(x.w.shape[0], {})(x, c) },
    ];
  })(),
  layer_norm: (() => {
    const go = (ns, hw, hb) => (x, c) => {
      const y = T.F.layerNorm(x.x, ns, hw ? x.w : null, hb ? x.b : null);
      c.out('y', y); c.backward(y); c.out('dx', x.x.grad);
      if (hw) c.out('dweight', x.w.grad);
      if (hb) c.out('dbias', x.b.grad);
    };
    const inputs = (rows, ns) => (h, dt) => ({ x: h.f([...rows, ...ns], dt, { lo: -2, hi: 3, grad: true }),
      w: h.f(ns, dt, { lo: 0.5, hi: 1.5, grad: true }), b: h.f(ns, dt, { grad: true }) });
    return [
      { name: 'gpt-rows', inputs: (h, dt) => inputs([S(h, 3, 16), S(h, 40, 128)], [S(h, 130, 128)])(h, dt), run: (x, c) => go([x.x.shape[2]], true, true)(x, c) },
      { name: 'wide-2d', inputs: (h, dt) => inputs([S(h, 7, 2048)], [S(h, 9, 32), S(h, 33, 32)])(h, dt), run: (x, c) => go(x.w.shape, true, false)(x, c) },
      { name: 'no-affine', inputs: inputs([5], [300]), run: go([300], false, false) },
      { name: 'bias-only', inputs: inputs([1], [64]), run: go([64], false, true) },
    ];
  })(),
  adam_: (() => {
    const inputs = (h, dt) => {
      const o = { p1: h.f([S(h, 37, 1 << 20)], dt, { grad: true }), p2: h.f([5, 7], dt, { grad: true }) };
      for (let s = 0; s < 3; s++) { o[`g1_${s}`] = h.f(o.p1.shape, dt); o[`g2_${s}`] = h.f(o.p2.shape, dt); }
      return o;
    };
    const go = (make) => (x, c) => {
      const opt = make([x.p1, x.p2]);
      for (let s = 0; s < 3; s++) { x.p1.grad = x[`g1_${s}`]; x.p2.grad = x[`g2_${s}`]; opt.step(); }
      c.out('p1', x.p1); c.out('p2', x.p2);
    };
    return [
      { name: 'default', inputs, run: go((p) => new T.optim.Adam(p, { lr: 0.01 })) },
      { name: 'amsgrad-weight-decay', inputs, run: go((p) => new T.optim.Adam(p, { lr: 0.02, weightDecay: 0.01, amsgrad: true, betas: [0.8, 0.99] })) },
      { name: 'adamw', inputs, run: go((p) => new T.optim.AdamW(p, { lr: 0.01, weightDecay: 0.05 })) },
      { name: 'maximize', inputs, run: go((p) => new T.optim.Adam(p, { lr: 0.01, maximize: true, eps: 1e-6 })) },
    ];
  })(),
  sgd_: (() => {
    const inputs = (h, dt) => {
      const o = { p1: h.f([S(h, 37, 1 << 20)], dt, { grad: true }), p2: h.f([5, 7], dt, { grad: true }) };
      for (let s = 0; s < 3; s++) { o[`g1_${s}`] = h.f(o.p1.shape, dt); o[`g2_${s}`] = h.f(o.p2.shape, dt); }
      return o;
    };
    const go = (opts) => (x, c) => {
      const opt = new T.optim.SGD([x.p1, x.p2], opts);
      for (let s = 0; s < 3; s++) { x.p1.grad = x[`g1_${s}`]; x.p2.grad = x[`g2_${s}`]; opt.step(); }
      c.out('p1', x.p1); c.out('p2', x.p2);
    };
    return [
      { name: 'plain', inputs, run: go({ lr: 0.1 }) },
      { name: 'momentum-dampening-decay', inputs, run: go({ lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 }) },
      { name: 'nesterov-maximize', inputs, run: go({ lr: 0.05, momentum: 0.8, nesterov: true, maximize: true }) },
    ];
  })(),
  attention: (() => {
    const go = (o) => (x, c) => {
      if (o.dropoutP) T.manualSeed(c.seed);
      const y = T.F.scaledDotProductAttention(x.q, x.k, x.v, { ...o, attnMask: o.mask ? x.m : undefined });
      c.out('y', y); c.backward(y); c.out('dq', x.q.grad); c.out('dk', x.k.grad); c.out('dv', x.v.grad);
    };
    const qkv = (h, dt, qs, ks, vs) => ({ q: h.f(qs, dt, { grad: true }), k: h.f(ks, dt, { grad: true }), v: h.f(vs, dt, { grad: true }) });
    return [
      { name: 'causal', inputs: (h, dt) => { const L = S(h, 37, 1024); return qkv(h, dt, [2, 3, L, 16], [2, 3, L, 16], [2, 3, L, 16]); },
        run: go({ isCausal: true }) },
      { name: 'bool-mask-bcast-L!=S', inputs: (h, dt) => {
        const Sk = S(h, 45, 1024);
        return { ...qkv(h, dt, [2, 2, 19, 8], [1, 2, Sk, 8], [2, 1, Sk, 12]), m: h.i([19, Sk], 'uint8', 0, 1) };
      }, run: go({ mask: true }) },
      { name: 'additive-mask-dropout', inputs: (h, dt) => {
        const L = S(h, 33, 512), Sk = S(h, 70, 512);
        return { ...qkv(h, dt, [2, 2, L, 24], [2, 2, Sk, 24], [2, 2, Sk, 8]), m: h.f([2, 1, L, Sk], dt) };
      }, run: go({ mask: true, dropoutP: 0.2, scale: 0.4 }) },
    ];
  })(),
};

// Ops without a case of their own: the case whose backward (through autograd) launches them.
export const COVERED_BY = {
  relu_bwd: 'relu', leaky_relu_bwd: 'leaky_relu', elu_bwd: 'elu', gelu_bwd: 'gelu', silu_bwd: 'silu',
  sigmoid_bwd: 'sigmoid', tanh_bwd: 'tanh', softplus_bwd: 'softplus',
  softmax_bwd: 'softmax', log_softmax_bwd: 'log_softmax', cross_entropy_bwd: 'cross_entropy',
  conv2d_bwd_input: 'conv2d', conv2d_bwd_weight: 'conv2d', max_pool2d_bwd: 'max_pool2d', avg_pool2d_bwd: 'avg_pool2d',
  adaptive_avg_pool2d_bwd: 'adaptive_avg_pool2d', batch_norm_bwd: 'batch_norm', index_select_bwd: 'index_select',
  attention_bwd: 'attention', topk_bwd: 'topk', layer_norm_bwd: 'layer_norm',
};

// ------------------------------------------------------------------------------------------ running
const NOT_IMPL = /not implemented for (device |this device)/;

function parseArgs(argv) {
  const o = { devices: null, ops: null, seeds: 3, perf: false, runs: 5, json: null, fake: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: expected a value`);
      return v;
    };
    if (a === '--device') o.devices = val().split(',');
    else if (a === '--op') o.ops = val().split(',');
    else if (a === '--seeds') o.seeds = Number(val());
    else if (a === '--runs') o.runs = Number(val());
    else if (a === '--perf') o.perf = true;
    else if (a === '--json') o.json = val();
    else if (a === '--fake') o.fake = true;
    else if (a === '--list') o.list = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(Number.isInteger(o.seeds) && o.seeds >= 1)) throw new Error('--seeds: expected an integer >= 1');
  if (!(Number.isInteger(o.runs) && o.runs >= 1)) throw new Error('--runs: expected an integer >= 1');
  return o;
}

// Runs one case on one device: returns { outs: Map(name -> Tensor), missing: string | null }.
function runCase(k, dtype, device, seed, big) {
  const h = hostGen(seed, big);
  const specs = k.inputs(h, dtype);
  const x = {};
  const outs = new Map();
  let cot = 0;
  const c = {
    device, dtype, seed, h,
    out: (name, t) => { if (t !== null && t !== undefined) outs.set(name, t); },
    backward: (y) => {
      const r = mulberry32((seed * 7919 + ++cot) | 0);
      const v = new Float64Array(y.numel);
      for (let i = 0; i < v.length; i++) v[i] = 2 * r() - 1;
      y.backward(T.tensor(CTOR[y.dtype].from(v), { shape: y.shape, device: y.device }));
    },
  };
  let missing = null;
  try {
    // `host` cases take their inputs on the CPU and move them to the device themselves
    for (const [n, s] of Object.entries(specs)) x[n] = materialise(s, k.host ? 'cpu' : device);
    k.run(x, c);
  } catch (e) {
    if (!(e instanceof T.DeviceError) || !NOT_IMPL.test(e.message)) throw e;
    missing = e.message;
  }
  return { outs, missing };
}

async function read(t, fake) {
  const d = await t.data();
  const v = Float64Array.from(d);
  if (fake) for (let i = 0; i < v.length; i++) v[i] = isFloat(t.dtype) ? v[i] * (1 + 1e-3) + 1e-3 : v[i] + 1;
  return v;
}

function nmse(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i], y = b[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
      return Infinity;
    }
    num += (x - y) * (x - y);
    den += y * y;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return num / den;
}

const fmtE = (v) => (v === null ? '-' : v === 0 ? '0' : v.toExponential(2));

async function compareCase(k, op, dtype, device, seeds, fake) {
  let worst = 0, fail = false, compared = 0;
  const notes = new Set();
  const outputs = {};
  for (let s = 0; s < seeds; s++) {
    const seed = 1000 * (s + 1) + 17;
    const ref = runCase(k, dtype, 'cpu', seed, false);
    if (ref.missing) throw new Error(`the CPU run has no kernel: ${ref.missing}`);
    const dev = runCase(k, dtype, device, seed, false);
    if (dev.missing) notes.add(`after ${[...dev.outs.keys()].join(', ') || 'nothing'}: ${dev.missing}`);
    for (const [name, rt] of ref.outs) {
      const dt = dev.outs.get(name);
      if (dt === undefined) { if (!dev.missing) { fail = true; notes.add(`${name}: missing on ${device}`); } continue; }
      if (dt.device !== device) { fail = true; notes.add(`${name}: on ${dt.device}, expected ${device}`); }
      if (dt.dtype !== rt.dtype || dt.shape.join(',') !== rt.shape.join(',')) {
        fail = true; notes.add(`${name}: ${dt.dtype}[${dt.shape}] vs cpu ${rt.dtype}[${rt.shape}]`); continue;
      }
      const b = await read(rt, false);
      let a;
      try {
        a = await read(dt, fake);
      } catch (e) {
        if (NOT_IMPL.test(e.message)) { notes.add(`${name}: ${e.message}`); continue; }
        fail = true; notes.add(`${name}: ${e.name}: ${e.message}`); continue;
      }
      const e = nmse(a, b);
      const thr = THRESHOLD[rt.dtype];
      compared++;
      outputs[name] = Math.max(outputs[name] ?? 0, e);
      if (!(e <= thr)) { fail = true; notes.add(`${name}: nmse ${fmtE(e)} > ${fmtE(thr)} (${rt.dtype})`); }
      worst = Math.max(worst, e);
    }
  }
  const status = fail ? 'FAIL' : compared === 0 ? 'not supported' : 'OK';
  return { status, nmse: compared ? worst : null, outputs, notes: [...notes] };
}

async function timeCase(k, dtype, device, runs) {
  const seed = 99991;
  const h = hostGen(seed, true);
  const specs = k.inputs(h, dtype);
  const x = {};
  for (const [n, s] of Object.entries(specs)) x[n] = materialise(s, k.host ? 'cpu' : device);
  const base = {};
  for (const n of Object.keys(x)) base[n] = x[n];
  // cotangents are made (uploaded) once, in the warm-up run, and reused: the timed runs hold no host transfer
  let cot = 0;
  const cots = new Map();
  const c = {
    device, dtype, seed, h,
    out: () => {},
    backward: (y) => {
      const key = `${++cot}:${y.dtype}:${y.shape}`;
      let g = cots.get(key);
      if (!g) {
        const r = mulberry32(seed + cot);
        const v = new Float64Array(y.numel);
        for (let i = 0; i < v.length; i++) v[i] = 2 * r() - 1;
        cots.set(key, (g = T.tensor(CTOR[y.dtype].from(v), { shape: y.shape, device: y.device })));
      }
      y.backward(g);
    },
  };
  const once = async () => {
    cot = 0;
    for (const n of Object.keys(base)) if (base[n].requiresGrad) base[n].zeroGrad();
    const t0 = performance.now();
    k.run(x, c);
    await T.sync();
    return performance.now() - t0;
  };
  await once();
  const ts = [];
  for (let i = 0; i < runs; i++) ts.push(await once());
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)];
}

function canonical(d) {
  if (d === 'cuda') return 'cuda:0';
  if (/^cuda:\d+$/.test(d)) return d;
  throw new Error(`--device: expected cuda or cuda:N, got ${d}`);
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`backend-ops: ${e.message}`);
    return 2;
  }
  if (o.list) {
    const cases = Object.fromEntries(Object.entries(CASES).map(([op, ks]) => [op, ks.map((k) => k.name)]));
    process.stdout.write(JSON.stringify({ cases, coveredBy: COVERED_BY }) + '\n');
    return 0;
  }
  T = await import('../dist/index.js');
  const { hasKernel } = await import('../dist/tensor/tensor.js');
  const opNames = [...T.opNames];
  for (const op of o.ops ?? []) {
    if (!opNames.includes(op)) { console.error(`backend-ops: --op: expected an op of native/core/ops.def, got ${op}`); return 2; }
  }
  const st = T.cuda.status();
  let devices;
  try {
    devices = o.devices ? o.devices.map(canonical) : Array.from({ length: T.cuda.deviceCount() }, (_, i) => `cuda:${i}`);
  } catch (e) {
    console.error(`backend-ops: ${e.message}`);
    return 2;
  }
  const absent = devices.filter((d) => Number(d.slice(5)) >= st.devices);
  if (devices.length === 0 || absent.length) {
    console.log(`backend-ops: no GPU device available${absent.length ? ` (${absent.join(', ')})` : ''}: ${st.reason || `${st.devices} device(s) found`}; nothing to compare`);
    return 0;
  }
  console.log(`backend-ops: ${devices.join(', ')} vs cpu${st.emulated ? ' (SIMT emulator)' : ''}; thresholds (NMSE): ` +
    Object.entries(THRESHOLD).map(([d, t]) => `${d} ${t === 0 ? 'exact' : t}`).join(', ') + `; ${o.seeds} seeds${o.fake ? '; --fake: device results perturbed' : ''}`);

  // every op of the table (the native op names, generated from ops.def) needs a case or a covering case
  const selected = (op) => !o.ops || o.ops.includes(op) || o.ops.some((s) => COVERED_BY[s] === op);
  const results = [];
  const perf = [];
  let fails = 0, oks = 0, unsupported = 0;
  const line = (r) => {
    results.push(r);
    const extra = r.notes?.length ? `  ${r.notes.join('; ')}` : '';
    const nm = r.nmse === null || r.nmse === undefined ? '' : ` nmse=${fmtE(r.nmse)}`;
    console.log(`${r.status.padEnd(13)} ${r.device} ${r.op} ${r.dtype} ${r.case}${nm}${extra}`);
    if (r.status === 'FAIL') fails++; else if (r.status === 'OK') oks++; else unsupported++;
  };
  for (const device of devices) {
    for (const op of opNames) {
      if (CASES[op] || !selected(op)) continue;
      const by = COVERED_BY[op];
      const hasDev = DTYPES.some((d) => hasKernel(op, device, d));
      if (!by || !CASES[by]) {
        line({ device, op, dtype: '-', case: '-', status: hasDev ? 'FAIL' : 'not supported',
          nmse: null, notes: [hasDev ? `has a kernel on ${device} but no case in scripts/backend-ops.mjs` : 'no case (and no kernel on the device)'] });
        continue;
      }
      for (const dt of DTYPES) {
        if (!hasKernel(op, 'cpu', dt)) continue;
        console.log(`${'covered'.padEnd(13)} ${device} ${op} ${dt}: by the gradients of ${by}'s cases (kernel on ${device}: ${hasKernel(op, device, dt) ? 'yes' : 'no'})`);
      }
    }
    for (const [op, ks] of Object.entries(CASES)) {
      if (!opNames.includes(op)) {
        line({ device, op, dtype: '-', case: '-', status: 'FAIL', nmse: null, notes: ['a case for an op that is not in native/core/ops.def'] });
        continue;
      }
      if (!selected(op)) continue;
      for (const dt of DTYPES) {
        if (!hasKernel(op, 'cpu', dt)) continue;
        for (const k of ks) {
          if (k.dtypes && !k.dtypes(dt)) continue;
          const base = { device, op, dtype: dt, case: k.name };
          if (!hasKernel(op, device, dt)) { line({ ...base, status: 'not supported', nmse: null, notes: [] }); continue; }
          let r;
          try {
            r = await compareCase(k, op, dt, device, o.seeds, o.fake);
          } catch (e) {
            r = { status: 'FAIL', nmse: null, notes: [`${e.name}: ${e.message}`] };
          }
          line({ ...base, ...r });
          if (o.perf && r.status === 'OK') {
            try {
              const cpu = await timeCase(k, dt, 'cpu', o.runs);
              const gpu = await timeCase(k, dt, device, o.runs);
              perf.push({ device, op, dtype: dt, case: k.name, cpuMs: cpu, deviceMs: gpu, ratio: gpu / cpu });
              console.log(`${'perf'.padEnd(13)} ${device} ${op} ${dt} ${k.name}: cpu ${cpu.toFixed(3)} ms, ${device} ${gpu.toFixed(3)} ms, ${device}/cpu ${(gpu / cpu).toFixed(2)}`);
            } catch (e) {
              console.log(`${'perf'.padEnd(13)} ${device} ${op} ${dt} ${k.name}: ${e.name}: ${e.message}`);
            }
          }
        }
      }
    }
  }
  const summary = { ok: oks, fail: fails, notSupported: unsupported, devices };
  console.log(`backend-ops: ${oks} OK, ${fails} FAIL, ${unsupported} not supported`);
  if (o.json) writeFileSync(o.json, JSON.stringify({ thresholds: THRESHOLD, seeds: o.seeds, fake: o.fake, summary, results, perf }, null, 1) + '\n');
  return fails ? 1 : 0;
}

process.exitCode = await main();
