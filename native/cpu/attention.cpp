// Fused scaled-dot-product attention, the flash-attention scheme (Dao et al., "FlashAttention", NeurIPS 2022, and
// "FlashAttention-2", 2023): the L x S score matrix is never stored. Work goes by tiles of kBr query rows x kBc keys;
// each tile's products come from register-blocked micro-kernels in float32 (below, fwd_f32 / bwd_f32) and from one
// GEMM call each in float64 (native/cpu/gemm.cpp, single-threaded inside a task), masking, causality and dropout are
// applied in the tile, and
// - forward: an online softmax over the key tiles (running row max m and sum l; the output rows, accumulated in
//   place, are rescaled by exp(m_old - m_new) when the max grows). Saves each row's log-sum-exp of its scores.
// - backward: the probabilities are recomputed from the saved log-sum-exp, P = exp(S - lse), with
//   D = rowsum(dO * O) (= rowsum(dP * P), dropout included). Two passes, so that every output element has one
//   writer (no atomics, results independent of the thread count): over key tiles, dV = Pd^T dO and
//   dK = scale dS^T Q; over query tiles, dQ = scale dS K; with Pd = P * keep / (1 - p), dS = P * (dPd * keep /
//   (1 - p) - D), dPd = dO V^T.
// Parallel over (batch, tile) tasks with OpenMP (the float32 backward: one task per batch item when the batch splits
// evenly over the threads). Memory: per thread a few kBr x kBc tiles of workspace (float32 backward with one task per
// batch item: also L x E for dQ).
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
// exp(x - sh) with exp(-inf) = 0 computed as a select: vexp's clamped -104 would underflow through denormal products,
// which cost a microcode assist each (masked scores: half of a causal diagonal tile).
static inline vfloat vexp_shift(vfloat x, vfloat sh) {
  const vfloat z = bcast(0.0f);
  const auto dead = x == bcast(-INFINITY);
  return dead ? z : vexp(dead ? z : x - sh);
}
// The sum of v's lanes in vsum_lanes's order (halves added pairwise: the same bits) and their max, by shuffles
// instead of a round trip through memory.
static inline __m128 half_sum(vfloat v) {
#if TS_ISA_ID == 2
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
#elif TS_ISA_ID == 1
  return _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
#else
  return v;
#endif
}
static inline float hsum(vfloat v) {
  const __m128 b = half_sum(v);
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}
// s[j] <- exp(s[j] - mx), j < n; returns the sum (float32: vexp, summed lane-wise in a fixed order).
static inline float exp_row_sum(float* s, int64_t n, float mx) {
  constexpr int N = Vec<float>::N;
  const vfloat mb = bcast(mx);
  vfloat acc = bcast(0.0f);
  int64_t j = 0;
  for (; j + N <= n; j += N) {
    const vfloat e = vexp_shift(vloadu(s + j), mb);
    vstoreu(s + j, e);
    acc += e;
  }
  if (j < n) {
    const vfloat e = vexp_shift(vload_part(s + j, n - j, -INFINITY), mb);
    vstore_part(s + j, e, n - j);
    acc += e;
  }
  return hsum(acc);
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
    apply_masks(b, i0, br, j0, bc, s);
  }
  // The mask and causality on the tile's scores s (row stride kBc). A causal tile whose keys every row sees (j0 +
  // bc <= i0 + 1) costs nothing: each row's loop is empty.
  void apply_masks(int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc, T* s) const {
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
  // The number of keys of the tile (j0, bc) that row i can see: bc, or causal the first i + 1 - j0 (clamped).
  int64_t visible(int64_t i, int64_t j0, int64_t bc) const {
    if (!causal) return bc;
    const int64_t n = i + 1 - j0;
    return n < 0 ? 0 : n > bc ? bc : n;
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

// ---- float32: register-blocked micro-kernels instead of sgemm calls ----
// At head dims of 32-128 one tile's GEMM is 64 x 64 x E: sgemm's packing and dispatch cost as much as its
// arithmetic there. The float32 path computes each tile product with the micro-kernel mk below (MR rows x NV
// vectors of C in registers, A broadcast element by element along any strides, B rows of whole vectors), packs K
// and V once per (query tile, key tile) transposed or padded as the products need them (the copies are 1/64 of the
// arithmetic), and does the row work (max, exp, sums, rescale, dS) in vector code. Every element of C is one fixed
// sequence of FMAs over k, so results do not depend on the thread count or on which backward scheme runs.
constexpr int kN = Vec<float>::N;
#if TS_ISA_ID == 2
constexpr int kMR = 6, kNV = 4;  // 24 zmm accumulators
#elif TS_ISA_ID == 1
constexpr int kMR = 6, kNV = 2;  // 12 ymm
#else
constexpr int kMR = 4, kNV = 2;  // 8 xmm
#endif

static inline vfloat vfma(vfloat a, vfloat b, vfloat c) {
#if TS_ISA_ID == 2
  return _mm512_fmadd_ps(a, b, c);
#elif TS_ISA_ID == 1
  return _mm256_fmadd_ps(a, b, c);
#else
  return a * b + c;
#endif
}

// C[r][v kN + l] (+)= alpha sum_k A[r rsA + k csA] B[k ldb + v kN + l], r < MR, v < NV, k < K (acc: added to C).
template <int MR, int NV>
static void mk(int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t ldb, float* C,
               int64_t ldc, float alpha, bool acc) {
  vfloat c[MR][NV];
  TS_UNROLL for (int r = 0; r < MR; ++r) TS_UNROLL for (int v = 0; v < NV; ++v) c[r][v] = bcast(0.0f);
  for (int64_t k = 0; k < K; ++k) {
    vfloat bv[NV];
    TS_UNROLL for (int v = 0; v < NV; ++v) bv[v] = vloadu(B + k * ldb + v * kN);
    TS_UNROLL for (int r = 0; r < MR; ++r) {
      const vfloat a = bcast(A[r * rsA + k * csA]);
      TS_UNROLL for (int v = 0; v < NV; ++v) c[r][v] = vfma(a, bv[v], c[r][v]);
    }
  }
  const vfloat al = bcast(alpha);
  TS_UNROLL for (int r = 0; r < MR; ++r) TS_UNROLL for (int v = 0; v < NV; ++v) {
    float* p = C + r * ldc + v * kN;
    const vfloat x = c[r][v] * al;
    vstoreu(p, acc ? vloadu(p) + x : x);
  }
}
template <int MR>
static inline void mk_nv(int nv, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t ldb,
                         float* C, int64_t ldc, float alpha, bool acc) {
  switch (nv) {
    case 1: mk<MR, 1>(K, A, rsA, csA, B, ldb, C, ldc, alpha, acc); break;
    case 2: mk<MR, 2>(K, A, rsA, csA, B, ldb, C, ldc, alpha, acc); break;
#if TS_ISA_ID == 2
    case 3: mk<MR, 3>(K, A, rsA, csA, B, ldb, C, ldc, alpha, acc); break;
    case 4: mk<MR, 4>(K, A, rsA, csA, B, ldb, C, ldc, alpha, acc); break;
#endif
    default: break;
  }
}
// C (M x nv vectors, row stride ldc) (+)= alpha A B; A is M x K (strides rsA, csA), B is K x nv vectors (row stride
// ldb). Column blocks of kNV vectors outside, row blocks inside (the B block stays in L1): kMR rows, or 2 kMR when
// the block is at most kNV / 2 vectors wide (Ev = 32 on AVX-512: 12 x 2 accumulators).
static void mm(int64_t M, int nv, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t ldb,
               float* C, int64_t ldc, float alpha, bool acc) {
  for (int v0 = 0; v0 < nv; v0 += kNV) {
    const int w = nv - v0 < kNV ? nv - v0 : kNV;
    const float* Bv = B + v0 * kN;
    float* Cv = C + v0 * kN;
    int64_t r = 0;
    if (2 * w <= kNV)
      for (; r + 2 * kMR <= M; r += 2 * kMR) {
        if (w == 1) mk<2 * kMR, 1>(K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc);
#if TS_ISA_ID == 2
        else mk<2 * kMR, 2>(K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc);
#endif
      }
    for (; r + kMR <= M; r += kMR) mk_nv<kMR>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc);
    switch (M - r) {
      case 0: break;
      case 1: mk_nv<1>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc); break;
      case 2: mk_nv<2>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc); break;
      case 3: mk_nv<3>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc); break;
#if TS_ISA_ID != 0
      case 4: mk_nv<4>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc); break;
      case 5: mk_nv<5>(w, K, A + r * rsA, rsA, csA, Bv, ldb, Cv + r * ldc, ldc, alpha, acc); break;
