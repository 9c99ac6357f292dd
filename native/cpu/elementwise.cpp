// Elementwise ops with NumPy broadcasting: lib/ coalesces dims and gives broadcast inputs stride 0, so a kernel
// walks rows of the (contiguous) output and each input by its strides. Also casts/copies, fill and where.
#include <type_traits>
#include "kernels.h"
#include "vexp.h"
#include "vgelu.h"
#include "vact.h"

TS_CPU_BEGIN
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // elements below which threading costs more than it gains

// Element offset of row `r` (all dims but the last) of view t, for an output of shape `shape` (ndim dims).
static inline int64_t row_offset(int64_t r, const int64_t* shape, int ndim, const int64_t* strides) {
  int64_t off = 0;
  for (int d = ndim - 2; d >= 0; --d) {
    int64_t idx = r % shape[d];
    r /= shape[d];
    off += idx * strides[d];
  }
  return off;
}

template <typename F>
static void for_rows(const TensorArg& o, F&& f) {
  const int nd = o.ndim;
  const int64_t len = nd ? o.shape[nd - 1] : 1;
  int64_t rows = 1;
  for (int d = 0; d + 1 < nd; ++d) rows *= o.shape[d];
  const int64_t total = rows * len;
  if (total >= kParallelMin && rows > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) f(r, (int64_t)0, len);
  } else if (total >= kParallelMin) {
    // one long row: split it
    const int64_t chunk = 16384;
    const int64_t nchunks = (len + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nchunks; ++c) f((int64_t)0, c * chunk, (c + 1) * chunk < len ? (c + 1) * chunk : len);
  } else {
    for (int64_t r = 0; r < rows; ++r) f(r, (int64_t)0, len);
  }
}

template <typename T>
static inline T nan_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T>
static inline T nan_min(T a, T b) { return (a != a || a < b) ? a : b; }

// float32 ops by vectors (vexp.h, vgelu.h): contiguous rows go straight through, strided (or broadcast) ones through
// local buffers, so that every element takes the same path and gets the same bits whatever its layout; a row's tail
// runs in the same vector code as its body.
constexpr int64_t kVecBuf = 256;
template <typename VF>
static void vunary_f32(const OpCall& c, VF f) {
  constexpr int N = Vec<float>::N;
  const TensorArg &a = c.in[0], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sa = nd ? a.strides[nd - 1] : 0;
  auto run = [&f](float* d, const float* s, int64_t n) {
    int64_t i = 0;
    for (; i + N <= n; i += N) vstoreu(d + i, f(vloadu(s + i)));
    if (i < n) vstore_part(d + i, f(vload_part(s + i, n - i, 0.0f)), n - i);
  };
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const float* pa = (const float*)a.data + row_offset(r, o.shape, nd, a.strides);
    float* po = (float*)o.data + r * (nd ? o.shape[nd - 1] : 1);
    if (sa == 1) return run(po + j0, pa + j0, j1 - j0);
    float buf[kVecBuf];
    for (int64_t j = j0; j < j1; j += kVecBuf) {
      const int64_t n = j1 - j < kVecBuf ? j1 - j : kVecBuf;
      for (int64_t k = 0; k < n; ++k) buf[k] = pa[(j + k) * sa];
      run(po + j, buf, n);
    }
  });
}
template <typename VF>
static void vbinary_f32(const OpCall& c, VF f) {
  constexpr int N = Vec<float>::N;
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sa = nd ? a.strides[nd - 1] : 0, sb = nd ? b.strides[nd - 1] : 0;
  auto run = [&f](float* d, const float* x, const float* y, int64_t n) {
    int64_t i = 0;
    for (; i + N <= n; i += N) vstoreu(d + i, f(vloadu(x + i), vloadu(y + i)));
    if (i < n) vstore_part(d + i, f(vload_part(x + i, n - i, 0.0f), vload_part(y + i, n - i, 0.0f)), n - i);
  };
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const float* pa = (const float*)a.data + row_offset(r, o.shape, nd, a.strides);
    const float* pb = (const float*)b.data + row_offset(r, o.shape, nd, b.strides);
    float* po = (float*)o.data + r * (nd ? o.shape[nd - 1] : 1);
    if (sa == 1 && sb == 1) return run(po + j0, pa + j0, pb + j0, j1 - j0);
    float ba[kVecBuf], bb[kVecBuf];
    for (int64_t j = j0; j < j1; j += kVecBuf) {
      const int64_t n = j1 - j < kVecBuf ? j1 - j : kVecBuf;
      const float* xa = pa + j;
      const float* xb = pb + j;
      if (sa != 1) {
        for (int64_t k = 0; k < n; ++k) ba[k] = pa[(j + k) * sa];
        xa = ba;
      }
      if (sb != 1) {
        for (int64_t k = 0; k < n; ++k) bb[k] = pb[(j + k) * sb];
        xb = bb;
      }
      run(po + j, xa, xb, n);
    }
  });
}

