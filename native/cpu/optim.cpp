// Fused optimizer steps: one native call updates every parameter of a group, one pass over (param, grad, state).
// Step-dependent scalars (bias corrections) are computed on the host in double, as PyTorch's fused Adam does
// "to align with non-fused adam" (torch/optim/adam.py), and arrive in fp[].
#include "kernels.h"

TS_CPU_BEGIN
namespace {

// adam_: in grads[P]; out params[P], m[P], v[P] (+ vmax[P] with amsgrad).
// ip [P, amsgrad, decoupled (AdamW), maximize]; fp [lr, beta1, beta2, eps, weight_decay, step_size = lr/bc1,
// sqrt(bc2)].
template <typename T>
static void adam(const OpCall& c) {
  const int64_t P = c.ip[0];
  const bool ams = c.ip[1] != 0, decoupled = c.ip[2] != 0, maximize = c.ip[3] != 0;
  const T lr = (T)c.fp[0], b1 = (T)c.fp[1], b2 = (T)c.fp[2], eps = (T)c.fp[3], wd = (T)c.fp[4];
  const T step = (T)c.fp[5], inv_bc2s = (T)(1.0 / c.fp[6]);
  for (int64_t t = 0; t < P; ++t) {
    const T* g = (const T*)c.in[t].data;
    T* p = (T*)c.out[t].data;
    T* m = (T*)c.out[P + t].data;
    T* v = (T*)c.out[2 * P + t].data;
    T* vmax = ams ? (T*)c.out[3 * P + t].data : nullptr;
    const int64_t n = numel_of(c.out[t]);
    const T decay = decoupled ? T(1) - lr * wd : T(1);
    // blocks of one cache line per array, the lines kPrefetch blocks ahead requested first: seven streams (four
    // read, three written back) are more than the hardware prefetchers follow well
    constexpr int64_t L = 64 / sizeof(T), kPrefetch = 24;  // (8 to 96 measured alike)
    const int64_t nb = (n + L - 1) / L;
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
    for (int64_t b = 0; b < nb; ++b) {
      if (b + kPrefetch < nb) {
        const int64_t f = (b + kPrefetch) * L;
        __builtin_prefetch(g + f);
        __builtin_prefetch(p + f, 1);
        __builtin_prefetch(m + f, 1);
        __builtin_prefetch(v + f, 1);
        if (ams) __builtin_prefetch(vmax + f, 1);
      }
      const int64_t i1 = (b + 1) * L < n ? (b + 1) * L : n;
#pragma omp simd
      for (int64_t i = b * L; i < i1; ++i) {
        T gi = maximize ? -g[i] : g[i];
        T pi = p[i];
        if (!decoupled) gi += wd * pi;
        else pi *= decay;
        const T mi = b1 * m[i] + (T(1) - b1) * gi;
        const T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        T vv = vi;
        if (ams) {
          vv = vmax[i] > vi ? vmax[i] : vi;
          vmax[i] = vv;
        }
        const T denom = (sizeof(T) == 4 ? (T)sqrtf((float)vv) : (T)sqrt((double)vv)) * inv_bc2s + eps;
        p[i] = pi - step * mi / denom;
      }
    }
  }
}

// sgd_: in grads[P]; out params[P] (+ momentum buffers[P] when momentum != 0).
// ip [P, nesterov, first_step, maximize]; fp [lr, momentum, dampening, weight_decay].
template <typename T>
static void sgd(const OpCall& c) {
  const int64_t P = c.ip[0];
  const bool nesterov = c.ip[1] != 0, first = c.ip[2] != 0, maximize = c.ip[3] != 0;
  const T lr = (T)c.fp[0], mom = (T)c.fp[1], damp = (T)c.fp[2], wd = (T)c.fp[3];
  for (int64_t t = 0; t < P; ++t) {
    const T* g = (const T*)c.in[t].data;
    T* p = (T*)c.out[t].data;
    T* buf = mom != T(0) ? (T*)c.out[P + t].data : nullptr;
    const int64_t n = numel_of(c.out[t]);
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      T gi = maximize ? -g[i] : g[i];
      gi += wd * p[i];
      if (buf) {
        const T b = first ? gi : mom * buf[i] + (T(1) - damp) * gi;
        buf[i] = b;
        gi = nesterov ? gi + mom * b : b;
      }
      p[i] -= lr * gi;
    }
  }
}
}  // namespace

void adam_f32(const OpCall& c) { adam<float>(c); }
void adam_f64(const OpCall& c) { adam<double>(c); }
void sgd_f32(const OpCall& c) { sgd<float>(c); }
void sgd_f64(const OpCall& c) { sgd<double>(c); }
TS_CPU_END
