// The cuBLAS loader, its handles (one per CUDA stream, bound to it before each call, with a workspace from our
// caching allocator), the GEMM call of cublas.h, and cuBLASLt's matmul with the fused epilogue (its descriptors,
// the heuristic's algorithm cached per shape).
#include "cublas.h"
#include <dlfcn.h>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include "dl.h"
#include "../../core/runtime.h"

namespace tensile {
namespace cuda {
namespace blas {

namespace {

typedef void* Handle;  // struct cublasContext*
struct Api {
  int (*create)(Handle*);
  int (*set_stream)(Handle, cudaStream_t);
  int (*set_workspace)(Handle, void*, size_t);
  int (*get_property)(int, int*);
  int (*gemm_ex)(Handle, int, int, int, int, int, const void*, const void*, int, int, long long, const void*, int,
                 int, long long, const void*, void*, int, int, long long, int, int, int);
  const char* (*status_string)(int);
};
const char* const kNames[] = {"cublasCreate_v2",        "cublasSetStream_v2",         "cublasSetWorkspace_v2",
                              "cublasGetProperty",      "cublasGemmStridedBatchedEx", "cublasGetStatusString"};
constexpr int kNameCount = sizeof(kNames) / sizeof(kNames[0]);
static_assert(sizeof(Api) == kNameCount * sizeof(void*), "one slot per name");

// cuBLASLt (cublasLt.h). Descriptors are opaque pointers; all enums are 4-byte ints.
typedef void* LtHandle;  // struct cublasLtContext*
struct LtAlgo {          // cublasLtMatmulAlgo_t
  uint64_t data[8];
};
struct LtHeuristic {  // cublasLtMatmulHeuristicResult_t
  LtAlgo algo;
  size_t workspaceSize;
  int state;
  float wavesCount;
  int reserved[4];
};
static_assert(sizeof(LtAlgo) == 64 && sizeof(LtHeuristic) == 96, "cublasLt.h's layouts");
struct LtApi {
  int (*create)(LtHandle*);
  int (*desc_create)(void**, int, int);  // (desc, cublasComputeType_t, scale cudaDataType)
  int (*desc_destroy)(void*);
  int (*desc_set)(void*, int, const void*, size_t);
  int (*layout_create)(void**, int, uint64_t, uint64_t, int64_t);  // (layout, cudaDataType, rows, cols, ld)
  int (*layout_destroy)(void*);
  int (*layout_set)(void*, int, const void*, size_t);
  int (*pref_create)(void**);
  int (*pref_destroy)(void*);
  int (*pref_set)(void*, int, const void*, size_t);
  // (handle, desc, Adesc, Bdesc, Cdesc, Ddesc, pref, requested, results[], &returned)
  int (*heuristic)(LtHandle, void*, void*, void*, void*, void*, void*, int, LtHeuristic*, int*);
  // (handle, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace, bytes, stream)
  int (*matmul)(LtHandle, void*, const void*, const void*, void*, const void*, void*, const void*, const void*, void*,
                void*, void*, const LtAlgo*, void*, size_t, cudaStream_t);
};
const char* const kLtNames[] = {
    "cublasLtCreate",           "cublasLtMatmulDescCreate",       "cublasLtMatmulDescDestroy",
    "cublasLtMatmulDescSetAttribute", "cublasLtMatrixLayoutCreate", "cublasLtMatrixLayoutDestroy",
    "cublasLtMatrixLayoutSetAttribute", "cublasLtMatmulPreferenceCreate", "cublasLtMatmulPreferenceDestroy",
    "cublasLtMatmulPreferenceSetAttribute", "cublasLtMatmulAlgoGetHeuristic", "cublasLtMatmul"};
constexpr int kLtNameCount = sizeof(kLtNames) / sizeof(kLtNames[0]);
static_assert(sizeof(LtApi) == kLtNameCount * sizeof(void*), "one slot per name");
// cublasLtMatmulDescAttributes_t: TRANSA, TRANSB (int32_t), EPILOGUE (uint32_t), BIAS_POINTER (const void*)
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8;
// cublasLtMatrixLayoutAttribute_t: BATCH_COUNT (int32_t), STRIDED_BATCH_OFFSET (int64_t, elements)
constexpr int kLayoutBatchCount = 5, kLayoutBatchStride = 6;
// cublasLtMatmulPreferenceAttributes_t: MAX_WORKSPACE_BYTES (uint64_t), MIN_ALIGNMENT_A_BYTES .. _D_BYTES (uint32_t)
constexpr int kPrefMaxWorkspace = 1, kPrefMinAlignmentA = 5;

struct Lib {
  LibraryStatus st;
  Api api{};
  LtApi lt{};
  bool lt_ok = false;
};

// After libcublas was accepted: the cuBLASLt entry points from lt_h (the libcublasLt loaded before it, or null), or
// why the Lt path is off (into st.reason; cuBLAS itself stays in use).
void load_lt(Lib& L, void* lt_h, const std::string& lt_path, const std::string& lt_err) {
  std::string why;
  if (libs::disabled("TENSILE_CUBLASLT")) {
    why = "disabled by TENSILE_CUBLASLT=0";
  } else {
    if (!lt_h && !lt_path.empty()) {  // the copy libcublas itself pulled in, if any
      const size_t s = lt_path.rfind('/');
      lt_h = dlopen((s == std::string::npos ? lt_path : lt_path.substr(s + 1)).c_str(), RTLD_NOW | RTLD_NOLOAD);
    }
    if (!lt_h) {
      why = "libcublasLt not loaded (" + (lt_err.empty() ? std::string("no path") : lt_err) + ")";
    } else {
      const std::string missing = libs::resolve(lt_h, kLtNames, reinterpret_cast<void**>(&L.lt), kLtNameCount);
      if (!missing.empty()) why = "missing symbol " + missing + " in " + libs::path_of(lt_h);
    }
  }
  L.lt_ok = why.empty();
  if (!L.lt_ok)
    L.st.reason = "cuBLASLt's fused epilogue not used: " + why +
                  "; matmul's bias/ReLU run as tensile's kernel after the cuBLAS GEMM";
}

// Loads the Lt + main pair at (lt, main) into L; "" when accepted, else why not (the search goes on).
std::string try_pair(Lib& L, const std::string& lt, const std::string& main, bool lt_optional) {
  std::string err, lt_err;
  void* lt_h = nullptr;
  if (!lt.empty()) {
    lt_h = libs::open(lt, L.st.tried, &lt_err);
    if (!lt_h && !lt_optional) return lt_err;
  }
  void* h = libs::open(main, L.st.tried, &err);
  if (!h) return err;
  const std::string path = libs::path_of(h);
  const std::string missing = libs::resolve(h, kNames, reinterpret_cast<void**>(&L.api), kNameCount);
  if (!missing.empty()) return "missing symbol " + missing + " in " + path;
  int v[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) L.api.get_property(i, &v[i]);  // MAJOR_VERSION, MINOR_VERSION, PATCH_LEVEL
  const std::string ver = std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
  if (v[0] != libs::runtime_major())
    return "cuBLAS " + ver + " at " + path + " is built for CUDA " + std::to_string(v[0]) +
           ", this build of tensile uses the CUDA " + std::to_string(libs::runtime_major()) +
           " runtime (install libcublas.so." + std::to_string(libs::runtime_major()) + ")";
  L.st.found = true;
  L.st.version = v[0] * 10000 + v[1] * 100 + v[2];
  L.st.path = path;
  load_lt(L, lt_h, lt, lt_err);
  return "";
}

Lib* load() {
  Lib* L = new Lib;
  if (libs::disabled("TENSILE_CUBLAS")) {
    L->st.reason = "disabled by TENSILE_CUBLAS=0";
    return L;
  }
  const char* ex = std::getenv("TENSILE_CUBLAS_LIBRARY");
  if (ex && *ex) {
    const std::string main = ex, dir = libs::dir_of(main);
    const size_t dot = main.rfind(".so.");
    std::string lt;
    if (dot != std::string::npos) lt = (dir.empty() ? "" : dir + "/") + "libcublasLt" + main.substr(dot);
    const std::string why = try_pair(*L, lt, main, true);
    if (!why.empty()) L->st.reason = "TENSILE_CUBLAS_LIBRARY=" + main + ": " + why;
    return L;
  }
  std::string refused;
  for (const char* major : {"13", "12"})
    for (const std::string& d : libs::search_dirs("cublas")) {
      const std::string pre = d.empty() ? "" : d + "/";
      const std::string why = try_pair(*L, pre + "libcublasLt.so." + major, pre + "libcublas.so." + major, false);
      if (why.empty()) return L;
      if (why.rfind("missing symbol", 0) == 0 || why.rfind("cuBLAS ", 0) == 0) {
        if (refused.empty()) refused = why;
      }
    }
  L->st.reason = !refused.empty() ? refused
                                  : std::string("cuBLAS not found (libcublasLt.so.13/.12 and libcublas.so.13/.12 in "
                                                "the loader's path, the CUDA toolkit and Python's nvidia/ wheels); "
                                                "set TENSILE_CUBLAS_LIBRARY to the full path of libcublas.so.N");
  return L;
}

Lib& lib() {
  static Lib* L = load();
  return *L;
}

// One handle per CUDA stream (handles are not to be shared between host threads; a stream is used by one tensile
// stream's thread at a time). Never destroyed: the process's end takes them, as PyTorch's handle pool does.
std::mutex g_mu;
std::map<cudaStream_t, Handle> g_handles;

Handle handle_for(const OpCall& c, const Api& api) {
  const cudaStream_t s = stream_of(c);
  Handle h = nullptr;
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto it = g_handles.find(s);
    if (it != g_handles.end()) h = it->second;
  }
  if (!h) {
    const int st = api.create(&h);
    if (st != kSuccess)
      throw Error{ERR_DEVICE, std::string(op_name(c.op)) + ": cublasCreate failed: " + api.status_string(st)};
    std::lock_guard<std::mutex> g(g_mu);
    g_handles[s] = h;
  }
  return h;
}

// cuBLAS's workspace from our caching allocator (slot 7 of the op's stream; set before each call, since the slot's
// block may have been replaced by another op since): PyTorch's sizes, 32 MiB from compute capability 9.0, 4 MiB
// before.
size_t workspace_bytes(const OpCall& c) {
  static std::atomic<int> major[kMaxDevices] = {};
  const int ord = c.device - 1;
  if (ord < 0 || ord >= kMaxDevices) return size_t(4) << 20;
  if (major[ord].load() == 0) {
    int m = 0;
    cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, ord);
    cudaGetLastError();
    major[ord].store(m > 0 ? m : 1);
  }
  return size_t(major[ord].load() >= 9 ? 32 : 4) << 20;
}

// ---------------------------------------------------------------- cuBLASLt
// One cuBLASLt handle per CUDA stream too (the stream itself goes with each cublasLtMatmul), never destroyed.
std::map<cudaStream_t, LtHandle> g_lt_handles;

LtHandle lt_handle_for(const OpCall& c, const LtApi& api, const Api& blas_api) {
  const cudaStream_t s = stream_of(c);
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto it = g_lt_handles.find(s);
    if (it != g_lt_handles.end()) return it->second;
  }
  LtHandle h = nullptr;
  const int st = api.create(&h);
  if (st != kSuccess)
    throw Error{ERR_DEVICE, std::string(op_name(c.op)) + ": cublasLtCreate failed: " + blas_api.status_string(st)};
  std::lock_guard<std::mutex> g(g_mu);
  g_lt_handles[s] = h;
  return h;
}

// The descriptors of one cublasLtMatmul, destroyed with it.
struct LtDescs {
  const LtApi& api;
  void* desc = nullptr;
  void* layout[3] = {nullptr, nullptr, nullptr};  // A, B, C (= D: the product is written in place, beta 0)
  void* pref = nullptr;
  explicit LtDescs(const LtApi& a) : api(a) {}
  ~LtDescs() {
    if (desc) api.desc_destroy(desc);
    for (void* l : layout)
      if (l) api.layout_destroy(l);
    if (pref) api.pref_destroy(pref);
  }
};

// The alignment in bytes (a power of two, at most 256) of a matrix: of its pointer, its leading dimension and, in a
// batch, its batch stride (what cuBLASLt's algorithms require of all three), for the heuristic's preference.
uint32_t alignment_of(const void* p, int64_t ld, int64_t stride, int batch, size_t elem) {
  uint64_t v = (uint64_t)(uintptr_t)p | (uint64_t)ld * elem | (batch > 1 ? (uint64_t)stride * elem : 0) | 256;
  return (uint32_t)(v & (~v + 1));
}

// The heuristic's choice for one shape: ok false when it has none (that shape stays on cuBLAS + our epilogue).
struct LtChoice {
  bool ok = false;
  LtAlgo algo{};
  size_t ws = 0;
};
std::mutex g_lt_mu;
std::map<std::string, LtChoice> g_lt_cache;

bool declined(int st) { return st == kNotSupported || st == kInvalidValue; }

}  // namespace

