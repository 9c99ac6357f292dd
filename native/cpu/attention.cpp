// Fused scaled-dot-product attention, the flash-attention scheme (Dao et al., "FlashAttention", NeurIPS 2022, and
// "FlashAttention-2", 2023): the L x S score matrix is never stored. Work goes by tiles of kBr query rows x kBc keys;
// each tile's scores come from one GEMM (native/cpu/gemm.cpp, single-threaded inside a task), masking, causality and
// dropout are applied in the tile, and
// - forward: an online softmax over the key tiles (running row max m and sum l; the output rows, accumulated in
//   place, are rescaled by exp(m_old - m_new) when the max grows). Saves each row's log-sum-exp of its scores.
// - backward: the probabilities are recomputed from the saved log-sum-exp, P = exp(S - lse), with
//   D = rowsum(dO * O) (= rowsum(dP * P), dropout included). Two passes, so that every output element has one
//   writer (no atomics, results independent of the thread count): over key tiles, dV = Pd^T dO and
//   dK = scale dS^T Q; over query tiles, dQ = scale dS K; with Pd = P * keep / (1 - p), dS = P * (dPd * keep /
//   (1 - p) - D), dPd = dO V^T.
// Parallel over (batch, tile) tasks with OpenMP. Memory: per thread two kBr x kBc tiles of workspace.
//
// Arguments (lib/ops/attention.ts): the batch dims are the broadcast batch shape [nb dims] shared by every argument,
// broadcast dims having stride 0; q [..., L, E], k [..., S, E], v [..., S, Ev] have unit stride in their last dim;
// mask [..., L, S] any strides, uint8 (nonzero: takes part) or the op's dtype (added to the scores).
// attention in: q, k, v[, mask]; out: o [B, L, Ev], lse [B, L] (contiguous, B = the batch numel).
// attention_bwd in: q, k, v, o, do, lse[, mask]; out: dq [B, L, E], dk [B, S, E], dv [B, S, Ev] (contiguous).
// ip [nb, mask kind (0 none, 1 bool, 2 additive), causal, seed, offset]; fp [scale, dropout p].
// A row whose keys are all masked (every score -inf) gets output 0, lse -inf and zero gradients, as PyTorch's math
// backend (_safe_softmax) gives.
#include "kernels.h"
#include "../core/philox.h"
#include "vexp.h"

TS_CPU_BEGIN
namespace {

constexpr int64_t kBr = 64, kBc = 64;

static inline void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B,
                        int64_t rsB, int64_t csB, float* C, int64_t ldc, float alpha, float beta) {
  sgemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, nullptr, 0, false, false);
}
static inline void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsA, int64_t csA, const double* B,
                        int64_t rsB, int64_t csB, double* C, int64_t ldc, double alpha, double beta) {
  dgemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, nullptr, 0, false, false);
}
static inline float expT(float x) { return expf(x); }
static inline double expT(double x) { return exp(x); }
// s[j] <- exp(s[j] - mx), j < n; returns the sum (float32: vexp, summed lane-wise in a fixed order).
static inline float exp_row_sum(float* s, int64_t n, float mx) {
  constexpr int N = Vec<float>::N;
  const vfloat mb = bcast(mx);
  vfloat acc = bcast(0.0f);
  int64_t j = 0;
  for (; j + N <= n; j += N) {
    const vfloat e = vexp(vloadu(s + j) - mb);
    vstoreu(s + j, e);
    acc += e;
  }
  if (j < n) {
    const vfloat e = vexp(vload_part(s + j, n - j, -INFINITY) - mb);
    vstore_part(s + j, e, n - j);
    acc += e;
  }
  return vsum_lanes(acc);
}
static inline double exp_row_sum(double* s, int64_t n, double mx) {
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double e = exp(s[j] - mx);
    sum += e;
    s[j] = e;
  }
  return sum;
}
// s[j] <- exp(s[j] - sh), j < n
static inline void exp_row(float* s, int64_t n, float sh) { vexp_run(s, s, n, sh); }
static inline void exp_row(double* s, int64_t n, double sh) {
  for (int64_t j = 0; j < n; ++j) s[j] = exp(s[j] - sh);
}

// The element offset of batch b (row-major over the first nb dims of the shared batch shape) in t.
static inline int64_t batch_off(const TensorArg& t, int nb, int64_t b) {
  int64_t off = 0;
  for (int d = nb - 1; d >= 0; --d) {
    const int64_t s = t.shape[d];
    off += (b % s) * t.strides[d];
    b /= s;
  }
  return off;
}

