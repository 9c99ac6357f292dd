// Reductions, softmax/log_softmax (and backward) and fused softmax-cross-entropy on the GPU; the semantics of
// native/cpu/reduce.cpp. lib/ presents the input as a contiguous [outer, R, inner] view (the reduced axes
// consecutive) and the output as [outer, inner] (softmax: [outer, R, inner]).
//
// Reductions run on the segmented reduction of reduce.cuh (warp shuffles + shared memory, a fixed combination tree,
// R split across blocks when the outputs are few): deterministic, no atomics. Sums accumulate in double like the
// CPU; var and logsumexp take two passes as the CPU does (the mean, then the squared deviations; the max, then the
// sum of exponentials). softmax, its backward and cross-entropy keep one group of lanes per row and make their
// passes over it with the group's reductions broadcast to its lanes.
#include "common.cuh"
#include "../core/runtime.h"
#include "reduce.cuh"

#include <cstdio>

namespace tensile {
namespace cuda {
namespace {

using red::Best;
using red::Lane;
using red::Map;
using red::kThreads;

struct NoCtx {};

// ------------------------------------------------------------------------------------------------- reductions

// sum / mean: double accumulation; mean multiplies by 1/R as the CPU does.
template <class T>
struct SumOp : red::SumC {
  const T* x;
  T* y;
  double scale;
  bool mean;
  __device__ NoCtx prep(int64_t) const { return NoCtx{}; }
  __device__ double load(int64_t off, int64_t, NoCtx) const { return (double)x[off]; }
  __device__ void finish(int64_t out, double s) const { y[out] = (T)(mean ? s * scale : s); }
};

// var, pass 1: the mean (s / R, a division as on the CPU) into a double buffer.
template <class T>
struct MeanOp : red::SumC {
  const T* x;
  double* mean;
  double R;
  __device__ NoCtx prep(int64_t) const { return NoCtx{}; }
  __device__ double load(int64_t off, int64_t, NoCtx) const { return (double)x[off]; }
  __device__ void finish(int64_t out, double s) const { mean[out] = s / R; }
};

// var, pass 2: sum of squared deviations / (R - correction), NaN when that is not positive.
template <class T>
struct SqDevOp : red::SumC {
  const T* x;
  const double* mean;
  T* y;
  double den;
  __device__ double prep(int64_t out) const { return mean[out]; }
  __device__ double load(int64_t off, int64_t, double mu) const {
    const double d = (double)x[off] - mu;
    return d * d;
  }
  __device__ void finish(int64_t out, double ss) const { y[out] = (T)(den > 0 ? ss / den : (double)NAN); }
};

// max / min / argmax / argmin with the first NaN winning and the first of equal values.
template <class T, bool MX>
struct BestOp : red::BestC<T, MX> {
  const T* x;
  T* vals;        // max/min: the values (or null)
  int32_t* idx;   // the indices (or null)
  __device__ NoCtx prep(int64_t) const { return NoCtx{}; }
  __device__ Best<T> load(int64_t off, int64_t r, NoCtx) const { return Best<T>{x[off], (long long)r}; }
  __device__ void finish(int64_t out, Best<T> s) const {
    if (vals) vals[out] = s.v;
    if (idx) idx[out] = (int32_t)s.i;
  }
};

// logsumexp, pass 1: the max (a NaN wins) into a buffer of T.
template <class T>
struct LseMaxOp : red::MaxNanC<T> {
  const T* x;
  T* m;
  __device__ NoCtx prep(int64_t) const { return NoCtx{}; }
  __device__ T load(int64_t off, int64_t, NoCtx) const { return x[off]; }
  __device__ void finish(int64_t out, T v) const { m[out] = v; }
};

// logsumexp, pass 2: m + log(sum exp(x - m)); m itself when it is NaN or infinite (also for R == 0: -inf).
template <class T>
struct LseSumOp : red::SumC {
  const T* x;
  const T* m;
  T* y;
  __device__ static bool finite(T v) { return v == v && v != (T)INFINITY && v != -(T)INFINITY; }
  __device__ T prep(int64_t out) const { return m[out]; }
  __device__ double load(int64_t off, int64_t, T mu) const {
    return finite(mu) ? exp((double)x[off] - (double)mu) : 0.0;
  }
  __device__ void finish(int64_t out, double s) const {
    const T mu = m[out];
    y[out] = finite(mu) ? (T)((double)mu + log(s)) : mu;
  }
};

template <class T>
void reduce_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t outer = xt.shape[0], R = xt.shape[1], inner = xt.shape[2], nout = outer * inner;
  const T* x = (const T*)xt.data;
  if (nout == 0) return;
  switch (c.op) {
    case OP_sum:
    case OP_mean: {
      SumOp<T> op;
      op.x = x;
      op.y = (T*)c.out[0].data;
      op.scale = 1.0 / (double)R;
      op.mean = c.op == OP_mean;
      red::slab_reduce(c, c.op == OP_sum ? "sum" : "mean", op, outer, R, inner, 0);
      return;
    }
    case OP_var: {
      double* mean = (double*)workspace(c, 1, (size_t)nout * sizeof(double));
      MeanOp<T> p1;
      p1.x = x;
      p1.mean = mean;
      p1.R = (double)R;
      red::slab_reduce(c, "var", p1, outer, R, inner, 0);
      SqDevOp<T> p2;
      p2.x = x;
      p2.mean = mean;
      p2.y = (T*)c.out[0].data;
      p2.den = (double)R - (c.nfp > 0 ? c.fp[0] : 1.0);
      red::slab_reduce(c, "var", p2, outer, R, inner, 2);
      return;
    }
    case OP_max:
    case OP_min:
    case OP_argmax:
    case OP_argmin: {
      const bool arg = c.op == OP_argmax || c.op == OP_argmin;
      T* vals = arg ? nullptr : (T*)c.out[0].data;
      int32_t* idx = arg ? (int32_t*)c.out[0].data : c.nout > 1 ? (int32_t*)c.out[1].data : nullptr;
      if (c.op == OP_max || c.op == OP_argmax) {
        BestOp<T, true> op;
        op.x = x;
        op.vals = vals;
        op.idx = idx;
        red::slab_reduce(c, op_name(c.op), op, outer, R, inner, 0);
      } else {
        BestOp<T, false> op;
        op.x = x;
        op.vals = vals;
        op.idx = idx;
        red::slab_reduce(c, op_name(c.op), op, outer, R, inner, 0);
      }
      return;
    }
    case OP_logsumexp: {
      T* m = (T*)workspace(c, 1, (size_t)nout * sizeof(T));
      LseMaxOp<T> p1;
      p1.x = x;
      p1.m = m;
      red::slab_reduce(c, "logsumexp", p1, outer, R, inner, 0);
      LseSumOp<T> p2;
      p2.x = x;
      p2.m = m;
      p2.y = (T*)c.out[0].data;
      red::slab_reduce(c, "logsumexp", p2, outer, R, inner, 2);
      return;
    }
    default:
      fail(ERR_NATIVE, op_name(c.op), "not a reduction");
  }
}

// ------------------------------------------------------------------------------------------------- softmax

// One group of lanes per (o, column tile): the max (T, as the CPU's), the sum of exp(x - m) in double, then y.
template <class T, bool LOG>
__global__ void __launch_bounds__(kThreads)
    softmax_kernel(const T* __restrict__ x, T* __restrict__ y, Map m, int64_t outer, int64_t R, int64_t inner,
                   int64_t tiles) {
  TS_DYNAMIC_SHARED(unsigned long long, ts_red_smem);
  const Lane l = red::lane_of(m);
  const int64_t items = outer * tiles;
  for (int64_t base = (int64_t)blockIdx.x * m.P; base < items; base += (int64_t)gridDim.x * m.P) {
    const int64_t item = base + l.p;
    const int64_t o = item / tiles, col = (item - o * tiles) * m.TI + l.c;
    const bool act = item < items && col < inner;
    const int64_t b = o * R * inner + col;
    T mx = red::MaxC<T>::identity();
    if (act)
      for (int64_t r = l.lr; r < R; r += m.k) mx = red::MaxC<T>::combine(mx, x[b + r * inner]);
    mx = red::group_reduce<red::MaxC<T>>(mx, m, l, reinterpret_cast<T*>(ts_red_smem), true);
    double s = 0;
    if (act)
      for (int64_t r = l.lr; r < R; r += m.k) s += exp((double)x[b + r * inner] - (double)mx);
    s = red::group_reduce<red::SumC>(s, m, l, reinterpret_cast<double*>(ts_red_smem), true);
    if (act) {
      if (LOG) {
        const double lse = (double)mx + log(s);
        for (int64_t r = l.lr; r < R; r += m.k) y[b + r * inner] = (T)((double)x[b + r * inner] - lse);
      } else {
        const double inv = 1.0 / s;
        for (int64_t r = l.lr; r < R; r += m.k) y[b + r * inner] = (T)(exp((double)x[b + r * inner] - (double)mx) * inv);
      }
    }
  }
}

// softmax_bwd(dy, y): dx = y * (dy - sum(dy*y)); log_softmax_bwd(dy, y): dx = dy - exp(y) * sum(dy).
template <class T, bool LOG>
__global__ void __launch_bounds__(kThreads)
    softmax_bwd_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx, Map m, int64_t outer,
                       int64_t R, int64_t inner, int64_t tiles) {
  TS_DYNAMIC_SHARED(unsigned long long, ts_red_smem);
  const Lane l = red::lane_of(m);
  const int64_t items = outer * tiles;
  for (int64_t base = (int64_t)blockIdx.x * m.P; base < items; base += (int64_t)gridDim.x * m.P) {
    const int64_t item = base + l.p;
    const int64_t o = item / tiles, col = (item - o * tiles) * m.TI + l.c;
    const bool act = item < items && col < inner;
    const int64_t b = o * R * inner + col;
    double s = 0;
    if (act) {
      if (LOG)
        for (int64_t r = l.lr; r < R; r += m.k) s += (double)dy[b + r * inner];
      else
        for (int64_t r = l.lr; r < R; r += m.k) s += (double)dy[b + r * inner] * (double)y[b + r * inner];
    }
    s = red::group_reduce<red::SumC>(s, m, l, reinterpret_cast<double*>(ts_red_smem), true);
    if (act) {
      for (int64_t r = l.lr; r < R; r += m.k) {
        const int64_t e = b + r * inner;
        dx[e] = LOG ? (T)((double)dy[e] - exp((double)y[e]) * s) : (T)((double)y[e] * ((double)dy[e] - s));
      }
    }
  }
}

// A launch over the [outer, R, inner] rows of a softmax-like kernel: grid-stride over groups of P items.
inline unsigned row_grid(const Map& m, int64_t outer, int64_t tiles) {
  const int64_t groups = (outer * tiles + m.P - 1) / m.P;
  return (unsigned)(groups < (1 << 20) ? groups : (1 << 20));
}

template <class T>
void softmax_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t outer = xt.shape[0], R = xt.shape[1], inner = xt.shape[2];
  if (outer * R * inner == 0) return;
  const Map m = red::choose_map(R, inner);
  const int64_t tiles = (inner + m.TI - 1) / m.TI;
  const T* x = (const T*)xt.data;
  T* y = (T*)c.out[0].data;
  const size_t sh = kThreads * sizeof(double);
  if (c.op == OP_log_softmax)
    launch("log_softmax", softmax_kernel<T, true>, dim3(row_grid(m, outer, tiles)), dim3(kThreads), sh, stream_of(c), x,
           y, m, outer, R, inner, tiles);
  else
    launch("softmax", softmax_kernel<T, false>, dim3(row_grid(m, outer, tiles)), dim3(kThreads), sh, stream_of(c), x, y,
           m, outer, R, inner, tiles);
}

