// A test double of cuBLAS (libcublas.so.N; tests only, built with the emulated addon): the entry points tensile
// loads, with cuBLAS's documented semantics implemented plainly over host memory (the emulator's device memory),
// run in the order of the stream set by cublasSetStream_v2 (stream_abi.h). Column-major GEMM with transposes,
// leading dimensions, batch strides and batch counts; TF32 (computeType 32F_FAST_TF32) rounds the inputs to TF32's
// 10-bit mantissa, so that its use shows in the results too. Arguments are checked as cuBLAS checks them
// (INVALID_VALUE). Every call is logged (record.h).
// Build variants: -DTS_DOUBLE_MAJOR=12 reports cuBLAS 12.x; -DTS_DOUBLE_OMIT_GEMM leaves out
// cublasGemmStridedBatchedEx (a library without one of the symbols tensile needs).
#include <cmath>
#include <cstdint>
#include "gemm_ref.h"
#include "record.h"

#ifndef TS_DOUBLE_MAJOR
#define TS_DOUBLE_MAJOR 13
#endif

using namespace tensile_double;

namespace {

enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7, EXECUTION_FAILED = 13, NOT_SUPPORTED = 15 };

struct Ctx {
  void* stream = nullptr;
  void* ws = nullptr;
  size_t ws_bytes = 0;
  int math = 0;
};

#ifndef TS_DOUBLE_OMIT_GEMM
struct GemmJob {
  int ta, tb, m, n, k, lda, ldb, ldc, batch, type, compute;
  long long sa, sb, sc;
  const void* A;
  const void* B;
  void* C;
  double alpha, beta;
};

template <typename T>
void gemm_run(const GemmJob& j) {
  const T* A = (const T*)j.A;
  const T* B = (const T*)j.B;
  T* C = (T*)j.C;
  const bool round = j.compute == 77;
  for (int b = 0; b < j.batch; ++b)
    for (int col = 0; col < j.n; ++col)
      for (int row = 0; row < j.m; ++row) {
        const double acc = tensile_double::dot(A + b * j.sa, j.ta, j.lda, B + b * j.sb, j.tb, j.ldb, row, col, j.k, round);
        T* out = &C[b * j.sc + row + (long long)col * j.ldc];
        *out = (T)(j.alpha * acc + (j.beta != 0 ? j.beta * (double)*out : 0.0));
      }
}
void gemm_job(void* p) {
  GemmJob* j = (GemmJob*)p;
  if (j->type == 1)
    gemm_run<double>(*j);
  else
    gemm_run<float>(*j);
  delete j;
}
#endif

}  // namespace

