// The emulator's test program: each case runs in a child process (its own environment: devices, memory, driver,
// seed, fault injection) so that sticky errors and configuration stay per case. run.sh builds and runs it.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernels.h"
#include "../stream_abi.h"

namespace tensile {
namespace cuda {
struct LaunchError : std::runtime_error {
  cudaError_t code;
  LaunchError(cudaError_t e, const std::string& m) : std::runtime_error(m), code(e) {}
};
void throw_error(cudaError_t e, const char* op, const char* what) {
  throw LaunchError(e, std::string(op) + ": " + what + " failed: " + cudaGetErrorName(e) + " (" +
                           tensile_emu::last_message() + ")");
}
}  // namespace cuda
}  // namespace tensile
using tensile::cuda::LaunchError;

static int g_fail = 0;
#define CHECK(c)                                                           \
  do {                                                                     \
    if (!(c)) {                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      ++g_fail;                                                            \
    }                                                                      \
  } while (0)
#define CHECK_EQ(a, b)                                                                                     \
  do {                                                                                                     \
    const long long va_ = (long long)(a), vb_ = (long long)(b);                                            \
    if (va_ != vb_) {                                                                                      \
      fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b, va_, vb_); \
      ++g_fail;                                                                                            \
    }                                                                                                      \
  } while (0)
#define CK(e) CHECK_EQ((e), cudaSuccess)
static bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }
#define CHECK_MSG(sub)                                                                             \
  do {                                                                                             \
    std::string m_ = tensile_emu::last_message();                                                  \
    if (!has(m_, sub)) {                                                                           \
      fprintf(stderr, "%s:%d: message lacks '%s': %s\n", __FILE__, __LINE__, sub, m_.c_str());     \
      ++g_fail;                                                                                    \
    }                                                                                              \
  } while (0)

template <class T>
static T* dev_alloc(size_t n) {
  T* p = nullptr;
  CK(cudaMalloc(&p, n * sizeof(T)));
  return p;
}
template <class T>
static std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  CK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}
template <class T>
static T* to_dev(const std::vector<T>& h) {
  T* d = dev_alloc<T>(h.size());
  CK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

// ---- kernels only the emulator can run -------------------------------------------------------------------------
__global__ void throwing(int* out) {
  if (threadIdx.x == 2) throw std::runtime_error("boom from a kernel");
  out[threadIdx.x] = 1;
}
__global__ void empty_kernel();

// ---- cases ---------------------------------------------------------------------------------------------------
static void case_reduce() {
  const int n = 1000;
  const unsigned blocks = 3;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = (float)(i % 7 - 3);
  float* dx = to_dev(x);
  float* dp = dev_alloc<float>(blocks);
  k_block_sum(dx, dp, n, blocks, 0);
  std::vector<float> p = to_host(dp, blocks);
  for (unsigned b = 0; b < blocks; ++b) {
    float ref = 0;
    for (int i = b * 256; i < n; i += 256 * blocks)
      for (int j = i; j < i + 256 && j < n; ++j) ref += x[j];
    CHECK_EQ(p[b], ref);
  }
  // early return before a barrier: 300 elements, 128 threads a block (the last block has 44 live threads)
  const int m = 300;
  float* dy = dev_alloc<float>(m);
  k_early_return(dx, dy, m, 128, 0);
  std::vector<float> y = to_host(dy, m);
  for (int i = 0; i < m; ++i) {
    const int base = i / 128 * 128, active = std::min(128, m - base);
    CHECK_EQ(y[i], x[i] + x[base + (i - base + 1) % active]);
  }
  CK(cudaFree(dx));
  CK(cudaFree(dp));
  CK(cudaFree(dy));
}

static void case_gemm() {
  const int M = 37, N = 29, K = 23;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (auto& v : A) v = u(rng);
  for (auto& v : B) v = u(rng);
  float *dA = to_dev(A), *dB = to_dev(B), *dC = dev_alloc<float>(M * N);
  k_gemm(dA, dB, dC, M, N, K, 0);
  C = to_host(dC, M * N);
  int bad = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = 0;
      for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
      bad += C[i * N + j] != acc;  // same order, padded with exact zeros: equal without FMA contraction
    }
  CHECK_EQ(bad, 0);
  CK(cudaFree(dA));
  CK(cudaFree(dB));
  CK(cudaFree(dC));
}

static void case_dynshared() {
  const int n = 300;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = (float)i;
  float *dx = to_dev(x), *dy = dev_alloc<float>(n);
  k_reverse_dyn(dx, dy, n, 128, 0);
  std::vector<float> y = to_host(dy, n);
  for (int i = 0; i < n; ++i) {
    const int base = i / 128 * 128, m = std::min(128, n - base);
    CHECK_EQ(y[i], x[base + m - 1 - (i - base)]);
  }
  CK(cudaFree(dx));
  CK(cudaFree(dy));
}

