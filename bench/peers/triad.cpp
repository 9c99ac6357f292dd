// STREAM-like triad a[i] = b[i] + s*c[i] with OpenMP: the machine's attainable memory bandwidth, measured in the
// same run as the benchmarks it anchors. Prints the median GB/s of `reps` passes after two warm-up passes (24 bytes
// moved per element: 2 reads, 1 write; the same estimator as the Node side's medians). Its arrays are 2 MiB-aligned
// and backed by transparent huge pages where the kernel has them, as tensile's large blocks are.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <sys/mman.h>
static float* huge_array(long n, float v) {
  const size_t H = size_t(2) << 20, sz = (n * sizeof(float) + H - 1) / H * H;
  char* p = (char*)mmap(nullptr, sz + H, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) exit(1);
  float* a = (float*)(((uintptr_t)p + H - 1) & ~(uintptr_t)(H - 1));
  madvise(a, sz, MADV_HUGEPAGE);
  for (long i = 0; i < n; ++i) a[i] = v;
  return a;
}
int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 40000000;
  const int reps = argc > 2 ? atoi(argv[2]) : 9;
  float *a = huge_array(n, 0.0f), *b = huge_array(n, 1.0f), *c = huge_array(n, 2.0f);
  std::vector<double> t;
  for (int r = 0; r < reps + 2; ++r) {
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) a[i] = b[i] + 3.0f * c[i];
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 1) t.push_back(dt);
  }
  std::sort(t.begin(), t.end());
  printf("%.2f\n", 24.0 * n / t[t.size() / 2] / 1e9 + 0 * a[n / 2]);
  return 0;
}
