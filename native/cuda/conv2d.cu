// conv2d forward / backward-input / backward-weight, NCHW, as implicit GEMMs on the tiled engine of gemm_tiles.cuh:
// the im2col matrix is never formed, the tile loaders gather its elements from the image (padding reads as zero).
// Params (lib/ops/conv.ts): ip [sh, sw, ph, pw, dh, dw, groups, relu]; x [N,C,H,W], w [K,C/g,kh,kw],
// y [N,K,OH,OW]; lib/ passes every input contiguous. Per group g (the GEMM's batch index), with ckk = Cg*kh*kw:
//   forward:      y[n][g*Kg+k][p] = sum_t w[g*Kg+k][t] col[t][(n,p)]       M = Kg, N = images*OH*OW, K = ckk
//                 (+ bias[k] per output channel, then ReLU when ip[7], the CPU conv's fused epilogue)
//   input grad:   dx[n][g*Cg+c][q] = sum_(k,i,j) w[g*Kg+k][c][i][j] dy[n][g*Kg+k][oh][ow] where
//                 oh*sh = ih + ph - i*dh and ow*sw = iw + pw - j*dw, one GEMM per stride class of (ih, iw)
//                 (the pixels that the same taps reach: no terms off the stride grid)
//                                                    M = Cg, N = images*(class pixels), K = Kg*(class taps)
//   weight grad:  dw[g*Kg+k][t] = sum_(n,p) dy[n][g*Kg+k][p] col[t][(n,p)]   M = Kg, N = ckk, K = images*OH*OW
//                 (split-K: the slices' partial sums are added in slice order; no atomics)
//   bias grad:    db[k] = sum over n, p of dy[n][k][p] (out[1] of conv2d_bwd_weight when asked for): one block per
//                 channel, a fixed assignment of elements to threads and a fixed reduction tree, in double.
// Every sum has an order fixed by the shape, so results are the same run to run.
// With cuDNN loaded (native/cuda/cudnn/), each direction first goes to cuDNN's legacy API (the algorithm chosen
// once per shape, see cudnn.h); the forward's bias + ReLU then run as our epilogue kernel, the bias gradient as our
// kernel below. cuDNN declining a problem (NOT_SUPPORTED, no algorithm whose workspace fits) runs ours.
#include "common.cuh"
#include "../core/runtime.h"
#include "gemm_tiles.cuh"
#include "cudnn/cudnn.h"
#include "cublas/dl.h"

