// The global generator: a seed and a call counter feeding the counter-based Philox kernels (native/core/philox.h).
// The same (seed, offset) gives the same values on every backend and thread count.
import { ArgumentError, DTypeError } from '../errors.js';
import { DType, checkDType, isFloat } from '../dtype.js';
import { Tensor, launch } from './tensor.js';
import { checkShapeArg } from './shape.js';
import { CreateOptions, createOpts } from './create.js';
import { intArg } from '../check.js';

/** The generator state: restore it with setRngState to replay a random stream. */
export interface RngState {
  seed: number;
  offset: number;
}

const gen: RngState = { seed: 0x5eed, offset: 0 };

/** Seeds the global generator. @example `manualSeed(42)` */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new ArgumentError(`manualSeed: expected a non-negative safe integer, got ${seed}`);
  gen.seed = seed;
  gen.offset = 0;
}
/** @example `const s = getRngState(); ...; setRngState(s)` */
export function getRngState(): RngState {
  return { ...gen };
}
/** Restores the generator saved by getRngState() (checkpoints use it for exact resume). @example `setRngState(ckpt.rng)` */
export function setRngState(s: RngState): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (s === null || typeof s !== 'object' || !ok(s.seed) || !ok(s.offset)) {
    throw new ArgumentError(`setRngState: expected { seed, offset } of non-negative integers (from getRngState), got ${s === null || typeof s !== 'object' ? String(s) : JSON.stringify(s)}`);
  }
  gen.seed = s.seed;
  gen.offset = s.offset;
}
/** @internal the (seed, offset) pair for one random kernel call */
export function nextRng(): [number, number] {
  return [gen.seed, gen.offset++];
}

function floatDType(op: string, d: DType | undefined): DType {
  const dt = checkDType(op, d ?? 'float32');
  if (!isFloat(dt)) throw new DTypeError(`${op}: expected dtype float32 or float64, got ${dt}`);
  return dt;
}

/** Uniform values in [low, high). @example `rand([2, 3])` */
export function rand(shape: readonly number[], opts?: CreateOptions & { low?: number; high?: number }): Tensor {
  opts = createOpts('rand', opts);
  const dtype = floatDType('rand', opts.dtype);
  checkShapeArg('rand', shape, dtype);
  return launch('rand_uniform', dtype, [], [{ shape, dtype, device: opts.device ?? 'cpu' }], nextRng(), [opts.low ?? 0, opts.high ?? 1])[0]!;
}
/** Normal values (mean 0, std 1 by default). @example `randn([64, 10], { std: 0.01 })` */
export function randn(shape: readonly number[], opts?: CreateOptions & { mean?: number; std?: number }): Tensor {
  opts = createOpts('randn', opts);
  const dtype = floatDType('randn', opts.dtype);
  checkShapeArg('randn', shape, dtype);
  return launch('rand_normal', dtype, [], [{ shape, dtype, device: opts.device ?? 'cpu' }], nextRng(), [opts.mean ?? 0, opts.std ?? 1])[0]!;
}
/** Integers in [low, high). @example `randint(0, 10, [64])` */
export function randint(low: number, high: number, shape: readonly number[], opts?: CreateOptions): Tensor {
  opts = createOpts('randint', opts);
  // the kernel draws in int32 (native/cpu/random.cpp): both bounds must fit it
  intArg('randint', 'low', low, -(2 ** 31), 2 ** 31 - 1);
  intArg('randint', 'high', high, -(2 ** 31), 2 ** 31 - 1);
  if (high <= low) throw new ArgumentError(`randint: expected integers low < high, got ${low} and ${high}`);
  const dtype = checkDType('randint', opts.dtype ?? 'int32');
  checkShapeArg('randint', shape, dtype);
  if (dtype !== 'int32' && dtype !== 'float32') throw new DTypeError(`randint: expected dtype int32 or float32, got ${dtype}`);
  return launch('randint', dtype, [], [{ shape, dtype, device: opts.device ?? 'cpu' }], [...nextRng(), low, high])[0]!;
}
