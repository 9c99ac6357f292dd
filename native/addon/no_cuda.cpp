// The CUDA backend's entry points in a build without it (TENSILE_CUDA=OFF, or no nvcc found): it says so.
#ifndef TENSILE_HAS_CUDA
#include "../cuda/api.h"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {

const Status& status() {
  static const Status s = [] {
    Status st;
    st.reason = "this build of tensile has no CUDA backend (it was built without nvcc, or with TENSILE_CUDA=OFF)";
    return st;
  }();
  return s;
}
void init_backend() {}
Properties properties(int ordinal) {
  throw Error{ERR_DEVICE, "getDeviceProperties: expected a CUDA device, got cuda:" + std::to_string(ordinal) + ": " + status().reason};
}
MemoryStats memory(int) { return MemoryStats{}; }
void reset_peak(int) {}
void set_memory_limit(int, int64_t) {}
LibraryStatus cublas_status() {
  LibraryStatus l;
  l.reason = status().reason;
  return l;
}
LibraryStatus cudnn_status() { return cublas_status(); }
void set_allow_tf32(bool) {}
void set_benchmark(bool) {}
void set_deterministic(bool) {}
std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> library_paths(bool) { return {}; }

}  // namespace cuda
}  // namespace tensile
#endif
