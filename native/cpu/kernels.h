// The kernels each instruction-set build of native/cpu provides, and its registration entry point.
#pragma once
#include "isa.h"

TS_CPU_BEGIN
void register_kernels();

// GEMM, row-major, general strides: C[M,N] = alpha * A[M,K] B[K,N] + beta * C (+ bias, ReLU). bias_mode: 0 none,
// 1 one value per row of C, 2 one per column. parallel=false when the caller already runs one per thread.
void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
           int64_t csB, float* C, int64_t ldc, float alpha, float beta, const float* bias, int bias_mode, bool relu,
           bool parallel);
void dgemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsA, int64_t csA, const double* B, int64_t rsB,
           int64_t csB, double* C, int64_t ldc, double alpha, double beta, const double* bias, int bias_mode, bool relu,
           bool parallel);
TS_CPU_END