// ------------------------------------------------------------------ binary
template <typename T, typename O, typename F>
static void binary(const OpCall& c, F op) {
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sa = nd ? a.strides[nd - 1] : 0, sb = nd ? b.strides[nd - 1] : 0;
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const T* pa = (const T*)a.data + row_offset(r, o.shape, nd, a.strides);
    const T* pb = (const T*)b.data + row_offset(r, o.shape, nd, b.strides);
    O* po = (O*)o.data + r * (nd ? o.shape[nd - 1] : 1);
    if (sa == 1 && sb == 1) {
      for (int64_t j = j0; j < j1; ++j) po[j] = op(pa[j], pb[j]);
    } else if (sa == 1 && sb == 0) {
      const T vb = pb[0];
      for (int64_t j = j0; j < j1; ++j) po[j] = op(pa[j], vb);
    } else if (sa == 0 && sb == 1) {
      const T va = pa[0];
      for (int64_t j = j0; j < j1; ++j) po[j] = op(va, pb[j]);
    } else {
      for (int64_t j = j0; j < j1; ++j) po[j] = op(pa[j * sa], pb[j * sb]);
    }
  });
}

template <typename T>
static void binary_arith(const OpCall& c) {
  switch (c.op) {
    case OP_add: return binary<T, T>(c, [](T x, T y) { return x + y; });
    case OP_sub: return binary<T, T>(c, [](T x, T y) { return x - y; });
    case OP_mul: return binary<T, T>(c, [](T x, T y) { return x * y; });
    case OP_div: return binary<T, T>(c, [](T x, T y) { return x / y; });
    case OP_pow: return binary<T, T>(c, [](T x, T y) { return (T)pow((double)x, (double)y); });
    case OP_minimum: return binary<T, T>(c, [](T x, T y) { return nan_min(x, y); });
    case OP_maximum: return binary<T, T>(c, [](T x, T y) { return nan_max(x, y); });
    case OP_eq: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x == y); });
    case OP_ne: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x != y); });
    case OP_lt: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x < y); });
    case OP_le: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x <= y); });
    case OP_gt: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x > y); });
    case OP_ge: return binary<T, uint8_t>(c, [](T x, T y) { return (uint8_t)(x >= y); });
    case OP_relu_bwd: return binary<T, T>(c, [](T dy, T x) { return x > T(0) ? dy : T(0); });
    case OP_sigmoid_bwd:
      if (sizeof(T) == 4) return vbinary_f32(c, [](vfloat dy, vfloat y) { return vsigmoid_bwd(dy, y); });
      return binary<T, T>(c, [](T dy, T y) { return dy * y * (T(1) - y); });
    case OP_tanh_bwd:
      if (sizeof(T) == 4) return vbinary_f32(c, [](vfloat dy, vfloat y) { return vtanh_bwd(dy, y); });
      return binary<T, T>(c, [](T dy, T y) { return dy * (T(1) - y * y); });
    case OP_silu_bwd:
      if (sizeof(T) == 4) return vbinary_f32(c, [](vfloat dy, vfloat x) { return vsilu_bwd(dy, x); });
      return binary<T, T>(c, [](T dy, T x) {
      T s = T(1) / (T(1) + (T)exp(-(double)x));
      return dy * s * (T(1) + x * (T(1) - s));
    });
    case OP_gelu_bwd:
      if (sizeof(T) == 4) {
        if (c.nfp > 0 && c.fp[0] != 0) return vbinary_f32(c, [](vfloat dy, vfloat x) { return vgelu_tanh_bwd(dy, x); });
        return vbinary_f32(c, [](vfloat dy, vfloat x) { return vgelu_bwd(dy, x); });
      }
      if (c.nfp > 0 && c.fp[0] != 0) return binary<T, T>(c, [](T dy, T x) {
        // the tanh approximation (fp [1]): d/dx of 0.5 x (1 + tanh(u)) = x s, s = sigmoid(2 u), u = sqrt(2/pi)
        // (x + 0.044715 x^3): s + 2 x s (1 - s) u', with s (1 - s) = e s^2, e = exp(-2 u) (no cancellation; the
        // term is its limit 0 where s (1 - s) is 0 and x finite, u' overflowing there)
        const double xd = x, e = exp(-1.5957691216057308 * (xd + 0.044715 * xd * xd * xd)), s = 1.0 / (1.0 + e);
        const double du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * xd * xd), sm = s == 0.0 ? 0.0 : e * s * s;
        return (T)(dy * (s + (sm == 0.0 && fabs(xd) < INFINITY ? 0.0 : 2.0 * xd * sm * du)));
      });
      return binary<T, T>(c, [](T dy, T x) {
      // d/dx [x * Phi(x)] = Phi(x) + x * phi(x), exact (erf) GELU as PyTorch's default; Phi(x) = erfc(-x/sqrt 2)/2
      // keeps its relative accuracy for negative x, where 1 + erf cancels
      double xd = x, cdf = 0.5 * erfc(-xd * 0.7071067811865476), pdf = 0.3989422804014327 * exp(-0.5 * xd * xd);
      return (T)(dy * (cdf + xd * pdf));
    });
    case OP_softplus_bwd:
      if (sizeof(T) == 4) return vbinary_f32(c, [](vfloat dy, vfloat x) { return vsoftplus_bwd(dy, x); });
      return binary<T, T>(c, [](T dy, T x) {
      return x > T(20) ? dy : (T)(dy / (1.0 + exp(-(double)x)));
    });
    default: fail(ERR_NATIVE, op_name(c.op), "no binary kernel");
  }
}

