// conv2d forward / backward-input / backward-weight, NCHW, on the packed GEMM: im2col (skipped for a single 1x1,
// stride 1, unpadded image) then one GEMM per group and chunk of images (see chunk_images).
// Params (lib/ops/conv.ts): ip [sh, sw, ph, pw, dh, dw, groups, relu]; x [N,C,H,W], w [K,C/g,kh,kw], y [N,K,OH,OW].
#include "kernels.h"

TS_CPU_BEGIN
namespace {

struct Geo {
  int64_t N, C, H, W, K, kh, kw, OH, OW, sh, sw, ph, pw, dh, dw, g, Cg, Kg, ckk, ohw;
  bool direct;  // 1x1, stride 1, no padding: the input image is already the GEMM operand
};

static Geo geo(const OpCall& c, const TensorArg& x, const TensorArg& w, const TensorArg& y) {
  Geo G;
  G.N = x.shape[0]; G.C = x.shape[1]; G.H = x.shape[2]; G.W = x.shape[3];
  G.K = w.shape[0]; G.kh = w.shape[2]; G.kw = w.shape[3];
  G.OH = y.shape[2]; G.OW = y.shape[3];
  G.sh = c.ip[0]; G.sw = c.ip[1]; G.ph = c.ip[2]; G.pw = c.ip[3]; G.dh = c.ip[4]; G.dw = c.ip[5]; G.g = c.ip[6];
  G.Cg = G.C / G.g; G.Kg = G.K / G.g; G.ckk = G.Cg * G.kh * G.kw; G.ohw = G.OH * G.OW;
  G.direct = G.kh == 1 && G.kw == 1 && G.sh == 1 && G.sw == 1 && G.ph == 0 && G.pw == 0;
  return G;
}

// The output columns [lo, hi) whose input column ow*sw + off lies inside [0, W) (off = j*dw - pw).
static inline void valid_cols(const Geo& G, int64_t off, int64_t* lo, int64_t* hi) {
  int64_t l = off < 0 ? (-off + G.sw - 1) / G.sw : 0;     // first ow with ow*sw + off >= 0
  int64_t h = G.W - off <= 0 ? 0 : (G.W - off - 1) / G.sw + 1;  // first ow with ow*sw + off >= W
  if (h > G.OW) h = G.OW;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

// col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - ph + i*dh][ow*sw - pw + j*dw] (0 outside). Rows of col are ld
// apart, so that several images can sit side by side in one GEMM operand.
template <typename T>
static void im2col(const Geo& G, const T* x, T* col, int64_t ld) {
  for (int64_t j = 0; j < G.kw; ++j) {
    const int64_t off = j * G.dw - G.pw;
    int64_t lo, hi;
    valid_cols(G, off, &lo, &hi);
    for (int64_t c = 0; c < G.Cg; ++c)
      for (int64_t i = 0; i < G.kh; ++i) {
        T* dst = col + ((c * G.kh + i) * G.kw + j) * ld;
        const T* src = x + c * G.H * G.W;
        for (int64_t oh = 0; oh < G.OH; ++oh) {
          const int64_t ih = oh * G.sh - G.ph + i * G.dh;
          T* d = dst + oh * G.OW;
          if (ih < 0 || ih >= G.H) {
            for (int64_t ow = 0; ow < G.OW; ++ow) d[ow] = T(0);
            continue;
          }
          const T* s = src + ih * G.W + off;
          for (int64_t ow = 0; ow < lo; ++ow) d[ow] = T(0);
          if (G.sw == 1) {
            run_copy(d + lo, s + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = s[ow * G.sw];
          }
          for (int64_t ow = hi; ow < G.OW; ++ow) d[ow] = T(0);
        }
      }
  }
}

// x[c][ih][iw] += col[...] (the adjoint of im2col); x must be zeroed by the caller.
template <typename T>
static void col2im(const Geo& G, const T* col, int64_t ld, T* x) {
  for (int64_t j = 0; j < G.kw; ++j) {
    const int64_t off = j * G.dw - G.pw;
    int64_t lo, hi;
    valid_cols(G, off, &lo, &hi);
    if (lo >= hi) continue;
    for (int64_t c = 0; c < G.Cg; ++c)
      for (int64_t i = 0; i < G.kh; ++i) {
        const T* src = col + ((c * G.kh + i) * G.kw + j) * ld;
        T* dst = x + c * G.H * G.W;
        for (int64_t oh = 0; oh < G.OH; ++oh) {
          const int64_t ih = oh * G.sh - G.ph + i * G.dh;
          if (ih < 0 || ih >= G.H) continue;
          T* d = dst + ih * G.W + off;
          const T* s = src + oh * G.OW;
          if (G.sw == 1) {
            run_add(d + lo, s + lo, hi - lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow * G.sw] += s[ow];
          }
        }
      }
  }
}

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsA, int64_t csA, const T* B, int64_t rsB, int64_t csB,
          T* C, int64_t ldc, T alpha, T beta, const T* bias, int bias_mode, bool relu, bool parallel);
template <>
void gemm<float>(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B,
                 int64_t rsB, int64_t csB, float* C, int64_t ldc, float alpha, float beta, const float* bias,
                 int bias_mode, bool relu, bool parallel) {
  sgemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, bias, bias_mode, relu, parallel);
}
template <>
void gemm<double>(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsA, int64_t csA, const double* B,
                  int64_t rsB, int64_t csB, double* C, int64_t ldc, double alpha, double beta, const double* bias,
                  int bias_mode, bool relu, bool parallel) {
  dgemm(M, N, K, A, rsA, csA, B, rsB, csB, C, ldc, alpha, beta, bias, bias_mode, relu, parallel);
}

// Images are processed in chunks of `nb` side by side in the GEMM's N dimension (N = nb*OH*OW), so that small
// feature maps (7x7, 3x3) still give the micro-kernel full tiles. Chunks run in parallel with single-threaded GEMMs
// when there are at least as many chunks as threads; otherwise each GEMM is parallel.
static int64_t chunk_images(const Geo& G) {
  int64_t nb = (512 + G.ohw - 1) / G.ohw;
  if (nb < 1) nb = 1;
  if (nb > G.N) nb = G.N;
  // keep one chunk per thread at least when the batch allows it
  const int64_t nt = nthreads();
  while (nb > 1 && (G.N + nb - 1) / nb < nt) --nb;
  return nb;
}

template <typename F>
static void over_chunks(const Geo& G, int64_t nb, F&& body) {
  const int64_t nchunks = (G.N + nb - 1) / nb;
  const int nt = nthreads();
  if (nchunks >= nt && nt > 1) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t c = 0; c < nchunks; ++c) body(c * nb, G.N - c * nb < nb ? G.N - c * nb : nb, false);
  } else {
    for (int64_t c = 0; c < nchunks; ++c) body(c * nb, G.N - c * nb < nb ? G.N - c * nb : nb, true);
  }
}

