// Elementwise ops on cuda, the same (op, dtype) pairs and formulas as native/cpu/elementwise.cpp: the binary ops
// (arithmetic, comparisons into uint8, the activation gradients *_bwd, leaky_relu_bwd/elu_bwd with their float
// parameter), the unary ops (with clamp's and pow_scalar's parameters), where, fill, and copy (casts between all
// four dtypes, strided and broadcast inputs, strided outputs for slice assignment).
//
// lib/ coalesces dims and gives broadcast inputs stride 0; the inputs of an op share the output's kernel shape and
// the output of every op but copy/fill is contiguous (as the CPU kernels assume). Three paths per op:
//   - everything contiguous and 16-byte aligned: a grid-stride loop over vectors of kVec elements (one 16-byte load
//     or store per operand for float32/int32, two for float64), then the tail element by element;
//   - everything contiguous, not aligned (a view at an odd offset): the same loop element by element;
//   - otherwise: each thread splits its flat output index into coordinates once (32-bit division when the tensor
//     has under 2^32 elements) and walks every operand's strides from them.
// copy from a view transposed in its last two dims (x.t().contiguous()) goes through 32x32 tiles in shared memory so
// that both the reads and the writes are coalesced.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include "common.cuh"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int kVec = 4;

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// The output's kernel shape and the strides of NA operands (inputs, then the output for copy and fill).
template <int NA>
struct Walk {
  int ndim;
  int64_t shape[kMaxDims];
  int64_t strides[NA][kMaxDims];
};

template <int NA>
Walk<NA> walk_of(const TensorArg& o, const TensorArg* const* args) {
  Walk<NA> w;
  w.ndim = o.ndim;
  for (int d = 0; d < kMaxDims; ++d) {
    w.shape[d] = d < o.ndim ? o.shape[d] : 1;
    for (int k = 0; k < NA; ++k) w.strides[k][d] = d < o.ndim ? args[k]->strides[d] : 0;
  }
  return w;
}

// The element offsets in each operand of the element at flat (row-major) index i of the kernel shape.
template <int NA, typename I>
__device__ __forceinline__ void offsets(const Walk<NA>& w, I i, int64_t* off) {
#pragma unroll
  for (int k = 0; k < NA; ++k) off[k] = 0;
  for (int d = w.ndim - 1; d >= 0; --d) {
    const I s = (I)w.shape[d];
    const I q = i / s;
    const int64_t r = (int64_t)(i - q * s);
#pragma unroll
    for (int k = 0; k < NA; ++k) off[k] += r * w.strides[k][d];
    i = q;
  }
}

