// Packed, cache-blocked GEMM (the BLIS/Goto structure: Goto & van de Geijn, "Anatomy of High-Performance Matrix
// Multiplication", TOMS 2008). Loops: jc (NC columns of B, L3) -> pc (KC of K) -> pack B and A -> parallel tiles of
// (MC rows x a chunk of NR panels) -> jr -> ir -> MR x NR register-blocked micro-kernel.
// Micro-kernel shapes: AVX-512 12x32 f32 / 12x16 f64 (24 of 32 zmm accumulate), AVX2 6x16 / 6x8 (12 of 16 ymm),
// baseline SSE2 4x8 / 4x4. KC=256 keeps one packed B micro-panel (KC*NR*4 = 32 KiB) in L1 and the A block in L2.
// Thin shapes (one row block, or at most four B panels: conv's GEMMs) pack the operand used once per task inside
// the task, panel by panel into L1, instead of packing it whole first and reading it back from L3 or memory.
#include "kernels.h"

TS_CPU_BEGIN
namespace {

#if TS_ISA_ID == 2 && defined(TS_GEMM_MR)
constexpr int kMR = TS_GEMM_MR;
#elif TS_ISA_ID == 2
constexpr int kMR = 12;
#elif TS_ISA_ID == 1
constexpr int kMR = 6;
#else
constexpr int kMR = 4;
#endif
#ifndef TS_GEMM_NV
#define TS_GEMM_NV 2
#endif
constexpr int kNV = TS_GEMM_NV;  // vectors per micro-tile row
#ifndef TS_GEMM_KC
#define TS_GEMM_KC 256
#endif
constexpr int64_t kKC = TS_GEMM_KC;
constexpr int64_t kNC = 3072;

template <typename T>
struct Cfg {
  static constexpr int VL = Vec<T>::N;
  static constexpr int NR = kNV * VL;
  static constexpr int MR = kMR;
  static constexpr int64_t MC = kMR * 16;
};

// Ap: ceil(M/MR) panels of kc x MR, alpha folded in, zero-padded rows.
template <typename T>
void pack_a_panel(int64_t mr, int64_t kc, const T* A, int64_t rsA, int64_t csA, T alpha, T* Ap) {
  constexpr int MR = Cfg<T>::MR;
  if (mr == MR && csA == 1) {
    for (int64_t k = 0; k < kc; ++k)
      for (int i = 0; i < MR; ++i) Ap[k * MR + i] = alpha * A[i * rsA + k];
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    int i = 0;
    for (; i < mr; ++i) Ap[k * MR + i] = alpha * A[i * rsA + k * csA];
    for (; i < MR; ++i) Ap[k * MR + i] = T(0);
  }
}

// Bp: panels of kc x NR, zero-padded columns.
template <typename T>
void pack_b_panel(int64_t nr, int64_t kc, const T* B, int64_t rsB, int64_t csB, T* Bp) {
  constexpr int NR = Cfg<T>::NR;
  if (nr == NR && csB == 1) {
    for (int64_t k = 0; k < kc; ++k) memcpy(Bp + k * NR, B + k * rsB, sizeof(T) * NR);
    return;
  }
  if (rsB == 1) {  // B transposed (x W^T): read each column along its unit stride
    for (int64_t j = 0; j < nr; ++j) {
      const T* b = B + j * csB;
      for (int64_t k = 0; k < kc; ++k) Bp[k * NR + j] = b[k];
    }
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t j = nr; j < NR; ++j) Bp[k * NR + j] = T(0);
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    int j = 0;
    for (; j < nr; ++j) Bp[k * NR + j] = B[k * rsB + j * csB];
    for (; j < NR; ++j) Bp[k * NR + j] = T(0);
  }
}

struct Epi {
  bool first, last;  // first K block: apply beta; last: apply bias and ReLU
  double beta;
  int bias_mode;
  bool relu;
};

template <typename T>
inline void finish(T* c, int64_t ldc, const T* acc, int64_t mr, int64_t nr, const Epi& e, const T* bias_r,
                   const T* bias_c) {
  constexpr int NR = Cfg<T>::NR;
  const T beta = (T)e.beta;
  for (int64_t i = 0; i < mr; ++i) {
    T* ci = c + i * ldc;
    const T* ai = acc + i * NR;
    for (int64_t j = 0; j < nr; ++j) {
      T v = ai[j];
      if (!e.first) v += ci[j];
      else if (beta != T(0)) v += beta * ci[j];
      if (e.last) {
        if (e.bias_mode == 1) v += bias_r[i];
        else if (e.bias_mode == 2) v += bias_c[j];
        if (e.relu) v = v > T(0) ? v : T(0);
      }
      ci[j] = v;
    }
  }
}

