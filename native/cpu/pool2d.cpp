// Pooling, NCHW contiguous, parallel over (n, c) planes. Params (lib/ops/pool.ts):
// ip [kh, kw, sh, sw, ph, pw, dh, dw, count_include_pad]; output sizes come from out[0] (ceil_mode is applied there).
#include "kernels.h"

TS_CPU_BEGIN
namespace {

struct PGeo {
  int64_t planes, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  bool include_pad;
};
static PGeo pgeo(const OpCall& c, const TensorArg& x, const TensorArg& y) {
  PGeo G;
  G.planes = x.shape[0] * x.shape[1]; G.H = x.shape[2]; G.W = x.shape[3]; G.OH = y.shape[2]; G.OW = y.shape[3];
  G.kh = c.ip[0]; G.kw = c.ip[1]; G.sh = c.ip[2]; G.sw = c.ip[3]; G.ph = c.ip[4]; G.pw = c.ip[5];
  G.dh = c.ip[6]; G.dw = c.ip[7]; G.include_pad = c.nip > 8 && c.ip[8] != 0;
  return G;
}

// 2x2 windows at stride 2 without padding or dilation: the CNN case. Short rows (13 or 5 outputs) would leave
// vectors empty, so a block of whole planes is walked through a table of window offsets instead of row by row,
// and every output of the block fills the vector lanes (gathers on AVX2/AVX-512).
static inline bool pool_2x2(const PGeo& G) {
  return G.kh == 2 && G.kw == 2 && G.sh == 2 && G.sw == 2 && G.ph == 0 && G.pw == 0 && G.dh == 1 && G.dw == 1 &&
         2 * G.OH <= G.H && 2 * G.OW <= G.W;
}
struct Table2x2 {
  const int32_t* off;  // window top-left, from the block's first input element
  const int32_t* pin;  // the same, within its plane (what argmax indices count from)
  int64_t planes;      // planes per block
};
// Built on the calling thread (its workspace), read by the parallel region it then starts.
static Table2x2 table_2x2(const PGeo& G) {
  const int64_t per = G.OH * G.OW;
  const int64_t P = per >= 512 ? 1 : 512 / per;
  int32_t* t = (int32_t*)workspace(0, (size_t)(2 * P * per) * sizeof(int32_t));
  int64_t k = 0;
  for (int64_t q = 0; q < P; ++q)
    for (int64_t oh = 0; oh < G.OH; ++oh)
      for (int64_t ow = 0; ow < G.OW; ++ow, ++k) {
        t[P * per + k] = (int32_t)(2 * oh * G.W + 2 * ow);
        t[k] = (int32_t)(q * G.H * G.W) + t[P * per + k];
      }
  return Table2x2{t, t + P * per, P};
}

// Raises the error for the first index outside its 2x2 window (stride 2, tiling), in the general path's words.
[[noreturn]] static void outside_window(int op, const PGeo& G, const int32_t* idx) {
  const int64_t per = G.OH * G.OW;
  for (int64_t q = 0; q < G.planes * per; ++q) {
    const int64_t oh = q % per / G.OW, ow = q % G.OW, k = idx[q] - (2 * oh * G.W + 2 * ow);
    if (k != 0 && k != 1 && k != G.W && k != G.W + 1) {
      char msg[200];
      snprintf(msg, sizeof msg, "expected each index inside its 2x2 window (as max_pool2d returns them), got %lld at position %lld",
               (long long)idx[q], (long long)q);
      fail(ERR_INDEX, op_name(op), msg);
    }
  }
  fail(ERR_NATIVE, op_name(op), "an index outside its window was reported but not found");
}

#if TS_ISA_ID == 2
// AVX-512, float, 2x2 windows at stride 2: row by row, 16 outputs per step from two 32-float loads of each input row,
// split into even and odd columns by permutes (no gathers, no table). Same selection rule as the table path.
static const __m512i kEven = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
static const __m512i kOdd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
static const __m512i kLo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
static const __m512i kHi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
static inline __mmask16 wins(__m512 v, __m512 m) {  // v replaces m: greater, or a NaN (the first NaN stays)
  return (_mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q)) &
         _mm512_cmp_ps_mask(m, m, _CMP_ORD_Q);
}
static void max_fwd_rows(const PGeo& G, const float* x, float* y, int32_t* idx) {
  const int64_t per = G.OH * G.OW;
  const __m512i iota2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32((int32_t)G.W), w1 = _mm512_set1_epi32((int32_t)G.W + 1);
#pragma omp parallel for schedule(static) if (G.planes * per >= 4096)
  for (int64_t p = 0; p < G.planes; ++p) {
    const float* xp = x + p * G.H * G.W;
    for (int64_t oh = 0; oh < G.OH; ++oh) {
      const float* r0 = xp + 2 * oh * G.W;
      const float* r1 = r0 + G.W;
      for (int64_t ow = 0; ow < G.OW; ow += 16) {
        const int64_t n = G.OW - ow < 16 ? G.OW - ow : 16;
        const __mmask16 mlo = lanes(0, 2 * n), mhi = lanes(0, 2 * n - 16), mo = lanes(0, n);
        const __m512 a0 = _mm512_maskz_loadu_ps(mlo, r0 + 2 * ow), a1 = _mm512_maskz_loadu_ps(mhi, r0 + 2 * ow + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(mlo, r1 + 2 * ow), b1 = _mm512_maskz_loadu_ps(mhi, r1 + 2 * ow + 16);
        const __m512 a = _mm512_permutex2var_ps(a0, kEven, a1), b = _mm512_permutex2var_ps(a0, kOdd, a1);
        const __m512 c = _mm512_permutex2var_ps(b0, kEven, b1), d = _mm512_permutex2var_ps(b0, kOdd, b1);
        // a NaN wins (PyTorch); among equal values the first in row-major order wins
        const __mmask16 tB = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
        __m512 m = _mm512_mask_mov_ps(a, tB, b);
        __m512i kk = _mm512_maskz_mov_epi32(tB, one);
        const __mmask16 tC = wins(c, m);
        m = _mm512_mask_mov_ps(m, tC, c);
        kk = _mm512_mask_mov_epi32(kk, tC, wv);
        const __mmask16 tD = wins(d, m);
        m = _mm512_mask_mov_ps(m, tD, d);
        kk = _mm512_mask_mov_epi32(kk, tD, w1);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * G.W + 2 * ow)), iota2);
        _mm512_mask_storeu_ps(y + p * per + oh * G.OW + ow, mo, m);
        _mm512_mask_storeu_epi32(idx + p * per + oh * G.OW + ow, mo, _mm512_add_epi32(base, kk));
      }
    }
  }
}
// dx of 2x2 windows at stride 2 that tile the input (2*OH == H, 2*OW == W): each dx element is written once, the
// gradient going to the window's argmax and zeros elsewhere. Returns false if an index lies outside its window
// (indices from the caller: maxPool2dBackward is public), after which the caller raises the error.
static bool max_bwd_rows(const PGeo& G, const float* dy, const int32_t* idx, float* dx) {
  const int64_t per = G.OH * G.OW;
  const __m512i iota2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i one = _mm512_set1_epi32(1), wv = _mm512_set1_epi32((int32_t)G.W), w1 = _mm512_set1_epi32((int32_t)G.W + 1);
  int bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (G.planes * per >= 4096)
  for (int64_t p = 0; p < G.planes; ++p) {
    float* dp = dx + p * G.H * G.W;
    for (int64_t oh = 0; oh < G.OH; ++oh) {
      float* r0 = dp + 2 * oh * G.W;
      float* r1 = r0 + G.W;
      for (int64_t ow = 0; ow < G.OW; ow += 16) {
        const int64_t n = G.OW - ow < 16 ? G.OW - ow : 16;
        const __mmask16 mlo = lanes(0, 2 * n), mhi = lanes(0, 2 * n - 16), mo = lanes(0, n);
        const __m512 g = _mm512_maskz_loadu_ps(mo, dy + p * per + oh * G.OW + ow);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * oh * G.W + 2 * ow)), iota2);
        const __m512i kk = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mo, idx + p * per + oh * G.OW + ow), base);
        const __mmask16 k0 = _mm512_cmpeq_epi32_mask(kk, _mm512_setzero_si512()), k1 = _mm512_cmpeq_epi32_mask(kk, one);
        const __mmask16 kw = _mm512_cmpeq_epi32_mask(kk, wv), kw1 = _mm512_cmpeq_epi32_mask(kk, w1);
        bad |= (mo & ~(k0 | k1 | kw | kw1)) != 0;
        const __m512 e0 = _mm512_maskz_mov_ps(k0, g), o0 = _mm512_maskz_mov_ps(k1, g);
        const __m512 e1 = _mm512_maskz_mov_ps(kw, g), o1 = _mm512_maskz_mov_ps(kw1, g);
        _mm512_mask_storeu_ps(r0 + 2 * ow, mlo, _mm512_permutex2var_ps(e0, kLo, o0));
        _mm512_mask_storeu_ps(r0 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(e0, kHi, o0));
        _mm512_mask_storeu_ps(r1 + 2 * ow, mlo, _mm512_permutex2var_ps(e1, kLo, o1));
        _mm512_mask_storeu_ps(r1 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(e1, kHi, o1));
      }
    }
  }
  return bad == 0;
}
#endif

