// Fused scaled-dot-product attention on the GPU, the flash-attention scheme with the semantics and arguments of
// native/cpu/attention.cpp (read its header: views over one shared batch shape, broadcast dims with stride 0; ip
// [nb, mask kind, causal, seed, offset]; fp [scale, dropout p]; fully masked rows give 0 and lse -inf).
//
// Forward: one block of 4 warps per (batch, tile of 16 query rows), 4 rows per warp. K and V tiles of up to 32 keys
// go through shared memory; each lane scores one key of the tile against the warp's row, the row max and sum are
// warp-shuffle reductions, and the online softmax rescales the row's output (its lanes own columns e = lane + 32t,
// accumulated in place in the output, which only that warp touches).
// Backward: D = rowsum(dO * O) per row (a warp reduction), probabilities recomputed from the saved lse; two
// kernels so that every output element has one writer (no atomics, deterministic): one block per (batch, key tile)
// accumulates dK and dV over groups of 16 query rows (the group's Pd and dS staged in shared memory, then every
// thread of the block updates its own (key, column) elements), one block per (batch, query tile) accumulates dQ
// as the forward accumulates the output.
// The key tile is 32 keys, or fewer when 32 rows of K and V would pass 48 KiB of shared memory (long head dims).
#include "common.cuh"
#include "../core/runtime.h"
#include "../core/philox.h"

#include <cmath>
#include <cstdio>

