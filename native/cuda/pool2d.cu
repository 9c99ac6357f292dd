// Pooling on CUDA, NCHW contiguous (lib/ops/pool.ts makes x and dy contiguous; outputs are new). Same semantics as
// native/cpu/pool2d.cpp: ip [kh, kw, sh, sw, ph, pw, dh, dw, count_include_pad]; output sizes come from out[0].
// Every output (forward) or input element (backward) is computed by one thread that reads its window in the CPU's
// order, so sums are accumulated in the same order and precision as on the CPU (double for the averages' forward,
// T for the backward's accumulation); nothing uses floating-point atomics.
#include "common.cuh"
#include "../core/runtime.h"
#include <cstdio>

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;

struct PGeo {
  int64_t planes, H, W, OH, OW;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
};
// x: the input-side tensor [N,C,H,W], y: the output-side [N,C,OH,OW]
static PGeo pgeo(const OpCall& c, const TensorArg& x, const TensorArg& y) {
  PGeo G{};
  G.planes = x.shape[0] * x.shape[1];
  G.H = x.shape[2]; G.W = x.shape[3]; G.OH = y.shape[2]; G.OW = y.shape[3];
  if (c.nip >= 8) {
    G.kh = (int)c.ip[0]; G.kw = (int)c.ip[1]; G.sh = (int)c.ip[2]; G.sw = (int)c.ip[3];
    G.ph = (int)c.ip[4]; G.pw = (int)c.ip[5]; G.dh = (int)c.ip[6]; G.dw = (int)c.ip[7];
  }
  G.include_pad = c.nip > 8 && c.ip[8] != 0;
  return G;
}
// The CPU's fast path (2x2 windows at stride 2, no padding or dilation): its tie rule for NaNs differs slightly from
// the general path's (see max_2x2_kernel), and its backward reports indices outside their window.
static inline bool pool_2x2(const PGeo& G) {
  return G.kh == 2 && G.kw == 2 && G.sh == 2 && G.sw == 2 && G.ph == 0 && G.pw == 0 && G.dh == 1 && G.dw == 1 &&
         2 * G.OH <= G.H && 2 * G.OW <= G.W;
}

// ---------------------------------------------------------------- max pooling, forward
// One thread per output; the window is walked row-major, the first maximum wins, a NaN wins (the first NaN stays).
template <typename T>
__global__ void max_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, int32_t* __restrict__ idx, PGeo G) {
  const int64_t n = G.planes * G.OH * G.OW;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < n; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = q % G.OW, oh = q / G.OW % G.OH, p = q / (G.OW * G.OH);
    const T* xp = x + p * G.H * G.W;
    T best = -(T)INFINITY;
    int64_t bi = -1;
    const int64_t h0 = oh * G.sh - G.ph, w0 = ow * G.sw - G.pw;
    for (int i = 0; i < G.kh; ++i) {
      const int64_t ih = h0 + (int64_t)i * G.dh;
      if (ih < 0 || ih >= G.H) continue;
      for (int j = 0; j < G.kw; ++j) {
        const int64_t iw = w0 + (int64_t)j * G.dw;
        if (iw < 0 || iw >= G.W) continue;
        const T v = xp[ih * G.W + iw];
        if (bi < 0 || v > best || (v != v && best == best)) {
          best = v;
          bi = ih * G.W + iw;
        }
      }
    }
    y[q] = best;
    idx[q] = (int32_t)(bi < 0 ? 0 : bi);
  }
}

// 2x2 windows at stride 2 (the CNN case): the CPU's fast-path selection, rule for rule, so that the indices agree
// even for windows with several NaNs (there the second element replaces a NaN first element: b wins if b > a or b is
// NaN; c and d only replace an ordered maximum).
template <typename T>
__global__ void max_2x2_kernel(const T* __restrict__ x, T* __restrict__ y, int32_t* __restrict__ idx, PGeo G) {
  const int64_t n = G.planes * G.OH * G.OW;
  const int64_t W = G.W;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < n; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = q % G.OW, oh = q / G.OW % G.OH, p = q / (G.OW * G.OH);
    const int64_t pin = 2 * oh * W + 2 * ow;
    const T* xw = x + p * G.H * W + pin;
    const T a = xw[0], b = xw[1], cc = xw[W], d = xw[W + 1];
    const bool tB = b > a || b != b;
    T m = tB ? b : a;
    int64_t k = tB ? 1 : 0;
    const bool tC = (cc > m || cc != cc) && m == m;
    m = tC ? cc : m;
    k = tC ? W : k;
    const bool tD = (d > m || d != d) && m == m;
    m = tD ? d : m;
    k = tD ? W + 1 : k;
    y[q] = m;
    idx[q] = (int32_t)(pin + k);
  }
}

