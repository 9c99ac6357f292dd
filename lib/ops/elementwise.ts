// Elementwise ops with NumPy broadcasting and dtype promotion as PyTorch defines it: two tensors give the wider
// dtype (uint8 < int32 < float32 < float64); a tensor and a number give the tensor's dtype, except an integer tensor
// with a number that is not an integer (0.5, NaN, Infinity: a Python float), which computes in float32.
import { DType, isFloat, promote } from '../dtype.js';
import { ArgumentError, DTypeError } from '../errors.js';
import { Tensor, TensorLike, launch, launchFlat } from '../tensor/tensor.js';
import { opId, opNames } from '../native.js';
import { broadcastShapes, broadcastStrides, coalesce, shapesEqual } from '../tensor/shape.js';
import { scalarLike } from '../tensor/create.js';
import { asDType } from './view.js';
import { needsGrad, record } from '../autograd/engine.js';
import { sumToShape } from './reduce.js';
import { describe, operandArg, tensorArg } from '../check.js';

const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
// by op id, for the fast path (a typed-array read beats a Set lookup of the name)
const IS_COMPARISON = new Uint8Array(opNames.length);
for (const n of COMPARISONS) IS_COMPARISON[opId(n)] = 1;
const FLOAT_ONLY = new Set(['div', 'pow']);

/** Runs a broadcasting kernel over same-dtype inputs: coalesces dims and passes broadcast strides. @internal */
export function broadcastLaunch(op: string, dtype: DType, outDtype: DType, inputs: readonly Tensor[], fp: number[] = []): Tensor {
  const first = inputs[0]!;
  // fast path: same shapes, all contiguous -> one flat row
  if (inputs.every((t) => t === first || (shapesEqual(t.shape, first.shape) && t.isContiguous())) && first.isContiguous()) {
    const flat = [first.numel];
    const views = inputs.map((t) => ({ t, shape: flat, strides: [1], offset: t.offset }));
    return launch(op, dtype, views, [{ shape: first.shape, dtype: outDtype, kernelShape: flat }], [], fp)[0]!;
  }
  let shape: number[] = [...first.shape];
  for (let i = 1; i < inputs.length; i++) shape = broadcastShapes(op, shape, inputs[i]!.shape);
  const outStrides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { outStrides[i] = acc; acc *= shape[i]!; }
  const strides = inputs.map((t) => broadcastStrides(t.shape, t.strides, shape));
  const c = coalesce(shape, [outStrides, ...strides]);
  const views = inputs.map((t, k) => ({ t, shape: c.shape, strides: c.strides[k + 1]!, offset: t.offset }));
  return launch(op, dtype, views, [{ shape, dtype: outDtype, kernelShape: c.shape }], [], fp)[0]!;
}

const NO_FP: number[] = [];

/** The dtype of a tensor of dtype `t` with the number `s`: float32 for an integer tensor and a non-integer number. @internal */
export function scalarPromote(t: DType, s: number): DType {
  return isFloat(t) || Number.isInteger(s) ? t : 'float32';
}

export function binary(op: string, a: TensorLike, b: TensorLike, fp: number[] = NO_FP): Tensor {
  // fast path: two fresh tensors (contiguous, no view or autograd state) of one shape and dtype
  if (a instanceof Tensor && b instanceof Tensor && a._v === null && b._v === null && a._ag === null && b._ag === null &&
    a.dtype === b.dtype && a.device === b.device && (a.shape === b.shape || shapesEqual(a.shape, b.shape))) {
    const id = opId(op);
    const cmp = IS_COMPARISON[id] === 1;
    const dt = a.dtype;
    if (cmp || dt === 'float32' || dt === 'float64' || !FLOAT_ONLY.has(op)) {
      const out = launchFlat(op, id, dt, cmp ? 'uint8' : dt, a, b, fp);
      if (out !== null) return out;
    }
  }
  operandArg(op, a);
  operandArg(op, b);
  const ta = a instanceof Tensor ? a : undefined;
  const tb = b instanceof Tensor ? b : undefined;
  const ref = (ta ?? tb)!;
  let dtype: DType = ta && tb ? promote(ta.dtype, tb.dtype) : scalarPromote(ref.dtype, (ta ? b : a) as number);
  if (FLOAT_ONLY.has(op) && !isFloat(dtype)) dtype = 'float32';
  const A = ta ? asDType(ta, dtype) : scalarLike(a as number, dtype, tb!.device);
  const B = tb ? asDType(tb, dtype) : scalarLike(b as number, dtype, ta!.device);
  let out: Tensor;
  try {
    out = broadcastLaunch(op, dtype, COMPARISONS.has(op) ? 'uint8' : dtype, [A, B], fp);
  } finally {
    if (A !== a && !needsGrad(ta, tb)) A.dispose();
    if (B !== b && !needsGrad(ta, tb)) B.dispose();
  }
  if (needsGrad(ta, tb) && !COMPARISONS.has(op)) recordBinary(op, out, ta, tb, A, B);
  return out;
}

