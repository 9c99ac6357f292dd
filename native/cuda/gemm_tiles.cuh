// The tiled GEMM engine shared by gemm.cu (matmul) and conv2d.cu (implicit-GEMM convolutions). Private to those two
// files (no relocatable device code: every kernel here is a template instantiated in the file that launches it).
//
// C[b][m][n] = sum over r of A(b, m, r) * B(b, r, n), then an epilogue (bias, ReLU, the store's layout).
// A and B are "operands" seen as (outer, red) matrices: A's outer is m, B's outer is n, red is the reduction index.
// An operand is either a strided matrix (Mat: element at p[b*sb + outer*so + red*sr]) or a gather (conv's implicit
// im2col and friends: a struct with Ctx ctx(b, outer) decoded once per tile and T at(ctx, red)).
//
// Block tile BM x BN x BK, (BM/TM)*(BN/TN) threads, each computing TM x TN outputs held in registers as two
// TM/2 x TN/2 halves (rows ty*TM/2.. and BM/2 + ty*TM/2.., likewise columns), so that a warp's shared-memory reads
// are broadcasts (A) or one contiguous run (B) and vectorised. Shared memory holds the tiles transposed to
// [BK][BM + pad] and [BK][BN + pad], double buffered: the next tile is fetched into registers from global memory
// while the current one is multiplied, then stored to the other buffer (one __syncthreads per BK step).
// Global loads are 16-byte vectors where the operand's unit-stride direction and the address allow it (full tiles),
// scalar with bounds checks elsewhere (partial tiles, odd strides, misaligned views).
//
// Split-K: when the tiles alone cannot fill the device, K is cut into S slices of kchunk (a multiple of BK); each
// slice writes its partial C into workspace, and a second kernel adds the S partials in slice order and applies the
// epilogue: the sum's order is fixed by the shape alone (no atomics), so results are the same run to run. The
// choice of tile size and S depends on the shape only, not on the device.
#pragma once
#include "common.cuh"
#include <climits>

