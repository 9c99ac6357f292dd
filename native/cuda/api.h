// The CUDA backend as the addon sees it: plain C++ (no CUDA types), so native/addon compiles the same with or
// without the backend. Defined in native/cuda/device.cu; a build without CUDA uses native/addon/no_cuda.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tensile {
namespace cuda {

struct Status {
  bool built = false;     // this binary has the CUDA backend
  bool emulated = false;  // ... compiled for the SIMT emulator (tests only)
  int runtime_version = 0, driver_version = 0;  // CUDA's encoding: 1000 * major + 10 * minor; 0 unknown / none
  int devices = 0;        // usable devices (after CUDA_VISIBLE_DEVICES)
  std::string reason;     // why none is usable ("" when devices > 0)
};
// Probes the driver once (later calls return the first answer): a few milliseconds without a driver.
const Status& status();
// Registers the device factory and the kernels in the op table (once, when status() finds devices).
void init_backend();

struct Properties {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, warp_size = 0, max_threads_per_block = 0;
  int64_t total_memory = 0, shared_memory_per_block = 0, l2_cache = 0;
};
Properties properties(int ordinal);  // throws tensile::Error{ERR_DEVICE} for an ordinal out of range

struct MemoryStats {
  int64_t allocated = 0, reserved = 0, peak = 0, allocations = 0, limit = 0, total = 0, free = 0;
};
MemoryStats memory(int ordinal);
void reset_peak(int ordinal);
// bytes > 0: the most the caching allocator may reserve on the device (0: no limit but the device's memory)
void set_memory_limit(int ordinal, int64_t bytes);

// cuBLAS and cuDNN, loaded at run time when present (native/cuda/cublas/, native/cuda/cudnn/): what the search
// found. Probed once, at the first call of these or the first op that could use the library.
struct LibraryStatus {
  bool found = false;
  int version = 0;                 // as the library reports it (cuBLAS: major*10000 + minor*100 + patch; cuDNN:
                                   // cudnnGetVersion()); 0 when not found
  std::string path;                // the main library loaded ("" when none)
  std::string reason;              // "" when found, else why not
  std::vector<std::string> tried;  // every path attempted, in order
};
LibraryStatus cublas_status();
LibraryStatus cudnn_status();
// The switches of cuda.setAllowTF32 / setBenchmark / setDeterministic (process-wide; off by default).
void set_allow_tf32(bool on);
void set_benchmark(bool on);
void set_deterministic(bool on);
// Which path each op took ("ours", "cuBLAS ...", "cuDNN ... algo N"), counted since start-up (or the last reset):
// (op, path, calls). Recorded only once this was called (or with TENSILE_PROFILE set, which prints it at exit).
std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> library_paths(bool reset);

}  // namespace cuda
}  // namespace tensile