namespace tensile {
namespace cuda {
namespace {

constexpr int kWarps = 4, kThreads = 32 * kWarps, kRowsPerWarp = 4, kBr = kWarps * kRowsPerWarp, kBcMax = 32;
constexpr int kMaxBatch = kMaxDims - 2;
constexpr size_t kSmemMax = 48 << 10;

struct Args {
  const void *q, *k, *v, *mask;
  int nb, mask_kind, causal;
  int64_t B, L, S, E, Ev;
  int64_t bshape[kMaxBatch], qb[kMaxBatch], kb[kMaxBatch], vb[kMaxBatch], mb[kMaxBatch];
  int64_t q_row, k_row, v_row, m_i, m_j;
  uint64_t seed, offset;
  double scale, p;
  int bc;  // keys per tile
};

__device__ __forceinline__ void batch_offsets(const Args& a, int64_t b, int64_t& oq, int64_t& ok, int64_t& ov,
                                              int64_t& om) {
  oq = ok = ov = om = 0;
  for (int d = a.nb - 1; d >= 0; --d) {
    const int64_t s = a.bshape[d], i = b % s;
    oq += i * a.qb[d];
    ok += i * a.kb[d];
    ov += i * a.vb[d];
    om += i * a.mb[d];
    b /= s;
  }
}

__device__ __forceinline__ float exp_t(float x) { return expf(x); }
__device__ __forceinline__ double exp_t(double x) { return exp(x); }
__device__ __forceinline__ float log_t(float x) { return logf(x); }
__device__ __forceinline__ double log_t(double x) { return log(x); }

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    const T w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}
template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Dropout's keep decision for score (b, i, j), the stream of native/cpu/attention.cpp (F.dropout's over [B, L, S]).
__device__ __forceinline__ bool keep(const Args& a, int64_t b, int64_t i, int64_t j) {
  const int64_t idx = (b * a.L + i) * a.S + j, g = idx >> 2;
  const U32x4 r = philox4x32_10((uint32_t)g, (uint32_t)((uint64_t)g >> 32), (uint32_t)a.offset,
                                (uint32_t)(a.offset >> 32), (uint32_t)a.seed, (uint32_t)(a.seed >> 32));
  return (double)u32_to_unit_f(r.v[idx & 3]) > a.p;
}

// The score of row i against key j0 + lane of the tile in sK (row stride E + 1); -inf for lanes past the tile,
// masked keys and (causal) keys after i.
template <class T>
__device__ __forceinline__ T score(const Args& a, const T* qrow, const T* sK, int lane, int bc, int64_t i, int64_t j0,
                                   int64_t om) {
  if (lane >= bc) return -(T)INFINITY;
  const int64_t j = j0 + lane;
  if (a.causal && j > i) return -(T)INFINITY;
  T d = T(0);
  const T* kr = sK + lane * (a.E + 1);
  for (int64_t e = 0; e < a.E; ++e) d += qrow[e] * kr[e];
  d *= (T)a.scale;
  if (a.mask_kind == 1) {
    if (!((const uint8_t*)a.mask)[om + i * a.m_i + j * a.m_j]) return -(T)INFINITY;
  } else if (a.mask_kind == 2) {
    d += ((const T*)a.mask)[om + i * a.m_i + j * a.m_j];
  }
  return d;
}

// Loads keys j0..j0+bc of K and V into sK (stride E + 1) and sV (stride Ev + 1). Call with the whole block.
template <class T>
__device__ __forceinline__ void load_tile(const Args& a, const T* kp, const T* vp, int64_t j0, int bc, T* sK, T* sV) {
  for (int64_t x = threadIdx.x; x < (int64_t)bc * a.E; x += kThreads) {
    const int64_t j = x / a.E, e = x % a.E;
    sK[j * (a.E + 1) + e] = kp[(j0 + j) * a.k_row + e];
  }
  for (int64_t x = threadIdx.x; x < (int64_t)bc * a.Ev; x += kThreads) {
    const int64_t j = x / a.Ev, e = x % a.Ev;
    sV[j * (a.Ev + 1) + e] = vp[(j0 + j) * a.v_row + e];
  }
}

template <class T>
__device__ __forceinline__ T row_dot(const T* x, const T* y, int64_t n, int lane) {
  T acc = T(0);
  for (int64_t e = lane; e < n; e += 32) acc += x[e] * y[e];
  return warp_sum(acc);
}

template <class T>
__global__ void attn_fwd_kernel(Args a, T* __restrict__ out, T* __restrict__ lse) {
  TS_DYNAMIC_SHARED(unsigned char, smem);
  T* sK = (T*)smem;
  T* sV = sK + a.bc * (a.E + 1);
  T* sP = sV + a.bc * (a.Ev + 1);  // [kWarps][32]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nq = (a.L + kBr - 1) / kBr, b = blockIdx.x / nq, i0 = (blockIdx.x % nq) * kBr;
  int64_t oq, ok, ov, om;
  batch_offsets(a, b, oq, ok, ov, om);
  const T* qp = (const T*)a.q + oq;
  const T* kp = (const T*)a.k + ok;
  const T* vp = (const T*)a.v + ov;
  T m[kRowsPerWarp], l[kRowsPerWarp];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    m[r] = -(T)INFINITY;
    l[r] = T(0);
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    if (i < a.L)
      for (int64_t e = lane; e < a.Ev; e += 32) out[(b * a.L + i) * a.Ev + e] = T(0);
  }
  const int64_t last = i0 + kBr < a.L ? i0 + kBr : a.L;
  const int64_t jend = a.causal ? (last < a.S ? last : a.S) : a.S;
  const T ks = (T)(a.p < 1.0 ? 1.0 / (1.0 - a.p) : 0.0);
  for (int64_t j0 = 0; j0 < jend; j0 += a.bc) {
    const int bc = (int)(jend - j0 < a.bc ? jend - j0 : a.bc);
    __syncthreads();  // the previous tile is no longer read
    load_tile(a, kp, vp, j0, bc, sK, sV);
    __syncthreads();
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t i = i0 + warp * kRowsPerWarp + r;
      if (i >= a.L) break;  // warp-uniform
      const T s = score(a, qp + i * a.q_row, sK, lane, bc, i, j0, om);
      const T mx = warp_max(s);
      const T mnew = mx > m[r] ? mx : m[r];
      if (mnew == -(T)INFINITY) continue;  // every key so far masked (warp-uniform)
      const T pe = s == -(T)INFINITY ? T(0) : exp_t(s - mnew);
      const T sum = warp_sum(pe);
      const T alpha = m[r] == -(T)INFINITY ? T(0) : exp_t(m[r] - mnew);
      T pd = pe;
      if (a.p > 0) pd = lane < bc && keep(a, b, i, j0 + lane) ? pe * ks : T(0);
      sP[warp * 32 + lane] = pd;
      __syncwarp();
      T* orow = out + (b * a.L + i) * a.Ev;
      for (int64_t e = lane; e < a.Ev; e += 32) {
        T acc = orow[e] * alpha;
        for (int j = 0; j < bc; ++j) acc += sP[warp * 32 + j] * sV[j * (a.Ev + 1) + e];
        orow[e] = acc;
      }
      __syncwarp();
      l[r] = l[r] * alpha + sum;
      m[r] = mnew;
    }
  }
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    if (i >= a.L) break;
    const bool empty = l[r] == T(0);
    const T inv = empty ? T(0) : T(1) / l[r];
    for (int64_t e = lane; e < a.Ev; e += 32) out[(b * a.L + i) * a.Ev + e] *= inv;
    if (lane == 0) lse[b * a.L + i] = empty ? -(T)INFINITY : m[r] + log_t(l[r]);
  }
}

