// The CUDA dialect of native/cuda/*.cu, for g++ on the CPU (tests only): the same sources compile with
// `g++ -std=c++17 -x c++ -DTENSILE_EMU` and run under the SIMT emulator of native/emu/emu.cpp (a fiber per CUDA
// thread, blocks spread over a small pool of OS threads). No CUDA toolkit header is needed. See native/emu/README.md.
#pragma once

// Standard headers first: the CUDA qualifiers below are macros (as in the toolkit), and __noinline__ in particular
// must not reach a libstdc++ header included after this one; so everything a kernel file plausibly needs is here.
#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <math.h>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef TENSILE_EMU
#define TENSILE_EMU 1
#endif

// ---- qualifiers -------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
// Static shared memory: one copy per OS thread; a block's fibers all run on one OS thread and blocks on one thread
// run one after another, so this is block-local. Like the GPU's, it is neither zeroed nor reinitialised per block.
#define __shared__ static thread_local
#define TS_DYNAMIC_SHARED(T, name) T* name = (T*)::tensile_emu::dyn_shared()

// ---- types -------------------------------------------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
// CUDA's vector types with their alignment (vector loads of 8 and 16 bytes), and their make_* functions
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }
inline int2 make_int2(int x, int y) { return int2{x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorCudartUnloading = 4,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorPeerAccessAlreadyEnabled = 704,
  cudaErrorPeerAccessNotEnabled = 705,
  cudaErrorAssert = 710,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorUnknown = 999,
};
typedef cudaError_t cudaError;

struct CUstream_st;
struct CUevent_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
#define cudaStreamLegacy ((cudaStream_t)0x1)
#define cudaEventDefault 0x00
#define cudaEventBlockingSync 0x01
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01
#define cudaHostAllocMapped 0x02
#define cudaHostAllocWriteCombined 0x04

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxBlockDimX = 2,
  cudaDevAttrMaxBlockDimY = 3,
  cudaDevAttrMaxBlockDimZ = 4,
  cudaDevAttrMaxGridDimX = 5,
  cudaDevAttrMaxGridDimY = 6,
  cudaDevAttrMaxGridDimZ = 7,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrTotalConstantMemory = 9,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMaxRegistersPerBlock = 12,
  cudaDevAttrClockRate = 13,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrIntegrated = 18,
  cudaDevAttrCanMapHostMemory = 19,
  cudaDevAttrConcurrentKernels = 31,
  cudaDevAttrMemoryClockRate = 36,
  cudaDevAttrGlobalMemoryBusWidth = 37,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxThreadsPerMultiProcessor = 39,
  cudaDevAttrAsyncEngineCount = 40,
  cudaDevAttrUnifiedAddressing = 41,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
  cudaDevAttrMaxRegistersPerMultiprocessor = 82,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;  // kHz (CUDA 13's cudaDeviceProp has no clockRate: real code reads cudaDevAttrClockRate)
  size_t totalConstMem;
  int major;
  int minor;
  int multiProcessorCount;
  int integrated;
  int canMapHostMemory;
  int concurrentKernels;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  int asyncEngineCount;
  int unifiedAddressing;
  size_t sharedMemPerMultiprocessor;
  size_t sharedMemPerBlockOptin;
  int regsPerMultiprocessor;
};

// ---- runtime API (over host memory; emu.cpp) -------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaMalloc(void** ptr, size_t size);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t size);
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemcpyPeer(void* dst, int dst_device, const void* src, int src_device, size_t count);
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t count,
                                cudaStream_t stream = 0);
cudaError_t cudaMemset(void* ptr, int value, size_t count);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream = 0);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags = 0);
typedef void (*cudaHostFn_t)(void* userData);
// Queues fn(userData) on the stream (run on a worker thread in stream order; dropped on a device with a sticky error).
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaDeviceReset();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaDeviceCanAccessPeer(int* can_access, int device, int peer_device);
cudaError_t cudaDeviceEnablePeerAccess(int peer_device, unsigned int flags);
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);

