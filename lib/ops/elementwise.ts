// Elementwise ops with NumPy broadcasting and dtype promotion (uint8 < int32 < float32 < float64).
import { DType, isFloat, promote } from '../dtype.js';
import { Tensor, TensorLike, launch } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, coalesce, shapesEqual } from '../tensor/shape.js';
import { scalarLike } from '../tensor/create.js';

const COMPARISONS = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
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

export function binary(op: string, a: TensorLike, b: TensorLike, fp: number[] = []): Tensor {
  const ta = a instanceof Tensor ? a : undefined;
  const tb = b instanceof Tensor ? b : undefined;
  const ref = (ta ?? tb)!;
  let dtype: DType = ta && tb ? promote(ta.dtype, tb.dtype) : ref.dtype;
  if (FLOAT_ONLY.has(op) && !isFloat(dtype)) dtype = 'float32';
  const A = ta ? ta.cast(dtype) : scalarLike(a as number, dtype);
  const B = tb ? tb.cast(dtype) : scalarLike(b as number, dtype);
  try {
    return broadcastLaunch(op, dtype, COMPARISONS.has(op) ? 'uint8' : dtype, [A, B], fp);
  } finally {
    if (A !== a) A.dispose();
    if (B !== b) B.dispose();
  }
}

const INT_UNARY = new Set(['neg', 'abs', 'sign', 'relu', 'clamp']);

export function unary(op: string, x: Tensor, fp: number[] = []): Tensor {
  if (isFloat(x.dtype) || (x.dtype === 'int32' && INT_UNARY.has(op))) return broadcastLaunch(op, x.dtype, x.dtype, [x], fp);
  // integer inputs: int32 arithmetic for the integer-closed ops, float32 for the rest (as PyTorch does for exp etc.)
  const c = x.cast(INT_UNARY.has(op) ? 'int32' : 'float32');
  try {
    return broadcastLaunch(op, c.dtype, c.dtype, [c], fp);
  } finally {
    c.dispose();
  }
}

/** Elementwise choice: cond ? a : b, broadcasting all three. @example `where(x.gt(0), x, 0)` */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const ta = a instanceof Tensor ? a : undefined, tb = b instanceof Tensor ? b : undefined;
  const dtype = ta && tb ? promote(ta.dtype, tb.dtype) : (ta ?? tb)?.dtype ?? 'float32';
  const c = cond.cast('uint8');
  const A = ta ? ta.cast(dtype) : scalarLike(a as number, dtype);
  const B = tb ? tb.cast(dtype) : scalarLike(b as number, dtype);
  try {
    return broadcastLaunch('where', dtype, dtype, [c, A, B]);
  } finally {
    if (c !== cond) c.dispose();
    if (A !== a) A.dispose();
    if (B !== b) B.dispose();
  }
}