namespace tensile {
namespace cuda {
namespace gemm {

template <typename T, int N>
struct VecOf;
template <> struct VecOf<float, 1> { using type = float; };
template <> struct VecOf<float, 2> { using type = float2; };
template <> struct VecOf<float, 4> { using type = float4; };
template <> struct VecOf<double, 1> { using type = double; };
template <> struct VecOf<double, 2> { using type = double2; };

// N elements from an address aligned to N*sizeof(T) (one vector access).
template <typename T, int N>
__device__ __forceinline__ void vload(T* dst, const T* src) {
  using V = typename VecOf<T, N>::type;
  const V v = *reinterpret_cast<const V*>(src);
  const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
  for (int i = 0; i < N; ++i) dst[i] = e[i];
}
template <typename T, int N>
__device__ __forceinline__ void vstore(T* dst, const T* src) {
  using V = typename VecOf<T, N>::type;
  V v;
  T* e = reinterpret_cast<T*>(&v);
#pragma unroll
  for (int i = 0; i < N; ++i) e[i] = src[i];
  *reinterpret_cast<V*>(dst) = v;
}
template <typename T, int N>
__device__ __forceinline__ bool aligned(const T* p) {
  return (reinterpret_cast<uintptr_t>(p) & (uintptr_t)(N * sizeof(T) - 1)) == 0;
}

// a / b for a >= 0, b > 0: a 32-bit division when both fit (a 64-bit one is a long instruction sequence).
__device__ __forceinline__ int64_t udiv(int64_t a, int64_t b) {
  if (a <= (int64_t)UINT_MAX && b <= (int64_t)UINT_MAX) return (int64_t)((unsigned)a / (unsigned)b);
  return a / b;
}

template <typename T, int BM_, int BN_, int BK_, int TM_, int TN_, int MINB_ = 1>
struct Cfg {
  using type = T;
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int NT = (BM / TM) * (BN / TN);
  static constexpr int MINB = MINB_;  // blocks per SM the registers must allow (__launch_bounds__)
  static constexpr int PAD = 16 / (int)sizeof(T);  // keeps rows 16-byte aligned, shifts banks between rows
  static constexpr int LDA = BM + PAD, LDB = BN + PAD;
  static constexpr size_t smem = sizeof(T) * 2 * BK * (LDA + LDB);
  static_assert(TM % 2 == 0 && TN % 2 == 0, "two halves per thread");
  static_assert((TM / 2) * sizeof(T) <= 16 && (TN / 2) * sizeof(T) <= 16, "shared reads of at most 16 bytes");
};
// f32: 128x128x8 tiles, 8x8 per thread (256 threads); 64x64x8, 4x4 for small problems.
// f64: 64x64x8, 4x4; 32x32x8, 2x2.
template <typename T>
struct Cfgs;
template <>
struct Cfgs<float> {
  using Big = Cfg<float, 128, 128, 8, 8, 8>;
  using Small = Cfg<float, 64, 64, 8, 4, 4>;
};
template <>
struct Cfgs<double> {
  using Big = Cfg<double, 64, 64, 8, 4, 4>;
  using Small = Cfg<double, 32, 32, 8, 2, 2>;
};

// A strided matrix operand: element (outer, red) of batch b at p[b*sb + outer*so + red*sr].
template <typename T>
struct Mat {
  static constexpr bool kMat = true;
  const T* p;
  int64_t sb, so, sr;
};

// Per-thread loading of one OUT x BK tile of an operand into registers (fetch) and then into shared memory laid
// out [BK][ld] (stash). Each thread owns E = OUT*BK/NT elements.
template <typename T, int OUT, int BK, int NT, class D, bool MAT = D::kMat>
struct Loader;

// Strided matrices. sr == 1 (the reduction runs along memory): each thread loads E consecutive red elements of one
// outer row (a vector when aligned and inside the tile). Otherwise each thread loads E consecutive outer elements
// of one red row (a vector when so == 1, aligned and inside the tile; strided scalars otherwise).
template <typename T, int OUT, int BK, int NT, class D>
struct Loader<T, OUT, BK, NT, D, true> {
  static constexpr int E = OUT * BK / NT;
  static_assert(E >= 1 && BK % E == 0 && OUT % E == 0, "tile shape");
  const T* base;
  int64_t o0, outer_n;
  int outer, red;
  bool red_fast;
  T r[E];
  __device__ __forceinline__ void begin(const D& d, int64_t b, int64_t o0_, int64_t outer_n_, int tid) {
    base = d.p + b * d.sb;
    o0 = o0_;
    outer_n = outer_n_;
    red_fast = d.sr == 1;
    if (red_fast) {
      outer = tid / (BK / E);
      red = (tid % (BK / E)) * E;
    } else {
      red = tid / (OUT / E);
      outer = (tid % (OUT / E)) * E;
    }
  }
  __device__ __forceinline__ void fetch(const D& d, int64_t k0, int64_t kend) {
    if (red_fast) {
      const int64_t o = o0 + outer, k = k0 + red;
      if (o >= outer_n) {
#pragma unroll
        for (int e = 0; e < E; ++e) r[e] = T(0);
        return;
      }
      const T* q = base + o * d.so + k;
      if (k + E <= kend && aligned<T, E>(q)) {
        vload<T, E>(r, q);
      } else {
#pragma unroll
        for (int e = 0; e < E; ++e) r[e] = k + e < kend ? q[e] : T(0);
      }
    } else {
      const int64_t k = k0 + red, o = o0 + outer;
      if (k >= kend) {
#pragma unroll
        for (int e = 0; e < E; ++e) r[e] = T(0);
        return;
      }
      const T* q = base + o * d.so + k * d.sr;
      if (d.so == 1 && o + E <= outer_n && aligned<T, E>(q)) {
        vload<T, E>(r, q);
      } else {
#pragma unroll
        for (int e = 0; e < E; ++e) r[e] = o + e < outer_n ? q[e * d.so] : T(0);
      }
    }
  }
  __device__ __forceinline__ void stash(T* s, int ld) const {
    if (red_fast) {
#pragma unroll
      for (int e = 0; e < E; ++e) s[(red + e) * ld + outer] = r[e];
    } else {
      vstore<T, E>(s + red * ld + outer, r);
    }
  }
};

// Gathers: one outer index per thread (its context decoded once per tile). kRedFast: E consecutive red elements
// (memory runs along red: consecutive threads read consecutive addresses); otherwise consecutive threads take
// consecutive outer indices and each E red rows NT/OUT apart.
template <typename T, int OUT, int BK, int NT, class D>
struct Loader<T, OUT, BK, NT, D, false> {
  static constexpr int E = OUT * BK / NT;
  static_assert(E >= 1 && BK % E == 0 && NT % OUT == 0, "tile shape");
  static constexpr int STEP = D::kRedFast ? 1 : NT / OUT;
  typename D::Ctx ctx;
  bool valid;
  int outer, red;
  T r[E];
  __device__ __forceinline__ void begin(const D& d, int64_t b, int64_t o0, int64_t outer_n, int tid) {
    if (D::kRedFast) {
      outer = tid / (BK / E);
      red = (tid % (BK / E)) * E;
    } else {
      outer = tid % OUT;
      red = tid / OUT;
    }
    valid = o0 + outer < outer_n;
    ctx = valid ? d.ctx(b, o0 + outer) : typename D::Ctx{};
  }
  __device__ __forceinline__ void fetch(const D& d, int64_t k0, int64_t kend) {
#pragma unroll
    for (int e = 0; e < E; ++e) {
      const int64_t k = k0 + red + e * STEP;
      r[e] = valid && k < kend ? d.at(ctx, k) : T(0);
    }
  }
  __device__ __forceinline__ void stash(T* s, int ld) const {
#pragma unroll
    for (int e = 0; e < E; ++e) s[(red + e * STEP) * ld + outer] = r[e];
  }
};

struct Shape {
  int64_t batch, M, N, K;
  int64_t splits, kchunk;  // K slices [s*kchunk, min(K, (s+1)*kchunk))
  int64_t tiles_m, tiles_n, total;  // total = batch * splits * tiles_m * tiles_n
};

// Epilogue interface: store<V>(b, split, m, n, v, cnt) writes C[b][m][n .. n+cnt) (cnt <= V) from v.
// The split-K partial sums: part[split][b][m][n].
template <typename T>
struct Partial {
  T* part;
  int64_t bmn, M, N;
  template <int V>
  __device__ __forceinline__ void store(int64_t b, int64_t split, int64_t m, int64_t n, const T* v, int cnt) const {
    T* q = part + split * bmn + (b * M + m) * N + n;
    if (cnt == V && aligned<T, V>(q)) {
      vstore<T, V>(q, v);
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e)
        if (e < cnt) q[e] = v[e];
    }
  }
};

template <typename T, class C, class DA, class DB, class Epi>
__global__ void __launch_bounds__(C::NT, C::MINB) tile_kernel(DA da, DB db, Epi epi, Shape sh) {
  constexpr int BM = C::BM, BN = C::BN, BK = C::BK, TM = C::TM, TN = C::TN, NT = C::NT;
  constexpr int LDA = C::LDA, LDB = C::LDB, HM = TM / 2, HN = TN / 2;
  TS_DYNAMIC_SHARED(float4, ts_gemm_smem);
  T* As = reinterpret_cast<T*>(ts_gemm_smem);  // [2][BK][LDA]
  T* Bs = As + 2 * BK * LDA;                   // [2][BK][LDB]
  const int tid = threadIdx.x;
  const int tx = tid % (BN / TN), ty = tid / (BN / TN);
  for (int64_t tile = blockIdx.x; tile < sh.total; tile += gridDim.x) {
    int64_t t = tile;
    const int64_t tn = t % sh.tiles_n;
    t /= sh.tiles_n;
    const int64_t tm = t % sh.tiles_m;
    t /= sh.tiles_m;
    const int64_t split = t % sh.splits;
    const int64_t b = t / sh.splits;
    const int64_t m0 = tm * BM, n0 = tn * BN;
    const int64_t kb = split * sh.kchunk;
    const int64_t ke = kb + sh.kchunk < sh.K ? kb + sh.kchunk : sh.K;
    Loader<T, BM, BK, NT, DA> la;
    Loader<T, BN, BK, NT, DB> lb;
    la.begin(da, b, m0, sh.M, tid);
    lb.begin(db, b, n0, sh.N, tid);
    T acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
    if (kb < ke) {
      la.fetch(da, kb, ke);
      lb.fetch(db, kb, ke);
      la.stash(As, LDA);
      lb.stash(Bs, LDB);
      __syncthreads();
      int cur = 0;
      for (int64_t k0 = kb; k0 < ke; k0 += BK) {
        const bool more = k0 + BK < ke;
        if (more) {
          la.fetch(da, k0 + BK, ke);
          lb.fetch(db, k0 + BK, ke);
        }
        const T* as = As + cur * BK * LDA;
        const T* bs = Bs + cur * BK * LDB;
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
          T a[TM], bv[TN];
          vload<T, HM>(a, as + kk * LDA + ty * HM);
          vload<T, HM>(a + HM, as + kk * LDA + BM / 2 + ty * HM);
          vload<T, HN>(bv, bs + kk * LDB + tx * HN);
          vload<T, HN>(bv + HN, bs + kk * LDB + BN / 2 + tx * HN);
#pragma unroll
          for (int i = 0; i < TM; ++i)
#pragma unroll
            for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * bv[j];
        }
        if (more) {
          la.stash(As + (cur ^ 1) * BK * LDA, LDA);
          lb.stash(Bs + (cur ^ 1) * BK * LDB, LDB);
        }
        __syncthreads();
        cur ^= 1;
      }
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int64_t m = m0 + (i < HM ? ty * HM + i : BM / 2 + ty * HM + (i - HM));
      if (m >= sh.M) continue;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t n = n0 + h * (BN / 2) + tx * HN;
        if (n >= sh.N) continue;
        const int cnt = sh.N - n < HN ? (int)(sh.N - n) : HN;
        epi.template store<HN>(b, split, m, n, &acc[i][h * HN], cnt);
      }
    }
  }
}