template <typename T>
__attribute__((always_inline)) inline void micro(int64_t kc, const T* __restrict A, const T* __restrict B, T* C,
                                                 int64_t ldc, int64_t mr, int64_t nr, const Epi& e, const T* bias_r,
                                                 const T* bias_c) {
  using vt = typename Vec<T>::type;
  constexpr int MR = Cfg<T>::MR, VL = Cfg<T>::VL, NR = Cfg<T>::NR;
  vt c[MR][kNV];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < kNV; ++j) c[i][j] = vt{};
  for (int i = 0; i < MR; ++i) {  // the C tile is needed after the loop: start fetching it now
    __builtin_prefetch(C + i * ldc, 1);
    __builtin_prefetch(C + i * ldc + NR - 1, 1);
  }
  for (int64_t k = 0; k < kc; ++k) {
    vt b[kNV];
    for (int j = 0; j < kNV; ++j) b[j] = *(const vt*)(B + k * NR + j * VL);
    __builtin_prefetch(B + (k + 8) * NR);
    for (int i = 0; i < MR; ++i) {
      vt a = bcast(A[k * MR + i]);
      for (int j = 0; j < kNV; ++j) c[i][j] += a * b[j];
    }
  }
  const T beta = (T)e.beta;
  if (mr == MR && nr == NR) {
    // full tile: vector epilogue straight into C
    vt bc[kNV];
    if (e.last && e.bias_mode == 2)
      for (int j = 0; j < kNV; ++j) memcpy(&bc[j], bias_c + j * VL, sizeof(vt));
    for (int i = 0; i < MR; ++i) {
      T* ci = C + i * ldc;
      for (int j = 0; j < kNV; ++j) {
        vt v = c[i][j], old;
        if (!e.first) {
          memcpy(&old, ci + j * VL, sizeof(vt));
          v += old;
        } else if (beta != T(0)) {
          memcpy(&old, ci + j * VL, sizeof(vt));
          v += beta * old;
        }
        if (e.last) {
          if (e.bias_mode == 1) v += bias_r[i];
          else if (e.bias_mode == 2) v += bc[j];
          if (e.relu) v = v > vt{} ? v : vt{};
        }
        memcpy(ci + j * VL, &v, sizeof(vt));
      }
    }
    return;
  }
  alignas(64) T acc[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < kNV; ++j) *(vt*)(acc + i * NR + j * VL) = c[i][j];
  finish<T>(C, ldc, acc, mr, nr, e, bias_r, bias_c);
}