template <typename T>
static void binary_param(const OpCall& c) {  // backward kernels with a float parameter
  const T alpha = (T)c.fp[0];
  switch (c.op) {
    case OP_leaky_relu_bwd: return binary<T, T>(c, [alpha](T dy, T x) { return x > T(0) ? dy : dy * alpha; });
    case OP_elu_bwd: return binary<T, T>(c, [alpha](T dy, T x) { return x > T(0) ? dy : (T)(dy * alpha * exp((double)x)); });
    default: fail(ERR_NATIVE, op_name(c.op), "no binary kernel");
  }
}

// Integer add, sub, mul and neg wrap around (two's complement, as NumPy and PyTorch give): computed on the unsigned
// type, where overflow is defined (signed overflow is undefined behaviour in C++, and UBSan says so).
template <typename T>
using Wrap = typename std::make_unsigned<T>::type;

template <typename T>
static void binary_int(const OpCall& c) {
  using U = Wrap<T>;
  switch (c.op) {
    case OP_add: return binary<T, T>(c, [](T x, T y) { return (T)(U)((U)x + (U)y); });
    case OP_sub: return binary<T, T>(c, [](T x, T y) { return (T)(U)((U)x - (U)y); });
    case OP_mul: return binary<T, T>(c, [](T x, T y) { return (T)(U)((U)x * (U)y); });
    case OP_minimum: return binary<T, T>(c, [](T x, T y) { return x < y ? x : y; });
    case OP_maximum: return binary<T, T>(c, [](T x, T y) { return x > y ? x : y; });
    default: return binary_arith<T>(c);  // comparisons
  }
}

