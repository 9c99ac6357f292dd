// Gathers along one dim (index_select, embedding lookup) and its adjoint (scatter-add) on cuda, as
// native/cpu/index.cpp: lib/ presents x as a contiguous [outer, D, inner] view and the indices as a contiguous int32
// [n]. The indices are checked first (one pass, the first bad position by atomicMin into the error flag, then a
// synchronisation): an IndexError with the CPU's message, before anything is written.
//
// index_select: one thread per output element (or per 16-byte vector of elements when a row's length and the
// pointers allow), flat over [outer, n, inner], so that writes are coalesced and reads are too along a row.
// index_select_bwd, deterministic without float atomics: the pairs (index, position) are sorted as 64-bit keys
// (index << 32 | position; unique, so the order is the same every run) by a bitonic sort (tiles of 1024 keys in
// shared memory, the stages wider than a tile in global memory); a binary search per destination row gives its
// segment of positions, in increasing order; then one thread per output element sums its segment's gradient rows
// from zero in that order, the CPU's order, so the result equals the CPU's bit for bit. Rows no index names get 0.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include "common.cuh"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

__device__ __forceinline__ int64_t first_thread() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t thread_stride() { return (int64_t)gridDim.x * blockDim.x; }

// ------------------------------------------------------------------ index check
__global__ void k_check(const int32_t* idx, int64_t n, int64_t D, unsigned long long* flag) {
  for (int64_t i = first_thread(), st = thread_stride(); i < n; i += st) {
    const int32_t v = idx[i];
    if (v < 0 || (int64_t)v >= D) atomicMin(flag, (unsigned long long)i);
  }
}

void check_indices(const OpCall& c, const int32_t* idx, int64_t n, int64_t D) {
  if (n == 0) return;
  const char* name = op_name(c.op);
  unsigned long long* flag = error_flag(c);
  launch(name, k_check, blocks_for(n, kThreads), kThreads, 0, stream_of(c), idx, n, D, flag);
  const unsigned long long pos = read_error_flag(c);
  if (pos == ~0ull) return;
  int32_t v = 0;
  copy_to_host(c, &v, idx + pos, sizeof v);
  char msg[160];
  snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)D, (long long)v,
           (long long)pos);
  fail(ERR_INDEX, name, msg);
}

// ------------------------------------------------------------------ index_select
// out [outer, n, inner] from x [outer, D, inner], in units E (an element or a vector of them; inner in units E).
template <typename E, typename I>
__global__ void k_gather(E* out, const E* x, const int32_t* idx, I total, I n, I inner, int64_t D) {
  for (I e = (I)first_thread(), st = (I)thread_stride(); e < total; e += st) {
    const I r = e / inner, j = e - r * inner;
    const I o = r / n, i = r - o * n;
    out[e] = x[((int64_t)o * D + idx[i]) * (int64_t)inner + j];
    if (total - e <= st) break;  // e + st would wrap a 32-bit index
  }
}

template <typename E>
void gather_as(const OpCall& c, int64_t outer, int64_t D, int64_t inner, int64_t n) {
  const int64_t total = outer * n * inner;
  E* out = (E*)c.out[0].data;
  const E* x = (const E*)c.in[0].data;
  const int32_t* idx = (const int32_t*)c.in[1].data;
  const unsigned blocks = blocks_for(total, kThreads);
  if (total <= (int64_t)UINT32_MAX)
    launch("index_select", k_gather<E, uint32_t>, blocks, kThreads, 0, stream_of(c), out, x, idx, (uint32_t)total,
           (uint32_t)n, (uint32_t)inner, D);
  else
    launch("index_select", k_gather<E, uint64_t>, blocks, kThreads, 0, stream_of(c), out, x, idx, (uint64_t)total,
           (uint64_t)n, (uint64_t)inner, D);
}

