// matmul on the GPU: the tiled engine of gemm_tiles.cuh (shared-memory tiles, 8x8 register blocking for f32 and
// 4x4 for f64, vector loads where aligned, split-K with an ordered reduction for small outputs over a long K).
// Semantics of native/cpu/gemm.cpp's matmul_kernel: in[0] A [B,M,K] and in[1] B [B,K,N] are 3-D views with any
// strides (lib/ops/matmul.ts folds the batch dims; a batch stride of 0 broadcasts), optional in[2] bias [N]
// (contiguous), out[0] C [B,M,N] contiguous; ip[0] = relu. C = A B (+ bias per column), then ReLU.
#include "common.cuh"
#include "../core/runtime.h"
#include "gemm_tiles.cuh"

namespace tensile {
namespace cuda {
namespace {

// C[b*sb + m*ld + n] = relu?(v + bias[n]).
template <typename T>
struct RowStore {
  T* c;
  int64_t sb, ld;
  const T* bias;  // per column, or null
  int relu;
  template <int V>
  __device__ __forceinline__ void store(int64_t b, int64_t, int64_t m, int64_t n, const T* v, int cnt) const {
    T* q = c + b * sb + m * ld + n;
    T w[V];
#pragma unroll
    for (int e = 0; e < V; ++e) {
      if (e < cnt) {
        T x = v[e];
        if (bias) x += bias[n + e];
        if (relu) x = x > T(0) ? x : T(0);
        w[e] = x;
      }
    }
    if (cnt == V && gemm::aligned<T, V>(q)) {
      gemm::vstore<T, V>(q, w);
    } else {
#pragma unroll
      for (int e = 0; e < V; ++e)
        if (e < cnt) q[e] = w[e];
    }
  }
};

template <typename T>
void matmul_kernel(const OpCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  const int64_t Bn = o.shape[0], M = o.shape[1], N = o.shape[2], K = a.shape[2];
  const T* bias = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  const bool relu = c.nip > 0 && c.ip[0] != 0;
  // A as (outer m, red k); B as (outer n, red k)
  const gemm::Mat<T> A{(const T*)a.data, a.strides[0], a.strides[1], a.strides[2]};
  const gemm::Mat<T> B{(const T*)b.data, b.strides[0], b.strides[2], b.strides[1]};
  const RowStore<T> epi{(T*)o.data, M * N, N, bias, relu ? 1 : 0};
  gemm::run<T>(c, "matmul", A, B, epi, Bn, M, N, K);
}

void matmul_f32(const OpCall& c) { matmul_kernel<float>(c); }
void matmul_f64(const OpCall& c) { matmul_kernel<double>(c); }

}  // namespace

void register_gemm() {
  kernel_register(OP_matmul, DEV_CUDA, DT_F32, matmul_f32);
  kernel_register(OP_matmul, DEV_CUDA, DT_F64, matmul_f64);
}

}  // namespace cuda
}  // namespace tensile
