// Batch norm over [N, C, S] (lib/ reshapes NCHW and NC inputs to this), parallel over channels.
// Forward (training): per-channel mean and biased variance; running stats updated in place with the unbiased
// variance and `momentum`, as PyTorch does. ip [training]; fp [momentum, eps].
// in: x, gamma, beta, running_mean, running_var; out: y, save_mean, save_invstd, running_mean_, running_var_.
//
// Layer norm over the rows of x [M, D] (PyTorch's native_layer_norm; lib/ passes x, dy, weight and bias
// contiguous): per row mean and rstd = 1 / sqrt(biased var + eps), y = (x - mean) * rstd * weight + bias.
// Parallel over rows (static); a row's sums are in double, two passes (the mean, then the squared deviations about
// it), lane-wise over whole vectors then a scalar tail, in an order fixed by D alone: a row's results depend on its
// values only, never on the thread count. Backward: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy *
// weight (or dy), xhat = (x - mean) * rstd; dweight = sum over rows of dy * xhat, dbias = sum over rows of dy, as
// per-block partial sums over a row partition fixed by M alone (kLnBlocks blocks), then summed block by block.
// Forward, in: x[, weight][, bias]; out: y, mean [M], rstd [M]. ip [flags: 1 weight, 2 bias]; fp [eps].
// Backward, in: dy, x, mean, rstd[, weight]; out: dx[, dweight][, dbias]. ip [flags: 1 weight, 2 dweight, 4 dbias].
#include "kernels.h"
#include "vexp.h"

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

// ------------------------------------------------------------------------------------------------- layer norm

