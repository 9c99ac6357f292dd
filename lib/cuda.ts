/**
 * The CUDA backend: whether a GPU can be used and why not, its properties, its memory. Tensors go to a GPU with
 * `{ device: 'cuda' }`, `t.to('cuda')` or `t.cuda()`; modules with `module.to('cuda')`.
 */
import { ArgumentError } from './errors.js';
import { binding, cudaStatus, submit, readHandle, CudaProperties, CudaMemory, deviceArg, DEVICE_ID } from './native.js';
import { describe } from './check.js';

export type { CudaProperties, CudaMemory } from './native.js';

/** What the CUDA backend found. @example `cuda.status().reason` */
export interface CudaStatus {
  /** this binary has the CUDA backend */
  built: boolean;
  /** ... compiled for the SIMT emulator (tests only: TENSILE_EMULATE_CUDA=1) */
  emulated: boolean;
  /** CUDA runtime version of this build (1000 * major + 10 * minor) */
  runtimeVersion: number;
  /** the version the NVIDIA driver supports (0: no driver) */
  driverVersion: number;
  /** usable GPUs (CUDA_VISIBLE_DEVICES applies) */
  devices: number;
  /** why no GPU can be used ('' when one can): no CUDA backend in this build, no driver, a driver too old, no device */
  reason: string;
  /** cuBLAS, used by matmul when found (loaded at run time, never required) */
  cublas: LibraryStatus;
  /** cuDNN, used by conv2d (forward and both gradients) when found (loaded at run time, never required) */
  cudnn: LibraryStatus;
}

/**
 * What the search for one of NVIDIA's libraries (cuBLAS, cuDNN) found. tensile looks for them at run time, the first
 * time an op could use them or status() asks: `TENSILE_CUBLAS_LIBRARY` / `TENSILE_CUDNN_LIBRARY` (the full path of
 * libcublas.so.N / libcudnn.so.N; nothing else is searched then), else the dynamic loader's path (LD_LIBRARY_PATH,
 * the system's), the CUDA toolkit's lib64 and the nvidia/ folders of Python's site-packages (the wheels PyTorch
 * installs). `TENSILE_CUBLAS=0` / `TENSILE_CUDNN=0` turn either off. Without them, tensile's own kernels run.
 * @example
 * ```ts
 * const { cublas } = cuda.status();
 * console.log(cublas.found ? `cuBLAS ${cublas.version} at ${cublas.path}` : `no cuBLAS: ${cublas.reason}`);
 * ```
 */
export interface LibraryStatus {
  /** the library was loaded and is used */
  found: boolean;
  /** as the library reports it (cuBLAS: major * 10000 + minor * 100 + patch; cuDNN: cudnnGetVersion()); 0 when not found */
  version: number;
  /** the main library loaded ('' when none) */
  path: string;
  /**
   * Why not, when not found: disabled by TENSILE_CUBLAS=0, not found, a missing symbol, built for another CUDA major...
   * When found, '' or a note on a part left out: for cuBLAS, why matmul's fused epilogue runs as tensile's own kernel
   * instead of through cuBLASLt (TENSILE_CUBLASLT=0, or a cuBLASLt symbol missing).
   */
  reason: string;
  /** every path attempted, in order */
  tried: string[];
}

/** Whether a GPU can be used. @example `const device = cuda.isAvailable() ? 'cuda' : 'cpu'` */
export function isAvailable(): boolean {
  return cudaStatus().devices > 0;
}

/** What the CUDA backend found (probed once; a few milliseconds without a driver). @example `console.log(cuda.status())` */
export function status(): CudaStatus {
  const libs = binding.cudaLibraries();
  return { ...cudaStatus(), cublas: libs.cublas, cudnn: libs.cudnn };
}

/** The number of usable GPUs. @example `cuda.deviceCount()` */
export function deviceCount(): number {
  return cudaStatus().devices;
}

function ordinal(op: string, device: number | string): number {
  if (typeof device === 'number') {
    if (!Number.isInteger(device) || device < 0) throw new ArgumentError(`${op}: expected a device index >= 0, got ${describe(device)}`);
    return DEVICE_ID[deviceArg(op, `cuda:${device}`)]! - 1;
  }
  const d = deviceArg(op, device);
  if (d === 'cpu') throw new ArgumentError(`${op}: expected a CUDA device, got 'cpu'`);
  return DEVICE_ID[d]! - 1;
}