template <typename T>
struct Problem {
  int nb;
  int64_t B, L, S, E, Ev;
  const TensorArg *q, *k, *v, *mask;
  int mask_kind;
  bool causal;
  uint64_t seed, offset;
  T scale;
  double p;
  T keep_scale;  // 1 / (1 - p)

  Problem(const OpCall& c, const TensorArg* mk) {
    nb = (int)c.ip[0];
    q = &c.in[0];
    k = &c.in[1];
    v = &c.in[2];
    mask = mk;
    mask_kind = (int)c.ip[1];
    causal = c.ip[2] != 0;
    seed = (uint64_t)c.ip[3];
    offset = (uint64_t)c.ip[4];
    scale = (T)c.fp[0];
    p = c.fp[1];
    keep_scale = (T)(p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
    B = 1;
    for (int d = 0; d < nb; ++d) B *= q->shape[d];
    L = q->shape[nb];
    E = q->shape[nb + 1];
    S = k->shape[nb];
    Ev = v->shape[nb + 1];
  }
  // Dropout's keep decision for score (b, i, j): element (b*L + i)*S + j of a [B, L, S] tensor, drawn as F.dropout
  // draws (native/cpu/random.cpp): the same stream for the same (seed, offset).
  bool keep(int64_t b, int64_t i, int64_t j) const {
    const int64_t idx = (b * L + i) * S + j, g = idx >> 2;
    const U32x4 r = philox4x32_10((uint32_t)g, (uint32_t)((uint64_t)g >> 32), (uint32_t)offset, (uint32_t)(offset >> 32),
                                  (uint32_t)seed, (uint32_t)(seed >> 32));
    return (double)u32_to_unit_f(r.v[idx & 3]) > p;
  }
  // Scores of the tile (rows i0..i0+br, keys j0..j0+bc) into s (row stride kBc): scale q k^T, masked.
  void scores(int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* s) const {
    const T* qb = (const T*)q->data + batch_off(*q, nb, b) + i0 * q->strides[nb];
    const T* kb = (const T*)k->data + batch_off(*k, nb, b) + j0 * k->strides[nb];
    gemm(br, bc, E, qb, q->strides[nb], 1, kb, 1, k->strides[nb], s, kBc, scale, T(0));
    if (mask_kind) {
      const int64_t ms_i = mask->strides[nb], ms_j = mask->strides[nb + 1];
      const int64_t mo = batch_off(*mask, nb, b) + i0 * ms_i + j0 * ms_j;
      if (mask_kind == 1) {
        const uint8_t* m = (const uint8_t*)mask->data + mo;
        for (int64_t r = 0; r < br; ++r)
          for (int64_t j = 0; j < bc; ++j)
            if (!m[r * ms_i + j * ms_j]) s[r * kBc + j] = -(T)INFINITY;
      } else {
        const T* m = (const T*)mask->data + mo;
        for (int64_t r = 0; r < br; ++r)
          for (int64_t j = 0; j < bc; ++j) s[r * kBc + j] += m[r * ms_i + j * ms_j];
      }
    }
    if (causal) {  // top-left aligned, as PyTorch's is_causal: key j takes part in row i when j <= i
      for (int64_t r = 0; r < br; ++r)
        for (int64_t j = (i0 + r + 1 - j0 > 0 ? i0 + r + 1 - j0 : 0); j < bc; ++j) s[r * kBc + j] = -(T)INFINITY;
    }
  }
  // The number of keys any row of the query tile starting at i0 (br rows) can see (causal: up to the last row).
  int64_t key_end(int64_t i0, int64_t br) const { return causal ? (i0 + br < S ? i0 + br : S) : S; }
};

template <typename T>
void fwd(const OpCall& c) {
  const Problem<T> P(c, c.nin > 3 ? &c.in[3] : nullptr);
  T* out = (T*)c.out[0].data;
  T* lse = (T*)c.out[1].data;
  const int64_t nq = (P.L + kBr - 1) / kBr, tasks = P.B * nq, Ev = P.Ev;
  const bool dropout = P.p > 0;
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && P.L * P.S * (P.E + Ev) * P.B >= (1 << 16))
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / nq, i0 = (t % nq) * kBr, br = P.L - i0 < kBr ? P.L - i0 : kBr;
    T* s = (T*)workspace(2, sizeof(T) * (size_t)(kBr * kBc + 2 * kBr));
    T* m = s + kBr * kBc;
    T* l = m + kBr;
    T* o = out + (b * P.L + i0) * Ev;
    for (int64_t r = 0; r < br; ++r) {
      m[r] = -(T)INFINITY;
      l[r] = T(0);
      for (int64_t e = 0; e < Ev; ++e) o[r * Ev + e] = T(0);
    }
    const T* vb = (const T*)P.v->data + batch_off(*P.v, P.nb, b);
    const int64_t vs = P.v->strides[P.nb], jend = P.key_end(i0, br);
    for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
      const int64_t bc = jend - j0 < kBc ? jend - j0 : kBc;
      P.scores(b, i0, br, j0, bc, s);
      for (int64_t r = 0; r < br; ++r) {
        T* sr = s + r * kBc;
        T mx = m[r];
        for (int64_t j = 0; j < bc; ++j) mx = sr[j] > mx ? sr[j] : mx;
        T* orow = o + r * Ev;
        if (mx == -(T)INFINITY) {  // every key so far masked: nothing to add
          for (int64_t j = 0; j < bc; ++j) sr[j] = T(0);
          continue;
        }
        const T alpha = expT(m[r] - mx);  // 0 when m was -inf
        const T sum = exp_row_sum(sr, bc, mx);
        if (dropout)
          for (int64_t j = 0; j < bc; ++j) sr[j] = P.keep(b, i0 + r, j0 + j) ? sr[j] * P.keep_scale : T(0);
        l[r] = l[r] * alpha + sum;
        m[r] = mx;
        if (alpha != T(1))
          for (int64_t e = 0; e < Ev; ++e) orow[e] *= alpha;
      }
      gemm(br, Ev, bc, s, kBc, 1, vb + j0 * vs, vs, 1, o, Ev, T(1), T(1));  // o += p v
    }
    for (int64_t r = 0; r < br; ++r) {
      const bool empty = l[r] == T(0);
      const T inv = empty ? T(0) : T(1) / l[r];
      for (int64_t e = 0; e < Ev; ++e) o[r * Ev + e] *= inv;
      lse[b * P.L + i0 + r] = empty ? -(T)INFINITY : m[r] + (T)log((double)l[r]);
    }
  }
}