#endif
      default: break;
    }
  }
}
static inline int64_t vecs(int64_t n) { return (n + kN - 1) / kN; }

// dst[e ld + j] = src[j rs + e] for j < n, e < E, and 0 for j in [n, npad): a key tile transposed for q k^T.
static void pack_t(const float* src, int64_t rs, int64_t n, int64_t E, int64_t npad, float* dst, int64_t ld) {
#if TS_ISA_ID != 0
  if (rs < ((int64_t)1 << 31) / kN) {  // a gather of kN rows per column: offsets j rs fit in int32
    alignas(64) int32_t off[kN];
    for (int i = 0; i < kN; ++i) off[i] = (int32_t)(i * rs);
    int64_t j = 0;
#if TS_ISA_ID == 2
    const __m512i ix = _mm512_load_si512(off);
    for (; j + kN <= n; j += kN)
      for (int64_t e = 0; e < E; ++e) _mm512_storeu_ps(dst + e * ld + j, _mm512_i32gather_ps(ix, src + j * rs + e, 4));
#else
    const __m256i ix = _mm256_load_si256((const __m256i*)off);
    for (; j + kN <= n; j += kN)
      for (int64_t e = 0; e < E; ++e) _mm256_storeu_ps(dst + e * ld + j, _mm256_i32gather_ps(src + j * rs + e, ix, 4));
#endif
    for (; j < n; ++j)
      for (int64_t e = 0; e < E; ++e) dst[e * ld + j] = src[j * rs + e];
    for (int64_t e = 0; e < E; ++e)
      for (int64_t jj = n; jj < npad; ++jj) dst[e * ld + jj] = 0.0f;
    return;
  }
#endif
  for (int64_t j = 0; j < n; ++j)
    for (int64_t e = 0; e < E; ++e) dst[e * ld + j] = src[j * rs + e];
  for (int64_t e = 0; e < E; ++e)
    for (int64_t j = n; j < npad; ++j) dst[e * ld + j] = 0.0f;
}
// Rows of whole vectors for B operands: src itself (row stride rs) when E is a multiple of the vector width, else the
// n rows copied to dst (row stride ld = vecs(E) kN, zero-padded).
static const float* rows_b(const float* src, int64_t rs, int64_t n, int64_t E, float* dst, int64_t& ld) {
  if (E % kN == 0) {
    ld = rs;
    return src;
  }
  ld = vecs(E) * kN;
  for (int64_t j = 0; j < n; ++j) {
    memcpy(dst + j * ld, src + j * rs, sizeof(float) * (size_t)E);
    memset(dst + j * ld + E, 0, sizeof(float) * (size_t)(ld - E));
  }
  return dst;
}
// s[j] <- exp(s[j] - sh), j < n; returns whether any is nonzero.
static inline bool exp_row_any(float* s, int64_t n, float sh) {
  const vfloat shv = bcast(sh), zero = bcast(0.0f);
  vfloat mx = zero;
  int64_t j = 0;
  for (; j + kN <= n; j += kN) {
    const vfloat e = vexp_shift(vloadu(s + j), shv);
    vstoreu(s + j, e);
    mx = e > mx ? e : mx;
  }
  if (j < n) {
    const vfloat e = vexp_shift(vload_part(s + j, n - j, 0.0f), shv);
    vstore_part(s + j, e, n - j);
    const vfloat ez = vload_part(s + j, n - j, 0.0f);
    mx = ez > mx ? ez : mx;
  }
  return vmax_lanes(mx) > 0.0f;
}
static inline void scale_row(float* o, int64_t n, float a) {  // n a multiple of kN
  const vfloat av = bcast(a);
  for (int64_t e = 0; e < n; e += kN) vstoreu(o + e, vloadu(o + e) * av);
}