static void case_warp() {
  const unsigned bx = 16, by = 6, nt = bx * by;  // three warps; lanes are x-fastest linear indices
  std::vector<int> x(nt);
  for (unsigned t = 0; t < nt; ++t) x[t] = (int)(t * 3 % 17);
  int* dx = to_dev(x);
  int* dout = dev_alloc<int>(nt * 12);
  k_warp(dx, dout, bx, by, 0);
  std::vector<int> o = to_host(dout, nt * 12);
  for (unsigned t = 0; t < nt; ++t) {
    const unsigned w = t / 32 * 32, lane = t % 32;
    int sum = 0, scan = 0, g8 = 0;
    unsigned bal = 0;
    bool any = false;
    for (unsigned j = 0; j < 32; ++j) {
      sum += x[w + j];
      if (j <= lane) scan += x[w + j];
      if (j / 8 == lane / 8) g8 += x[w + j];
      if (x[w + j] & 1) bal |= 1u << j;
      any |= x[w + j] > 100;
    }
    // shfl_down tree: lane 0 holds the whole sum; lane l sums lanes l.. with the tree's own pattern: check lane 0
    if (lane == 0) CHECK_EQ(o[t * 12 + 0], sum);
    CHECK_EQ(o[t * 12 + 1], sum);
    CHECK_EQ(o[t * 12 + 2], scan);
    CHECK_EQ(o[t * 12 + 3], x[w + 5]);
    CHECK_EQ((unsigned)o[t * 12 + 4], bal);
    CHECK_EQ(o[t * 12 + 5], any);
    CHECK_EQ(o[t * 12 + 6], 1);
    CHECK_EQ(o[t * 12 + 7], g8);
    CHECK_EQ(o[t * 12 + 8], lane < 31 ? x[t + 1] : x[t]);  // 64-bit value, own value past the warp's end
    CHECK_EQ(o[t * 12 + 9], x[t ^ 1]);
    CHECK_EQ(o[t * 12 + 10], (lane / 8) % 2 ? x[t - 8] : x[t]);
    CHECK_EQ(o[t * 12 + 11], lane < 14 ? x[t + 2] : lane < 16 ? x[t] : -1);
  }
  CK(cudaFree(dx));
  CK(cudaFree(dout));
}

static void case_syncops() {
  int* d = dev_alloc<int>(500);
  k_syncthreads_ops(d, 0);
  std::vector<int> o = to_host(d, 500);
  for (int t = 0; t < 100; ++t) {
    CHECK_EQ(o[t * 5 + 0], 34);
    CHECK_EQ(o[t * 5 + 1], 1);
    CHECK_EQ(o[t * 5 + 2], 0);
    CHECK_EQ(o[t * 5 + 3], 1);
    CHECK_EQ(o[t * 5 + 4], 0);
  }
  CK(cudaFree(d));
}

static void case_atomics() {
  const unsigned blocks = 200, n = blocks * 128;
  unsigned* c = dev_alloc<unsigned>(1);
  unsigned long long* tot = dev_alloc<unsigned long long>(1);
  int* mx = dev_alloc<int>(1);
  float* fs = dev_alloc<float>(1);
  CK(cudaMemset(c, 0, 4));
  CK(cudaMemset(tot, 0, 8));
  CK(cudaMemset(mx, 0, 4));
  CK(cudaMemset(fs, 0, 4));
  for (int rep = 0; rep < 3; ++rep) k_count(c, tot, mx, fs, blocks, 0);
  CHECK_EQ(to_host(c, 1)[0], 3ull * n);
  CHECK_EQ(to_host(tot, 1)[0], 3ull * ((unsigned long long)n * (n - 1) / 2));
  CHECK_EQ(to_host(mx, 1)[0], n - 1);
  CHECK_EQ(to_host(fs, 1)[0], 3.0f * n);
  CK(cudaFree(c));
  CK(cudaFree(tot));
  CK(cudaFree(mx));
  CK(cudaFree(fs));
}

static void set_flag(int* flag) { __atomic_store_n(flag, 1, __ATOMIC_SEQ_CST); }