// ------------------------------------------------------------------ unary
template <typename T, typename F>
static void unary(const OpCall& c, F op) {
  const TensorArg &a = c.in[0], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sa = nd ? a.strides[nd - 1] : 0;
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const T* pa = (const T*)a.data + row_offset(r, o.shape, nd, a.strides);
    T* po = (T*)o.data + r * (nd ? o.shape[nd - 1] : 1);
    if (sa == 1)
      for (int64_t j = j0; j < j1; ++j) po[j] = op(pa[j]);
    else
      for (int64_t j = j0; j < j1; ++j) po[j] = op(pa[j * sa]);
  });
}

template <typename T>
static void unary_float(const OpCall& c) {
  const double p0 = c.nfp > 0 ? c.fp[0] : 0, p1 = c.nfp > 1 ? c.fp[1] : 0;
  switch (c.op) {
    case OP_neg: return unary<T>(c, [](T x) { return -x; });
    case OP_abs: return unary<T>(c, [](T x) { return x < T(0) ? -x : x; });
    case OP_sign: return unary<T>(c, [](T x) { return x > T(0) ? T(1) : x < T(0) ? T(-1) : x; });
    case OP_exp:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vexp(x); });
      return unary<T>(c, [](T x) { return (T)exp((double)x); });
    case OP_log:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vlog(x); });
      return unary<T>(c, [](T x) { return (T)log((double)x); });
    case OP_sqrt: return unary<T>(c, [](T x) { return sizeof(T) == 4 ? (T)sqrtf((float)x) : (T)sqrt((double)x); });
    case OP_rsqrt: return unary<T>(c, [](T x) { return T(1) / (sizeof(T) == 4 ? (T)sqrtf((float)x) : (T)sqrt((double)x)); });
    case OP_relu:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vrelu(x); });
      return unary<T>(c, [](T x) { return x > T(0) ? x : (x != x ? x : T(0)); });
    case OP_leaky_relu: { T a = (T)p0; return unary<T>(c, [a](T x) { return x > T(0) ? x : x * a; }); }
    case OP_elu: { T a = (T)p0; return unary<T>(c, [a](T x) { return x > T(0) ? x : (T)(a * expm1((double)x)); }); }
    case OP_gelu:
      if (sizeof(T) == 4) {
        if (p0 != 0) return vunary_f32(c, [](vfloat x) { return vgelu_tanh(x); });
        return vunary_f32(c, [](vfloat x) { return vgelu(x); });
      }
      if (p0 != 0)  // fp [1]: the tanh approximation, 0.5 x (1 + tanh(u)) = x sigmoid(2 u), u = sqrt(2/pi) (x + 0.044715 x^3)
        return unary<T>(c, [](T x) {
          const double xd = x;
          return (T)(xd / (1.0 + exp(-1.5957691216057308 * (xd + 0.044715 * xd * xd * xd))));
        });
      // x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for negative x
      return unary<T>(c, [](T x) { return (T)(0.5 * x * erfc(-(double)x * 0.7071067811865476)); });
    case OP_silu:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vsilu(x); });
      return unary<T>(c, [](T x) { return (T)(x / (1.0 + exp(-(double)x))); });
    case OP_sigmoid:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vsigmoid(x); });
      return unary<T>(c, [](T x) {
      // stable for large |x|
      return x >= T(0) ? (T)(1.0 / (1.0 + exp(-(double)x))) : (T)(exp((double)x) / (1.0 + exp((double)x)));
    });
    case OP_tanh:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vtanh(x); });
      return unary<T>(c, [](T x) { return (T)tanh((double)x); });
    case OP_softplus:
      if (sizeof(T) == 4) return vunary_f32(c, [](vfloat x) { return vsoftplus(x); });
      return unary<T>(c, [](T x) { return x > T(20) ? x : (T)log1p(exp((double)x)); });
    case OP_clamp: { T lo = (T)p0, hi = (T)p1; return unary<T>(c, [lo, hi](T x) { return x < lo ? lo : x > hi ? hi : x; }); }
    case OP_pow_scalar: {
      if (p0 == 2.0) return unary<T>(c, [](T x) { return x * x; });
      return unary<T>(c, [p0](T x) { return (T)pow((double)x, p0); });
    }
    default: fail(ERR_NATIVE, op_name(c.op), "no unary kernel");
  }
}

