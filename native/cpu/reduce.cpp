// Reductions, softmax/log_softmax and fused softmax-cross-entropy. lib/ presents the input as a contiguous
// [outer, R, inner] view (the reduced axes consecutive) and the output as [outer, inner].
#include <type_traits>
#include "kernels.h"
#include "vexp.h"

TS_CPU_BEGIN
namespace {

template <typename T>
struct Acc { typedef double type; };  // accumulate in double: deterministic and accurate for float32 sums

// Calls f(o, i, base, stride) for each output element: the R inputs are base[r*stride], r < R.
template <typename F>
static void for_each_out(int64_t outer, int64_t R, int64_t inner, F&& f) {
  const int64_t total = outer * inner;
  const bool par = total * R >= (1 << 15) && total > 1;
  if (par) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < total; ++t) f(t / inner, t % inner);
  } else {
    for (int64_t t = 0; t < total; ++t) f(t / inner, t % inner);
  }
}

// sum/mean in double with a fixed order (so results do not depend on threads), vectorised: eight accumulators
// along a contiguous reduced axis, or the inner axis as the vector when the reduced axis is strided.
template <typename T>
static void sum_kernel(const OpCall& c, bool mean) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], R = x.shape[1], inner = x.shape[2];
  const T* px = (const T*)x.data;
  T* po = (T*)c.out[0].data;
  const double scale = mean ? 1.0 / (double)R : 1.0;
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (outer * R >= (1 << 15) && outer > 1)
    for (int64_t o = 0; o < outer; ++o) {
      const T* b = px + o * R;
      double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t r = 0;
      for (; r + 8 <= R; r += 8)
        for (int l = 0; l < 8; ++l) a[l] += (double)b[r + l];
      for (; r < R; ++r) a[r & 7] += (double)b[r];
      const double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
      po[o] = (T)(mean ? s * scale : s);
    }
    return;
  }
  constexpr int64_t kChunk = 256;
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (outer * R * inner >= (1 << 15) && outer * chunks > 1)
  for (int64_t t = 0; t < outer * chunks; ++t) {
    const int64_t o = t / chunks, i0 = (t % chunks) * kChunk, n = inner - i0 < kChunk ? inner - i0 : kChunk;
    double a[kChunk];
    for (int64_t i = 0; i < n; ++i) a[i] = 0;
    const T* b = px + o * R * inner + i0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < n; ++i) a[i] += (double)b[r * inner + i];
    for (int64_t i = 0; i < n; ++i) po[o * inner + i0 + i] = (T)(mean ? a[i] * scale : a[i]);
  }
}

// (vrow_max, vexp.h: a NaN drops out of the max, but its exp in vrow_expsum makes the sum, and so the row, NaN; a
// row of -inf has max -inf and exp(-inf - -inf) = NaN, as the scalar paths and PyTorch give.)
// The sum over a contiguous float32 row of e = vexp(b[r] - m), lane-wise in double in a fixed order; each e stored
// to y[r] when y is not null.
static inline double vrow_expsum(const float* b, int64_t R, float m, float* y) {
  constexpr int N = Vec<float>::N;
  const int64_t rv = R / N * N;
  const vfloat mb = bcast(m);
  Vec<double>::type a0 = bcast(0.0), a1 = bcast(0.0);
  for (int64_t r = 0; r < rv; r += N) {
    const vfloat e = vexp(vloadu(b + r) - mb);
    if (y) vstoreu(y + r, e);
    vacc_f64(a0, a1, e);
  }
  if (rv < R) {
    const vfloat e = vexp(vload_part(b + rv, R - rv, -INFINITY) - mb);
    if (y) vstore_part(y + rv, e, R - rv);
    vacc_f64(a0, a1, e);
  }
  return vsum_f64(a0, a1);
}