// The backward's per-tile work: D for a query tile, and a tile's probabilities and score gradients.
template <typename T>
struct BwdCtx {
  const Problem<T>& P;
  const T *o, *dout, *lse;
  BwdCtx(const Problem<T>& p, const OpCall& c) : P(p), o((const T*)c.in[3].data), dout((const T*)c.in[4].data),
    lse((const T*)c.in[5].data) {}
  // D for rows i0..i0+br of batch b into dd
  void delta(int64_t b, int64_t i0, int64_t br, T* dd) const {
    const int64_t Ev = P.Ev;
    for (int64_t r = 0; r < br; ++r) {
      const T* a = o + (b * P.L + i0 + r) * Ev;
      const T* g = dout + (b * P.L + i0 + r) * Ev;
      T acc = T(0);
      for (int64_t e = 0; e < Ev; ++e) acc += a[e] * g[e];
      dd[r] = acc;
    }
  }
  // s <- Pd (dropped and rescaled probabilities), dp <- dS / scale. Returns false when the tile is all zero.
  bool tile(int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc, const T* dd, T* s, T* dp) const {
    P.scores(b, i0, br, j0, bc, s);
    const T* lr = lse + b * P.L + i0;
    bool any = false;
    for (int64_t r = 0; r < br; ++r) {
      T* sr = s + r * kBc;
      if (lr[r] == -(T)INFINITY) {
        for (int64_t j = 0; j < bc; ++j) sr[j] = T(0);
        continue;
      }
      exp_row(sr, bc, lr[r]);
      for (int64_t j = 0; j < bc; ++j) any = any || sr[j] != T(0);
    }
    if (!any) return false;
    // dp = dO V^T (br x bc)
    const T* vb = (const T*)P.v->data + batch_off(*P.v, P.nb, b) + j0 * P.v->strides[P.nb];
    gemm(br, bc, P.Ev, dout + (b * P.L + i0) * P.Ev, P.Ev, 1, vb, 1, P.v->strides[P.nb], dp, kBc, T(1), T(0));
    const bool dropout = P.p > 0;
    for (int64_t r = 0; r < br; ++r) {
      T* sr = s + r * kBc;
      T* dr = dp + r * kBc;
      for (int64_t j = 0; j < bc; ++j) {
        const T pr = sr[j];
        if (dropout) {
          const bool kp = P.keep(b, i0 + r, j0 + j);
          const T g = kp ? dr[j] * P.keep_scale : T(0);
          dr[j] = pr * (g - dd[r]);
          sr[j] = kp ? pr * P.keep_scale : T(0);
        } else {
          dr[j] = pr * (dr[j] - dd[r]);
        }
      }
    }
    return true;
  }
};