template <typename T>
static void unary_int(const OpCall& c) {
  switch (c.op) {
    case OP_neg: return unary<T>(c, [](T x) { return (T)(Wrap<T>)(Wrap<T>(0) - (Wrap<T>)x); });
    case OP_abs: return unary<T>(c, [](T x) { return x < 0 ? (T)(Wrap<T>)(Wrap<T>(0) - (Wrap<T>)x) : x; });
    case OP_sign: return unary<T>(c, [](T x) { return (T)(x > 0 ? 1 : x < 0 ? -1 : 0); });
    case OP_relu: return unary<T>(c, [](T x) { return x > 0 ? x : (T)0; });
    case OP_clamp: { double lo = c.fp[0], hi = c.fp[1];
      return unary<T>(c, [lo, hi](T x) { return (T)(x < lo ? lo : x > hi ? hi : x); }); }
    default: fail(ERR_NATIVE, op_name(c.op), "no unary kernel");
  }
}

// ------------------------------------------------------------------ copy / cast, fill, where
template <typename S, typename D>
static void copy_typed(const OpCall& c) {
  const TensorArg &a = c.in[0], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sa = nd ? a.strides[nd - 1] : 0, so = nd ? o.strides[nd - 1] : 0;
  if (nd >= 2 && sa != 1 && a.strides[nd - 2] == 1 && so == 1) {
    // a transpose of the last two dims (weight.t() made contiguous): 32x32 tiles, read along the input's unit
    // stride and written along the output's, both in L1; row by row it would touch a new cache line per element
    constexpr int64_t B = 32;
    const int64_t R = o.shape[nd - 2], L = o.shape[nd - 1];
    int64_t outer = 1;
    for (int d = 0; d + 2 < nd; ++d) outer *= o.shape[d];
    const int64_t tr = (R + B - 1) / B, tl = (L + B - 1) / B, tiles = outer * tr * tl;
#pragma omp parallel for schedule(static) if (outer * R * L >= kParallelMin && tiles > 1)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t ob = t / (tr * tl), i0 = (t / tl % tr) * B, j0 = (t % tl) * B;
      const int64_t i1 = i0 + B < R ? i0 + B : R, j1 = j0 + B < L ? j0 + B : L;
      const S* pa = (const S*)a.data + row_offset(ob * R + i0, o.shape, nd, a.strides);
      D* po = (D*)o.data + row_offset(ob * R + i0, o.shape, nd, o.strides);
      const int64_t ro = o.strides[nd - 2];
      // through a local tile, so that each strided line is used whole at once: at a power-of-two stride the
      // 32 lines of a tile share one L1 set and would be evicted between visits
      D buf[B][B + 1];
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = 0; i < i1 - i0; ++i) buf[j - j0][i] = (D)pa[i + j * sa];
      for (int64_t i = 0; i < i1 - i0; ++i)
        for (int64_t j = j0; j < j1; ++j) po[i * ro + j] = buf[j - j0][i];
    }
    return;
  }
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const S* pa = (const S*)a.data + row_offset(r, o.shape, nd, a.strides);
    D* po = (D*)o.data + row_offset(r, o.shape, nd, o.strides);
    if (sa == 1 && so == 1)
      for (int64_t j = j0; j < j1; ++j) po[j] = (D)pa[j];
    else
      for (int64_t j = j0; j < j1; ++j) po[j * so] = (D)pa[j * sa];
  });
}
template <typename S>
static void copy_from(const OpCall& c) {
  switch (c.out[0].dtype) {
    case DT_F32: return copy_typed<S, float>(c);
    case DT_F64: return copy_typed<S, double>(c);
    case DT_I32: return copy_typed<S, int32_t>(c);
    case DT_U8: return copy_typed<S, uint8_t>(c);
  }
}
// copy: in[0] any dtype and strides -> out[0] any strides (an existing view for slice assignment), any dtype
// (a cast when they differ). c.dtype = in dtype. Outputs must not overlap themselves.
void copy_kernel(const OpCall& c) {
  switch (c.in[0].dtype) {
    case DT_F32: return copy_from<float>(c);
    case DT_F64: return copy_from<double>(c);
    case DT_I32: return copy_from<int32_t>(c);
    case DT_U8: return copy_from<uint8_t>(c);
  }
}