template <class T>
void softmax_bwd_fn(const OpCall& c) {
  const TensorArg& dyt = c.in[0];
  const int64_t outer = dyt.shape[0], R = dyt.shape[1], inner = dyt.shape[2];
  if (outer * R * inner == 0) return;
  const Map m = red::choose_map(R, inner);
  const int64_t tiles = (inner + m.TI - 1) / m.TI;
  const T* dy = (const T*)dyt.data;
  const T* y = (const T*)c.in[1].data;
  T* dx = (T*)c.out[0].data;
  const size_t sh = kThreads * sizeof(double);
  if (c.op == OP_log_softmax_bwd)
    launch("log_softmax_bwd", softmax_bwd_kernel<T, true>, dim3(row_grid(m, outer, tiles)), dim3(kThreads), sh,
           stream_of(c), dy, y, dx, m, outer, R, inner, tiles);
  else
    launch("softmax_bwd", softmax_bwd_kernel<T, false>, dim3(row_grid(m, outer, tiles)), dim3(kThreads), sh,
           stream_of(c), dy, y, dx, m, outer, R, inner, tiles);
}

// ------------------------------------------------------------------------------------------------- cross-entropy

// Records the first sample whose label is neither in [0, C) nor the ignore index (integer atomicMin: the same
// report whatever the order threads run in).
__global__ void ce_check_labels_kernel(const int32_t* __restrict__ lab, int64_t lab_st, int64_t N, int64_t C,
                                       int64_t ignore, unsigned long long* flag) {
  for (int64_t n = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; n < N; n += (int64_t)gridDim.x * blockDim.x) {
    const int64_t y = lab[n * lab_st];
    if (y != ignore && (y < 0 || y >= C)) atomicMin(flag, (unsigned long long)n);
  }
}

