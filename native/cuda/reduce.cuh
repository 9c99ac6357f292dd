// Private to native/cuda/reduce.cu and norm.cu: a deterministic segmented reduction on the GPU.
//
// The problem is always a contiguous-looking [outer, R, inner] slab: each of the outer * inner outputs folds the R
// values x[o, r, i]. A block of kThreads threads works on P "items" at once; an item is one o and a tile of TI
// consecutive columns i (TI a power of two <= 32), read by k lanes along R (k a power of two, P * k * TI ==
// kThreads). Thread t is column c = t % TI, lane lr = (t / TI) % k, item slot p = t / (TI * k): the threads of a warp
// read consecutive columns and, when TI < 32, consecutive rows too, so loads are coalesced for any inner.
// Lanes fold their strided run of R in increasing r, then a group reduction (warp shuffles inside a warp, shared
// memory across warps) combines them in a fixed tree; nothing depends on scheduling, so the result is the same
// bit for bit from run to run. When the items alone give too few blocks for the machine and R is long, R is split
// into chunks (a count fixed by the shape only): each (item, chunk) writes its partial state to a workspace and a
// second kernel folds the chunks in order.
//
// An Op (a small struct passed by value to the kernels) says what is folded:
//   using S = ...;                                   the state (double, a pair, a value with its index)
//   static S identity(); static S combine(S a, S b); a associative; a covers lower r than b
//   Ctx prep(int64_t out) const;                     per-output context, once per thread and item
//   S load(int64_t off, int64_t r, const Ctx&) const; the value at flat offset off = (o * R + r) * inner + i
//   void finish(int64_t out, S s) const;             writes output out = o * inner + i
#pragma once
#include <cmath>
#include "common.cuh"

