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

}  // namespace cuda
}  // namespace tensile