void check_labels(const OpCall& c, const TensorArg& labels, int64_t N, int64_t C, int64_t ignore) {
  const int32_t* lab = (const int32_t*)labels.data;
  const int64_t st = labels.ndim > 0 ? labels.strides[0] : 1;
  unsigned long long* flag = error_flag(c);
  launch("cross_entropy", ce_check_labels_kernel, dim3(blocks_for(N, kThreads, 4096)), dim3(kThreads), 0, stream_of(c),
         lab, st, N, C, ignore, flag);
  const unsigned long long bad = read_error_flag(c);
  if (bad == ~0ull) return;
  int32_t label = 0;
  copy_to_host(c, &label, lab + (int64_t)bad * st, sizeof label);
  char msg[160];
  snprintf(msg, sizeof msg, "expected labels in [0, %lld) or the ignore index, got %lld at index %lld", (long long)C,
           (long long)label, (long long)bad);
  fail(ERR_INDEX, op_name(c.op), msg);
}

// One group of lanes per row (TI == 1): the max, the log-sum-exp, the smoothing term; lane 0 writes the row's
// loss [N] (0 where ignored), lse [N] and the label's weight [N] (0 where ignored). Loss follows PyTorch's
// CrossEntropyLoss with label smoothing: (1-eps) * w[y] * (lse - x[y]) + eps/C * sum_c w[c] * (lse - x[c]).
template <class T>
__global__ void __launch_bounds__(kThreads)
    ce_fwd_kernel(const T* __restrict__ x, const int32_t* __restrict__ lab, int64_t lab_st, const T* __restrict__ w,
                  int64_t w_st, T* __restrict__ loss, T* __restrict__ lse_out, T* __restrict__ wy_out, Map m, int64_t N,
                  int64_t C, int64_t ignore, double eps) {
  TS_DYNAMIC_SHARED(unsigned long long, ts_red_smem);
  const Lane l = red::lane_of(m);
  for (int64_t base = (int64_t)blockIdx.x * m.P; base < N; base += (int64_t)gridDim.x * m.P) {
    const int64_t n = base + l.p;
    const bool act = n < N;
    const T* xr = x + n * C;
    T mx = red::MaxC<T>::identity();
    if (act)
      for (int64_t j = l.lr; j < C; j += m.k) mx = red::MaxC<T>::combine(mx, xr[j]);
    mx = red::group_reduce<red::MaxC<T>>(mx, m, l, reinterpret_cast<T*>(ts_red_smem), true);
    double s = 0;
    if (act)
      for (int64_t j = l.lr; j < C; j += m.k) s += exp((double)xr[j] - (double)mx);
    s = red::group_reduce<red::SumC>(s, m, l, reinterpret_cast<double*>(ts_red_smem), true);
    const double lse = (double)mx + log(s);
    double sm = 0;
    if (eps > 0) {
      if (act)
        for (int64_t j = l.lr; j < C; j += m.k) sm += (w ? (double)w[j * w_st] : 1.0) * (lse - (double)xr[j]);
      sm = red::group_reduce<red::SumC>(sm, m, l, reinterpret_cast<double*>(ts_red_smem), false);
    }
    if (act && l.lr == 0) {
      lse_out[n] = (T)lse;
      const int64_t y = lab[n * lab_st];
      if (y == ignore || y < 0 || y >= C) {  // out of range: refused before this kernel runs
        loss[n] = T(0);
        if (wy_out) wy_out[n] = T(0);
      } else {
        if (wy_out) wy_out[n] = w ? w[y * w_st] : T(1);
        double v = (1.0 - eps) * (w ? (double)w[y * w_st] : 1.0) * (lse - (double)xr[y]);
        if (eps > 0) v += eps / (double)C * sm;
        loss[n] = (T)v;
      }
    }
  }
}

