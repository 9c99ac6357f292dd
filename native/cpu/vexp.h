// A float32 exp over whole vectors (Vec<float>::type), for the kernels whose cost is exp: softmax/log_softmax,
// attention, the exp op (and a log, below it, for the log op). Included after isa.h, so that it lives in the per-ISA namespace.
//
// exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n ln2 (Cody and Waite: ln2 split in a 9-bit head, whose
// product with n is exact, and a tail), exp(r) on [-ln2/2, ln2/2] by the degree-7 Taylor-like polynomial
// 1 + r + r^2 p(r) with Cephes' minimax coefficients for p (degree 5), and 2^n applied as two factors 2^(n/2) and
// 2^(n - n/2) built in the exponent bits, so that results below FLT_MIN are correct denormals (rounded once, by
// the second multiplication, as Sleef's expf gives) and results near FLT_MAX do not overflow early.
// Edges: exp(-inf) = 0, exp(+inf) = inf, NaN -> NaN, x > 88.7228 -> inf, x < -103.972 -> 0 (x is clamped to
// 89, whose exp overflows to inf; exp(-104) rounds to 0 and below -104 the lane's result is selected as 0).
// Error <= 2 ulp against double exp over the whole float range on every ISA (measured: test/ops/vexp.test.ts).
#pragma once
#include "isa.h"

TS_CPU_BEGIN
typedef Vec<float>::type vfloat;
typedef int32_t vint32 __attribute__((vector_size(TS_VEC_BYTES)));

static inline vfloat vabs(vfloat x) { return x < bcast(0.0f) ? -x : x; }  // NaN stays

static inline vfloat vexp(vfloat x) {
  const vfloat lo = bcast(-104.0f), hi = bcast(89.0f);
  // below lo (-inf: masked scores) the result is selected as 0 at the end and the lane computes exp(0), so that it
  // takes no underflow on the way (each one a slow microcode assist on x86); NaN compares false and stays
  const auto under = x < lo;
  vfloat xc = under ? bcast(0.0f) : x;
  xc = xc > hi ? hi : xc;
  // n = round(x log2 e): adding 1.5 * 2^23 rounds to an integer (to nearest even) in float arithmetic
  const vfloat magic = bcast(12582912.0f);
  const vfloat n = (xc * bcast(1.44269504088896341f) + magic) - magic;
  vfloat r = xc - n * bcast(0.693359375f);
  r = r - n * bcast(-2.12194440e-4f);
  vfloat p = bcast(1.9875691500e-4f);
  p = p * r + bcast(1.3981999507e-3f);
  p = p * r + bcast(8.3334519073e-3f);
  p = p * r + bcast(4.1665795894e-2f);
  p = p * r + bcast(1.6666665459e-1f);
  p = p * r + bcast(5.0000001201e-1f);
  const vfloat y = (p * (r * r) + r) + bcast(1.0f);
  // 2^n = 2^n1 2^n2, n1 = floor(n / 2), both in [-76, 65] for n in [-151, 129]: normal floats
  const vint32 ni = __builtin_convertvector(n == n ? n : bcast(0.0f), vint32);
  const vint32 n1 = ni >> 1, n2 = ni - n1;
  const vfloat s1 = (vfloat)((n1 + 127) << 23), s2 = (vfloat)((n2 + 127) << 23);
  const vfloat e = (y * s1) * s2;
  return under ? bcast(0.0f) : x == x ? e : x + x;
}

// log(x): x = 2^k m with m in [sqrt(1/2), sqrt(2)) (a denormal x scaled by 2^25 first), log m = log(1 + f) =
// 2 atanh(s), s = f / (2 + f) in [-0.1716, 0.1716] (f = m - 1 exact), by the series of atanh to s^9 (truncation
// below 2e-9 relative) arranged as fdlibm's log arranges its polynomial, plus k ln2 in the two parts of vexp's Cody
// and Waite reduction (k times the 9-bit head is exact). Edges: log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf, NaN -> NaN. Error: test/ops/vact.test.ts.
static inline vfloat vlog(vfloat x) {
  const auto tiny = x < bcast(1.17549435e-38f);  // denormals (zero and negatives are selected at the end)
  const vfloat xs = tiny ? x * bcast(33554432.0f) : x;
  const vint32 bits = (vint32)xs;
  vfloat m = (vfloat)((bits & 0x007fffff) | 0x3f800000);
  const auto big = m > bcast(1.41421356f);
  m = big ? m * bcast(0.5f) : m;
  const vint32 zero = {}, k = ((bits >> 23) & 0xff) - (big ? zero + 126 : zero + 127);
  const vfloat kf = __builtin_convertvector(k, vfloat) - (tiny ? bcast(25.0f) : bcast(0.0f));
  // log m = f - (f^2/2 - s (f^2/2 + R)), R = 2 s^2/3 + 2 s^4/5 + ... (2 s = f - s f): f, exact, carries the
  // result and the rest is a small correction to it
  const vfloat f = m - bcast(1.0f), s = f / (bcast(2.0f) + f), z = s * s, hfsq = bcast(0.5f) * f * f;
  vfloat R = bcast(2.0f / 9.0f);
  R = R * z + bcast(2.0f / 7.0f);
  R = R * z + bcast(2.0f / 5.0f);
  R = R * z + bcast(2.0f / 3.0f);
  R = R * z;
  vfloat r = kf * bcast(0.693359375f) - ((hfsq - (s * (hfsq + R) + kf * bcast(-2.12194440e-4f))) - f);
  r = x == bcast(INFINITY) ? x : r;
  r = x == bcast(0.0f) ? bcast(-INFINITY) : r;
  r = x < bcast(0.0f) ? bcast(NAN) : r;
  return x == x ? r : x + x;
}

