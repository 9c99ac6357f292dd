// Test kernels: compiled by run.sh with g++ -DTENSILE_EMU (the emulator) and with nvcc -arch=sm_90 (to keep the
// emulated dialect real CUDA). Launched only through tensile::cuda::launch, as the backend does.
#include "kernels.h"
#include <cassert>

using tensile::cuda::launch;

__global__ void block_sum(const float* __restrict__ x, float* __restrict__ partial, int n) {
  __shared__ float s[256];
  float v = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) v += x[i];
  s[threadIdx.x] = v;
  __syncthreads();
  for (unsigned h = blockDim.x / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}
void k_block_sum(const float* x, float* partial, int n, unsigned blocks, cudaStream_t s) {
  launch("block_sum", block_sum, dim3(blocks), dim3(256), 0, s, x, partial, n);
}

// Threads past n return before the barrier; the others still meet there.
__global__ void early_return(const float* x, float* y, int n) {
  __shared__ float s[1024];
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  s[threadIdx.x] = x[i];
  __syncthreads();
  const int active = min((int)blockDim.x, n - (int)(blockIdx.x * blockDim.x));
  y[i] = s[threadIdx.x] + s[(threadIdx.x + 1) % active];
}
void k_early_return(const float* x, float* y, int n, unsigned threads, cudaStream_t s) {
  launch("early_return", early_return, dim3((n + threads - 1) / threads), dim3(threads), 0, s, x, y, n);
}

constexpr int T = 16;
__global__ void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
  __shared__ float As[T][T];
  __shared__ float Bs[T][T];
  const int row = blockIdx.y * T + threadIdx.y, col = blockIdx.x * T + threadIdx.x;
  float acc = 0;
  for (int k0 = 0; k0 < K; k0 += T) {
    As[threadIdx.y][threadIdx.x] = (row < M && k0 + (int)threadIdx.x < K) ? A[row * K + k0 + threadIdx.x] : 0.0f;
    Bs[threadIdx.y][threadIdx.x] = (col < N && k0 + (int)threadIdx.y < K) ? B[(k0 + threadIdx.y) * N + col] : 0.0f;
    __syncthreads();
    for (int k = 0; k < T; ++k) acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}
void k_gemm(const float* A, const float* B, float* C, int M, int N, int K, cudaStream_t s) {
  launch("gemm", gemm, dim3((N + T - 1) / T, (M + T - 1) / T), dim3(T, T), 0, s, A, B, C, M, N, K);
}

__global__ void reverse_dyn(const float* x, float* y, int n) {
  TS_DYNAMIC_SHARED(float, buf);
  const int base = blockIdx.x * blockDim.x, i = base + threadIdx.x;
  const int m = min((int)blockDim.x, n - base);
  if (i < n) buf[threadIdx.x] = x[i];
  __syncthreads();
  if (i < n) y[i] = buf[m - 1 - threadIdx.x];
}
void k_reverse_dyn(const float* x, float* y, int n, unsigned threads, cudaStream_t s) {
  launch("reverse_dyn", reverse_dyn, dim3((n + threads - 1) / threads), dim3(threads), threads * sizeof(float), s,
         x, y, n);
}

// Per thread (linear index t = x + y * bx, lane t % 32): 0 warp sum by shfl_down, 1 by shfl_xor, 2 inclusive scan
// by shfl_up, 3 broadcast of lane 5 (shfl idx), 4 ballot of odd values, 5 any(v > 100), 6 all(v >= 0), 7 sum over
// groups of 8 lanes (width 8, xor), 8/9 64-bit values (long long, double), 10 xor 8 with width 8, 11 a
// half-warp __shfl_down_sync(0xffff, v, 2, 16) (-1 for lanes 16..31).
__global__ void warp_ops(const int* x, int* out) {
  const unsigned t = threadIdx.x + threadIdx.y * blockDim.x;
  const unsigned lane = t % 32;
  const int v = x[t];
  int d = v;
  for (int o = 16; o > 0; o /= 2) d += __shfl_down_sync(0xffffffffu, d, o);
  int xr = v;
  for (int o = 16; o > 0; o /= 2) xr += __shfl_xor_sync(0xffffffffu, xr, o);
  int sc = v;
  for (int o = 1; o < 32; o *= 2) {
    const int u = __shfl_up_sync(0xffffffffu, sc, o);
    if ((int)lane >= o) sc += u;
  }
  const int b5 = __shfl_sync(0xffffffffu, v, 5);
  const unsigned bal = __ballot_sync(0xffffffffu, v & 1);
  const int any = __any_sync(0xffffffffu, v > 100);
  const int all = __all_sync(0xffffffffu, v >= 0);
  int g8 = v;
  for (int o = 4; o > 0; o /= 2) g8 += __shfl_xor_sync(0xffffffffu, g8, o, 8);
  const long long big = ((long long)v << 33) + 7;
  const long long bigd = __shfl_down_sync(0xffffffffu, big, 1);
  const double dv = __shfl_xor_sync(0xffffffffu, (double)v * 0.5, 1);
  const int x8 = __shfl_xor_sync(0xffffffffu, v, 8, 8);  // later groups give the own value, earlier ones theirs
  int half = -1;
  if (lane < 16) half = __shfl_down_sync(0x0000ffffu, v, 2, 16);  // a half-warp round
  __syncwarp();
  int* o = out + t * 12;
  o[0] = d;
  o[1] = xr;
  o[2] = sc;
  o[3] = b5;
  o[4] = (int)bal;
  o[5] = any;
  o[6] = all;
  o[7] = g8;
  o[8] = (int)((bigd - 7) >> 33);
  o[9] = (int)(dv * 2.0);
  o[10] = x8;
  o[11] = half;
}
void k_warp(const int* x, int* out, unsigned bx, unsigned by, cudaStream_t s) {
  launch("warp_ops", warp_ops, dim3(1), dim3(bx, by), 0, s, x, out);
}

