// ReLU, sigmoid, tanh, SiLU and softplus for float32 over whole vectors (Vec<float>::type), forward and (where the
// derivative needs an exp) backward; the float64 kernels stay on libm. Included after vexp.h, in the per-ISA
// namespace.
//
// sigmoid: with e = exp(-|x|) in (0, 1] and r = 1 / (1 + e), sigmoid(x) = r for x >= 0 and e r for x < 0, and
// 1 - sigmoid(x) the other one, so that neither side cancels and exp never overflows.
// tanh: for |x| < 0.625, x + x^3 P(x^2) with P of degree 4 fitted here by least squares in the relative error of tanh
// at 4,000 Chebyshev nodes against mpmath (0.86 ulp in float32); past it 1 - 2 / (exp(2 |x|) + 1) with x's sign,
// where 2 / (exp(2 |x|) + 1) <= 0.45 so that the subtraction loses no more than a bit.
// softplus: max(x, 0) + log1p(exp(-|x|)), and x past 20 (PyTorch's threshold); log1p(e) for e in [0, 1] is
// 2 atanh(s), s = e / (2 + e) in [0, 1/3], by its series 2 s (1 + s^2/3 + ... + s^14/15) (truncation 1.4e-9
// relative): every term positive, no cancellation.
// Edges as the float64 kernels give them: NaN -> NaN, sigmoid(+-inf) = 1, 0; tanh(+-inf) = +-1, tanh(-0) = -0;
// silu(inf) = inf, silu(-inf) = NaN (-inf * 0, as x / (1 + exp(-x)) gives); softplus(inf) = inf, softplus(-inf) = 0.
// Measured error: test/ops/vact.test.ts.
#pragma once
#include "vexp.h"

TS_CPU_BEGIN
// max(x, 0) with NaN kept, as a select (the scalar form's branches mispredict on data of random sign)
static inline vfloat vrelu(vfloat x) { return (x > bcast(0.0f)) | (x != x) ? x : bcast(0.0f); }

// s = sigmoid(x) and sn = 1 - s = sigmoid(-x), each without cancellation.
static inline vfloat vsigmoid2(vfloat x, vfloat& sn) {
  const vfloat e = vexp(-vabs(x)), r = bcast(1.0f) / (bcast(1.0f) + e), er = e * r;
  const auto neg = x < bcast(0.0f);
  sn = neg ? r : er;
  return neg ? er : r;
}
static inline vfloat vsigmoid(vfloat x) {
  vfloat sn;
  return vsigmoid2(x, sn);
}

static inline vfloat vtanh(vfloat x) {
  const vfloat ax = vabs(x), z = x * x;
  vfloat p = bcast(-5.6919855997e-03f);
  p = p * z + bcast(2.0626291633e-02f);
  p = p * z + bcast(-5.3735319525e-02f);
  p = p * z + bcast(1.3331381977e-01f);
  p = p * z + bcast(-3.3333280683e-01f);
  const vfloat small = x == bcast(0.0f) ? x : x + x * (z * p);  // (tanh(-0) = -0)
  const vfloat big = bcast(1.0f) - bcast(2.0f) / (vexp(ax + ax) + bcast(1.0f));
  return ax < bcast(0.625f) ? small : x < bcast(0.0f) ? -big : big;
}
// dy (1 - y^2) from y = tanh(x), and dy y (1 - y) from y = sigmoid(x): what the backward ops take.
static inline vfloat vtanh_bwd(vfloat dy, vfloat y) { return dy * (bcast(1.0f) - y * y); }
static inline vfloat vsigmoid_bwd(vfloat dy, vfloat y) { return dy * y * (bcast(1.0f) - y); }

static inline vfloat vsilu(vfloat x) { return x * vsigmoid(x); }
// d/dx [x s(x)] = s + x s (1 - s) = s (1 + x (1 - s))
static inline vfloat vsilu_bwd(vfloat dy, vfloat x) {
  vfloat sn;
  const vfloat s = vsigmoid2(x, sn);
  return dy * (s * (bcast(1.0f) + x * sn));
}

// log1p(e) for e in [0, 1] (NaN stays NaN).
static inline vfloat vlog1p_unit(vfloat e) {
  const vfloat s = e / (bcast(2.0f) + e), s2 = s * s;
  vfloat p = bcast(1.0f / 15.0f);
  p = p * s2 + bcast(1.0f / 13.0f);
  p = p * s2 + bcast(1.0f / 11.0f);
  p = p * s2 + bcast(1.0f / 9.0f);
  p = p * s2 + bcast(1.0f / 7.0f);
  p = p * s2 + bcast(1.0f / 5.0f);
  p = p * s2 + bcast(1.0f / 3.0f);
  p = p * s2 + bcast(1.0f);
  return bcast(2.0f) * s * p;
}
static inline vfloat vsoftplus(vfloat x) {
  const vfloat y = (x > bcast(0.0f) ? x : bcast(0.0f)) + vlog1p_unit(vexp(-vabs(x)));
  return x > bcast(20.0f) ? x : y;
}
static inline vfloat vsoftplus_bwd(vfloat dy, vfloat x) { return x > bcast(20.0f) ? dy : dy * vsigmoid(x); }
TS_CPU_END
