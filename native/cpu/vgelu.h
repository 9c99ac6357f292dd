// GELU and its derivative for float32 over whole vectors (Vec<float>::type), exact (erf) and with the tanh
// approximation; the float64 kernels stay on libm. Included after vexp.h, in the per-ISA namespace.
//
// Exact: gelu(x) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, computed without cancellation on either side:
// with a = |x| / sqrt 2, Phi = erfc(a) / 2 for x < 0 and 1 - erfc(a) / 2 for x >= 0, and
//   erfc(a) = exp(-a^2) erfcx(a),  erfcx(a) = t Q(t),  t = 2 / (2 + a)  (t in (0, 1]),
// Q a degree-9 polynomial in u = (t - m) / h mapping t in [1/6, 1] (a in [0, 10]) onto [-1, 1], fitted here by
// least squares in the relative error at 6,000 Chebyshev nodes against erfcx from mpmath at 30 digits (fit error
// 1.3e-8 in double; a near 10 and beyond: erfc underflows). exp(-a^2) = exp(-x^2 / 2) takes x^2 as an exact pair
// hi + lo (an FMA, or Dekker's product without one): exp(-hi / 2) (1 - lo / 2), so that the large argument adds
// no rounding of its own. The derivative is Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi), the same exp.
// Tanh approximation: 0.5 x (1 + tanh(w)) = x s, s = sigmoid(2 w) = 1 / (1 + exp(-2 w)), w = sqrt(2/pi) (x +
// 0.044715 x^3); its derivative s + 2 x s (1 - s) w'(x) with s (1 - s) = e s^2 (e = exp(-2 w): no cancellation near s = 1), the second term 0 where s (1 - s) is 0 and x finite (the
// limit; w' may overflow there).
// Edges as the float64 kernels give them: NaN -> NaN, gelu(inf) = inf, gelu(-inf) = NaN (-inf * 0, as x Phi(x)
// evaluates), derivative NaN at +-inf. Measured error: test/ops/vgelu.test.ts.
#pragma once
#include "vexp.h"

TS_CPU_BEGIN
// x * x as hi + lo exactly (hi the rounded product) where hi < 256; lo is 0 past it.
static inline void vsquare2(vfloat x, vfloat& hi, vfloat& lo) {
  hi = x * x;
#if TS_ISA_ID == 2
  lo = _mm512_fmsub_ps(x, x, hi);
#elif TS_ISA_ID == 1
  lo = _mm256_fmsub_ps(x, x, hi);
#else
  const vfloat cx = x * bcast(4097.0f);  // Dekker: x = xh + xl with 12-bit halves
  const vfloat xh = cx - (cx - x), xl = x - xh;
  lo = ((xh * xh - hi) + bcast(2.0f) * xh * xl) + xl * xl;
#endif
  lo = hi < bcast(256.0f) ? lo : bcast(0.0f);  // exp(-hi / 2) is 0 past it; lo may not be finite there
}

// Phi(x) and e = exp(-x^2 / 2).
static inline vfloat vnorm_cdf(vfloat x, vfloat& e) {
  const vfloat ax = vabs(x);
  const vfloat t = bcast(2.0f) / (bcast(2.0f) + ax * bcast(0.70710678118654752f));
  const vfloat u = t * bcast(2.4f) + bcast(-1.4f);
  vfloat q = bcast(5.123094525e-06f);
  q = q * u + bcast(-5.319691991e-05f);
  q = q * u + bcast(8.165819054e-06f);
  q = q * u + bcast(5.852193572e-04f);
  q = q * u + bcast(-6.222508382e-04f);
  q = q * u + bcast(-6.150375120e-03f);
  q = q * u + bcast(5.963531323e-03f);
  q = q * u + bcast(1.020293385e-01f);
  q = q * u + bcast(3.262224495e-01f);
  q = q * u + bcast(5.720120072e-01f);
  vfloat hi, lo;
  vsquare2(x, hi, lo);
  e = vexp(hi * bcast(-0.5f));
  e = e - e * (lo * bcast(0.5f));
  const vfloat half_erfc = e * (t * q) * bcast(0.5f);
  return x < bcast(0.0f) ? half_erfc : bcast(1.0f) - half_erfc;
}
static inline vfloat vgelu(vfloat x) {
  vfloat e;
  return x * vnorm_cdf(x, e);
}
static inline vfloat vgelu_bwd(vfloat dy, vfloat x) {
  vfloat e;
  const vfloat phi = vnorm_cdf(x, e);
  return dy * (phi + x * (e * bcast(0.39894228040143268f)));
}

// s = sigmoid(2 w(x)) of the tanh approximation, and e = exp(-2 w), so that s (1 - s) = e s^2 without the
// cancellation of 1 - s.
static inline vfloat vgelu_tanh_s(vfloat x, vfloat& e) {
  const vfloat w2 = (x + bcast(0.044715f) * (x * x * x)) * bcast(1.5957691216057308f);
  e = vexp(-w2);
  return bcast(1.0f) / (bcast(1.0f) + e);
}
static inline vfloat vgelu_tanh(vfloat x) {  // x / (1 + e), not x s: s may be denormal where x s is not
  const vfloat w2 = (x + bcast(0.044715f) * (x * x * x)) * bcast(1.5957691216057308f);
  return x / (bcast(1.0f) + vexp(-w2));
}
static inline vfloat vgelu_tanh_bwd(vfloat dy, vfloat x) {
  vfloat e;
  const vfloat s = vgelu_tanh_s(x, e), sm = s == bcast(0.0f) ? s : e * s * s;  // e = inf where s = 0
  const vfloat dw = bcast(0.7978845608028654f) * (bcast(1.0f) + bcast(0.134145f) * (x * x));
  const vfloat ax = vabs(x);
  const vfloat term = (sm == bcast(0.0f)) & (ax < bcast(INFINITY)) ? bcast(0.0f) : bcast(2.0f) * x * sm * dw;
  return dy * (s + term);
}
TS_CPU_END