// out[0] y, out[1] argmax (int32, h*W + w within the plane). NaN wins, like PyTorch.
template <typename T>
static void max_fwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.in[0], c.out[0]);
  const T* x = (const T*)c.in[0].data;
  T* y = (T*)c.out[0].data;
  int32_t* idx = (int32_t*)c.out[1].data;
#if TS_ISA_ID == 2
  if constexpr (sizeof(T) == 4) {
    if (pool_2x2(G)) return max_fwd_rows(G, (const float*)x, (float*)y, idx);
  }
#endif
  if (pool_2x2(G)) {
    const Table2x2 tb = table_2x2(G);
    const int64_t per = G.OH * G.OW, blocks = (G.planes + tb.planes - 1) / tb.planes;
    const int32_t W = (int32_t)G.W;
#pragma omp parallel for schedule(static) if (G.planes * per >= 4096)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t p0 = b * tb.planes, np = G.planes - p0 < tb.planes ? G.planes - p0 : tb.planes;
      const T* xb = x + p0 * G.H * G.W;
      T* yb = y + p0 * per;
      int32_t* ib = idx + p0 * per;
      const int32_t* off = tb.off;
      const int32_t* pin = tb.pin;
      const int64_t n = np * per;
#pragma omp simd
      for (int64_t k = 0; k < n; ++k) {
        const int32_t o = off[k];
        const T a = xb[o], bb = xb[o + 1], cc = xb[o + W], d = xb[o + W + 1];
        // a NaN wins (PyTorch); among equal values the first in row-major order wins
        const bool tB = bb > a || bb != bb;
        T m = tB ? bb : a;
        int32_t kk = tB ? 1 : 0;
        const bool tC = (cc > m || cc != cc) && m == m;
        m = tC ? cc : m;
        kk = tC ? W : kk;
        const bool tD = (d > m || d != d) && m == m;
        m = tD ? d : m;
        kk = tD ? W + 1 : kk;
        yb[k] = m;
        ib[k] = pin[k] + kk;
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if (G.planes * G.OH * G.OW >= 4096)
  for (int64_t p = 0; p < G.planes; ++p) {
    const T* xp = x + p * G.H * G.W;
    T* yp = y + p * G.OH * G.OW;
    int32_t* ip = idx + p * G.OH * G.OW;
    for (int64_t oh = 0; oh < G.OH; ++oh)
      for (int64_t ow = 0; ow < G.OW; ++ow) {
        T best = -(T)INFINITY;
        int64_t bi = -1;
        for (int64_t i = 0; i < G.kh; ++i) {
          const int64_t ih = oh * G.sh - G.ph + i * G.dh;
          if (ih < 0 || ih >= G.H) continue;
          for (int64_t j = 0; j < G.kw; ++j) {
            const int64_t iw = ow * G.sw - G.pw + j * G.dw;
            if (iw < 0 || iw >= G.W) continue;
            const T v = xp[ih * G.W + iw];
            if (bi < 0 || v > best || (v != v && best == best)) {
              best = v;
              bi = ih * G.W + iw;
            }
          }
        }
        yp[oh * G.OW + ow] = best;
        ip[oh * G.OW + ow] = (int32_t)(bi < 0 ? 0 : bi);
      }
  }
}

// in dy, idx; out dx (zeroed here, then dy scattered to the argmax). ip (optional): the forward's window parameters.
template <typename T>
static void max_bwd(const OpCall& c) {
  const TensorArg& dxt = c.out[0];
  PGeo G = {};
  if (c.nip >= 8) G = pgeo(c, dxt, c.in[0]);
  const int64_t planes = dxt.shape[0] * dxt.shape[1], HW = dxt.shape[2] * dxt.shape[3];
  const int64_t OHW = c.in[0].shape[2] * c.in[0].shape[3];
  const T* dy = (const T*)c.in[0].data;
  const int32_t* idx = (const int32_t*)c.in[1].data;
  T* dx = (T*)dxt.data;
#if TS_ISA_ID == 2
  if constexpr (sizeof(T) == 4) {
    if (c.nip >= 8 && pool_2x2(G) && 2 * G.OH == G.H && 2 * G.OW == G.W) {
      if (max_bwd_rows(G, (const float*)dy, idx, (float*)dx)) return;
      outside_window(c.op, G, idx);
    }
  }
#endif
  if (c.nip >= 8 && pool_2x2(G) && 2 * G.OH == G.H && 2 * G.OW == G.W) {
    // the windows tile the input: every dx element is written once, no zeroing pass, no scatter-add
    const Table2x2 tb = table_2x2(G);
    const int64_t blocks = (planes + tb.planes - 1) / tb.planes;
    const int32_t W = (int32_t)G.W;
    int bad = 0;  // an index outside its window (from the caller: maxPool2dBackward is public)
#pragma omp parallel for schedule(static) reduction(| : bad) if (planes * OHW >= 4096)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t p0 = b * tb.planes, np = planes - p0 < tb.planes ? planes - p0 : tb.planes;
      T* db = dx + p0 * HW;
      const T* gb = dy + p0 * OHW;
      const int32_t* ib = idx + p0 * OHW;
      const int32_t* off = tb.off;
      const int32_t* pin = tb.pin;
      const int64_t n = np * OHW;
#pragma omp simd reduction(| : bad)
      for (int64_t k = 0; k < n; ++k) {
        const int32_t o = off[k], kk = ib[k] - pin[k];
        bad |= kk != 0 && kk != 1 && kk != W && kk != W + 1;
        const T g = gb[k];
        db[o] = kk == 0 ? g : T(0);
        db[o + 1] = kk == 1 ? g : T(0);
        db[o + W] = kk == W ? g : T(0);
        db[o + W + 1] = kk == W + 1 ? g : T(0);
      }
    }
    if (bad) outside_window(c.op, G, idx);
    return;
  }
  // the indices may come from the caller (maxPool2dBackward is public): each must point inside its plane
  uint32_t bad = 0;  // (one pass without an early exit, so that it vectorises; the culprit is found after)
  const uint32_t lim = HW > 0x7fffffff ? 0x80000000u : (uint32_t)HW;  // (a negative index is >= 2^31 unsigned)
  for (int64_t q = 0; q < planes * OHW; ++q) bad |= (uint32_t)idx[q] >= lim;
  for (int64_t q = 0; bad && q < planes * OHW; ++q) {
    if (idx[q] < 0 || idx[q] >= HW) {
      char msg[160];
      snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)HW,
               (long long)idx[q], (long long)q);
      fail(ERR_INDEX, op_name(c.op), msg);
    }
  }