// The lanes [0, n) of p (n < Vec<float>::N) with `fill` in the others, and the store of lanes [0, n).
static inline vfloat vload_part(const float* p, int64_t n, float fill) {
#if TS_ISA_ID == 2
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lanes(0, n), p);
#else
  vfloat v = bcast(fill);
  memcpy(&v, p, sizeof(float) * (size_t)n);
  return v;
#endif
}
static inline void vstore_part(float* p, vfloat v, int64_t n) {
#if TS_ISA_ID == 2
  _mm512_mask_storeu_ps(p, lanes(0, n), v);
#else
  memcpy(p, &v, sizeof(float) * (size_t)n);
#endif
}
static inline vfloat vloadu(const float* p) {
  vfloat v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void vstoreu(float* p, vfloat v) { memcpy(p, &v, sizeof v); }

// d[i] = exp(s[i] - shift), i < n (d may be s). Every element goes through the same vector code, tail included,
// so a value's result does not depend on where it sits.
static inline void vexp_run(float* d, const float* s, int64_t n, float shift) {
  constexpr int N = Vec<float>::N;
  const vfloat sh = bcast(shift);
  int64_t i = 0;
  for (; i + N <= n; i += N) vstoreu(d + i, vexp(vloadu(s + i) - sh));
  if (i < n) vstore_part(d + i, vexp(vload_part(s + i, n - i, 0.0f) - sh), n - i);
}

// Lane-wise float -> double accumulation (a0 += the low half of v, a1 += the high half), for sums that stay
// deterministic and accurate over long rows.
static inline void vacc_f64(Vec<double>::type& a0, Vec<double>::type& a1, vfloat v) {
#if TS_ISA_ID == 2
  a0 += _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  a1 += _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
#elif TS_ISA_ID == 1
  a0 += _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  a1 += _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
#else
  a0 += _mm_cvtps_pd(v);
  a1 += _mm_cvtps_pd(_mm_movehl_ps(v, v));
#endif
}
// The sum of v's lanes (of type S) in a fixed order: pairwise, halves first.
template <typename S, typename V>
static inline S vsum_pairwise(const V& v) {
  constexpr int N = (int)(sizeof(V) / sizeof(S));
  S t[N];
  memcpy(t, &v, sizeof v);
  for (int w = N / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) t[l] += t[l + w];
  return t[0];
}
// The sum of the lanes of a0 + a1 in that order.
static inline double vsum_f64(Vec<double>::type a0, Vec<double>::type a1) { return vsum_pairwise<double>(a0 + a1); }
// The largest of v's lanes (none NaN: the callers' accumulators only take x > acc), halves first.
static inline float vmax_lanes(vfloat v) {
#if TS_ISA_ID == 2
  const __m256 a = _mm256_max_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  const __m128 b = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
#elif TS_ISA_ID == 1
  const __m128 b = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
#else
  const __m128 b = v;
#endif
  const __m128 c = _mm_max_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_max_ss(c, _mm_shuffle_ps(c, c, 1)));
}
// max(init, s[0..n)) of a contiguous row, as the scalar loop x > m ? x : m gives it: a NaN is passed over (softmax's
// and cross-entropy's exp of it makes their rows NaN all the same).
static inline float vrow_max(const float* s, int64_t n, float init = -INFINITY) {
  constexpr int N = Vec<float>::N;
  vfloat acc = bcast(init);
  int64_t j = 0;
  for (; j + N <= n; j += N) {
    const vfloat x = vloadu(s + j);
    acc = x > acc ? x : acc;
  }
  if (j < n) {
    const vfloat x = vload_part(s + j, n - j, -INFINITY);
    acc = x > acc ? x : acc;
  }
  return vmax_lanes(acc);
}
static inline float vsum_lanes(vfloat v) { return vsum_pairwise<float>(v); }
TS_CPU_END