bool available() { return lib().st.found; }

const char* gemm_epilogue(const OpCall& c, const Gemm& g, const void* bias, bool relu) {
  Lib& L = lib();
  if (!L.st.found || !L.lt_ok || (!bias && !relu)) return nullptr;
  const LtApi& api = L.lt;
  const char* op = op_name(c.op);
  auto raise = [&](const char* what, int st) {
    throw Error{ERR_DEVICE, std::string(op) + ": " + what + " failed on cuda:" + std::to_string(c.device - 1) +
                                ": " + L.api.status_string(st)};
  };
  const bool f64 = g.dtype == DT_F64;
  const bool tf32 = !f64 && libs::allow_tf32();
  const int type = f64 ? kR64F : kR32F;
  const int compute = f64 ? kCompute64F : tf32 ? kCompute32FFastTF32 : kCompute32F;
  const uint32_t epilogue = bias ? (relu ? kEpilogueReluBias : kEpilogueBias) : kEpilogueRelu;
  const size_t elem = f64 ? 8 : 4, wsb = workspace_bytes(c);
  const uint32_t align[4] = {alignment_of(g.A, g.lda, g.sA, g.batch, elem), alignment_of(g.B, g.ldb, g.sB, g.batch, elem),
                             alignment_of(g.C, g.ldc, g.sC, g.batch, elem), alignment_of(g.C, g.ldc, g.sC, g.batch, elem)};
  LtHandle h = lt_handle_for(c, api, L.api);

  // the operation: D = op(A) op(B) in place over C, the epilogue, the stored (not transposed) matrices' layouts
  LtDescs D(api);
  int st = api.desc_create(&D.desc, compute, type);
  const int32_t ta = g.transa, tb = g.transb;
  if (st == kSuccess) st = api.desc_set(D.desc, kDescTransA, &ta, sizeof ta);
  if (st == kSuccess) st = api.desc_set(D.desc, kDescTransB, &tb, sizeof tb);
  if (st == kSuccess) st = api.desc_set(D.desc, kDescEpilogue, &epilogue, sizeof epilogue);
  if (st == kSuccess && bias) st = api.desc_set(D.desc, kDescBiasPointer, &bias, sizeof bias);
  const uint64_t rows[3] = {uint64_t(g.transa ? g.k : g.m), uint64_t(g.transb ? g.n : g.k), uint64_t(g.m)};
  const uint64_t cols[3] = {uint64_t(g.transa ? g.m : g.k), uint64_t(g.transb ? g.k : g.n), uint64_t(g.n)};
  const int64_t lds[3] = {g.lda, g.ldb, g.ldc};
  const int64_t strides[3] = {g.sA, g.sB, g.sC};
  const int32_t batch = g.batch;
  for (int i = 0; i < 3 && st == kSuccess; ++i) {
    st = api.layout_create(&D.layout[i], type, rows[i], cols[i], lds[i]);
    if (st == kSuccess) st = api.layout_set(D.layout[i], kLayoutBatchCount, &batch, sizeof batch);
    if (st == kSuccess) st = api.layout_set(D.layout[i], kLayoutBatchStride, &strides[i], sizeof strides[i]);
  }
  if (st != kSuccess) {
    if (declined(st)) return nullptr;
    raise("a cuBLASLt descriptor", st);
  }

  std::string key = std::to_string(c.device);
  for (int64_t v : {(int64_t)g.transa, (int64_t)g.transb, (int64_t)g.m, (int64_t)g.n, (int64_t)g.k, (int64_t)g.lda,
                    (int64_t)g.ldb, (int64_t)g.ldc, (int64_t)g.sA, (int64_t)g.sB, (int64_t)g.sC, (int64_t)g.batch,
                    (int64_t)type, (int64_t)compute, (int64_t)epilogue, (int64_t)align[0], (int64_t)align[1],
                    (int64_t)align[2], (int64_t)wsb})
    key += "," + std::to_string(v);
  LtChoice ch;
  bool cached = false;
  {
    std::lock_guard<std::mutex> lk(g_lt_mu);
    auto it = g_lt_cache.find(key);
    if (it != g_lt_cache.end()) {
      ch = it->second;
      cached = true;
    }
  }
  if (!cached) {
    st = api.pref_create(&D.pref);
    const uint64_t max_ws = wsb;
    if (st == kSuccess) st = api.pref_set(D.pref, kPrefMaxWorkspace, &max_ws, sizeof max_ws);
    for (int i = 0; i < 4 && st == kSuccess; ++i) st = api.pref_set(D.pref, kPrefMinAlignmentA + i, &align[i], 4);
    LtHeuristic r;
    std::memset(&r, 0, sizeof r);
    int n = 0;
    if (st == kSuccess)
      st = api.heuristic(h, D.desc, D.layout[0], D.layout[1], D.layout[2], D.layout[2], D.pref, 1, &r, &n);
    if (st != kSuccess && !declined(st)) raise("cublasLtMatmulAlgoGetHeuristic", st);
    if (st == kSuccess && n > 0 && r.state == kSuccess && r.workspaceSize <= wsb) {
      ch.ok = true;
      ch.algo = r.algo;
      ch.ws = r.workspaceSize;
    }
    std::lock_guard<std::mutex> lk(g_lt_mu);
    g_lt_cache[key] = ch;
  }
  if (!ch.ok) return nullptr;
  void* ws = ch.ws ? workspace(c, 7, wsb) : nullptr;  // slot 7 at cuBLAS's size: one block for both paths
  const float one_f = 1.f, zero_f = 0.f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = f64 ? (const void*)&one_d : (const void*)&one_f;
  const void* beta = f64 ? (const void*)&zero_d : (const void*)&zero_f;
  st = api.matmul(h, D.desc, alpha, g.A, D.layout[0], g.B, D.layout[1], beta, g.C, D.layout[2], g.C, D.layout[2],
                  &ch.algo, ws, ws ? wsb : 0, stream_of(c));
  if (st != kSuccess) {
    if (declined(st)) {
      std::lock_guard<std::mutex> lk(g_lt_mu);
      g_lt_cache[key] = LtChoice{};  // cuBLAS + our epilogue from now on, for this shape
      return nullptr;
    }
    raise("cublasLtMatmul", st);
  }
  static const char* const names[3][3] = {
      {"cuBLASLt matmul f32, epilogue RELU", "cuBLASLt matmul f32, epilogue BIAS", "cuBLASLt matmul f32, epilogue RELU_BIAS"},
      {"cuBLASLt matmul f32 (tf32), epilogue RELU", "cuBLASLt matmul f32 (tf32), epilogue BIAS",
       "cuBLASLt matmul f32 (tf32), epilogue RELU_BIAS"},
      {"cuBLASLt matmul f64, epilogue RELU", "cuBLASLt matmul f64, epilogue BIAS", "cuBLASLt matmul f64, epilogue RELU_BIAS"}};
  return names[f64 ? 2 : tf32 ? 1 : 0][epilogue == kEpilogueRelu ? 0 : epilogue == kEpilogueBias ? 1 : 2];
}

