// How much of the caches' contents outlives a pause on this machine: a dependent pointer chase over `kb` KiB (one
// pointer per 64-byte line, in a random cyclic order, so the prefetchers cannot help), timed back to back (the
// lines are in L1/L2) and right after the program slept `idle_ms`, or spun that long on a clock read (which touches
// nothing else). Prints one JSON line of medians in microseconds, over `samples` alternations (like
// bench/latency.js). A ratio far above 1 after a pause the program itself did not use the memory in means the
// lines were evicted meanwhile (by the hypervisor, other tenants, or the core's idle states): every request that
// comes after such a pause starts with cold caches, whatever software serves it.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>
using clk = std::chrono::steady_clock;
static double us_since(clk::time_point t0) { return std::chrono::duration<double, std::micro>(clk::now() - t0).count(); }
static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
int main(int argc, char** argv) {
  const size_t kb = argc > 1 ? atol(argv[1]) : 32;
  const int idle_ms = argc > 2 ? atoi(argv[2]) : 30;
  const int samples = argc > 3 ? atoi(argv[3]) : 41;
  const size_t n = kb * 1024 / 64;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(1));
  void** lines = static_cast<void**>(std::aligned_alloc(64, n * 64));
  for (size_t i = 0; i < n; ++i) lines[order[i] * 8] = &lines[order[(i + 1) % n] * 8];
  void** p = lines;
  auto chase = [&] {
    const auto t0 = clk::now();
    for (size_t i = 0; i < n; ++i) p = static_cast<void**>(*p);
    return us_since(t0);
  };
  std::vector<double> warm, slept, spun;
  for (int s = 0; s < samples; ++s) {
    for (int r = 0; r < 3; ++r) warm.push_back(chase());
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    slept.push_back(chase());
    const auto until = clk::now() + std::chrono::milliseconds(idle_ms);
    while (clk::now() < until) {
    }
    spun.push_back(chase());
  }
  std::printf("{\"kb\":%zu,\"idleMs\":%d,\"warmUs\":%.2f,\"sleptUs\":%.2f,\"spunUs\":%.2f,\"end\":%d}\n", kb, idle_ms, median(warm),
              median(slept), median(spun), p == nullptr);
  return 0;
}
