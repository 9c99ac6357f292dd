// What every file of native/cuda includes. The same source compiles two ways:
// - with nvcc (the real backend): <cuda_runtime.h>, kernels launched with <<<>>>;
// - with g++ and TENSILE_EMU defined (tests only): native/emu/cuda_emu.h runs each kernel on the CPU, a fiber per
//   CUDA thread (see native/emu/README.md).
// Kernels are launched only through tensile::cuda::launch() below and declare dynamic shared memory only with
// TS_DYNAMIC_SHARED, so that neither build needs anything else.
#pragma once
#ifdef TENSILE_EMU
#include "../emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
#define TS_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif
#include <cstdint>
#include <utility>
#include "../core/types.h"

namespace tensile {
namespace cuda {

// Throws tensile::Error{ERR_DEVICE} "<op>: <what> failed on cuda:N: <cudaErrorName> (<description>)" (device.cu);
// a sticky error (the context is lost) also marks the device unusable.
[[noreturn]] void throw_error(cudaError_t e, const char* op, const char* what);
inline void check(cudaError_t e, const char* op, const char* what) {
  if (e != cudaSuccess) throw_error(e, op, what);
}

// The stream an op's kernels go on (the calling stream's, for the op's device; set by the runtime).
inline cudaStream_t stream_of(const OpCall& c) { return (cudaStream_t)c.stream; }

// Device scratch memory for one op's kernels, `slot` 0..7 (separate simultaneous uses): from the device's caching
// allocator, kept per calling stream and reused in stream order, so it stays valid until that stream's next op asks
// for the same slot. Contents are undefined.
void* workspace(const OpCall& c, int slot, size_t bytes);
// Data errors found on the device (a label or an index out of range): error_flag() gives a device word set to
// ~0ull on the op's stream; kernels record the first bad element with atomicMin(flag, position), so the report is
// the same whatever the order threads run in. read_error_flag() waits for the op's stream and returns the word
// (~0ull: no error); the op then throws the CPU kernel's message (copy the offending value back with copy_to_host).
// It costs a synchronisation, so only ops that validate their data use it.
unsigned long long* error_flag(const OpCall& c);
unsigned long long read_error_flag(const OpCall& c);
// A synchronous device-to-host copy of n bytes on the op's stream (small values for messages; not for bulk data).
void copy_to_host(const OpCall& c, void* dst, const void* src, size_t n);

// Launches kernel k on grid x block threads with shmem bytes of dynamic shared memory on stream s; an empty grid
// launches nothing. Launch errors throw (named after `name`); errors of the running kernel surface at the next
// synchronisation, as on the GPU.
template <class... P, class... A>
inline void launch(const char* name, void (*k)(P...), dim3 grid, dim3 block, size_t shmem, cudaStream_t s, A&&... a) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x * block.y * block.z == 0) return;
#ifdef TENSILE_EMU
  check(::tensile_emu::launch(name, k, grid, block, shmem, s, P(std::forward<A>(a))...), name, "kernel launch");
#else
  k<<<grid, block, shmem, s>>>(P(std::forward<A>(a))...);
  check(cudaGetLastError(), name, "kernel launch");
#endif
}

// Blocks for a grid-stride loop over n elements with `threads` per block (capped: the loop covers the rest).
inline unsigned blocks_for(int64_t n, unsigned threads, unsigned cap = 65535u * 4u) {
  const int64_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : b > (int64_t)cap ? cap : b);
}

// A view's geometry passed to kernels by value (the data pointer travels separately).
struct Geom {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};
inline Geom geom_of(const TensorArg& t) {
  Geom g;
  g.ndim = t.ndim;
  for (int d = 0; d < kMaxDims; ++d) {
    g.shape[d] = d < t.ndim ? t.shape[d] : 1;
    g.strides[d] = d < t.ndim ? t.strides[d] : 0;
  }
  return g;
}
// The element offset in a view of geometry g of the element whose index in g's shape, row-major, is i.
__device__ __forceinline__ int64_t offset_of(const Geom& g, int64_t i) {
  int64_t off = 0;
  for (int d = g.ndim - 1; d >= 0; --d) {
    const int64_t s = g.shape[d];
    off += (i % s) * g.strides[d];
    i /= s;
  }
  return off;
}
inline bool contiguous(const TensorArg& t) {
  int64_t acc = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    if (t.shape[d] != 1 && t.strides[d] != acc) return false;
    acc *= t.shape[d];
  }
  return true;
}
inline int64_t numel(const TensorArg& t) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= t.shape[d];
  return n;
}

}  // namespace cuda
}  // namespace tensile
