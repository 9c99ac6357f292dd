// conv2d forward / backward-input / backward-weight, NCHW, on the packed GEMM: im2col (skipped for a single 1x1,
// stride 1, unpadded image) then one GEMM per group and chunk of images (see chunk_count).
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

#if TS_ISA_ID == 2
// AVX-512, float, unit stride along w: one masked load and one masked store per (tap row, output row) for im2col,
// the padding zeros coming from the load's zero mask; and col2im as a gather-free sum per dx row, written once
// (no zeroing pass, no read-modify-write per tap).
static bool rows_ok(const Geo& G) { return G.sw == 1; }
static void im2col_rows(const Geo& G, const float* x, float* col, int64_t ld) {
  // geometry in locals: the stores below are floats, and the compiler would otherwise reload G after each one
  const int64_t Cg = G.Cg, kh = G.kh, kw = G.kw, H = G.H, W = G.W, OH = G.OH, OW = G.OW;
  const int64_t sh = G.sh, ph = G.ph, dh = G.dh, dw = G.dw, pw = G.pw;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        float* dst = col + ((c * kh + i) * kw + j) * ld;
        const int64_t off = j * dw - pw;  // input column of output column 0
        const float* xc = x + c * H * W;
        if (OW <= 16) {  // one vector per row: masks fixed for the tap
          const __mmask16 st = lanes(0, OW), ldm = (__mmask16)(st & lanes(-off, W - off));
          for (int64_t oh = 0; oh < OH; ++oh) {
            const int64_t ih = oh * sh - ph + i * dh;
            const bool in = ih >= 0 && ih < H;
            const float* src = (const float*)((uintptr_t)(xc + (in ? ih : 0) * W) + (intptr_t)off * (intptr_t)sizeof(float));
            _mm512_mask_storeu_ps(dst + oh * OW, st, _mm512_maskz_loadu_ps(in ? ldm : (__mmask16)0, src));
          }
          continue;
        }
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t ih = oh * sh - ph + i * dh;
          float* d = dst + oh * OW;
          const bool in = ih >= 0 && ih < H;
          const float* srow = xc + (in ? ih : 0) * W;
          for (int64_t q = 0; q < OW; q += 16) {
            // lanes: output columns q.., valid where the input column q + l + off is inside [0, W)
            const __mmask16 st = lanes(0, OW - q);
            const __mmask16 ld_m = in ? (__mmask16)(st & lanes(-(q + off), W - (q + off))) : (__mmask16)0;
            const float* src = (const float*)((uintptr_t)srow + (intptr_t)(q + off) * (intptr_t)sizeof(float));
            _mm512_mask_storeu_ps(d + q, st, _mm512_maskz_loadu_ps(ld_m, src));
          }
        }
      }
}
static void col2im_rows(const Geo& G, const float* col, int64_t ld, float* x) {
  const int64_t Cg = G.Cg, kh = G.kh, kw = G.kw, H = G.H, W = G.W, OH = G.OH, OW = G.OW;
  const int64_t sh = G.sh, ph = G.ph, dh = G.dh, dw = G.dw, pw = G.pw;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t ih = 0; ih < H; ++ih) {
      float* drow = x + (c * H + ih) * W;
      for (int64_t q = 0; q < W; q += 16) {
        __m512 acc = _mm512_setzero_ps();
        for (int64_t i = 0; i < kh; ++i) {
          const int64_t t = ih + ph - i * dh;  // = oh * sh
          if (t < 0 || t % sh) continue;
          const int64_t oh = t / sh;
          if (oh >= OH) continue;
          const float* crow = col + (c * kh + i) * kw * ld + oh * OW;
          for (int64_t j = 0; j < kw; ++j) {
            const int64_t ow0 = q - (j * dw - pw);  // output column of lane 0
            const __mmask16 m = (__mmask16)(lanes(-ow0, OW - ow0) & lanes(0, W - q));
            if (!m) continue;
            const float* src = (const float*)((uintptr_t)(crow + j * ld) + (intptr_t)ow0 * (intptr_t)sizeof(float));
            acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, src));
          }
        }
        _mm512_mask_storeu_ps(drow + q, lanes(0, W - q), acc);
      }
    }
}
#else
static bool rows_ok(const Geo&) { return false; }
static void im2col_rows(const Geo&, const float*, float*, int64_t) {}
static void col2im_rows(const Geo&, const float*, int64_t, float*) {}
#endif

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

// ---------------------------------------------------------------------------------------------------------------
// Direct kernels for convolutions with few taps per output (C*kh*kw <= 64) and unit stride along w: the first
// layer of image CNNs (C = 1 or 3). There an im2col GEMM has K = 9..75 and spends its time packing and storing;
// here each output row is a few vectors accumulated from shifted rows of a zero-padded copy of the image.
constexpr int64_t kDirectMaxTaps = 64;
constexpr int64_t kPaddedMaxTaps = 4096;  // the backward-input pass runs K*kh*kw taps
// (1x1 convolutions are GEMMs without im2col already)
static bool direct_ok(const Geo& G) {
  return G.g == 1 && G.sw == 1 && G.ckk <= kDirectMaxTaps && G.kh * G.kw > 1 && G.OW > 0 && G.OH > 0;
}

