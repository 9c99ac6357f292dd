// Host launchers of the test kernels (kernels.cu compiles with nvcc and with g++ -DTENSILE_EMU).
#pragma once
#include "../../cuda/common.cuh"

void k_block_sum(const float* x, float* partial, int n, unsigned blocks, cudaStream_t s);  // 256 threads
void k_early_return(const float* x, float* y, int n, unsigned threads, cudaStream_t s);
void k_gemm(const float* A, const float* B, float* C, int M, int N, int K, cudaStream_t s);  // 16x16 tiles
void k_reverse_dyn(const float* x, float* y, int n, unsigned threads, cudaStream_t s);  // per block, dynamic shmem
void k_warp(const int* x, int* out, unsigned bx, unsigned by, cudaStream_t s);  // 12 outputs per thread
void k_count(unsigned* counter, unsigned long long* total, int* maxv, float* fsum, unsigned blocks, cudaStream_t s);
void k_missing_barrier(int* out, unsigned threads, cudaStream_t s);
void k_divergent(int* out, cudaStream_t s);
void k_deadlock(int* out, cudaStream_t s);
void k_exited_lane(int* out, cudaStream_t s);
void k_trap(int* out, cudaStream_t s);
void k_assert(int* out, int v, cudaStream_t s);
void k_fill(float* y, float v, int n, cudaStream_t s);
void k_add(float* y, float v, int n, cudaStream_t s);
void k_copy(const float* x, float* y, int n, cudaStream_t s);
void k_spin_then_fill(const volatile int* flag, float* y, float v, int n, cudaStream_t s);
void k_empty(unsigned blocks, unsigned threads, cudaStream_t s);
void k_syncthreads_ops(int* out, cudaStream_t s);  // count/and/or, 100 threads