// Adds the S partial sums of each output in slice order, then the epilogue.
template <typename T, class Epi>
__global__ void splitk_reduce_kernel(const T* part, int64_t S, int64_t batch, int64_t M, int64_t N, Epi epi) {
  const int64_t total = batch * M * N;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    T v = part[i];
    for (int64_t s = 1; s < S; ++s) v += part[s * total + i];
    const int64_t n = i % N, r = i / N;
    epi.template store<1>(r / M, 0, r % M, n, &v, 1);
  }
}

constexpr int64_t kTargetBlocks = 264;  // about two blocks per SM of an H100/H200 (fixed: results must not depend on the device)
constexpr int64_t kMinChunk = 256;      // smallest K slice worth a split
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kMaxGrid = int64_t(1) << 20;  // blocks of one launch; the tile loop covers the rest

template <typename T, class C, class DA, class DB, class Epi>
void run_cfg(const OpCall& c, const char* name, const DA& a, const DB& b, const Epi& epi, int64_t batch, int64_t M,
             int64_t N, int64_t K) {
  Shape s;
  s.batch = batch;
  s.M = M;
  s.N = N;
  s.K = K;
  s.tiles_m = (M + C::BM - 1) / C::BM;
  s.tiles_n = (N + C::BN - 1) / C::BN;
  const int64_t tiles = batch * s.tiles_m * s.tiles_n;
  int64_t S = 1;
  if (tiles < kTargetBlocks && K >= 2 * kMinChunk) {
    S = (kTargetBlocks + tiles - 1) / tiles;
    if (S > K / kMinChunk) S = K / kMinChunk;
    if (S > kMaxSplits) S = kMaxSplits;
  }
  int64_t kchunk = (K + S - 1) / S;
  kchunk = (kchunk + C::BK - 1) / C::BK * C::BK;
  if (kchunk > 0) S = (K + kchunk - 1) / kchunk;
  if (S < 1) S = 1;
  s.splits = S;
  s.kchunk = kchunk;
  s.total = tiles * S;
  const unsigned grid = (unsigned)(s.total < kMaxGrid ? s.total : kMaxGrid);
  cudaStream_t st = stream_of(c);
  if (S == 1) {
    launch(name, tile_kernel<T, C, DA, DB, Epi>, dim3(grid), dim3(C::NT), C::smem, st, a, b, epi, s);
    return;
  }
  const int64_t bmn = batch * M * N;
  T* part = (T*)workspace(c, 0, sizeof(T) * (size_t)(S * bmn));
  const Partial<T> pe{part, bmn, M, N};
  launch(name, tile_kernel<T, C, DA, DB, Partial<T>>, dim3(grid), dim3(C::NT), C::smem, st, a, b, pe, s);
  launch(name, splitk_reduce_kernel<T, Epi>, dim3(blocks_for(bmn, 256)), dim3(256), 0, st, (const T*)part, S, batch,
         M, N, epi);
}

// C = A B for `batch` independent problems of M x N x K (any of them may be 0: nothing or only the epilogue runs).
template <typename T, class DA, class DB, class Epi>
void run(const OpCall& c, const char* name, const DA& a, const DB& b, const Epi& epi, int64_t batch, int64_t M,
         int64_t N, int64_t K) {
  if (batch <= 0 || M <= 0 || N <= 0) return;
  using Big = typename Cfgs<T>::Big;
  const int64_t big_tiles = batch * ((M + Big::BM - 1) / Big::BM) * ((N + Big::BN - 1) / Big::BN);
  if (big_tiles >= kTargetBlocks / 2)
    run_cfg<T, Big>(c, name, a, b, epi, batch, M, N, K);
  else
    run_cfg<T, typename Cfgs<T>::Small>(c, name, a, b, epi, batch, M, N, K);
}

}  // namespace gemm
}  // namespace cuda
}  // namespace tensile