#pragma omp parallel for schedule(static) if (planes * HW >= 4096)
  for (int64_t p = 0; p < planes; ++p) {
    T* d = dx + p * HW;
    for (int64_t i = 0; i < HW; ++i) d[i] = T(0);
    for (int64_t o = 0; o < OHW; ++o) d[idx[p * OHW + o]] += dy[p * OHW + o];
  }
}

// The averaging window and divisor of PyTorch's avg_pool2d (the window may run into the padding; with
// count_include_pad the divisor counts padding cells but not cells past the padded edge).
static inline void avg_window(const PGeo& G, int64_t oh, int64_t ow, int64_t* h0, int64_t* h1, int64_t* w0, int64_t* w1,
                              int64_t* div) {
  int64_t hs = oh * G.sh - G.ph, ws = ow * G.sw - G.pw;
  int64_t he = hs + G.kh < G.H + G.ph ? hs + G.kh : G.H + G.ph, we = ws + G.kw < G.W + G.pw ? ws + G.kw : G.W + G.pw;
  const int64_t pool = (he - hs) * (we - ws);
  hs = hs < 0 ? 0 : hs; ws = ws < 0 ? 0 : ws;
  he = he < G.H ? he : G.H; we = we < G.W ? we : G.W;
  *h0 = hs; *h1 = he; *w0 = ws; *w1 = we;
  *div = G.include_pad ? pool : (he - hs) * (we - ws);
}