namespace tensile {
namespace cuda {
namespace {

using gemm::udiv;

struct Geo {
  int64_t N, C, H, W, K, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw, g, Cg, Kg, khkw, ckk, ohw, hw;
};
Geo geo(const OpCall& c, const TensorArg& x, const TensorArg& w, const TensorArg& y) {
  Geo G;
  G.N = x.shape[0]; G.C = x.shape[1]; G.H = x.shape[2]; G.W = x.shape[3];
  G.K = w.shape[0]; G.kh = w.shape[2]; G.kw = w.shape[3];
  G.OH = y.shape[2]; G.OW = y.shape[3];
  G.sh = c.ip[0]; G.sw = c.ip[1]; G.ph = c.ip[2]; G.pw = c.ip[3]; G.dh = c.ip[4]; G.dw = c.ip[5]; G.g = c.ip[6];
  G.Cg = G.C / G.g; G.Kg = G.K / G.g; G.khkw = G.kh * G.kw; G.ckk = G.Cg * G.khkw;
  G.ohw = G.OH * G.OW; G.hw = G.H * G.W;
  return G;
}

// forward B operand: col[t][n] of group g, outer n = image*ohw + oh*OW + ow, red t = (c*kh + i)*kw + j.
template <typename T>
struct Im2col {
  static constexpr bool kMat = false, kRedFast = false;
  const T* x;
  Geo G;
  struct Ctx {
    const T* base;
    int64_t ih0, iw0;
  };
  __device__ __forceinline__ Ctx ctx(int64_t g, int64_t n) const {
    const int64_t img = udiv(n, G.ohw), p = n - img * G.ohw;
    const int64_t oh = udiv(p, G.OW), ow = p - oh * G.OW;
    return Ctx{x + (img * G.C + g * G.Cg) * G.hw, oh * G.sh - G.ph, ow * G.sw - G.pw};
  }
  __device__ __forceinline__ T at(const Ctx& q, int64_t t) const {
    const int64_t c = udiv(t, G.khkw), r = t - c * G.khkw;
    const int64_t i = udiv(r, G.kw), j = r - i * G.kw;
    const int64_t ih = q.ih0 + i * G.dh, iw = q.iw0 + j * G.dw;
    return ih >= 0 && ih < G.H && iw >= 0 && iw < G.W ? q.base[c * G.hw + ih * G.W + iw] : T(0);
  }
};

// The input gradient by stride classes: the dx pixels with (ih + ph) % sh == rh and (iw + pw) % sw == rw receive
// exactly the taps i with i*dh % sh == rh (i = i0 + u*si, u < ni) and j with j*dw % sw == rw (j0 + v*sj, v < nj),
// from dy row oh = a + oh0 - u*dsh where ih = ihf + a*sh (likewise columns): one GEMM per class with no terms off
// the stride grid (a stride of 2 would otherwise multiply three zeros out of four).
struct Cls {
  int64_t ihf, iwf, nh, nw;  // the class's first input row / column and their counts
  int64_t i0, si, ni, j0, sj, nj;  // its taps
  int64_t oh0, dsh, ow0, dsw;  // oh = a + oh0 - u*dsh, ow = b + ow0 - v*dsw
};
inline int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    const int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}
// taps t in [0, k) with t*d % s == r: first t0, step st, count n
inline void class_taps(int64_t k, int64_t d, int64_t s, int64_t r, int64_t* t0, int64_t* st, int64_t* n) {
  *st = s / gcd64(s, d);
  *t0 = -1;
  for (int64_t t = 0; t < k && t < *st; ++t)
    if (t * d % s == r) {
      *t0 = t;
      break;
    }
  *n = *t0 < 0 ? 0 : (k - *t0 + *st - 1) / *st;
  if (*t0 < 0) *t0 = 0;
}
inline Cls class_of(const Geo& G, int64_t rh, int64_t rw) {
  Cls q;
  q.ihf = ((rh - G.ph) % G.sh + G.sh) % G.sh;
  q.iwf = ((rw - G.pw) % G.sw + G.sw) % G.sw;
  q.nh = q.ihf < G.H ? (G.H - q.ihf + G.sh - 1) / G.sh : 0;
  q.nw = q.iwf < G.W ? (G.W - q.iwf + G.sw - 1) / G.sw : 0;
  class_taps(G.kh, G.dh, G.sh, rh, &q.i0, &q.si, &q.ni);
  class_taps(G.kw, G.dw, G.sw, rw, &q.j0, &q.sj, &q.nj);
  q.oh0 = (q.ihf + G.ph - q.i0 * G.dh) / G.sh;  // exact: ihf + ph == rh == i0*dh (mod sh)
  q.ow0 = (q.iwf + G.pw - q.j0 * G.dw) / G.sw;
  q.dsh = q.si * G.dh / G.sh;
  q.dsw = q.sj * G.dw / G.sw;
  return q;
}

// input-grad A operand: W_g^T restricted to the class's taps, outer c (input channel in the group), red (k, u, v).
template <typename T>
struct WeightT {
  static constexpr bool kMat = false, kRedFast = true;
  const T* w;
  Geo G;
  Cls q;
  struct Ctx {
    const T* base;
  };
  __device__ __forceinline__ Ctx ctx(int64_t g, int64_t c) const {
    return Ctx{w + g * G.Kg * G.ckk + c * G.khkw + q.i0 * G.kw + q.j0};
  }
  __device__ __forceinline__ T at(const Ctx& x, int64_t r) const {
    const int64_t nuv = q.ni * q.nj;
    const int64_t k = udiv(r, nuv), uv = r - k * nuv;
    const int64_t u = udiv(uv, q.nj), v = uv - u * q.nj;
    return x.base[k * G.ckk + u * q.si * G.kw + v * q.sj];
  }
};

// input-grad B operand: red (k, u, v), outer n = (image, a, b) of the class's pixels: dy[image][g*Kg+k][oh][ow].
template <typename T>
struct DyCol {
  static constexpr bool kMat = false, kRedFast = false;
  const T* dy;
  Geo G;
  Cls q;
  struct Ctx {
    const T* base;
    int64_t oh, ow;  // at u = v = 0
  };
  __device__ __forceinline__ Ctx ctx(int64_t g, int64_t n) const {
    const int64_t plane = q.nh * q.nw;
    const int64_t img = udiv(n, plane), p = n - img * plane;
    const int64_t a = udiv(p, q.nw), b = p - a * q.nw;
    return Ctx{dy + (img * G.K + g * G.Kg) * G.ohw, a + q.oh0, b + q.ow0};
  }
  __device__ __forceinline__ T at(const Ctx& x, int64_t r) const {
    const int64_t nuv = q.ni * q.nj;
    const int64_t k = udiv(r, nuv), uv = r - k * nuv;
    const int64_t u = udiv(uv, q.nj), v = uv - u * q.nj;
    const int64_t oh = x.oh - u * q.dsh, ow = x.ow - v * q.dsw;
    return oh >= 0 && oh < G.OH && ow >= 0 && ow < G.OW ? x.base[k * G.ohw + oh * G.OW + ow] : T(0);
  }
};

// (g, c, n = (image, a, b)) -> dx[image][g*Cg + c][ihf + a*sh][iwf + b*sw]
template <typename T>
struct DxStore {
  T* dx;
  Geo G;
  Cls q;
  template <int V>
  __device__ __forceinline__ void store(int64_t g, int64_t, int64_t c, int64_t n, const T* v, int cnt) const {
    const int64_t plane = q.nh * q.nw;
    int64_t img = udiv(n, plane), p = n - img * plane;
    int64_t a = udiv(p, q.nw), b = p - a * q.nw;
    T* q0 = dx + (img * G.C + g * G.Cg + c) * G.hw + (q.ihf + a * G.sh) * G.W + q.iwf + b * G.sw;
    if (G.sw == 1 && cnt == V && b + V <= q.nw && gemm::aligned<T, V>(q0)) {
      gemm::vstore<T, V>(q0, v);
      return;
    }
#pragma unroll
    for (int e = 0; e < V; ++e) {
      if (e < cnt) {
        dx[(img * G.C + g * G.Cg + c) * G.hw + (q.ihf + a * G.sh) * G.W + q.iwf + b * G.sw] = v[e];
        if (++b == q.nw) {
          b = 0;
          if (++a == q.nh) {
            a = 0;
            ++img;
          }
        }
      }
    }
  }
};

// weight-grad A operand: dy_g, outer k, red (image, p) = image*ohw + p.
template <typename T>
struct DyRows {
  static constexpr bool kMat = false, kRedFast = true;
  const T* dy;
  Geo G;
  struct Ctx {
    const T* base;
  };
  __device__ __forceinline__ Ctx ctx(int64_t g, int64_t k) const { return Ctx{dy + (g * G.Kg + k) * G.ohw}; }
  __device__ __forceinline__ T at(const Ctx& q, int64_t r) const {
    const int64_t img = udiv(r, G.ohw);
    return q.base[img * G.K * G.ohw + (r - img * G.ohw)];
  }
};

// weight-grad B operand: col^T, outer t = (c*kh + i)*kw + j, red (image, oh, ow).
template <typename T>
struct ColT {
  static constexpr bool kMat = false, kRedFast = true;
  const T* x;
  Geo G;
  struct Ctx {
    const T* base;
    int64_t ioff, joff;
  };
  __device__ __forceinline__ Ctx ctx(int64_t g, int64_t t) const {
    const int64_t c = udiv(t, G.khkw), r = t - c * G.khkw;
    const int64_t i = udiv(r, G.kw), j = r - i * G.kw;
    return Ctx{x + (g * G.Cg + c) * G.hw, i * G.dh - G.ph, j * G.dw - G.pw};
  }
  __device__ __forceinline__ T at(const Ctx& q, int64_t r) const {
    const int64_t img = udiv(r, G.ohw), p = r - img * G.ohw;
    const int64_t oh = udiv(p, G.OW), ow = p - oh * G.OW;
    const int64_t ih = oh * G.sh + q.ioff, iw = ow * G.sw + q.joff;
    return ih >= 0 && ih < G.H && iw >= 0 && iw < G.W ? q.base[img * G.C * G.hw + ih * G.W + iw] : T(0);
  }
};

// (g, m, n = image*plane + p) -> out[(image*Ctot + g*Cg + m)*plane + p] = relu?(v + bias[g*Cg + m]).
template <typename T>
struct NchwStore {
  T* out;
  int64_t Ctot, Cg, plane;
  const T* bias;  // per channel, or null
  int relu;
  template <int V>
  __device__ __forceinline__ void store(int64_t g, int64_t, int64_t m, int64_t n, const T* v, int cnt) const {
    const int64_t ch = g * Cg + m;
    int64_t img = udiv(n, plane), p = n - img * plane;
    const T bv = bias ? bias[ch] : T(0);
    T w[V];
#pragma unroll
    for (int e = 0; e < V; ++e) {
      T x = v[e] + bv;
      w[e] = relu && !(x > T(0)) ? T(0) : x;
    }
    T* q = out + (img * Ctot + ch) * plane + p;
    if (cnt == V && p + V <= plane && gemm::aligned<T, V>(q)) {
      gemm::vstore<T, V>(q, w);
      return;
    }
#pragma unroll
    for (int e = 0; e < V; ++e) {
      if (e < cnt) {
        out[(img * Ctot + ch) * plane + p] = w[e];
        if (++p == plane) {
          p = 0;
          ++img;
        }
      }
    }
  }
};

// dw[g][m][n] at dw + (g*Kg + m)*ckk + n.
template <typename T>
struct RowStore {
  T* out;
  int64_t sb, ld;
  template <int V>
  __device__ __forceinline__ void store(int64_t g, int64_t, int64_t m, int64_t n, const T* v, int cnt) const {
    T* q = out + g * sb + m * ld + n;
    if (cnt == V && gemm::aligned<T, V>(q)) {
      gemm::vstore<T, V>(q, v);
      return;
    }
#pragma unroll
    for (int e = 0; e < V; ++e)
      if (e < cnt) q[e] = v[e];
  }
};

// db[k] = sum over images n and pixels p of dy[n][k][p]: block k (grid-stride), thread t sums the elements
// t, t + 256, ... of the channel's N*ohw, then a fixed tree (shuffles within warps, warps in order).
constexpr int kBiasThreads = 256;
template <typename T>
__global__ void __launch_bounds__(kBiasThreads) bias_grad_kernel(const T* dy, T* db, int64_t N, int64_t K, int64_t ohw) {
  TS_DYNAMIC_SHARED(float4, ts_gemm_smem);  // the tile kernels' name and type (one extern declaration per file)
  double* warp_sums = reinterpret_cast<double*>(ts_gemm_smem);  // [kBiasThreads / 32]
  const int64_t total = N * ohw;
  for (int64_t k = blockIdx.x; k < K; k += gridDim.x) {
    double s = 0;
    for (int64_t e = threadIdx.x; e < total; e += kBiasThreads) {
      const int64_t img = udiv(e, ohw);
      s += (double)dy[(img * K + k) * ohw + (e - img * ohw)];
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
      double t = 0;
      for (int w = 0; w < kBiasThreads / 32; ++w) t += warp_sums[w];
      db[k] = (T)t;
    }
    __syncthreads();
  }
}

// y[n][k][p] = relu?(y + bias[k]) over y [N,K,plane] (after cuDNN's forward).
template <typename T>
__global__ void conv_epilogue_kernel(T* y, const T* bias, int64_t n, int64_t K, int64_t plane, int relu) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T v = y[i];
    if (bias) v += bias[i / plane % K];
    if (relu) v = v > T(0) ? v : T(0);
    y[i] = v;
  }
}

