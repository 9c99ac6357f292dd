import { DisposedError, ShapeError, ArgumentError, DTypeError, NativeError, DeviceError } from '../errors.js';
import { AnyTypedArray, DType, DTYPE_ID, DTYPE_SIZE, typedArrayCtor } from '../dtype.js';
import {
  binding, opId, opNames, Handle, Device, DEVICE_ID, DEVICE_NAME, assertSupported, cmd, reserve, recorded, submit, newHandle, releaseHandle,
  deviceArg, shareHandle, handleFromBytes, onSubmit, readHandle, readNow, trackIds, keepsSite, keepSite, withSite, hasSite, CMD_OP, CMD_FLAT, CMD_LEN,
} from '../native.js';
import { trackTensor } from '../memory.js';
import { describe, optionsArg, isOptions } from '../check.js';
import { Shape, contiguousStrides, fmt, normAxis, numelOf } from './shape.js';
import * as ew from '../ops/elementwise.js';
import * as red from '../ops/reduce.js';
import * as sel from '../ops/select.js';
import * as mm from '../ops/matmul.js';
import * as view from '../ops/view.js';
import * as engine from '../autograd/engine.js';

// Tensors the program drops without dispose() are released when the GC collects them: the addon attaches a
// finalizer that V8 runs inside the collection (lib/native.ts drainCollected), so this holds in a synchronous loop
// too, where FinalizationRegistry callbacks would wait for the event loop. A new tensor gets its finalizer at the
// next submit, not at once: until then it waits in `young`, and dispose() takes it out again, so the many tensors
// disposed soon after they are made never pay for it. A tensor disposed after that needs nothing undone: its id's
// generation moves on, and the finalizer's late release is recognised as stale.
// (a fresh array per batch: it stays in V8's young generation like the tensors stored into it, so those stores
// need no remembered-set entry; dispose() clears a young tensor's slot, so registering skips it without reading it)
const YOUNG = 256;
let young: (Tensor | undefined)[] = new Array<Tensor | undefined>(YOUNG);
let nYoung = 0;
let youngLive = 0;  // entries of young[0, nYoung) not cleared by dispose(): with none, a batch needs no native call
const registerYoung = () => {
  const list = young, n = nYoung, live = youngLive;
  if (n === 0) return;
  young = new Array<Tensor | undefined>(YOUNG);
  nYoung = 0;
  youngLive = 0;
  if (live === 0) return;  // every tensor of the batch was disposed while young (the hot-loop idiom)
  const ids = trackIds, gen = cmd.gen;
  for (let i = 0; i < n; i++) {
    const t = list[i];
    if (t !== undefined) {
      t._yi = -1;
      const h = t._h!;
      ids[2 * i] = h;
      ids[2 * i + 1] = gen[h]!;
    } else {
      ids[2 * i] = 0;
    }
  }
  binding.track(list, ids, n);
};
onSubmit(registerYoung);

/** @internal a view's geometry (strides null: contiguous) and the version counter shared by one storage's views */
interface ViewState {
  strides: readonly number[] | null;
  offset: number;
  vc: { v: number } | null;
}
/** @internal */
interface GradState {
  requiresGrad: boolean;
  grad: Tensor | null;
  gradFn: engine.Node | null;
}

function finiteArg(op: string, what: string, v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new ArgumentError(`${op}: expected ${what} to be a finite number, got ${describe(v)}`);
}
function boundArg(what: string, v: unknown, none: number): number {
  if (v === null || v === undefined) return none;
  if (typeof v === 'number' && !Number.isNaN(v)) return v;
  throw new ArgumentError(`clamp: expected ${what} to be a number or null, got ${describe(v)}`);
}

// The `[Symbol.dispose]` member of Tensor below: the published tensor.d.ts names Symbol.dispose, which TypeScript
// declares only in its esnext.disposable lib (and @types/node in its own shim). Node has it at run time since 20.4,
// so it is declared here for users whose lib is ES2022 (the oldest Node we support), alone: nothing else of
// esnext.disposable (DisposableStack, SuppressedError), which Node 20 lacks. Where the user's lib or @types/node
// declares it too, the declarations merge into one symbol, the one `using` looks for.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** Scalars accepted wherever a tensor operand is. */
export type TensorLike = Tensor | number;

/**
 * An n-dimensional array in native memory. Ops return at once (the work is queued on the device's stream);
 * reads (`data()`, `item()`, `toArray()`) wait for it.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(await x.mul(2).sum().item()); // 20
 * ```
 */
export class Tensor {
  // Eight fields, set in the constructor in one order (one hidden class, no define-semantics pass): a tensor is
  // made per op, so its size is what the young-generation GC pays for. View geometry and autograd state live in
  // side objects made only for the tensors that need them.
  /** @internal */ declare _h: Handle | null;
  /** @internal its slot in the young list, or -1 once it has its GC finalizer */ declare _yi: number;
  declare readonly shape: readonly number[];
  declare readonly dtype: DType;
  declare readonly device: Device;
  declare readonly numel: number;
  /** @internal geometry and version of a view or an updated tensor; null: contiguous at offset 0, version 0 */
  declare _v: ViewState | null;
  /** @internal autograd state; null: no gradient wanted, none held */ declare _ag: GradState | null;