struct Padded {
  int64_t Hp, Wp, nv;  // padded rows, padded row length, vectors per output row
  int64_t off[kPaddedMaxTaps];  // tap t = (c, i, j): offset of its first input element from the window origin
};
static Padded padded_geo(const Geo& G) {
  constexpr int VL = Vec<float>::N;
  Padded P;
  P.nv = (G.OW + VL - 1) / VL;
  P.Hp = (G.OH - 1) * G.sh + (G.kh - 1) * G.dh + 1;
  P.Wp = P.nv * VL + (G.kw - 1) * G.dw;
  int64_t t = 0;
  for (int64_t c = 0; c < G.C; ++c)
    for (int64_t i = 0; i < G.kh; ++i)
      for (int64_t j = 0; j < G.kw; ++j) P.off[t++] = (c * P.Hp + i * G.dh) * P.Wp + j * G.dw;
  return P;
}
// xp[c][r][q] = x[c][r - ph][q - pw], zero outside the image (and past the last output vector)
static void pad_image(const Geo& G, const Padded& P, const float* x, float* xp) {
  for (int64_t c = 0; c < G.C; ++c)
    for (int64_t r = 0; r < P.Hp; ++r) {
      float* d = xp + (c * P.Hp + r) * P.Wp;
      const int64_t ih = r - G.ph;
      if (ih < 0 || ih >= G.H) {
        memset(d, 0, sizeof(float) * P.Wp);
        continue;
      }
      const float* s = x + (c * G.H + ih) * G.W;
      const int64_t lo = G.pw < P.Wp ? G.pw : P.Wp;
      const int64_t hi = G.pw + G.W < P.Wp ? G.pw + G.W : P.Wp;
      memset(d, 0, sizeof(float) * lo);
      run_copy(d + lo, s, hi - lo);
      if (hi < P.Wp) memset(d + hi, 0, sizeof(float) * (P.Wp - hi));
    }
}

// Stores lanes [0, n) of v (n >= VL: the whole vector) after an optional ReLU; a short tail is a masked store.
static inline void store_out(float* dst, Vec<float>::type v, int64_t n, bool relu) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N;
  if (relu) v = v > vf{} ? v : vf{};
  if (n >= VL) {
    memcpy(dst, &v, sizeof(vf));
    return;
  }
  alignas(64) float tmp[VL];
  memcpy(tmp, &v, sizeof(vf));
  run_copy(dst, tmp, n);
}

// KB output channels x NV vectors of one output row, over all ckk taps.
template <int KB, int NV>
static inline void direct_row(const Padded& P, const float* xrow, const float* w, int64_t ckk, const float* bias,
                              bool relu, float* const* out, int64_t OW, int64_t v0) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N;
  vf acc[KB][NV];
  for (int kb = 0; kb < KB; ++kb)
    for (int u = 0; u < NV; ++u) acc[kb][u] = bias ? bcast(bias[kb]) : vf{};
  for (int64_t t = 0; t < ckk; ++t) {
    const float* xs = xrow + P.off[t] + v0 * VL;
    vf xv[NV];
    for (int u = 0; u < NV; ++u) memcpy(&xv[u], xs + u * VL, sizeof(vf));
    for (int kb = 0; kb < KB; ++kb) {
      const vf wv = bcast(w[kb * ckk + t]);
      for (int u = 0; u < NV; ++u) acc[kb][u] += wv * xv[u];
    }
  }
  for (int kb = 0; kb < KB; ++kb)
    for (int u = 0; u < NV; ++u) {
      const int64_t col = (v0 + u) * VL;
      store_out(out[kb] + col, acc[kb][u], OW - col, relu);
    }
}

template <int KB>
static void direct_rows(const Geo& G, const Padded& P, const float* xp, const float* w, const float* bias, bool relu,
                        float* yk, int64_t oh) {
  float* out[KB];
  for (int kb = 0; kb < KB; ++kb) out[kb] = yk + (kb * G.OH + oh) * G.OW;
  const float* xrow = xp + oh * G.sh * P.Wp;
  int64_t v = 0;
  for (; v + 4 <= P.nv; v += 4) direct_row<KB, 4>(P, xrow, w, G.ckk, bias, relu, out, G.OW, v);
  switch (P.nv - v) {
    case 3: direct_row<KB, 3>(P, xrow, w, G.ckk, bias, relu, out, G.OW, v); break;
    case 2: direct_row<KB, 2>(P, xrow, w, G.ckk, bias, relu, out, G.OW, v); break;
    case 1: direct_row<KB, 1>(P, xrow, w, G.ckk, bias, relu, out, G.OW, v); break;
  }
}

