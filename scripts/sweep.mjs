#!/usr/bin/env node
// A seeded sweep over the public API with random arguments: the exported functions (namespaces walked), Tensor
// methods and accessors, the nn modules, optimizers, schedulers, data and training classes (constructors and the
// methods of ready-made instances). Every case must either return (and then every tensor it returns reads, with
// `await t.data()`, to values or to a TensileError) or throw a TensileError whose message starts with an op name
// ("<op>: ..."); it must not abort the process, hang, or allocate without bound.
//
//   node scripts/sweep.mjs --seed 1 --cases 2000          JSON report on stdout; exit 0 when no case failed
//   node scripts/sweep.mjs --seed 1 --only 517            one case again (the report's `repro` line)
//   options: --start K (first case), --timeout MS (per case, default 10000), --inject (adds targets that fail on
//   purpose, one of each kind, first, to check the sweep itself), --rss-mb N (the worker's memory limit, default
//   1536), --dist DIR (the compiled library, default dist/), --verbose (each case's call on stderr)
//
// Runs on dist/ (`npx tsc -p tsconfig.json` first). The cases run in a worker process (this file with --worker); the
// parent keeps the watchdog: a case that does not settle within the timeout (a promise that never resolves, or a
// synchronous loop), a worker that dies (abort, segfault, V8 out of memory) or grows past the memory limit is a
// failure naming the case's call, and a new worker goes on with the next case. Case i's arguments come from
// (seed, i) alone, and the library's random state is reseeded per case, so --only i replays it.
// Memory guard: a call whose arguments describe more than ~256 MiB (shape-like arrays, sizes given as numbers to
// the functions and constructors that allocate from them) is skipped before it is made, unless what they describe
// is beyond 2^42 elements, which the library must refuse before allocating; tensors a case returns are read only up
// to the same bound; the worker is killed past --rss-mb.
import { fork } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const MAX_ELEMENTS = 2 ** 25;        // 256 MiB of float64
const REFUSED_ELEMENTS = 2 ** 42;    // beyond the library's 2^40 limit: a described size it must refuse

function parseArgs(argv) {
  const a = { seed: 1, cases: 200, start: 0, only: null, timeout: 10000, inject: false, worker: false, verbose: false, rssMb: 1536, dist: join(root, 'dist') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`sweep: expected a non-negative integer after ${k}, got ${argv[i]}`);
      return v;
    };
    if (k === '--seed') a.seed = num();
    else if (k === '--cases') a.cases = num();
    else if (k === '--start') a.start = num();
    else if (k === '--only') a.only = num();
    else if (k === '--timeout') a.timeout = num();
    else if (k === '--rss-mb') a.rssMb = num();
    else if (k === '--inject') a.inject = true;
    else if (k === '--worker') a.worker = true;
    else if (k === '--verbose') a.verbose = true;
    else if (k === '--dist') a.dist = resolve(argv[++i]);
    else throw new Error(`sweep: unknown option ${k}`);
  }
  if (a.only !== null) {
    a.start = a.only;
    a.cases = a.only + 1;
  }
  return a;
}

// ------------------------------------------------------------------------------------------------ random source
function mulberry32(s) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function caseSeed(seed, i) {
  let h = 2166136261 ^ seed;
  for (const x of [seed, i, seed ^ 0x9e3779b9]) {
    h = Math.imul(h ^ x, 16777619);
    h ^= h >>> 13;
  }
  return h >>> 0;
}
class Rng {
  constructor(s) { this.r = mulberry32(s); }
  f() { return this.r(); }
  int(n) { return Math.floor(this.r() * n); }
  pick(a) { return a[this.int(a.length)]; }
  chance(p) { return this.r() < p; }
}