__device__ __forceinline__ int64_t first_thread() { return (int64_t)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t thread_stride() { return (int64_t)gridDim.x * blockDim.x; }

// ------------------------------------------------------------------ kernels over "generators"
// A generator G holds the input pointers and the op; G::N inputs. at(i): the value at flat index i when every
// input is contiguous; at_off(off): the value with the inputs' element offsets; vec(v, r): kVec values from the
// v-th vector of every (contiguous, aligned) input.

template <typename O, typename G>
__global__ void k_vec(O* out, G g, int64_t n) {
  const int64_t nv = n / kVec, t0 = first_thread(), st = thread_stride();
  for (int64_t v = t0; v < nv; v += st) {
    Vec<O, kVec> r;
    g.vec(v, r.v);
    reinterpret_cast<Vec<O, kVec>*>(out)[v] = r;
  }
  for (int64_t i = nv * kVec + t0; i < n; i += st) out[i] = g.at(i);
}

template <typename O, typename G>
__global__ void k_flat(O* out, G g, int64_t n) {
  for (int64_t i = first_thread(), st = thread_stride(); i < n; i += st) out[i] = g.at(i);
}

// OS: the output is strided too (its strides are the walk's last row).
template <typename O, typename G, typename I, bool OS>
__global__ void k_strided(O* out, G g, Walk<G::N + (OS ? 1 : 0)> w, I n) {
  constexpr int NA = G::N + (OS ? 1 : 0);
  for (I i = (I)first_thread(), st = (I)thread_stride(); i < n; i += st) {
    int64_t off[NA + 1];
    offsets<NA, I>(w, i, off);
    out[OS ? off[NA - 1] : (int64_t)i] = g.at_off(off);
    if (n - i <= st) break;  // i + st would wrap a 32-bit index
  }
}

template <typename T>
__device__ __forceinline__ Vec<T, kVec> load_vec(const T* p, int64_t v) {
  return reinterpret_cast<const Vec<T, kVec>*>(p)[v];
}

template <typename O, typename T, typename Op>
struct G1 {
  static constexpr int N = 1;
  const T* a;
  Op op;
  __device__ __forceinline__ O at(int64_t i) const { return (O)op(a[i]); }
  __device__ __forceinline__ O at_off(const int64_t* off) const { return (O)op(a[off[0]]); }
  __device__ __forceinline__ void vec(int64_t v, O* r) const {
    const Vec<T, kVec> x = load_vec(a, v);
#pragma unroll
    for (int k = 0; k < kVec; ++k) r[k] = (O)op(x.v[k]);
  }
};

template <typename O, typename T, typename Op>
struct G2 {
  static constexpr int N = 2;
  const T* a;
  const T* b;
  Op op;
  __device__ __forceinline__ O at(int64_t i) const { return (O)op(a[i], b[i]); }
  __device__ __forceinline__ O at_off(const int64_t* off) const { return (O)op(a[off[0]], b[off[1]]); }
  __device__ __forceinline__ void vec(int64_t v, O* r) const {
    const Vec<T, kVec> x = load_vec(a, v), y = load_vec(b, v);
#pragma unroll
    for (int k = 0; k < kVec; ++k) r[k] = (O)op(x.v[k], y.v[k]);
  }
};

template <typename T>
struct GWhere {
  static constexpr int N = 3;
  const uint8_t* m;
  const T* a;
  const T* b;
  __device__ __forceinline__ T at(int64_t i) const { return m[i] ? a[i] : b[i]; }
  __device__ __forceinline__ T at_off(const int64_t* off) const { return m[off[0]] ? a[off[1]] : b[off[2]]; }
  __device__ __forceinline__ void vec(int64_t v, T* r) const {
    const Vec<uint8_t, kVec> c = load_vec(m, v);
    const Vec<T, kVec> x = load_vec(a, v), y = load_vec(b, v);
#pragma unroll
    for (int k = 0; k < kVec; ++k) r[k] = c.v[k] ? x.v[k] : y.v[k];
  }
};

template <typename T>
struct GConst {
  static constexpr int N = 0;
  T value;
  __device__ __forceinline__ T at(int64_t) const { return value; }
  __device__ __forceinline__ T at_off(const int64_t*) const { return value; }
  __device__ __forceinline__ void vec(int64_t, T* r) const {
#pragma unroll
    for (int k = 0; k < kVec; ++k) r[k] = value;
  }
};

inline bool aligned(const void* p, size_t elem) { return (uintptr_t)p % (elem * kVec) == 0; }

// Runs generator g into o (contiguous unless OS) with the inputs ins[0..G::N).
template <bool OS, typename O, typename G>
void run(const OpCall& c, const G& g, const TensorArg* const* ins, const TensorArg& o) {
  const int64_t n = numel(o);
  if (n == 0) return;
  const char* name = op_name(c.op);
  O* out = (O*)o.data;
  bool flat = contiguous(o), vec = flat && aligned(o.data, sizeof(O));
  for (int k = 0; k < G::N; ++k) {
    flat = flat && contiguous(*ins[k]);
    vec = vec && flat && aligned(ins[k]->data, dtype_size(ins[k]->dtype));
  }
  if (!OS && !contiguous(o)) fail(ERR_NATIVE, name, "expected a contiguous output");
  if (vec) {
    launch(name, k_vec<O, G>, blocks_for((n + kVec - 1) / kVec, kThreads), kThreads, 0, stream_of(c), out, g, n);
  } else if (flat) {
    launch(name, k_flat<O, G>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), out, g, n);
  } else {
    constexpr int NA = G::N + (OS ? 1 : 0);
    const TensorArg* args[NA + 1];
    for (int k = 0; k < G::N; ++k) args[k] = ins[k];
    if (OS) args[NA - 1] = &o;
    const Walk<NA> w = walk_of<NA>(o, args);
    if (n <= (int64_t)UINT32_MAX)
      launch(name, k_strided<O, G, uint32_t, OS>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), out, g, w,
             (uint32_t)n);
    else
      launch(name, k_strided<O, G, uint64_t, OS>, blocks_for(n, kThreads), kThreads, 0, stream_of(c), out, g, w,
             (uint64_t)n);
  }
}

