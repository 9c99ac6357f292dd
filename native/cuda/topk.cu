// topk, its backward and multinomial on cuda, as native/cpu/topk.cpp (whose comment defines the keys, the order
// and the draws): the same results, index for index.
//
// topk: one block per row (grid-strided over the rows). The row's (key, index) pairs go to global scratch padded to
// a power of two P with pairs that sort last, a block-wide bitonic sort orders them (each stage a pass of P / 2
// compare-exchanges over the block's threads, a barrier between stages), and the first k are written. (key, index)
// is a strict total order, so the result is the CPU heap's exactly. O(P log^2 P / threads) per row whatever k.
// topk_bwd: zeros, then one thread per selected element writes its gradient (the indices of a row are distinct).
// multinomial: the weights are checked first (the first bad one by atomicMin into the error flag, then a
// synchronisation, as index.cu checks indices), then one block per row computes the CPU's chunked float64 running
// sum (thread t sums chunk t of 256 sequentially, thread 0 the chunk sums, then each thread its chunk's running
// values from its base: the CPU's additions in the CPU's order), its total and its count of non-zero weights; rows
// that cannot be sampled are reported through a second flag. With replacement one thread per sample binary-searches
// its row's cumulative sums; without, each row's keys -log(u) / w go through the topk sort and the first numSamples
// indices are kept. The draws are the CPU's bit for bit; with replacement the samples are too (additions, one
// multiply and comparisons); without, the keys use the device's log (within an ulp of glibc's), so two keys closer
// than that could be ordered differently from the CPU.
#include <cstdint>
#include <cstdio>
#include "common.cuh"
#include "../core/runtime.h"
#include "../core/philox.h"

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int kSortThreads = 256;
constexpr int64_t kChunks = 256;

__device__ __forceinline__ int64_t first_thread() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t thread_stride() { return (int64_t)gridDim.x * blockDim.x; }

__device__ __forceinline__ unsigned long long order_key(float v, bool largest) {
  uint32_t u;
  if (v != v) {
    u = 0x7fc00000u;
  } else {
    if (v == 0.0f) v = 0.0f;
    u = __float_as_uint(v);
  }
  const uint32_t a = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return largest ? (unsigned long long)(uint32_t)~a : (unsigned long long)a;
}
__device__ __forceinline__ unsigned long long order_key(double v, bool largest) {
  unsigned long long u;
  if (v != v) {
    u = 0x7ff8000000000000ull;
  } else {
    if (v == 0.0) v = 0.0;
    u = (unsigned long long)__double_as_longlong(v);
  }
  const unsigned long long a = (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
  return largest ? ~a : a;
}

// Sorts the pairs (key[i], id[i]), i < P (a power of two), ascending; every thread of the block calls it.
__device__ void block_sort(unsigned long long* key, uint32_t* id, int64_t P) {
  for (int64_t k = 2; k <= P; k <<= 1) {
    for (int64_t j = k >> 1; j > 0; j >>= 1) {
      for (int64_t t = threadIdx.x; t < P / 2; t += blockDim.x) {
        const int64_t i = ((t & ~(j - 1)) << 1) | (t & (j - 1));
        const unsigned long long ka = key[i], kb = key[i + j];
        const uint32_t ia = id[i], ib = id[i + j];
        const bool a_after = ka > kb || (ka == kb && ia > ib);
        if (a_after == ((i & k) == 0)) {
          key[i] = kb;
          key[i + j] = ka;
          id[i] = ib;
          id[i + j] = ia;
        }
      }
      __syncthreads();
    }
  }
}

// ------------------------------------------------------------------ topk
template <typename T>
__global__ void k_topk(const T* x, T* vals, int32_t* idx, unsigned long long* keys, uint32_t* ids, int64_t rows,
                       int64_t R, int64_t inner, int64_t k, int64_t P, bool largest) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t o = r / inner, i = r - o * inner;
    const T* b = x + o * R * inner + i;
    unsigned long long* key = keys + (int64_t)blockIdx.x * P;
    uint32_t* id = ids + (int64_t)blockIdx.x * P;
    for (int64_t q = threadIdx.x; q < P; q += blockDim.x) {
      key[q] = q < R ? order_key(b[q * inner], largest) : ~0ull;
      id[q] = q < R ? (uint32_t)q : 0xffffffffu;
    }
    __syncthreads();
    block_sort(key, id, P);
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
      const int64_t dst = (o * k + j) * inner + i;
      idx[dst] = (int32_t)id[j];
      vals[dst] = b[(int64_t)id[j] * inner];
    }
    __syncthreads();
  }
}