// Backward rules of the differentiable binary ops. Gradients are summed back over broadcast dims (sumToShape).
function recordBinary(op: string, out: Tensor, ta: Tensor | undefined, tb: Tensor | undefined, A: Tensor, B: Tensor): void {
  const toA = (g: Tensor | null) => (g && ta ? sumToShape(g, ta.shape, ta.dtype) : null);
  const toB = (g: Tensor | null) => (g && tb ? sumToShape(g, tb.shape, tb.dtype) : null);
  const wa = !!ta?.requiresGrad, wb = !!tb?.requiresGrad;
  let rule: (g: Tensor) => [Tensor | null, Tensor | null];
  let save: Tensor[] = [];
  switch (op) {
    case 'add': rule = (g) => [toA(g), toB(g)]; break;
    case 'sub': rule = (g) => [toA(g), wb ? toB(g.neg()) : null]; break;
    case 'mul': rule = (g) => [wa ? toA(g.mul(B)) : null, wb ? toB(g.mul(A)) : null]; save = [A, B]; break;
    case 'div': rule = (g) => [wa ? toA(g.div(B)) : null, wb ? toB(g.neg().mul(A).div(B.mul(B))) : null]; save = [A, B]; break;
    case 'pow': rule = (g) => [
      wa ? toA(g.mul(B).mul(A.pow(B.sub(1)))) : null,
      wb ? toB(g.mul(out).mul(A.log())) : null,
    ]; save = [A, B, out]; break;
    case 'minimum':
    case 'maximum': {
      // ties send the gradient to both operands, halved (PyTorch's rule)
      rule = (g) => {
        const pick = op === 'minimum' ? A.lt(B) : A.gt(B), tie = A.eq(B);
        const wA = where(pick, 1, where(tie, 0.5, 0)), wB = where(pick, 0, where(tie, 0.5, 1));
        return [wa ? toA(g.mul(wA)) : null, wb ? toB(g.mul(wB)) : null];
      };
      save = [A, B];
      break;
    }
    default: throw new DTypeError(`${op}: expected a differentiable op, got one without a gradient`);
  }
  record(out, [ta ?? null, tb ?? null], op, rule, save);
}

const INT_UNARY = new Set(['neg', 'abs', 'sign', 'relu', 'clamp']);

export function unary(op: string, x: Tensor, fp: number[] = NO_FP): Tensor {
  if (x._v === null && x._ag === null && isFloat(x.dtype)) {
    const out = launchFlat(op, opId(op), x.dtype, x.dtype, x, null, fp);
    if (out !== null) return out;
  }
  // an integer tensor clamped to bounds that are not integers computes in float32 (PyTorch's result_type); the
  // infinite defaults stand for "no bound"
  if (op === 'clamp' && !isFloat(x.dtype) && fp.some((v) => !Number.isInteger(v) && v !== Infinity && v !== -Infinity)) {
    const c = x.cast('float32');
    try {
      return broadcastLaunch(op, 'float32', 'float32', [c], fp);
    } finally {
      c.dispose();
    }
  }
  let out: Tensor;
  if (isFloat(x.dtype) || (x.dtype === 'int32' && INT_UNARY.has(op))) {
    out = broadcastLaunch(op, x.dtype, x.dtype, [x], fp);
  } else {
    // integer inputs: int32 arithmetic for the integer-closed ops, float32 for the rest (as PyTorch does for exp etc.)
    const c = x.cast(INT_UNARY.has(op) ? 'int32' : 'float32');
    try {
      return broadcastLaunch(op, c.dtype, c.dtype, [c], fp);
    } finally {
      c.dispose();
    }
  }
  if (needsGrad(x)) record(out, [x], op, (g) => [unaryGrad(op, g, x, out, fp)], [x, out]);
  return out;
}