// ------------------------------------------------------------------ the ops (the CPU kernels' formulas)
template <typename T>
__device__ __forceinline__ T nan_max(T a, T b) { return (a != a || a > b) ? a : b; }
template <typename T>
__device__ __forceinline__ T nan_min(T a, T b) { return (a != a || a < b) ? a : b; }

// Integer add/sub/mul/neg wrap around (two's complement) as on the CPU, without signed overflow.
template <typename T>
__device__ __forceinline__ T wrap(uint32_t v) { return (T)v; }

#define TS_BINARY(Name, R, expr)                                          \
  template <typename T>                                                   \
  struct Name {                                                           \
    __device__ __forceinline__ R operator()(T x, T y) const { return expr; } \
  };
TS_BINARY(Add, T, std::is_integral<T>::value ? wrap<T>((uint32_t)x + (uint32_t)y) : (T)(x + y))
TS_BINARY(Sub, T, std::is_integral<T>::value ? wrap<T>((uint32_t)x - (uint32_t)y) : (T)(x - y))
TS_BINARY(Mul, T, std::is_integral<T>::value ? wrap<T>((uint32_t)x * (uint32_t)y) : (T)(x * y))
TS_BINARY(Div, T, x / y)
TS_BINARY(Pow, T, (T)pow((double)x, (double)y))
TS_BINARY(Minimum, T, nan_min(x, y))
TS_BINARY(Maximum, T, nan_max(x, y))
TS_BINARY(Eq, uint8_t, (uint8_t)(x == y))
TS_BINARY(Ne, uint8_t, (uint8_t)(x != y))
TS_BINARY(Lt, uint8_t, (uint8_t)(x < y))
TS_BINARY(Le, uint8_t, (uint8_t)(x <= y))
TS_BINARY(Gt, uint8_t, (uint8_t)(x > y))
TS_BINARY(Ge, uint8_t, (uint8_t)(x >= y))
// gradients: (dy, x) or (dy, y) as the CPU kernels take them
TS_BINARY(ReluBwd, T, y > T(0) ? x : T(0))
TS_BINARY(SigmoidBwd, T, x * y * (T(1) - y))
TS_BINARY(TanhBwd, T, x * (T(1) - y * y))
#undef TS_BINARY

