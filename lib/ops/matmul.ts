// Matrix products with NumPy matmul rules: 1-D operands are promoted and the added dim removed; batch dims
// broadcast. The kernel takes [B, M, K] x [B, K, N] with any strides (a stride-0 batch dim broadcasts for free).
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { isFloat } from '../dtype.js';
import { Tensor, launch, ViewArg } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, fmt } from '../tensor/shape.js';
import { needsGrad, record } from '../autograd/engine.js';
import { sumToShape } from './reduce.js';
import { reluBackward } from './elementwise.js';
import { describe, optTensorArg, optionsArg, tensorArg } from '../check.js';

// A [B, r, c] view of t broadcast to batch dims `batch`, or null if the batch dims cannot fold into one stride.
function fold(t: Tensor, batch: number[]): ViewArg | null {
  const r = t.shape[t.ndim - 2]!, c = t.shape[t.ndim - 1]!;
  const bs = broadcastStrides(t.shape.slice(0, -2), t.strides.slice(0, -2), batch);
  const B = batch.reduce((a, b) => a * b, 1);
  // fold: every batch dim with size > 1 must continue the next one's stride, or all strides be 0
  let stride = 0;
  let expect: number | null = null;
  for (let i = batch.length - 1; i >= 0; i--) {
    if (batch[i] === 1) continue;
    if (expect === null) { stride = bs[i]!; expect = bs[i]! * batch[i]!; continue; }
    if (bs[i] !== expect && !(bs[i] === 0 && stride === 0)) return null;
    expect = bs[i]! * batch[i]!;
  }
  return { t, shape: [B, r, c], strides: [stride, t.strides[t.ndim - 2]!, t.strides[t.ndim - 1]!], offset: t.offset };
}

/**
 * `a @ b`. Optional fused epilogue for linear layers: `bias` [N] added to every row, then ReLU.
 * @example `matmul(x, w.t())`
 */
export function matmul(a: Tensor, b: Tensor, opts?: { bias?: Tensor; relu?: boolean }): Tensor {
  const op = 'matmul';
  tensorArg(op, 'a', a);
  tensorArg(op, 'b', b);
  opts = optionsArg(op, opts);
  optTensorArg(op, 'bias', opts.bias);
  if (opts.relu !== undefined && typeof opts.relu !== 'boolean') {
    throw new ArgumentError(`${op}: expected relu to be true or false, got ${describe(opts.relu)}`);
  }
  if (a.ndim === 0 || b.ndim === 0) throw new ShapeError(`${op}: expected tensors of rank >= 1, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.dtype !== b.dtype) throw new DTypeError(`${op}: expected operands of one dtype, got ${a.dtype} and ${b.dtype}`);
  if (!isFloat(a.dtype)) throw new DTypeError(`${op}: expected float32 or float64, got ${a.dtype}`);
  const A = a.ndim === 1 ? a.unsqueeze(0) : a;
  const B = b.ndim === 1 ? b.unsqueeze(1) : b;
  const M = A.shape[A.ndim - 2]!, K = A.shape[A.ndim - 1]!, K2 = B.shape[B.ndim - 2]!, N = B.shape[B.ndim - 1]!;
  const tmps: Tensor[] = [];
  if (A !== a) tmps.push(A);
  if (B !== b) tmps.push(B);
  try {
    if (K !== K2) throw new ShapeError(`${op}: expected inner dims to match, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
    if (opts.bias && (opts.bias.ndim !== 1 || opts.bias.shape[0] !== N || opts.bias.dtype !== a.dtype)) {
      throw new ShapeError(`${op}: expected a bias of shape [${N}] and dtype ${a.dtype}, got ${fmt(opts.bias.shape)} ${opts.bias.dtype}`);
    }
    if (a.ndim > 2 && b.ndim === 2 && a.isContiguous()) {
      // [..., M, K] @ [K, N] (a linear map of a batch): the batch folds into the rows, one GEMM of
      // [prod(...) M, K] x [K, N] instead of one per batch entry; its backward is two GEMMs too (no [batch, K, N]
      // weight gradients to sum)
      const a2 = a.reshape([-1, K]);
      const y2 = matmul(a2, b, opts);
      const y = y2.reshape([...a.shape.slice(0, -1), N]);
      if (!needsGrad(a, b, opts.bias)) {
        a2.dispose();
        y2.dispose();
      }
      return y;
    }
    const batch = broadcastShapes(op, A.shape.slice(0, -2), B.shape.slice(0, -2));
    let fa = fold(A, batch), fb = fold(B, batch);
    if (!fa) { const c = A.expand([...batch, M, K]).contiguous(); tmps.push(c); fa = fold(c, batch)!; }
    if (!fb) { const c = B.expand([...batch, K, N]).contiguous(); tmps.push(c); fb = fold(c, batch)!; }
    let bias = opts.bias;
    if (bias && !bias.isContiguous()) { bias = bias.contiguous(); tmps.push(bias); }
    const Bn = fa.shape[0]!;
    let shape = [...batch, M, N];
    if (a.ndim === 1) shape.splice(shape.length - 2, 1);
    if (b.ndim === 1) shape = shape.slice(0, -1);
    const out = launch(op, a.dtype, bias ? [fa, fb, bias] : [fa, fb], [{ shape, dtype: a.dtype, kernelShape: [Bn, M, N] }], [opts.relu ? 1 : 0])[0]!;
    if (needsGrad(a, b, opts.bias)) recordMatmul(out, a, b, opts.bias, !!opts.relu, batch, M, N);
    return out;
  } finally {
    for (const t of tmps) t.dispose();
  }
}

// d/dA = G B^T and d/dB = A^T G (summed over broadcast batch dims); d/dbias = column sums of G. A fused ReLU
// first masks G where the output is 0.
function recordMatmul(out: Tensor, a: Tensor, b: Tensor, bias: Tensor | undefined, relu: boolean, batch: number[], M: number, N: number): void {
  record(out, [a, b, bias], 'matmul', (g0) => {
    const g = (relu ? reluBackward(g0, out) : g0).reshape([...batch, M, N]);
    const A = a.ndim === 1 ? a.unsqueeze(0) : a;
    const B = b.ndim === 1 ? b.unsqueeze(1) : b;
    const ga = a.requiresGrad ? sumToShape(matmul(g, B.transpose(-2, -1)), A.shape, a.dtype).reshape(a.shape) : null;
    const gb = b.requiresGrad ? sumToShape(matmul(A.transpose(-2, -1), g), B.shape, b.dtype).reshape(b.shape) : null;
    const gbias = bias?.requiresGrad ? sumToShape(g, [N], bias.dtype) : null;
    return [ga, gb, gbias];
  }, [a, b, out]);
}
