// matmul on the GPU: the tiled engine of gemm_tiles.cuh (shared-memory tiles, 8x8 register blocking for f32 and
// 4x4 for f64, vector loads where aligned, split-K with an ordered reduction for small outputs over a long K).
// Semantics of native/cpu/gemm.cpp's matmul_kernel: in[0] A [B,M,K] and in[1] B [B,K,N] are 3-D views with any
// strides (lib/ops/matmul.ts folds the batch dims; a batch stride of 0 broadcasts), optional in[2] bias [N]
// (contiguous), out[0] C [B,M,N] contiguous; ip[0] = relu. C = A B (+ bias per column), then ReLU.
// With cuBLAS loaded (native/cuda/cublas/), the product goes through cublasGemmStridedBatchedEx when both operands
// are expressible as column-major matrices (one unit stride per matrix, the other stride a valid leading
// dimension): row-major C = A B is column-major C^T = B^T A^T, so cuBLAS's first operand is B and its m is N. A
// bias and/or ReLU go through cublasLtMatmul with the epilogue fused (BIAS, RELU or RELU_BIAS; the bias, one per
// column of our C, is one per row of cuBLAS's m x n result) when cuBLASLt is there and its heuristic has an
// algorithm for the shape; otherwise cuBLAS's GEMM runs and then our own epilogue kernel over C. Any other layout,
// K = 0, sizes past int, and a NOT_SUPPORTED from cuBLAS run the tiled engine.
#include "common.cuh"
#include "../core/runtime.h"
#include "gemm_tiles.cuh"
#include "cublas/cublas.h"
#include "cublas/dl.h"
#include <climits>

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

// c[i] = relu?(c[i] + bias[i % N]) over the n elements of C (after a GEMM of cuBLAS's).
template <typename T>
__global__ void epilogue_kernel(T* c, const T* bias, int64_t n, int64_t N, int relu) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T x = c[i];
    if (bias) x += bias[i % N];
    if (relu) x = x > T(0) ? x : T(0);
    c[i] = x;
  }
}

// A matrix of r x c with element (i, j) at i*sr + j*sc as a column-major operand op(X): op N when the rows are unit
// stride (ld = sc), op T when the columns are (ld = sr). false when neither holds (or ld would be invalid).
bool as_operand(int64_t r, int64_t cc, int64_t sr, int64_t sc, int* trans, int* ld) {
  const int64_t rr = r > 1 ? r : 1, cm = cc > 1 ? cc : 1;
  if (sr == 1 || r == 1) {
    const int64_t l = cc == 1 ? rr : sc;
    if (l >= rr && l <= INT_MAX) {
      *trans = blas::kOpN;
      *ld = (int)l;
      return true;
    }
  }
  if (sc == 1 || cc == 1) {
    const int64_t l = r == 1 ? cm : sr;
    if (l >= cm && l <= INT_MAX) {
      *trans = blas::kOpT;
      *ld = (int)l;
      return true;
    }
  }
  return false;
}

// The product through cuBLAS; false when it cannot take it (the caller runs ours).
template <typename T>
bool matmul_cublas(const OpCall& c, int64_t Bn, int64_t M, int64_t N, int64_t K, const T* bias, bool relu) {
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  if (Bn <= 0 || M <= 0 || N <= 0 || K <= 0 || Bn > INT_MAX || M > INT_MAX || N > INT_MAX || K > INT_MAX) return false;
  if (!blas::available()) return false;
  blas::Gemm g;
  // cuBLAS's A: B^T as N x K (element (n, k) = B[k][n]); its B: A^T as K x M (element (k, m) = A[m][k])
  if (!as_operand(N, K, b.strides[2], b.strides[1], &g.transa, &g.lda)) return false;
  if (!as_operand(K, M, a.strides[2], a.strides[1], &g.transb, &g.ldb)) return false;
  g.m = (int)N;
  g.n = (int)M;
  g.k = (int)K;
  g.A = b.data;
  g.sA = Bn > 1 ? b.strides[0] : 0;
  g.B = a.data;
  g.sB = Bn > 1 ? a.strides[0] : 0;
  g.C = o.data;
  g.ldc = (int)N;
  g.sC = M * N;
  g.batch = (int)Bn;
  g.dtype = sizeof(T) == 8 ? DT_F64 : DT_F32;
  if (bias || relu) {
    const char* lt = blas::gemm_epilogue(c, g, bias, relu);
    if (lt) {
      libs::note(c.op, lt);
      return true;
    }
  }
  const char* path = blas::gemm(c, g);
  if (!path) return false;
  if (bias || relu) {
    const int64_t n = Bn * M * N;
    launch("matmul_epilogue", epilogue_kernel<T>, blocks_for(n, 256), 256, 0, stream_of(c), (T*)o.data, bias, n, N,
           relu ? 1 : 0);
    libs::note(c.op, std::string(path) + " + our bias/ReLU epilogue");
  } else {
    libs::note(c.op, path);
  }
  return true;
}

template <typename T>
void matmul_kernel(const OpCall& c) {
  const TensorArg &a = c.in[0], &b = c.in[1], &o = c.out[0];
  const int64_t Bn = o.shape[0], M = o.shape[1], N = o.shape[2], K = a.shape[2];
  const T* bias = c.nin > 2 ? (const T*)c.in[2].data : nullptr;
  const bool relu = c.nip > 0 && c.ip[0] != 0;
  if (matmul_cublas<T>(c, Bn, M, N, K, bias, relu)) return;
  libs::note(c.op, "ours (tiled GEMM)");
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