template <typename T>
struct SiluBwd {
  __device__ __forceinline__ T operator()(T dy, T x) const {
    const T s = T(1) / (T(1) + (T)exp(-(double)x));
    return dy * s * (T(1) + x * (T(1) - s));
  }
};
template <typename T>
struct GeluBwd {  // d/dx [x * Phi(x)] = Phi(x) + x * phi(x), exact (erf) GELU; Phi = erfc(-x / sqrt 2) / 2 (no cancellation)
  __device__ __forceinline__ T operator()(T dy, T x) const {
    const double xd = x, cdf = 0.5 * erfc(-xd * 0.7071067811865476),
                 pdf = 0.3989422804014327 * exp(-0.5 * xd * xd);
    return (T)(dy * (cdf + xd * pdf));
  }
};
template <typename T>
struct GeluTanhBwd {  // the tanh approximation's, as native/cpu/elementwise.cpp computes it: x s, s = sigmoid(2 u),
  // u = sqrt(2/pi) (x + 0.044715 x^3); s + 2 x s (1 - s) u' with s (1 - s) = e s^2, e = exp(-2 u), the term's limit
  // 0 where s (1 - s) is 0 and x finite
  __device__ __forceinline__ T operator()(T dy, T x) const {
    const double xd = x, e = exp(-1.5957691216057308 * (xd + 0.044715 * xd * xd * xd)), s = 1.0 / (1.0 + e);
    const double du = 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * xd * xd), sm = s == 0.0 ? 0.0 : e * s * s;
    return (T)(dy * (s + (sm == 0.0 && fabs(xd) < INFINITY ? 0.0 : 2.0 * xd * sm * du)));
  }
};
template <typename T>
struct SoftplusBwd {
  __device__ __forceinline__ T operator()(T dy, T x) const {
    return x > T(20) ? dy : (T)(dy / (1.0 + exp(-(double)x)));
  }
};
template <typename T>
struct LeakyReluBwd {
  T alpha;
  __device__ __forceinline__ T operator()(T dy, T x) const { return x > T(0) ? dy : dy * alpha; }
};
template <typename T>
struct EluBwd {
  T alpha;
  __device__ __forceinline__ T operator()(T dy, T x) const {
    return x > T(0) ? dy : (T)(dy * alpha * exp((double)x));
  }
};

#define TS_UNARY(Name, expr)                                            \
  template <typename T>                                                 \
  struct Name {                                                         \
    __device__ __forceinline__ T operator()(T x) const { return expr; } \
  };
TS_UNARY(Neg, std::is_integral<T>::value ? wrap<T>(0u - (uint32_t)x) : (T)-x)
TS_UNARY(Abs, x < T(0) ? (std::is_integral<T>::value ? wrap<T>(0u - (uint32_t)x) : (T)-x) : x)
TS_UNARY(Sign, x > T(0) ? T(1) : x < T(0) ? T(-1) : (std::is_integral<T>::value ? T(0) : x))
TS_UNARY(Exp, sizeof(T) == 4 ? (T)expf((float)x) : (T)exp((double)x))
TS_UNARY(Log, sizeof(T) == 4 ? (T)logf((float)x) : (T)log((double)x))
TS_UNARY(Sqrt, sizeof(T) == 4 ? (T)sqrtf((float)x) : (T)sqrt((double)x))
TS_UNARY(Rsqrt, T(1) / (sizeof(T) == 4 ? (T)sqrtf((float)x) : (T)sqrt((double)x)))
TS_UNARY(Relu, x > T(0) ? x : (x != x ? x : T(0)))
TS_UNARY(Gelu, (T)(0.5 * x * erfc(-(double)x * 0.7071067811865476)))  // x Phi(x), Phi = erfc(-x / sqrt 2) / 2
TS_UNARY(Silu, (T)(x / (1.0 + exp(-(double)x))))
// stable for large |x|
TS_UNARY(Sigmoid, x >= T(0) ? (T)(1.0 / (1.0 + exp(-(double)x))) : (T)(exp((double)x) / (1.0 + exp((double)x))))
TS_UNARY(Tanh, (T)tanh((double)x))
TS_UNARY(Softplus, x > T(20) ? x : (T)log1p(exp((double)x)))
TS_UNARY(Square, x * x)
#undef TS_UNARY

template <typename T>
struct GeluTanh {  // 0.5 x (1 + tanh(u)) = x sigmoid(2 u), u = sqrt(2/pi) (x + 0.044715 x^3), PyTorch's approximate='tanh'
  __device__ __forceinline__ T operator()(T x) const {
    const double xd = x;
    return (T)(xd / (1.0 + exp(-1.5957691216057308 * (xd + 0.044715 * xd * xd * xd))));
  }
};
template <typename T>
struct LeakyRelu {
  T alpha;
  __device__ __forceinline__ T operator()(T x) const { return x > T(0) ? x : x * alpha; }
};
template <typename T>
struct Elu {
  T alpha;
  __device__ __forceinline__ T operator()(T x) const { return x > T(0) ? x : (T)(alpha * expm1((double)x)); }
};
template <typename T>
struct PowScalar {
  double p;
  __device__ __forceinline__ T operator()(T x) const { return (T)pow((double)x, p); }
};
template <typename T>
struct ClampFloat {
  T lo, hi;
  __device__ __forceinline__ T operator()(T x) const { return x < lo ? lo : x > hi ? hi : x; }
};