template <typename T>
static void reduce_kernel(const OpCall& c) {
  if (c.op == OP_sum || c.op == OP_mean) {
    sum_kernel<T>(c, c.op == OP_mean);
    return;
  }
  const TensorArg &x = c.in[0];
  const int64_t outer = x.shape[0], R = x.shape[1], inner = x.shape[2];
  const T* px = (const T*)x.data;
  T* po = (T*)c.out[0].data;
  int32_t* pidx = c.nout > 1 ? (int32_t*)c.out[1].data : nullptr;
  const int op = c.op;
  const double correction = c.nfp > 0 ? c.fp[0] : 1.0;
  for_each_out(outer, R, inner, [&](int64_t o, int64_t i) {
    const T* b = px + o * R * inner + i;
    const int64_t out = o * inner + i;
    switch (op) {
      case OP_sum:
      case OP_mean: {
        double s = 0;
        for (int64_t r = 0; r < R; ++r) s += (double)b[r * inner];
        po[out] = (T)(op == OP_mean ? s / (double)R : s);
        break;
      }
      case OP_var: {
        double m = 0;
        for (int64_t r = 0; r < R; ++r) m += (double)b[r * inner];
        m /= (double)R;
        double ss = 0;
        for (int64_t r = 0; r < R; ++r) {
          double d = (double)b[r * inner] - m;
          ss += d * d;
        }
        double den = (double)R - correction;
        po[out] = (T)(den > 0 ? ss / den : NAN);
        break;
      }
      case OP_max:
      case OP_min:
      case OP_argmax:
      case OP_argmin: {
        const bool mx = op == OP_max || op == OP_argmax;
        T best = b[0];
        int64_t bi = 0;
        for (int64_t r = 1; r < R && best == best; ++r) {  // the first NaN wins, like PyTorch
          T v = b[r * inner];
          if (v != v || (mx ? v > best : v < best)) {
            best = v;
            bi = r;
          }
        }
        if (op == OP_argmax || op == OP_argmin) {
          ((int32_t*)c.out[0].data)[out] = (int32_t)bi;
        } else {
          po[out] = best;
          if (pidx) pidx[out] = (int32_t)bi;
        }
        break;
      }
      case OP_logsumexp: {
        if constexpr (std::is_same<T, float>::value) {
          // a contiguous float32 row by vectors (a NaN makes the sum NaN); rows whose max is infinite (or all NaN,
          // whose vector max is -inf) take the scalar path's rules below
          if (inner == 1) {
            const float mv = vrow_max(b, R);
            if (mv > -INFINITY && mv < INFINITY) {
              po[out] = (float)((double)mv + log(vrow_expsum(b, R, mv, nullptr)));
              break;
            }
          }
        }
        T m = b[0];
        for (int64_t r = 1; r < R; ++r) m = (b[r * inner] > m || b[r * inner] != b[r * inner]) ? b[r * inner] : m;
        if (m != m) { po[out] = m; break; }
        if (m == (T)INFINITY || m == -(T)INFINITY) { po[out] = m; break; }
        double s = 0;
        for (int64_t r = 0; r < R; ++r) s += exp((double)b[r * inner] - (double)m);
        po[out] = (T)((double)m + log(s));
        break;
      }
    }
  });
}

// float32 softmax / log_softmax of contiguous rows (inner == 1), by vectors: the max, then e = vexp(x - max)
// (stored as the softmax's output, so exp runs once per element) summed lane-wise in double, then one scaling
// pass. Each row is one task and its sums go in a fixed order: the same bits for any thread count.
static void softmax_rows_f32(const float* px, float* py, int64_t outer, int64_t R, bool logsm) {
  constexpr int N = Vec<float>::N;
#pragma omp parallel for schedule(static) if (outer * R >= (1 << 15) && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const float* b = px + o * R;
    float* y = py + o * R;
    const int64_t rv = R / N * N;
    const float m = vrow_max(b, R);
    const vfloat mb = bcast(m);
    const double s = vrow_expsum(b, R, m, logsm ? nullptr : y);
    if (logsm) {
      const vfloat ls = bcast((float)log(s));
      for (int64_t r = 0; r < rv; r += N) vstoreu(y + r, (vloadu(b + r) - mb) - ls);
      if (rv < R) vstore_part(y + rv, (vload_part(b + rv, R - rv, 0.0f) - mb) - ls, R - rv);
    } else {
      const vfloat inv = bcast((float)(1.0 / s));
      for (int64_t r = 0; r < rv; r += N) vstoreu(y + r, vloadu(y + r) * inv);
      if (rv < R) vstore_part(y + rv, vload_part(y + rv, R - rv, 0.0f) * inv, R - rv);
    }
  }
}

