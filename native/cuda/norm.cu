// Batch norm over [N, C, S] on the GPU (lib/ reshapes NCHW and NC inputs to this); the semantics of
// native/cpu/norm.cpp. ip [training]; fp [momentum, eps].
// Forward, in: x, gamma, beta, running_mean, running_var; out: y, save_mean, save_invstd, running_mean_,
// running_var_ (the last two alias the inputs: updated in place in training mode with the unbiased variance).
// Backward, in: dy, x, gamma, save_mean, save_invstd; out: dx, dgamma, dbeta. ip [training].
//
// Per-channel sums are deterministic two-level reductions (reduce.cuh, no atomics), in double like the CPU:
// when S > 1, each (n, c) row of S contiguous values is folded first (rows of [N*C, S]: coalesced along S), then
// the N row sums of each channel (a [1, N, C] column reduction: coalesced along C); when S == 1 the second level
// reads x directly. Training takes the CPU's two passes (the mean, then the squared deviations about it); a
// per-channel kernel then updates the running statistics and makes the affine coefficients, and an elementwise
// kernel writes y (or dx). The [N, C, S] views are read through their strides (lib/ passes reshape views).
//
// Layer norm over the rows of x [M, D], the semantics of native/cpu/norm.cpp (lib/ passes x, dy, weight, bias,
// mean and rstd contiguous). Forward, in: x[, weight][, bias]; out: y, mean [M], rstd [M]; ip [flags: 1 weight,
// 2 bias]; fp [eps]. Backward, in: dy, x, mean, rstd[, weight]; out: dx[, dweight][, dbias]; ip [flags: 1 weight,
// 2 dweight, 4 dbias]. One warp per row for the forward and dx (the row's sums in double, each lane folding its
// strided run in order, then a fixed shuffle tree; two passes like the CPU); dweight and dbias are a [1, M, D]
// column reduction of (dy * xhat, dy) by reduce.cuh (deterministic: fixed chunks of rows, no atomics).
#include "common.cuh"
#include "../core/runtime.h"
#include "reduce.cuh"