template <typename T>
void fill_kernel(const OpCall& c) {
  const TensorArg& o = c.out[0];
  const T v = (T)c.fp[0];
  const int nd = o.ndim;
  const int64_t so = nd ? o.strides[nd - 1] : 0;
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    T* po = (T*)o.data + row_offset(r, o.shape, nd, o.strides);
    for (int64_t j = j0; j < j1; ++j) po[j * so] = v;
  });
}

template <typename T>
void where_kernel(const OpCall& c) {
  const TensorArg &m = c.in[0], &a = c.in[1], &b = c.in[2], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t sm = nd ? m.strides[nd - 1] : 0, sa = nd ? a.strides[nd - 1] : 0, sb = nd ? b.strides[nd - 1] : 0;
  for_rows(o, [&](int64_t r, int64_t j0, int64_t j1) {
    const uint8_t* pm = (const uint8_t*)m.data + row_offset(r, o.shape, nd, m.strides);
    const T* pa = (const T*)a.data + row_offset(r, o.shape, nd, a.strides);
    const T* pb = (const T*)b.data + row_offset(r, o.shape, nd, b.strides);
    T* po = (T*)o.data + r * (nd ? o.shape[nd - 1] : 1);
    for (int64_t j = j0; j < j1; ++j) po[j] = pm[j * sm] ? pa[j * sa] : pb[j * sb];
  });
}
}  // namespace

void ew_copy(const OpCall& c) { copy_kernel(c); }
void ew_binary_f32(const OpCall& c) { binary_arith<float>(c); }
void ew_binary_f64(const OpCall& c) { binary_arith<double>(c); }
void ew_binary_i32(const OpCall& c) { binary_int<int32_t>(c); }
void ew_binary_u8(const OpCall& c) { binary_int<uint8_t>(c); }
void ew_binary_param_f32(const OpCall& c) { binary_param<float>(c); }
void ew_binary_param_f64(const OpCall& c) { binary_param<double>(c); }
void ew_unary_f32(const OpCall& c) { unary_float<float>(c); }
void ew_unary_f64(const OpCall& c) { unary_float<double>(c); }
void ew_unary_i32(const OpCall& c) { unary_int<int32_t>(c); }
void ew_fill_f32(const OpCall& c) { fill_kernel<float>(c); }
void ew_fill_f64(const OpCall& c) { fill_kernel<double>(c); }
void ew_fill_i32(const OpCall& c) { fill_kernel<int32_t>(c); }
void ew_fill_u8(const OpCall& c) { fill_kernel<uint8_t>(c); }
void ew_where_f32(const OpCall& c) { where_kernel<float>(c); }
void ew_where_f64(const OpCall& c) { where_kernel<double>(c); }
void ew_where_i32(const OpCall& c) { where_kernel<int32_t>(c); }
void ew_where_u8(const OpCall& c) { where_kernel<uint8_t>(c); }
TS_CPU_END