// log_softmax_bwd of contiguous float32 rows: dx = dy - exp(y) * sum(dy), the sum lane-wise in double.
static void log_softmax_bwd_rows_f32(const float* pdy, const float* py, float* pdx, int64_t outer, int64_t R) {
  constexpr int N = Vec<float>::N;
#pragma omp parallel for schedule(static) if (outer * R >= (1 << 15) && outer > 1)
  for (int64_t o = 0; o < outer; ++o) {
    const float* g = pdy + o * R;
    const float* y = py + o * R;
    float* d = pdx + o * R;
    const int64_t rv = R / N * N;
    Vec<double>::type a0 = bcast(0.0), a1 = bcast(0.0);
    for (int64_t r = 0; r < rv; r += N) vacc_f64(a0, a1, vloadu(g + r));
    if (rv < R) vacc_f64(a0, a1, vload_part(g + rv, R - rv, 0.0f));
    const vfloat s = bcast((float)vsum_f64(a0, a1));
    for (int64_t r = 0; r < rv; r += N) vstoreu(d + r, vloadu(g + r) - vexp(vloadu(y + r)) * s);
    if (rv < R)
      vstore_part(d + rv, vload_part(g + rv, R - rv, 0.0f) - vexp(vload_part(y + rv, R - rv, 0.0f)) * s, R - rv);
  }
}

// softmax / log_softmax along R (numerically stable: subtract the max; Bridle 1990 / every framework since).
template <typename T>
static void softmax_kernel(const OpCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], R = x.shape[1], inner = x.shape[2];
  const T* px = (const T*)x.data;
  T* py = (T*)c.out[0].data;
  const bool logsm = c.op == OP_log_softmax;
  if (sizeof(T) == 4 && inner == 1) return softmax_rows_f32((const float*)px, (float*)py, outer, R, logsm);
  for_each_out(outer, R, inner, [&](int64_t o, int64_t i) {
    const T* b = px + o * R * inner + i;
    T* y = py + o * R * inner + i;
    T m = b[0];
    for (int64_t r = 1; r < R; ++r) m = b[r * inner] > m ? b[r * inner] : m;
    double s = 0;
    for (int64_t r = 0; r < R; ++r) s += exp((double)b[r * inner] - (double)m);
    if (logsm) {
      const double lse = (double)m + log(s);
      for (int64_t r = 0; r < R; ++r) y[r * inner] = (T)((double)b[r * inner] - lse);
    } else {
      const double inv = 1.0 / s;
      for (int64_t r = 0; r < R; ++r) y[r * inner] = (T)(exp((double)b[r * inner] - (double)m) * inv);
    }
  });
}

// softmax_bwd(dy, y): dx = y * (dy - sum(dy*y)); log_softmax_bwd(dy, y): dx = dy - exp(y) * sum(dy).
template <typename T>
static void softmax_bwd_kernel(const OpCall& c) {
  const TensorArg& dyt = c.in[0];
  const int64_t outer = dyt.shape[0], R = dyt.shape[1], inner = dyt.shape[2];
  const T* pdy = (const T*)dyt.data;
  const T* py = (const T*)c.in[1].data;
  T* pdx = (T*)c.out[0].data;
  const bool logsm = c.op == OP_log_softmax_bwd;
  if (sizeof(T) == 4 && inner == 1 && logsm)
    return log_softmax_bwd_rows_f32((const float*)pdy, (const float*)py, (float*)pdx, outer, R);
  for_each_out(outer, R, inner, [&](int64_t o, int64_t i) {
    const int64_t base = o * R * inner + i;
    double s = 0;
    if (logsm) {
      for (int64_t r = 0; r < R; ++r) s += (double)pdy[base + r * inner];
      for (int64_t r = 0; r < R; ++r)
        pdx[base + r * inner] = (T)((double)pdy[base + r * inner] - exp((double)py[base + r * inner]) * s);
    } else {
      for (int64_t r = 0; r < R; ++r) s += (double)pdy[base + r * inner] * (double)py[base + r * inner];
      for (int64_t r = 0; r < R; ++r)
        pdx[base + r * inner] = (T)((double)py[base + r * inner] * ((double)pdy[base + r * inner] - s));
    }
  });
}