// The backward's quantities for row i against key j0 + lane: pd (the dropped, rescaled probability, what
// multiplied V) and ds (dS / scale).
template <class T>
__device__ __forceinline__ void row_grads(const Args& a, int64_t b, const T* qrow, const T* dorow, T lse_i, T d_i,
                                          const T* sK, const T* sV, int lane, int bc, int64_t i, int64_t j0, int64_t om,
                                          T& pd, T& ds) {
  pd = T(0);
  ds = T(0);
  const T s = score(a, qrow, sK, lane, bc, i, j0, om);
  if (s == -(T)INFINITY || lse_i == -(T)INFINITY) return;
  const T pr = exp_t(s - lse_i);
  T dp = T(0);
  const T* vr = sV + lane * (a.Ev + 1);
  for (int64_t e = 0; e < a.Ev; ++e) dp += dorow[e] * vr[e];
  if (a.p > 0) {
    const T ks = (T)(a.p < 1.0 ? 1.0 / (1.0 - a.p) : 0.0);
    const bool kp = keep(a, b, i, j0 + lane);
    pd = kp ? pr * ks : T(0);
    ds = pr * ((kp ? dp * ks : T(0)) - d_i);
  } else {
    pd = pr;
    ds = pr * (dp - d_i);
  }
}

// dQ: one block per (batch, query tile), as the forward.
template <class T>
__global__ void attn_bwd_dq_kernel(Args a, const T* __restrict__ o, const T* __restrict__ dout,
                                   const T* __restrict__ lse, T* __restrict__ dq) {
  TS_DYNAMIC_SHARED(unsigned char, smem);
  T* sK = (T*)smem;
  T* sV = sK + a.bc * (a.E + 1);
  T* sP = sV + a.bc * (a.Ev + 1);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nq = (a.L + kBr - 1) / kBr, b = blockIdx.x / nq, i0 = (blockIdx.x % nq) * kBr;
  int64_t oq, ok, ov, om;
  batch_offsets(a, b, oq, ok, ov, om);
  const T* qp = (const T*)a.q + oq;
  const T* kp = (const T*)a.k + ok;
  const T* vp = (const T*)a.v + ov;
  T dd[kRowsPerWarp];
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int64_t i = i0 + warp * kRowsPerWarp + r;
    dd[r] = T(0);
    if (i >= a.L) continue;
    dd[r] = row_dot(o + (b * a.L + i) * a.Ev, dout + (b * a.L + i) * a.Ev, a.Ev, lane);
    for (int64_t e = lane; e < a.E; e += 32) dq[(b * a.L + i) * a.E + e] = T(0);
  }
  const int64_t last = i0 + kBr < a.L ? i0 + kBr : a.L;
  const int64_t jend = a.causal ? (last < a.S ? last : a.S) : a.S;
  for (int64_t j0 = 0; j0 < jend; j0 += a.bc) {
    const int bc = (int)(jend - j0 < a.bc ? jend - j0 : a.bc);
    __syncthreads();
    load_tile(a, kp, vp, j0, bc, sK, sV);
    __syncthreads();
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int64_t i = i0 + warp * kRowsPerWarp + r;
      if (i >= a.L) break;
      T pd, ds;
      row_grads(a, b, qp + i * a.q_row, dout + (b * a.L + i) * a.Ev, lse[b * a.L + i], dd[r], sK, sV, lane, bc, i, j0,
                om, pd, ds);
      sP[warp * 32 + lane] = ds;
      __syncwarp();
      T* g = dq + (b * a.L + i) * a.E;
      for (int64_t e = lane; e < a.E; e += 32) {
        T acc = T(0);
        for (int j = 0; j < bc; ++j) acc += sP[warp * 32 + j] * sK[j * (a.E + 1) + e];
        g[e] += (T)a.scale * acc;
      }
      __syncwarp();
    }
  }
}