template <typename T>
void max_fwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.in[0], c.out[0]);
  const int64_t n = G.planes * G.OH * G.OW;
  if (n == 0) return;
  const T* x = (const T*)c.in[0].data;
  T* y = (T*)c.out[0].data;
  int32_t* idx = (int32_t*)c.out[1].data;
  if (pool_2x2(G))
    launch("max_pool2d_2x2", max_2x2_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), x, y, idx, G);
  else
    launch("max_pool2d", max_fwd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), x, y, idx, G);
}

// ---------------------------------------------------------------- max pooling, backward
// The indices may come from the caller (maxPool2dBackward is public), so they are checked first, as on the CPU:
//   - with the forward's parameters and windows that tile the input (the CPU's 2x2 fast path): the first index
//     outside its window is an error (flag = its position);
//   - otherwise the first index outside [0, H*W) is an error (flag = its position), and with the forward's
//     parameters an index inside the plane but outside its window (flag = kOutside + position) only means that the
//     per-window gather cannot be used: the plane-wise scatter below handles any indices.
constexpr unsigned long long kOutside = 1ull << 62;

// v (an index within the plane) lies in the window of output (oh, ow)
__device__ __forceinline__ bool in_window(const PGeo& G, int64_t v, int64_t oh, int64_t ow) {
  if (v < 0 || v >= G.H * G.W) return false;
  const int64_t ih = v / G.W, iw = v % G.W;
  const int64_t th = ih - (oh * G.sh - G.ph), tw = iw - (ow * G.sw - G.pw);
  return th >= 0 && tw >= 0 && th % G.dh == 0 && tw % G.dw == 0 && th / G.dh < G.kh && tw / G.dw < G.kw;
}

__global__ void max_bwd_check_kernel(const int32_t* __restrict__ idx, int64_t n, PGeo G, bool has_geo, bool tiling,
                                     unsigned long long* flag) {
  const int64_t HW = G.H * G.W;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < n; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t v = idx[q];
    if (tiling) {
      const int64_t ow = q % G.OW, oh = q / G.OW % G.OH;
      if (!in_window(G, v, oh, ow)) atomicMin(flag, (unsigned long long)q);
    } else if (v < 0 || v >= HW) {
      atomicMin(flag, (unsigned long long)q);
    } else if (has_geo) {
      const int64_t ow = q % G.OW, oh = q / G.OW % G.OH;
      if (!in_window(G, v, oh, ow)) atomicMin(flag, kOutside + (unsigned long long)q);
    }
  }
}

// Every index lies in its window: one thread per input element gathers dy from the windows that contain it, in
// increasing output order (the order in which the CPU adds them), starting from 0.
template <typename T>
__global__ void max_bwd_gather_kernel(const T* __restrict__ dy, const int32_t* __restrict__ idx, T* __restrict__ dx,
                                      PGeo G) {
  const int64_t HW = G.H * G.W, OHW = G.OH * G.OW, n = G.planes * HW;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = e / HW, v = e % HW, h = v / G.W, w = v % G.W;
    const T* dyp = dy + p * OHW;
    const int32_t* ip = idx + p * OHW;
    T acc = T(0);
    for (int i = G.kh - 1; i >= 0; --i) {  // oh = (h + ph - i*dh) / sh increases as i decreases
      const int64_t th = h + G.ph - (int64_t)i * G.dh;
      if (th < 0 || th % G.sh != 0) continue;
      const int64_t oh = th / G.sh;
      if (oh >= G.OH) continue;
      for (int j = G.kw - 1; j >= 0; --j) {
        const int64_t tw = w + G.pw - (int64_t)j * G.dw;
        if (tw < 0 || tw % G.sw != 0) continue;
        const int64_t ow = tw / G.sw;
        if (ow >= G.OW) continue;
        const int64_t o = oh * G.OW + ow;
        if (ip[o] == (int32_t)v) acc += dyp[o];
      }
    }
    dx[e] = acc;
  }
}