// x of images n0..n0+cnt, group g, as the [ckk, cnt*ohw] GEMM operand: the image itself for a single 1x1 unpadded
// stride-1 image, otherwise im2col into col.
template <typename T>
static const T* x_operand(const Geo& G, const T* x, int64_t n0, int64_t cnt, int64_t g, T* col, int64_t ld) {
  if (G.direct && cnt == 1) return x + (n0 * G.C + g * G.Cg) * G.H * G.W;
  for (int64_t i = 0; i < cnt; ++i) im2col<T>(G, x + ((n0 + i) * G.C + g * G.Cg) * G.H * G.W, col + i * G.ohw, ld);
  return col;
}

template <typename T>
static void conv_fwd(const OpCall& c) {
  const TensorArg &xt = c.in[0], &wt = c.in[1], &yt = c.out[0];
  const Geo G = geo(c, xt, wt, yt);
  const T* x = (const T*)xt.data;
  const T* w = (const T*)wt.data;
  const T* bias = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  T* y = (T*)yt.data;
  const bool relu = c.ip[7] != 0;
  const int64_t nb = chunk_images(G);
  over_chunks(G, nb, [&](int64_t n0, int64_t cnt, bool par) {
    const int64_t ld = cnt * G.ohw;
    const bool direct = G.direct && cnt == 1;
    T* col = direct ? nullptr : (T*)workspace(2, sizeof(T) * (size_t)(G.ckk * ld));
    T* tmp = cnt > 1 ? (T*)workspace(4, sizeof(T) * (size_t)(G.Kg * ld)) : nullptr;
    for (int64_t g = 0; g < G.g; ++g) {
      const T* B = x_operand<T>(G, x, n0, cnt, g, col, ld);
      T* out = cnt > 1 ? tmp : y + (n0 * G.K + g * G.Kg) * G.ohw;
      gemm<T>(G.Kg, ld, G.ckk, w + g * G.Kg * G.ckk, G.ckk, 1, B, ld, 1, out, ld, T(1), T(0),
              bias ? bias + g * G.Kg : nullptr, bias ? 1 : 0, relu, par);
      if (cnt > 1)  // scatter [Kg, cnt*ohw] back to [cnt, K, ohw]
        for (int64_t i = 0; i < cnt; ++i)
          for (int64_t k = 0; k < G.Kg; ++k)
            memcpy(y + ((n0 + i) * G.K + g * G.Kg + k) * G.ohw, tmp + k * ld + i * G.ohw, sizeof(T) * G.ohw);
    }
  });
}