// The call through cuDNN: "" when it declined (ours runs), else the path's name.
template <typename T>
std::string conv_cudnn(const OpCall& c, int dir, const Geo& G, const void* xp, const void* wp, const void* yp,
                       void* out) {
  dnn::Conv v;
  v.dir = dir;
  v.dtype = sizeof(T) == 8 ? DT_F64 : DT_F32;
  const int64_t x[4] = {G.N, G.C, G.H, G.W}, w[4] = {G.K, G.Cg, G.kh, G.kw}, y[4] = {G.N, G.K, G.OH, G.OW};
  for (int i = 0; i < 4; ++i) {
    v.x[i] = x[i];
    v.w[i] = w[i];
    v.y[i] = y[i];
  }
  v.pad[0] = (int)G.ph; v.pad[1] = (int)G.pw;
  v.stride[0] = (int)G.sh; v.stride[1] = (int)G.sw;
  v.dil[0] = (int)G.dh; v.dil[1] = (int)G.dw;
  v.groups = (int)G.g;
  v.xp = xp;
  v.wp = wp;
  v.yp = yp;
  v.out = out;
  return dnn::conv(c, v);
}

template <typename T>
void conv_fwd(const OpCall& c) {
  const TensorArg &xt = c.in[0], &wt = c.in[1], &yt = c.out[0];
  const Geo G = geo(c, xt, wt, yt);
  const T* bias = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  const bool relu = c.ip[7] != 0;
  const std::string path = conv_cudnn<T>(c, dnn::kForward, G, xt.data, wt.data, nullptr, yt.data);
  if (!path.empty()) {
    if (bias || relu) {
      const int64_t n = G.N * G.K * G.ohw;
      launch("conv2d_epilogue", conv_epilogue_kernel<T>, blocks_for(n, 256), 256, 0, stream_of(c), (T*)yt.data, bias,
             n, G.K, G.ohw, relu ? 1 : 0);
      libs::note(c.op, path + " + our bias/ReLU epilogue");
    } else {
      libs::note(c.op, path);
    }
    return;
  }
  libs::note(c.op, "ours (implicit GEMM)");
  const gemm::Mat<T> A{(const T*)wt.data, G.Kg * G.ckk, G.ckk, 1};
  const Im2col<T> B{(const T*)xt.data, G};
  const NchwStore<T> epi{(T*)yt.data, G.K, G.Kg, G.ohw, bias, relu ? 1 : 0};
  gemm::run<T>(c, "conv2d", A, B, epi, G.g, G.Kg, G.N * G.ohw, G.ckk);
}