// Scratch carved from one workspace slot, 64-byte aligned pieces.
struct Carve {
  float* p;
  float* take(int64_t n) {
    float* r = p;
    p += (n + 15) / 16 * 16;
    return r;
  }
};
static inline size_t carve_bytes(const int64_t* ns, int k) {
  size_t t = 0;
  for (int i = 0; i < k; ++i) t += (size_t)((ns[i] + 15) / 16 * 16) * sizeof(float);
  return t;
}

void fwd_f32(const OpCall& c) {
  const Problem<float> P(c, c.nin > 3 ? &c.in[3] : nullptr);
  float* out = (float*)c.out[0].data;
  float* lse = (float*)c.out[1].data;
  const int nb = P.nb;
  const int64_t L = P.L, E = P.E, Ev = P.Ev, nq = (L + kBr - 1) / kBr, tasks = P.B * nq;
  const int nvv = (int)vecs(Ev);
  const int64_t Evp = nvv * kN;
  const int64_t qs = P.q->strides[nb], ks = P.k->strides[nb], vs = P.v->strides[nb];
  const bool dropout = P.p > 0;
  const int64_t sizes[] = {kBr * kBc, E * kBc, kBc * Evp, kBr * Evp, 4 * kBr};
#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && P.L * P.S * (P.E + Ev) * P.B >= (1 << 16))
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t b = t / nq, i0 = (t % nq) * kBr, br = L - i0 < kBr ? L - i0 : kBr;
    Carve w{(float*)workspace(2, carve_bytes(sizes, 5))};
    float* s = w.take(sizes[0]);
    float* kt = w.take(sizes[1]);
    float* vp = w.take(sizes[2]);
    float* oa = w.take(sizes[3]);
    float* m = w.take(sizes[4]);
    float* l = m + kBr;
    float* mn = l + kBr;
    float* al = mn + kBr;
    for (int64_t r = 0; r < br; ++r) {
      m[r] = -INFINITY;
      l[r] = 0.0f;
    }
    memset(oa, 0, sizeof(float) * (size_t)(br * Evp));
    const float* qb = (const float*)P.q->data + batch_off(*P.q, nb, b) + i0 * qs;
    const float* kb = (const float*)P.k->data + batch_off(*P.k, nb, b);
    const float* vb = (const float*)P.v->data + batch_off(*P.v, nb, b);
    const int64_t jend = P.key_end(i0, br);
    for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
      const int64_t bc = jend - j0 < kBc ? jend - j0 : kBc, nvs = vecs(bc);
      pack_t(kb + j0 * ks, ks, bc, E, nvs * kN, kt, kBc);
      int64_t vld;
      const float* vt = rows_b(vb + j0 * vs, vs, bc, Ev, vp, vld);
      mm(br, (int)nvs, E, qb, qs, 1, kt, kBc, s, kBc, P.scale, false);  // s = scale q k^T
      P.apply_masks(b, i0, br, j0, bc, s);
      // the new row maxima, then alpha = exp(m_old - m_new) for all rows at once (0 where m_old is -inf)
      for (int64_t r = 0; r < br; ++r) mn[r] = vrow_max(s + r * kBc, P.visible(i0 + r, j0, bc), m[r]);
      for (int64_t r = 0; r < br; r += kN) {
        const int64_t n = br - r < kN ? br - r : kN;
        vstore_part(al + r, vexp_shift(vload_part(m + r, n, 0.0f), vload_part(mn + r, n, 0.0f)), n);
      }
      for (int64_t r = 0; r < br; ++r) {
        float* sr = s + r * kBc;
        const float mx = mn[r];
        if (mx == -INFINITY) {  // every key so far masked: nothing to add
          memset(sr, 0, sizeof(float) * (size_t)bc);
          continue;
        }
        const int64_t n = P.visible(i0 + r, j0, bc);  // causal: the keys past n are masked
        const float sum = exp_row_sum(sr, n, mx);
        memset(sr + n, 0, sizeof(float) * (size_t)(bc - n));
        if (dropout)
          for (int64_t j = 0; j < bc; ++j) sr[j] = P.keep(b, i0 + r, j0 + j) ? sr[j] * P.keep_scale : 0.0f;
        const float alpha = al[r];
        l[r] = l[r] * alpha + sum;
        m[r] = mx;
        if (alpha != 1.0f) scale_row(oa + r * Evp, Evp, alpha);
      }
      mm(br, nvv, bc, s, kBc, 1, vt, vld, oa, Evp, 1.0f, true);  // o += p v
    }
    for (int64_t r = 0; r < br; ++r) {
      const bool empty = l[r] == 0.0f;
      const float inv = empty ? 0.0f : 1.0f / l[r];
      float* orow = out + (b * L + i0 + r) * Ev;
      for (int64_t e = 0; e < Ev; ++e) orow[e] = oa[r * Evp + e] * inv;
      lse[b * L + i0 + r] = empty ? -INFINITY : m[r] + (float)log((double)l[r]);
    }
  }
}