template <class T>
void ce_fwd_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t N = xt.shape[0], C = xt.shape[1];
  const int64_t ignore = c.ip[0];
  const double eps = c.fp[0];
  if (N == 0) return;
  check_labels(c, c.in[1], N, C, ignore);
  const T* w = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  const int64_t w_st = c.nin > 2 ? c.in[2].strides[0] : 0;
  const Map m = red::choose_map(C, 1);
  launch("cross_entropy", ce_fwd_kernel<T>, dim3(row_grid(m, N, 1)), dim3(kThreads), kThreads * sizeof(double),
         stream_of(c), (const T*)xt.data, (const int32_t*)c.in[1].data, c.in[1].strides[0], w, w_st,
         (T*)c.out[0].data, (T*)c.out[1].data, c.nout > 2 ? (T*)c.out[2].data : (T*)nullptr, m, N, C, ignore, eps);
}

// The sum of the class weights in double (the smoothing term's W), one fixed-order reduction.
template <class T>
struct WeightSumOp : red::SumC {
  const T* w;
  int64_t st;
  double* W;
  __device__ NoCtx prep(int64_t) const { return NoCtx{}; }
  __device__ double load(int64_t off, int64_t, NoCtx) const { return (double)w[off * st]; }
  __device__ void finish(int64_t, double s) const { *W = s; }
};