// One output channel, unit stride and dilation along h, KH rows of taps: RB output rows at a time, each input row
// loaded once per (channel, tap column) and used by the KH output rows it reaches (a load per KH FMAs instead of
// one per FMA). The backward-input pass of a first layer (one output channel, K*kh*kw taps) runs here.
// RAW (AVX-512): xp is the unpadded image x itself; rows outside it and columns outside [0, W) read as zeros by
// masks, so the image is never copied.
template <int KH, int NV, bool RAW = false, int RB = 4>
static void slide_rows(const Geo& G, const Padded& P, const float* xp, const float* w, const float* bias, bool relu,
                       float* yk, int64_t oh0, int64_t v0) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N;
  vf acc[RB][NV];
  TS_UNROLL
  for (int r = 0; r < RB; ++r)
    TS_UNROLL
    for (int u = 0; u < NV; ++u) acc[r][u] = bias ? bcast(bias[0]) : vf{};
  for (int64_t c = 0; c < G.C; ++c)
    for (int64_t j = 0; j < G.kw; ++j) {
      vf wv[KH];
      TS_UNROLL
      for (int i = 0; i < KH; ++i) wv[i] = bcast(w[(c * KH + i) * G.kw + j]);
#if TS_ISA_ID == 2
      __mmask16 cm[NV];  // RAW: the lanes whose input column is inside the image
      const int64_t col0 = v0 * VL + j * G.dw - G.pw;
      TS_UNROLL
      for (int u = 0; u < NV; ++u) cm[u] = lanes(-(col0 + u * VL), G.W - (col0 + u * VL));
#endif
      const float* base = RAW ? nullptr : xp + (c * P.Hp + oh0) * P.Wp + j * G.dw + v0 * VL;
      TS_UNROLL
      for (int r = 0; r < RB + KH - 1; ++r) {
        vf xv[NV];
#if TS_ISA_ID == 2
        if constexpr (RAW) {
          const int64_t ih = oh0 + r - G.ph;
          const bool in = ih >= 0 && ih < G.H;
          const float* row = xp + (c * G.H + (in ? ih : 0)) * G.W;
          TS_UNROLL
          for (int u = 0; u < NV; ++u)
            xv[u] = (vf)_mm512_maskz_loadu_ps(in ? cm[u] : (__mmask16)0,
                                              (const float*)((uintptr_t)row + (intptr_t)(col0 + u * VL) * (intptr_t)sizeof(float)));
        } else
#endif
          TS_UNROLL
          for (int u = 0; u < NV; ++u) memcpy(&xv[u], base + r * P.Wp + u * VL, sizeof(vf));
        TS_UNROLL
        for (int i = 0; i < KH; ++i) {
          const int row = r - i;  // the output row (in the block) that input row r reaches through tap row i
          if (row < 0 || row >= RB) continue;  // resolved at compile time once unrolled
          TS_UNROLL
          for (int u = 0; u < NV; ++u) acc[row][u] += wv[i] * xv[u];
        }
      }
    }
  TS_UNROLL
  for (int r = 0; r < RB; ++r)
    TS_UNROLL
    for (int u = 0; u < NV; ++u) {
      const int64_t col = (v0 + u) * VL;
      store_out(yk + (oh0 + r) * G.OW + col, acc[r][u], G.OW - col, relu);
    }
}
// All output rows of one channel; RAW: x unpadded (every row block then runs the masked path, the last partial
// block included, its rows past OH computed and dropped).
template <int KH, bool RAW>
static void slide_channel(const Geo& G, const Padded& P, const float* xp, const float* w, const float* bias, bool relu,
                          float* yk) {
  int64_t oh = 0;
  // blocks of 12 rows x 2 vectors (24 accumulators: each takes KH dependent FMAs per tap column, and 24 chains keep
  // both FMA ports busy where 8 left them waiting on latency: 1.3x on a first layer's backward input), then of 4
  for (; oh + 12 <= G.OH; oh += 12) {
    int64_t v = 0;
    for (; v + 2 <= P.nv; v += 2) slide_rows<KH, 2, RAW, 12>(G, P, xp, w, bias, relu, yk, oh, v);
    if (v < P.nv) slide_rows<KH, 1, RAW, 12>(G, P, xp, w, bias, relu, yk, oh, v);
  }
  for (; oh + 4 <= G.OH; oh += 4) {
    int64_t v = 0;
    for (; v + 2 <= P.nv; v += 2) slide_rows<KH, 2, RAW>(G, P, xp, w, bias, relu, yk, oh, v);
    if (v < P.nv) slide_rows<KH, 1, RAW>(G, P, xp, w, bias, relu, yk, oh, v);
  }
  if constexpr (!RAW) {
    for (; oh < G.OH; ++oh) direct_rows<1>(G, P, xp, w, bias, relu, yk, oh);  // the last rows, one at a time
  } else if (oh < G.OH) {
    // the last rows: computed into a 4-row scratch block, the valid ones copied out
    const int64_t rem = G.OH - oh;
    float* tmp = (float*)workspace(4, sizeof(float) * (size_t)((oh + 4) * G.OW));
    for (int64_t v = 0; v < P.nv; ++v) slide_rows<KH, 1, RAW>(G, P, xp, w, bias, relu, tmp, oh, v);
    memcpy(yk + oh * G.OW, tmp + oh * G.OW, sizeof(float) * (size_t)(rem * G.OW));
  }
}
static bool slide_ok(const Geo& G) { return G.sh == 1 && G.dh == 1 && G.kh >= 1 && G.kh <= 5; }
template <bool RAW>
static void slide(const Geo& G, const Padded& P, const float* xp, const float* w, const float* bias, bool relu, float* yk) {
  switch (G.kh) {
    case 1: return slide_channel<1, RAW>(G, P, xp, w, bias, relu, yk);
    case 2: return slide_channel<2, RAW>(G, P, xp, w, bias, relu, yk);
    case 3: return slide_channel<3, RAW>(G, P, xp, w, bias, relu, yk);
    case 4: return slide_channel<4, RAW>(G, P, xp, w, bias, relu, yk);
    default: return slide_channel<5, RAW>(G, P, xp, w, bias, relu, yk);
  }
}

