// Batch norm over [N, C, S] (lib/ reshapes NCHW and NC inputs to this), parallel over channels.
// Forward (training): per-channel mean and biased variance; running stats updated in place with the unbiased
// variance and `momentum`, as PyTorch does. ip [training]; fp [momentum, eps].
// in: x, gamma, beta, running_mean, running_var; out: y, save_mean, save_invstd, running_mean_, running_var_.
#include "kernels.h"

TS_CPU_BEGIN
namespace {

template <typename T>
static void bn_fwd(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], S = xt.shape[2], M = N * S;
  const T* x = (const T*)xt.data;
  const T* gamma = (const T*)c.in[1].data;
  const T* beta = (const T*)c.in[2].data;
  T* y = (T*)c.out[0].data;
  T* smean = (T*)c.out[1].data;
  T* sinv = (T*)c.out[2].data;
  T* rmean = (T*)c.out[3].data;
  T* rvar = (T*)c.out[4].data;
  const bool training = c.ip[0] != 0;
  const double momentum = c.fp[0], eps = c.fp[1];
#pragma omp parallel for schedule(static) if (M * C >= 16384)
  for (int64_t ch = 0; ch < C; ++ch) {
    double mean, var;
    if (training) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = x + (n * C + ch) * S;
        for (int64_t i = 0; i < S; ++i) s += (double)p[i];
      }
      mean = s / (double)M;
      double ss = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = x + (n * C + ch) * S;
        for (int64_t i = 0; i < S; ++i) {
          const double d = (double)p[i] - mean;
          ss += d * d;
        }
      }
      var = ss / (double)M;
      rmean[ch] = (T)((1.0 - momentum) * (double)rmean[ch] + momentum * mean);
      const double unbiased = M > 1 ? ss / (double)(M - 1) : var;
      rvar[ch] = (T)((1.0 - momentum) * (double)rvar[ch] + momentum * unbiased);
    } else {
      mean = (double)rmean[ch];
      var = (double)rvar[ch];
    }
    const double inv = 1.0 / sqrt(var + eps);
    smean[ch] = (T)mean;
    sinv[ch] = (T)inv;
    const T a = (T)((double)gamma[ch] * inv), b = (T)((double)beta[ch] - mean * (double)gamma[ch] * inv);
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + ch) * S;
      T* q = y + (n * C + ch) * S;
      for (int64_t i = 0; i < S; ++i) q[i] = a * p[i] + b;
    }
  }
}

// in: dy, x, gamma, save_mean, save_invstd; out: dx, dgamma, dbeta. ip [training].
// Training: dx = gamma*invstd/M * (M*dy - sum(dy) - xhat*sum(dy*xhat)); eval: dx = dy*gamma*invstd.
template <typename T>
static void bn_bwd(const OpCall& c) {
  const TensorArg& xt = c.in[1];
  const int64_t N = xt.shape[0], C = xt.shape[1], S = xt.shape[2], M = N * S;
  const T* dy = (const T*)c.in[0].data;
  const T* x = (const T*)xt.data;
  const T* gamma = (const T*)c.in[2].data;
  const T* smean = (const T*)c.in[3].data;
  const T* sinv = (const T*)c.in[4].data;
  T* dx = (T*)c.out[0].data;
  T* dgamma = (T*)c.out[1].data;
  T* dbeta = (T*)c.out[2].data;
  const bool training = c.ip[0] != 0;
#pragma omp parallel for schedule(static) if (M * C >= 16384)
  for (int64_t ch = 0; ch < C; ++ch) {
    const double mean = (double)smean[ch], inv = (double)sinv[ch];
    double sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + ch) * S;
      const T* g = dy + (n * C + ch) * S;
      for (int64_t i = 0; i < S; ++i) {
        sdy += (double)g[i];
        sdyx += (double)g[i] * ((double)p[i] - mean);
      }
    }
    dbeta[ch] = (T)sdy;
    dgamma[ch] = (T)(sdyx * inv);
    const double k = (double)gamma[ch] * inv;
    for (int64_t n = 0; n < N; ++n) {
      const T* p = x + (n * C + ch) * S;
      const T* g = dy + (n * C + ch) * S;
      T* q = dx + (n * C + ch) * S;
      if (training) {
        const double mdy = sdy / (double)M, c2 = sdyx * inv * inv / (double)M;
        for (int64_t i = 0; i < S; ++i) q[i] = (T)(k * ((double)g[i] - mdy - ((double)p[i] - mean) * c2));
      } else {
        for (int64_t i = 0; i < S; ++i) q[i] = (T)(k * (double)g[i]);
      }
    }
  }
}
}  // namespace

void batch_norm_f32(const OpCall& c) { bn_fwd<float>(c); }
void batch_norm_f64(const OpCall& c) { bn_fwd<double>(c); }
void batch_norm_bwd_f32(const OpCall& c) { bn_bwd<float>(c); }
void batch_norm_bwd_f64(const OpCall& c) { bn_bwd<double>(c); }
TS_CPU_END