/** Name, compute capability, memory and multiprocessors of a GPU. @example `cuda.getDeviceProperties(0).totalMemory` */
export function getDeviceProperties(device: number | string = 0): CudaProperties {
  return binding.cudaProperties(ordinal('getDeviceProperties', device));
}

/**
 * Resolves when every op queued so far has run, on the CPU and on every GPU (rejects with the first error raised
 * since the last read, if any). The event loop is not blocked.
 * @example `await cuda.synchronize()`
 */
export async function synchronize(): Promise<void> {
  await readHandle(0, 0, 0);
}

/**
 * The GPU's memory as its caching allocator sees it, once the ops queued so far have run (this waits for them):
 * allocated (held by tensors), reserved (allocated plus the cache), peak allocated, allocations (blocks taken from
 * the driver), the limit set by setMemoryLimit (0: none), and the device's total and free memory.
 * @example `console.log(cuda.memory().allocated)`
 */
export function memory(device: number | string = 0): CudaMemory {
  const ord = ordinal('memory', device);
  submit();
  return binding.cudaMemory(ord);
}

/** Starts the peak of memory() over from what is allocated now. @example `cuda.resetPeakMemoryStats()` */
export function resetPeakMemoryStats(device: number | string = 0): void {
  const ord = ordinal('resetPeakMemoryStats', device);
  submit();
  binding.cudaResetPeak(ord);
}

/** Gives the allocator's cached, unused blocks on the GPU back to the driver. @example `cuda.emptyCache()` */
export function emptyCache(device: number | string = 0): void {
  const ord = ordinal('emptyCache', device);
  submit();
  binding.cudaEmptyCache(ord);
}

/**
 * Caps what the caching allocator may reserve on a GPU: a byte count, or a fraction in (0, 1] of the device's
 * memory; 0 removes the cap. Past it, an allocation first empties the cache, then fails with a MemoryError.
 * @example `cuda.setMemoryLimit(0.5)`
 */
export function setMemoryLimit(limit: number, device: number | string = 0): void {
  const ord = ordinal('setMemoryLimit', device);
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) {
    throw new ArgumentError(`setMemoryLimit: expected a byte count or a fraction in (0, 1], got ${describe(limit)}`);
  }
  const bytes = limit > 0 && limit <= 1 ? Math.floor(limit * binding.cudaProperties(ord).totalMemory) : Math.floor(limit);
  binding.cudaSetMemoryLimit(ord, bytes);
}

function setSwitch(op: string, which: number, on: boolean): void {
  if (typeof on !== 'boolean') throw new ArgumentError(`${op}: expected a boolean, got ${describe(on)}`);
  submit();
  binding.cudaSetSwitch(which, on);
}

/**
 * Lets float32 matmul (cuBLAS) and convolutions (cuDNN) use TF32 tensor cores: about 10 bits of mantissa in the
 * products, much faster on Ampere and newer GPUs. Off by default, like PyTorch's
 * `torch.backends.cuda.matmul.allow_tf32`. Ops queued before the call run with the previous setting.
 * @example `cuda.setAllowTF32(true)`
 */
export function setAllowTF32(on: boolean): void {
  setSwitch('setAllowTF32', 0, on);
}

/**
 * With cuDNN, times the convolution algorithms once per shape (cudnnFind) and keeps the fastest, instead of taking
 * cuDNN's heuristic choice. Off by default, like `torch.backends.cudnn.benchmark`: worth it when shapes repeat.
 * @example `cuda.setBenchmark(true)`
 */
export function setBenchmark(on: boolean): void {
  setSwitch('setBenchmark', 1, on);
}

/**
 * Restricts cuDNN to deterministic algorithms (the same bits run to run; cuBLAS's GEMMs and tensile's own kernels
 * already are). Off by default, like `torch.backends.cudnn.deterministic`.
 * @example `cuda.setDeterministic(true)`
 */
export function setDeterministic(on: boolean): void {
  setSwitch('setDeterministic', 2, on);
}