static void direct_fwd(const Geo& G, const float* x, const float* w, const float* bias, bool relu, float* y) {
  const Padded P = padded_geo(G);
  constexpr int KB = 4;
  const int64_t kblocks = (G.K + KB - 1) / KB;
#pragma omp parallel for schedule(static) if (G.N * G.K * G.ohw * G.ckk >= (1 << 16))
  for (int64_t n = 0; n < G.N; ++n) {
#if TS_ISA_ID == 2
    if (G.K < KB && slide_ok(G)) {  // a few output channels (backward input of a first layer): no padded copy
      for (int64_t k = 0; k < G.K; ++k)
        slide<true>(G, P, x + n * G.C * G.H * G.W, w + k * G.ckk, bias ? bias + k : nullptr, relu,
                    y + (n * G.K + k) * G.ohw);
      continue;
    }
#endif
    float* xp = (float*)workspace(5, sizeof(float) * (size_t)(G.C * P.Hp * P.Wp));
    pad_image(G, P, x + n * G.C * G.H * G.W, xp);
    for (int64_t kbk = 0; kbk < kblocks; ++kbk) {
      const int64_t k0 = kbk * KB;
      float* yk = y + (n * G.K + k0) * G.ohw;
      const float* wk = w + k0 * G.ckk;
      const float* bk = bias ? bias + k0 : nullptr;
      if (k0 + KB <= G.K) {
        for (int64_t oh = 0; oh < G.OH; ++oh) direct_rows<KB>(G, P, xp, wk, bk, relu, yk, oh);
      } else {  // the last channels, one at a time
        for (int64_t k = k0; k < G.K; ++k) {
          const float* wk1 = w + k * G.ckk;
          const float* bk1 = bias ? bias + k : nullptr;
          float* yk1 = y + (n * G.K + k) * G.ohw;
          if (slide_ok(G)) slide<false>(G, P, xp, wk1, bk1, relu, yk1);
          else
            for (int64_t oh = 0; oh < G.OH; ++oh) direct_rows<1>(G, P, xp, wk1, bk1, relu, yk1, oh);
        }
      }
    }
  }
}

// dx of a stride-1 convolution is a forward convolution of dy with the flipped, transposed weight and the
// complementary padding dilation*(k-1) - padding: the same direct kernel runs it, with K*kh*kw taps.
static bool direct_bwd_input_ok(const Geo& G) {
  return direct_ok(G) && G.sh == 1 && G.ph <= G.dh * (G.kh - 1) && G.pw <= G.dw * (G.kw - 1) &&
         G.K * G.kh * G.kw <= kPaddedMaxTaps;
}
static void direct_bwd_input(const Geo& G, const float* dy, const float* w, float* dx) {
  Geo T = G;
  T.C = G.K; T.H = G.OH; T.W = G.OW;
  T.K = G.C; T.OH = G.H; T.OW = G.W;
  T.ph = G.dh * (G.kh - 1) - G.ph; T.pw = G.dw * (G.kw - 1) - G.pw;
  T.Cg = T.C; T.Kg = T.K; T.ckk = T.C * T.kh * T.kw; T.ohw = T.OH * T.OW;
  float* wt = (float*)workspace(7, sizeof(float) * (size_t)(G.K * G.C * G.kh * G.kw));
  for (int64_t k = 0; k < G.K; ++k)
    for (int64_t c = 0; c < G.C; ++c)
      for (int64_t i = 0; i < G.kh; ++i)
        for (int64_t j = 0; j < G.kw; ++j)
          wt[((c * G.K + k) * G.kh + (G.kh - 1 - i)) * G.kw + (G.kw - 1 - j)] = w[((k * G.C + c) * G.kh + i) * G.kw + j];
  direct_fwd(T, dy, wt, nullptr, false, dx);
}

// Bits that keep lanes [0, rem) of a float vector and clear the rest: the lanes past the last output column read
// real input columns, and 0 * Inf there would be NaN, so those inputs are cleared rather than multiplied by zero.
typedef int32_t vi32 __attribute__((vector_size(TS_VEC_BYTES)));
static inline vi32 lane_keep(int64_t rem) {
  constexpr int VL = Vec<float>::N;
  alignas(64) int32_t b[VL];
  for (int q = 0; q < VL; ++q) b[q] = q < rem ? -1 : 0;
  vi32 m;
  memcpy(&m, b, sizeof(m));
  return m;
}
static inline Vec<float>::type keep(Vec<float>::type x, vi32 m) { return (Vec<float>::type)((vi32)x & m); }

// TN taps of one (image, output channel): accv[t] += dy row * shifted input row over every output row, with the TN
// accumulators in registers (TN is a compile-time constant) and in memory between images; bsum += dy when given.
template <int TN>
static void bwdw_taps(const Geo& G, const Padded& P, const float* xp, const float* dyp, const int64_t* off,
                      Vec<float>::type* accv, Vec<float>::type* bsum) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N;
  vf acc[TN];
  for (int t = 0; t < TN; ++t) acc[t] = accv[t];
  vf bs{};
  const vi32 last = lane_keep(G.OW - (P.nv - 1) * VL);
  for (int64_t oh = 0; oh < G.OH; ++oh) {
    const float* xrow = xp + oh * G.sh * P.Wp;
    const float* drow = dyp + oh * P.nv * VL;
    for (int64_t v = 0; v < P.nv; ++v) {
      vf d;
      memcpy(&d, drow + v * VL, sizeof(vf));
      bs += d;
      const bool tail = v == P.nv - 1;
      for (int t = 0; t < TN; ++t) {
        vf xv;
        memcpy(&xv, xrow + off[t] + v * VL, sizeof(vf));
        if (tail) xv = keep(xv, last);
        acc[t] += d * xv;
      }
    }
  }
  for (int t = 0; t < TN; ++t) accv[t] = acc[t];
  if (bsum) *bsum += bs;
}
using BwdwFn = void (*)(const Geo&, const Padded&, const float*, const float*, const int64_t*, Vec<float>::type*,
                        Vec<float>::type*);