// Float to int32 as the x86 CPU converts (cvttsd2si): truncation, and INT32_MIN for NaN and values out of range.
__device__ __forceinline__ int32_t f2i_x86(double x) {
  return (x > -2147483649.0 && x < 2147483648.0) ? (int32_t)x : INT32_MIN;
}
template <typename D, typename S>
__device__ __forceinline__ D cast_to(S x) {
  if (std::is_floating_point<S>::value && std::is_integral<D>::value) return (D)f2i_x86((double)x);
  return (D)x;
}

struct ClampInt {  // int32 clamp with double bounds (the CPU compares in double and converts back)
  double lo, hi;
  __device__ __forceinline__ int32_t operator()(int32_t x) const {
    return cast_to<int32_t>(x < lo ? lo : x > hi ? hi : (double)x);
  }
};

template <typename D, typename S>
struct Cast {
  __device__ __forceinline__ D operator()(S x) const { return cast_to<D, S>(x); }
};

// ------------------------------------------------------------------ host side
template <typename O, typename T, typename Op>
void unary(const OpCall& c, Op op) {
  const TensorArg* ins[1] = {&c.in[0]};
  run<false, O>(c, G1<O, T, Op>{(const T*)c.in[0].data, op}, ins, c.out[0]);
}
template <typename O, typename T, typename Op>
void binary(const OpCall& c, Op op) {
  const TensorArg* ins[2] = {&c.in[0], &c.in[1]};
  run<false, O>(c, G2<O, T, Op>{(const T*)c.in[0].data, (const T*)c.in[1].data, op}, ins, c.out[0]);
}

template <typename T>
void binary_cmp(const OpCall& c) {
  switch (c.op) {
    case OP_eq: return binary<uint8_t, T>(c, Eq<T>{});
    case OP_ne: return binary<uint8_t, T>(c, Ne<T>{});
    case OP_lt: return binary<uint8_t, T>(c, Lt<T>{});
    case OP_le: return binary<uint8_t, T>(c, Le<T>{});
    case OP_gt: return binary<uint8_t, T>(c, Gt<T>{});
    case OP_ge: return binary<uint8_t, T>(c, Ge<T>{});
    default: fail(ERR_NATIVE, op_name(c.op), "no binary kernel");
  }
}

template <typename T>
void binary_float(const OpCall& c) {
  switch (c.op) {
    case OP_add: return binary<T, T>(c, Add<T>{});
    case OP_sub: return binary<T, T>(c, Sub<T>{});
    case OP_mul: return binary<T, T>(c, Mul<T>{});
    case OP_div: return binary<T, T>(c, Div<T>{});
    case OP_pow: return binary<T, T>(c, Pow<T>{});
    case OP_minimum: return binary<T, T>(c, Minimum<T>{});
    case OP_maximum: return binary<T, T>(c, Maximum<T>{});
    case OP_relu_bwd: return binary<T, T>(c, ReluBwd<T>{});
    case OP_sigmoid_bwd: return binary<T, T>(c, SigmoidBwd<T>{});
    case OP_tanh_bwd: return binary<T, T>(c, TanhBwd<T>{});
    case OP_silu_bwd: return binary<T, T>(c, SiluBwd<T>{});
    case OP_gelu_bwd:  // fp [1]: the tanh approximation's
      if (c.nfp > 0 && c.fp[0] != 0) return binary<T, T>(c, GeluTanhBwd<T>{});
      return binary<T, T>(c, GeluBwd<T>{});
    case OP_softplus_bwd: return binary<T, T>(c, SoftplusBwd<T>{});
    default: return binary_cmp<T>(c);
  }
}