template <typename T>
void bwd(const OpCall& c) {
  const Problem<T> P(c, c.nin > 6 ? &c.in[6] : nullptr);
  const BwdCtx<T> X(P, c);
  T* dq = (T*)c.out[0].data;
  T* dk = (T*)c.out[1].data;
  T* dv = (T*)c.out[2].data;
  const int64_t L = P.L, S = P.S, E = P.E, Ev = P.Ev, nb = P.nb;
  const int64_t nq = (L + kBr - 1) / kBr, nk = (S + kBc - 1) / kBc;
  const bool par = P.L * P.S * (P.E + Ev) * P.B >= (1 << 16);
  // pass 1, one task per (batch, key tile): dK and dV
#pragma omp parallel for schedule(dynamic, 1) if (par && P.B * nk > 1)
  for (int64_t t = 0; t < P.B * nk; ++t) {
    const int64_t b = t / nk, j0 = (t % nk) * kBc, bc = S - j0 < kBc ? S - j0 : kBc;
    T* s = (T*)workspace(2, sizeof(T) * (size_t)(2 * kBr * kBc + kBr));
    T* dp = s + kBr * kBc;
    T* dd = dp + kBr * kBc;
    T* dkb = dk + (b * S + j0) * E;
    T* dvb = dv + (b * S + j0) * Ev;
    for (int64_t x = 0; x < bc * E; ++x) dkb[x] = T(0);
    for (int64_t x = 0; x < bc * Ev; ++x) dvb[x] = T(0);
    const T* qb = (const T*)P.q->data + batch_off(*P.q, (int)nb, b);
    const int64_t qs = P.q->strides[nb];
    // causal: rows i < j0 see none of these keys
    for (int64_t i0 = P.causal ? (j0 / kBr) * kBr : 0; i0 < L; i0 += kBr) {
      const int64_t br = L - i0 < kBr ? L - i0 : kBr;
      X.delta(b, i0, br, dd);
      if (!X.tile(b, i0, br, j0, bc, dd, s, dp)) continue;
      gemm(bc, Ev, br, s, 1, kBc, X.dout + (b * L + i0) * Ev, Ev, 1, dvb, Ev, T(1), T(1));  // dV += Pd^T dO
      gemm(bc, E, br, dp, 1, kBc, qb + i0 * qs, qs, 1, dkb, E, P.scale, T(1));             // dK += scale dS^T Q
    }
  }
  // pass 2, one task per (batch, query tile): dQ
#pragma omp parallel for schedule(dynamic, 1) if (par && P.B * nq > 1)
  for (int64_t t = 0; t < P.B * nq; ++t) {
    const int64_t b = t / nq, i0 = (t % nq) * kBr, br = L - i0 < kBr ? L - i0 : kBr;
    T* s = (T*)workspace(2, sizeof(T) * (size_t)(2 * kBr * kBc + kBr));
    T* dp = s + kBr * kBc;
    T* dd = dp + kBr * kBc;
    T* dqb = dq + (b * L + i0) * E;
    for (int64_t x = 0; x < br * E; ++x) dqb[x] = T(0);
    const T* kb = (const T*)P.k->data + batch_off(*P.k, (int)nb, b);
    const int64_t ks = P.k->strides[nb];
    X.delta(b, i0, br, dd);
    const int64_t jend = P.key_end(i0, br);
    for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
      const int64_t bc = jend - j0 < kBc ? jend - j0 : kBc;
      if (!X.tile(b, i0, br, j0, bc, dd, s, dp)) continue;
      gemm(br, E, bc, dp, kBc, 1, kb + j0 * ks, ks, 1, dqb, E, P.scale, T(1));  // dQ += scale dS K
    }
  }
}
}  // namespace

void attention_f32(const OpCall& c) { fwd<float>(c); }
void attention_f64(const OpCall& c) { fwd<double>(c); }
void attention_bwd_f32(const OpCall& c) { bwd<float>(c); }
void attention_bwd_f64(const OpCall& c) { bwd<double>(c); }
TS_CPU_END