// The backward of one (query tile, key tile): s <- Pd, dp <- dS / scale (row stride kBc); kt the key tile transposed
// (E x kBc), vt the value tile transposed (Ev x kBc), dd D of the tile's rows. Returns false when every probability
// of the tile is 0 (nothing to add).
static bool bwd_tile_f32(const BwdCtx<float>& X, int64_t b, int64_t i0, int64_t br, int64_t j0, int64_t bc,
                         const float* kt, const float* vt, const float* dd, float* s, float* dp) {
  const Problem<float>& P = X.P;
  const int64_t nvs = vecs(bc);
  const float* qb = (const float*)P.q->data + batch_off(*P.q, P.nb, b) + i0 * P.q->strides[P.nb];
  mm(br, (int)nvs, P.E, qb, P.q->strides[P.nb], 1, kt, kBc, s, kBc, P.scale, false);
  P.apply_masks(b, i0, br, j0, bc, s);
  const float* lr = X.lse + b * P.L + i0;
  bool any = false;
  for (int64_t r = 0; r < br; ++r) {
    float* sr = s + r * kBc;
    if (lr[r] == -INFINITY) {
      memset(sr, 0, sizeof(float) * (size_t)bc);
      continue;
    }
    const int64_t n = P.visible(i0 + r, j0, bc);  // causal: the keys past n are masked
    any = exp_row_any(sr, n, lr[r]) || any;
    memset(sr + n, 0, sizeof(float) * (size_t)(bc - n));
  }
  if (!any) return false;
  mm(br, (int)nvs, P.Ev, X.dout + (b * P.L + i0) * P.Ev, P.Ev, 1, vt, kBc, dp, kBc, 1.0f, false);  // dp = dO V^T
  if (P.p > 0) {
    for (int64_t r = 0; r < br; ++r) {
      float* sr = s + r * kBc;
      float* dr = dp + r * kBc;
      for (int64_t j = 0; j < bc; ++j) {
        const float pr = sr[j];
        const bool kp = P.keep(b, i0 + r, j0 + j);
        const float g = kp ? dr[j] * P.keep_scale : 0.0f;
        dr[j] = pr * (g - dd[r]);
        sr[j] = kp ? pr * P.keep_scale : 0.0f;
      }
    }
  } else {
    for (int64_t r = 0; r < br; ++r) {
      const float* sr = s + r * kBc;
      float* dr = dp + r * kBc;
      const vfloat d = bcast(dd[r]);
      for (int64_t j = 0; j < nvs * kN; j += kN) vstoreu(dr + j, vloadu(sr + j) * (vloadu(dr + j) - d));
    }
  }
  return true;
}

