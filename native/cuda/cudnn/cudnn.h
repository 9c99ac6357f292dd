// cuDNN at run time: our own declarations of the legacy-API entry points tensile calls (no vendor header; the
// values are those of cudnn_ops.h / cudnn_cnn.h of cuDNN 8.2, 9.6 and 9.13, which agree on everything used here
// except the status codes, told apart by the loaded library's major version), the loader (cudnn.cu) and the calls
// conv2d.cu makes.
//
// Loading (first use, or cuda.status()): TENSILE_CUDNN=0 turns cuDNN off. TENSILE_CUDNN_LIBRARY names the main
// library (libcudnn.so.N) by its full path, and its sub-libraries are loaded from the same folder; no other place
// is searched. Otherwise libcudnn.so.9, then libcudnn.so.8, in each folder of libs::search_dirs("cudnn"). cuDNN 9's
// sub-libraries (libcudnn_graph, _ops, _cnn .so.9) and cuDNN 8's (libcudnn_{ops,cnn}_{infer,train}.so.8) are all
// loaded before first use from the main library's folder: cuDNN 9's shim would abort the process at first use if
// one were missing, so a missing one disables cuDNN with a message instead. A cuDNN whose cudnnGetCudartVersion()
// is of another CUDA major than this build's runtime is refused, as is a missing symbol.
//
// Algorithms: per (direction, shapes, dtype, groups, padding, stride, dilation, the switches) one query, cached:
// cudnnGet*Algorithm_v7 (heuristics), or with cuda.setBenchmark(true) cudnnFind*Algorithm (runs and times them).
// The first algorithm of the list that succeeded, is deterministic when cuda.setDeterministic(true), and whose
// workspace (cudnnGet*WorkspaceSize) our caching allocator can give is chosen; none: our own kernels, for that
// shape. float32 runs with CUDNN_FMA_MATH (no TF32) unless cuda.setAllowTF32(true).
#pragma once
#include <cstdint>
#include <string>
#include "../common.cuh"

namespace tensile {
namespace cuda {
namespace dnn {

enum Dir { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

// One convolution, NCHW contiguous: x [N,C,H,W], w [K,C/groups,kh,kw], y [N,K,OH,OW].
//   forward:         out = y,  inputs x, w
//   backward data:   out = dx (x's shape), inputs dy (y's shape), w
//   backward filter: out = dw (w's shape), inputs x, dy
struct Conv {
  int dir;
  int dtype;  // DT_F32 or DT_F64
  int64_t x[4], w[4], y[4];
  int pad[2], stride[2], dil[2], groups;
  const void* xp;  // x (forward, backward filter)
  const void* wp;  // w (forward, backward data)
  const void* yp;  // dy (backward data, backward filter)
  void* out;
};
// Runs v on the op's stream through cuDNN and returns the path's name for the profile ("cuDNN forward algo 1
// (IMPLICIT_PRECOMP_GEMM)"); "" when cuDNN is not there, or reports NOT_SUPPORTED / BAD_PARAM, or no algorithm fits
// (the caller then runs its own kernels). Other failures throw tensile::Error{ERR_DEVICE}.
std::string conv(const OpCall& c, const Conv& v);

bool available();

}  // namespace dnn
}  // namespace cuda
}  // namespace tensile