namespace tensile {
namespace cuda {
namespace {

using red::Pair;
using red::kThreads;

// The strides of an [N, C, S] view.
struct NCS {
  int64_t N, C, S, sN, sC, sS;
};
inline NCS ncs_of(const TensorArg& t) {
  return NCS{t.shape[0], t.shape[1], t.shape[2], t.strides[0], t.strides[1], t.strides[2]};
}

// Level 1 (S > 1): out = n * C + ch over rows of S, r = i. Level "direct" (S == 1): out = ch, r = n.
// prep() gives the element offset of (n, ch, 0) and load() adds r times the reduced stride.
struct RowCtx {
  int64_t base;
  double mu;
};

// Sum of x over a row (level 1) or a channel (direct); finish: the sum, or sum / M (the mean) when div > 0.
template <class T>
struct XSumOp : red::SumC {
  const T* x;
  int64_t C, sN, sC, sR;
  double* dst;
  double div;
  __device__ RowCtx prep(int64_t out) const {
    const int64_t n = out / C, ch = out - n * C;
    return RowCtx{n * sN + ch * sC, 0.0};
  }
  __device__ double load(int64_t, int64_t r, const RowCtx& k) const { return (double)x[k.base + r * sR]; }
  __device__ void finish(int64_t out, double s) const { dst[out] = div > 0 ? s / div : s; }
};

// Sum of (x - mean[ch])^2 over a row or a channel.
template <class T>
struct XSqDevOp : red::SumC {
  const T* x;
  int64_t C, sN, sC, sR;
  const double* mean;
  double* dst;
  __device__ RowCtx prep(int64_t out) const {
    const int64_t n = out / C, ch = out - n * C;
    return RowCtx{n * sN + ch * sC, mean[ch]};
  }
  __device__ double load(int64_t, int64_t r, const RowCtx& k) const {
    const double d = (double)x[k.base + r * sR] - k.mu;
    return d * d;
  }
  __device__ void finish(int64_t out, double s) const { dst[out] = s; }
};

// Level 2: the per-row sums [N, C] (contiguous doubles) folded over N for each channel; dst[ch] = sum / div.
struct RowsSumOp : red::SumC {
  const double* p;
  double* dst;
  double div;
  __device__ int prep(int64_t) const { return 0; }
  __device__ double load(int64_t off, int64_t, int) const { return p[off]; }
  __device__ void finish(int64_t out, double s) const { dst[out] = div > 0 ? s / div : s; }
};

// Backward: (sum dy, sum dy * (x - save_mean[ch])) over a row or a channel.
template <class T>
struct DyOp : red::PairC {
  const T* dy;
  const T* x;
  int64_t C, sN, sC, sR;   // x's
  int64_t gN, gC, gR;      // dy's
  const T* smean;
  int64_t smean_st;
  Pair* dst;
  struct Ctx {
    int64_t xb, gb;
    double mu;
  };
  __device__ Ctx prep(int64_t out) const {
    const int64_t n = out / C, ch = out - n * C;
    return Ctx{n * sN + ch * sC, n * gN + ch * gC, (double)smean[ch * smean_st]};
  }
  __device__ Pair load(int64_t, int64_t r, const Ctx& k) const {
    const double g = (double)dy[k.gb + r * gR];
    return Pair{g, g * ((double)x[k.xb + r * sR] - k.mu)};
  }
  __device__ void finish(int64_t out, Pair s) const { dst[out] = s; }
};
struct RowsPairOp : red::PairC {
  const Pair* p;
  Pair* dst;
  __device__ int prep(int64_t) const { return 0; }
  __device__ Pair load(int64_t off, int64_t, int) const { return p[off]; }
  __device__ void finish(int64_t out, Pair s) const { dst[out] = s; }
};

// Per channel: the statistics, the running-stat update (training), save_mean / save_invstd, and y = a*x + b's
// coefficients in T, all as the CPU computes them.
template <class T>
__global__ void bn_stats_kernel(const double* __restrict__ mean_b, const double* __restrict__ ss_b, const T* gamma,
                                int64_t g_st, const T* beta, int64_t b_st, T* rmean, int64_t rm_st, T* rvar,
                                int64_t rv_st, T* __restrict__ smean, T* __restrict__ sinv, T* __restrict__ coef,
                                int64_t C, int64_t M, bool training, double momentum, double eps) {
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < C; ch += (int64_t)gridDim.x * blockDim.x) {
    double mean, var;
    if (training) {
      mean = mean_b[ch];
      const double ss = ss_b[ch];
      var = ss / (double)M;
      rmean[ch * rm_st] = (T)((1.0 - momentum) * (double)rmean[ch * rm_st] + momentum * mean);
      const double unbiased = M > 1 ? ss / (double)(M - 1) : var;
      rvar[ch * rv_st] = (T)((1.0 - momentum) * (double)rvar[ch * rv_st] + momentum * unbiased);
    } else {
      mean = (double)rmean[ch * rm_st];
      var = (double)rvar[ch * rv_st];
    }
    const double inv = 1.0 / sqrt(var + eps);
    smean[ch] = (T)mean;
    sinv[ch] = (T)inv;
    const double g = (double)gamma[ch * g_st];
    coef[2 * ch] = (T)(g * inv);
    coef[2 * ch + 1] = (T)((double)beta[ch * b_st] - mean * g * inv);
  }
}

// The (n, ch, i) of a flat index e of [N, C, S] (I: 32-bit index math when everything fits).
template <class I>
__device__ __forceinline__ void ncs_index(I e, I C, I S, I& n, I& ch, I& i) {
  const I row = e / S;
  i = e - row * S;
  n = row / C;
  ch = row - n * C;
}

template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    bn_apply_kernel(const T* __restrict__ x, NCS g, const T* __restrict__ coef, T* __restrict__ y, I total) {
  for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (I)gridDim.x * blockDim.x) {
    I n, ch, i;
    ncs_index<I>(e, (I)g.C, (I)g.S, n, ch, i);
    const T v = x[(int64_t)n * g.sN + (int64_t)ch * g.sC + (int64_t)i * g.sS];
    y[e] = coef[2 * ch] * v + coef[2 * ch + 1];
  }
}

// Per channel: dbeta, dgamma, and dx's coefficients (k = gamma * invstd, sum(dy) / M, sum(dy*xhat)*invstd^2 / M).
template <class T>
__global__ void bn_bwd_stats_kernel(const Pair* __restrict__ sums, const T* gamma, int64_t g_st, const T* sinv,
                                    int64_t si_st, const T* smean, int64_t sm_st, T* __restrict__ dgamma,
                                    T* __restrict__ dbeta, double* __restrict__ coef, int64_t C, int64_t M) {
  for (int64_t ch = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; ch < C; ch += (int64_t)gridDim.x * blockDim.x) {
    const double inv = (double)sinv[ch * si_st];
    const Pair s = sums ? sums[ch] : Pair{0.0, 0.0};
    dbeta[ch] = (T)s.a;
    dgamma[ch] = (T)(s.b * inv);
    coef[4 * ch] = (double)gamma[ch * g_st] * inv;
    coef[4 * ch + 1] = s.a / (double)M;
    coef[4 * ch + 2] = s.b * inv * inv / (double)M;
    coef[4 * ch + 3] = (double)smean[ch * sm_st];
  }
}

template <class T, class I, bool TRAINING>
__global__ void __launch_bounds__(kThreads)
    bn_bwd_apply_kernel(const T* __restrict__ dy, NCS gd, const T* __restrict__ x, NCS gx,
                        const double* __restrict__ coef, T* __restrict__ dx, I total) {
  for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (I)gridDim.x * blockDim.x) {
    I n, ch, i;
    ncs_index<I>(e, (I)gx.C, (I)gx.S, n, ch, i);
    const double g = (double)dy[(int64_t)n * gd.sN + (int64_t)ch * gd.sC + (int64_t)i * gd.sS];
    const double k = coef[4 * ch];
    if (TRAINING) {
      const double p = (double)x[(int64_t)n * gx.sN + (int64_t)ch * gx.sC + (int64_t)i * gx.sS];
      dx[e] = (T)(k * (g - coef[4 * ch + 1] - (p - coef[4 * ch + 3]) * coef[4 * ch + 2]));
    } else {
      dx[e] = (T)(k * g);
    }
  }
}