/**
 * GELU, exact (x * Phi(x), erf-based; the default) or with PyTorch's tanh approximation
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ('tanh'), forward and backward each one fused kernel.
 * @example `gelu(x, 'tanh')`
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new ArgumentError(`gelu: expected approximate 'none' or 'tanh', got ${describe(approximate)}`);
  }
  return unary('gelu', x, approximate === 'tanh' ? GELU_TANH : NO_FP);
}
const GELU_TANH = [1];

/** g where y > 0, else 0: the gradient through a ReLU given its output (or input). @example `reluBackward(g, y)` */
export function reluBackward(g: Tensor, y: Tensor): Tensor {
  return binary('relu_bwd', g, y);
}

// d(op)/dx times g. Activations use their fused backward kernels (*_bwd).
function unaryGrad(op: string, g: Tensor, x: Tensor, y: Tensor, fp: number[]): Tensor | null {
  switch (op) {
    case 'neg': return g.neg();
    case 'abs': return g.mul(x.sign());
    case 'sign': return null;
    case 'exp': return g.mul(y);
    case 'log': return g.div(x);
    case 'sqrt': return g.mul(0.5).div(y);
    case 'rsqrt': return g.mul(y.pow(3)).mul(-0.5);
    case 'pow_scalar': return fp[0] === 0 ? null : g.mul(x.pow(fp[0]! - 1)).mul(fp[0]!);
    case 'clamp': return g.mul(x.ge(fp[0]!).cast(g.dtype)).mul(x.le(fp[1]!).cast(g.dtype));
    case 'relu': case 'silu': case 'softplus': return binary(`${op}_bwd`, g, x);
    case 'leaky_relu': case 'elu': case 'gelu': return binary(`${op}_bwd`, g, x, fp);  // gelu: [1] for tanh
    case 'sigmoid': case 'tanh': return binary(`${op}_bwd`, g, y);
    default: throw new DTypeError(`${op}: expected a differentiable op, got one without a gradient`);
  }
}

/**
 * Elementwise choice: cond ? a : b, broadcasting all three. A cond of a dtype other than uint8 counts as `cond != 0`
 * (0.5 and NaN select a). The result dtype is that of a and b promoted as in binary ops (an integer tensor with a
 * non-integer number gives float32; two numbers give float32). The gradient flows to a where cond holds and to b
 * elsewhere, summed over the dims they were broadcast along; cond and number operands get none.
 * @example `where(x.gt(0), x, 0)`
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  tensorArg('where', 'cond', cond);
  operandArg('where', a);
  operandArg('where', b);
  const ta = a instanceof Tensor ? a : undefined, tb = b instanceof Tensor ? b : undefined;
  const dtype = ta && tb ? promote(ta.dtype, tb.dtype) : ta ? scalarPromote(ta.dtype, b as number) : tb ? scalarPromote(tb.dtype, a as number) : 'float32';
  const grad = needsGrad(ta, tb);
  const c = cond.dtype === 'uint8' ? cond : cond.ne(0);
  const A = ta ? asDType(ta, dtype) : scalarLike(a as number, dtype, cond.device);
  const B = tb ? asDType(tb, dtype) : scalarLike(b as number, dtype, cond.device);
  let out: Tensor;
  try {
    out = broadcastLaunch('where', dtype, dtype, [c, A, B]);
  } finally {
    if (c !== cond && !grad) c.dispose();
    if (A !== a) A.dispose();
    if (B !== b) B.dispose();
  }
  if (grad) {
    const wa = !!ta?.requiresGrad, wb = !!tb?.requiresGrad;
    record(out, [ta ?? null, tb ?? null], 'where', (g) => [
      wa ? sumToShape(where(c, g, 0), ta!.shape, ta!.dtype) : null,
      wb ? sumToShape(where(c, 0, g), tb!.shape, tb!.dtype) : null,
    ], [c]);
  }
  return out;
}