// ------------------------------------------------------------------------------------------------ the worker
async function worker(opts) {
  const T = await import(pathToFileURL(join(opts.dist, 'index.js')).href);
  const { Tensor, TensileError } = T;
  const DTYPES = ['float32', 'float64', 'int32', 'uint8'];
  const NUMBERS = [0, -1, 1, 2, 3, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 40, -0, 0.5, 1e-8];
  const SMALL = [0, 1, 2, 3, -1];
  const STRINGS = ['float32', 'float64', 'int32', 'uint8', 'bool', '', 'abc', 'mean', 'sum', 'none', 'cpu', 'min', 'max', 'train', 'x', 'y'];
  const OPTION_KEYS = optionKeys();
  const NAMED = /^[A-Za-z_.][\w.]*: /;
  const isClass = (f) => typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));
  const isTensor = (v) => v instanceof Tensor;

  // the option names the library reads (o.x, opts.x, options.x in lib/)
  function optionKeys() {
    const keys = new Set();
    const walk = (d) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\b(?:o|opts|options)\??\.([a-zA-Z]\w*)/g)) keys.add(m[1]);
      }
    };
    walk(join(root, 'lib'));
    return [...keys].sort();
  }

  // members that are not public API, from the declarations (private, protected, or documented @internal)
  function hiddenMembers() {
    const names = new Set();
    const walk = (d) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) { walk(p); continue; }
        if (!p.endsWith('.d.ts')) continue;
        const lines = readFileSync(p, 'utf8').split('\n');
        let internal = false;
        for (const line of lines) {
          const a = /^\s*export\s+declare\s+abstract\s+class\s+(\w+)/.exec(line);
          if (a) ABSTRACT.add(a[1]);
          const m = /^\s*(?:private|protected)\s+(?:abstract\s+|readonly\s+|static\s+)*(\w+)/.exec(line);
          if (m) names.add(m[1]);
          if (line.includes('@internal')) internal = true;
          if (internal) {
            const after = line.includes('*/') ? line.slice(line.lastIndexOf('*/') + 2) : line.trim().startsWith('/**') || line.trim().startsWith('*') ? '' : line;
            const d = /^\s*(?:export\s+)?(?:declare\s+)?(?:function\s+|const\s+|class\s+)?(?:readonly\s+|static\s+|get\s+|set\s+)*(\w+)/.exec(after);
            if (d && d[1]) { names.add(d[1]); internal = false; }
          }
        }
      }
    };
    walk(opts.dist);
    return names;
  }
  const ABSTRACT = new Set();  // classes declared abstract (Module, Optimizer, LRScheduler): made through subclasses
  const HIDDEN = hiddenMembers();

  // ---------------------------------------------------------------- values, each with how it is written out
  // a value is generated together with its description (`desc` map), so the report shows the call as made
  let desc = new Map();  // (per case)
  const note = (v, s) => { if (v !== null && (typeof v === 'object' || typeof v === 'function')) desc.set(v, s); return v; };
  function show(v, depth = 0) {
    if (desc.has(v)) return desc.get(v);
    if (typeof v === 'number') {
      if (Object.is(v, -0)) return '-0';
      if (v === 2 ** 31) return '2**31';
      if (v === 2 ** 40) return '2**40';
      if (v === 2 ** 20) return '2**20';
      return String(v);
    }
    if (typeof v === 'string') return JSON.stringify(v);
    if (v === undefined || v === null || typeof v === 'boolean') return String(v);
    if (depth > 3) return '...';
    if (Array.isArray(v)) return `[${v.map((x) => show(x, depth + 1)).join(', ')}]`;
    if (isTensor(v)) return `T(${v.dtype},[${v.shape.join(',')}]${v.isDisposed ? ',disposed' : ''})`;
    if (typeof v === 'function') return 'fn';
    if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k}: ${show(x, depth + 1)}`).join(', ')}}`;
    return String(v);
  }

  function shapeOf(r, rank) {
    const dims = [];
    for (let d = 0; d < rank; d++) dims.push(r.chance(0.1) ? 0 : rank > 4 ? 1 + r.int(2) : 1 + r.int(4));
    return dims;
  }
  function genTensor(r, o = {}) {
    const dtype = o.dtype ?? r.pick(DTYPES);
    const rank = o.rank ?? (r.chance(0.05) ? 5 + r.int(4) : r.int(5));
    const shape = o.shape ?? shapeOf(r, rank);
    let t = dtype === 'float32' || dtype === 'float64' ? T.randn(shape, { dtype }) : T.randint(0, 4, shape, { dtype: 'int32' }).cast(dtype);
    if (o.view !== false && t.ndim >= 2 && r.chance(0.15)) t = t.transpose(0, 1);
    else if (o.view !== false && t.ndim >= 1 && t.shape[0] > 1 && r.chance(0.1)) t = t.slice(0, 1);
    if ((dtype === 'float32' || dtype === 'float64') && t.isLeaf && r.chance(0.2)) t.requiresGrad_();
    if (o.disposed ?? r.chance(0.08)) t.dispose();
    return t;
  }
  const FUNCTIONS = [
    ['fn:identity', (x) => x], ['fn:undefined', () => undefined], ['fn:one', () => 1], ['fn:async', async () => undefined],
    ['fn:tensor', () => T.tensor([1, 2])], ['fn:sumLoss', (a) => (isTensor(a) ? a.sum() : a)],
  ];
  function genNumberArray(r) {
    const n = r.int(10);
    const a = [];
    for (let i = 0; i < n; i++) a.push(r.chance(0.8) ? r.pick(SMALL) : r.pick([2 ** 20, 2 ** 31, NaN, 1.5, Infinity, -2]));
    return a;
  }
  function genArray(r, depth) {
    switch (r.int(9)) {
      case 0: return [];
      case 1: return genNumberArray(r);
      case 2: return [[1, 2], [3, 4]];
      case 3: return [[1], [2, 3]];
      case 4: { const a = []; a.length = 2 ** 24; return note(a, 'Array(2**24)'); }  // a huge length, nothing allocated
      case 5: return [2 ** 20, 2 ** 20, 2 ** 20];  // a described size (2^60 elements), never allocated
      case 6: { const n = 1 + r.int(3); const a = []; for (let i = 0; i < n; i++) a.push(genTensor(r)); return a; }
      case 7: return [r.pick(STRINGS), r.pick(STRINGS)];
      default: { const n = r.int(4); const a = []; for (let i = 0; i < n; i++) a.push(genValue(r, depth + 1)); return a; }
    }
  }
  function genTyped(r) {
    const C = r.pick([Float32Array, Float64Array, Int32Array, Uint8Array]);
    const n = r.pick([0, 1, 3, 4, 12]);
    const a = new C(n);
    for (let i = 0; i < n; i++) a[i] = r.int(4);
    return note(a, `${C.name}(${n})`);
  }
  function genOptions(r, depth) {
    const o = {};
    const n = 1 + r.int(3);
    for (let i = 0; i < n; i++) o[r.pick(OPTION_KEYS)] = genValue(r, depth + 1, true);
    if (r.chance(0.1)) o.params = [genTensor(r, { dtype: 'float32', disposed: false })];
    return o;
  }
  function genValue(r, depth = 0, scalarish = false) {
    const k = r.int(depth > 1 || scalarish ? 7 : 11);
    switch (k) {
      case 0: case 1: return r.pick(NUMBERS);
      case 2: return r.pick(STRINGS);
      case 3: return r.chance(0.5) ? null : undefined;
      case 4: return r.chance(0.5);
      case 5: return r.pick(SMALL);
      case 6: return depth > 2 ? r.pick(SMALL) : genArray(r, depth);
      case 7: return genTensor(r);
      case 8: return genOptions(r, depth);
      case 9: { const [s, f] = r.pick(FUNCTIONS); return note(f, s); }
      default: return r.chance(0.5) ? genTyped(r) : genFixtureArg(r);
    }
  }

  // ---------------------------------------------------------------- ready-made instances
  const { nn, optim, data, train } = T;
  const images = (n, size) => { const a = new Float32Array(n * size); for (let i = 0; i < a.length; i++) a[i] = (i % 7) / 7; return a; };
  const dataset = () => new data.ArrayDataset(images(6, 4), [4], new Int32Array([0, 1, 2, 0, 1, 2]));
  const withGrads = (m) => { m.forward(T.randn([2, 4])).sum().backward(); return m; };
  const FIXTURES = {
    'nn.Linear': () => new nn.Linear(4, 3), 'nn.Conv2d': () => new nn.Conv2d(1, 2, 3), 'nn.ConvTranspose2d': () => new nn.ConvTranspose2d(2, 1, 2),
    'nn.MaxPool2d': () => new nn.MaxPool2d(2), 'nn.AvgPool2d': () => new nn.AvgPool2d(2), 'nn.AdaptiveAvgPool2d': () => new nn.AdaptiveAvgPool2d(1),
    'nn.BatchNorm1d': () => new nn.BatchNorm1d(3), 'nn.BatchNorm2d': () => new nn.BatchNorm2d(2), 'nn.LayerNorm': () => new nn.LayerNorm([3]),
    'nn.Dropout': () => new nn.Dropout(0.5), 'nn.Flatten': () => new nn.Flatten(), 'nn.ReLU': () => new nn.ReLU(), 'nn.GELU': () => new nn.GELU(),
    'nn.SiLU': () => new nn.SiLU(), 'nn.Sigmoid': () => new nn.Sigmoid(), 'nn.Tanh': () => new nn.Tanh(), 'nn.LeakyReLU': () => new nn.LeakyReLU(),
    'nn.ELU': () => new nn.ELU(), 'nn.Softmax': () => new nn.Softmax(), 'nn.LogSoftmax': () => new nn.LogSoftmax(),
    'nn.Embedding': () => new nn.Embedding(5, 3), 'nn.Sequential': () => new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU()),
    'nn.ModuleList': () => new nn.ModuleList([new nn.Linear(4, 3)]), 'nn.CrossEntropyLoss': () => new nn.CrossEntropyLoss(),
    'nn.NLLLoss': () => new nn.NLLLoss(), 'nn.MSELoss': () => new nn.MSELoss(), 'nn.L1Loss': () => new nn.L1Loss(), 'nn.BCELoss': () => new nn.BCELoss(),
    'nn.BCEWithLogitsLoss': () => new nn.BCEWithLogitsLoss(), 'nn.RNN': () => new nn.RNN(4, 3), 'nn.LSTM': () => new nn.LSTM(4, 3), 'nn.GRU': () => new nn.GRU(4, 3),
    'optim.SGD': () => new optim.SGD(withGrads(new nn.Linear(4, 3)).parameters(), { lr: 0.1, momentum: 0.9 }),
    'optim.Adam': () => new optim.Adam(withGrads(new nn.Linear(4, 3)).parameters()),
    'optim.AdamW': () => new optim.AdamW(withGrads(new nn.Linear(4, 3)).parameters()),
    'optim.RMSprop': () => new optim.RMSprop(withGrads(new nn.Linear(4, 3)).parameters()),
    'optim.Adagrad': () => new optim.Adagrad(withGrads(new nn.Linear(4, 3)).parameters()),
    'optim.StepLR': () => new optim.StepLR(FIXTURES['optim.SGD'](), { stepSize: 2 }),
    'optim.MultiStepLR': () => new optim.MultiStepLR(FIXTURES['optim.SGD'](), { milestones: [1, 3] }),
    'optim.ExponentialLR': () => new optim.ExponentialLR(FIXTURES['optim.SGD'](), { gamma: 0.9 }),
    'optim.CosineAnnealingLR': () => new optim.CosineAnnealingLR(FIXTURES['optim.SGD'](), { tMax: 4 }),
    'optim.LinearLR': () => new optim.LinearLR(FIXTURES['optim.SGD'](), {}),
    'optim.OneCycleLR': () => new optim.OneCycleLR(FIXTURES['optim.SGD'](), { maxLr: 1, totalSteps: 5 }),
    'optim.ReduceLROnPlateau': () => new optim.ReduceLROnPlateau(FIXTURES['optim.SGD']()),
    'data.ArrayDataset': dataset, 'data.DataLoader': () => new data.DataLoader(dataset(), { batchSize: 4 }),
    'train.Accuracy': () => new train.Accuracy(), 'train.TopKAccuracy': () => new train.TopKAccuracy(2), 'train.ConfusionMatrix': () => new train.ConfusionMatrix(3),
    'train.EarlyStopping': () => new train.EarlyStopping(), 'train.ModelCheckpoint': () => new train.ModelCheckpoint({ path: 'ckpt.safetensors' }),
    'train.LearningRateScheduler': () => new train.LearningRateScheduler((e, lr) => lr), 'train.CSVLogger': () => new train.CSVLogger('log.csv'),
  };
  // an instance as an argument (a model for fit, an optimizer for a scheduler, a loader for evaluate)
  const ARG_FIXTURES = ['nn.Linear', 'nn.Sequential', 'optim.SGD', 'optim.Adam', 'data.DataLoader', 'data.ArrayDataset', 'train.Accuracy', 'train.EarlyStopping'];
  function genFixtureArg(r) {
    const name = r.pick(ARG_FIXTURES);
    return note(FIXTURES[name](), `<${name}>`);
  }

  // ---------------------------------------------------------------- targets
  // scalarSizes: the target may allocate from numbers it is given (counts, sizes, paddings): see sizeGuard
  const NOT_SIZES = new Set(['manualSeed', 'setRngState', 'randint', 'full', 'fullLike', 'where', 'matmul', 'gradcheck', 'noGrad', 'enableGrad',
    'setGradEnabled', 'isGradEnabled', 'data.seededRandom', 'train.perClass', 'nn.utils.clipGradNorm', 'nn.utils.clipGradValue']);
  const SKIP = new Set(['Tensor', 'setIsa']);  // Tensor's constructor is internal (it takes a native handle); setIsa is process-wide
  const targets = [];
  const seen = new Set();
  function walk(ns, prefix) {
    for (const name of Object.keys(ns).sort()) {
      const v = ns[name];
      const full = prefix + name;
      if (v !== null && typeof v === 'object' && Object.prototype.toString.call(v) === '[object Module]') { walk(v, full + '.'); continue; }
      if (typeof v !== 'function' || seen.has(v) || SKIP.has(full)) continue;
      seen.add(v);
      if (v.prototype instanceof Error || v === Error) continue;  // the error classes
      const scalarSizes = !NOT_SIZES.has(full) && !/^(F\.|nn\.functional\.|nn\.init\.|optim\.)/.test(full) || /(conv|Pool|pool)/.test(full);
      if (isClass(v) && ABSTRACT.has(v.name)) continue;
      if (isClass(v)) targets.push({ name: full, kind: 'new', fn: v, arity: v.length, scalarSizes: !full.startsWith('optim.') });
      else targets.push({ name: full, kind: 'call', fn: v, arity: v.length, scalarSizes });
    }
  }
  walk(T, '');
  // Tensor methods and accessors, on random receivers
  for (const name of Object.getOwnPropertyNames(Tensor.prototype).sort()) {
    if (name === 'constructor' || name.startsWith('_') || HIDDEN.has(name)) continue;
    const d = Object.getOwnPropertyDescriptor(Tensor.prototype, name);
    if (typeof d.value === 'function') targets.push({ name: `Tensor.${name}`, kind: 'tmethod', method: name, arity: d.value.length, scalarSizes: false });
    if (d.get) targets.push({ name: `Tensor.${name} (get)`, kind: 'tget', method: name, arity: 0, scalarSizes: false });
    if (d.set) targets.push({ name: `Tensor.${name} (set)`, kind: 'tset', method: name, arity: 1, scalarSizes: false });
  }
  // methods of the ready-made instances
  for (const [cls, make] of Object.entries(FIXTURES)) {
    const names = new Set();
    for (let p = Object.getPrototypeOf(make()); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const n of Object.getOwnPropertyNames(p)) {
        const d = Object.getOwnPropertyDescriptor(p, n);
        // (a callback's hooks, onEpochEnd and the like, are fit's to call, with its TrainContext)
        if (n !== 'constructor' && !n.startsWith('_') && !HIDDEN.has(n) && !/^on[A-Z]/.test(n) && typeof d.value === 'function') names.add(n);
      }
    }
    for (const n of [...names].sort()) {
      targets.push({ name: `${cls}#${n}`, kind: 'imethod', cls, make, method: n, arity: 1, scalarSizes: cls.startsWith('train.Confusion') });
    }
  }
  if (opts.inject) {
    // failures on purpose, one of each kind the sweep reports
    const inject = {
      'inject.typeError': () => { throw new TypeError('boom'); },
      'inject.unnamed': () => { throw new T.ArgumentError('no op name here'); },
      'inject.badRead': () => ({ t: Object.assign(T.tensor([1]), { data: () => Promise.reject(new RangeError('bad read')) }) }),
      'inject.hang': () => new Promise(() => {}),
      'inject.spin': () => { for (;;); },
      'inject.abort': () => process.abort(),
      'inject.oom': () => { const keep = []; for (;;) keep.push(Buffer.alloc(2 ** 26, 1)); },
      'inject.unhandled': () => { Promise.reject(new TypeError('late')); return 1; },
    };
    for (const [name, fn] of Object.entries(inject)) targets.push({ name, kind: 'call', fn, arity: 0, scalarSizes: false });
  }

  // ---------------------------------------------------------------- the memory guard
  // elements a call may allocate, from what its arguments describe: the product of each shape-like array (and the
  // length of each huge one), and, for targets that allocate from numbers, the product of the numbers it is given
  // (top level and option values) times the largest tensor argument
  function sizeGuard(t, args) {
    let arrays = 0, scalars = 1, maxNumel = 1;
    const visit = (v, depth, top) => {
      if (depth > 4) return;
      if (typeof v === 'number') {
        if (top && Number.isFinite(v) && Math.abs(v) > 1) scalars *= Math.abs(v);
      } else if (Array.isArray(v)) {
        if (v.length > 2 ** 20) arrays = Math.max(arrays, v.length);
        if (v.length > 0 && v.every((x) => typeof x === 'number')) {
          arrays = Math.max(arrays, v.reduce((a, x) => (Number.isFinite(x) ? a * Math.max(1, Math.abs(x)) : a), 1));
        }
        for (let i = 0; i < Math.min(v.length, 16); i++) visit(v[i], depth + 1, false);
      } else if (isTensor(v)) {
        maxNumel = Math.max(maxNumel, v.numel);
      } else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && Object.getPrototypeOf(v) === Object.prototype) {
        for (const x of Object.values(v)) visit(x, depth + 1, true);
      }
    };
    for (const a of args) visit(a, 0, true);
    const big = (n) => n > MAX_ELEMENTS && n < REFUSED_ELEMENTS;
    if (big(arrays * maxNumel) && big(arrays)) return `describes ${arrays} elements`;
    if (t.scalarSizes && scalars * maxNumel > 2 ** 20) return `sizes given as numbers: ${scalars * maxNumel} elements`;
    return null;
  }

  // ---------------------------------------------------------------- one case
  function errorProblem(e, where) {
    if (e instanceof TensileError && NAMED.test(e.message)) return null;
    const head = e instanceof Error ? `${e.name}: ${e.message}` : `a thrown ${typeof e}: ${String(e)}`;
    const why = e instanceof TensileError ? 'a TensileError without an op name' : 'not a TensileError';
    const stack = e instanceof Error && e.stack ? e.stack.split('\n').slice(1, 5).map((s) => s.trim()).join(' | ') : '';
    return { where, why, error: head.slice(0, 400), stack };
  }
  // the tensors in a result (arrays, plain objects, Maps), read one by one
  function tensorsIn(v, out = [], depth = 0) {
    if (depth > 4 || v === null || typeof v !== 'object') return out;
    if (isTensor(v)) out.push(v);
    else if (Array.isArray(v)) v.slice(0, 64).forEach((x) => tensorsIn(x, out, depth + 1));
    else if (v instanceof Map) [...v.values()].slice(0, 64).forEach((x) => tensorsIn(x, out, depth + 1));
    else if (Object.getPrototypeOf(v) === Object.prototype) Object.values(v).slice(0, 64).forEach((x) => tensorsIn(x, out, depth + 1));
    return out;
  }
  async function readAll(result, problems) {
    const ts = new Set(tensorsIn(result));
    for (const t of ts) {
      if (t.isDisposed || t.numel > MAX_ELEMENTS) continue;
      try {
        await t.data();
      } catch (e) {
        const p = errorProblem(e, `reading the result T(${t.dtype},[${t.shape.join(',')}])`);
        if (p) problems.push(p);
      }
    }
    // an async iterable (a DataLoader): its first batches, read too
    if (result !== null && typeof result === 'object' && typeof result[Symbol.asyncIterator] === 'function' && !isTensor(result)) {
      let n = 0;
      try {
        for await (const b of result) {
          await readAll(b, problems);
          if (++n === 3) break;
        }
      } catch (e) {
        const p = errorProblem(e, 'iterating the result');
        if (p) problems.push(p);
      }
    }
  }
  function genArgs(r, t) {
    const n = Math.max(0, Math.min(5, t.arity + r.int(3) - 1 + (r.chance(0.15) ? 2 : 0)));
    const args = [];
    for (let i = 0; i < n; i++) args.push(genValue(r));
    return args;
  }
  // a third each: Tensor members, functions and constructors, methods of instances (half of these the one that does
  // the work: forward, step, ...)
  const groups = [
    targets.filter((t) => t.kind.startsWith('t')),
    targets.filter((t) => t.kind === 'call' || t.kind === 'new'),
    targets.filter((t) => t.kind === 'imethod'),
    targets.filter((t) => t.kind === 'imethod' && /^(forward|call|step|stepWith|update|result|matrix|get)$/.test(t.method)),
  ];
  const pickTarget = (r) => {
    const g = opts.inject ? targets.filter((t) => t.name.startsWith('inject.')) : null;
    if (g && r.i < g.length) return g[r.i];  // each once, first
    const k = r.int(6);
    return r.pick(groups[k < 2 ? 0 : k < 4 ? 1 : k < 5 ? 2 : 3]);
  };
  const isaAtStart = T.isa();
  const work = mkdtempSync(join(tmpdir(), 'tensile-sweep-'));

  async function runCase(i) {
    process.send({ type: 'start', i, call: '(its arguments being made)', target: '' });
    const r = new Rng(caseSeed(opts.seed, i));
    r.i = i;
    desc = new Map();
    const t = pickTarget(r);
    T.manualSeed(caseSeed(opts.seed, i) % 1000003);
    let recv, recvText = '';
    if (t.kind === 'tmethod' || t.kind === 'tget' || t.kind === 'tset') {
      recv = genTensor(r);
      recvText = show(recv);
    } else if (t.kind === 'imethod') {
      recv = t.make();
      recvText = `<${t.cls}>`;
    }
    const args = genArgs(r, t);
    const argText = args.map((a) => show(a)).join(', ');
    const call = t.kind === 'new' ? `new ${t.name}(${argText})`
      : t.kind === 'call' ? `${t.name}(${argText})`
        : t.kind === 'tget' ? `${recvText}.${t.method}`
          : t.kind === 'tset' ? `${recvText}.${t.method} = ${show(args[0])}`
            : `${recvText}.${t.method}(${argText})`;
    process.send({ type: 'start', i, call, target: t.name });
    const skip = sizeGuard(t, args);
    if (skip) return { outcome: 'skipped', skip };
    const dir = join(work, `c${i}`);
    mkdirSync(dir);
    process.chdir(dir);
    const problems = [];
    let outcome;
    try {
      let result;
      if (t.kind === 'new') result = new t.fn(...args);
      else if (t.kind === 'call') result = t.fn(...args);
      else if (t.kind === 'tget') result = recv[t.method];
      else if (t.kind === 'tset') recv[t.method] = args[0];
      else result = recv[t.method](...args);
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') result = await result;
      outcome = 'returned';
      await readAll(result, problems);
    } catch (e) {
      outcome = 'threw';
      const p = errorProblem(e, 'the call');
      if (p) problems.push(p);
    }
    // errors still queued on the device surface at the next read: this case's, whichever read reports them
    try {
      await T.sync();
    } catch (e) {
      const p = errorProblem(e, 'the next sync()');
      if (p) problems.push(p);
    }
    await new Promise((res) => setImmediate(res));  // let unhandled rejections of this case surface now
    problems.push(...pendingUnhandled.splice(0));
    T.setGradEnabled(true);
    if (T.isa() !== isaAtStart) T.setIsa(isaAtStart);
    process.chdir(work);
    rmSync(dir, { recursive: true, force: true });
    return { outcome, problems };
  }

  const pendingUnhandled = [];
  process.on('unhandledRejection', (e) => {
    // a floating promise that rejects ends a user's process (Node's default), whatever the error's class
    pendingUnhandled.push({ where: 'an unhandled rejection', why: 'a rejected promise nobody handled', error: `${e?.name}: ${e?.message}`, stack: '' });
  });
  process.on('uncaughtException', (e) => {
    pendingUnhandled.push(errorProblem(e, 'an uncaught exception') ?? { where: 'an uncaught exception', why: 'thrown outside the call', error: `${e.name}: ${e.message}`, stack: '' });
  });
  // (a case awaiting a promise that never settles would otherwise let the process exit quietly: the watchdog reports it)
  const keepAlive = setInterval(() => {}, 1000);
  process.send({ type: 'ready', targets: targets.map((t) => t.name) });
  for (let i = opts.start; i < opts.cases; i++) {
    let res;
    try {
      res = await runCase(i);
    } catch (e) {
      // the sweep's own code failed (making a receiver or an argument): a failure of the case, with its stack
      res = { outcome: 'threw', problems: [{ where: 'the sweep itself', why: 'the case could not be set up', error: `${e?.name}: ${e?.message}`, stack: e?.stack ?? '' }] };
    }
    process.send({ type: 'done', i, ...res });
  }
  clearInterval(keepAlive);
  process.chdir(tmpdir());
  rmSync(work, { recursive: true, force: true });
  process.send({ type: 'end' });
  process.disconnect();
}