constexpr int kTapGroup = 24;  // accumulators + the dy vector + a load fit the 32 registers of AVX-512
static BwdwFn bwdw_fn(int tn) {
  static constexpr BwdwFn fns[kTapGroup] = {
      &bwdw_taps<1>,  &bwdw_taps<2>,  &bwdw_taps<3>,  &bwdw_taps<4>,  &bwdw_taps<5>,  &bwdw_taps<6>,
      &bwdw_taps<7>,  &bwdw_taps<8>,  &bwdw_taps<9>,  &bwdw_taps<10>, &bwdw_taps<11>, &bwdw_taps<12>,
      &bwdw_taps<13>, &bwdw_taps<14>, &bwdw_taps<15>, &bwdw_taps<16>, &bwdw_taps<17>, &bwdw_taps<18>,
      &bwdw_taps<19>, &bwdw_taps<20>, &bwdw_taps<21>, &bwdw_taps<22>, &bwdw_taps<23>, &bwdw_taps<24>};
  return fns[tn - 1];
}

// The weight gradient of one (image, output channel) for KHxKW taps at unit stride and dilation along h: blocks of
// RB dy rows stay in registers and each input row, loaded once per tap column, feeds the KH taps that reach it.
// dyp holds the dy plane padded with zero rows to whole blocks; rows past the image's last are read times zero.
// With AVX-512, dyp may instead be the dy plane itself (RAW): rows and lanes past its end are read as zeros by masks.
// One block of RB output rows and one vector of columns. TAIL: the last vector (its lanes past the last output
// column are cleared); ROWS < RB: the last block (rows past the last output row are skipped).
template <int KH, int KW, bool RAW, bool TAIL, int ROWS>
static inline void slide_bwdw_block(const Geo& G, const Padded& P, const float* xc, const float* dyp, int64_t oh0,
                                    int64_t v, vi32 last, Vec<float>::type* acc, Vec<float>::type* bs) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N, RB = 4;
  vf d[RB];
#if TS_ISA_ID == 2
  if constexpr (RAW) {
    const __mmask16 m = lanes(0, G.OW - v * VL);
    TS_UNROLL
    for (int r = 0; r < RB; ++r)
      d[r] = r < ROWS ? (vf)_mm512_maskz_loadu_ps(m, dyp + (oh0 + r) * G.OW + v * VL) : vf{};
  } else
#endif
    TS_UNROLL
    for (int r = 0; r < RB; ++r) memcpy(&d[r], dyp + (oh0 + r) * P.nv * VL + v * VL, sizeof(vf));
  if (bs)
    TS_UNROLL
    for (int r = 0; r < RB; ++r) *bs += d[r];
  const float* base = xc + oh0 * P.Wp + v * VL;
  TS_UNROLL
  for (int r = 0; r < RB + KH - 1; ++r)
    TS_UNROLL
    for (int j = 0; j < KW; ++j) {
      vf xv;
      memcpy(&xv, base + r * P.Wp + j * G.dw, sizeof(vf));
      if constexpr (TAIL) xv = keep(xv, last);
      TS_UNROLL
      for (int i = 0; i < KH; ++i) {
        const int row = r - i;
        if (row < 0 || row >= ROWS) continue;  // compile time once unrolled
        acc[i * KW + j] += d[row] * xv;
      }
    }
}
template <int KH, int KW, bool RAW, int ROWS>
static inline void slide_bwdw_row(const Geo& G, const Padded& P, const float* xc, const float* dyp, int64_t oh0,
                                  vi32 last, bool tail_cut, Vec<float>::type* acc, Vec<float>::type* bs) {
  const int64_t full = tail_cut ? P.nv - 1 : P.nv;
  for (int64_t v = 0; v < full; ++v) slide_bwdw_block<KH, KW, RAW, false, ROWS>(G, P, xc, dyp, oh0, v, last, acc, bs);
  if (tail_cut) slide_bwdw_block<KH, KW, RAW, true, ROWS>(G, P, xc, dyp, oh0, P.nv - 1, last, acc, bs);
}
template <int KH, int KW, bool RAW = false>
static void slide_bwdw(const Geo& G, const Padded& P, const float* xp, const float* dyp, Vec<float>::type* accv,
                       Vec<float>::type* bsum) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N, RB = 4;
  vf bs{};
  const vi32 last = lane_keep(G.OW - (P.nv - 1) * VL);
  const bool tail_cut = G.OW % VL != 0;
  for (int64_t c = 0; c < G.C; ++c) {
    vf acc[KH * KW];
    for (int t = 0; t < KH * KW; ++t) acc[t] = accv[c * KH * KW + t];
    const float* xc = xp + c * P.Hp * P.Wp;
    vf* b = c == 0 ? &bs : nullptr;
    int64_t oh0 = 0;
    for (; oh0 + RB <= G.OH; oh0 += RB) slide_bwdw_row<KH, KW, RAW, RB>(G, P, xc, dyp, oh0, last, tail_cut, acc, b);
    switch (G.OH - oh0) {  // the last rows
      case 3: slide_bwdw_row<KH, KW, RAW, 3>(G, P, xc, dyp, oh0, last, tail_cut, acc, b); break;
      case 2: slide_bwdw_row<KH, KW, RAW, 2>(G, P, xc, dyp, oh0, last, tail_cut, acc, b); break;
      case 1: slide_bwdw_row<KH, KW, RAW, 1>(G, P, xc, dyp, oh0, last, tail_cut, acc, b); break;
    }
    for (int t = 0; t < KH * KW; ++t) accv[c * KH * KW + t] = acc[t];
  }
  if (bsum) *bsum += bs;
}