int64_t pow2_at_least(int64_t n) {
  int64_t P = 1;
  while (P < n) P <<= 1;
  return P;
}

// blocks for one-row-per-block kernels: each block reuses its own scratch row (P pairs, 12 bytes each) across
// grid-strided rows; at most 1024, and at most 64 MiB of scratch in all
unsigned row_blocks(int64_t rows, int64_t P = 0) {
  int64_t b = rows < 1024 ? (rows < 1 ? 1 : rows) : 1024;
  if (P > 0 && b * P * 12 > ((int64_t)64 << 20)) b = ((int64_t)64 << 20) / (P * 12);
  return (unsigned)(b < 1 ? 1 : b);
}

template <typename T>
void topk(const OpCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], R = x.shape[1], inner = x.shape[2];
  const int64_t k = c.ip[0];
  const bool largest = c.ip[1] != 0;
  if (k < 0 || k > R) fail(ERR_SHAPE, "topk", "expected 0 <= k <= the size of the dim");
  const int64_t rows = outer * inner;
  if (k == 0 || rows == 0) return;
  const int64_t P = pow2_at_least(R < 2 ? 2 : R);
  const unsigned blocks = row_blocks(rows, P);
  unsigned long long* keys = (unsigned long long*)workspace(c, 0, sizeof(unsigned long long) * (size_t)(blocks * P));
  uint32_t* ids = (uint32_t*)workspace(c, 1, sizeof(uint32_t) * (size_t)(blocks * P));
  launch("topk", k_topk<T>, blocks, kSortThreads, 0, stream_of(c), (const T*)x.data, (T*)c.out[0].data,
         (int32_t*)c.out[1].data, keys, ids, rows, R, inner, k, P, largest);
}

// ------------------------------------------------------------------ topk_bwd
__global__ void k_check_range(const int32_t* idx, int64_t n, int64_t R, unsigned long long* flag) {
  for (int64_t e = first_thread(), st = thread_stride(); e < n; e += st)
    if (idx[e] < 0 || (int64_t)idx[e] >= R) atomicMin(flag, (unsigned long long)e);
}
template <typename T>
__global__ void k_zero(T* p, int64_t n) {
  for (int64_t e = first_thread(), st = thread_stride(); e < n; e += st) p[e] = T(0);
}
template <typename T>
__global__ void k_topk_scatter(T* dx, const T* g, const int32_t* idx, int64_t n, int64_t k, int64_t R, int64_t inner) {
  for (int64_t s = first_thread(), st = thread_stride(); s < n; s += st) {
    const int64_t i = s % inner, o = s / (k * inner);
    dx[(o * R + idx[s]) * inner + i] = g[s];
  }
}

template <typename T>
void topk_bwd(const OpCall& c) {
  const TensorArg& g = c.in[0];
  const int64_t outer = g.shape[0], k = g.shape[1], inner = g.shape[2];
  const int64_t R = c.out[0].shape[1];
  const int32_t* idx = (const int32_t*)c.in[1].data;
  const int64_t n = outer * k * inner, total = outer * R * inner;
  cudaStream_t s = stream_of(c);
  if (n > 0) {
    unsigned long long* flag = error_flag(c);
    launch("topk_bwd", k_check_range, blocks_for(n, kThreads), kThreads, 0, s, idx, n, R, flag);
    const unsigned long long pos = read_error_flag(c);
    if (pos != ~0ull) {
      int32_t v = 0;
      copy_to_host(c, &v, idx + pos, sizeof v);
      char msg[160];
      snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)R,
               (long long)v, (long long)pos);
      fail(ERR_INDEX, "topk_bwd", msg);
    }
  }
  if (total == 0) return;
  T* dx = (T*)c.out[0].data;
  launch("topk_bwd", k_zero<T>, blocks_for(total, kThreads), kThreads, 0, s, dx, total);
  if (n > 0)
    launch("topk_bwd", k_topk_scatter<T>, blocks_for(n, kThreads), kThreads, 0, s, dx, (const T*)g.data, idx, n, k,
           R, inner);
}