const char* gemm(const OpCall& c, const Gemm& g) {
  Lib& L = lib();
  if (!L.st.found) return nullptr;
  const Api& api = L.api;
  Handle h = handle_for(c, api);
  const char* op = op_name(c.op);
  int st = api.set_stream(h, stream_of(c));
  if (st != kSuccess) throw Error{ERR_DEVICE, std::string(op) + ": cublasSetStream failed: " + api.status_string(st)};
  const size_t wsb = workspace_bytes(c);
  st = api.set_workspace(h, workspace(c, 7, wsb), wsb);
  if (st != kSuccess)
    throw Error{ERR_DEVICE, std::string(op) + ": cublasSetWorkspace failed: " + api.status_string(st)};
  const bool f64 = g.dtype == DT_F64;
  const bool tf32 = !f64 && libs::allow_tf32();
  const float one_f = 1.f, zero_f = 0.f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = f64 ? (const void*)&one_d : (const void*)&one_f;
  const void* beta = f64 ? (const void*)&zero_d : (const void*)&zero_f;
  const int type = f64 ? kR64F : kR32F;
  const int compute = f64 ? kCompute64F : tf32 ? kCompute32FFastTF32 : kCompute32F;
  st = api.gemm_ex(h, g.transa, g.transb, g.m, g.n, g.k, alpha, g.A, type, g.lda, g.sA, g.B, type, g.ldb, g.sB, beta,
                   g.C, type, g.ldc, g.sC, g.batch, compute, kGemmDefault);
  if (st == kNotSupported || st == kInvalidValue) return nullptr;
  if (st != kSuccess)
    throw Error{ERR_DEVICE, std::string(op) + ": cublasGemmStridedBatchedEx failed on cuda:" +
                                std::to_string(c.device - 1) + ": " + api.status_string(st)};
  return f64 ? "cuBLAS gemm f64" : tf32 ? "cuBLAS gemm f32 (tf32)" : "cuBLAS gemm f32";
}

}  // namespace blas

LibraryStatus cublas_status() { return blas::lib().st; }

}  // namespace cuda
}  // namespace tensile