// dy of images n0..n0+cnt, group g, as a [Kg, cnt*ohw] operand (a pointer into dy when cnt == 1).
template <typename T>
static const T* gather_dy(const Geo& G, const T* dy, int64_t n0, int64_t cnt, int64_t g, T* buf) {
  if (cnt == 1) return dy + (n0 * G.K + g * G.Kg) * G.ohw;
  const int64_t ld = cnt * G.ohw;
  for (int64_t i = 0; i < cnt; ++i)
    for (int64_t k = 0; k < G.Kg; ++k)
      memcpy(buf + k * ld + i * G.ohw, dy + ((n0 + i) * G.K + g * G.Kg + k) * G.ohw, sizeof(T) * G.ohw);
  return buf;
}

// dx = col2im(W^T dy) per chunk and group. in: dy [N,K,OH,OW], w; out: dx [N,C,H,W].
template <typename T>
static void conv_bwd_input(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &wt = c.in[1], &dxt = c.out[0];
  const Geo G = geo(c, dxt, wt, dyt);
  const T* dy = (const T*)dyt.data;
  const T* w = (const T*)wt.data;
  T* dx = (T*)dxt.data;
  const int64_t nb = chunk_images(G);
  over_chunks(G, nb, [&](int64_t n0, int64_t cnt, bool par) {
    const int64_t ld = cnt * G.ohw;
    const bool direct = G.direct && cnt == 1;
    T* col = direct ? nullptr : (T*)workspace(2, sizeof(T) * (size_t)(G.ckk * ld));
    T* dyb = cnt > 1 ? (T*)workspace(4, sizeof(T) * (size_t)(G.Kg * ld)) : nullptr;
    for (int64_t g = 0; g < G.g; ++g) {
      const T* B = gather_dy<T>(G, dy, n0, cnt, g, dyb);
      T* out = direct ? dx + (n0 * G.C + g * G.Cg) * G.H * G.W : col;
      // [ckk, ld] = W_g^T [ckk, Kg] x dy_g [Kg, ld]
      gemm<T>(G.ckk, ld, G.Kg, w + g * G.Kg * G.ckk, 1, G.ckk, B, ld, 1, out, ld, T(1), T(0), nullptr, 0, false, par);
      if (!direct)
        for (int64_t i = 0; i < cnt; ++i) {
          T* dxg = dx + ((n0 + i) * G.C + g * G.Cg) * G.H * G.W;
          for (int64_t e = 0; e < G.Cg * G.H * G.W; ++e) dxg[e] = T(0);
          col2im<T>(G, col + i * G.ohw, ld, dxg);
        }
    }
  });
}