// dlogits[n, j] = dloss[n] * ((1-eps) * w[y] * (p - [j == y]) + eps/C * (W * p - w[j])), p = exp(x - lse); a flat
// grid-stride loop over N*C (coalesced; I: 32-bit index math when N*C fits).
template <class T, class I>
__global__ void __launch_bounds__(kThreads)
    ce_bwd_kernel(const T* __restrict__ x, const int32_t* __restrict__ lab, int64_t lab_st, const T* __restrict__ lse,
                  int64_t lse_st, const T* __restrict__ dl, int64_t dl_st, const T* __restrict__ w, int64_t w_st,
                  const double* __restrict__ Wp, T* __restrict__ dx, I total, I C, int64_t ignore, double eps) {
  const double W = w ? *Wp : (double)C;
  for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (I)gridDim.x * blockDim.x) {
    const I n = e / C, j = e - n * C;
    const int64_t y = lab[(int64_t)n * lab_st];
    if (y == ignore) {
      dx[e] = T(0);
      continue;
    }
    const bool in_range = y >= 0 && y < (int64_t)C;  // the forward refused other labels; never read out of bounds
    const double g = (double)dl[(int64_t)n * dl_st], wy = w ? (in_range ? (double)w[y * w_st] : 0.0) : 1.0;
    const double p = exp((double)x[e] - (double)lse[(int64_t)n * lse_st]);
    double v = (1.0 - eps) * wy * (p - ((int64_t)j == y ? 1.0 : 0.0));
    if (eps > 0) v += eps / (double)C * (W * p - (w ? (double)w[(int64_t)j * w_st] : 1.0));
    dx[e] = (T)(g * v);
  }
}