template <typename T>
static void avg_fwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.in[0], c.out[0]);
  const T* x = (const T*)c.in[0].data;
  T* y = (T*)c.out[0].data;
#pragma omp parallel for schedule(static) if (G.planes * G.OH * G.OW >= 4096)
  for (int64_t p = 0; p < G.planes; ++p) {
    const T* xp = x + p * G.H * G.W;
    for (int64_t oh = 0; oh < G.OH; ++oh)
      for (int64_t ow = 0; ow < G.OW; ++ow) {
        int64_t h0, h1, w0, w1, div;
        avg_window(G, oh, ow, &h0, &h1, &w0, &w1, &div);
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += (double)xp[h * G.W + w];
        y[(p * G.OH + oh) * G.OW + ow] = (T)(div > 0 ? s / (double)div : 0.0);
      }
  }
}

// in dy; out dx [N,C,H,W].
template <typename T>
static void avg_bwd(const OpCall& c) {
  const PGeo G = pgeo(c, c.out[0], c.in[0]);
  const T* dy = (const T*)c.in[0].data;
  T* dx = (T*)c.out[0].data;
#pragma omp parallel for schedule(static) if (G.planes * G.H * G.W >= 4096)
  for (int64_t p = 0; p < G.planes; ++p) {
    T* d = dx + p * G.H * G.W;
    for (int64_t i = 0; i < G.H * G.W; ++i) d[i] = T(0);
    for (int64_t oh = 0; oh < G.OH; ++oh)
      for (int64_t ow = 0; ow < G.OW; ++ow) {
        int64_t h0, h1, w0, w1, div;
        avg_window(G, oh, ow, &h0, &h1, &w0, &w1, &div);
        if (div <= 0) continue;
        const T g = (T)((double)dy[(p * G.OH + oh) * G.OW + ow] / (double)div);
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * G.W + w] += g;
      }
  }
}