// dK, dV: one block per (batch, key tile); groups of kBr query rows, their Pd and dS staged in shared memory.
template <class T>
__global__ void attn_bwd_dkv_kernel(Args a, const T* __restrict__ o, const T* __restrict__ dout,
                                    const T* __restrict__ lse, T* __restrict__ dk, T* __restrict__ dv) {
  TS_DYNAMIC_SHARED(unsigned char, smem);
  T* sK = (T*)smem;
  T* sV = sK + a.bc * (a.E + 1);
  T* sPd = sV + a.bc * (a.Ev + 1);  // [kBr][32]
  T* sDs = sPd + kBr * 32;          // [kBr][32]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t nk = (a.S + a.bc - 1) / a.bc, b = blockIdx.x / nk, j0 = (blockIdx.x % nk) * a.bc;
  const int bc = (int)(a.S - j0 < a.bc ? a.S - j0 : a.bc);
  int64_t oq, ok, ov, om;
  batch_offsets(a, b, oq, ok, ov, om);
  const T* qp = (const T*)a.q + oq;
  const T* kp = (const T*)a.k + ok;
  const T* vp = (const T*)a.v + ov;
  T* dkb = dk + (b * a.S + j0) * a.E;
  T* dvb = dv + (b * a.S + j0) * a.Ev;
  for (int64_t x = threadIdx.x; x < (int64_t)bc * a.E; x += kThreads) dkb[x] = T(0);
  for (int64_t x = threadIdx.x; x < (int64_t)bc * a.Ev; x += kThreads) dvb[x] = T(0);
  load_tile(a, kp, vp, j0, bc, sK, sV);
  __syncthreads();
  for (int64_t i0 = a.causal ? (j0 / kBr) * kBr : 0; i0 < a.L; i0 += kBr) {
    for (int r = 0; r < kRowsPerWarp; ++r) {
      const int rr = warp * kRowsPerWarp + r;
      const int64_t i = i0 + rr;
      T pd = T(0), ds = T(0);
      if (i < a.L) {  // warp-uniform
        const T d_i = row_dot(o + (b * a.L + i) * a.Ev, dout + (b * a.L + i) * a.Ev, a.Ev, lane);
        row_grads(a, b, qp + i * a.q_row, dout + (b * a.L + i) * a.Ev, lse[b * a.L + i], d_i, sK, sV, lane, bc, i,
                  j0, om, pd, ds);
      }
      sPd[rr * 32 + lane] = pd;
      sDs[rr * 32 + lane] = ds;
    }
    __syncthreads();
    const int rows = (int)(a.L - i0 < kBr ? a.L - i0 : kBr);
    for (int64_t x = threadIdx.x; x < (int64_t)bc * a.Ev; x += kThreads) {
      const int64_t j = x / a.Ev, e = x % a.Ev;
      T acc = T(0);
      for (int rr = 0; rr < rows; ++rr) acc += sPd[rr * 32 + j] * dout[(b * a.L + i0 + rr) * a.Ev + e];
      dvb[x] += acc;
    }
    for (int64_t x = threadIdx.x; x < (int64_t)bc * a.E; x += kThreads) {
      const int64_t j = x / a.E, e = x % a.E;
      T acc = T(0);
      for (int rr = 0; rr < rows; ++rr) acc += sDs[rr * 32 + j] * qp[(i0 + rr) * a.q_row + e];
      dkb[x] += (T)a.scale * acc;
    }
    __syncthreads();  // before the next group overwrites sPd, sDs
  }
}