// Backward, float32. Scheme by batch size: with at least 4 batch items per thread, or a multiple of the thread count,
// one task per batch item does both passes' work in one (each tile's probabilities and dS computed once: dK, dV and
// dQ of that item have this one writer); otherwise the two passes of the generic path (tasks per key tile, then per
// query tile). Both add every tile's contribution to dQ, dK, dV in the same order with the same kernels: the same
// bits either way.
void bwd_f32(const OpCall& c) {
  const Problem<float> P(c, c.nin > 6 ? &c.in[6] : nullptr);
  const BwdCtx<float> X(P, c);
  float* dq = (float*)c.out[0].data;
  float* dk = (float*)c.out[1].data;
  float* dv = (float*)c.out[2].data;
  const int nb = P.nb;
  const int64_t L = P.L, S = P.S, E = P.E, Ev = P.Ev, nq = (L + kBr - 1) / kBr, nk = (S + kBc - 1) / kBc;
  const int nve = (int)vecs(E), nvv = (int)vecs(Ev);
  const int64_t Ep = nve * kN, Evp = nvv * kN;
  const int64_t qs = P.q->strides[nb], ks = P.k->strides[nb], vs = P.v->strides[nb];
  const bool par = P.L * P.S * (P.E + Ev) * P.B >= (1 << 16);
  const int64_t nt = nthreads();
  const bool fused = !par || P.B >= 4 * nt || (P.B >= nt && P.B % nt == 0);
  // workspace: s, dp, kt, vt, packed k rows, packed q rows, packed dO rows, dK and dV accumulators, D, dQ accumulator
  const int64_t qrows = fused ? L : kBr;
  const int64_t sizes[] = {kBr * kBc, kBr * kBc, E * kBc, Ev * kBc, kBc * Ep, kBr * Ep, kBr * Evp,
                           kBc * Ep, kBc * Evp, qrows, qrows * Ep};
  const size_t bytes = carve_bytes(sizes, 11);
  struct Bufs {
    float *s, *dp, *kt, *vt, *kp, *qp, *dop, *dka, *dva, *dd, *dqa;
  };
  auto carve = [&]() {
    Carve w{(float*)workspace(2, bytes)};
    Bufs u;
    u.s = w.take(sizes[0]);
    u.dp = w.take(sizes[1]);
    u.kt = w.take(sizes[2]);
    u.vt = w.take(sizes[3]);
    u.kp = w.take(sizes[4]);
    u.qp = w.take(sizes[5]);
    u.dop = w.take(sizes[6]);
    u.dka = w.take(sizes[7]);
    u.dva = w.take(sizes[8]);
    u.dd = w.take(sizes[9]);
    u.dqa = w.take(sizes[10]);
    return u;
  };
  // the key tile's operands: kt, vt (transposed), k rows for dQ
  auto key_tile = [&](const Bufs& u, int64_t b, int64_t j0, int64_t bc, int64_t& kld) {
    const float* kb = (const float*)P.k->data + batch_off(*P.k, nb, b) + j0 * ks;
    const float* vb = (const float*)P.v->data + batch_off(*P.v, nb, b) + j0 * vs;
    pack_t(kb, ks, bc, E, vecs(bc) * kN, u.kt, kBc);
    pack_t(vb, vs, bc, Ev, vecs(bc) * kN, u.vt, kBc);
    return rows_b(kb, ks, bc, E, u.kp, kld);
  };
  // dV += Pd^T dO, dK += scale dS^T Q for the tile (i0, br) x (j0, bc), accumulators of row stride Evp / Ep
  auto add_dkdv = [&](const Bufs& u, int64_t b, int64_t i0, int64_t br, int64_t bc) {
    int64_t qld, dld;
    const float* qr = rows_b((const float*)P.q->data + batch_off(*P.q, nb, b) + i0 * qs, qs, br, E, u.qp, qld);
    const float* dr = rows_b(X.dout + (b * L + i0) * Ev, Ev, br, Ev, u.dop, dld);
    mm(bc, nvv, br, u.s, 1, kBc, dr, dld, u.dva, Evp, 1.0f, true);
    mm(bc, nve, br, u.dp, 1, kBc, qr, qld, u.dka, Ep, P.scale, true);
  };
  auto store_dkdv = [&](const Bufs& u, int64_t b, int64_t j0, int64_t bc) {
    for (int64_t j = 0; j < bc; ++j) {
      memcpy(dk + (b * S + j0 + j) * E, u.dka + j * Ep, sizeof(float) * (size_t)E);
      memcpy(dv + (b * S + j0 + j) * Ev, u.dva + j * Evp, sizeof(float) * (size_t)Ev);
    }
  };
  auto store_dq = [&](const float* dqa, int64_t b, int64_t i0, int64_t br) {
    for (int64_t r = 0; r < br; ++r) memcpy(dq + (b * L + i0 + r) * E, dqa + r * Ep, sizeof(float) * (size_t)E);
  };
  if (fused) {
#pragma omp parallel for schedule(dynamic, 1) if (par && P.B > 1)
    for (int64_t b = 0; b < P.B; ++b) {
      const Bufs u = carve();
      X.delta(b, 0, L, u.dd);
      memset(u.dqa, 0, sizeof(float) * (size_t)(L * Ep));
      for (int64_t j0 = 0; j0 < S; j0 += kBc) {
        const int64_t bc = S - j0 < kBc ? S - j0 : kBc;
        int64_t kld;
        const float* kr = key_tile(u, b, j0, bc, kld);
        memset(u.dka, 0, sizeof(float) * (size_t)(bc * Ep));
        memset(u.dva, 0, sizeof(float) * (size_t)(bc * Evp));
        for (int64_t i0 = P.causal ? (j0 / kBr) * kBr : 0; i0 < L; i0 += kBr) {
          const int64_t br = L - i0 < kBr ? L - i0 : kBr;
          if (!bwd_tile_f32(X, b, i0, br, j0, bc, u.kt, u.vt, u.dd + i0, u.s, u.dp)) continue;
          add_dkdv(u, b, i0, br, bc);
          mm(br, nve, bc, u.dp, kBc, 1, kr, kld, u.dqa + i0 * Ep, Ep, P.scale, true);  // dQ += scale dS K
        }
        store_dkdv(u, b, j0, bc);
      }
      store_dq(u.dqa, b, 0, L);
    }
    return;
  }
  // pass 1, one task per (batch, key tile): dK and dV
#pragma omp parallel for schedule(dynamic, 1) if (P.B * nk > 1)
  for (int64_t t = 0; t < P.B * nk; ++t) {
    const int64_t b = t / nk, j0 = (t % nk) * kBc, bc = S - j0 < kBc ? S - j0 : kBc;
    const Bufs u = carve();
    int64_t kld;
    key_tile(u, b, j0, bc, kld);
    memset(u.dka, 0, sizeof(float) * (size_t)(bc * Ep));
    memset(u.dva, 0, sizeof(float) * (size_t)(bc * Evp));
    for (int64_t i0 = P.causal ? (j0 / kBr) * kBr : 0; i0 < L; i0 += kBr) {
      const int64_t br = L - i0 < kBr ? L - i0 : kBr;
      X.delta(b, i0, br, u.dd);
      if (!bwd_tile_f32(X, b, i0, br, j0, bc, u.kt, u.vt, u.dd, u.s, u.dp)) continue;
      add_dkdv(u, b, i0, br, bc);
    }
    store_dkdv(u, b, j0, bc);
  }
  // pass 2, one task per (batch, query tile): dQ
#pragma omp parallel for schedule(dynamic, 1) if (P.B * nq > 1)
  for (int64_t t = 0; t < P.B * nq; ++t) {
    const int64_t b = t / nq, i0 = (t % nq) * kBr, br = L - i0 < kBr ? L - i0 : kBr;
    const Bufs u = carve();
    X.delta(b, i0, br, u.dd);
    memset(u.dqa, 0, sizeof(float) * (size_t)(br * Ep));
    const int64_t jend = P.key_end(i0, br);
    for (int64_t j0 = 0; j0 < jend; j0 += kBc) {
      const int64_t bc = jend - j0 < kBc ? jend - j0 : kBc;
      int64_t kld;
      const float* kr = key_tile(u, b, j0, bc, kld);
      if (!bwd_tile_f32(X, b, i0, br, j0, bc, u.kt, u.vt, u.dd, u.s, u.dp)) continue;
      mm(br, nve, bc, u.dp, kBc, 1, kr, kld, u.dqa, Ep, P.scale, true);  // dQ += scale dS K
    }
    store_dq(u.dqa, b, i0, br);
  }
}
}  // namespace

void attention_f32(const OpCall& c) { fwd_f32(c); }
void attention_f64(const OpCall& c) { fwd<double>(c); }
void attention_bwd_f32(const OpCall& c) { bwd_f32(c); }
void attention_bwd_f64(const OpCall& c) { bwd<double>(c); }
TS_CPU_END