// Any indices within the plane: one block per plane zeroes it, then takes the outputs in chunks of blockDim, in
// order. Within a chunk, the first thread of each target index adds the chunk's values for that index in order, to
// the value from the earlier chunks; chunks are separated by barriers. Each dx element thus receives its values in
// increasing output order, as on the CPU.
template <typename T>
__global__ void max_bwd_scatter_kernel(const T* __restrict__ dy, const int32_t* __restrict__ idx, T* __restrict__ dx,
                                       int64_t planes, int64_t HW, int64_t OHW) {
  __shared__ int32_t tgt[kThreads];
  __shared__ T val[kThreads];
  const int t = threadIdx.x;
  for (int64_t p = blockIdx.x; p < planes; p += gridDim.x) {
    T* d = dx + p * HW;
    for (int64_t i = t; i < HW; i += blockDim.x) d[i] = T(0);
    __syncthreads();
    for (int64_t base = 0; base < OHW; base += blockDim.x) {
      const int cnt = (int)(OHW - base < (int64_t)blockDim.x ? OHW - base : (int64_t)blockDim.x);
      if (t < cnt) {
        tgt[t] = idx[p * OHW + base + t];
        val[t] = dy[p * OHW + base + t];
      }
      __syncthreads();
      if (t < cnt) {
        const int32_t my = tgt[t];
        bool first = true;
        for (int s = 0; s < t; ++s)
          if (tgt[s] == my) { first = false; break; }
        if (first) {
          T acc = d[my];
          for (int s = t; s < cnt; ++s)
            if (tgt[s] == my) acc += val[s];
          d[my] = acc;
        }
      }
      __syncthreads();
    }
  }
}

template <typename T>
void max_bwd(const OpCall& c) {
  const TensorArg& dxt = c.out[0];
  const PGeo G = pgeo(c, dxt, c.in[0]);
  const bool has_geo = c.nip >= 8;
  const int64_t planes = G.planes, HW = G.H * G.W, OHW = G.OH * G.OW, n = planes * OHW;
  if (planes * HW == 0) return;
  const T* dy = (const T*)c.in[0].data;
  const int32_t* idx = (const int32_t*)c.in[1].data;
  T* dx = (T*)dxt.data;
  const bool tiling = has_geo && pool_2x2(G) && 2 * G.OH == G.H && 2 * G.OW == G.W;
  bool gather = has_geo;
  if (n > 0) {
    unsigned long long* flag = error_flag(c);
    launch("max_pool2d_bwd_check", max_bwd_check_kernel, blocks_for(n, kThreads), kThreads, 0, stream_of(c), idx, n,
           G, has_geo, tiling, flag);
    const unsigned long long f = read_error_flag(c);
    if (f != ~0ull && f < kOutside) {
      int32_t bad = 0;
      copy_to_host(c, &bad, idx + f, sizeof bad);
      char msg[200];
      if (tiling)
        snprintf(msg, sizeof msg,
                 "expected each index inside its 2x2 window (as max_pool2d returns them), got %lld at position %lld",
                 (long long)bad, (long long)f);
      else
        snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)HW,
                 (long long)bad, (long long)f);
      fail(ERR_INDEX, op_name(c.op), msg);
    }
    if (f != ~0ull) gather = false;  // an index inside the plane but outside its window
  }
  if (gather) {
    launch("max_pool2d_bwd", max_bwd_gather_kernel<T>, blocks_for(planes * HW, kThreads), kThreads, 0, stream_of(c),
           dy, idx, dx, G);
  } else {
    const unsigned grid = (unsigned)(planes < 65535 * 8 ? planes : 65535 * 8);
    launch("max_pool2d_bwd_scatter", max_bwd_scatter_kernel<T>, grid, kThreads, 0, stream_of(c), dy, idx, dx, planes,
           HW, OHW);
  }
}

// ---------------------------------------------------------------- average pooling
// PyTorch's window and divisor (the window may run into the padding; with count_include_pad the divisor counts
// padding cells but not cells past the padded edge).
struct Win {
  int64_t h0, h1, w0, w1, div;
};
__device__ __forceinline__ Win avg_window(const PGeo& G, int64_t oh, int64_t ow) {
  int64_t hs = oh * G.sh - G.ph, ws = ow * G.sw - G.pw;
  int64_t he = hs + G.kh < G.H + G.ph ? hs + G.kh : G.H + G.ph;
  int64_t we = ws + G.kw < G.W + G.pw ? ws + G.kw : G.W + G.pw;
  const int64_t pool = (he - hs) * (we - ws);
  hs = hs < 0 ? 0 : hs; ws = ws < 0 ? 0 : ws;
  he = he < G.H ? he : G.H; we = we < G.W ? we : G.W;
  Win r{hs, he, ws, we, G.include_pad ? pool : (he - hs) * (we - ws)};
  return r;
}

