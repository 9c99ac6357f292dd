// Seeded random fills and dropout on CUDA: the same counter-based Philox4x32-10 stream as native/cpu/random.cpp
// (native/core/philox.h, one definition for both backends): element i of a call draws word i % 4 of
// philox(counter = (i / 4, offset), key = seed). One thread per group of four elements (grid-stride), so every
// value is a function of (seed, offset, i) only. ip [seed, offset] (+ [low, high) for randint); fp as on the CPU.
//
// Equality with the CPU: the random words, uniform's and dropout's arithmetic and randint's are exact, so rand (both
// dtypes), randint and dropout (mask and values) are bit for bit the CPU's. The CPU's `lo + (hi - lo) * (1 - u)` is
// compiled into a fused multiply-add by its AVX2/AVX-512 builds and into a multiply and an add by its baseline
// build: the kernels take the rounding of the instruction set the CPU backend runs (cpu_isa()) and spell it out
// (fma / unfused), so that nvcc's contraction does not decide it. rand_normal uses the device's log, sqrt, sin and
// cos (double, within 1-2 ulp of glibc's): float32 results are the CPU's or 1 ulp away, float64 within ~1e-15
// relative.
#include "common.cuh"
#include "../core/runtime.h"
#include "../core/philox.h"
#include <cmath>
#include <cstring>

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;

__device__ __forceinline__ U32x4 draw(int64_t group, uint64_t seed, uint64_t offset) {
  return philox4x32_10((uint32_t)group, (uint32_t)((uint64_t)group >> 32), (uint32_t)offset,
                       (uint32_t)(offset >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
}

// a * b + c, rounded once (fused) or twice, whatever the compiler's contraction setting
__device__ __forceinline__ double mad(double a, double b, double c, bool fused) {
#ifdef TENSILE_EMU
  if (fused) return fma(a, b, c);
  volatile double p = a * b;  // (a volatile keeps g++ from contracting the product into the add)
  return p + c;
#else
  return fused ? __fma_rn(a, b, c) : __dadd_rn(__dmul_rn(a, b), c);
#endif
}

// whether the CPU backend's arithmetic fuses multiply-adds (its AVX2 and AVX-512 builds do: -mfma with
// -ffp-contract=fast; the baseline build has no FMA instructions)
static bool cpu_fuses() {
  const char* isa = cpu_isa();
  return !(isa && std::strcmp(isa, "scalar") == 0);
}

template <typename T>
__global__ void uniform_kernel(T* __restrict__ o, int64_t n, uint64_t seed, uint64_t off, double lo, double hi,
                               bool fused) {
  const int64_t groups = (n + 3) / 4;
  const double span = hi - lo;
  for (int64_t gi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; gi < groups;
       gi += (int64_t)gridDim.x * blockDim.x) {
    const U32x4 r = draw(gi, seed, off);
    T v[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const double u = sizeof(T) == 4 ? (double)u32_to_unit_f(r.v[k]) : u32x2_to_unit_d(r.v[k], r.v[(k + 1) & 3]);
      v[k] = (T)mad(span, 1.0 - u, lo, fused);  // [lo, hi)
    }
    const int64_t i = gi * 4;
    if (i + 4 <= n) {
#pragma unroll
      for (int k = 0; k < 4; ++k) o[i + k] = v[k];
    } else {
      for (int k = 0; i + k < n; ++k) o[i + k] = v[k];
    }
  }
}

// Box-Muller on the pairs (v0, v1) and (v2, v3); fp [mean, std]
template <typename T>
__global__ void normal_kernel(T* __restrict__ o, int64_t n, uint64_t seed, uint64_t off, double mean, double sd,
                              bool fused) {
  const int64_t groups = (n + 3) / 4;
  for (int64_t gi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; gi < groups;
       gi += (int64_t)gridDim.x * blockDim.x) {
    const U32x4 r = draw(gi, seed, off);
    T v[4];
#pragma unroll
    for (int k = 0; k < 4; k += 2) {
      const double u1 = u32_to_unit_f(r.v[k]), u2 = u32_to_unit_f(r.v[k + 1]);
      const double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
      double s, co;
      sincos(th, &s, &co);
      const double a = sd * rad;
      v[k] = (T)mad(a, co, mean, fused);
      v[k + 1] = (T)mad(a, s, mean, fused);
    }
    const int64_t i = gi * 4;
    for (int k = 0; k < 4 && i + k < n; ++k) o[i + k] = v[k];
  }
}

// randint: values in [lo, lo + span) from 64 bits (words k and k+1)
template <typename T>
__global__ void randint_kernel(T* __restrict__ o, int64_t n, uint64_t seed, uint64_t off, int64_t lo, uint64_t span) {
  const int64_t groups = (n + 3) / 4;
  for (int64_t gi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; gi < groups;
       gi += (int64_t)gridDim.x * blockDim.x) {
    const U32x4 r = draw(gi, seed, off);
    const int64_t i = gi * 4;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if (i + k >= n) break;
      const uint64_t wide = ((uint64_t)r.v[k] << 32) | r.v[(k + 1) & 3];
      o[i + k] = (T)(lo + (int64_t)(wide % span));
    }
  }
}

// dropout: y = keep ? x * scale : 0, keep = u > p (u in (0, 1], 24 bits); mask uint8
template <typename T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ y, uint8_t* __restrict__ mask, int64_t n,
                               uint64_t seed, uint64_t off, double p, T scale) {
  const int64_t groups = (n + 3) / 4;
  for (int64_t gi = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; gi < groups;
       gi += (int64_t)gridDim.x * blockDim.x) {
    const U32x4 r = draw(gi, seed, off);
    const int64_t i = gi * 4;
    if (i + 4 <= n) {
      T xv[4];
#pragma unroll
      for (int k = 0; k < 4; ++k) xv[k] = x[i + k];
      uint32_t bits = 0;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const bool keep = (double)u32_to_unit_f(r.v[k]) > p;
        bits |= (uint32_t)keep << (8 * k);
        y[i + k] = keep ? xv[k] * scale : T(0);
      }
      if ((reinterpret_cast<uintptr_t>(mask + i) & 3) == 0) {
        *reinterpret_cast<uint32_t*>(mask + i) = bits;  // one 4-byte store per group
      } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) mask[i + k] = (uint8_t)(bits >> (8 * k));
      }
    } else {
      for (int k = 0; i + k < n; ++k) {
        const bool keep = (double)u32_to_unit_f(r.v[k]) > p;
        mask[i + k] = keep;
        y[i + k] = keep ? x[i + k] * scale : T(0);
      }
    }
  }
}