// in: dy [N,K,OH,OW], w; out: dx [N,C,H,W]. One GEMM per stride class (one in all for unit strides).
template <typename T>
void conv_bwd_input(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &wt = c.in[1], &dxt = c.out[0];
  const Geo G = geo(c, dxt, wt, dyt);
  const std::string path = conv_cudnn<T>(c, dnn::kBackwardData, G, nullptr, wt.data, dyt.data, dxt.data);
  libs::note(c.op, path.empty() ? std::string("ours (implicit GEMM per stride class)") : path);
  if (!path.empty()) return;
  for (int64_t rh = 0; rh < G.sh; ++rh)
    for (int64_t rw = 0; rw < G.sw; ++rw) {
      const Cls q = class_of(G, rh, rw);
      if (q.nh == 0 || q.nw == 0) continue;  // no pixel of dx in this class
      const WeightT<T> A{(const T*)wt.data, G, q};
      const DyCol<T> B{(const T*)dyt.data, G, q};
      const DxStore<T> epi{(T*)dxt.data, G, q};
      gemm::run<T>(c, "conv2d_bwd_input", A, B, epi, G.g, G.Cg, G.N * q.nh * q.nw, G.Kg * q.ni * q.nj);
    }
}

// in: dy, x; out: dw [K, C/g, kh, kw] and, when asked for, db [K].
template <typename T>
void conv_bwd_weight(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &xt = c.in[1], &dwt = c.out[0];
  const Geo G = geo(c, xt, dwt, dyt);
  const std::string path = conv_cudnn<T>(c, dnn::kBackwardFilter, G, xt.data, nullptr, dyt.data, dwt.data);
  if (path.empty()) {
    const DyRows<T> A{(const T*)dyt.data, G};
    const ColT<T> B{(const T*)xt.data, G};
    const RowStore<T> epi{(T*)dwt.data, G.Kg * G.ckk, G.ckk};
    gemm::run<T>(c, "conv2d_bwd_weight", A, B, epi, G.g, G.Kg, G.ckk, G.N * G.ohw);
  }
  libs::note(c.op, (path.empty() ? std::string("ours (implicit GEMM)") : path) +
                       (c.nout > 1 ? " + our bias gradient" : ""));
  if (c.nout > 1) {
    const unsigned blocks = (unsigned)(G.K < 65535 ? G.K : 65535);
    launch("conv2d_bwd_weight", bias_grad_kernel<T>, dim3(blocks), dim3(kBiasThreads),
           sizeof(double) * (kBiasThreads / 32), stream_of(c),
           (const T*)dyt.data, (T*)c.out[1].data, G.N, G.K, G.ohw);
  }
}