static void bad_label(int op, int64_t n, int64_t label, int64_t C) {
  char msg[160];
  snprintf(msg, sizeof msg, "expected labels in [0, %lld) or the ignore index, got %lld at index %lld", (long long)C,
           (long long)label, (long long)n);
  fail(ERR_INDEX, op_name(op), msg);
}

// cross_entropy: in logits [N,C], labels int32 [N], optional weight [C]; ip [ignore_index]; fp [label_smoothing].
// out loss [N] (0 where ignored), lse [N], optional w_y [N] (the label's weight, 0 where ignored). Loss follows PyTorch's CrossEntropyLoss with label smoothing:
// (1-eps) * w[y] * (lse - x[y]) + eps/C * sum_c w[c] * (lse - x[c]).
template <typename T>
static void ce_fwd(const OpCall& c) {
  const int64_t N = c.in[0].shape[0], C = c.in[0].shape[1];
  const T* x = (const T*)c.in[0].data;
  const int32_t* lab = (const int32_t*)c.in[1].data;
  const T* w = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  T* loss = (T*)c.out[0].data;
  T* lse_out = (T*)c.out[1].data;
  T* wy_out = c.nout > 2 ? (T*)c.out[2].data : nullptr;  // each sample's weight in a 'mean' reduction
  const int64_t ignore = c.ip[0];
  const double eps = c.fp[0];
  for (int64_t n = 0; n < N; ++n) {
    const int64_t y = lab[n];
    if (y != ignore && (y < 0 || y >= C)) bad_label(c.op, n, y, C);
  }
#pragma omp parallel for schedule(static) if (N * C >= (1 << 14))
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    double lse;
    if constexpr (std::is_same<T, float>::value) {  // by vectors (vrow_max: a NaN makes lse NaN all the same)
      const float m = vrow_max(xr, C);
      lse = (double)m + log(vrow_expsum(xr, C, m, nullptr));
    } else {
      T m = xr[0];
      for (int64_t j = 1; j < C; ++j) m = xr[j] > m ? xr[j] : m;
      double s = 0;
      for (int64_t j = 0; j < C; ++j) s += exp((double)xr[j] - (double)m);
      lse = (double)m + log(s);
    }
    lse_out[n] = (T)lse;
    const int64_t y = lab[n];
    if (y == ignore) {
      loss[n] = T(0);
      if (wy_out) wy_out[n] = T(0);
      continue;
    }
    if (wy_out) wy_out[n] = w ? w[y] : T(1);
    double l = (1.0 - eps) * (w ? (double)w[y] : 1.0) * (lse - (double)xr[y]);
    if (eps > 0) {
      double sm = 0;
      for (int64_t j = 0; j < C; ++j) sm += (w ? (double)w[j] : 1.0) * (lse - (double)xr[j]);
      l += eps / (double)C * sm;
    }
    loss[n] = (T)l;
  }
}

