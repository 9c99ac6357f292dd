// Plain data shared by the core, the addon and every backend. Keep this header free of inline functions with
// external linkage and of STL types: CPU kernels are compiled once per instruction set, and any COMDAT code they
// share with another translation unit could be merged with the wrong instruction set's copy.
#pragma once
#include <cstddef>
#include <cstdint>

namespace tensile {

enum OpId : int {
#define TS_OP(name) OP_##name,
#include "ops.def"
#undef TS_OP
  OP_COUNT
};

enum DType : int { DT_F32 = 0, DT_F64 = 1, DT_I32 = 2, DT_U8 = 3, DT_COUNT };
// Kinds of device (the kernel table's index). A device id in records and storages is 0 for the CPU and 1 + N for
// cuda:N (kMaxDevices ids in all); its kind is DEV_CUDA for every id > 0.
enum Device : int { DEV_CPU = 0, DEV_CUDA = 1, DEV_COUNT };
constexpr int kMaxDevices = 17;
static inline int device_kind(int id) { return id > 0 ? DEV_CUDA : DEV_CPU; }

static inline size_t dtype_size(int dt) { return dt == DT_F64 ? 8 : dt == DT_U8 ? 1 : 4; }

constexpr int kMaxDims = 8;

// One tensor argument of an op: a pointer that already includes the view's offset, and the view's geometry in
// elements. Backends must not assume contiguity unless lib/ guarantees it for that op (documented per kernel).
struct TensorArg {
  void* data;
  int dtype;
  int ndim;
  int device;  // the storage's device id (0 cpu, 1 + N cuda:N): only copies between devices look at it
  int64_t shape[kMaxDims];
  int64_t strides[kMaxDims];
};

// Error kinds a kernel can raise; the addon maps them to the JS error classes of lib/errors.ts.
enum ErrKind : int { ERR_NATIVE = 0, ERR_SHAPE = 1, ERR_DTYPE = 2, ERR_INDEX = 3, ERR_DEVICE = 4, ERR_MEMORY = 5 };

// A validated op call. lib/ validated shapes and dtypes; kernels re-check only cheap invariants (by fail()).
struct OpCall {
  int op;
  int dtype;      // the op's compute dtype
  int nin, nout;  // counts of in[] and out[]
  const TensorArg* in;
  const TensorArg* out;  // outputs; for in-place ops (trailing '_') these alias the updated tensors
  int nip, nfp;
  const int64_t* ip;  // integer params, meaning fixed per op in lib/ops/*.ts
  const double* fp;   // float params
  int device;         // the op's device id (0 cpu, 1 + N cuda:N)
  void* stream;       // CUDA: the cudaStream_t the op's kernels go on (the calling stream's, for that device)
};

using KernelFn = void (*)(const OpCall&);

// Raise an error from a kernel: never returns (throws tensile::Error, caught by the stream). Defined in core.
[[noreturn]] void fail(int kind, const char* op, const char* msg);
const char* op_name(int op);

// Per-thread scratch memory, 64-byte aligned, grows on demand and is reused. slot separates simultaneous uses:
// 0-1 and 8-10 the GEMM (packed A, packed B, one B panel, one A panel, split-K partial sums; also 0 pooling's
// tables), 2-7 conv2d around its GEMM calls.
constexpr int kWorkspaceSlots = 11;
void* workspace(int slot, size_t bytes);

}  // namespace tensile
