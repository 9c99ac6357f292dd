// The machine's fp32 FMA peak with OpenMP (all threads): independent FMA chains wide enough to cover the latency.
// Built with -march=native as a probe of this machine (never shipped). Prints GFLOP/s.
#include <chrono>
#include <cstdio>
#include <immintrin.h>
#include <omp.h>
int main() {
  const long iters = 20000000;
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    double t0 = omp_get_wtime();
    float sink = 0;
#pragma omp parallel reduction(+ : sink)
    {
#ifdef __AVX512F__
      __m512 a[24], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
      for (int i = 0; i < 24; ++i) a[i] = _mm512_set1_ps((float)i);
      for (long k = 0; k < iters; ++k) {
#pragma GCC unroll 24
        for (int i = 0; i < 24; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
      }
      for (int i = 0; i < 24; ++i) sink += _mm512_reduce_add_ps(a[i]);
      const double lanes = 16;
#else
      __m256 a[16], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
      for (int i = 0; i < 16; ++i) a[i] = _mm256_set1_ps((float)i);
      for (long k = 0; k < iters; ++k)
        for (int i = 0; i < 16; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
      float tmp[8];
      for (int i = 0; i < 16; ++i) { _mm256_storeu_ps(tmp, a[i]); sink += tmp[0]; }
      const double lanes = 8;
#endif
      (void)lanes;
    }
    double dt = omp_get_wtime() - t0;
#ifdef __AVX512F__
    double flops = 2.0 * 16 * 24 * iters * omp_get_max_threads();
#else
    double flops = 2.0 * 8 * 16 * iters * omp_get_max_threads();
#endif
    if (flops / dt > best) best = flops / dt;
    if (sink == 12345.f) printf("#");
  }
  printf("%.1f\n", best / 1e9);
}