template <class T>
Args args_of(const OpCall& c, const TensorArg* mask) {
  Args a;
  const TensorArg &q = c.in[0], &k = c.in[1], &v = c.in[2];
  a.q = q.data;
  a.k = k.data;
  a.v = v.data;
  a.mask = mask ? mask->data : nullptr;
  a.nb = (int)c.ip[0];
  a.mask_kind = (int)c.ip[1];
  a.causal = c.ip[2] != 0;
  a.seed = (uint64_t)c.ip[3];
  a.offset = (uint64_t)c.ip[4];
  a.scale = c.fp[0];
  a.p = c.fp[1];
  const int nb = a.nb;
  if (nb > kMaxBatch) fail(ERR_SHAPE, "attention", "expected at most 6 batch dims");
  a.B = 1;
  for (int d = 0; d < kMaxBatch; ++d) {
    const bool in = d < nb;
    a.bshape[d] = in ? q.shape[d] : 1;
    a.qb[d] = in ? q.strides[d] : 0;
    a.kb[d] = in ? k.strides[d] : 0;
    a.vb[d] = in ? v.strides[d] : 0;
    a.mb[d] = in && mask ? mask->strides[d] : 0;
    if (in) a.B *= q.shape[d];
  }
  a.L = q.shape[nb];
  a.E = q.shape[nb + 1];
  a.S = k.shape[nb];
  a.Ev = v.shape[nb + 1];
  a.q_row = q.strides[nb];
  a.k_row = k.strides[nb];
  a.v_row = v.strides[nb];
  a.m_i = mask ? mask->strides[nb] : 0;
  a.m_j = mask ? mask->strides[nb + 1] : 0;
  // keys per tile: 32, or fewer so that the K and V tiles (and the staged rows) fit in 48 KiB
  const size_t extra = (size_t)2 * kBr * 32 * sizeof(T);
  int bc = kBcMax;
  while (bc > 1 && (size_t)bc * (a.E + 1 + a.Ev + 1) * sizeof(T) + extra > kSmemMax) bc /= 2;
  if ((size_t)bc * (a.E + 1 + a.Ev + 1) * sizeof(T) + extra > kSmemMax) {
    char msg[160];
    snprintf(msg, sizeof msg, "expected head dims E + Ev of at most %lld on cuda for %s, got %lld + %lld",
             (long long)((kSmemMax - extra) / sizeof(T) - 2), sizeof(T) == 4 ? "float32" : "float64", (long long)a.E,
             (long long)a.Ev);
    fail(ERR_SHAPE, "attention", msg);
  }
  a.bc = bc;
  return a;
}
template <class T>
size_t smem_of(const Args& a, bool dkv) {
  return ((size_t)a.bc * (a.E + 1 + a.Ev + 1) + (dkv ? 2 * kBr * 32 : kWarps * 32)) * sizeof(T);
}

template <class T>
void fwd_fn(const OpCall& c) {
  const Args a = args_of<T>(c, c.nin > 3 ? &c.in[3] : nullptr);
  const int64_t nq = (a.L + kBr - 1) / kBr;
  if (a.B * a.L == 0) return;
  launch("attention", attn_fwd_kernel<T>, dim3((unsigned)(a.B * nq)), dim3(kThreads), smem_of<T>(a, false),
         stream_of(c), a, (T*)c.out[0].data, (T*)c.out[1].data);
}

template <class T>
void bwd_fn(const OpCall& c) {
  const Args a = args_of<T>(c, c.nin > 6 ? &c.in[6] : nullptr);
  const T* o = (const T*)c.in[3].data;
  const T* dout = (const T*)c.in[4].data;
  const T* lse = (const T*)c.in[5].data;
  const int64_t nq = (a.L + kBr - 1) / kBr, nk = (a.S + a.bc - 1) / a.bc;
  if (a.B * a.L > 0)
    launch("attention_bwd_dq", attn_bwd_dq_kernel<T>, dim3((unsigned)(a.B * nq)), dim3(kThreads), smem_of<T>(a, false),
           stream_of(c), a, o, dout, lse, (T*)c.out[0].data);
  if (a.B * a.S > 0)
    launch("attention_bwd_dkv", attn_bwd_dkv_kernel<T>, dim3((unsigned)(a.B * nk)), dim3(kThreads), smem_of<T>(a, true),
           stream_of(c), a, o, dout, lse, (T*)c.out[1].data, (T*)c.out[2].data);
}

}  // namespace

void register_attention() {
  kernel_register(OP_attention, DEV_CUDA, DT_F32, fwd_fn<float>);
  kernel_register(OP_attention, DEV_CUDA, DT_F64, fwd_fn<double>);
  kernel_register(OP_attention_bwd, DEV_CUDA, DT_F32, bwd_fn<float>);
  kernel_register(OP_attention_bwd, DEV_CUDA, DT_F64, bwd_fn<double>);
}

}  // namespace cuda
}  // namespace tensile