__global__ void count(unsigned* counter, unsigned long long* total, int* maxv, float* fsum) {
  const unsigned g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(counter, 1u);
  atomicAdd(total, (unsigned long long)g);
  atomicMax(maxv, (int)g);
  atomicAdd(fsum, 1.0f);
}
void k_count(unsigned* counter, unsigned long long* total, int* maxv, float* fsum, unsigned blocks, cudaStream_t s) {
  launch("count", count, dim3(blocks), dim3(128), 0, s, counter, total, maxv, fsum);
}

// Thread 0 publishes a value but the barrier after it is missing: whether the others see it depends on the order.
__global__ void missing_barrier(int* out) {
  __shared__ int s;
  if (threadIdx.x == 0) s = 0;
  __syncthreads();
  if (threadIdx.x == 0) s = 42;
  out[threadIdx.x] = s;
}
void k_missing_barrier(int* out, unsigned threads, cudaStream_t s) {
  launch("missing_barrier", missing_barrier, dim3(1), dim3(threads), 0, s, out);
}

__global__ void divergent(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}
void k_divergent(int* out, cudaStream_t s) { launch("divergent", divergent, dim3(2), dim3(64), 0, s, out); }

// Lane 0 waits at a barrier while lanes 1..31 wait for it in a full-warp shuffle.
__global__ void deadlock(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x == 0) {
    __syncthreads();
  } else {
    v = __shfl_sync(0xffffffffu, v, 0);
  }
  out[threadIdx.x] = v;
}
void k_deadlock(int* out, cudaStream_t s) { launch("deadlock", deadlock, dim3(1), dim3(32), 0, s, out); }

__global__ void exited_lane(int* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, (int)threadIdx.x, 1);
}
void k_exited_lane(int* out, cudaStream_t s) { launch("exited_lane", exited_lane, dim3(1), dim3(32), 0, s, out); }

__global__ void trap_kernel(int* out) {
  out[threadIdx.x] = 1;
  if (threadIdx.x == 3) __trap();
}
void k_trap(int* out, cudaStream_t s) { launch("trap_kernel", trap_kernel, dim3(1), dim3(32), 0, s, out); }

__global__ void assert_kernel(int* out, int v) {
  assert(v + (int)threadIdx.x != 12);
  out[threadIdx.x] = v;
}
void k_assert(int* out, int v, cudaStream_t s) { launch("assert_kernel", assert_kernel, dim3(1), dim3(32), 0, s, out, v); }

__global__ void fill(float* y, float v, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = v;
}
void k_fill(float* y, float v, int n, cudaStream_t s) {
  launch("fill", fill, dim3(tensile::cuda::blocks_for(n, 128, 8)), dim3(128), 0, s, y, v, n);
}
__global__ void add(float* y, float v, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] += v;
}
void k_add(float* y, float v, int n, cudaStream_t s) {
  launch("add", add, dim3(tensile::cuda::blocks_for(n, 128, 8)), dim3(128), 0, s, y, v, n);
}
__global__ void copy(const float* x, float* y, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) y[i] = x[i];
}
void k_copy(const float* x, float* y, int n, cudaStream_t s) {
  launch("copy", copy, dim3(tensile::cuda::blocks_for(n, 128, 8)), dim3(128), 0, s, x, y, n);
}
// One thread spins until *flag is set, then fills y.
__global__ void spin_then_fill(const volatile int* flag, float* y, float v, int n) {
  while (*flag == 0) {
  }
  for (int i = 0; i < n; ++i) y[i] = v;
}
void k_spin_then_fill(const volatile int* flag, float* y, float v, int n, cudaStream_t s) {
  launch("spin_then_fill", spin_then_fill, dim3(1), dim3(1), 0, s, flag, y, v, n);
}
__global__ void empty_kernel() {}
void k_empty(unsigned blocks, unsigned threads, cudaStream_t s) {
  launch("empty_kernel", empty_kernel, dim3(blocks), dim3(threads), 0, s);
}
__global__ void syncthreads_ops(int* out) {
  const int t = threadIdx.x;
  const int c = __syncthreads_count(t % 3 == 0);
  const int a = __syncthreads_and(t < 1000);
  const int a2 = __syncthreads_and(t != 50);
  const int o = __syncthreads_or(t == 99);
  const int o2 = __syncthreads_or(t > 1000);
  out[t * 5 + 0] = c;
  out[t * 5 + 1] = a;
  out[t * 5 + 2] = a2;
  out[t * 5 + 3] = o;
  out[t * 5 + 4] = o2;
}
void k_syncthreads_ops(int* out, cudaStream_t s) {
  launch("syncthreads_ops", syncthreads_ops, dim3(1), dim3(100), 0, s, out);
}