void conv2d_f32(const OpCall& c) { conv_fwd<float>(c); }
void conv2d_f64(const OpCall& c) { conv_fwd<double>(c); }
void conv2d_bwd_input_f32(const OpCall& c) { conv_bwd_input<float>(c); }
void conv2d_bwd_input_f64(const OpCall& c) { conv_bwd_input<double>(c); }
void conv2d_bwd_weight_f32(const OpCall& c) { conv_bwd_weight<float>(c); }
void conv2d_bwd_weight_f64(const OpCall& c) { conv_bwd_weight<double>(c); }

}  // namespace

void register_conv2d() {
  kernel_register(OP_conv2d, DEV_CUDA, DT_F32, conv2d_f32);
  kernel_register(OP_conv2d, DEV_CUDA, DT_F64, conv2d_f64);
  kernel_register(OP_conv2d_bwd_input, DEV_CUDA, DT_F32, conv2d_bwd_input_f32);
  kernel_register(OP_conv2d_bwd_input, DEV_CUDA, DT_F64, conv2d_bwd_input_f64);
  kernel_register(OP_conv2d_bwd_weight, DEV_CUDA, DT_F32, conv2d_bwd_weight_f32);
  kernel_register(OP_conv2d_bwd_weight, DEV_CUDA, DT_F64, conv2d_bwd_weight_f64);
}

}  // namespace cuda
}  // namespace tensile