template <typename T>
void binary_param(const OpCall& c) {  // backward kernels with a float parameter
  const T alpha = (T)c.fp[0];
  switch (c.op) {
    case OP_leaky_relu_bwd: return binary<T, T>(c, LeakyReluBwd<T>{alpha});
    case OP_elu_bwd: return binary<T, T>(c, EluBwd<T>{alpha});
    default: fail(ERR_NATIVE, op_name(c.op), "no binary kernel");
  }
}

template <typename T>
void binary_int(const OpCall& c) {
  switch (c.op) {
    case OP_add: return binary<T, T>(c, Add<T>{});
    case OP_sub: return binary<T, T>(c, Sub<T>{});
    case OP_mul: return binary<T, T>(c, Mul<T>{});
    case OP_minimum: return binary<T, T>(c, Minimum<T>{});
    case OP_maximum: return binary<T, T>(c, Maximum<T>{});
    default: return binary_cmp<T>(c);
  }
}

template <typename T>
void unary_float(const OpCall& c) {
  const double p0 = c.nfp > 0 ? c.fp[0] : 0, p1 = c.nfp > 1 ? c.fp[1] : 0;
  switch (c.op) {
    case OP_neg: return unary<T, T>(c, Neg<T>{});
    case OP_abs: return unary<T, T>(c, Abs<T>{});
    case OP_sign: return unary<T, T>(c, Sign<T>{});
    case OP_exp: return unary<T, T>(c, Exp<T>{});
    case OP_log: return unary<T, T>(c, Log<T>{});
    case OP_sqrt: return unary<T, T>(c, Sqrt<T>{});
    case OP_rsqrt: return unary<T, T>(c, Rsqrt<T>{});
    case OP_relu: return unary<T, T>(c, Relu<T>{});
    case OP_leaky_relu: return unary<T, T>(c, LeakyRelu<T>{(T)p0});
    case OP_elu: return unary<T, T>(c, Elu<T>{(T)p0});
    case OP_gelu:  // fp [1]: the tanh approximation
      if (p0 != 0) return unary<T, T>(c, GeluTanh<T>{});
      return unary<T, T>(c, Gelu<T>{});
    case OP_silu: return unary<T, T>(c, Silu<T>{});
    case OP_sigmoid: return unary<T, T>(c, Sigmoid<T>{});
    case OP_tanh: return unary<T, T>(c, Tanh<T>{});
    case OP_softplus: return unary<T, T>(c, Softplus<T>{});
    case OP_clamp: return unary<T, T>(c, ClampFloat<T>{(T)p0, (T)p1});
    case OP_pow_scalar:
      if (p0 == 2.0) return unary<T, T>(c, Square<T>{});
      return unary<T, T>(c, PowScalar<T>{p0});
    default: fail(ERR_NATIVE, op_name(c.op), "no unary kernel");
  }
}

void unary_i32(const OpCall& c) {
  switch (c.op) {
    case OP_neg: return unary<int32_t, int32_t>(c, Neg<int32_t>{});
    case OP_abs: return unary<int32_t, int32_t>(c, Abs<int32_t>{});
    case OP_sign: return unary<int32_t, int32_t>(c, Sign<int32_t>{});
    case OP_relu: return unary<int32_t, int32_t>(c, Relu<int32_t>{});
    case OP_clamp: return unary<int32_t, int32_t>(c, ClampInt{c.fp[0], c.fp[1]});
    default: fail(ERR_NATIVE, op_name(c.op), "no unary kernel");
  }
}