static void case_streams() {
  const int n = 1000;
  cudaStream_t s1, s2, s3;
  CK(cudaStreamCreate(&s1));
  CK(cudaStreamCreate(&s2));
  CK(cudaStreamCreateWithFlags(&s3, cudaStreamNonBlocking));
  float* d = dev_alloc<float>(n);
  float* h = nullptr;
  CK(cudaMallocHost(&h, n * sizeof(float)));
  // in-order: memset, fill, three adds, async copy back
  cudaEvent_t e0, e1, en;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  CK(cudaEventCreateWithFlags(&en, cudaEventDisableTiming));
  CK(cudaEventRecord(e0, s1));
  CK(cudaMemsetAsync(d, 0, n * sizeof(float), s1));
  k_fill(d, 1.0f, n, s1);
  for (int i = 0; i < 3; ++i) k_add(d, 2.0f, n, s1);
  CK(cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, s1));
  CK(cudaEventRecord(e1, s1));
  CK(cudaEventRecord(en, s1));
  CK(cudaStreamSynchronize(s1));
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += h[i] != 7.0f;
  CHECK_EQ(bad, 0);
  CK(cudaEventQuery(e1));
  float ms = -1;
  CK(cudaEventElapsedTime(&ms, e0, e1));
  CHECK(ms >= 0);
  CHECK_EQ(cudaEventElapsedTime(&ms, e0, en), cudaErrorInvalidResourceHandle);
  CHECK_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);

  // asynchrony, and cudaStreamWaitEvent across streams: s1 blocks on a flag, s2 waits for s1's event
  int* flag = dev_alloc<int>(1);
  CK(cudaMemset(flag, 0, sizeof(int)));
  float* y = dev_alloc<float>(n);
  float* z = dev_alloc<float>(n);
  CK(cudaMemset(y, 0, n * sizeof(float)));
  CK(cudaMemset(z, 0, n * sizeof(float)));
  k_spin_then_fill(flag, y, 5.0f, n, s1);
  CK(cudaEventRecord(e0, s1));
  CHECK_EQ(cudaStreamQuery(s1), cudaErrorNotReady);
  CHECK_EQ(cudaEventQuery(e0), cudaErrorNotReady);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);  // NotReady is not an error
  CK(cudaStreamWaitEvent(s2, e0, 0));
  k_copy(y, z, n, s2);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK_EQ(cudaStreamQuery(s2), cudaErrorNotReady);
  CHECK_EQ(y[0], 0.0f);  // reading device memory without synchronising: the kernel has not run (a race, visible)
  CHECK_EQ(z[0], 0.0f);  // the copy waits for the event
  // the legacy stream waits for blocking streams: this cudaMemcpy returns only after the flag is set
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    set_flag(flag);
  });
  std::vector<float> yh(n);
  CK(cudaMemcpy(yh.data(), y, n * sizeof(float), cudaMemcpyDeviceToHost));
  setter.join();
  CHECK_EQ(yh[0], 5.0f);
  CHECK_EQ(yh[n - 1], 5.0f);
  CK(cudaStreamSynchronize(s2));
  std::vector<float> zh = to_host(z, n);
  bad = 0;
  for (int i = 0; i < n; ++i) bad += zh[i] != 5.0f;
  CHECK_EQ(bad, 0);

  // a non-blocking stream does not hold the legacy stream back
  CK(cudaMemset(flag, 0, sizeof(int)));
  k_spin_then_fill(flag, y, 6.0f, n, s3);
  float one = 0;
  CK(cudaMemcpy(&one, z, sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_EQ(cudaStreamQuery(s3), cudaErrorNotReady);
  set_flag(flag);
  CK(cudaStreamSynchronize(s3));
  CHECK_EQ(to_host(y, 1)[0], 6.0f);

  // destroying a stream with queued work: the work still completes
  CK(cudaMemset(flag, 0, sizeof(int)));
  k_spin_then_fill(flag, y, 8.0f, n, s2);
  CK(cudaStreamDestroy(s2));
  CHECK_EQ(cudaStreamSynchronize(s2), cudaErrorInvalidResourceHandle);
  set_flag(flag);
  CK(cudaDeviceSynchronize());
  CHECK_EQ(to_host(y, 1)[0], 8.0f);
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  CK(cudaEventDestroy(en));
  CK(cudaStreamDestroy(s1));
  CK(cudaStreamDestroy(s3));
  CK(cudaFreeHost(h));
  CK(cudaFree(d));
  CK(cudaFree(y));
  CK(cudaFree(z));
  CK(cudaFree(flag));
}

// cudaLaunchHostFunc and the stream table of stream_abi.h (what the test doubles call): host work runs after the
// kernels queued before it and before those queued after it; a null stream has no table; a faulted device drops it.
struct HostJob {
  float* d;
  int n;
  float seen = 0;  // d[n - 1] when the host function ran
};
static void host_job(void* p) {
  HostJob* j = (HostJob*)p;
  j->seen = j->d[j->n - 1];
  for (int i = 0; i < j->n; ++i) j->d[i] *= 10.0f;
}
static void case_hostfn() {
  const int n = 3000;
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  const tensile_emu_stream_abi* abi = tensile_emu_stream_abi_of(s);
  CHECK(abi != nullptr);
  CHECK(tensile_emu_stream_abi_of(nullptr) == nullptr);
  if (!abi) return;
  CHECK_EQ(abi->magic, TENSILE_EMU_STREAM_MAGIC);
  CHECK_EQ(abi->version, TENSILE_EMU_STREAM_VERSION);
  float* d = dev_alloc<float>(n);
  HostJob a{d, n}, b{d, n};
  k_fill(d, 1.0f, n, s);
  for (int i = 0; i < 4; ++i) k_add(d, 2.0f, n, s);  // 9
  CK(cudaLaunchHostFunc(s, host_job, &a));         // 90
  k_add(d, 1.0f, n, s);                            // 91
  CHECK_EQ(abi->launch_host(s, host_job, &b), 0);  // 910, through the table
  std::vector<float> h(n);
  CK(cudaMemcpyAsync(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  CK(cudaStreamSynchronize(s));
  CHECK(a.seen == 9.0f);
  CHECK(b.seen == 91.0f);
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += h[i] != 910.0f;
  CHECK_EQ(bad, 0);
  CHECK_EQ(cudaLaunchHostFunc(s, nullptr, nullptr), cudaErrorInvalidValue);
  CHECK_EQ(cudaLaunchHostFunc((cudaStream_t)&bad, host_job, &a), cudaErrorInvalidResourceHandle);
  CK(cudaFree(d));
  CK(cudaStreamDestroy(s));
}

static void case_multidevice() {
  int count = 0;
  CK(cudaGetDeviceCount(&count));
  CHECK_EQ(count, 2);
  const int n = 500;
  CK(cudaSetDevice(1));
  float* d1 = dev_alloc<float>(n);
  k_fill(d1, 3.0f, n, 0);
  cudaStream_t s1;
  CK(cudaStreamCreate(&s1));
  size_t fr = 0, tot = 0;
  CK(cudaMemGetInfo(&fr, &tot));
  CHECK_EQ(tot - fr, n * sizeof(float));
  int dev = -1;
  std::thread([&] { CK(cudaGetDevice(&dev)); }).join();
  CHECK_EQ(dev, 0);  // the current device is per OS thread
  CK(cudaSetDevice(0));
  CK(cudaMemGetInfo(&fr, &tot));
  CHECK_EQ(tot - fr, 0);
  float* d0 = dev_alloc<float>(n);
  CK(cudaMemcpyPeer(d0, 0, d1, 1, n * sizeof(float)));
  std::vector<float> h = to_host(d0, n);
  CHECK_EQ(h[0], 3.0f);
  CHECK_EQ(h[n - 1], 3.0f);
  CHECK_EQ(cudaMemcpyPeer(d0, 1, d1, 1, n * sizeof(float)), cudaErrorInvalidValue);
  int can = -1;
  CK(cudaDeviceCanAccessPeer(&can, 0, 1));
  CHECK_EQ(can, 1);
  CK(cudaDeviceCanAccessPeer(&can, 0, 0));
  CHECK_EQ(can, 0);
  CK(cudaDeviceEnablePeerAccess(1, 0));
  CHECK_EQ(cudaDeviceEnablePeerAccess(1, 0), cudaErrorPeerAccessAlreadyEnabled);
  CHECK_EQ(cudaGetLastError(), cudaErrorPeerAccessAlreadyEnabled);
  CHECK_EQ(cudaSetDevice(2), cudaErrorInvalidDevice);
  // a stream of device 1 while device 0 is current
  bool threw = false;
  try {
    k_fill(d0, 1.0f, n, s1);
  } catch (const LaunchError& e) {
    threw = e.code == cudaErrorInvalidResourceHandle;
  }
  CHECK(threw);
  // a kernel on device 1 reading device 0 memory (peer access), async peer copy on device 1's stream
  CK(cudaSetDevice(1));
  k_add(d0, 1.0f, n, s1);
  CK(cudaMemcpyPeerAsync(d1, 1, d0, 0, n * sizeof(float), s1));
  CK(cudaStreamSynchronize(s1));
  CHECK_EQ(to_host(d1, n)[n - 1], 4.0f);
  CK(cudaStreamDestroy(s1));
  CK(cudaFree(d1));
  CK(cudaFree(d0));
}

static void case_oom() {
  size_t fr = 0, tot = 0;
  CK(cudaMemGetInfo(&fr, &tot));
  CHECK_EQ(tot, 1 << 20);
  CHECK_EQ(fr, 1 << 20);
  void* p = nullptr;
  CHECK_EQ(cudaMalloc(&p, 2 << 20), cudaErrorMemoryAllocation);
  CHECK_MSG("out of memory");
  CHECK_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
  CHECK_EQ(cudaGetLastError(), cudaSuccess);
  void* a = nullptr;
  CK(cudaMalloc(&a, 600 << 10));
  CHECK_EQ((uintptr_t)a % 256, 0);
  CK(cudaMemGetInfo(&fr, &tot));
  CHECK_EQ(fr, (1 << 20) - (600 << 10));
  CHECK_EQ(cudaMalloc(&p, 600 << 10), cudaErrorMemoryAllocation);
  CK(cudaFree(a));
  CK(cudaMalloc(&a, 600 << 10));  // not sticky
  // pointer checks
  int local[4] = {0, 0, 0, 0};
  CHECK_EQ(cudaFree(local), cudaErrorInvalidValue);
  CHECK_EQ(cudaMemcpy(local, local + 1, 4, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  CHECK_EQ(cudaMemcpy(local, (char*)a + (600 << 10) - 4, 8, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  CK(cudaMemcpy(local, (char*)a + (600 << 10) - 8, 8, cudaMemcpyDeviceToHost));
  CHECK_EQ(cudaMemset(local, 0, 4), cudaErrorInvalidValue);
  CK(cudaFree(a));
  cudaGetLastError();
}

static void case_config() {
  bool threw = false;
  try {
    k_empty(1, 1025, 0);
  } catch (const LaunchError& e) {
    threw = e.code == cudaErrorInvalidConfiguration && has(e.what(), "empty_kernel");
  }
  CHECK(threw);
  CHECK_EQ(tensile_emu::launch("z65", empty_kernel, dim3(1), dim3(1, 1, 65), 0, nullptr), cudaErrorInvalidConfiguration);
  CHECK_MSG("z65");
  CHECK_EQ(tensile_emu::launch("gy", empty_kernel, dim3(1, 65536), dim3(32), 0, nullptr), cudaErrorInvalidConfiguration);
  CHECK_EQ(tensile_emu::launch("shm", empty_kernel, dim3(1), dim3(32), 49153, nullptr), cudaErrorInvalidConfiguration);
  CHECK_MSG("shared memory");
  CK(tensile_emu::launch("shm", empty_kernel, dim3(1), dim3(32), 49152, nullptr));
  CK(cudaFuncSetAttribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 100000));
  CK(tensile_emu::launch("shm", empty_kernel, dim3(1), dim3(32), 100000, nullptr));
  CHECK_EQ(cudaFuncSetAttribute(empty_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 300000), cudaErrorInvalidValue);
  CK(cudaDeviceSynchronize());  // launch errors are not sticky
  CK(tensile_emu::launch("ok", empty_kernel, dim3(2, 2, 2), dim3(8, 4, 2), 0, nullptr));
  CK(cudaDeviceSynchronize());
}

// Runs one faulting launch and checks the sticky error and its message; then resets and checks the device works.
static void expect_sticky(void (*go)(int*), cudaError_t code, std::vector<const char*> subs) {
  int* d = dev_alloc<int>(64);
  go(d);
  CHECK_EQ(cudaDeviceSynchronize(), code);
  for (const char* s : subs) CHECK_MSG(s);
  CHECK_EQ(cudaGetLastError(), code);
  CHECK_EQ(cudaGetLastError(), code);  // sticky: not cleared
  CHECK_EQ(cudaPeekAtLastError(), code);
  void* p = nullptr;
  CHECK_EQ(cudaMalloc(&p, 16), code);
  CHECK_EQ(cudaStreamSynchronize(0), code);
  bool threw = false;
  try {
    k_fill((float*)d, 1.0f, 16, 0);
  } catch (const LaunchError& e) {
    threw = e.code == code;
  }
  CHECK(threw);
  CK(cudaDeviceReset());
  CK(cudaGetLastError());
  case_reduce();  // fibers abandoned mid-kernel are rebuilt
  CK(cudaFree(d));
}
static void case_divergent() {
  expect_sticky([](int* d) { k_divergent(d, 0); }, cudaErrorLaunchFailure,
                {"kernel 'divergent' block (", "divergent __syncthreads", "kernels.cu:"});
}
static void case_deadlock() {
  expect_sticky([](int* d) { k_deadlock(d, 0); }, cudaErrorLaunchFailure,
                {"kernel 'deadlock' block (0,0,0)", "deadlock", "1 thread ((0,0,0)) wait at __syncthreads",
                 "31 threads (first (1,0,0)) wait at __shfl_sync(mask 0xffffffff)"});
}
static void case_exited() {
  expect_sticky([](int* d) { k_exited_lane(d, 0); }, cudaErrorLaunchFailure, {"exited_lane", "lane 31", "exited"});
}
static void case_trap() {
  expect_sticky([](int* d) { k_trap(d, 0); }, cudaErrorLaunchFailure, {"trap_kernel", "thread (3,0,0)", "__trap()"});
}
static void case_assert() {
  expect_sticky([](int* d) { k_assert(d, 5, 0); }, cudaErrorLaunchFailure,
                {"assert_kernel", "thread (7,0,0)", "assertion 'v + (int)threadIdx.x != 12' failed"});
  int* d = dev_alloc<int>(32);
  k_assert(d, 100, 0);
  CK(cudaDeviceSynchronize());
  CHECK_EQ(to_host(d, 32)[31], 100);
  CK(cudaFree(d));
}
static void case_exception() {
  expect_sticky([](int* d) { CK(tensile_emu::launch("throwing", throwing, dim3(1), dim3(8), 0, nullptr, d)); },
                cudaErrorLaunchFailure, {"throwing", "boom from a kernel", "thread (2,0,0)"});
}
static void case_fault_inject() {
  float* d = dev_alloc<float>(16);
  k_fill(d, 1.0f, 16, 0);  // TENSILE_EMU_FAULT=fill
  CHECK_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  CHECK_MSG("'fill'");
  CHECK_MSG("TENSILE_EMU_FAULT");
  CHECK_EQ(cudaGetLastError(), cudaErrorIllegalAddress);
  void* p;
  CHECK_EQ(cudaMalloc(&p, 16), cudaErrorIllegalAddress);
  CHECK_EQ(cudaMemcpy(&p, d, 8, cudaMemcpyDeviceToHost), cudaErrorIllegalAddress);
  CHECK(!strcmp(cudaGetErrorName(cudaErrorIllegalAddress), "cudaErrorIllegalAddress"));
}
static void case_driver_none() {
  int v = -1, c = -1;
  CK(cudaDriverGetVersion(&v));
  CHECK_EQ(v, 0);
  CK(cudaRuntimeGetVersion(&v));
  CHECK_EQ(v, 13000);
  CHECK_EQ(cudaGetDeviceCount(&c), cudaErrorInsufficientDriver);
  CHECK_EQ(c, 0);
  void* p;
  CHECK_EQ(cudaMalloc(&p, 16), cudaErrorInsufficientDriver);
  CHECK_EQ(cudaSetDevice(0), cudaErrorInsufficientDriver);
  cudaStream_t s;
  CHECK_EQ(cudaStreamCreate(&s), cudaErrorInsufficientDriver);
  CHECK_EQ(tensile_emu::launch("x", empty_kernel, dim3(1), dim3(1), 0, nullptr), cudaErrorInsufficientDriver);
  CHECK_EQ(cudaGetLastError(), cudaErrorInsufficientDriver);
}
static void case_driver_old() {
  int v = -1, c = -1;
  CK(cudaDriverGetVersion(&v));
  CHECK_EQ(v, 12040);
  CHECK_EQ(cudaGetDeviceCount(&c), cudaErrorInsufficientDriver);
  CHECK_MSG("older than the runtime");
}
static void case_nodevice() {
  int c = -1;
  CHECK_EQ(cudaGetDeviceCount(&c), cudaErrorNoDevice);
  CHECK_EQ(c, 0);
  void* p;
  CHECK_EQ(cudaMalloc(&p, 16), cudaErrorNoDevice);
}
static void case_props() {
  cudaDeviceProp p;
  CK(cudaGetDeviceProperties(&p, 0));
  CHECK(!strcmp(p.name, "tensile SIMT emulator"));
  CHECK_EQ(p.major, 9);
  CHECK_EQ(p.minor, 0);
  CHECK_EQ(p.multiProcessorCount, 3);  // TENSILE_EMU_THREADS=3
  CHECK_EQ(p.warpSize, 32);
  CHECK_EQ(p.totalGlobalMem, 64ull << 20);
  int v = 0;
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, 0));
  CHECK_EQ(v, 227 << 10);
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
  CHECK_EQ(v, 3);
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0));
  CHECK_EQ(v, 9);
  CHECK_EQ(cudaGetDeviceProperties(&p, 1), cudaErrorInvalidDevice);
  CHECK(!strcmp(cudaGetErrorName(cudaErrorMemoryAllocation), "cudaErrorMemoryAllocation"));
  CHECK(!strcmp(cudaGetErrorString(cudaErrorMemoryAllocation), "out of memory"));
  CHECK(!strcmp(cudaGetErrorName(cudaErrorInsufficientDriver), "cudaErrorInsufficientDriver"));
  CHECK_EQ(cudaErrorLaunchFailure, 719);
  CHECK_EQ(cudaErrorInvalidConfiguration, 9);
  CHECK_EQ(cudaMemcpyDefault, 4);
  dim3 d;
  CHECK_EQ(d.x * d.y * d.z, 1);
  // blocks of one grid spread over the pool's threads: a grid of many blocks finishes with exact results
  case_atomics();
}
static void case_seed() {
  int* d = dev_alloc<int>(64);
  k_missing_barrier(d, 64, 0);
  std::vector<int> o = to_host(d, 64);
  int wrong = 0;
  for (int v : o) wrong += v != 42;
  printf("wrong=%d order=", wrong);
  for (int v : o) printf("%d", v == 42);
  printf("\n");
  CK(cudaFree(d));
}

// At exit: queued work (a kernel that never finishes, more behind it), live streams, a host thread still
// launching, a static object whose destructor synchronises a stream with queued work. The process must exit
// promptly with status 0 (the worker running the endless kernel is not waited for).
struct AtExitUser {
  cudaStream_t s = nullptr;
  float* y = nullptr;
  ~AtExitUser() {
    if (cudaStreamSynchronize(s) == cudaSuccess) printf("at exit: synchronised, y[0] = %g\n", (double)y[0]);
    cudaStreamDestroy(s);
    cudaFree(y);
  }
};
static void case_shutdown() {
  int* flag = nullptr;
  CK(cudaMalloc(&flag, sizeof(int)));
  CK(cudaMemset(flag, 0, sizeof(int)));
  float* y = dev_alloc<float>(64);
  static AtExitUser user;
  CK(cudaStreamCreate(&user.s));
  user.y = dev_alloc<float>(64);
  CK(cudaMemset(user.y, 0, 64 * sizeof(float)));
  cudaStream_t s2;
  CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  k_spin_then_fill(flag, y, 1.0f, 64, s2);  // never ends
  for (int i = 0; i < 50; ++i) k_add(y, 1.0f, 64, s2);
  for (int i = 0; i < 20; ++i) k_add(user.y, 1.0f, 64, user.s);
  std::thread([] {
    cudaStream_t s;
    float* z = nullptr;
    if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess || cudaMalloc(&z, 256) != cudaSuccess) return;
    for (;;) {
      try {
        k_add(z, 1.0f, 64, s);
      } catch (...) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }).detach();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

static void case_bench() {
  using clk = std::chrono::steady_clock;
  const double sw = tensile_emu::detail::measure_switch_ns(200000);
  printf("fiber switch: %.1f ns\n", sw);
  k_empty(4, 256, 0);
  CK(cudaDeviceSynchronize());
  const unsigned blocks = 400;
  auto t0 = clk::now();
  k_empty(blocks, 256, 0);
  CK(cudaDeviceSynchronize());
  auto t1 = clk::now();
  int threads = 0;
  cudaDeviceGetAttribute(&threads, cudaDevAttrMultiProcessorCount, 0);
  printf("empty 256-thread block: %.1f us wall per block (%d worker threads), %.1f us per block per thread\n",
         std::chrono::duration<double, std::micro>(t1 - t0).count() / blocks, threads,
         std::chrono::duration<double, std::micro>(t1 - t0).count() * threads / blocks);
  const int M = 128, N = 128, K = 128;
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (int i = 0; i < M * K; ++i) A[i] = (float)(i % 13) * 0.25f;
  for (int i = 0; i < K * N; ++i) B[i] = (float)(i % 7) * 0.5f;
  float *dA = to_dev(A), *dB = to_dev(B), *dC = dev_alloc<float>(M * N);
  k_gemm(dA, dB, dC, M, N, K, 0);
  CK(cudaDeviceSynchronize());
  t0 = clk::now();
  const int reps = 3;
  for (int r = 0; r < reps; ++r) k_gemm(dA, dB, dC, M, N, K, 0);
  CK(cudaDeviceSynchronize());
  t1 = clk::now();
  volatile float sink = 0;
  auto t2 = clk::now();
  for (int r = 0; r < reps; ++r) {
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float acc = 0;
        for (int k = 0; k < K; ++k) acc += A[i * K + k] * B[k * N + j];
        C[i * N + j] = acc;
      }
    sink = sink + C[r];
  }
  auto t3 = clk::now();
  const double emu = std::chrono::duration<double, std::milli>(t1 - t0).count() / reps;
  const double ref = std::chrono::duration<double, std::milli>(t3 - t2).count() / reps;
  printf("gemm 128x128x128 (16x16 tiles): emulated %.2f ms, plain loop %.2f ms (%.0fx)\n", emu, ref, emu / ref);
  std::vector<float> got = to_host(dC, M * N);
  int bad = 0;
  for (int i = 0; i < M * N; ++i) bad += got[i] != C[i];
  CHECK_EQ(bad, 0);
  CK(cudaFree(dA));
  CK(cudaFree(dB));
  CK(cudaFree(dC));
}

// ---- the driver ------------------------------------------------------------------------------------------------
struct Case {
  const char* name;
  void (*fn)();
  std::vector<std::pair<const char*, const char*>> env;
};
static const std::vector<Case> kCases = {
    {"reduce", case_reduce, {}},
    {"gemm", case_gemm, {}},
    {"dynshared", case_dynshared, {}},
    {"warp", case_warp, {}},
    {"syncops", case_syncops, {}},
    {"atomics", case_atomics, {{"TENSILE_EMU_THREADS", "4"}}},
    {"streams", case_streams, {{"TENSILE_EMU_THREADS", "3"}}},
    {"hostfn", case_hostfn, {{"TENSILE_EMU_THREADS", "3"}}},
    {"multidevice", case_multidevice, {{"TENSILE_EMU_DEVICES", "2"}}},
    {"oom", case_oom, {{"TENSILE_EMU_MEMORY_MB", "1"}}},
    {"config", case_config, {}},
    {"divergent", case_divergent, {}},
    {"deadlock", case_deadlock, {}},
    {"exited", case_exited, {}},
    {"trap", case_trap, {}},
    {"assert", case_assert, {}},
    {"exception", case_exception, {}},
    {"fault_inject", case_fault_inject, {{"TENSILE_EMU_FAULT", "fill"}}},
    {"driver_none", case_driver_none, {{"TENSILE_EMU_DRIVER", "none"}}},
    {"driver_old", case_driver_old, {{"TENSILE_EMU_DRIVER", "12040"}}},
    {"nodevice", case_nodevice, {{"TENSILE_EMU_DEVICES", "0"}}},
    {"props", case_props, {{"TENSILE_EMU_THREADS", "3"}, {"TENSILE_EMU_MEMORY_MB", "64"}}},
    {"seed", case_seed, {}},
    {"shutdown", case_shutdown, {{"TENSILE_EMU_THREADS", "2"}}},
    {"bench", case_bench, {}},
};

static std::string g_self;

// Runs case name in a child with env; returns its exit status (-1: killed or timed out) and its stdout.
static int run_child(const char* name, const std::vector<std::pair<const char*, const char*>>& env,
                     std::string* out, int timeout_s = 120) {
  int fds[2];
  if (pipe(fds)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    for (auto& e : env) setenv(e.first, e.second, 1);
    alarm((unsigned)timeout_s);
    execl(g_self.c_str(), g_self.c_str(), "--case", name, (char*)nullptr);
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t k;
  while ((k = read(fds[0], buf, sizeof buf)) > 0) out->append(buf, (size_t)k);
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char** argv) {
  g_self = "/proc/self/exe";
  char path[4096];
  ssize_t k = readlink("/proc/self/exe", path, sizeof path - 1);
  if (k > 0) {
    path[k] = 0;
    g_self = path;
  }
  if (argc == 3 && !strcmp(argv[1], "--case")) {
    for (const Case& c : kCases)
      if (!strcmp(c.name, argv[2])) {
        c.fn();
        fflush(stdout);
        return g_fail ? 1 : 0;
      }
    fprintf(stderr, "unknown case %s\n", argv[2]);
    return 2;
  }
  const char* only = argc == 2 ? argv[1] : nullptr;
  int failed = 0;
  for (const Case& c : kCases) {
    if (only && strcmp(only, c.name)) continue;
    if (!strcmp(c.name, "seed")) {
      // seed 0 runs fibers in order (the missing barrier goes unnoticed); shuffled seeds expose it, differently
      // per seed, and the same seed reproduces its order.
      std::map<std::string, std::string> outs;
      bool ok = true;
      for (const char* seed : {"0", "1", "2", "3", "4", "5", "6", "7", "8"}) {
        std::string o;
        ok &= run_child("seed", {{"TENSILE_EMU_SEED", seed}}, &o) == 0;
        outs[seed] = o;
      }
      std::string again;
      ok &= run_child("seed", {{"TENSILE_EMU_SEED", "3"}}, &again) == 0;
      std::string dflt1, dflt2;
      ok &= run_child("seed", {}, &dflt1) == 0 && run_child("seed", {}, &dflt2) == 0;
      const bool in_order_ok = outs["0"].rfind("wrong=0 ", 0) == 0;
      int exposed = 0;
      std::map<std::string, int> distinct;
      for (auto& kv : outs)
        if (kv.first != "0") {
          exposed += kv.second.rfind("wrong=0 ", 0) != 0;
          distinct[kv.second]++;
        }
      const bool repro = again == outs["3"] && dflt1 == dflt2 && dflt1.rfind("wrong=0 ", 0) != 0;
      const bool pass = ok && in_order_ok && exposed > 0 && distinct.size() > 1 && repro;
      printf("%-13s %s (seed 0: %s; %d of 8 seeds expose the missing barrier, %zu distinct orders; default seed: %s)\n",
             c.name, pass ? "PASS" : "FAIL", in_order_ok ? "correct" : "WRONG", exposed, distinct.size(),
             dflt1.substr(0, dflt1.find(' ')).c_str());
      failed += !pass;
      continue;
    }
    std::string out;
    auto t0 = std::chrono::steady_clock::now();
    const int rc = run_child(c.name, c.env, &out, !strcmp(c.name, "shutdown") ? 20 : 300);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%-13s %s (%.2f s)\n", c.name, rc == 0 ? "PASS" : "FAIL", s);
    if (!out.empty()) printf("%s", out.c_str());
    failed += rc != 0;
  }
  printf(failed ? "%d case(s) FAILED\n" : "all cases passed\n", failed);
  return failed ? 1 : 0;
}