template <typename T>
__global__ void avg_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, PGeo G) {
  const int64_t n = G.planes * G.OH * G.OW;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < n; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = q % G.OW, oh = q / G.OW % G.OH, p = q / (G.OW * G.OH);
    const T* xp = x + p * G.H * G.W;
    const Win r = avg_window(G, oh, ow);
    double s = 0;
    for (int64_t h = r.h0; h < r.h1; ++h)
      for (int64_t w = r.w0; w < r.w1; ++w) s += (double)xp[h * G.W + w];
    y[q] = (T)(r.div > 0 ? s / (double)r.div : 0.0);
  }
}

// One thread per input element: the outputs whose window covers it, in increasing output order, each adding
// (T)(dy / divisor) as the CPU's scatter does.
template <typename T>
__global__ void avg_bwd_kernel(const T* __restrict__ dy, T* __restrict__ dx, PGeo G) {
  const int64_t HW = G.H * G.W, n = G.planes * HW;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = e / HW, h = e % HW / G.W, w = e % G.W;
    // oh * sh - ph <= h < oh * sh - ph + kh
    const int64_t th = h + G.ph, tw = w + G.pw;
    int64_t oh0 = th - G.kh + 1 <= 0 ? 0 : (th - G.kh + 1 + G.sh - 1) / G.sh;
    int64_t oh1 = th / G.sh;
    int64_t ow0 = tw - G.kw + 1 <= 0 ? 0 : (tw - G.kw + 1 + G.sw - 1) / G.sw;
    int64_t ow1 = tw / G.sw;
    if (oh1 >= G.OH) oh1 = G.OH - 1;
    if (ow1 >= G.OW) ow1 = G.OW - 1;
    const T* dyp = dy + p * G.OH * G.OW;
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Win r = avg_window(G, oh, ow);
        if (r.div <= 0 || h < r.h0 || h >= r.h1 || w < r.w0 || w >= r.w1) continue;
        acc += (T)((double)dyp[oh * G.OW + ow] / (double)r.div);
      }
    dx[e] = acc;
  }
}

template <typename T>
void avg_fwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.in[0], c.out[0]);
  const int64_t n = G.planes * G.OH * G.OW;
  if (n == 0) return;
  launch("avg_pool2d", avg_fwd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), (const T*)c.in[0].data,
         (T*)c.out[0].data, G);
}
template <typename T>
void avg_bwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.out[0], c.in[0]);
  const int64_t n = G.planes * G.H * G.W;
  if (n == 0) return;
  launch("avg_pool2d_bwd", avg_bwd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c),
         (const T*)c.in[0].data, (T*)c.out[0].data, G);
}

// ---------------------------------------------------------------- adaptive average pooling
// Cell i covers [floor(i*H/OH), ceil((i+1)*H/OH)).
__device__ __forceinline__ int64_t cell_lo(int64_t i, int64_t H, int64_t O) { return i * H / O; }
__device__ __forceinline__ int64_t cell_hi(int64_t i, int64_t H, int64_t O) { return ((i + 1) * H + O - 1) / O; }

// small cells: one thread per output, the CPU's order (row by row, in double)
template <typename T>
__global__ void adaptive_fwd_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t H, int64_t W,
                                    int64_t OH, int64_t OW) {
  const int64_t n = planes * OH * OW;
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < n; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = q % OW, oh = q / OW % OH, p = q / (OW * OH);
    const int64_t h0 = cell_lo(oh, H, OH), h1 = cell_hi(oh, H, OH), w0 = cell_lo(ow, W, OW), w1 = cell_hi(ow, W, OW);
    const T* xp = x + p * H * W;
    double s = 0;
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) s += (double)xp[h * W + w];
    y[q] = (T)(s / (double)((h1 - h0) * (w1 - w0)));
  }
}

// large cells (global average pooling of big maps): one warp per output, coalesced loads along the cell's rows,
// per-lane double partial sums reduced by shuffles in a fixed tree (deterministic; the order differs from the
// CPU's sequential sum only by rounding of the double partials)
template <typename T>
__global__ void adaptive_fwd_warp_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes, int64_t H,
                                         int64_t W, int64_t OH, int64_t OW) {
  const int64_t n = planes * OH * OW;
  const int lane = threadIdx.x & 31;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
  for (int64_t q = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; q < n; q += warps) {
    const int64_t ow = q % OW, oh = q / OW % OH, p = q / (OW * OH);
    const int64_t h0 = cell_lo(oh, H, OH), h1 = cell_hi(oh, H, OH), w0 = cell_lo(ow, W, OW), w1 = cell_hi(ow, W, OW);
    const int64_t cw = w1 - w0, area = (h1 - h0) * cw;
    const T* xp = x + p * H * W;
    double s = 0;
    for (int64_t k = lane; k < area; k += 32) s += (double)xp[(h0 + k / cw) * W + w0 + k % cw];
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) y[q] = (T)(s / (double)area);
  }
}