// copy from a view transposed in its last two dims (in strides [.., 1, sa], out [.., ro, 1]): a block of 32x8
// threads moves a 32x32 tile, reading 32 consecutive input elements along the input's unit stride per warp and
// writing 32 consecutive output elements along the output's; the padded row (33) keeps the transposed reads of the
// tile free of bank conflicts. grid.x: tiles along the last dim, grid.y along the one before, grid.z the batches
// (all grid-strided). wb: the batch dims' walk (input strides, then output strides).
constexpr int kTile = 32, kTileRows = 8;
template <typename S, typename D>
__global__ void k_copy_transpose(D* out, const S* a, Walk<2> wb, int64_t batches, int64_t R, int64_t L, int64_t sa,
                                 int64_t ro) {
  TS_DYNAMIC_SHARED(double, smem);  // kTile x (kTile + 1) D
  D* tile = reinterpret_cast<D*>(smem);
  const int tx = threadIdx.x, ty = threadIdx.y;
  for (int64_t b = blockIdx.z; b < batches; b += gridDim.z) {
    int64_t off[2];
    offsets<2, int64_t>(wb, b, off);
    for (int64_t r0 = (int64_t)blockIdx.y * kTile; r0 < R; r0 += (int64_t)gridDim.y * kTile) {
      for (int64_t l0 = (int64_t)blockIdx.x * kTile; l0 < L; l0 += (int64_t)gridDim.x * kTile) {
        const int64_t r = r0 + tx;
        for (int k = ty; k < kTile; k += kTileRows) {
          const int64_t l = l0 + k;
          if (r < R && l < L) tile[k * (kTile + 1) + tx] = cast_to<D, S>(a[off[0] + r + l * sa]);
        }
        __syncthreads();
        const int64_t l = l0 + tx;
        for (int k = ty; k < kTile; k += kTileRows) {
          const int64_t rr = r0 + k;
          if (rr < R && l < L) out[off[1] + rr * ro + l] = tile[tx * (kTile + 1) + k];
        }
        __syncthreads();
      }
    }
  }
}

// copy: in[0] any dtype and strides -> out[0] any strides (an existing view for slice assignment), any dtype
// (a cast when they differ). Outputs do not overlap themselves.
template <typename S, typename D>
void copy_typed(const OpCall& c) {
  const TensorArg &a = c.in[0], &o = c.out[0];
  const int nd = o.ndim;
  const int64_t n = numel(o);
  if (n == 0) return;
  if (nd >= 2 && a.strides[nd - 1] != 1 && a.strides[nd - 2] == 1 && o.strides[nd - 1] == 1 && o.shape[nd - 1] > 1 &&
      o.shape[nd - 2] > 1) {
    const int64_t R = o.shape[nd - 2], L = o.shape[nd - 1];
    int64_t batches = 1;
    for (int d = 0; d + 2 < nd; ++d) batches *= o.shape[d];
    Walk<2> wb;
    wb.ndim = nd - 2;
    for (int d = 0; d < kMaxDims; ++d) {
      const bool in = d < nd - 2;
      wb.shape[d] = in ? o.shape[d] : 1;
      wb.strides[0][d] = in ? a.strides[d] : 0;
      wb.strides[1][d] = in ? o.strides[d] : 0;
    }
    const auto tiles = [](int64_t v) { return (unsigned)std::min<int64_t>((v + kTile - 1) / kTile, 65535); };
    const dim3 grid(tiles(L), tiles(R), (unsigned)std::min<int64_t>(batches, 65535));
    launch("copy", k_copy_transpose<S, D>, grid, dim3(kTile, kTileRows), sizeof(D) * kTile * (kTile + 1),
           stream_of(c), (D*)o.data, (const S*)a.data, wb, batches, R, L, a.strides[nd - 1], o.strides[nd - 2]);
    return;
  }
  const TensorArg* ins[1] = {&a};
  run<true, D>(c, G1<D, S, Cast<D, S>>{(const S*)a.data, Cast<D, S>{}}, ins, o);
}
template <typename S>
void copy_from(const OpCall& c) {
  switch (c.out[0].dtype) {
    case DT_F32: return copy_typed<S, float>(c);
    case DT_F64: return copy_typed<S, double>(c);
    case DT_I32: return copy_typed<S, int32_t>(c);
    case DT_U8: return copy_typed<S, uint8_t>(c);
    default: fail(ERR_DTYPE, "copy", "no kernel for this output dtype");
  }
}
void copy_kernel(const OpCall& c) {
  switch (c.in[0].dtype) {
    case DT_F32: return copy_from<float>(c);
    case DT_F64: return copy_from<double>(c);
    case DT_I32: return copy_from<int32_t>(c);
    case DT_U8: return copy_from<uint8_t>(c);
    default: fail(ERR_DTYPE, "copy", "no kernel for this input dtype");
  }
}

