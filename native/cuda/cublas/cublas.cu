// The cuBLAS loader, its handles (one per CUDA stream, bound to it before each call, with a workspace from our
// caching allocator) and the GEMM call of cublas.h.
#include "cublas.h"
#include <atomic>
#include <cstdio>
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

struct Lib {
  LibraryStatus st;
  Api api{};
};

// Loads the Lt + main pair at (lt, main) into L; "" when accepted, else why not (the search goes on).
std::string try_pair(Lib& L, const std::string& lt, const std::string& main, bool lt_optional) {
  std::string err;
  if (!lt.empty()) {
    void* h = libs::open(lt, L.st.tried, &err);
    if (!h && !lt_optional) return err;
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

}  // namespace

bool available() { return lib().st.found; }

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