// The C++ conveniences of cuda_runtime.h.
template <class T>
inline cudaError_t cudaMalloc(T** ptr, size_t size) {
  return cudaMalloc((void**)ptr, size);
}
template <class T>
inline cudaError_t cudaMallocHost(T** ptr, size_t size) {
  return cudaMallocHost((void**)ptr, size);
}
template <class T>
inline cudaError_t cudaHostAlloc(T** ptr, size_t size, unsigned int flags) {
  return cudaHostAlloc((void**)ptr, size, flags);
}
inline cudaError_t cudaEventCreate(cudaEvent_t* event, unsigned int flags) {
  return cudaEventCreateWithFlags(event, flags);
}
template <class T>
inline cudaError_t cudaFuncSetAttribute(T* func, cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute((const void*)func, attr, value);
}

// ---- the engine's interface --------------------------------------------------------------------------------------
namespace tensile_emu {
namespace detail {

// What a fiber sees: its thread index and its block's geometry (set by the scheduler at every switch).
struct Cur {
  uint3 tid;
  uint3 bid;
  dim3 bdim;
  dim3 gdim;
  void* dyn;
};
extern thread_local Cur tl_cur;

// A queued kernel: its arguments copied by value; run() calls it once per CUDA thread (each fiber gets its own
// copy of the parameters, as each GPU thread does).
struct KernelBase {
  virtual ~KernelBase() {}
  virtual void run() = 0;
};
template <class... P>
struct Kernel final : KernelBase {
  void (*k)(P...);
  std::tuple<typename std::decay<P>::type...> args;
  template <class... A>
  Kernel(void (*f)(P...), A&&... a) : k(f), args(std::forward<A>(a)...) {}
  void run() override { std::apply(k, args); }
};
cudaError_t submit(const char* name, const void* fn, std::unique_ptr<KernelBase> kernel, dim3 grid, dim3 block,
                   size_t shmem, cudaStream_t stream);

// Warp and block rounds (the scheduler of emu.cpp). op: see emu.cpp. Returns the round's result for this lane.
unsigned long long warp_op(int op, unsigned mask, unsigned long long value, int arg, int width, const char* file,
                           int line, int col);
int block_barrier(int kind, int pred, const char* file, int line, int col);
[[noreturn]] void fault(const char* what, const char* file, int line);
[[noreturn]] void assert_fail(const char* expr, const char* file, unsigned line, const char* func);
// The cost of one context switch in ns (a fiber and the calling thread ping-pong iters times): for benchmarks.
double measure_switch_ns(long iters);

template <class T>
inline unsigned long long bits_of(T v) {
  static_assert(sizeof(T) <= 8, "warp value too large");
  unsigned long long b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <class T>
inline T of_bits(unsigned long long b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
enum WarpOp { W_SHFL = 0, W_SHFL_UP, W_SHFL_DOWN, W_SHFL_XOR, W_BALLOT, W_ANY, W_ALL, W_SYNCWARP, W_ACTIVEMASK };
enum BarKind { B_SYNC = 0, B_COUNT, B_AND, B_OR };

}  // namespace detail

// Queues kernel k on stream s (by value, as <<<grid, block, shmem, s>>> does) and returns cudaSuccess, or returns
// cudaErrorInvalidConfiguration (see last_message()) for a block over 1024 threads or the per-dimension limits, a
// grid over its limits, or shmem over the per-block limit (48 KiB unless raised by cudaFuncSetAttribute).
template <class... P>
cudaError_t launch(const char* name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem, cudaStream_t s,
                   P... args) {
  std::unique_ptr<detail::KernelBase> kern(new detail::Kernel<P...>(k, std::move(args)...));
  return detail::submit(name, (const void*)k, std::move(kern), grid, block, shmem, s);
}
// The dynamic shared memory of the running block (exactly the launch's shmem bytes; nullptr for 0).
void* dyn_shared();
// The text of the latest error: the current device's sticky fault (kernel, block, reason), else this thread's
// latest failed call. Valid until the next call on this thread.
const char* last_message();

}  // namespace tensile_emu

// ---- built-in variables ------------------------------------------------------------------------------------------
#define threadIdx (static_cast<const uint3&>(::tensile_emu::detail::tl_cur.tid))
#define blockIdx (static_cast<const uint3&>(::tensile_emu::detail::tl_cur.bid))
#define blockDim (static_cast<const dim3&>(::tensile_emu::detail::tl_cur.bdim))
#define gridDim (static_cast<const dim3&>(::tensile_emu::detail::tl_cur.gdim))
constexpr int warpSize = 32;

// ---- synchronisation ---------------------------------------------------------------------------------------------
// The call site (default arguments, evaluated where the kernel calls) names the barrier in divergence checks and
// deadlock reports.
#if defined(__clang__)
#define TS_EMU_COLUMN __builtin_COLUMN()
#else
#define TS_EMU_COLUMN 0  // g++ 12 has no __builtin_COLUMN: two barriers on one line count as one site
#endif
#define TS_EMU_SITE const char *file_ = __builtin_FILE(), int line_ = __builtin_LINE(), int col_ = TS_EMU_COLUMN
#define TS_EMU_SITE_ARGS file_, line_, col_
inline void __syncthreads(TS_EMU_SITE) {
  ::tensile_emu::detail::block_barrier(::tensile_emu::detail::B_SYNC, 1, TS_EMU_SITE_ARGS);
}
inline int __syncthreads_count(int pred, TS_EMU_SITE) {
  return ::tensile_emu::detail::block_barrier(::tensile_emu::detail::B_COUNT, pred != 0, TS_EMU_SITE_ARGS);
}
inline int __syncthreads_and(int pred, TS_EMU_SITE) {
  return ::tensile_emu::detail::block_barrier(::tensile_emu::detail::B_AND, pred != 0, TS_EMU_SITE_ARGS);
}
inline int __syncthreads_or(int pred, TS_EMU_SITE) {
  return ::tensile_emu::detail::block_barrier(::tensile_emu::detail::B_OR, pred != 0, TS_EMU_SITE_ARGS);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, TS_EMU_SITE) {
  ::tensile_emu::detail::warp_op(::tensile_emu::detail::W_SYNCWARP, mask, 0, 0, 32, TS_EMU_SITE_ARGS);
}
inline unsigned __ballot_sync(unsigned mask, int pred, TS_EMU_SITE) {
  return (unsigned)::tensile_emu::detail::warp_op(::tensile_emu::detail::W_BALLOT, mask, pred != 0, 0, 32,
                                                  TS_EMU_SITE_ARGS);
}
inline int __any_sync(unsigned mask, int pred, TS_EMU_SITE) {
  return (int)::tensile_emu::detail::warp_op(::tensile_emu::detail::W_ANY, mask, pred != 0, 0, 32, TS_EMU_SITE_ARGS);
}
inline int __all_sync(unsigned mask, int pred, TS_EMU_SITE) {
  return (int)::tensile_emu::detail::warp_op(::tensile_emu::detail::W_ALL, mask, pred != 0, 0, 32, TS_EMU_SITE_ARGS);
}
// The lanes of this warp that reach this __activemask with it (a round over the warp's lanes that can run).
inline unsigned __activemask(TS_EMU_SITE) {
  return (unsigned)::tensile_emu::detail::warp_op(::tensile_emu::detail::W_ACTIVEMASK, 0, 0, 0, 32, TS_EMU_SITE_ARGS);
}
#define TS_EMU_SHFL(T)                                                                                              \
  inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, TS_EMU_SITE) {                     \
    return ::tensile_emu::detail::of_bits<T>(::tensile_emu::detail::warp_op(                                        \
        ::tensile_emu::detail::W_SHFL, mask, ::tensile_emu::detail::bits_of(var), src_lane, width, TS_EMU_SITE_ARGS)); \
  }                                                                                                                 \
  inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, TS_EMU_SITE) {                \
    return ::tensile_emu::detail::of_bits<T>(                                                                       \
        ::tensile_emu::detail::warp_op(::tensile_emu::detail::W_SHFL_UP, mask, ::tensile_emu::detail::bits_of(var), \
                                       (int)delta, width, TS_EMU_SITE_ARGS));                                       \
  }                                                                                                                 \
  inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, TS_EMU_SITE) {              \
    return ::tensile_emu::detail::of_bits<T>(                                                                       \
        ::tensile_emu::detail::warp_op(::tensile_emu::detail::W_SHFL_DOWN, mask,                                    \
                                       ::tensile_emu::detail::bits_of(var), (int)delta, width, TS_EMU_SITE_ARGS));  \
  }                                                                                                                 \
  inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, TS_EMU_SITE) {                \
    return ::tensile_emu::detail::of_bits<T>(                                                                       \
        ::tensile_emu::detail::warp_op(::tensile_emu::detail::W_SHFL_XOR, mask,                                     \
                                       ::tensile_emu::detail::bits_of(var), lane_mask, width, TS_EMU_SITE_ARGS));   \
  }