// ------------------------------------------------------------------------------------------------ the parent
// Failures already reported in files this sweep's owner may not change, kept out of the exit status (listed under
// `known` in the report) until they are fixed there: delete an entry with its fix.
const KNOWN = [];
const knownFor = (f) => KNOWN.find((k) => k.target === f.target && f.kind === 'error' && k.error.test(f.error ?? ''));

function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

async function parent(opts) {
  const t0 = Date.now();
  const report = { seed: opts.seed, cases: opts.cases - opts.start, start: opts.start, ran: 0, returned: 0, threw: 0, skipped: 0, targets: 0, workers: 0, failures: [] };
  const repro = (i) => `node scripts/sweep.mjs --seed ${opts.seed} --only ${i}${opts.inject ? ' --inject' : ''}`;
  let next = opts.start, lastDeath = -1;
  while (next < opts.cases) {
    report.workers++;
    const args = ['--worker', '--dist', opts.dist, '--seed', String(opts.seed), '--cases', String(opts.cases), '--start', String(next), '--timeout', String(opts.timeout)];
    if (opts.inject) args.push('--inject');
    const child = fork(fileURLToPath(import.meta.url), args, {
      execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], cwd: tmpdir(),
    });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-2000); });
    let current = null, started = 0, ended = false, killedFor = null;
    const watchdog = setInterval(() => {
      if (current === null) return;
      if (Date.now() - started > opts.timeout) { killedFor = 'hang'; child.kill('SIGKILL'); }
      else if (rssOf(child.pid) > opts.rssMb * 2 ** 20) { killedFor = 'memory'; child.kill('SIGKILL'); }
    }, 20);
    child.on('message', (m) => {
      if (m.type === 'ready') report.targets = m.targets.length;
      else if (m.type === 'start') {
        current = m;
        started = Date.now();
        if (opts.verbose) process.stderr.write(`${m.i}: ${m.call}\n`);
      } else if (m.type === 'done') {
        report.ran++;
        report[m.outcome]++;
        for (const p of m.problems ?? []) report.failures.push({ index: m.i, kind: 'error', call: current?.call ?? '(not made)', target: current?.target, ...p, repro: repro(m.i) });
        current = null;
        next = m.i + 1;
      } else if (m.type === 'end') {
        ended = true;
      }
    });
    const exit = await new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
    clearInterval(watchdog);
    if (ended && exit.code === 0) break;
    if (current !== null) {
      const kind = killedFor ?? 'crash';
      const why = kind === 'hang' ? `did not settle within ${opts.timeout} ms`
        : kind === 'memory' ? `the worker grew past ${opts.rssMb} MiB`
          : `the worker died (exit code ${exit.code}, signal ${exit.signal})`;
      report.ran++;
      report.failures.push({ index: current.i, kind, call: current.call, target: current.target, why, error: stderr.trim().split('\n').slice(-6).join(' | ').slice(0, 800), repro: repro(current.i) });
      next = current.i + 1;
    } else {
      // died between cases (or before the first): nothing to blame but the worker itself
      report.failures.push({ index: next, kind: 'worker', why: `the worker exited (code ${exit.code}, signal ${exit.signal}) outside a case`, error: stderr.trim().slice(-800), repro: repro(next) });
      if (next === lastDeath) break;  // twice at the same place: it cannot get on
      lastDeath = next;
    }
  }
  report.known = [];
  report.failures = report.failures.filter((f) => {
    const k = knownFor(f);
    if (k) report.known.push({ index: f.index, call: f.call, error: f.error, issue: k.issue });
    return !k;
  });
  report.seconds = Math.round((Date.now() - t0) / 100) / 10;
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exitCode = report.failures.length ? 1 : 0;
}

const opts = parseArgs(process.argv.slice(2));
if (opts.worker) await worker(opts);
else await parent(opts);