// dw[k][t] = sum over images and outputs of dy[n][k][oh][ow] * xp[n][oh*sh + tap row][ow + tap col]; db[k] = sum dy.
// Each thread takes an equal share of the images and walks them in order, image by image and channel by channel:
// dy is then read front to back, one plane after the next (a stream the prefetchers follow; channel-major order
// jumped a whole image ahead at each plane). Each (channel, tap) keeps a vector of partial sums in memory between
// images (K*(ckk+1) vectors: L1-sized for the first layers this serves); they are reduced once at the end, and the
// threads' partial sums (double) added in thread order.
static void direct_bwd_weight(const Geo& G, const float* dy, const float* x, float* dw, float* db) {
  using vf = Vec<float>::type;
  constexpr int VL = Vec<float>::N;
  constexpr int64_t RB = 4;  // slide_bwdw's row block
  const Padded P = padded_geo(G);
  const int nt = nthreads();
  const int64_t wsz = G.K * G.ckk + G.K;  // dw then db
  double* partial = (double*)workspace(3, sizeof(double) * (size_t)(wsz * nt));
  const bool par = G.N > 1 && G.N * G.K * G.ohw * G.ckk >= (1 << 16);
  const int used = par ? nt : 1;
  const bool slide3 = G.kh == 3 && G.kw == 3 && G.sh == 1 && G.dh == 1;
  const int64_t plane = G.C * P.Hp * P.Wp;
  const int64_t ohp = (G.OH + RB - 1) / RB * RB;  // dy rows padded to whole blocks
  const int64_t stride = G.ckk + 1;               // partial-sum vectors per output channel: taps, then the bias
#pragma omp parallel num_threads(used)
  {
    const int th = omp_get_thread_num();
    double* acc_w = partial + th * wsz;
    const int64_t n0 = th * G.N / used, n1 = (th + 1) * G.N / used;
    // one padded image, then RB zero rows that the last partial row block may read (times zero dy)
    float* xp = (float*)workspace(5, sizeof(float) * (size_t)(plane + RB * P.Wp));
    memset(xp + plane, 0, sizeof(float) * (size_t)(RB * P.Wp));
    float* dyp = (float*)workspace(6, sizeof(float) * (size_t)(ohp * P.nv * VL));
    for (int64_t q = G.OH * P.nv * VL; q < ohp * P.nv * VL; ++q) dyp[q] = 0.f;
    vf* accv = (vf*)workspace(7, sizeof(vf) * (size_t)(G.K * stride));
    for (int64_t t = 0; t < G.K * stride; ++t) accv[t] = vf{};
    for (int64_t n = n0; n < n1; ++n) {
      pad_image(G, P, x + n * G.C * G.H * G.W, xp);
      for (int64_t k = 0; k < G.K; ++k) {
        vf* acc = accv + k * stride;
        const float* dyk = dy + (n * G.K + k) * G.ohw;
#if TS_ISA_ID == 2
        if (slide3) {  // dy read in place, masked
          slide_bwdw<3, 3, true>(G, P, xp, dyk, acc, acc + G.ckk);
          continue;
        }
#endif
        // the dy plane with rows padded to whole vectors by zeros, so that the padding lanes add nothing
        for (int64_t oh = 0; oh < G.OH; ++oh) {
          float* d = dyp + oh * P.nv * VL;
          run_copy(d, dyk + oh * G.OW, G.OW);
          for (int64_t q = G.OW; q < P.nv * VL; ++q) d[q] = 0.f;
        }
        if (slide3) {
          slide_bwdw<3, 3>(G, P, xp, dyp, acc, acc + G.ckk);
          continue;
        }
        for (int64_t t0 = 0; t0 < G.ckk; t0 += kTapGroup) {
          const int tn = (int)(G.ckk - t0 < kTapGroup ? G.ckk - t0 : kTapGroup);
          // the first tap group also sums dy (the bias gradient) from the vectors it loads anyway
          bwdw_fn(tn)(G, P, xp, dyp, P.off + t0, acc + t0, t0 == 0 ? acc + G.ckk : nullptr);
        }
      }
    }
    for (int64_t k = 0; k < G.K; ++k)
      for (int64_t t = 0; t <= G.ckk; ++t) {
        alignas(64) float l[VL];
        memcpy(l, &accv[k * stride + t], sizeof(vf));
        double s = 0;
        for (int q = 0; q < VL; ++q) s += l[q];
        if (t < G.ckk) acc_w[k * G.ckk + t] = s;
        else acc_w[G.K * G.ckk + k] = s;
      }
  }
  const int64_t nw = G.K * G.ckk;
  for (int64_t i = 0; i < (db ? wsz : nw); ++i) {  // dw, then db: the partials' layout
    double s = 0;
    for (int t = 0; t < used; ++t) s += partial[t * wsz + i];
    (i < nw ? dw[i] : db[i - nw]) = (float)s;
  }
}