inline unsigned groups_grid(int64_t n) { return blocks_for((n + 3) / 4, kThreads); }

template <typename T>
void uniform(const OpCall& c) {
  const int64_t n = numel(c.out[0]);
  if (n == 0) return;
  launch("rand_uniform", uniform_kernel<T>, groups_grid(n), kThreads, 0, stream_of(c), (T*)c.out[0].data, n,
         (uint64_t)c.ip[0], (uint64_t)c.ip[1], c.fp[0], c.fp[1], cpu_fuses());
}
template <typename T>
void normal(const OpCall& c) {
  const int64_t n = numel(c.out[0]);
  if (n == 0) return;
  launch("rand_normal", normal_kernel<T>, groups_grid(n), kThreads, 0, stream_of(c), (T*)c.out[0].data, n,
         (uint64_t)c.ip[0], (uint64_t)c.ip[1], c.fp[0], c.fp[1], cpu_fuses());
}
template <typename T>
void randint(const OpCall& c) {
  const int64_t n = numel(c.out[0]);
  if (n == 0) return;
  launch("randint", randint_kernel<T>, groups_grid(n), kThreads, 0, stream_of(c), (T*)c.out[0].data, n,
         (uint64_t)c.ip[0], (uint64_t)c.ip[1], (int64_t)c.ip[2], (uint64_t)(c.ip[3] - c.ip[2]));
}
template <typename T>
void dropout(const OpCall& c) {
  const int64_t n = numel(c.out[0]);
  if (n == 0) return;
  const double p = c.fp[0];
  const T scale = (T)(p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
  launch("dropout", dropout_kernel<T>, groups_grid(n), kThreads, 0, stream_of(c), (const T*)c.in[0].data,
         (T*)c.out[0].data, (uint8_t*)c.out[1].data, n, (uint64_t)c.ip[0], (uint64_t)c.ip[1], p, scale);
}

}  // namespace

void register_random() {
  kernel_register(OP_rand_uniform, DEV_CUDA, DT_F32, uniform<float>);
  kernel_register(OP_rand_uniform, DEV_CUDA, DT_F64, uniform<double>);
  kernel_register(OP_rand_normal, DEV_CUDA, DT_F32, normal<float>);
  kernel_register(OP_rand_normal, DEV_CUDA, DT_F64, normal<double>);
  kernel_register(OP_randint, DEV_CUDA, DT_I32, randint<int32_t>);
  kernel_register(OP_randint, DEV_CUDA, DT_F32, randint<float>);
  kernel_register(OP_dropout, DEV_CUDA, DT_F32, dropout<float>);
  kernel_register(OP_dropout, DEV_CUDA, DT_F64, dropout<double>);
}

}  // namespace cuda
}  // namespace tensile
