// Fills the op table's CUDA column: one call per kernel file of native/cuda (each registers the same (op, dtype)
// pairs as its CPU counterpart). device.cu then wraps `copy` for copies between devices.
#include "common.cuh"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {

void register_elementwise();
void register_index();
void register_reduce();
void register_norm();
void register_pool2d();
void register_random();
void register_optim();
void register_gemm();
void register_conv2d();
void register_attention();
void register_topk();

void register_kernels() {
  register_elementwise();
  register_index();
  register_reduce();
  register_norm();
  register_pool2d();
  register_random();
  register_optim();
  register_gemm();
  register_conv2d();
  register_attention();
  register_topk();
}

}  // namespace cuda
}  // namespace tensile