template <typename T>
void fill_kernel(const OpCall& c) {
  run<true, T>(c, GConst<T>{(T)c.fp[0]}, nullptr, c.out[0]);
}

template <typename T>
void where_kernel(const OpCall& c) {
  const TensorArg* ins[3] = {&c.in[0], &c.in[1], &c.in[2]};
  run<false, T>(c, GWhere<T>{(const uint8_t*)c.in[0].data, (const T*)c.in[1].data, (const T*)c.in[2].data}, ins,
                c.out[0]);
}

void binary_f32(const OpCall& c) { binary_float<float>(c); }
void binary_f64(const OpCall& c) { binary_float<double>(c); }
void binary_i32(const OpCall& c) { binary_int<int32_t>(c); }
void binary_u8(const OpCall& c) { binary_int<uint8_t>(c); }
void binary_param_f32(const OpCall& c) { binary_param<float>(c); }
void binary_param_f64(const OpCall& c) { binary_param<double>(c); }
void unary_f32(const OpCall& c) { unary_float<float>(c); }
void unary_f64(const OpCall& c) { unary_float<double>(c); }
}  // namespace

void register_elementwise() {
  for (int dt : {DT_F32, DT_F64, DT_I32, DT_U8}) kernel_register(OP_copy, DEV_CUDA, dt, copy_kernel);
  kernel_register(OP_fill, DEV_CUDA, DT_F32, fill_kernel<float>);
  kernel_register(OP_fill, DEV_CUDA, DT_F64, fill_kernel<double>);
  kernel_register(OP_fill, DEV_CUDA, DT_I32, fill_kernel<int32_t>);
  kernel_register(OP_fill, DEV_CUDA, DT_U8, fill_kernel<uint8_t>);
  kernel_register(OP_where, DEV_CUDA, DT_F32, where_kernel<float>);
  kernel_register(OP_where, DEV_CUDA, DT_F64, where_kernel<double>);
  kernel_register(OP_where, DEV_CUDA, DT_I32, where_kernel<int32_t>);
  kernel_register(OP_where, DEV_CUDA, DT_U8, where_kernel<uint8_t>);
  for (int op : {OP_add, OP_sub, OP_mul, OP_div, OP_pow, OP_minimum, OP_maximum, OP_eq, OP_ne, OP_lt, OP_le, OP_gt,
                 OP_ge, OP_relu_bwd, OP_sigmoid_bwd, OP_tanh_bwd, OP_silu_bwd, OP_gelu_bwd, OP_softplus_bwd}) {
    kernel_register(op, DEV_CUDA, DT_F32, binary_f32);
    kernel_register(op, DEV_CUDA, DT_F64, binary_f64);
  }
  for (int op : {OP_add, OP_sub, OP_mul, OP_minimum, OP_maximum, OP_eq, OP_ne, OP_lt, OP_le, OP_gt, OP_ge}) {
    kernel_register(op, DEV_CUDA, DT_I32, binary_i32);
    kernel_register(op, DEV_CUDA, DT_U8, binary_u8);
  }
  for (int op : {OP_leaky_relu_bwd, OP_elu_bwd}) {
    kernel_register(op, DEV_CUDA, DT_F32, binary_param_f32);
    kernel_register(op, DEV_CUDA, DT_F64, binary_param_f64);
  }
  for (int op : {OP_neg, OP_abs, OP_exp, OP_log, OP_sqrt, OP_rsqrt, OP_relu, OP_leaky_relu, OP_elu, OP_gelu, OP_silu,
                 OP_sigmoid, OP_tanh, OP_softplus, OP_clamp, OP_pow_scalar, OP_sign}) {
    kernel_register(op, DEV_CUDA, DT_F32, unary_f32);
    kernel_register(op, DEV_CUDA, DT_F64, unary_f64);
  }
  for (int op : {OP_neg, OP_abs, OP_sign, OP_relu, OP_clamp}) kernel_register(op, DEV_CUDA, DT_I32, unary_i32);
}

}  // namespace cuda
}  // namespace tensile
