// Fills the op table's CUDA column: one call per kernel file of native/cuda (each registers the same (op, dtype)
// pairs as its CPU counterpart). device.cu then wraps `copy` for copies between devices.
#include "common.cuh"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {

void register_kernels() {
}

}  // namespace cuda
}  // namespace tensile
