// Fused optimizer steps on CUDA: adam_ and sgd_ as multi-tensor kernels. lib/ops/optim.ts passes up to 128
// parameters per call (grads in in[], params and their state in out[], all contiguous, of one dtype); the kernels
// take them in launches of up to kMaxTensors tensors whose pointers and sizes travel in the kernel's parameters
// (under the 4 KiB every architecture allows). Each block updates one chunk of kChunk elements of one tensor:
// 16-byte vector loads and stores when the tensor's arrays are 16-byte aligned, coalesced scalar ones otherwise.
// Formulas, operation order and precision (T) are the CPU's (native/cpu/optim.cpp); step-dependent scalars come from
// the host in fp[] as there.
#include "common.cuh"
#include "../core/runtime.h"
#include <cmath>

namespace tensile {
namespace cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr int64_t kChunk = 16384;  // elements per block (64 per thread)
constexpr int kMaxTensors = 64;

// D arrays per tensor: [0] the gradient (read only), [1..D-1] the parameter and its state (read and written)
template <int D>
struct TList {
  void* ptr[D][kMaxTensors];
  int64_t n[kMaxTensors];
  int64_t chunk0[kMaxTensors + 1];  // the launch's first chunk of each tensor; chunk0[count] = the grid's size
  uint64_t aligned;                 // bit t: every array of tensor t is 16-byte aligned
  int count;
};

template <typename T>
struct AdamP {
  T lr, b1, b2, eps, wd, step, inv_bc2s, decay;
  bool ams, decoupled, maximize;
};
template <typename T>
struct SgdP {
  T lr, mom, damp, wd;
  bool nesterov, first, maximize;
};

// a[0] = g, a[1] = p, a[2] = m, a[3] = v (, a[4] = vmax)
template <typename T, int D>
__device__ __forceinline__ void update(const AdamP<T>& P, T (&a)[D]) {
  T gi = P.maximize ? -a[0] : a[0];
  T pi = a[1];
  if (!P.decoupled) gi += P.wd * pi;
  else pi *= P.decay;
  const T mi = P.b1 * a[2] + (T(1) - P.b1) * gi;
  const T vi = P.b2 * a[3] + (T(1) - P.b2) * gi * gi;
  a[2] = mi;
  a[3] = vi;
  T vv = vi;
  if constexpr (D == 5) {
    vv = a[4] > vi ? a[4] : vi;
    a[4] = vv;
  }
  const T denom = (sizeof(T) == 4 ? (T)sqrtf((float)vv) : (T)sqrt((double)vv)) * P.inv_bc2s + P.eps;
  a[1] = pi - P.step * mi / denom;
}
// a[0] = g, a[1] = p (, a[2] = the momentum buffer)
template <typename T, int D>
__device__ __forceinline__ void update(const SgdP<T>& P, T (&a)[D]) {
  T gi = P.maximize ? -a[0] : a[0];
  gi += P.wd * a[1];
  if constexpr (D == 3) {
    const T b = P.first ? gi : P.mom * a[2] + (T(1) - P.damp) * gi;
    a[2] = b;
    gi = P.nesterov ? gi + P.mom * b : b;
  }
  a[1] -= P.lr * gi;
}

template <typename T>
struct alignas(16) Vec16 {
  static constexpr int N = 16 / sizeof(T);
  T v[N];
};

template <typename T, int D, class Params>
__global__ void __launch_bounds__(kThreads) multi_tensor_kernel(TList<D> L, Params P) {
  // the tensor of this block's chunk (binary search over chunk0)
  const int64_t b = blockIdx.x;
  int lo = 0, hi = L.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (L.chunk0[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  const int t = lo;
  const int64_t n = L.n[t], start = (b - L.chunk0[t]) * kChunk, end = start + kChunk < n ? start + kChunk : n;
  T* p[D];
#pragma unroll
  for (int d = 0; d < D; ++d) p[d] = (T*)L.ptr[d][t];
  constexpr int V = Vec16<T>::N;
  int64_t i0 = start;
  if ((L.aligned >> t) & 1) {
    const int64_t nv = (end - start) / V;  // whole vectors (start is a multiple of V)
    for (int64_t k = threadIdx.x; k < nv; k += blockDim.x) {
      const int64_t i = start + k * V;
      Vec16<T> r[D];
#pragma unroll
      for (int d = 0; d < D; ++d) r[d] = *reinterpret_cast<const Vec16<T>*>(p[d] + i);
#pragma unroll
      for (int e = 0; e < V; ++e) {
        T a[D];
#pragma unroll
        for (int d = 0; d < D; ++d) a[d] = r[d].v[e];
        update(P, a);
#pragma unroll
        for (int d = 1; d < D; ++d) r[d].v[e] = a[d];
      }
#pragma unroll
      for (int d = 1; d < D; ++d) *reinterpret_cast<Vec16<T>*>(p[d] + i) = r[d];
    }
    i0 = start + nv * V;
  }
  for (int64_t i = i0 + threadIdx.x; i < end; i += blockDim.x) {
    T a[D];
#pragma unroll
    for (int d = 0; d < D; ++d) a[d] = p[d][i];
    update(P, a);
#pragma unroll
    for (int d = 1; d < D; ++d) p[d][i] = a[d];
  }
}

// Launches the kernel over P tensors, array d of tensor t being arr(d, t), in groups of kMaxTensors tensors.
template <typename T, int D, class Params, class Arr>
void run_lists(const OpCall& c, const char* name, int64_t P, Arr arr, const Params& prm) {
  TList<D> L;
  L.count = 0;
  L.aligned = 0;
  int64_t chunks = 0;
  auto flush = [&] {
    if (L.count == 0) return;
    L.chunk0[L.count] = chunks;
    launch(name, multi_tensor_kernel<T, D, Params>, dim3((unsigned)chunks), kThreads, 0, stream_of(c), L, prm);
    L.count = 0;
    L.aligned = 0;
    chunks = 0;
  };
  for (int64_t t = 0; t < P; ++t) {
    const int64_t n = numel(c.out[t]);
    if (n == 0) continue;
    const int64_t nc = (n + kChunk - 1) / kChunk;
    if (L.count == kMaxTensors || chunks + nc > 0x7fffffffLL) flush();
    const int k = L.count++;
    bool al = true;
    for (int d = 0; d < D; ++d) {
      L.ptr[d][k] = arr(d, t);
      al = al && (reinterpret_cast<uintptr_t>(L.ptr[d][k]) & 15) == 0;
    }
    L.n[k] = n;
    L.chunk0[k] = chunks;
    if (al) L.aligned |= 1ull << k;
    chunks += nc;
  }
  flush();
}

// adam_: in grads[P]; out params[P], m[P], v[P] (+ vmax[P] with amsgrad).
// ip [P, amsgrad, decoupled (AdamW), maximize]; fp [lr, beta1, beta2, eps, weight_decay, step_size = lr/bc1, sqrt(bc2)].
template <typename T>
void adam(const OpCall& c) {
  const int64_t P = c.ip[0];
  AdamP<T> prm;
  prm.ams = c.ip[1] != 0;
  prm.decoupled = c.ip[2] != 0;
  prm.maximize = c.ip[3] != 0;
  prm.lr = (T)c.fp[0]; prm.b1 = (T)c.fp[1]; prm.b2 = (T)c.fp[2]; prm.eps = (T)c.fp[3]; prm.wd = (T)c.fp[4];
  prm.step = (T)c.fp[5];
  prm.inv_bc2s = (T)(1.0 / c.fp[6]);
  prm.decay = prm.decoupled ? T(1) - prm.lr * prm.wd : T(1);
  auto arr = [&](int d, int64_t t) -> void* { return d == 0 ? c.in[t].data : c.out[(d - 1) * P + t].data; };
  if (prm.ams) run_lists<T, 5>(c, "adam_", P, arr, prm);
  else run_lists<T, 4>(c, "adam_", P, arr, prm);
}

// sgd_: in grads[P]; out params[P] (+ momentum buffers[P] when momentum != 0).
// ip [P, nesterov, first_step, maximize]; fp [lr, momentum, dampening, weight_decay].
template <typename T>
void sgd(const OpCall& c) {
  const int64_t P = c.ip[0];
  SgdP<T> prm;
  prm.nesterov = c.ip[1] != 0;
  prm.first = c.ip[2] != 0;
  prm.maximize = c.ip[3] != 0;
  prm.lr = (T)c.fp[0]; prm.mom = (T)c.fp[1]; prm.damp = (T)c.fp[2]; prm.wd = (T)c.fp[3];
  auto arr = [&](int d, int64_t t) -> void* { return d == 0 ? c.in[t].data : c.out[(d - 1) * P + t].data; };
  if (prm.mom != T(0)) run_lists<T, 3>(c, "sgd_", P, arr, prm);
  else run_lists<T, 2>(c, "sgd_", P, arr, prm);
}

}  // namespace

void register_optim() {
  kernel_register(OP_adam_, DEV_CUDA, DT_F32, adam<float>);
  kernel_register(OP_adam_, DEV_CUDA, DT_F64, adam<double>);
  kernel_register(OP_sgd_, DEV_CUDA, DT_F32, sgd<float>);
  kernel_register(OP_sgd_, DEV_CUDA, DT_F64, sgd<double>);
}

}  // namespace cuda
}  // namespace tensile