template <typename T>
void gemm_impl(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA, int64_t csA, const T* B, int64_t rsB,
               int64_t csB, T* C, int64_t ldc, T alpha, T beta, const T* bias, int bias_mode, bool relu,
               bool parallel) {
  constexpr int MR = Cfg<T>::MR, NR = Cfg<T>::NR;
  constexpr int64_t MC = Cfg<T>::MC;
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {  // C = beta*C (+ epilogue)
    Epi e{true, true, (double)beta, bias_mode, relu};
    alignas(64) T zero[MR * NR] = {};
    for (int64_t i = 0; i < M; i += MR)
      for (int64_t j = 0; j < N; j += NR) {
        int64_t mr = M - i < MR ? M - i : MR, nr = N - j < NR ? N - j : NR;
        finish<T>(C + i * ldc + j, ldc, zero, mr, nr, e, bias ? bias + i : nullptr, bias ? bias + j : nullptr);
      }
    return;
  }
  // Threads: a small C over a long K (fewer than two tiles per thread, or K >= 8 KC: 64x4000x64, a gradient's shape)
  // is split along K (below); otherwise one thread where there are fewer than two tiles per thread or under 2M
  // multiply-adds, where the parallel region's fork, barriers and shared packing cost more than they save (64x250x64:
  // 19 us on one thread, 31 on two; 64x64x576, 18 tiles: 67 us on one, 42 on two).
  int nt = parallel ? nthreads() : 1;
  const int64_t tiles = ((M + MC - 1) / MC) * ((N + NR - 1) / NR);
  const bool few_tiles = tiles < 2 * nt;
  const bool split_k = nt > 1 && M * N <= (int64_t(1) << 16) && ((few_tiles && K >= 2 * kKC) || K >= 8 * kKC);
  if (!split_k && (few_tiles || (double)M * N * K < 2e6)) nt = 1;
  const int64_t mpanels = (M + MR - 1) / MR;
  // Split along K: each thread takes a slice of K into its own copy of C, with no synchronisation per K block, and
  // the copies are summed (in thread order) with the epilogue applied once.
  if (split_k) {
    T* part = (T*)workspace(10, sizeof(T) * (size_t)(M * N * nt));
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      const int64_t k0 = K * t / nt, k1 = K * (t + 1) / nt;
      gemm_impl<T>(M, N, k1 - k0, A + k0 * csA, rsA, csA, B + k0 * rsB, rsB, csB, part + t * M * N, N, alpha, T(0),
                   nullptr, 0, false, false);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          T v = part[i * N + j];
          for (int u = 1; u < nt; ++u) v += part[u * M * N + i * N + j];
          T* c = C + i * ldc + j;
          if (beta != T(0)) v += beta * *c;
          if (bias_mode == 1) v += bias[i];
          else if (bias_mode == 2) v += bias[j];
          if (relu) v = v > T(0) ? v : T(0);
          *c = v;
        }
    }
    return;
  }
  // K blocks of (nearly) equal size: K=800 runs as 4 x 200, not 3 x 256 + 32 (a thin last block pays the C tile's
  // load and store for little work)
  // (and K up to 5/4 KC in one block: conv's K = 288 = 32 channels x 3x3; a 40 KiB B panel still fits L1)
  const int64_t kblocks = K <= kKC + kKC / 4 ? 1 : (K + kKC - 1) / kKC;
  const int64_t kc_max = (K + kblocks - 1) / kblocks;
  const int64_t nc_max = N < kNC ? N : kNC;
  T* Ap = (T*)workspace(0, sizeof(T) * (size_t)(mpanels * MR * kc_max));
  T* Bp = (T*)workspace(1, sizeof(T) * (size_t)(((nc_max + NR - 1) / NR) * NR * kc_max));
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = N - jc < kNC ? N - jc : kNC;
    const int64_t npanels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += kc_max) {
      const int64_t kc = K - pc < kc_max ? K - pc : kc_max;
      const Epi e{pc == 0, pc + kc >= K, (double)beta, bias_mode, relu};
      // row blocks of at most MC rows, all of (nearly) one size: a short last block would leave a thread idle
      const int64_t mblocks = (M + MC - 1) / MC;
      const int64_t mb_panels = (mpanels + mblocks - 1) / mblocks;
      // split the N panels into chunks so that there are enough tasks for every thread, in a multiple of the
      // thread count when the panels allow it (11 tasks on 2 threads would idle one for a twelfth of the time)
      int64_t nchunks = 1;
      while ((mblocks * nchunks < 4 * nt || (mblocks * nchunks) % nt != 0) && nchunks < npanels) ++nchunks;
      if (mblocks * nchunks < nt) nchunks = npanels;
      const int64_t chunk = (npanels + nchunks - 1) / nchunks;
      nchunks = (npanels + chunk - 1) / chunk;
      const int64_t tasks = mblocks * nchunks;
      // nt == 1 still opens a (one-thread) region so that the orphaned `omp for`s below bind to it and not to a
      // caller's parallel region (conv runs one GEMM per thread).
      // One row block: each B panel serves one task only, which packs it into a thread-local buffer just before
      // using it (in L1), instead of all panels being packed first and read back from L3 or memory: with few rows
      // (M=64, K=288, N=10816: a conv's GEMM) packing B that way cost as much as the arithmetic.
      const bool own_b = mblocks == 1;
      // Few B panels (N <= 4 NR: M=784, K=800, N=64): likewise each A micro-panel is packed by the task that uses
      // it, into L1, and meets every B panel there, rather than all of A being packed and read back npanels times.
      const bool own_a = !own_b && npanels <= 4;
#pragma omp parallel num_threads(nt)
      {
        if (!own_b) {
#pragma omp for schedule(static) nowait
          for (int64_t p = 0; p < npanels; ++p) {
            const int64_t j = p * NR, nr = nc - j < NR ? nc - j : NR;
            pack_b_panel<T>(nr, kc, B + pc * rsB + (jc + j) * csB, rsB, csB, Bp + p * NR * kc);
          }
        }
        if (own_a) {
          T* ap = (T*)workspace(9, sizeof(T) * (size_t)(MR * kc));
#pragma omp barrier
#pragma omp for schedule(dynamic, 2)
          for (int64_t q = 0; q < mpanels; ++q) {
            const int64_t i = q * MR, mr = M - i < MR ? M - i : MR;
            pack_a_panel<T>(mr, kc, A + i * rsA + pc * csA, rsA, csA, alpha, ap);
            for (int64_t p = 0; p < npanels; ++p) {
              const int64_t j = p * NR, nr = nc - j < NR ? nc - j : NR;
              micro<T>(kc, ap, Bp + p * NR * kc, C + i * ldc + jc + j, ldc, mr, nr, e, bias ? bias + i : nullptr,
                       bias ? bias + jc + j : nullptr);
            }
          }
        } else {
          T* bp_own = own_b ? (T*)workspace(8, sizeof(T) * (size_t)(NR * kc)) : nullptr;
#pragma omp for schedule(static)
          for (int64_t p = 0; p < mpanels; ++p) {
            const int64_t i = p * MR, mr = M - i < MR ? M - i : MR;
            pack_a_panel<T>(mr, kc, A + i * rsA + pc * csA, rsA, csA, alpha, Ap + p * MR * kc);
          }
#pragma omp for schedule(dynamic, 1)
          for (int64_t t = 0; t < tasks; ++t) {
            const int64_t mb = t % mblocks, ch = t / mblocks;
            const int64_t i0 = mb * mb_panels * MR, i1 = i0 + mb_panels * MR < M ? i0 + mb_panels * MR : M;
            const int64_t p0 = ch * chunk, p1 = p0 + chunk < npanels ? p0 + chunk : npanels;
            for (int64_t p = p0; p < p1; ++p) {
              const int64_t j = p * NR, nr = nc - j < NR ? nc - j : NR;
              const T* bp = Bp + p * NR * kc;
              if (own_b) {
                pack_b_panel<T>(nr, kc, B + pc * rsB + (jc + j) * csB, rsB, csB, bp_own);
                bp = bp_own;
              }
              for (int64_t i = i0; i < i1; i += MR) {
                const int64_t mr = M - i < MR ? M - i : MR;
                micro<T>(kc, Ap + (i / MR) * MR * kc, bp, C + i * ldc + jc + j, ldc, mr, nr, e,
                         bias ? bias + i : nullptr, bias ? bias + jc + j : nullptr);
              }
            }
          }
        }
      }
    }
  }
}
}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
           int64_t csB, float* C, int64_t ldc, float alpha, float beta, const float* bias, int bias_mode, bool relu,
           bool parallel) {
  gemm_impl<float>(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, bias, bias_mode, relu, parallel);
}
void dgemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsA, int64_t csA, const double* B, int64_t rsB,
           int64_t csB, double* C, int64_t ldc, double alpha, double beta, const double* bias, int bias_mode, bool relu,
           bool parallel) {
  gemm_impl<double>(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, bias, bias_mode, relu, parallel);
}

// matmul op: in[0] A [B?,M,K], in[1] B [B?,K,N], optional in[2] bias [N]; out[0] C [B,M,N] contiguous.
// A and B are 3-D views (lib/ops/matmul.ts folds batch dims; batch stride 0 broadcasts). ip[0] = relu.
template <typename T>
static void matmul_kernel(const OpCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  const int64_t Bn = o.shape[0], M = o.shape[1], N = o.shape[2], K = a.shape[2];
  const T* bias = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  const bool relu = c.nip > 0 && c.ip[0] != 0;
  for (int64_t bi = 0; bi < Bn; ++bi) {
    gemm_impl<T>(M, N, K, (const T*)a.data + bi * a.strides[0], a.strides[1], a.strides[2],
                 (const T*)b.data + bi * b.strides[0], b.strides[1], b.strides[2], (T*)o.data + bi * M * N, N, T(1),
                 T(0), bias, bias ? 2 : 0, relu, true);
  }
}
void matmul_f32(const OpCall& c) { matmul_kernel<float>(c); }
void matmul_f64(const OpCall& c) { matmul_kernel<double>(c); }
TS_CPU_END