  /** @internal use the creation functions (tensor, zeros, ...); a view sets `_v` after */
  constructor(h: Handle, shape: readonly number[], dtype: DType, device: Device) {
    this._h = h;
    this._yi = -1;
    this.shape = shape;
    this.dtype = dtype;
    this.device = device;
    let n = 1;
    for (let i = 0; i < shape.length; i++) n *= shape[i]!;
    this.numel = n;
    this._v = null;
    this._ag = null;
    // (bounded: a long synchronous run of ops would otherwise keep every tensor it made alive until its submit)
    if (nYoung === YOUNG) registerYoung();
    this._yi = nYoung;
    young[nYoung++] = this;
    youngLive++;
    trackTensor(this);
  }

  /** Elements to step over per index of each dim. @example `x.t().strides` */
  get strides(): readonly number[] {
    const v = this._v;
    if (v === null) return contiguousStrides(this.shape);
    return v.strides ?? (v.strides = contiguousStrides(this.shape));
  }
  /** @internal the strides when they are not the contiguous ones (null: contiguous at offset 0) */
  get _st(): readonly number[] | null {
    return this._v === null ? null : this._v.strides;
  }
  /** Element offset of the first element in the storage (nonzero for some views). @example `x.slice(0, 1).offset` */
  get offset(): number {
    return this._v === null ? 0 : this._v.offset;
  }
  /** Version counter shared by the views of one storage; in-place updates bump it. @internal */
  get _vc(): { v: number } {
    if (this._v === null) this._v = { strides: null, offset: 0, vc: null };
    return this._v.vc ?? (this._v.vc = { v: 0 });
  }
  /** Whether ops on this tensor record the graph for backward. Set it with requiresGrad_(). @example `w.requiresGrad // true for parameters` */
  get requiresGrad(): boolean {
    return this._ag !== null && this._ag.requiresGrad;
  }
  set requiresGrad(on: boolean) {
    if (this._ag !== null) this._ag.requiresGrad = on;
    else if (on) this._ag = { requiresGrad: true, grad: null, gradFn: null };
  }
  /** The accumulated gradient of a leaf after backward(), or null. @example `loss.backward(); w.grad` */
  get grad(): Tensor | null {
    return this._ag === null ? null : this._ag.grad;
  }
  set grad(g: Tensor | null) {
    if (this._ag !== null) this._ag.grad = g;
    else if (g !== null) this._ag = { requiresGrad: false, grad: g, gradFn: null };
  }
  /** The graph node that produced this tensor (null for leaves). @internal */
  get gradFn(): engine.Node | null {
    return this._ag === null ? null : this._ag.gradFn;
  }
  set gradFn(n: engine.Node | null) {
    if (this._ag !== null) this._ag.gradFn = n;
    else if (n !== null) this._ag = { requiresGrad: false, grad: null, gradFn: n };
  }

  /** Number of dimensions. @example `x.ndim` */
  get ndim(): number {
    return this.shape.length;
  }
  /** True once dispose() has freed the storage handle. @example `x.dispose(); x.isDisposed` */
  get isDisposed(): boolean {
    return this._h === null;
  }
  /** Size of one dim (negative counts from the end). @example `x.size(-1)` */
  size(dim: number): number {
    if (this.ndim === 0) throw new ShapeError('size: expected a tensor of rank >= 1, got a 0-d tensor');
    return this.shape[normAxis('size', dim, this.ndim)]!;
  }

  /** @internal the live handle, or a DisposedError naming the op */
  handle(op: string): Handle {
    if (this._h === null) {
      throw new DisposedError(`${op}: expected a live tensor, got a disposed one (shape ${fmt(this.shape)}, ${this.dtype})`);
    }
    return this._h;
  }