// cross_entropy_bwd: in logits, labels, lse, dloss [N], optional weight; out dlogits [N,C].
template <typename T>
static void ce_bwd(const OpCall& c) {
  const int64_t N = c.in[0].shape[0], C = c.in[0].shape[1];
  const T* x = (const T*)c.in[0].data;
  const int32_t* lab = (const int32_t*)c.in[1].data;
  const T* lse = (const T*)c.in[2].data;
  const T* dl = (const T*)c.in[3].data;
  const T* w = c.nin > 4 ? (const T*)c.in[4].data : nullptr;
  T* dx = (T*)c.out[0].data;
  const int64_t ignore = c.ip[0];
  const double eps = c.fp[0];
  for (int64_t n = 0; n < N; ++n) {  // (the forward checks them too; the backward is exported on its own)
    const int64_t y = lab[n];
    if (y != ignore && (y < 0 || y >= C)) bad_label(c.op, n, y, C);
  }
  double W = 0;
  if (w)
    for (int64_t j = 0; j < C; ++j) W += (double)w[j];
  else
    W = (double)C;
#pragma omp parallel for schedule(static) if (N * C >= (1 << 14))
  for (int64_t n = 0; n < N; ++n) {
    const int64_t y = lab[n];
    T* d = dx + n * C;
    if (y == ignore) {
      for (int64_t j = 0; j < C; ++j) d[j] = T(0);
      continue;
    }
    const double g = (double)dl[n], wy = w ? (double)w[y] : 1.0;
    if constexpr (std::is_same<T, float>::value) {
      // by vectors: d_j = a p_j - b_j, p_j = vexp(x_j - lse), a = g ((1 - eps) wy + eps W / C), b_j = g eps w_j / C
      // (the eps terms only where eps > 0, as below: an infinite weight must not meet a 0); then the label's entry
      // in double as below (p_y - 1 there)
      constexpr int NV = Vec<float>::N;
      const float* xr = x + n * C;
      const vfloat a = bcast((float)(eps > 0 ? g * ((1.0 - eps) * wy + eps / (double)C * W) : g * wy));
      const vfloat l = bcast((float)lse[n]), b1 = bcast((float)(g * eps / (double)C));
      const bool smooth = eps > 0, wsmooth = smooth && w;
      int64_t j = 0;
      for (; j + NV <= C; j += NV) {
        const vfloat v = a * vexp(vloadu(xr + j) - l);
        vstoreu(d + j, wsmooth ? v - b1 * vloadu(w + j) : smooth ? v - b1 : v);
      }
      if (j < C) {
        const vfloat v = a * vexp(vload_part(xr + j, C - j, 0.0f) - l);
        vstore_part(d + j, wsmooth ? v - b1 * vload_part(w + j, C - j, 0.0f) : smooth ? v - b1 : v, C - j);
      }
      const double p = exp((double)xr[y] - (double)lse[n]);
      double v = (1.0 - eps) * wy * (p - 1.0);
      if (eps > 0) v += eps / (double)C * (W * p - wy);
      d[y] = (float)(g * v);
      continue;
    }
    for (int64_t j = 0; j < C; ++j) {
      const double p = exp((double)x[n * C + j] - (double)lse[n]);
      double v = (1.0 - eps) * wy * (p - (j == y ? 1.0 : 0.0));
      if (eps > 0) v += eps / (double)C * (W * p - (w ? (double)w[j] : 1.0));
      d[j] = (T)(g * v);
    }
  }
}
}  // namespace

void reduce_f32(const OpCall& c) { reduce_kernel<float>(c); }
void reduce_f64(const OpCall& c) { reduce_kernel<double>(c); }
void softmax_f32(const OpCall& c) { softmax_kernel<float>(c); }
void softmax_f64(const OpCall& c) { softmax_kernel<double>(c); }
void softmax_bwd_f32(const OpCall& c) { softmax_bwd_kernel<float>(c); }
void softmax_bwd_f64(const OpCall& c) { softmax_bwd_kernel<double>(c); }
void ce_fwd_f32(const OpCall& c) { ce_fwd<float>(c); }
void ce_fwd_f64(const OpCall& c) { ce_fwd<double>(c); }
void ce_bwd_f32(const OpCall& c) { ce_bwd<float>(c); }
void ce_bwd_f64(const OpCall& c) { ce_bwd<double>(c); }
TS_CPU_END