template <typename T>
void gather(const OpCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], D = x.shape[1], inner = x.shape[2];
  const int64_t n = c.in[1].shape[0];
  check_indices(c, (const int32_t*)c.in[1].data, n, D);
  if (outer * n * inner == 0) return;
  constexpr int V = 16 / sizeof(T);
  const size_t vb = sizeof(T) * V;
  if (inner % V == 0 && (uintptr_t)x.data % vb == 0 && (uintptr_t)c.out[0].data % vb == 0)
    gather_as<Vec<T, V>>(c, outer, D, inner / V, n);
  else
    gather_as<T>(c, outer, D, inner, n);
}

// ------------------------------------------------------------------ index_select_bwd
constexpr int kSortThreads = 512, kSortTile = 2 * kSortThreads;

__global__ void k_build_keys(unsigned long long* keys, const int32_t* idx, int64_t n, int64_t P) {
  for (int64_t p = first_thread(), st = thread_stride(); p < P; p += st)
    keys[p] = p < n ? ((unsigned long long)(uint32_t)idx[p] << 32) | (unsigned long long)p : ~0ull;
}

// The compare-exchange of pair t at stage (k, j): the lower element i, its partner i + j, ascending where i & k is 0.
__device__ __forceinline__ void bitonic_pair(unsigned long long* s, uint64_t t, uint64_t j, uint64_t base,
                                             uint64_t k) {
  const uint64_t i = ((t & ~(j - 1)) << 1) | (t & (j - 1));
  const unsigned long long a = s[i], b = s[i + j];
  const bool asc = ((base + i) & k) == 0;
  if ((a > b) == asc) {
    s[i] = b;
    s[i + j] = a;
  }
}

// Stages k = k_lo..k_hi (powers of two), each with j from min(k, tile) / 2 down to 1, within one tile of kSortTile
// keys in shared memory per block (grid-strided over the tiles).
__global__ void k_bitonic_tile(unsigned long long* keys, int64_t P, int64_t k_lo, int64_t k_hi) {
  TS_DYNAMIC_SHARED(unsigned long long, s);
  for (int64_t tile = blockIdx.x; tile * kSortTile < P; tile += gridDim.x) {
    unsigned long long* g = keys + tile * kSortTile;
    for (int q = threadIdx.x; q < kSortTile; q += blockDim.x) s[q] = g[q];
    __syncthreads();
    for (int64_t k = k_lo; k <= k_hi; k <<= 1) {
      for (int64_t j = (k < kSortTile ? k : (int64_t)kSortTile) >> 1; j > 0; j >>= 1) {
        for (int t = threadIdx.x; t < kSortTile / 2; t += blockDim.x)
          bitonic_pair(s, (uint64_t)t, (uint64_t)j, (uint64_t)(tile * kSortTile), (uint64_t)k);
        __syncthreads();
      }
    }
    for (int q = threadIdx.x; q < kSortTile; q += blockDim.x) g[q] = s[q];
    __syncthreads();
  }
}

// One stage (k, j) with j >= kSortTile, over all P / 2 pairs.
__global__ void k_bitonic_global(unsigned long long* keys, int64_t P, int64_t k, int64_t j) {
  for (int64_t t = first_thread(), st = thread_stride(); t < P / 2; t += st)
    bitonic_pair(keys, (uint64_t)t, (uint64_t)j, 0, (uint64_t)k);
}

// seg[d] = the first position of the sorted keys whose index is >= d, for d in [0, D].
__global__ void k_segments(uint32_t* seg, const unsigned long long* keys, int64_t n, int64_t D) {
  for (int64_t d = first_thread(), st = thread_stride(); d <= D; d += st) {
    const unsigned long long key = (unsigned long long)d << 32;
    int64_t lo = 0, hi = n;
    while (lo < hi) {
      const int64_t mid = (lo + hi) >> 1;
      if (keys[mid] < key) lo = mid + 1; else hi = mid;
    }
    seg[d] = (uint32_t)lo;
  }
}

// dx [outer, D, inner]: each element the sum, in increasing position, of the g [outer, n, inner] rows whose index
// is its row.
template <typename T, typename I>
__global__ void k_scatter_sum(T* dx, const T* g, const unsigned long long* keys, const uint32_t* seg, I total, I D,
                              I inner, int64_t n) {
  for (I e = (I)first_thread(), st = (I)thread_stride(); e < total; e += st) {
    const I r = e / inner, j = e - r * inner;
    const I o = r / D, d = r - o * D;
    const T* go = g + (int64_t)o * n * (int64_t)inner + (int64_t)j;
    T acc = T(0);
    for (uint32_t p = seg[d], p1 = seg[d + 1]; p < p1; ++p) acc += go[(int64_t)(uint32_t)keys[p] * (int64_t)inner];
    dx[e] = acc;
    if (total - e <= st) break;
  }
}