// ------------------------------------------------------------------ multinomial
__device__ __forceinline__ double uniform_at(int64_t j, uint64_t seed, uint64_t off) {
  const int64_t group = j >> 2;
  const U32x4 r = philox4x32_10((uint32_t)group, (uint32_t)((uint64_t)group >> 32), (uint32_t)off,
                                (uint32_t)(off >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
  const int k = (int)(j & 3);
  return u32x2_to_unit_d(r.v[k], r.v[(k + 1) & 3]);
}

template <typename T>
__global__ void k_check_weights(const T* w, int64_t n, unsigned long long* flag) {
  for (int64_t e = first_thread(), st = thread_stride(); e < n; e += st) {
    const T v = w[e];
    if (!(v >= T(0)) || v == (T)INFINITY) atomicMin(flag, (unsigned long long)e);
  }
}

// One block of kChunks threads per row: total[b], nzs[b] (its non-zero weights), and cdf[b, :] when cdf is not
// null; rows that cannot be sampled go to flag as (row << 1) | what (0: no positive finite sum, 1: fewer non-zero
// weights than S without replacement).
template <typename T>
__global__ void k_row_sums(const T* w, double* cdf, double* total, long long* nzs, int64_t B, int64_t n, int64_t S,
                           bool repl, unsigned long long* flag) {
  __shared__ double base[kChunks + 1];
  __shared__ long long cnt[kChunks];
  const int64_t cs = (n + kChunks - 1) / kChunks;
  for (int64_t b = blockIdx.x; b < B; b += gridDim.x) {
    const T* row = w + b * n;
    const int t = threadIdx.x;
    const int64_t c0 = t * cs, c1 = c0 + cs < n ? c0 + cs : n;
    double run = 0;
    long long nz = 0;
    for (int64_t i = c0; i < c1; ++i) {
      run += (double)row[i];
      nz += row[i] > T(0);
    }
    base[t + 1] = run;
    cnt[t] = nz;
    __syncthreads();
    if (t == 0) {
      double acc = 0;
      long long all = 0;
      base[0] = 0;
      for (int q = 0; q < kChunks; ++q) {
        if (q * cs < n) acc += base[q + 1];  // the CPU adds only the chunks that exist
        base[q + 1] = acc;
        all += cnt[q];
      }
      total[b] = acc;
      nzs[b] = all;
      if (!(acc > 0) || acc == INFINITY)
        atomicMin(flag, (unsigned long long)(b << 1));
      else if (!repl && all < S)
        atomicMin(flag, (unsigned long long)((b << 1) | 1));
    }
    __syncthreads();
    if (cdf) {
      double r2 = 0;
      const double bs = base[t];
      for (int64_t i = c0; i < c1; ++i) {
        r2 += (double)row[i];
        cdf[b * n + i] = bs + r2;
      }
    }
    __syncthreads();
  }
}

__global__ void k_sample_repl(int32_t* out, const double* cdf, const double* total, int64_t B, int64_t n, int64_t S,
                              uint64_t seed, uint64_t off) {
  for (int64_t j = first_thread(), st = thread_stride(); j < B * S; j += st) {
    const int64_t b = j / S;
    const double* cr = cdf + b * n;
    const double t = uniform_at(j, seed, off) * total[b];
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
      const int64_t mid = (lo + hi) >> 1;
      if (cr[mid] >= t && cr[mid] > 0) hi = mid; else lo = mid + 1;
    }
    out[j] = (int32_t)lo;
  }
}

template <typename T>
__global__ void k_sample_norepl(int32_t* out, const T* w, unsigned long long* keys, uint32_t* ids, int64_t B,
                                int64_t n, int64_t S, int64_t P, uint64_t seed, uint64_t off) {
  for (int64_t b = blockIdx.x; b < B; b += gridDim.x) {
    const T* row = w + b * n;
    unsigned long long* key = keys + (int64_t)blockIdx.x * P;
    uint32_t* id = ids + (int64_t)blockIdx.x * P;
    for (int64_t q = threadIdx.x; q < P; q += blockDim.x) {
      if (q < n) {
        const double wi = (double)row[q];
        key[q] = wi > 0 ? order_key(-log(uniform_at(b * n + q, seed, off)) / wi, false) : ~0ull;
        id[q] = (uint32_t)q;
      } else {
        key[q] = ~0ull;
        id[q] = 0xffffffffu;
      }
    }
    __syncthreads();
    block_sort(key, id, P);
    for (int64_t s = threadIdx.x; s < S; s += blockDim.x) out[b * S + s] = (int32_t)id[s];
    __syncthreads();
  }
}

template <typename T>
void multinomial(const OpCall& c) {
  const TensorArg& w = c.in[0];
  const int64_t B = w.shape[0], n = w.shape[1];
  const int64_t S = c.out[0].shape[1];
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const bool repl = c.ip[2] != 0;
  const T* pw = (const T*)w.data;
  int32_t* po = (int32_t*)c.out[0].data;
  cudaStream_t s = stream_of(c);
  char msg[200];
  if (B * n > 0) {
    unsigned long long* flag = error_flag(c);
    launch("multinomial", k_check_weights<T>, blocks_for(B * n, kThreads), kThreads, 0, s, pw, B * n, flag);
    const unsigned long long pos = read_error_flag(c);
    if (pos != ~0ull) {
      T v = 0;
      copy_to_host(c, &v, pw + pos, sizeof v);
      snprintf(msg, sizeof msg, "expected non-negative finite weights, got %g at [%lld, %lld]", (double)v,
               (long long)(pos / n), (long long)(pos % n));
      fail(ERR_NATIVE, "multinomial", msg);
    }
  }
  if (B == 0 || S == 0) return;
  double* total = (double*)workspace(c, 2, (sizeof(double) + sizeof(long long)) * (size_t)B);
  long long* nzs = (long long*)(total + B);
  double* cdf = repl ? (double*)workspace(c, 3, sizeof(double) * (size_t)(B * n)) : nullptr;
  unsigned long long* flag = error_flag(c);
  launch("multinomial", k_row_sums<T>, row_blocks(B), (unsigned)kChunks, 0, s, pw, cdf, total, nzs, B, n, S, repl,
         flag);
  const unsigned long long bad = read_error_flag(c);
  if (bad != ~0ull) {
    const int64_t b = (int64_t)(bad >> 1);
    if ((bad & 1) == 0) {
      double t = 0;
      copy_to_host(c, &t, total + b, sizeof t);
      snprintf(msg, sizeof msg, "expected every row to have a positive finite sum, got %g in row %lld", t,
               (long long)b);
    } else {
      long long nz = 0;
      copy_to_host(c, &nz, nzs + b, sizeof nz);
      snprintf(msg, sizeof msg,
               "expected numSamples <= the number of non-zero weights without replacement, got %lld > %lld in row %lld",
               (long long)S, nz, (long long)b);
    }
    fail(ERR_NATIVE, "multinomial", msg);
  }
  if (repl) {
    launch("multinomial", k_sample_repl, blocks_for(B * S, kThreads), kThreads, 0, s, po, (const double*)cdf,
           (const double*)total, B, n, S, seed, off);
    return;
  }
  const int64_t P = pow2_at_least(n < 2 ? 2 : n);
  const unsigned blocks = row_blocks(B, P);
  unsigned long long* keys = (unsigned long long*)workspace(c, 0, sizeof(unsigned long long) * (size_t)(blocks * P));
  uint32_t* ids = (uint32_t*)workspace(c, 1, sizeof(uint32_t) * (size_t)(blocks * P));
  launch("multinomial", k_sample_norepl<T>, blocks, kSortThreads, 0, s, po, pw, keys, ids, B, n, S, P, seed, off);
}

}  // namespace

void register_topk() {
  kernel_register(OP_topk, DEV_CUDA, DT_F32, topk<float>);
  kernel_register(OP_topk, DEV_CUDA, DT_F64, topk<double>);
  kernel_register(OP_topk_bwd, DEV_CUDA, DT_F32, topk_bwd<float>);
  kernel_register(OP_topk_bwd, DEV_CUDA, DT_F64, topk_bwd<double>);
  kernel_register(OP_multinomial, DEV_CUDA, DT_F32, multinomial<float>);
  kernel_register(OP_multinomial, DEV_CUDA, DT_F64, multinomial<double>);
}

}  // namespace cuda
}  // namespace tensile