inline unsigned ew_grid(int64_t n) { return blocks_for(n, kThreads); }
inline int64_t st0(const TensorArg& t) { return t.ndim > 0 ? t.strides[0] : 1; }

// Folds op (a per-element Op with prep over out = n*C + ch) to per-channel results: two levels when S > 1
// (l1 folds the rows of S into the [N, C] buffer l2 reads, l2 folds it over N), one (l1 over N) when S == 1.
// slot_base: the first of the two workspace slots for split partial states.
template <class L1, class L2>
void channel_reduce(const OpCall& c, const char* name, L1 l1, L2 l2, const NCS& g, int slot_base) {
  if (g.S == 1) {
    l1.sR = g.sN;  // out = ch, r = n
    red::slab_reduce(c, name, l1, 1, g.N, g.C, slot_base);
  } else {
    red::slab_reduce(c, name, l1, g.N * g.C, g.S, 1, slot_base);
    red::slab_reduce(c, name, l2, 1, g.N, g.C, slot_base + 1);
  }
}

template <class T>
void bn_fwd_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const NCS g = ncs_of(xt);
  const int64_t M = g.N * g.S;
  const T* x = (const T*)xt.data;
  const bool training = c.ip[0] != 0;
  const double momentum = c.fp[0], eps = c.fp[1];
  if (g.C == 0) return;
  double* mean = nullptr;
  double* ss = nullptr;
  if (training) {
    mean = (double*)workspace(c, 0, (size_t)g.C * 2 * sizeof(double));
    ss = mean + g.C;
    double* rows = g.S > 1 ? (double*)workspace(c, 1, (size_t)(g.N * g.C) * sizeof(double)) : nullptr;
    // the mean
    XSumOp<T> s1;
    s1.x = x;
    s1.C = g.C;
    s1.sN = g.sN;
    s1.sC = g.sC;
    s1.sR = g.sS;
    s1.dst = g.S > 1 ? rows : mean;
    s1.div = g.S > 1 ? 0.0 : (double)M;
    RowsSumOp s2;
    s2.p = rows;
    s2.dst = mean;
    s2.div = (double)M;
    channel_reduce(c, "batch_norm", s1, s2, g, 2);
    // the squared deviations about it
    XSqDevOp<T> q1;
    q1.x = x;
    q1.C = g.C;
    q1.sN = g.sN;
    q1.sC = g.sC;
    q1.sR = g.sS;
    q1.mean = mean;
    q1.dst = g.S > 1 ? rows : ss;
    RowsSumOp q2;
    q2.p = rows;
    q2.dst = ss;
    q2.div = 0.0;
    channel_reduce(c, "batch_norm", q1, q2, g, 4);
  }
  T* coef = (T*)workspace(c, 6, (size_t)g.C * 2 * sizeof(T));
  const TensorArg &gamma = c.in[1], &beta = c.in[2];
  const TensorArg &rm = c.out[3], &rv = c.out[4];
  launch("batch_norm", bn_stats_kernel<T>, dim3(ew_grid(g.C)), dim3(kThreads), 0, stream_of(c), (const double*)mean,
         (const double*)ss, (const T*)gamma.data, st0(gamma), (const T*)beta.data, st0(beta), (T*)rm.data, st0(rm),
         (T*)rv.data, st0(rv), (T*)c.out[1].data, (T*)c.out[2].data, coef, g.C, M, training, momentum, eps);
  const int64_t total = g.N * g.C * g.S;
  if (total == 0) return;
  if (total < ((int64_t)1 << 31))
    launch("batch_norm", bn_apply_kernel<T, uint32_t>, dim3(ew_grid(total)), dim3(kThreads), 0, stream_of(c), x, g,
           (const T*)coef, (T*)c.out[0].data, (uint32_t)total);
  else
    launch("batch_norm", bn_apply_kernel<T, uint64_t>, dim3(ew_grid(total)), dim3(kThreads), 0, stream_of(c), x, g,
           (const T*)coef, (T*)c.out[0].data, (uint64_t)total);
}