// db[k] = sum of dy[n][k][:] over n (the bias gradient, out[1] of conv2d_bwd_weight when asked for).
template <typename T>
static void bias_grad(const Geo& G, const T* dy, T* db) {
#pragma omp parallel for schedule(static) if (G.N * G.K * G.ohw >= (1 << 15))
  for (int64_t k = 0; k < G.K; ++k) {
    double s = 0;
    for (int64_t n = 0; n < G.N; ++n) {
      const T* d = dy + (n * G.K + k) * G.ohw;
      T a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t p = 0;
      for (; p + 8 <= G.ohw; p += 8)
        for (int l = 0; l < 8; ++l) a[l] += d[p + l];
      for (; p < G.ohw; ++p) a[p & 7] += d[p];
      s += (double)(((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
    }
    db[k] = (T)s;
  }
}

// Images are processed in chunks side by side in the GEMM's N dimension (N = images*OH*OW, about 512 columns), so
// that small feature maps (7x7, 3x3) still give the micro-kernel full tiles. Chunks run in parallel with
// single-threaded GEMMs when there are at least as many chunks as threads (their count then a multiple of the
// threads, and chunk c holds images [c*N/n, (c+1)*N/n), so every thread gets the same number of images);
// otherwise each GEMM is parallel.
static int64_t chunk_count(const Geo& G) {
  if (G.N <= 0) return 0;
  int64_t per = (512 + G.ohw - 1) / G.ohw;  // images per chunk, about
  if (per < 1) per = 1;
  int64_t n = (G.N + per - 1) / per;
  const int64_t nt = nthreads();
  if (n <= nt) n = G.N < nt ? G.N : nt;
  else n = (n + nt - 1) / nt * nt;
  return n < G.N ? n : G.N;
}
static inline int64_t chunk_start(const Geo& G, int64_t nchunks, int64_t c) { return c * G.N / nchunks; }

template <typename F>
static void over_chunks(const Geo& G, int64_t nchunks, F&& body) {
  const int nt = nthreads();
  if (nchunks >= nt && nt > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t n0 = chunk_start(G, nchunks, c);
      body(n0, chunk_start(G, nchunks, c + 1) - n0, false);
    }
  } else {
    for (int64_t c = 0; c < nchunks; ++c) {
      const int64_t n0 = chunk_start(G, nchunks, c);
      body(n0, chunk_start(G, nchunks, c + 1) - n0, true);
    }
  }
}

// x of images n0..n0+cnt, group g, as the [ckk, cnt*ohw] GEMM operand: the image itself for a single 1x1 unpadded
// stride-1 image, otherwise im2col into col.
template <typename T>
static const T* x_operand(const Geo& G, const T* x, int64_t n0, int64_t cnt, int64_t g, T* col, int64_t ld) {
  if (G.direct && cnt == 1) return x + (n0 * G.C + g * G.Cg) * G.H * G.W;
  for (int64_t i = 0; i < cnt; ++i) {
    const T* xi = x + ((n0 + i) * G.C + g * G.Cg) * G.H * G.W;
    if constexpr (sizeof(T) == 4) {
      if (rows_ok(G)) {
        im2col_rows(G, (const float*)xi, (float*)(col + i * G.ohw), ld);
        continue;
      }
    }
    im2col<T>(G, xi, col + i * G.ohw, ld);
  }
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
  if constexpr (sizeof(T) == 4) {
    if (direct_ok(G)) {
      direct_fwd(G, (const float*)x, (const float*)w, (const float*)bias, relu, (float*)y);
      return;
    }
  }
  const int64_t nchunks = chunk_count(G);
  over_chunks(G, nchunks, [&](int64_t n0, int64_t cnt, bool par) {
    if (cnt == 1 && !G.direct && G.ohw > 1024) {
      // a large map: bands of output rows (about 512 columns), so that the im2col band stays in L2 while the
      // GEMM reads it; each band's GEMM writes its rows of y in place (ldc = the full plane)
      const int64_t rows = G.OW >= 512 ? 1 : 512 / G.OW;
      T* col = (T*)workspace(2, sizeof(T) * (size_t)(G.ckk * rows * G.OW));
      for (int64_t oh0 = 0; oh0 < G.OH; oh0 += rows) {
        Geo B = G;
        B.OH = G.OH - oh0 < rows ? G.OH - oh0 : rows;
        B.ph = G.ph - oh0 * G.sh;  // the band's first output row reads from input row oh0*sh - ph
        B.ohw = B.OH * G.OW;
        for (int64_t g = 0; g < G.g; ++g) {
          const T* Bop = x_operand<T>(B, x, n0, 1, g, col, B.ohw);
          T* out = y + (n0 * G.K + g * G.Kg) * G.ohw + oh0 * G.OW;
          gemm<T>(G.Kg, B.ohw, G.ckk, w + g * G.Kg * G.ckk, G.ckk, 1, Bop, B.ohw, 1, out, G.ohw, T(1), T(0),
                  bias ? bias + g * G.Kg : nullptr, bias ? 1 : 0, relu, par);
        }
      }
      return;
    }
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
  if constexpr (sizeof(T) == 4) {
    if (direct_bwd_input_ok(G)) {
      direct_bwd_input(G, (const float*)dy, (const float*)w, (float*)dx);
      return;
    }
  }
  const int64_t nchunks = chunk_count(G);
  over_chunks(G, nchunks, [&](int64_t n0, int64_t cnt, bool par) {
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
          if constexpr (sizeof(T) == 4) {
            if (rows_ok(G)) {
              col2im_rows(G, (const float*)(col + i * G.ohw), ld, (float*)dxg);
              continue;
            }
          }
          for (int64_t e = 0; e < G.Cg * G.H * G.W; ++e) dxg[e] = T(0);
          col2im<T>(G, col + i * G.ohw, ld, dxg);
        }
    }
  });
}

// dw = sum over chunks of dy_chunk [Kg, cnt*ohw] x col_chunk^T [cnt*ohw, ckk]. in: dy, x; out: dw [K, C/g, kh, kw]
// and, when asked for, db [K] (the bias gradient, sum of dy over n, oh, ow).
// With parallel chunks, each thread accumulates a private partial sum; the partials are added at the end.
template <typename T>
static void conv_bwd_weight(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &xt = c.in[1], &dwt = c.out[0];
  const Geo G = geo(c, xt, dwt, dyt);
  const T* dy = (const T*)dyt.data;
  const T* x = (const T*)xt.data;
  T* dw = (T*)dwt.data;
  T* db = c.nout > 1 ? (T*)c.out[1].data : nullptr;
  if constexpr (sizeof(T) == 4) {
    if (direct_ok(G)) {
      direct_bwd_weight(G, (const float*)dy, (const float*)x, (float*)dw, (float*)db);
      return;
    }
  }
  if (db) bias_grad<T>(G, dy, db);
  // With few output channels (Kg <= 128) computed transposed, dw^T [ckk, Kg] = col [ckk, ld] x dy^T [ld, Kg] per
  // group: M = C*kh*kw fills the micro-kernel's rows where M = K (64 = 5 1/3 tiles of 12) would leave a tenth of
  // them empty (measured: 1.2-1.3x on K = 64); transposed back at the end. With many (K = 256: 0.7x) as dw = dy x col^T.
  const bool tr = G.Kg <= 128;
  const int64_t wsz = G.K * G.ckk;
  const int64_t nchunks = chunk_count(G);
  const int nt = nthreads();
  auto chunk = [&](int64_t n0, int64_t cnt, T* acc, bool first, bool par) {
    const int64_t ld = cnt * G.ohw;
    const bool direct = G.direct && cnt == 1;
    T* col = direct ? nullptr : (T*)workspace(2, sizeof(T) * (size_t)(G.ckk * ld));
    T* dyb = cnt > 1 ? (T*)workspace(4, sizeof(T) * (size_t)(G.Kg * ld)) : nullptr;
    for (int64_t g = 0; g < G.g; ++g) {
      const T* X = x_operand<T>(G, x, n0, cnt, g, col, ld);
      const T* D = gather_dy<T>(G, dy, n0, cnt, g, dyb);
      if (tr)
        gemm<T>(G.ckk, G.Kg, ld, X, ld, 1, D, 1, ld, acc + g * G.ckk * G.Kg, G.Kg, T(1), first ? T(0) : T(1), nullptr,
                0, false, par);
      else
        gemm<T>(G.Kg, G.ckk, ld, D, ld, 1, X, 1, ld, acc + g * G.Kg * G.ckk, G.ckk, T(1), first ? T(0) : T(1), nullptr,
                0, false, par);
    }
  };
  // dw[g][k][t] = sum over the partials of p[g][t][k] (transposed) or p[g][k][t]
  auto untranspose = [&](const T* parts, int64_t count) {
#pragma omp parallel for schedule(static) if (wsz >= (1 << 14))
    for (int64_t gk = 0; gk < G.g * G.Kg; ++gk) {
      const int64_t g = gk / G.Kg, k = gk % G.Kg;
      for (int64_t t = 0; t < G.ckk; ++t) {
        const int64_t at = tr ? (g * G.ckk + t) * G.Kg + k : (g * G.Kg + k) * G.ckk + t;
        T s = T(0);
        for (int64_t q = 0; q < count; ++q) s += parts[q * wsz + at];
        dw[(g * G.Kg + k) * G.ckk + t] = s;
      }
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
        const int64_t n0 = chunk_start(G, nchunks, ch), cnt = chunk_start(G, nchunks, ch + 1) - n0;
        chunk(n0, cnt, acc, first, false);
        first = false;
      }
      if (first)
        for (int64_t i = 0; i < wsz; ++i) acc[i] = T(0);
    }
    untranspose(partial, nt);
  } else {
    T* acc = (T*)workspace(3, sizeof(T) * (size_t)wsz);
    if (G.N == 0)
      for (int64_t i = 0; i < wsz; ++i) acc[i] = T(0);
    for (int64_t ch = 0; ch < nchunks; ++ch) {
      const int64_t n0 = chunk_start(G, nchunks, ch), cnt = chunk_start(G, nchunks, ch + 1) - n0;
      chunk(n0, cnt, acc, ch == 0, true);
    }
    untranspose(acc, 1);
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