namespace tensile {
namespace cuda {
namespace red {

constexpr int kThreads = 256;
constexpr int64_t kTargetBlocks = 1024;  // ~8 resident blocks of 256 threads on each of ~132 SMs
constexpr int64_t kMinRunForSplit = 32;  // split R only when each lane then still folds at least this many values
constexpr long long kNoIndex = 0x7fffffffffffffffLL;

struct Map {
  int TI, k, P;
};

inline int pow2ceil(int64_t v) {
  int p = 1;
  while (p < v && p < (1 << 30)) p <<= 1;
  return p;
}

// A mapping for rows of R values and inner columns, about `per_lane` values per lane when R is short.
inline Map choose_map(int64_t R, int64_t inner, int per_lane = 4) {
  Map m;
  m.TI = inner >= 32 ? 32 : pow2ceil(inner < 1 ? 1 : inner);
  const int kmax = kThreads / m.TI;
  const int64_t want = (R + per_lane - 1) / per_lane;
  m.k = want >= kmax ? kmax : pow2ceil(want < 1 ? 1 : want);
  m.P = kThreads / (m.TI * m.k);
  return m;
}

struct Lane {
  int c, lr, p, G;
};
__device__ __forceinline__ Lane lane_of(const Map& m) {
  const int t = (int)threadIdx.x;
  Lane l;
  l.c = t & (m.TI - 1);
  l.lr = (t / m.TI) & (m.k - 1);
  l.p = t / (m.TI * m.k);
  l.G = m.TI * m.k;
  return l;
}

// ------------------------------------------------------------------------------------------------- states

template <class T>
struct Best {
  T v;
  long long i;  // kNoIndex: empty
};
struct Pair {
  double a, b;
};

__device__ __forceinline__ float shfl_down_s(float v, int off, int w) { return __shfl_down_sync(0xffffffffu, v, off, w); }
__device__ __forceinline__ double shfl_down_s(double v, int off, int w) { return __shfl_down_sync(0xffffffffu, v, off, w); }
template <class T>
__device__ __forceinline__ Best<T> shfl_down_s(Best<T> v, int off, int w) {
  Best<T> r;
  r.v = __shfl_down_sync(0xffffffffu, v.v, off, w);
  r.i = __shfl_down_sync(0xffffffffu, v.i, off, w);
  return r;
}
__device__ __forceinline__ Pair shfl_down_s(Pair v, int off, int w) {
  Pair r;
  r.a = __shfl_down_sync(0xffffffffu, v.a, off, w);
  r.b = __shfl_down_sync(0xffffffffu, v.b, off, w);
  return r;
}
__device__ __forceinline__ float shfl_idx_s(float v, int src, int w) { return __shfl_sync(0xffffffffu, v, src, w); }
__device__ __forceinline__ double shfl_idx_s(double v, int src, int w) { return __shfl_sync(0xffffffffu, v, src, w); }
template <class T>
__device__ __forceinline__ Best<T> shfl_idx_s(Best<T> v, int src, int w) {
  Best<T> r;
  r.v = __shfl_sync(0xffffffffu, v.v, src, w);
  r.i = __shfl_sync(0xffffffffu, v.i, src, w);
  return r;
}
__device__ __forceinline__ Pair shfl_idx_s(Pair v, int src, int w) {
  Pair r;
  r.a = __shfl_sync(0xffffffffu, v.a, src, w);
  r.b = __shfl_sync(0xffffffffu, v.b, src, w);
  return r;
}

// Combiners.
struct SumC {
  typedef double S;
  __device__ static double identity() { return 0.0; }
  __device__ static double combine(double a, double b) { return a + b; }
};
struct PairC {
  typedef Pair S;
  __device__ static Pair identity() { return Pair{0.0, 0.0}; }
  __device__ static Pair combine(Pair a, Pair b) { return Pair{a.a + b.a, a.b + b.b}; }
};
// max ignoring NaN (softmax's stabiliser: a NaN anywhere makes the sum NaN anyway)
template <class T>
struct MaxC {
  typedef T S;
  __device__ static T identity() { return -(T)INFINITY; }
  __device__ static T combine(T a, T b) { return b > a ? b : a; }
};
// max where a NaN wins (logsumexp's: the CPU returns NaN for a row with a NaN)
template <class T>
struct MaxNanC {
  typedef T S;
  __device__ static T identity() { return -(T)INFINITY; }
  __device__ static T combine(T a, T b) { return a != a ? a : (b != b || b > a) ? b : a; }
};
// max/min with its index, as the CPU's scan: the first NaN wins, else the first of the best values.
template <class T, bool MX>
struct BestC {
  typedef Best<T> S;
  __device__ static Best<T> identity() { return Best<T>{T(0), kNoIndex}; }
  __device__ static Best<T> combine(Best<T> a, Best<T> b) {
    if (b.i == kNoIndex) return a;
    if (a.i == kNoIndex) return b;
    const bool an = a.v != a.v, bn = b.v != b.v;
    if (an || bn) {
      if (an && bn) return a.i <= b.i ? a : b;
      return an ? a : b;
    }
    if (MX ? b.v > a.v : b.v < a.v) return b;
    if (MX ? a.v > b.v : a.v < b.v) return a;
    return a.i <= b.i ? a : b;
  }
};

// Folds v over the k lanes of each (item, column) group. The result is valid in the lr == 0 threads, or in every
// thread of the group with bcast. sh: kThreads states of shared memory. Every thread of the block must call it
// (inactive ones with the identity): it synchronises the block when a group spans several warps.
template <class C>
__device__ __forceinline__ typename C::S group_reduce(typename C::S v, const Map& m, const Lane& l, typename C::S* sh,
                                                     bool bcast) {
  const int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5;
  const int w = l.G < 32 ? l.G : 32;
  for (int off = w >> 1; off >= m.TI; off >>= 1) v = C::combine(v, shfl_down_s(v, off, w));
  if (l.G > 32) {
    const int nw = l.G >> 5, gw0 = warp - warp % nw;
    __syncthreads();  // earlier readers of sh are done
    if (lane < m.TI) sh[warp * 32 + lane] = v;
    __syncthreads();
    if (warp == gw0 && lane < m.TI) {
      typename C::S t = sh[warp * 32 + lane];
      for (int j = 1; j < nw; ++j) t = C::combine(t, sh[(warp + j) * 32 + lane]);
      v = t;
      if (bcast) sh[warp * 32 + lane] = t;
    }
    if (bcast) {
      __syncthreads();
      v = sh[gw0 * 32 + l.c];
    }
  } else if (bcast) {
    v = shfl_idx_s(v, l.c, w);
  }
  return v;
}

// ------------------------------------------------------------------------------------------------- kernels

template <class Op>
__global__ void __launch_bounds__(kThreads)
    slab_reduce_kernel(Op op, Map m, int64_t outer, int64_t R, int64_t inner, int64_t tiles, int64_t nsplit,
                       int64_t chunk, typename Op::S* partial) {
  typedef typename Op::S S;
  TS_DYNAMIC_SHARED(unsigned long long, ts_red_smem);
  S* sh = reinterpret_cast<S*>(ts_red_smem);
  const Lane l = lane_of(m);
  const int64_t nout = outer * inner;
  const int64_t units = outer * tiles * nsplit;
  for (int64_t base = (int64_t)blockIdx.x * m.P; base < units; base += (int64_t)gridDim.x * m.P) {
    const int64_t u = base + l.p;
    const int64_t item = u / nsplit, part = u - item * nsplit;
    const int64_t o = item / tiles, col = (item - o * tiles) * m.TI + l.c;
    const bool act = u < units && col < inner;
    const int64_t out = o * inner + col;
    S v = Op::identity();
    if (act) {
      const auto ctx = op.prep(out);
      const int64_t r1 = (part + 1) * chunk < R ? (part + 1) * chunk : R;
      const int64_t b = o * R * inner + col;
      const int64_t k = m.k;
      int64_t r = part * chunk + l.lr;
      for (; r + 3 * k < r1; r += 4 * k) {
        const S a0 = op.load(b + r * inner, r, ctx), a1 = op.load(b + (r + k) * inner, r + k, ctx);
        const S a2 = op.load(b + (r + 2 * k) * inner, r + 2 * k, ctx), a3 = op.load(b + (r + 3 * k) * inner, r + 3 * k, ctx);
        v = Op::combine(Op::combine(Op::combine(Op::combine(v, a0), a1), a2), a3);
      }
      for (; r < r1; r += k) v = Op::combine(v, op.load(b + r * inner, r, ctx));
    }
    v = group_reduce<Op>(v, m, l, sh, false);
    if (act && l.lr == 0) {
      if (nsplit == 1)
        op.finish(out, v);
      else
        partial[part * nout + out] = v;
    }
  }
}

template <class Op>
__global__ void __launch_bounds__(kThreads)
    slab_combine_kernel(Op op, int64_t nout, int64_t nsplit, const typename Op::S* partial) {
  for (int64_t out = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; out < nout; out += (int64_t)gridDim.x * blockDim.x) {
    typename Op::S v = partial[out];
    for (int64_t s = 1; s < nsplit; ++s) v = Op::combine(v, partial[s * nout + out]);
    op.finish(out, v);
  }
}

// Runs the reduction of op over the [outer, R, inner] slab on c's stream. ws_slot: the workspace slot for the
// partial states of a split R (pass a different slot to each reduction of one op).
template <class Op>
void slab_reduce(const OpCall& c, const char* name, const Op& op, int64_t outer, int64_t R, int64_t inner, int ws_slot) {
  typedef typename Op::S S;
  static_assert(alignof(S) <= 8, "shared memory is 8-byte aligned");
  const int64_t nout = outer * inner;
  if (nout == 0) return;
  Map m = choose_map(R, inner);
  const int64_t tiles = (inner + m.TI - 1) / m.TI;
  const int64_t items = outer * tiles;
  int64_t nsplit = 1, chunk = R < 1 ? 1 : R;
  const int kmax = kThreads / m.TI;
  if ((items + m.P - 1) / m.P < kTargetBlocks && R >= (int64_t)kmax * kMinRunForSplit * 2) {
    m.k = kmax;
    m.P = 1;
    int64_t want = (kTargetBlocks + items - 1) / items;
    const int64_t most = R / ((int64_t)kmax * kMinRunForSplit);
    if (want > most) want = most;
    if (want > 1) {
      chunk = (R + want - 1) / want;
      nsplit = (R + chunk - 1) / chunk;
    }
  }
  S* partial = nullptr;
  if (nsplit > 1) partial = (S*)workspace(c, ws_slot, (size_t)(nsplit * nout) * sizeof(S));
  const int64_t groups = (items * nsplit + m.P - 1) / m.P;
  const unsigned grid = (unsigned)(groups < (1 << 20) ? groups : (1 << 20));
  launch(name, slab_reduce_kernel<Op>, dim3(grid), dim3(kThreads), kThreads * sizeof(S), stream_of(c), op, m, outer, R,
         inner, tiles, nsplit, chunk, partial);
  if (nsplit > 1)
    launch(name, slab_combine_kernel<Op>, dim3(blocks_for(nout, kThreads)), dim3(kThreads), 0, stream_of(c), op, nout,
           nsplit, (const S*)partial);
}

}  // namespace red
}  // namespace cuda
}  // namespace tensile
