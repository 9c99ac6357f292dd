// cuBLAS at run time: our own declarations of the few entry points tensile calls (no vendor header: the values
// are those of cublas_api.h and library_types.h of cuBLAS 12.6 and 13.0, which agree; cuBLASLt's, which
// ../shared/docs/cuda-libraries.md does not list, are those of cublasLt.h, checked against NVIDIA's nvmath-python
// reference of cublasLtMatmulDescAttributes_t, cublasLtMatrixLayoutAttribute_t, cublasLtMatmulPreferenceAttributes_t
// and cublasLtEpilogue_t), the loader (cublas.cu) and the two calls gemm.cu makes: the GEMM, and the GEMM with its
// bias/ReLU epilogue fused by cuBLASLt.
//
// Loading (first use, or cuda.status()): TENSILE_CUBLAS=0 turns cuBLAS off. TENSILE_CUBLAS_LIBRARY names the main
// library (libcublas.so.N) by its full path; libcublasLt.so.N is loaded first from the same folder when it is
// there (libcublas needs it), and no other place is searched. Otherwise libcublasLt.so.13 + libcublas.so.13, then
// the .so.12 pair, in each folder of libs::search_dirs("cublas"). A library whose major version is not this
// build's CUDA major is refused (and the search goes on); a missing symbol disables cuBLAS with a message.
// cuBLASLt's matmul (the fused epilogue) is used when every cuBLASLt entry point tensile calls is in the
// libcublasLt loaded beside libcublas; when one is missing, or TENSILE_CUBLASLT=0, only that path is off: cuBLAS
// stays in use and cuda.status().cublas.reason says why the epilogue runs as our kernel ("" when nothing is off).
#pragma once
#include <cstdint>
#include "../common.cuh"

namespace tensile {
namespace cuda {
namespace blas {

// cublasOperation_t
constexpr int kOpN = 0, kOpT = 1;
// cudaDataType (library_types.h)
constexpr int kR32F = 0, kR64F = 1;
// cublasComputeType_t
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77, kCompute64F = 70;
// cublasGemmAlgo_t
constexpr int kGemmDefault = -1;
// cublasStatus_t
constexpr int kSuccess = 0, kInvalidValue = 7, kNotSupported = 15;
// cublasLtEpilogue_t
constexpr unsigned kEpilogueRelu = 2, kEpilogueBias = 4, kEpilogueReluBias = 6;

// One strided-batched GEMM in cuBLAS's column-major terms: C = op(A) op(B), C m x n (ldc), op(A) m x k, op(B) k x n,
// batch `batch` with element strides sA, sB, sC between the matrices.
struct Gemm {
  int transa, transb, m, n, k;
  const void* A;
  int lda;
  long long sA;
  const void* B;
  int ldb;
  long long sB;
  void* C;
  int ldc;
  long long sC;
  int batch;
  int dtype;  // DT_F32 or DT_F64
};

// Runs g on the op's stream through cuBLAS (host alpha = 1, beta = 0) and returns the path's name for the profile
// ("cuBLAS gemm f32", "... tf32"); returns nullptr when cuBLAS is not there or reports NOT_SUPPORTED /
// INVALID_VALUE (the caller then runs its own kernel). Other failures throw tensile::Error{ERR_DEVICE}.
const char* gemm(const OpCall& c, const Gemm& g);

// g (batch count, strides and transposes as for gemm()) through cublasLtMatmul with the epilogue fused: bias (m
// elements, one per row of the column-major C, so one per column of the row-major product; may be null) added,
// then ReLU when `relu`. The algorithm comes from cublasLtMatmulAlgoGetHeuristic (the workspace our allocator
// gives, the operands' alignment), asked once per shape and cached; the path's name ("cuBLASLt matmul f32,
// epilogue RELU_BIAS") or nullptr when cuBLASLt is not there, reports no algorithm, or NOT_SUPPORTED /
// INVALID_VALUE (that shape then stays off the Lt path; the caller runs gemm() and its own epilogue kernel).
// Other failures throw tensile::Error{ERR_DEVICE}.
const char* gemm_epilogue(const OpCall& c, const Gemm& g, const void* bias, bool relu);

// Whether cuBLAS is loaded (probes on the first call).
bool available();

}  // namespace blas
}  // namespace cuda
}  // namespace tensile