template <typename T>
__global__ void adaptive_bwd_kernel(const T* __restrict__ dy, T* __restrict__ dx, int64_t planes, int64_t H, int64_t W,
                                    int64_t OH, int64_t OW) {
  const int64_t HW = H * W, n = planes * HW;
  for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t p = e / HW, h = e % HW / W, w = e % W;
    // the cells containing h: oh in [floor(h*OH/H), ceil((h+1)*OH/H) - 1] (checked exactly below)
    const int64_t oh0 = h * OH / H, oh1 = ((h + 1) * OH + H - 1) / H - 1;
    const int64_t ow0 = w * OW / W, ow1 = ((w + 1) * OW + W - 1) / W - 1;
    const T* dyp = dy + p * OH * OW;
    T acc = T(0);
    for (int64_t oh = oh0; oh <= oh1 && oh < OH; ++oh) {
      const int64_t h0 = cell_lo(oh, H, OH), h1 = cell_hi(oh, H, OH);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = ow0; ow <= ow1 && ow < OW; ++ow) {
        const int64_t w0 = cell_lo(ow, W, OW), w1 = cell_hi(ow, W, OW);
        if (w < w0 || w >= w1) continue;
        acc += (T)((double)dyp[oh * OW + ow] / (double)((h1 - h0) * (w1 - w0)));
      }
    }
    dx[e] = acc;
  }
}

template <typename T>
void adaptive_fwd(const OpCall& c) {
  const TensorArg &xt = c.in[0], &yt = c.out[0];
  const int64_t planes = xt.shape[0] * xt.shape[1], H = xt.shape[2], W = xt.shape[3], OH = yt.shape[2],
                OW = yt.shape[3];
  const int64_t n = planes * OH * OW;
  if (n == 0) return;
  // the largest cell's area (cells differ by at most one row and one column)
  const int64_t area = ((H + OH - 1) / OH + 1) * ((W + OW - 1) / OW + 1);
  if (area >= 64) {
    const int64_t threads = n * 32;
    launch("adaptive_avg_pool2d_warp", adaptive_fwd_warp_kernel<T>, blocks_for(threads, kThreads), kThreads, 0,
           stream_of(c), (const T*)xt.data, (T*)yt.data, planes, H, W, OH, OW);
  } else {
    launch("adaptive_avg_pool2d", adaptive_fwd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c),
           (const T*)xt.data, (T*)yt.data, planes, H, W, OH, OW);
  }
}
template <typename T>
void adaptive_bwd(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &dxt = c.out[0];
  const int64_t planes = dxt.shape[0] * dxt.shape[1], H = dxt.shape[2], W = dxt.shape[3], OH = dyt.shape[2],
                OW = dyt.shape[3];
  const int64_t n = planes * H * W;
  if (n == 0) return;
  launch("adaptive_avg_pool2d_bwd", adaptive_bwd_kernel<T>, blocks_for(n, kThreads), kThreads, 0, stream_of(c),
         (const T*)dyt.data, (T*)dxt.data, planes, H, W, OH, OW);
}

}  // namespace

void register_pool2d() {
  kernel_register(OP_max_pool2d, DEV_CUDA, DT_F32, max_fwd<float>);
  kernel_register(OP_max_pool2d, DEV_CUDA, DT_F64, max_fwd<double>);
  kernel_register(OP_max_pool2d_bwd, DEV_CUDA, DT_F32, max_bwd<float>);
  kernel_register(OP_max_pool2d_bwd, DEV_CUDA, DT_F64, max_bwd<double>);
  kernel_register(OP_avg_pool2d, DEV_CUDA, DT_F32, avg_fwd<float>);
  kernel_register(OP_avg_pool2d, DEV_CUDA, DT_F64, avg_fwd<double>);
  kernel_register(OP_avg_pool2d_bwd, DEV_CUDA, DT_F32, avg_bwd<float>);
  kernel_register(OP_avg_pool2d_bwd, DEV_CUDA, DT_F64, avg_bwd<double>);
  kernel_register(OP_adaptive_avg_pool2d, DEV_CUDA, DT_F32, adaptive_fwd<float>);
  kernel_register(OP_adaptive_avg_pool2d, DEV_CUDA, DT_F64, adaptive_fwd<double>);
  kernel_register(OP_adaptive_avg_pool2d_bwd, DEV_CUDA, DT_F32, adaptive_bwd<float>);
  kernel_register(OP_adaptive_avg_pool2d_bwd, DEV_CUDA, DT_F64, adaptive_bwd<double>);
}

}  // namespace cuda
}  // namespace tensile
