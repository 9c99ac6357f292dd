// Every file in native/cpu is compiled once per instruction set (CMakeLists.txt: TS_ISA_ID 0 = baseline x86-64,
// 1 = AVX2+FMA, 2 = AVX-512) and everything it defines lives in namespace tensile::cpu::<isa>. Only the functions
// in kernels.h are called from outside; the core picks one set at run time (native/cpu/select.cpp).
// Rules that keep the other sets from being merged into this one (and a baseline CPU from SIGILL): no STL, no inline
// functions with external linkage from outside this namespace (use math.h functions, fail() and workspace()).
#pragma once
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <omp.h>
#include <immintrin.h>
#include "../core/types.h"

#if TS_ISA_ID == 2
#define TS_ISA_NS avx512
#define TS_VEC_BYTES 64
#elif TS_ISA_ID == 1
#define TS_ISA_NS avx2
#define TS_VEC_BYTES 32
#elif TS_ISA_ID == 0
#define TS_ISA_NS scalar
#define TS_VEC_BYTES 16
#else
#error "TS_ISA_ID must be 0, 1 or 2"
#endif

// Fully unrolls a loop with a compile-time trip count (register-blocked kernels: their accumulator arrays stay in
// registers only if every index is a constant; g++ 12 leaves loops of a few iterations rolled without it).
#define TS_UNROLL _Pragma("GCC unroll 16")

#define TS_CPU_BEGIN namespace tensile { namespace cpu { namespace TS_ISA_NS {
#define TS_CPU_END } } }

TS_CPU_BEGIN
template <typename T>
struct Vec {
  typedef T type __attribute__((vector_size(TS_VEC_BYTES)));
  static constexpr int N = TS_VEC_BYTES / sizeof(T);
};

// Broadcast a scalar to every lane (one vbroadcast; `vt{} + x` would add 0.0 first without -ffast-math).
#if TS_ISA_ID == 2
// The mask of lanes [lo, hi) of a 16-float vector (clamped to [0, 16); empty when hi <= lo).
static inline __mmask16 lanes(int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (hi > 16) hi = 16;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}
#endif

static inline Vec<float>::type bcast(float x) {
#if TS_ISA_ID == 2
  return _mm512_set1_ps(x);
#elif TS_ISA_ID == 1
  return _mm256_set1_ps(x);
#else
  return _mm_set1_ps(x);
#endif
}
static inline Vec<double>::type bcast(double x) {
#if TS_ISA_ID == 2
  return _mm512_set1_pd(x);
#elif TS_ISA_ID == 1
  return _mm256_set1_pd(x);
#else
  return _mm_set1_pd(x);
#endif
}

static inline int64_t numel_of(const TensorArg& t) {
  int64_t n = 1;
  for (int i = 0; i < t.ndim; ++i) n *= t.shape[i];
  return n;
}
static inline int nthreads() { return omp_get_max_threads(); }

// Short contiguous runs (the rows of small feature maps, 3 to 30 elements): whole vectors, then one masked vector
// for the tail, so that a run of 11 costs one load and one store instead of a scalar loop.
// d[0..n) = s[0..n)
static inline void run_copy(float* d, const float* s, int64_t n) {
  int64_t i = 0;
#if TS_ISA_ID == 2
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
  }
#else
#if TS_ISA_ID == 1
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_loadu_ps(s + i));
#endif
  for (; i < n; ++i) d[i] = s[i];
#endif
}
// d[0..n) += s[0..n)
static inline void run_add(float* d, const float* s, int64_t n) {
  int64_t i = 0;
#if TS_ISA_ID == 2
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(d + i), _mm512_loadu_ps(s + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(d + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, d + i), _mm512_maskz_loadu_ps(m, s + i)));
  }
#else
#if TS_ISA_ID == 1
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_add_ps(_mm256_loadu_ps(d + i), _mm256_loadu_ps(s + i)));
#endif
  for (; i < n; ++i) d[i] += s[i];
#endif
}
static inline void run_copy(double* d, const double* s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] = s[i];
}
static inline void run_add(double* d, const double* s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}
TS_CPU_END