TS_EXPORT int cublasGetProperty(int type, int* value) {
  if (!value) return INVALID_VALUE;
  const int v[3] = {TS_DOUBLE_MAJOR, 1, 0};
  if (type < 0 || type > 2) return INVALID_VALUE;
  *value = v[type];
  return SUCCESS;
}
TS_EXPORT int cublasGetVersion_v2(void*, int* version) {
  *version = TS_DOUBLE_MAJOR * 10000 + 100;
  return SUCCESS;
}
TS_EXPORT const char* cublasGetStatusString(int s) {
  switch (s) {
    case SUCCESS: return "the operation completed successfully";
    case NOT_INITIALIZED: return "the library was not initialized";
    case INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "an internal operation failed";
  }
}
TS_EXPORT const char* cublasGetStatusName(int s) {
  return s == SUCCESS ? "CUBLAS_STATUS_SUCCESS" : s == INVALID_VALUE ? "CUBLAS_STATUS_INVALID_VALUE"
                      : s == NOT_SUPPORTED ? "CUBLAS_STATUS_NOT_SUPPORTED" : "CUBLAS_STATUS_INTERNAL_ERROR";
}
TS_EXPORT int cublasCreate_v2(void** handle) {
  logf("cublasCreate_v2");
  if (!handle) return INVALID_VALUE;
  *handle = new Ctx;
  return SUCCESS;
}
TS_EXPORT int cublasDestroy_v2(void* handle) {
  logf("cublasDestroy_v2");
  delete (Ctx*)handle;
  return SUCCESS;
}
TS_EXPORT int cublasSetStream_v2(void* handle, void* stream) {
  if (!handle) return NOT_INITIALIZED;
  ((Ctx*)handle)->stream = stream;
  return SUCCESS;
}
TS_EXPORT int cublasGetStream_v2(void* handle, void** stream) {
  if (!handle) return NOT_INITIALIZED;
  *stream = ((Ctx*)handle)->stream;
  return SUCCESS;
}
TS_EXPORT int cublasSetWorkspace_v2(void* handle, void* ws, size_t bytes) {
  if (!handle) return NOT_INITIALIZED;
  logf("cublasSetWorkspace_v2 bytes=%zu null=%d", bytes, ws ? 0 : 1);
  if (bytes && !ws) return INVALID_VALUE;
  ((Ctx*)handle)->ws = ws;
  ((Ctx*)handle)->ws_bytes = bytes;
  return SUCCESS;
}
TS_EXPORT int cublasSetMathMode(void* handle, int mode) {
  if (!handle) return NOT_INITIALIZED;
  logf("cublasSetMathMode mode=%d", mode);
  ((Ctx*)handle)->math = mode;
  return SUCCESS;
}
TS_EXPORT int cublasGetMathMode(void* handle, int* mode) {
  if (!handle) return NOT_INITIALIZED;
  *mode = ((Ctx*)handle)->math;
  return SUCCESS;
}

#ifndef TS_DOUBLE_OMIT_GEMM
TS_EXPORT int cublasGemmStridedBatchedEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha,
                                         const void* A, int Atype, int lda, long long strideA, const void* B,
                                         int Btype, int ldb, long long strideB, const void* beta, void* C, int Ctype,
                                         int ldc, long long strideC, int batchCount, int computeType, int algo) {
  logf("cublasGemmStridedBatchedEx transa=%d transb=%d m=%d n=%d k=%d lda=%d strideA=%lld ldb=%d strideB=%lld "
       "ldc=%d strideC=%lld batch=%d type=%d computeType=%d algo=%d",
       transa, transb, m, n, k, lda, strideA, ldb, strideB, ldc, strideC, batchCount, Atype, computeType, algo);
  Ctx* h = (Ctx*)handle;
  if (!h) return NOT_INITIALIZED;
  if (fails("cublasGemmStridedBatchedEx")) {
    logf("cublasGemmStridedBatchedEx -> NOT_SUPPORTED");
    return NOT_SUPPORTED;
  }
  // cuBLAS's checks: sizes, transposes, leading dimensions (of the stored matrices), types
  const int arows = transa ? k : m, brows = transb ? n : k;
  if (m < 0 || n < 0 || k < 0 || batchCount < 0 || (transa != 0 && transa != 1) || (transb != 0 && transb != 1) ||
      lda < (arows > 1 ? arows : 1) || ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1))
    return INVALID_VALUE;
  if (Atype != Btype || Atype != Ctype) return NOT_SUPPORTED;
  const bool f32 = Atype == 0 && (computeType == 68 || computeType == 77);
  const bool f64 = Atype == 1 && computeType == 70;
  if (!f32 && !f64) return NOT_SUPPORTED;
  if (!alpha || !beta) return INVALID_VALUE;
  GemmJob* j = new GemmJob{transa, transb, m, n, k, lda, ldb, ldc, batchCount, Atype, computeType,
                           strideA, strideB, strideC, A, B, C,
                           f64 ? *(const double*)alpha : *(const float*)alpha,
                           f64 ? *(const double*)beta : *(const float*)beta};
  if (!in_order(h->stream, gemm_job, j)) {
    logf("cublasGemmStridedBatchedEx refused: not an emulated stream");
    delete j;
    return EXECUTION_FAILED;
  }
  return SUCCESS;
}
#endif