TS_EMU_SHFL(int)
TS_EMU_SHFL(unsigned int)
TS_EMU_SHFL(long)
TS_EMU_SHFL(unsigned long)
TS_EMU_SHFL(long long)
TS_EMU_SHFL(unsigned long long)
TS_EMU_SHFL(float)
TS_EMU_SHFL(double)
#undef TS_EMU_SHFL

inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
// A trap ends the kernel with a sticky cudaErrorLaunchFailure (the context is lost, as on the GPU).
[[noreturn]] inline void __trap(TS_EMU_SITE) {
  (void)col_;
  ::tensile_emu::detail::fault("__trap()", file_, line_);
}
// assert() inside a kernel is such a fault too (glibc's assert expands to __assert_fail, even when <cassert> is
// included again after this header); outside a kernel it is glibc's.
#define __assert_fail(expr, file, line, func) ::tensile_emu::detail::assert_fail(expr, file, line, func)

// ---- atomics (really atomic: blocks run on several OS threads) ---------------------------------------------------
#define TS_EMU_ATOMIC_INT(T)                                                                                       \
  inline T atomicAdd(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }                            \
  inline T atomicSub(T* p, T v) { return __atomic_fetch_sub(p, v, __ATOMIC_SEQ_CST); }                            \
  inline T atomicExch(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }                          \
  inline T atomicCAS(T* p, T expected, T desired) {                                                               \
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);                \
    return expected;                                                                                              \
  }                                                                                                               \
  inline T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST); }                            \
  inline T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST); }                              \
  inline T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST); }                            \
  inline T atomicMax(T* p, T v) {                                                                                 \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                                 \
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {       \
    }                                                                                                             \
    return old;                                                                                                   \
  }                                                                                                               \
  inline T atomicMin(T* p, T v) {                                                                                 \
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);                                                                 \
    while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {       \
    }                                                                                                             \
    return old;                                                                                                   \
  }