// dw = sum over chunks of dy_chunk [Kg, cnt*ohw] x col_chunk^T [cnt*ohw, ckk]. in: dy, x; out: dw [K, C/g, kh, kw].
// With parallel chunks, each thread accumulates a private partial sum; the partials are added at the end.
template <typename T>
static void conv_bwd_weight(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &xt = c.in[1], &dwt = c.out[0];
  const Geo G = geo(c, xt, dwt, dyt);
  const T* dy = (const T*)dyt.data;
  const T* x = (const T*)xt.data;
  T* dw = (T*)dwt.data;
  const int64_t wsz = G.K * G.ckk;
  const int64_t nb = chunk_images(G);
  const int64_t nchunks = (G.N + nb - 1) / nb;
  const int nt = nthreads();
  auto chunk = [&](int64_t n0, int64_t cnt, T* acc, bool first, bool par) {
    const int64_t ld = cnt * G.ohw;
    const bool direct = G.direct && cnt == 1;
    T* col = direct ? nullptr : (T*)workspace(2, sizeof(T) * (size_t)(G.ckk * ld));
    T* dyb = cnt > 1 ? (T*)workspace(4, sizeof(T) * (size_t)(G.Kg * ld)) : nullptr;
    for (int64_t g = 0; g < G.g; ++g) {
      const T* B = x_operand<T>(G, x, n0, cnt, g, col, ld);
      const T* A = gather_dy<T>(G, dy, n0, cnt, g, dyb);
      gemm<T>(G.Kg, G.ckk, ld, A, ld, 1, B, 1, ld, acc + g * G.Kg * G.ckk, G.ckk, T(1), first ? T(0) : T(1), nullptr,
              0, false, par);
    }
  };
  if (nchunks >= nt && nt > 1) {
    T* partial = (T*)workspace(3, sizeof(T) * (size_t)(wsz * nt));
#pragma omp parallel num_threads(nt)
    {
      const int t = omp_get_thread_num();
      T* acc = partial + t * wsz;
      bool first = true;
#pragma omp for schedule(static)
      for (int64_t ch = 0; ch < nchunks; ++ch) {
        const int64_t n0 = ch * nb, cnt = G.N - n0 < nb ? G.N - n0 : nb;
        chunk(n0, cnt, acc, first, false);
        first = false;
      }
      if (first)
        for (int64_t i = 0; i < wsz; ++i) acc[i] = T(0);
#pragma omp barrier
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wsz; ++i) {
        T s = T(0);
        for (int k = 0; k < nt; ++k) s += partial[k * wsz + i];
        dw[i] = s;
      }
    }
  } else {
    if (G.N == 0)
      for (int64_t i = 0; i < wsz; ++i) dw[i] = T(0);
    for (int64_t ch = 0; ch < nchunks; ++ch) {
      const int64_t n0 = ch * nb, cnt = G.N - n0 < nb ? G.N - n0 : nb;
      chunk(n0, cnt, dw, ch == 0, true);
    }
  }
}
}  // namespace

void conv2d_f32(const OpCall& c) { conv_fwd<float>(c); }
void conv2d_f64(const OpCall& c) { conv_fwd<double>(c); }
void conv2d_bwd_input_f32(const OpCall& c) { conv_bwd_input<float>(c); }
void conv2d_bwd_input_f64(const OpCall& c) { conv_bwd_input<double>(c); }
void conv2d_bwd_weight_f32(const OpCall& c) { conv_bwd_weight<float>(c); }
void conv2d_bwd_weight_f64(const OpCall& c) { conv_bwd_weight<double>(c); }
TS_CPU_END