// adaptive average pooling: cell i covers [floor(i*H/OH), ceil((i+1)*H/OH)).
template <typename T>
static void adaptive_fwd(const OpCall& c) {
  const TensorArg &xt = c.in[0], &yt = c.out[0];
  const int64_t planes = xt.shape[0] * xt.shape[1], H = xt.shape[2], W = xt.shape[3], OH = yt.shape[2], OW = yt.shape[3];
  const T* x = (const T*)xt.data;
  T* y = (T*)yt.data;
#pragma omp parallel for schedule(static) if (planes * H * W >= 16384)
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        double s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += (double)x[(p * H + h) * W + w];
        y[(p * OH + oh) * OW + ow] = (T)(s / (double)((h1 - h0) * (w1 - w0)));
      }
    }
}

template <typename T>
static void adaptive_bwd(const OpCall& c) {
  const TensorArg &dyt = c.in[0], &dxt = c.out[0];
  const int64_t planes = dxt.shape[0] * dxt.shape[1], H = dxt.shape[2], W = dxt.shape[3], OH = dyt.shape[2],
                OW = dyt.shape[3];
  const T* dy = (const T*)dyt.data;
  T* dx = (T*)dxt.data;
#pragma omp parallel for schedule(static) if (planes * H * W >= 16384)
  for (int64_t p = 0; p < planes; ++p) {
    T* d = dx + p * H * W;
    for (int64_t i = 0; i < H * W; ++i) d[i] = T(0);
    for (int64_t oh = 0; oh < OH; ++oh) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
        const T g = (T)((double)dy[(p * OH + oh) * OW + ow] / (double)((h1 - h0) * (w1 - w0)));
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * W + w] += g;
      }
    }
  }
}
}  // namespace

void max_pool2d_f32(const OpCall& c) { max_fwd<float>(c); }
void max_pool2d_f64(const OpCall& c) { max_fwd<double>(c); }
void max_pool2d_bwd_f32(const OpCall& c) { max_bwd<float>(c); }
void max_pool2d_bwd_f64(const OpCall& c) { max_bwd<double>(c); }
void avg_pool2d_f32(const OpCall& c) { avg_fwd<float>(c); }
void avg_pool2d_f64(const OpCall& c) { avg_fwd<double>(c); }
void avg_pool2d_bwd_f32(const OpCall& c) { avg_bwd<float>(c); }
void avg_pool2d_bwd_f64(const OpCall& c) { avg_bwd<double>(c); }
void adaptive_avg_pool2d_f32(const OpCall& c) { adaptive_fwd<float>(c); }
void adaptive_avg_pool2d_f64(const OpCall& c) { adaptive_fwd<double>(c); }
void adaptive_avg_pool2d_bwd_f32(const OpCall& c) { adaptive_bwd<float>(c); }
void adaptive_avg_pool2d_bwd_f64(const OpCall& c) { adaptive_bwd<double>(c); }
TS_CPU_END
