// Seeded random fills and dropout from the counter-based Philox4x32-10 (native/core/philox.h): element i of a call
// draws from counter (i/4, offset) under key seed, so the result does not depend on threading, and the CUDA
// backend can reproduce it. ip [seed, offset]; the generator's offset advances by one per call (lib/tensor/random.ts).
#include "kernels.h"
#include "../core/philox.h"

TS_CPU_BEGIN
namespace {

static inline U32x4 draw(int64_t group, uint64_t seed, uint64_t offset) {
  return philox4x32_10((uint32_t)group, (uint32_t)((uint64_t)group >> 32), (uint32_t)offset,
                       (uint32_t)(offset >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
}

template <typename F>
static void for_groups(int64_t n, F&& f) {
  const int64_t groups = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t gi = 0; gi < groups; ++gi) f(gi);
}

// rand_uniform: fp [low, high]. float64 uses two 32-bit draws per value (53 random bits).
template <typename T>
static void uniform(const OpCall& c) {
  T* o = (T*)c.out[0].data;
  const int64_t n = numel_of(c.out[0]);
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const double lo = c.fp[0], hi = c.fp[1];
  for_groups(n, [&](int64_t gi) {
    const U32x4 r = draw(gi, seed, off);
    for (int k = 0; k < 4 && gi * 4 + k < n; ++k) {
      double u = sizeof(T) == 4 ? (double)u32_to_unit_f(r.v[k]) : u32x2_to_unit_d(r.v[k], r.v[(k + 1) & 3]);
      o[gi * 4 + k] = (T)(lo + (hi - lo) * (1.0 - u));  // [lo, hi)
    }
  });
}

// rand_normal: Box-Muller on pairs; fp [mean, std].
template <typename T>
static void normal(const OpCall& c) {
  T* o = (T*)c.out[0].data;
  const int64_t n = numel_of(c.out[0]);
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const double mean = c.fp[0], sd = c.fp[1];
  for_groups(n, [&](int64_t gi) {
    const U32x4 r = draw(gi, seed, off);
    for (int k = 0; k < 4; k += 2) {
      const double u1 = u32_to_unit_f(r.v[k]), u2 = u32_to_unit_f(r.v[k + 1]);
      const double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
      if (gi * 4 + k < n) o[gi * 4 + k] = (T)(mean + sd * rad * cos(th));
      if (gi * 4 + k + 1 < n) o[gi * 4 + k + 1] = (T)(mean + sd * rad * sin(th));
    }
  });
}

// randint: ip [seed, offset, low, high) -> int32 (or float) values.
template <typename T>
static void randint(const OpCall& c) {
  T* o = (T*)c.out[0].data;
  const int64_t n = numel_of(c.out[0]);
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const int64_t lo = c.ip[2], span = c.ip[3] - c.ip[2];
  for_groups(n, [&](int64_t gi) {
    const U32x4 r = draw(gi, seed, off);
    for (int k = 0; k < 4 && gi * 4 + k < n; ++k) {
      const uint64_t wide = ((uint64_t)r.v[k] << 32) | r.v[(k + 1) & 3];
      o[gi * 4 + k] = (T)(lo + (int64_t)(wide % (uint64_t)span));
    }
  });
}

// dropout: in x; out y, mask (uint8). fp [p]; y = x * mask / (1 - p).
template <typename T>
static void dropout(const OpCall& c) {
  const T* x = (const T*)c.in[0].data;
  T* y = (T*)c.out[0].data;
  uint8_t* mask = (uint8_t*)c.out[1].data;
  const int64_t n = numel_of(c.out[0]);
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const double p = c.fp[0];
  const T scale = (T)(p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
  for_groups(n, [&](int64_t gi) {
    const U32x4 r = draw(gi, seed, off);
    for (int k = 0; k < 4 && gi * 4 + k < n; ++k) {
      const int64_t i = gi * 4 + k;
      const bool keep = (double)u32_to_unit_f(r.v[k]) > p;
      mask[i] = keep;
      y[i] = keep ? x[i] * scale : T(0);
    }
  });
}
}  // namespace

void rand_uniform_f32(const OpCall& c) { uniform<float>(c); }
void rand_uniform_f64(const OpCall& c) { uniform<double>(c); }
void rand_normal_f32(const OpCall& c) { normal<float>(c); }
void rand_normal_f64(const OpCall& c) { normal<double>(c); }
void randint_i32(const OpCall& c) { randint<int32_t>(c); }
void randint_f32(const OpCall& c) { randint<float>(c); }
void dropout_f32(const OpCall& c) { dropout<float>(c); }
void dropout_f64(const OpCall& c) { dropout<double>(c); }
TS_CPU_END