template <typename T>
__global__ void k_zero(T* p, int64_t n) {
  for (int64_t i = first_thread(), st = thread_stride(); i < n; i += st) p[i] = T(0);
}

template <typename T>
void scatter_add(const OpCall& c) {
  const TensorArg& g = c.in[0];
  const int64_t outer = g.shape[0], n = g.shape[1], inner = g.shape[2];
  const int32_t* idx = (const int32_t*)c.in[1].data;
  const int64_t D = c.out[0].shape[1];
  const char* name = "index_select_bwd";
  check_indices(c, idx, n, D);
  T* dx = (T*)c.out[0].data;
  const int64_t total = outer * D * inner;
  if (total == 0) return;
  if (n == 0 || inner == 0) {
    launch(name, k_zero<T>, blocks_for(total, kThreads), kThreads, 0, stream_of(c), dx, total);
    return;
  }
  if (n > (int64_t)UINT32_MAX) fail(ERR_NATIVE, name, "expected fewer than 2^32 indices");
  int64_t P = kSortTile;
  while (P < n) P <<= 1;
  unsigned long long* keys = (unsigned long long*)workspace(c, 0, sizeof(unsigned long long) * P);
  uint32_t* seg = (uint32_t*)workspace(c, 1, sizeof(uint32_t) * (D + 1));
  cudaStream_t s = stream_of(c);
  launch(name, k_build_keys, blocks_for(P, kThreads), kThreads, 0, s, keys, idx, n, P);
  const unsigned tiles = (unsigned)std::min<int64_t>(P / kSortTile, 65535);
  const size_t shm = sizeof(unsigned long long) * kSortTile;
  launch(name, k_bitonic_tile, tiles, kSortThreads, shm, s, keys, P, (int64_t)2, (int64_t)kSortTile);
  for (int64_t k = 2 * kSortTile; k <= P; k <<= 1) {
    for (int64_t j = k >> 1; j >= kSortTile; j >>= 1)
      launch(name, k_bitonic_global, blocks_for(P / 2, kThreads), kThreads, 0, s, keys, P, k, j);
    launch(name, k_bitonic_tile, tiles, kSortThreads, shm, s, keys, P, k, k);
  }
  launch(name, k_segments, blocks_for(D + 1, kThreads), kThreads, 0, s, seg, (const unsigned long long*)keys, n, D);
  const unsigned blocks = blocks_for(total, kThreads);
  if (total <= (int64_t)UINT32_MAX)
    launch(name, k_scatter_sum<T, uint32_t>, blocks, kThreads, 0, s, dx, (const T*)g.data,
           (const unsigned long long*)keys, (const uint32_t*)seg, (uint32_t)total, (uint32_t)D, (uint32_t)inner, n);
  else
    launch(name, k_scatter_sum<T, uint64_t>, blocks, kThreads, 0, s, dx, (const T*)g.data,
           (const unsigned long long*)keys, (const uint32_t*)seg, (uint64_t)total, (uint64_t)D, (uint64_t)inner, n);
}
}  // namespace

void register_index() {
  kernel_register(OP_index_select, DEV_CUDA, DT_F32, gather<float>);
  kernel_register(OP_index_select, DEV_CUDA, DT_F64, gather<double>);
  kernel_register(OP_index_select, DEV_CUDA, DT_I32, gather<int32_t>);
  kernel_register(OP_index_select, DEV_CUDA, DT_U8, gather<uint8_t>);
  kernel_register(OP_index_select_bwd, DEV_CUDA, DT_F32, scatter_add<float>);
  kernel_register(OP_index_select_bwd, DEV_CUDA, DT_F64, scatter_add<double>);
}

}  // namespace cuda
}  // namespace tensile