template <class T>
void bn_bwd_fn(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &xt = c.in[1];
  const NCS gd = ncs_of(dyt), g = ncs_of(xt);
  const int64_t M = g.N * g.S;
  const bool training = c.ip[0] != 0;
  if (g.C == 0) return;
  const TensorArg &gamma = c.in[2], &smean = c.in[3], &sinv = c.in[4];
  Pair* sums = nullptr;
  if (M > 0) {
    sums = (Pair*)workspace(c, 0, (size_t)g.C * sizeof(Pair));
    Pair* rows = g.S > 1 ? (Pair*)workspace(c, 1, (size_t)(g.N * g.C) * sizeof(Pair)) : nullptr;
    DyOp<T> d1;
    d1.dy = (const T*)dyt.data;
    d1.x = (const T*)xt.data;
    d1.C = g.C;
    d1.sN = g.sN;
    d1.sC = g.sC;
    d1.sR = g.sS;
    d1.gN = gd.sN;
    d1.gC = gd.sC;
    d1.gR = gd.sS;
    d1.smean = (const T*)smean.data;
    d1.smean_st = st0(smean);
    d1.dst = g.S > 1 ? rows : sums;
    if (g.S == 1) d1.gR = gd.sN;  // out = ch, r = n (x's sR is set by channel_reduce)
    RowsPairOp d2;
    d2.p = rows;
    d2.dst = sums;
    channel_reduce(c, "batch_norm_bwd", d1, d2, g, 2);
  }
  double* coef = (double*)workspace(c, 6, (size_t)g.C * 4 * sizeof(double));
  launch("batch_norm_bwd", bn_bwd_stats_kernel<T>, dim3(ew_grid(g.C)), dim3(kThreads), 0, stream_of(c),
         (const Pair*)sums, (const T*)gamma.data, st0(gamma), (const T*)sinv.data, st0(sinv), (const T*)smean.data,
         st0(smean), (T*)c.out[1].data, (T*)c.out[2].data, coef, g.C, M);
  const int64_t total = g.N * g.C * g.S;
  if (total == 0) return;
  const T* dy = (const T*)dyt.data;
  const T* x = (const T*)xt.data;
  T* dx = (T*)c.out[0].data;
  const bool small = total < ((int64_t)1 << 31);
  if (training) {
    if (small)
      launch("batch_norm_bwd", bn_bwd_apply_kernel<T, uint32_t, true>, dim3(ew_grid(total)), dim3(kThreads), 0,
             stream_of(c), dy, gd, x, g, (const double*)coef, dx, (uint32_t)total);
    else
      launch("batch_norm_bwd", bn_bwd_apply_kernel<T, uint64_t, true>, dim3(ew_grid(total)), dim3(kThreads), 0,
             stream_of(c), dy, gd, x, g, (const double*)coef, dx, (uint64_t)total);
  } else {
    if (small)
      launch("batch_norm_bwd", bn_bwd_apply_kernel<T, uint32_t, false>, dim3(ew_grid(total)), dim3(kThreads), 0,
             stream_of(c), dy, gd, x, g, (const double*)coef, dx, (uint32_t)total);
    else
      launch("batch_norm_bwd", bn_bwd_apply_kernel<T, uint64_t, false>, dim3(ew_grid(total)), dim3(kThreads), 0,
             stream_of(c), dy, gd, x, g, (const double*)coef, dx, (uint64_t)total);
  }
}