template <class T>
void ce_bwd_fn(const OpCall& c) {
  const TensorArg& xt = c.in[0];
  const int64_t N = xt.shape[0], C = xt.shape[1], total = N * C;
  if (total == 0) return;
  const int64_t ignore = c.ip[0];
  const double eps = c.fp[0];
  const T* w = c.nin > 4 ? (const T*)c.in[4].data : nullptr;
  const int64_t w_st = c.nin > 4 ? c.in[4].strides[0] : 0;
  double* W = nullptr;
  if (w) {
    W = (double*)workspace(c, 1, sizeof(double));
    WeightSumOp<T> op;
    op.w = w;
    op.st = w_st;
    op.W = W;
    red::slab_reduce(c, "cross_entropy_bwd", op, 1, C, 1, 0);
  }
  const T* x = (const T*)xt.data;
  const int32_t* lab = (const int32_t*)c.in[1].data;
  const T* lse = (const T*)c.in[2].data;
  const T* dl = (const T*)c.in[3].data;
  T* dx = (T*)c.out[0].data;
  const int64_t ls = c.in[1].strides[0], es = c.in[2].strides[0], ds = c.in[3].strides[0];
  if (total < ((int64_t)1 << 31))
    launch("cross_entropy_bwd", ce_bwd_kernel<T, uint32_t>, dim3(blocks_for(total, kThreads)), dim3(kThreads), 0,
           stream_of(c), x, lab, ls, lse, es, dl, ds, w, w_st, (const double*)W, dx, (uint32_t)total, (uint32_t)C,
           ignore, eps);
  else
    launch("cross_entropy_bwd", ce_bwd_kernel<T, uint64_t>, dim3(blocks_for(total, kThreads)), dim3(kThreads), 0,
           stream_of(c), x, lab, ls, lse, es, dl, ds, w, w_st, (const double*)W, dx, (uint64_t)total, (uint64_t)C,
           ignore, eps);
}

}  // namespace

void register_reduce() {
  const int red_ops[] = {OP_sum, OP_mean, OP_max, OP_min, OP_argmax, OP_argmin, OP_var, OP_logsumexp};
  for (int op : red_ops) {
    kernel_register(op, DEV_CUDA, DT_F32, reduce_fn<float>);
    kernel_register(op, DEV_CUDA, DT_F64, reduce_fn<double>);
  }
  kernel_register(OP_softmax, DEV_CUDA, DT_F32, softmax_fn<float>);
  kernel_register(OP_softmax, DEV_CUDA, DT_F64, softmax_fn<double>);
  kernel_register(OP_log_softmax, DEV_CUDA, DT_F32, softmax_fn<float>);
  kernel_register(OP_log_softmax, DEV_CUDA, DT_F64, softmax_fn<double>);
  kernel_register(OP_softmax_bwd, DEV_CUDA, DT_F32, softmax_bwd_fn<float>);
  kernel_register(OP_softmax_bwd, DEV_CUDA, DT_F64, softmax_bwd_fn<double>);
  kernel_register(OP_log_softmax_bwd, DEV_CUDA, DT_F32, softmax_bwd_fn<float>);
  kernel_register(OP_log_softmax_bwd, DEV_CUDA, DT_F64, softmax_bwd_fn<double>);
  kernel_register(OP_cross_entropy, DEV_CUDA, DT_F32, ce_fwd_fn<float>);
  kernel_register(OP_cross_entropy, DEV_CUDA, DT_F64, ce_fwd_fn<double>);
  kernel_register(OP_cross_entropy_bwd, DEV_CUDA, DT_F32, ce_bwd_fn<float>);
  kernel_register(OP_cross_entropy_bwd, DEV_CUDA, DT_F64, ce_bwd_fn<double>);
}

}  // namespace cuda
}  // namespace tensile
