// STREAM-like triad a[i] = b[i] + s*c[i] with OpenMP: the machine's attainable memory bandwidth, measured in the
// same run as the benchmarks it anchors. Prints GB/s (24 bytes moved per element: 2 reads, 1 write).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 40000000;
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  double best = 1e30;
  for (int r = 0; r < 12; ++r) {
    auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) a[i] = b[i] + 3.0f * c[i];
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 1 && dt < best) best = dt;
  }
  printf("%.2f\n", 24.0 * n / best / 1e9 + 0 * a[n / 2]);
  return 0;
}
