// Philox4x32-10 counter-based RNG (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11).
// Constants are the paper's. The same function is usable from CUDA (__host__ __device__ when compiled by nvcc), so
// both backends produce the same stream for (seed, offset, index).
#pragma once
#include <cstdint>
#ifdef __CUDACC__
#define TS_HD __host__ __device__ __forceinline__
#else
#define TS_HD static inline
#endif

namespace tensile {
struct U32x4 { uint32_t v[4]; };

TS_HD U32x4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = (uint64_t)M0 * c0, p1 = (uint64_t)M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0, hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += W0; k1 += W1;
  }
  U32x4 r; r.v[0] = c0; r.v[1] = c1; r.v[2] = c2; r.v[3] = c3;
  return r;
}
// Uniform in (0, 1]: 24 random bits, never 0 so that log() in Box-Muller is finite.
TS_HD float u32_to_unit_f(uint32_t x) { return ((x >> 8) + 1u) * (1.0f / 16777216.0f); }
TS_HD double u32x2_to_unit_d(uint32_t a, uint32_t b) {
  uint64_t v = (((uint64_t)a << 21) ^ (uint64_t)b) & ((1ull << 53) - 1);
  return (v + 1) * (1.0 / 9007199254740992.0);
}
}  // namespace tensile