TS_EMU_ATOMIC_INT(int)
TS_EMU_ATOMIC_INT(unsigned int)
TS_EMU_ATOMIC_INT(unsigned long long)
#undef TS_EMU_ATOMIC_INT
inline long long atomicMax(long long* p, long long v) {
  long long old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline long long atomicMin(long long* p, long long v) {
  long long old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
// atomicInc/atomicDec with CUDA's wrap-around semantics.
inline unsigned atomicInc(unsigned* p, unsigned limit) {
  unsigned old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (!__atomic_compare_exchange_n(p, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline unsigned atomicDec(unsigned* p, unsigned limit) {
  unsigned old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while (!__atomic_compare_exchange_n(p, &old, (old == 0u || old > limit) ? limit : old - 1u, true, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
  }
  return old;
}
#define TS_EMU_ATOMIC_FP(T, I)                                                                                  \
  inline T atomicAdd(T* p, T v) {                                                                              \
    I* q = reinterpret_cast<I*>(p);                                                                            \
    I old = __atomic_load_n(q, __ATOMIC_SEQ_CST);                                                              \
    for (;;) {                                                                                                 \
      T f;                                                                                                     \
      std::memcpy(&f, &old, sizeof f);                                                                         \
      f += v;                                                                                                  \
      I nw;                                                                                                    \
      std::memcpy(&nw, &f, sizeof nw);                                                                         \
      if (__atomic_compare_exchange_n(q, &old, nw, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {                \
        std::memcpy(&f, &old, sizeof f);                                                                       \
        return f;                                                                                              \
      }                                                                                                        \
    }                                                                                                          \
  }                                                                                                            \
  inline T atomicExch(T* p, T v) {                                                                             \
    I nw;                                                                                                      \
    std::memcpy(&nw, &v, sizeof nw);                                                                           \
    I old = __atomic_exchange_n(reinterpret_cast<I*>(p), nw, __ATOMIC_SEQ_CST);                                \
    T f;                                                                                                       \
    std::memcpy(&f, &old, sizeof f);                                                                           \
    return f;                                                                                                  \
  }
TS_EMU_ATOMIC_FP(float, unsigned int)
TS_EMU_ATOMIC_FP(double, unsigned long long)
#undef TS_EMU_ATOMIC_FP

// ---- device math not in <cmath> ----------------------------------------------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline void sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline double __drcp_rn(double x) { return 1.0 / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __saturatef(float x) { return x >= 1.0f ? 1.0f : x > 0.0f ? x : 0.0f; }  // NaN -> 0
inline float __int_as_float(int x) { return ::tensile_emu::detail::of_bits<float>((unsigned)x); }
inline int __float_as_int(float x) { return (int)(unsigned)::tensile_emu::detail::bits_of(x); }
inline float __uint_as_float(unsigned x) { return ::tensile_emu::detail::of_bits<float>(x); }
inline unsigned __float_as_uint(float x) { return (unsigned)::tensile_emu::detail::bits_of(x); }
inline long long __double_as_longlong(double x) { return (long long)::tensile_emu::detail::bits_of(x); }
inline double __longlong_as_double(long long x) { return ::tensile_emu::detail::of_bits<double>((unsigned long long)x); }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline long long __float2ll_rn(float x) { return (long long)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline int __double2int_rn(double x) { return (int)nearbyint(x); }
inline float __double2float_rn(double x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}
inline unsigned long long __brevll(unsigned long long x) {
  return ((unsigned long long)__brev((unsigned)x) << 32) | __brev((unsigned)(x >> 32));
}
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * b) >> 64); }
inline int __mul24(int a, int b) { return ((a << 8) >> 8) * ((b << 8) >> 8); }
inline unsigned __umul24(unsigned a, unsigned b) { return (a & 0xFFFFFFu) * (b & 0xFFFFFFu); }

// min/max with CUDA's overload set (math_functions.hpp): same-type pairs, and the mixed signed/unsigned pairs.
#define TS_EMU_MINMAX(A, B, R)                                      \
  inline R min(A a, B b) { return (R)a < (R)b ? (R)a : (R)b; }     \
  inline R max(A a, B b) { return (R)a > (R)b ? (R)a : (R)b; }
TS_EMU_MINMAX(int, int, int)
TS_EMU_MINMAX(unsigned int, unsigned int, unsigned int)
TS_EMU_MINMAX(int, unsigned int, unsigned int)
TS_EMU_MINMAX(unsigned int, int, unsigned int)
TS_EMU_MINMAX(long, long, long)
TS_EMU_MINMAX(unsigned long, unsigned long, unsigned long)
TS_EMU_MINMAX(long long, long long, long long)
TS_EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
TS_EMU_MINMAX(long long, unsigned long long, unsigned long long)
TS_EMU_MINMAX(unsigned long long, long long, unsigned long long)
#undef TS_EMU_MINMAX
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin((double)a, b); }
inline double max(float a, double b) { return fmax((double)a, b); }
inline double min(double a, float b) { return fmin(a, (double)b); }
inline double max(double a, float b) { return fmax(a, (double)b); }