// T's vector and one of as many doubles (float32: twice the width, which g++ splits into two registers). These
// helpers are inlined (static, file-local), so the ABI of passing a vector wider than the ISA's registers, which
// g++ warns about, never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
template <typename T>
struct LnV;
template <>
struct LnV<float> {
  typedef Vec<float>::type vt;
  static constexpr int N = Vec<float>::N;
  typedef double vd __attribute__((vector_size(TS_VEC_BYTES * 2)));
};
template <>
struct LnV<double> {
  typedef Vec<double>::type vt;
  static constexpr int N = Vec<double>::N;
  typedef vt vd;
};
template <typename T>
static inline typename LnV<T>::vd ln_ld(const T* p) {
  typename LnV<T>::vt v;
  memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, typename LnV<T>::vd);
}
template <typename T>
static inline void ln_st(T* p, const typename LnV<T>::vd& d) {
  const typename LnV<T>::vt v = __builtin_convertvector(d, typename LnV<T>::vt);
  memcpy(p, &v, sizeof v);
}
template <typename T>
static inline typename LnV<T>::vd ln_ldd(const double* p) {
  typename LnV<T>::vd v;
  memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
static inline void ln_std(double* p, const typename LnV<T>::vd& v) { memcpy(p, &v, sizeof v); }
template <typename T>
static inline typename LnV<T>::vd ln_splat(double x) {
  typename LnV<T>::vd v;
  for (int l = 0; l < LnV<T>::N; ++l) v[l] = x;
  return v;
}

template <typename T>
static void ln_row_fwd(const T* x, const T* w, const T* b, T* y, int64_t D, double eps, T* mean_out, T* rstd_out) {
  typedef typename LnV<T>::vd vd;
  constexpr int N = LnV<T>::N;
  const int64_t Dv = D / N * N;
  vd a = ln_splat<T>(0.0);
  for (int64_t j = 0; j < Dv; j += N) a += ln_ld(x + j);
  double s = vsum_pairwise<double>(a);
  for (int64_t j = Dv; j < D; ++j) s += (double)x[j];
  const double mean = s / (double)D;
  const vd mv = ln_splat<T>(mean);
  vd q = ln_splat<T>(0.0);
  for (int64_t j = 0; j < Dv; j += N) {
    const vd d = ln_ld(x + j) - mv;
    q += d * d;
  }
  double ss = vsum_pairwise<double>(q);
  for (int64_t j = Dv; j < D; ++j) {
    const double d = (double)x[j] - mean;
    ss += d * d;
  }
  const double rstd = 1.0 / sqrt(ss / (double)D + eps);
  *mean_out = (T)mean;
  *rstd_out = (T)rstd;
  const vd rv = ln_splat<T>(rstd);
  for (int64_t j = 0; j < Dv; j += N) {
    vd h = (ln_ld(x + j) - mv) * rv;
    if (w) h = h * ln_ld(w + j);
    if (b) h = h + ln_ld(b + j);
    ln_st(y + j, h);
  }
  for (int64_t j = Dv; j < D; ++j) {
    double h = ((double)x[j] - mean) * rstd;
    if (w) h = h * (double)w[j];
    if (b) h = h + (double)b[j];
    y[j] = (T)h;
  }
}

template <typename T>
static void ln_fwd(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t M = xt.shape[0], D = xt.shape[1];
  const int flags = (int)c.ip[0];
  int k = 1;
  const T* w = (flags & 1) ? (const T*)c.in[k++].data : nullptr;
  const T* b = (flags & 2) ? (const T*)c.in[k++].data : nullptr;
  const T* x = (const T*)xt.data;
  T* y = (T*)c.out[0].data;
  T* mean = (T*)c.out[1].data;
  T* rstd = (T*)c.out[2].data;
  const double eps = c.fp[0];
#pragma omp parallel for schedule(static) if (M * D >= 16384 && M > 1)
  for (int64_t r = 0; r < M; ++r) ln_row_fwd<T>(x + r * D, w, b, y + r * D, D, eps, mean + r, rstd + r);
}

// One row of dx, and its dy * xhat and dy added to the block's partial sums pw and pb (when not null).
template <typename T>
static void ln_row_bwd(const T* dy, const T* x, const T* w, double mean, double rstd, T* dx, double* pw, double* pb,
                       int64_t D) {
  typedef typename LnV<T>::vd vd;
  constexpr int N = LnV<T>::N;
  const int64_t Dv = D / N * N;
  const vd mv = ln_splat<T>(mean), rv = ln_splat<T>(rstd);
  vd ag = ln_splat<T>(0.0), agx = ln_splat<T>(0.0);
  for (int64_t j = 0; j < Dv; j += N) {
    const vd g0 = ln_ld(dy + j), h = (ln_ld(x + j) - mv) * rv;
    const vd g = w ? g0 * ln_ld(w + j) : g0;
    ag += g;
    agx += g * h;
    if (pw) ln_std<T>(pw + j, ln_ldd<T>(pw + j) + g0 * h);
    if (pb) ln_std<T>(pb + j, ln_ldd<T>(pb + j) + g0);
  }
  double sg = vsum_pairwise<double>(ag), sgx = vsum_pairwise<double>(agx);
  for (int64_t j = Dv; j < D; ++j) {
    const double g0 = (double)dy[j], h = ((double)x[j] - mean) * rstd;
    const double g = w ? g0 * (double)w[j] : g0;
    sg += g;
    sgx += g * h;
    if (pw) pw[j] += g0 * h;
    if (pb) pb[j] += g0;
  }
  const double mg = sg / (double)D, mgx = sgx / (double)D;
  const vd mgv = ln_splat<T>(mg), mgxv = ln_splat<T>(mgx);
  for (int64_t j = 0; j < Dv; j += N) {
    const vd g0 = ln_ld(dy + j), h = (ln_ld(x + j) - mv) * rv;
    const vd g = w ? g0 * ln_ld(w + j) : g0;
    ln_st(dx + j, rv * (g - mgv - h * mgxv));
  }
  for (int64_t j = Dv; j < D; ++j) {
    const double g0 = (double)dy[j], h = ((double)x[j] - mean) * rstd;
    const double g = w ? g0 * (double)w[j] : g0;
    dx[j] = (T)(rstd * (g - mg - h * mgx));
  }
}

// The row partition of the weight and bias gradients: at most kLnBlocks blocks of equal size (the last shorter),
// fixed by M alone, so that their sums do not depend on the thread count.
constexpr int64_t kLnBlocks = 64;

template <typename T>
static void ln_bwd(const OpCall& c) {
  const TensorArg& xt = c.in[1];
  const int64_t M = xt.shape[0], D = xt.shape[1];
  const int flags = (int)c.ip[0];
  const T* dy = (const T*)c.in[0].data;
  const T* x = (const T*)xt.data;
  const T* mean = (const T*)c.in[2].data;
  const T* rstd = (const T*)c.in[3].data;
  const T* w = (flags & 1) ? (const T*)c.in[4].data : nullptr;
  int k = 1;
  T* dw = (flags & 2) ? (T*)c.out[k++].data : nullptr;
  T* db = (flags & 4) ? (T*)c.out[k++].data : nullptr;
  T* dx = (T*)c.out[0].data;
  const int64_t per = M > 0 ? (M + kLnBlocks - 1) / kLnBlocks : 1;
  const int64_t nblk = (M + per - 1) / per;
  double* part = (dw || db) && nblk > 0 && D > 0 ? (double*)workspace(0, (size_t)(nblk * 2 * D) * sizeof(double)) : nullptr;
#pragma omp parallel for schedule(static) if (M * D >= 16384 && nblk > 1)
  for (int64_t blk = 0; blk < nblk; ++blk) {
    double* pw = part ? part + blk * 2 * D : nullptr;
    double* pb = pw ? pw + D : nullptr;
    if (pw) memset(pw, 0, (size_t)(2 * D) * sizeof(double));
    const int64_t r1 = (blk + 1) * per < M ? (blk + 1) * per : M;
    for (int64_t r = blk * per; r < r1; ++r)
      ln_row_bwd<T>(dy + r * D, x + r * D, w, (double)mean[r], (double)rstd[r], dx + r * D, dw ? pw : nullptr,
                    db ? pb : nullptr, D);
  }
  if (!dw && !db) return;
  if (part) {
    for (int64_t blk = 1; blk < nblk; ++blk) {
      const double* p = part + blk * 2 * D;
      for (int64_t j = 0; j < 2 * D; ++j) part[j] += p[j];
    }
  }
  for (int64_t j = 0; j < D; ++j) {
    if (dw) dw[j] = part ? (T)part[j] : (T)0;
    if (db) db[j] = part ? (T)part[D + j] : (T)0;
  }
}
}  // namespace

void batch_norm_f32(const OpCall& c) { bn_fwd<float>(c); }
void batch_norm_f64(const OpCall& c) { bn_fwd<double>(c); }
void batch_norm_bwd_f32(const OpCall& c) { bn_bwd<float>(c); }
void batch_norm_bwd_f64(const OpCall& c) { bn_bwd<double>(c); }
void layer_norm_f32(const OpCall& c) { ln_fwd<float>(c); }
void layer_norm_f64(const OpCall& c) { ln_fwd<double>(c); }
void layer_norm_bwd_f32(const OpCall& c) { ln_bwd<float>(c); }
void layer_norm_bwd_f64(const OpCall& c) { ln_bwd<double>(c); }
TS_CPU_END