  /** Frees this tensor's reference to its memory now. Safe to call twice. @example `x.dispose()` */
  dispose(): void {
    const h = this._h;
    if (h !== null) {
      this._h = null;
      const i = this._yi;
      if (i >= 0) {  // still young: out of the list
        young[i] = undefined;
        youngLive--;
      }
      releaseHandle(h);
    }
  }
  /**
   * `using x = randn([3])` disposes x at the end of the block. (Symbol.dispose is declared by the `declare global`
   * above the class, so that this member's declaration checks under a user's ES2022 lib too.)
   * @example `using t = x.exp()`
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True when the elements are laid out row-major without gaps (no copy needed for kernels). @example `x.t().isContiguous() // false` */
  isContiguous(): boolean {
    if (this._v === null || this._v.strides === null) return true;
    let acc = 1;
    for (let i = this.ndim - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== acc) return false;
      acc *= this.shape[i]!;
    }
    return true;
  }

  // ------------------------------------------------------------------ autograd
  /** True for tensors not produced by a recorded op (user-created tensors and parameters). @example `p.isLeaf // true for parameters` */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }
  /**
   * Marks this (leaf, floating-point) tensor as needing a gradient; returns this.
   * @example `const w = randn([3, 3]).requiresGrad_()`
   */
  requiresGrad_(on = true): this {
    if (on && this.dtype !== 'float32' && this.dtype !== 'float64') {
      throw new DTypeError(`requiresGrad_: expected a float32 or float64 tensor, got ${this.dtype}`);
    }
    if (!this.isLeaf) throw new ArgumentError('requiresGrad_: expected a leaf tensor, got one computed by an op (use detach())');
    this.requiresGrad = on;
    return this;
  }
  /**
   * Computes the gradient of this tensor with respect to every leaf that requires grad, accumulating into `.grad`.
   * A non-scalar tensor needs `grad`. The graph is freed afterwards unless `retainGraph`.
   * @example `loss.backward(); console.log(w.grad)`
   */
  backward(grad?: Tensor | null, opts?: { retainGraph?: boolean }): void {
    if (grad !== null && grad !== undefined && !(grad instanceof Tensor)) {
      const hint = isOptions(grad) ? ' (options go second: backward(undefined, { retainGraph: true }))' : '';
      throw new ArgumentError(`backward: expected the gradient to be a Tensor, got ${describe(grad)}${hint}`);
    }
    const o = optionsArg('backward', opts);
    if (o.retainGraph !== undefined && typeof o.retainGraph !== 'boolean') {
      throw new ArgumentError(`backward: expected retainGraph to be true or false, got ${describe(o.retainGraph)}`);
    }
    engine.backward(this, grad ?? undefined, o.retainGraph ?? false, (t) => view.onesLike(t));
  }
  /** A view of the same values, cut from the graph. @example `const y = x.detach()` */
  detach(): Tensor {
    return makeView(this, this.shape, this.strides, this.offset);
  }
  /** Zeroes (drops) the gradient. @example `w.zeroGrad()` */
  zeroGrad(): void {
    this.grad = null;
  }

  // ------------------------------------------------------------------ reading
  /** @internal a contiguous tensor with this one's values (this one when already contiguous) */
  private contiguousForRead(): Tensor {
    return this.isContiguous() ? this : this.contiguous();
  }

  /**
   * The values, copied into a new typed array once every queued op that produces them has run.
   * Errors raised by earlier ops on this device reject here, named after the op.
   * @example `const v = await x.data(); // Float32Array`
   */
  async data(): Promise<AnyTypedArray> {
    const src = this.contiguousForRead();
    const bytes = DTYPE_SIZE[this.dtype];
    try {
      // an idle stream gives the bytes at once, and a failure there is thrown on the caller's stack; only a read
      // that waits for the worker keeps the caller's line (a stack capture costs more than the rest of a small read)
      const r = readNow(src.handle('data'), src.offset * bytes, this.numel * bytes);
      let buf: ArrayBuffer | undefined;
      if (r instanceof Promise) {
        const stack = new Error();  // the caller's line, for errors that surface asynchronously
        try {
          buf = await r;
        } catch (e) {
          if (e instanceof Error && !hasSite(e) && stack.stack) e.stack = `${e.name}: ${e.message}\n${stack.stack.split('\n').slice(1).join('\n')}`;
          throw e;
        }
      } else {
        buf = r;
      }
      return new (typedArrayCtor(this.dtype))(buf as ArrayBuffer);
    } finally {
      if (src !== this) src.dispose();
    }
  }
  /** Like data(), but blocks the event loop until the values are ready. @example `x.dataSync()` */
  dataSync(): AnyTypedArray {
    const src = this.contiguousForRead();
    const bytes = DTYPE_SIZE[this.dtype];
    try {
      const h = src.handle('dataSync');
      submit();
      const buf = binding.readSync(h, src.offset * bytes, this.numel * bytes);
      return new (typedArrayCtor(this.dtype))(buf as ArrayBuffer);
    } catch (e) {
      throw withSite(e);
    } finally {
      if (src !== this) src.dispose();
    }
  }
  /** The value of a one-element tensor. @example `await x.sum().item()` */
  async item(): Promise<number> {
    if (this.numel !== 1) throw new ShapeError(`item: expected a tensor with one element, got shape ${fmt(this.shape)}`);
    return (await this.data())[0]!;
  }
  /** Nested arrays of numbers. @example `await tensor([[1, 2]]).toArray() // [[1, 2]]` */
  async toArray(): Promise<unknown> {
    return nest(await this.data(), this.shape);
  }
  /** Synchronous toArray(). @example `x.toArraySync()` */
  toArraySync(): unknown {
    return nest(this.dataSync(), this.shape);
  }
  /** Shape, dtype, device and a summary of the values (reads synchronously). @example `console.log(String(x))` */
  toString(): string {
    if (this._h === null) return `Tensor(disposed, shape=${fmt(this.shape)}, dtype=${this.dtype}, device=${this.device})`;
    const v = this.dataSync();
    const fmtv = (x: number) => (this.dtype === 'float32' || this.dtype === 'float64' ? x.toPrecision(4) : String(x));
    const n = v.length;
    const head = n <= 12 ? Array.from(v, fmtv) : [...Array.from(v.subarray(0, 6), fmtv), '...', ...Array.from(v.subarray(n - 6), fmtv)];
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}, device=${this.device}, values=[${head.join(', ')}])`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ------------------------------------------------------------------ views and layout
  /** A view with a new shape (one dim may be -1); copies only when the layout does not allow a view. @example `x.reshape([2, -1])` */
  reshape(shape: readonly number[]): Tensor {
    return view.reshape(this, shape);
  }
  /** Same as reshape. @example `x.view([2, -1])` */
  view(shape: readonly number[]): Tensor {
    return view.reshape(this, shape);
  }
  /** @example `x.permute([0, 2, 3, 1])` */
  permute(dims: readonly number[]): Tensor {
    return view.permute(this, dims);
  }
  /** Swaps two dims (default the last two). @example `x.transpose(0, 1)` */
  transpose(a = -2, b = -1): Tensor {
    return view.transpose(this, a, b);
  }
  /** The transpose of a matrix. @example `w.t()` */
  t(): Tensor {
    return view.transpose(this, 0, this.ndim < 2 ? 0 : 1);
  }
  /** Elements start, start+step, ... < end along dim (a view). @example `x.slice(0, 1, 3)` */
  slice(dim: number, start: number, end?: number, step = 1): Tensor {
    return view.slice(this, dim, start, end, step);
  }
  /** Broadcasts size-1 dims to `shape` (a view, stride 0). @example `b.expand([64, 10])` */
  expand(shape: readonly number[]): Tensor {
    return view.expand(this, shape);
  }
  /** @example `x.squeeze(0)` */
  squeeze(dim?: number): Tensor {
    return view.squeeze(this, dim);
  }
  /** @example `x.unsqueeze(0)` */
  unsqueeze(dim: number): Tensor {
    return view.unsqueeze(this, dim);
  }
  /** @example `x.flatten(1)` */
  flatten(startDim = 0, endDim = -1): Tensor {
    return view.flatten(this, startDim, endDim);
  }
  /**
   * This tensor on `device`: itself when it is there already, else a copy there (gradients flow back through it).
   * A GPU this process cannot use throws a DeviceError saying why.
   * @example `const g = x.to('cuda'); const back = g.to('cpu')`
   */
  to(device: Device | 'auto'): Tensor {
    return toDevice(this, deviceArg('to', device));
  }
  /** This tensor on GPU `index` (default 0): `to('cuda:index')`. @example `x.cuda()` */
  cuda(index = 0): Tensor {
    if (!Number.isInteger(index) || index < 0) throw new ArgumentError(`cuda: expected a device index >= 0, got ${describe(index)}`);
    return toDevice(this, deviceArg('cuda', `cuda:${index}`));
  }
  /** This tensor on the CPU: `to('cpu')`. @example `await x.cuda().mul(2).cpu().data()` */
  cpu(): Tensor {
    return toDevice(this, 'cpu');
  }
  /** A contiguous copy (or this tensor's own new reference when already contiguous). @example `x.t().contiguous()` */
  contiguous(): Tensor {
    return view.contiguous(this);
  }
  /** A contiguous copy. @example `x.clone()` */
  clone(): Tensor {
    return view.copy(this, this.dtype);
  }
  /**
   * Converts to another dtype: a copy, or, when already of that dtype, a new view of the same memory (its dispose()
   * leaves this tensor alive).
   * @example `labels.cast('float32')`
   */
  cast(dtype: DType): Tensor {
    return dtype === this.dtype ? view.reshape(this, this.shape) : view.copy(this, dtype);
  }

  // ------------------------------------------------------------------ arithmetic (NumPy broadcasting)
  /** Elementwise sum with broadcasting. @example `x.add(1), x.add(y)` */
  add(o: TensorLike): Tensor { return ew.binary('add', this, o); }
  /** Elementwise difference with broadcasting. @example `x.sub(mean)` */
  sub(o: TensorLike): Tensor { return ew.binary('sub', this, o); }
  /** Elementwise product with broadcasting. @example `x.mul(2)` */
  mul(o: TensorLike): Tensor { return ew.binary('mul', this, o); }
  /** Elementwise quotient with broadcasting. @example `x.div(std)` */
  div(o: TensorLike): Tensor { return ew.binary('div', this, o); }
  /** x ** o (a scalar exponent uses a faster kernel). @example `x.pow(2)` */
  pow(o: TensorLike): Tensor { return typeof o === 'number' ? ew.unary('pow_scalar', this, [o]) : ew.binary('pow', this, o); }
  /** Elementwise minimum (NaN wins). @example `x.minimum(0)` */
  minimum(o: TensorLike): Tensor { return ew.binary('minimum', this, o); }
  /** Elementwise maximum (NaN wins). @example `x.maximum(0)` */
  maximum(o: TensorLike): Tensor { return ew.binary('maximum', this, o); }
  /** Elementwise ==, as uint8 (1 or 0). @example `pred.eq(labels).sum()` */
  eq(o: TensorLike): Tensor { return ew.binary('eq', this, o); }
  /** Elementwise !=, as uint8. @example `labels.ne(-100)` */
  ne(o: TensorLike): Tensor { return ew.binary('ne', this, o); }
  /** Elementwise <, as uint8. @example `x.lt(0)` */
  lt(o: TensorLike): Tensor { return ew.binary('lt', this, o); }
  /** Elementwise <=, as uint8. @example `x.le(1)` */
  le(o: TensorLike): Tensor { return ew.binary('le', this, o); }
  /** Elementwise >, as uint8. @example `x.gt(0).cast('float32')` */
  gt(o: TensorLike): Tensor { return ew.binary('gt', this, o); }
  /** Elementwise >=, as uint8. @example `x.ge(0.5)` */
  ge(o: TensorLike): Tensor { return ew.binary('ge', this, o); }
  /** @example `x.neg()` */
  neg(): Tensor { return ew.unary('neg', this); }
  /** @example `x.sub(y).abs().mean()` */
  abs(): Tensor { return ew.unary('abs', this); }
  /** -1, 0 or 1 per element (no gradient). @example `x.sign()` */
  sign(): Tensor { return ew.unary('sign', this); }
  /** @example `x.exp()` */
  exp(): Tensor { return ew.unary('exp', this); }
  /** Natural logarithm. @example `p.log()` */
  log(): Tensor { return ew.unary('log', this); }
  /** @example `v.sqrt()` */
  sqrt(): Tensor { return ew.unary('sqrt', this); }
  /** 1 / sqrt(x). @example `v.add(1e-5).rsqrt()` */
  rsqrt(): Tensor { return ew.unary('rsqrt', this); }
  /** max(x, 0). @example `x.relu()` */
  relu(): Tensor { return ew.unary('relu', this); }
  /** x where x > 0, else negativeSlope * x. @example `x.leakyRelu(0.2)` */
  leakyRelu(negativeSlope = 0.01): Tensor { return ew.unary('leaky_relu', this, [finiteArg('leaky_relu', 'negativeSlope', negativeSlope)]); }
  /** x where x > 0, else alpha * (exp(x) - 1). @example `x.elu()` */
  elu(alpha = 1): Tensor { return ew.unary('elu', this, [finiteArg('elu', 'alpha', alpha)]); }
  /** Gaussian error linear unit (exact, erf-based). @example `x.gelu()` */
  gelu(): Tensor { return ew.unary('gelu', this); }
  /** x * sigmoid(x). @example `x.silu()` */
  silu(): Tensor { return ew.unary('silu', this); }
  /** @example `logits.sigmoid()` */
  sigmoid(): Tensor { return ew.unary('sigmoid', this); }
  /** @example `x.tanh()` */
  tanh(): Tensor { return ew.unary('tanh', this); }
  /** log(1 + exp(x)), computed without overflow. @example `x.softplus()` */
  softplus(): Tensor { return ew.unary('softplus', this); }
  /**
   * Limits every element to [min, max]; null or undefined leaves that side unbounded. An integer tensor with
   * bounds that are not integers gives float32 (PyTorch's promotion).
   * @example `x.clamp(0, 6); x.clamp(null, 1)`
   */
  clamp(min: number | null = null, max: number | null = null): Tensor {
    return ew.unary('clamp', this, [boundArg('min', min, -Infinity), boundArg('max', max, Infinity)]);
  }

  // ------------------------------------------------------------------ reductions
  /** Sum over `axes` (all by default). @example `x.sum(1, true)` */
  sum(axes?: number | readonly number[], keepdim = false): Tensor { return red.reduce('sum', this, axes, keepdim); }
  /** Mean over axes (all when omitted). @example `x.mean([2, 3], true)` */
  mean(axes?: number | readonly number[], keepdim = false): Tensor { return red.reduce('mean', this, axes, keepdim); }
  /** Maximum over axes (values only; see maxWithIndices). @example `x.max(1)` */
  max(axes?: number | readonly number[], keepdim = false): Tensor { return red.reduce('max', this, axes, keepdim); }
  /** Minimum over axes (all when omitted); NaN wins. @example `x.min(1)` */
  min(axes?: number | readonly number[], keepdim = false): Tensor { return red.reduce('min', this, axes, keepdim); }
  /** Values and int32 indices of the maximum along one axis. @example `const [v, i] = x.maxWithIndices(1)` */
  maxWithIndices(axis: number, keepdim = false): [Tensor, Tensor] { return red.reduceWithIndices('max', this, axis, keepdim); }
  /** Minimum along one axis and its int32 index. @example `const [v, i] = x.minWithIndices(1)` */
  minWithIndices(axis: number, keepdim = false): [Tensor, Tensor] { return red.reduceWithIndices('min', this, axis, keepdim); }
  /** int32 index of the maximum (over all elements when axis is omitted). @example `logits.argmax(1)` */
  argmax(axis?: number, keepdim = false): Tensor { return red.argReduce('argmax', this, axis, keepdim); }
  /**
   * The k largest (or smallest) entries along a dim and their int32 indices (see topk: NaN largest, ties lowest
   * index first, best first). @example `const { values, indices } = logits.topk(50)`
   */
  topk(k: number, opts?: sel.TopkOptions): { values: Tensor; indices: Tensor } { return sel.topk(this, k, opts); }
  /** Index (int32) of the minimum along an axis, or of the flattened tensor. @example `x.argmin(1)` */
  argmin(axis?: number, keepdim = false): Tensor { return red.argReduce('argmin', this, axis, keepdim); }
  /** Variance with Bessel's correction by default. @example `x.var(0, {correction: 0})` */
  var(axes?: number | readonly number[], opts?: { correction?: number; keepdim?: boolean }): Tensor {
    opts = optionsArg('var', opts);
    const c = opts.correction ?? 1;
    if (typeof c !== 'number' || !Number.isFinite(c)) throw new ArgumentError(`var: expected a finite correction, got ${describe(c)}`);
    return red.reduce('var', this, axes, opts.keepdim ?? false, [c]);
  }
  /** Standard deviation (Bessel's correction by default). @example `x.std(0)` */
  std(axes?: number | readonly number[], opts?: { correction?: number; keepdim?: boolean }): Tensor {
    return this.var(axes, opts).sqrt();
  }
  /** log(sum(exp(x))) over axes, computed stably. @example `logits.logsumexp(1)` */
  logsumexp(axes?: number | readonly number[], keepdim = false): Tensor { return red.reduce('logsumexp', this, axes, keepdim); }
  /** @example `logits.softmax(-1)` */
  softmax(axis = -1): Tensor { return red.softmax('softmax', this, axis); }
  /** log(softmax(x)) along an axis, computed stably. @example `logits.logSoftmax(-1)` */
  logSoftmax(axis = -1): Tensor { return red.softmax('log_softmax', this, axis); }

  /** Matrix product with broadcasting batch dims (NumPy matmul rules). @example `a.matmul(b)` */
  matmul(o: Tensor): Tensor { return mm.matmul(this, o); }
}

function nest(v: AnyTypedArray, shape: Shape): unknown {
  if (shape.length === 0) return v[0];
  const rec = (off: number, d: number): unknown => {
    const n = shape[d]!;
    if (d === shape.length - 1) return Array.from(v.subarray(off, off + n));
    const step = shape.slice(d + 1).reduce((a, b) => a * b, 1);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(rec(off + i * step, d + 1));
    return out;
  };
  return rec(0, 0);
}

// -------------------------------------------------------------------------------------------------- launching ops

/** An output the op allocates. */
export interface NewOut {
  shape: readonly number[];
  dtype: DType;
  /** the geometry the kernel sees, when it differs from `shape` (same element count, contiguous) */
  kernelShape?: readonly number[];
  /** its device (canonical name): an op without inputs runs there; a copy to another device writes it there */
  device?: Device;
}

/**
 * Queues one native op. `ins` are read; `outs` are written: a NewOut allocates a new contiguous tensor (returned),
 * a Tensor is updated in place. ip/fp are the op's integer and float params (see its kernel's comment).
 * @internal
 */
export function launch(
  op: string,
  dtype: DType,
  ins: readonly (Tensor | ViewArg)[],
  outs: readonly (NewOut | Tensor)[],
  ip: readonly number[] = NONE,
  fp: readonly number[] = NONE,
): Tensor[] {
  const first = outs[0];
  const device = ins.length ? deviceOf(ins[0]!) : (first !== undefined && !(first instanceof Tensor) && first.device) || 'cpu';
  const id = opId(op);
  const dt = DTYPE_ID[dtype];
  let dev = DEVICE_ID[device]!;
  for (let i = 1; i < ins.length; i++) if (deviceOf(ins[i]!) !== device) mixedDevices(op, device, deviceOf(ins[i]!));
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i]!;
    const od = o instanceof Tensor ? o.device : o.device;
    if (od === undefined || od === device) continue;
    // a copy between devices runs on the GPU's side (its kernel does the transfer); nothing else crosses devices
    if (op !== 'copy' || ins.length !== 1 || o instanceof Tensor) mixedDevices(op, device, od);
    if (dev === 0) dev = DEVICE_ID[od]!;
  }
  checkKernel(op, id, DEVICE_NAME[dev]!, dev, dtype, dt);
  // the record's size, then the record (layout in native/core/runtime.h)
  let size = 8 + ip.length + fp.length;
  for (let i = 0; i < ins.length; i++) size += 4 + 2 * ins[i]!.shape.length;
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i]!;
    size += o instanceof Tensor ? 4 + 2 * o.shape.length : 3 + (o.kernelShape ?? o.shape).length;
  }
  if (size > CMD_LEN) throw new ArgumentError(`${op}: expected a call with at most ${CMD_LEN} words of arguments, got ${size}`);
  for (let i = 0; i < ins.length; i++) liveArg(op, ins[i]!);  // a disposed input throws before anything is written
  for (let i = 0; i < outs.length; i++) if (outs[i] instanceof Tensor) liveArg(op, outs[i] as Tensor);
  const b = reserve(size);
  const seq = ++cmd.seq;
  let p = cmd.p;
  cmd.i32[2 * p] = CMD_OP;
  cmd.i32[2 * p + 1] = 0;
  p++;
  b[p++] = id;
  b[p++] = dt;
  b[p++] = dev;
  b[p++] = ins.length;
  b[p++] = outs.length;
  let work = 0;
  for (let i = 0; i < ins.length; i++) {
    const a = ins[i]!;
    p = a instanceof Tensor ? putArg(b, p, a, a.shape, a._st, a.offset) : putArg(b, p, a.t, a.shape, a.strides, a.offset);
    cmd.lastUse[(a instanceof Tensor ? a : a.t)._h!] = seq;
    work += a instanceof Tensor ? a.numel : a.t.numel;
  }
  let created: Tensor[] = NO_TENSORS;
  let outBytes = 0;
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i]!;
    if (o instanceof Tensor) {
      p = putArg(b, p, o, o.shape, o._st, o.offset);
      cmd.lastUse[o._h!] = seq;
      work += o.numel;
      continue;
    }
    const ks = o.kernelShape ?? o.shape;
    let n = 1;
    for (let d = 0; d < ks.length; d++) n *= ks[d]!;
    const h = newHandle(n * DTYPE_SIZE[o.dtype]);
    outBytes += n * DTYPE_SIZE[o.dtype];
    cmd.lastUse[h] = seq;
    b[p++] = -h;
    const od = o.device ?? device;
    b[p++] = od === DEVICE_NAME[dev] ? DTYPE_ID[o.dtype] : DTYPE_ID[o.dtype] + 256 * (1 + DEVICE_ID[od]!);
    b[p++] = ks.length;
    for (let d = 0; d < ks.length; d++) b[p++] = ks[d]!;
    work += n;
    if (created === NO_TENSORS) created = [];
    created.push(new Tensor(h, o.shape, o.dtype, od));
  }
  b[p++] = ip.length;
  for (let i = 0; i < ip.length; i++) b[p++] = ip[i]!;
  b[p++] = fp.length;
  for (let i = 0; i < fp.length; i++) b[p++] = fp[i]!;
  if (p > CMD_LEN) throw new NativeError(`${op}: internal error: its record ran past the command buffer`);
  cmd.p = p;
  if (keepsSite(id, outBytes)) keepSite(seq, launch);  // an op that may fail as it runs: where the user recorded it
  for (let i = 0; i < outs.length; i++) {
    const o = outs[i]!;
    if (o instanceof Tensor) o._vc.v++;  // in-place update: saved copies are now stale
  }
  recorded(work);
  return created;
}
const NONE: readonly number[] = [];
const NO_TENSORS: Tensor[] = [];

/**
 * launch() for an elementwise op over one or two fresh tensors (contiguous, offset 0: `_v === null`) of a's shape and
 * one dtype (b: or null): the kernel sees flat rows. The hot path of small ops: it writes a compact FLAT record
 * (native/core/runtime.h) and is kept small enough for V8 to inline into its callers. Returns null for the cases it
 * leaves to the caller's general path. @internal
 */
export function launchFlat(op: string, id: number, dtype: DType, outDtype: DType, a: Tensor, b: Tensor | null, fp: readonly number[]): Tensor | null {
  const dt = DTYPE_ID[dtype];
  const dev = DEVICE_ID[a.device]!;
  const ha = a._h, hb = b === null ? 0 : b._h;
  const n = a.numel;
  if (supported[(id * 4 + (dev > 0 ? 1 : 0)) * 4 + dt] !== 1 || ha === null || hb === null || n > 0x7fffffff ||
      fp.length > 0 || (b !== null && b.device !== a.device)) {
    return null;  // the caller's general path: an op not checked yet (or without a kernel), a disposed input, float
                  // params, more elements than an int32 counts, or tensors on two devices (an error there)
  }
  const h = newHandle(n * DTYPE_SIZE[outDtype]);
  reserve(5);
  const c = cmd;
  const seq = ++c.seq;
  const last = c.lastUse;
  const i32 = c.i32;
  const p = c.p;
  const q = 2 * p;
  i32[q] = CMD_FLAT;
  i32[q + 1] = id;
  i32[q + 2] = dt;
  i32[q + 3] = dev;
  i32[q + 4] = n;
  i32[q + 5] = ha;
  last[ha] = seq;
  if (b !== null) {
    i32[q + 6] = hb;
    last[hb] = seq;
  } else {
    i32[q + 6] = 0;
  }
  i32[q + 7] = h;
  i32[q + 8] = DTYPE_ID[outDtype];
  i32[q + 9] = 0;
  last[h] = seq;
  c.p = p + 5;
  const out = new Tensor(h, a.shape, outDtype, a.device);
  recorded(b === null ? 2 * n : 3 * n);
  return out;
}

function liveArg(op: string, a: Tensor | ViewArg): void {
  (a instanceof Tensor ? a : a.t).handle(op);
}

// [id, elemOffset, dtype, ndim, shape..., strides...]; null strides: contiguous
function putArg(b: Float64Array, p: number, t: Tensor, shape: readonly number[], strides: readonly number[] | null, offset: number): number {
  const nd = shape.length;
  b[p++] = t._h!;
  b[p++] = offset;
  b[p++] = DTYPE_ID[t.dtype];
  b[p++] = nd;
  for (let d = 0; d < nd; d++) b[p++] = shape[d]!;
  if (strides === null) {
    let acc = 1;
    for (let d = nd - 1; d >= 0; d--) {
      b[p + d] = acc;
      acc *= shape[d]!;
    }
    p += nd;
  } else {
    for (let d = 0; d < nd; d++) b[p++] = strides[d]!;
  }
  return p;
}

// (op, device, dtype) -> 0 not asked yet, 1 has a kernel, 2 has none; every instruction set registers the same ops,
// so this never goes stale
// (keyed by the device's kind: 0 cpu, 1 cuda)
const supported = new Uint8Array(opNames.length * 16);
function checkKernel(op: string, id: number, device: Device, dev: number, dtype: DType, dt: number): void {
  const kind = dev > 0 ? 1 : 0;
  const key = (id * 4 + kind) * 4 + dt;
  let ok = supported[key]!;
  if (ok === 0) ok = supported[key] = binding.supports(id, kind, dt) ? 1 : 2;
  if (ok !== 1) assertSupported(op, device, dtype, dt);
}
/** @internal whether the op table has a kernel for (op, device, dtype) */
export function hasKernel(op: string, device: Device, dtype: DType): boolean {
  return binding.supports(opId(op), device === 'cpu' ? 0 : 1, DTYPE_ID[dtype]);
}
function mixedDevices(op: string, a: Device, b: Device): never {
  throw new DeviceError(`${op}: expected tensors on one device, got ${a} and ${b}`);
}

/** A tensor seen through other geometry (a broadcast or folded view) for one launch. @internal */
export interface ViewArg {
  t: Tensor;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
}
function deviceOf(a: Tensor | ViewArg): Device {
  return a instanceof Tensor ? a.device : a.t.device;
}

/** @internal a new tensor sharing t's storage (and version counter) with other geometry; not in the graph */
export function makeView(t: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  const v = new Tensor(shareHandle(t.handle('view')), shape, t.dtype, t.device);
  v._v = { strides, offset, vc: t._vc };
  return v;
}

/** @internal a new tensor holding a copy of a typed array */
export function fromTyped(arr: AnyTypedArray, shape: readonly number[], dtype: DType, device: Device = 'cpu'): Tensor {
  const n = numelOf('tensor', shape);
  if (arr.length !== n) {
    throw new ShapeError(`tensor: expected ${n} values for shape ${fmt(shape)}, got ${arr.length}`);
  }
  const t = new Tensor(handleFromBytes(0, arr), shape, dtype, 'cpu');
  if (device === 'cpu') return t;
  const g = toDevice(t, device);
  t.dispose();
  return g;
}

/**
 * @internal t on `device` (canonical name): t itself when it is there already (as PyTorch's to()), else a copy, which
 * gradients flow back through.
 */
export function toDevice(t: Tensor, device: Device): Tensor {
  if (t.device === device) return t;
  const src = t.isContiguous() && t.offset === 0 ? t : t.contiguous();
  const out = launch('copy', t.dtype, [src], [{ shape: t.shape, dtype: t.dtype, device }])[0]!;
  if (src !== t) src.dispose();
  if (engine.isGradEnabled() && t.requiresGrad) {
    engine.record(out, [t], 'to', (g) => [toDevice(g, t.device)]);
  }
  return out;
}

/** @internal moves t (and its gradient) to `device` in place: the same Tensor object, its storage copied there */
export function moveTo(t: Tensor, device: Device): void {
  if (t.device !== device) adoptStorage(t, engine.noGrad(() => toDevice(t, device)));
  const g = t.grad;
  if (g !== null) moveTo(g, device);
}

/**
 * @internal moves a fresh tensor's storage into `dst` (module.to(): parameters keep their identity, as in PyTorch),
 * releasing what dst held; src is left disposed.
 */
export function adoptStorage(dst: Tensor, src: Tensor): void {
  const h = src.handle('to');
  if (src._yi >= 0) {  // src was never tracked: nothing will release h for it
    young[src._yi] = undefined;
    youngLive--;
  } else cmd.gen[h] = cmd.gen[h]! + 1;  // src's finalizer (id, generation) is now stale: it will not release h
  src._yi = -1;
  src._h = null;
  const old = dst._h;
  dst._h = h;
  (dst as { device: Device }).device = src.device;
  dst._v = null;
  if (dst._yi < 0) {  // dst's finalizer names its old handle (stale once released below): track it with h
    if (nYoung === YOUNG) registerYoung();
    dst._yi = nYoung;
    young[nYoung++] = dst;
    youngLive++;
  }
  if (old !== null) releaseHandle(old);
}