// ------------------------------------------------------------------------------------------------- layer norm

constexpr int kLnWarps = kThreads / 32;

// The sum of v over the warp, in every lane (a fixed tree: the same bits whatever the schedule).
__device__ __forceinline__ double ln_warp_sum(double v) {
  for (int off = 16; off >= 1; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return __shfl_sync(0xffffffffu, v, 0);
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    ln_fwd_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                  T* __restrict__ mean, T* __restrict__ rstd, int64_t M, int64_t D, double eps) {
  const int lane = (int)threadIdx.x & 31;
  const int64_t step = (int64_t)gridDim.x * kLnWarps;
  for (int64_t r = (int64_t)blockIdx.x * kLnWarps + (threadIdx.x >> 5); r < M; r += step) {
    const T* p = x + r * D;
    double s = 0;
    for (int64_t j = lane; j < D; j += 32) s += (double)p[j];
    const double mu = ln_warp_sum(s) / (double)D;
    double q = 0;
    for (int64_t j = lane; j < D; j += 32) {
      const double d = (double)p[j] - mu;
      q += d * d;
    }
    const double rs = 1.0 / sqrt(ln_warp_sum(q) / (double)D + eps);
    if (lane == 0) {
      mean[r] = (T)mu;
      rstd[r] = (T)rs;
    }
    T* o = y + r * D;
    for (int64_t j = lane; j < D; j += 32) {
      double h = ((double)p[j] - mu) * rs;
      if (w) h = h * (double)w[j];
      if (b) h = h + (double)b[j];
      o[j] = (T)h;
    }
  }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
    ln_dx_kernel(const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ mean,
                 const T* __restrict__ rstd, const T* __restrict__ w, T* __restrict__ dx, int64_t M, int64_t D) {
  const int lane = (int)threadIdx.x & 31;
  const int64_t step = (int64_t)gridDim.x * kLnWarps;
  for (int64_t r = (int64_t)blockIdx.x * kLnWarps + (threadIdx.x >> 5); r < M; r += step) {
    const T* p = x + r * D;
    const T* g0 = dy + r * D;
    const double mu = (double)mean[r], rs = (double)rstd[r];
    double sg = 0, sgx = 0;
    for (int64_t j = lane; j < D; j += 32) {
      const double g = w ? (double)g0[j] * (double)w[j] : (double)g0[j];
      sg += g;
      sgx += g * (((double)p[j] - mu) * rs);
    }
    const double mg = ln_warp_sum(sg) / (double)D, mgx = ln_warp_sum(sgx) / (double)D;
    T* o = dx + r * D;
    for (int64_t j = lane; j < D; j += 32) {
      const double g = w ? (double)g0[j] * (double)w[j] : (double)g0[j];
      const double h = ((double)p[j] - mu) * rs;
      o[j] = (T)(rs * (g - mg - h * mgx));
    }
  }
}

// (dy * xhat, dy) folded over the rows of [1, M, D]: off = r * D + column.
template <class T>
struct LnColOp : red::PairC {
  const T* dy;
  const T* x;
  const T* mean;
  const T* rstd;
  T* dw;
  T* db;
  __device__ int prep(int64_t) const { return 0; }
  __device__ Pair load(int64_t off, int64_t r, int) const {
    const double g = (double)dy[off];
    return Pair{g * (((double)x[off] - (double)mean[r]) * (double)rstd[r]), g};
  }
  __device__ void finish(int64_t out, Pair s) const {
    if (dw) dw[out] = (T)s.a;
    if (db) db[out] = (T)s.b;
  }
};

template <class T>
void ln_fwd_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t M = xt.shape[0], D = xt.shape[1];
  const int flags = (int)c.ip[0];
  int k = 1;
  const T* w = (flags & 1) ? (const T*)c.in[k++].data : nullptr;
  const T* b = (flags & 2) ? (const T*)c.in[k++].data : nullptr;
  if (M == 0) return;
  launch("layer_norm", ln_fwd_kernel<T>, dim3(blocks_for(M, kLnWarps)), dim3(kThreads), 0, stream_of(c),
         (const T*)xt.data, w, b, (T*)c.out[0].data, (T*)c.out[1].data, (T*)c.out[2].data, M, D, c.fp[0]);
}

template <class T>
void ln_bwd_fn(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &xt = c.in[1];
  const int64_t M = xt.shape[0], D = xt.shape[1];
  const int flags = (int)c.ip[0];
  const T* dy = (const T*)dyt.data;
  const T* x = (const T*)xt.data;
  const T* mean = (const T*)c.in[2].data;
  const T* rstd = (const T*)c.in[3].data;
  const T* w = (flags & 1) ? (const T*)c.in[4].data : nullptr;
  int k = 1;
  T* dw = (flags & 2) ? (T*)c.out[k++].data : nullptr;
  T* db = (flags & 4) ? (T*)c.out[k++].data : nullptr;
  if (M > 0)
    launch("layer_norm_bwd", ln_dx_kernel<T>, dim3(blocks_for(M, kLnWarps)), dim3(kThreads), 0, stream_of(c), dy, x,
           mean, rstd, w, (T*)c.out[0].data, M, D);
  if (dw || db) {
    LnColOp<T> op;
    op.dy = dy;
    op.x = x;
    op.mean = mean;
    op.rstd = rstd;
    op.dw = dw;
    op.db = db;
    red::slab_reduce(c, "layer_norm_bwd", op, 1, M, D, 0);
  }
}
}  // namespace

void register_norm() {
  kernel_register(OP_batch_norm, DEV_CUDA, DT_F32, bn_fwd_fn<float>);
  kernel_register(OP_batch_norm, DEV_CUDA, DT_F64, bn_fwd_fn<double>);
  kernel_register(OP_batch_norm_bwd, DEV_CUDA, DT_F32, bn_bwd_fn<float>);
  kernel_register(OP_batch_norm_bwd, DEV_CUDA, DT_F64, bn_bwd_fn<double>);
  kernel_register(OP_layer_norm, DEV_CUDA, DT_F32, ln_fwd_fn<float>);
  kernel_register(OP_layer_norm, DEV_CUDA, DT_F64, ln_fwd_fn<double>);
  kernel_register(OP_layer_norm_bwd, DEV_CUDA, DT_F32, ln_bwd_fn<float>);
  kernel_register(OP_layer_norm_bwd, DEV_CUDA, DT_F64, ln_bwd_fn<double>);
}

}  // namespace cuda
}  // namespace tensile
