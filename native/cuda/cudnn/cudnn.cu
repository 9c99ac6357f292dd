// The cuDNN loader, its handles (one per CUDA stream), the algorithm choice and cache, and the call of cudnn.h.
#include "cudnn.h"
#include <map>
#include <mutex>
#include <string>
#include "../cublas/dl.h"
#include "../../core/runtime.h"

namespace tensile {
namespace cuda {
namespace dnn {

namespace {

typedef void* H;  // every handle and descriptor is an opaque pointer; every enum a 4-byte int
struct Perf {      // cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t
  int algo;
  int status;
  float time;
  size_t memory;
  int determinism;
  int math;
  int reserved[3];
};
static_assert(sizeof(Perf) == 48, "the perf struct of cuDNN 8 and 9");

struct Api {
  size_t (*get_version)();
  size_t (*get_cudart_version)();
  const char* (*error_string)(int);
  int (*create)(H*);
  int (*set_stream)(H, cudaStream_t);
  int (*create_tensor)(H*);
  int (*destroy_tensor)(H);
  int (*set_tensor4d)(H, int format, int dtype, int n, int c, int h, int w);
  int (*create_filter)(H*);
  int (*destroy_filter)(H);
  int (*set_filter4d)(H, int dtype, int format, int k, int c, int h, int w);
  int (*create_conv)(H*);
  int (*destroy_conv)(H);
  int (*set_conv2d)(H, int ph, int pw, int u, int v, int dh, int dw, int mode, int compute);
  int (*set_conv_math)(H, int);
  int (*set_conv_groups)(H, int);
  // per direction: heuristics, find, workspace size, run
  int (*get_fwd)(H, H, H, H, H, int, int*, Perf*);
  int (*find_fwd)(H, H, H, H, H, int, int*, Perf*);
  int (*ws_fwd)(H, H, H, H, H, int, size_t*);
  int (*run_fwd)(H, const void*, H, const void*, H, const void*, H, int, void*, size_t, const void*, H, void*);
  int (*get_bwd_data)(H, H, H, H, H, int, int*, Perf*);
  int (*find_bwd_data)(H, H, H, H, H, int, int*, Perf*);
  int (*ws_bwd_data)(H, H, H, H, H, int, size_t*);
  int (*run_bwd_data)(H, const void*, H, const void*, H, const void*, H, int, void*, size_t, const void*, H, void*);
  int (*get_bwd_filter)(H, H, H, H, H, int, int*, Perf*);
  int (*find_bwd_filter)(H, H, H, H, H, int, int*, Perf*);
  int (*ws_bwd_filter)(H, H, H, H, H, int, size_t*);
  int (*run_bwd_filter)(H, const void*, H, const void*, H, const void*, H, int, void*, size_t, const void*, H, void*);
};
const char* const kNames[] = {
    "cudnnGetVersion", "cudnnGetCudartVersion", "cudnnGetErrorString", "cudnnCreate", "cudnnSetStream",
    "cudnnCreateTensorDescriptor", "cudnnDestroyTensorDescriptor", "cudnnSetTensor4dDescriptor",
    "cudnnCreateFilterDescriptor", "cudnnDestroyFilterDescriptor", "cudnnSetFilter4dDescriptor",
    "cudnnCreateConvolutionDescriptor", "cudnnDestroyConvolutionDescriptor", "cudnnSetConvolution2dDescriptor",
    "cudnnSetConvolutionMathType", "cudnnSetConvolutionGroupCount",
    "cudnnGetConvolutionForwardAlgorithm_v7", "cudnnFindConvolutionForwardAlgorithm",
    "cudnnGetConvolutionForwardWorkspaceSize", "cudnnConvolutionForward",
    "cudnnGetConvolutionBackwardDataAlgorithm_v7", "cudnnFindConvolutionBackwardDataAlgorithm",
    "cudnnGetConvolutionBackwardDataWorkspaceSize", "cudnnConvolutionBackwardData",
    "cudnnGetConvolutionBackwardFilterAlgorithm_v7", "cudnnFindConvolutionBackwardFilterAlgorithm",
    "cudnnGetConvolutionBackwardFilterWorkspaceSize", "cudnnConvolutionBackwardFilter"};
constexpr int kNameCount = sizeof(kNames) / sizeof(kNames[0]);
static_assert(sizeof(Api) == kNameCount * sizeof(void*), "one slot per name");

// values (cudnn_ops.h / cudnn_cnn.h)
constexpr int kFloat = 0, kDouble = 1, kNCHW = 0, kCrossCorrelation = 1, kDefaultMath = 0, kFmaMath = 3;
constexpr int kDeterministic = 1;

struct Lib {
  LibraryStatus st;
  Api api{};
  int major = 0;
};

std::string version_str(size_t v) {
  const size_t M = v >= 90000 ? v / 10000 : v / 1000;
  const size_t m = v >= 90000 ? v / 100 % 100 : v / 100 % 10;
  return std::to_string(M) + "." + std::to_string(m) + "." + std::to_string(v % 100);
}

// Loads the main library at `main` and its sub-libraries beside it; "" when accepted, else why not.
std::string try_main(Lib& L, const std::string& main) {
  std::string err;
  void* h = libs::open(main, L.st.tried, &err);
  if (!h) return err;
  const std::string path = libs::path_of(h);
  const std::string missing = libs::resolve(h, kNames, reinterpret_cast<void**>(&L.api), kNameCount);
  if (!missing.empty()) return "missing symbol " + missing + " in " + path;
  const size_t v = L.api.get_version();
  const int major = (int)(v >= 90000 ? v / 10000 : v / 1000);
  if (major != 8 && major != 9)
    return "cuDNN " + version_str(v) + " at " + path + " is not a cuDNN 8 or 9 (the versions tensile knows)";
  const int cudart = (int)L.api.get_cudart_version();
  if (cudart / 1000 != libs::runtime_major())
    return "cuDNN " + version_str(v) + " at " + path + " is built for CUDA " + std::to_string(cudart / 1000) +
           ", this build of tensile uses the CUDA " + std::to_string(libs::runtime_major()) +
           " runtime (install cuDNN for CUDA " + std::to_string(libs::runtime_major()) + ")";
  const std::string dir = libs::dir_of(path);
  const char* const subs9[] = {"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"};
  const char* const subs8[] = {"libcudnn_ops_infer.so.8", "libcudnn_ops_train.so.8", "libcudnn_cnn_infer.so.8",
                               "libcudnn_cnn_train.so.8"};
  const int nsub = major == 9 ? 3 : 4;
  for (int i = 0; i < nsub; ++i) {
    const std::string sub = (dir.empty() ? "" : dir + "/") + (major == 9 ? subs9[i] : subs8[i]);
    if (!libs::open(sub, L.st.tried, &err))
      return "cuDNN " + version_str(v) + " at " + path + " lacks its sub-library " + sub + " (" + err +
             "); cuDNN would abort the process at first use";
  }
  L.major = major;
  L.st.found = true;
  L.st.version = (int)v;
  L.st.path = path;
  return "";
}

Lib* load() {
  Lib* L = new Lib;
  if (libs::disabled("TENSILE_CUDNN")) {
    L->st.reason = "disabled by TENSILE_CUDNN=0";
    return L;
  }
  const char* ex = std::getenv("TENSILE_CUDNN_LIBRARY");
  if (ex && *ex) {
    const std::string why = try_main(*L, ex);
    if (!why.empty()) L->st.reason = std::string("TENSILE_CUDNN_LIBRARY=") + ex + ": " + why;
    return L;
  }
  std::string refused;
  for (const char* major : {"9", "8"})
    for (const std::string& d : libs::search_dirs("cudnn")) {
      const std::string why = try_main(*L, (d.empty() ? "" : d + "/") + "libcudnn.so." + major);
      if (why.empty()) return L;
      if (why.rfind("missing symbol", 0) == 0 || why.rfind("cuDNN ", 0) == 0) {
        if (refused.empty()) refused = why;
      }
    }
  L->st.reason = !refused.empty() ? refused
                                  : std::string("cuDNN not found (libcudnn.so.9/.8 in the loader's path, the CUDA "
                                                "toolkit and Python's nvidia/ wheels); set TENSILE_CUDNN_LIBRARY to "
                                                "the full path of libcudnn.so.N");
  return L;
}

Lib& lib() {
  static Lib* L = load();
  return *L;
}

// NOT_SUPPORTED and BAD_PARAM (and their sub-codes in 9.x): cuDNN declines this problem, ours runs it.
bool declined(int st) {
  if (lib().major >= 9) return st / 1000 == 2 || st / 1000 == 3;
  return st == 3 || st == 9;
}

[[noreturn]] void raise(const OpCall& c, const char* what, int st) {
  throw Error{ERR_DEVICE, std::string(op_name(c.op)) + ": " + what + " failed on cuda:" + std::to_string(c.device - 1) +
                              ": " + lib().api.error_string(st) + " (cuDNN status " + std::to_string(st) + ")"};
}

std::mutex g_mu;
std::map<cudaStream_t, H> g_handles;  // one per CUDA stream, never destroyed (see cublas.cu)

H handle_for(const OpCall& c) {
  const Api& api = lib().api;
  const cudaStream_t s = stream_of(c);
  H h = nullptr;
  {
    std::lock_guard<std::mutex> g(g_mu);
    auto it = g_handles.find(s);
    if (it != g_handles.end()) h = it->second;
  }
  if (!h) {
    const int st = api.create(&h);
    if (st != 0) raise(c, "cudnnCreate", st);
    std::lock_guard<std::mutex> g(g_mu);
    g_handles[s] = h;
  }
  const int st = api.set_stream(h, s);
  if (st != 0) raise(c, "cudnnSetStream", st);
  return h;
}

// The descriptors of one call, destroyed with it.
struct Descs {
  const Api& api;
  H t[3] = {nullptr, nullptr, nullptr};
  H f = nullptr, conv = nullptr;
  explicit Descs(const Api& a) : api(a) {}
  ~Descs() {
    for (H d : t)
      if (d) api.destroy_tensor(d);
    if (f) api.destroy_filter(f);
    if (conv) api.destroy_conv(conv);
  }
};
int tensor(const Api& api, H* d, int dtype, const int64_t* s) {
  int st = api.create_tensor(d);
  if (st == 0) st = api.set_tensor4d(*d, kNCHW, dtype, (int)s[0], (int)s[1], (int)s[2], (int)s[3]);
  return st;
}

struct Choice {
  int algo = -1;  // -1: ours
  size_t ws = 0;
  int math = 0;
};
std::mutex g_cache_mu;
std::map<std::string, Choice> g_cache;

const char* algo_name(int dir, int a) {
  static const char* const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                    "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const bd[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const bf[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  if (dir == kForward) return a >= 0 && a < 8 ? fwd[a] : "?";
  if (dir == kBackwardData) return a >= 0 && a < 6 ? bd[a] : "?";
  return a >= 0 && a < 7 ? bf[a] : "?";
}
const char* const kDirName[] = {"forward", "backward data", "backward filter"};

bool fits_int(const int64_t* s) {
  for (int i = 0; i < 4; ++i)
    if (s[i] <= 0 || s[i] > INT32_MAX) return false;
  return true;
}

}  // namespace

bool available() { return lib().st.found; }

std::string conv(const OpCall& c, const Conv& v) {
  Lib& L = lib();
  if (!L.st.found) return "";
  if (!fits_int(v.x) || !fits_int(v.w) || !fits_int(v.y)) return "";  // empty tensors: ours (nothing to do)
  const Api& api = L.api;
  const bool f64 = v.dtype == DT_F64;
  const int dt = f64 ? kDouble : kFloat;
  const bool tf32 = !f64 && libs::allow_tf32();
  const bool det = libs::deterministic(), bench = libs::benchmark();
  H h = handle_for(c);
  Descs D(api);
  int st = tensor(api, &D.t[0], dt, v.x);
  if (st == 0) st = tensor(api, &D.t[1], dt, v.y);
  if (st == 0) st = api.create_filter(&D.f);
  if (st == 0) st = api.set_filter4d(D.f, dt, kNCHW, (int)v.w[0], (int)v.w[1], (int)v.w[2], (int)v.w[3]);
  if (st == 0) st = api.create_conv(&D.conv);
  if (st == 0)
    st = api.set_conv2d(D.conv, v.pad[0], v.pad[1], v.stride[0], v.stride[1], v.dil[0], v.dil[1], kCrossCorrelation,
                        dt);
  if (st == 0) st = api.set_conv_groups(D.conv, v.groups);
  if (st == 0) st = api.set_conv_math(D.conv, f64 || tf32 ? kDefaultMath : kFmaMath);
  if (st != 0) {
    if (declined(st)) return "";
    raise(c, "a cuDNN descriptor", st);
  }
  H x = D.t[0], y = D.t[1], w = D.f, cv = D.conv;
  // the descriptor arguments of each direction's calls, in cuDNN's order
  H a0 = v.dir == kForward ? x : v.dir == kBackwardData ? w : x;
  H a1 = v.dir == kForward ? w : y;
  H a3 = v.dir == kForward ? y : v.dir == kBackwardData ? x : w;
  auto get = v.dir == kForward ? api.get_fwd : v.dir == kBackwardData ? api.get_bwd_data : api.get_bwd_filter;
  auto find = v.dir == kForward ? api.find_fwd : v.dir == kBackwardData ? api.find_bwd_data : api.find_bwd_filter;
  auto wsq = v.dir == kForward ? api.ws_fwd : v.dir == kBackwardData ? api.ws_bwd_data : api.ws_bwd_filter;

  std::string key = std::to_string(c.device) + ":" + std::to_string(v.dir) + ":" + std::to_string(dt);
  for (const int64_t* s : {v.x, v.w, v.y})
    for (int i = 0; i < 4; ++i) key += "," + std::to_string(s[i]);
  for (int p : {v.pad[0], v.pad[1], v.stride[0], v.stride[1], v.dil[0], v.dil[1], v.groups, (int)tf32, (int)det,
                (int)bench})
    key += "," + std::to_string(p);
  Choice ch;
  bool cached = false;
  {
    std::lock_guard<std::mutex> g(g_cache_mu);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) {
      ch = it->second;
      cached = true;
    }
  }
  if (!cached) {
    Perf perf[16];
    int n = 0;
    st = (bench ? find : get)(h, a0, a1, cv, a3, 16, &n, perf);
    if (st != 0 && !declined(st)) raise(c, bench ? "cudnnFind*Algorithm" : "cudnnGet*Algorithm_v7", st);
    for (int i = 0; st == 0 && i < n && i < 16; ++i) {
      const Perf& p = perf[i];
      if (p.status != 0 || (det && p.determinism != kDeterministic)) continue;
      if (!f64 && !tf32 && p.math != kDefaultMath && p.math != kFmaMath) continue;  // tensor cores: TF32
      size_t bytes = 0;
      if (wsq(h, a0, a1, cv, a3, p.algo, &bytes) != 0) continue;
      if (bytes) {
        try {
          workspace(c, 7, bytes);
        } catch (const Error& e) {
          if (e.kind != ERR_MEMORY) throw;
          continue;  // does not fit: the next algorithm
        }
      }
      ch.algo = p.algo;
      ch.ws = bytes;
      ch.math = f64 || tf32 ? p.math : kFmaMath;
      break;
    }
    std::lock_guard<std::mutex> g(g_cache_mu);
    g_cache[key] = ch;
  }
  if (ch.algo < 0) return "";
  if (ch.math != (f64 || tf32 ? kDefaultMath : kFmaMath)) api.set_conv_math(cv, ch.math);
  void* ws = nullptr;
  if (ch.ws) {
    try {
      ws = workspace(c, 7, ch.ws);
    } catch (const Error& e) {
      if (e.kind != ERR_MEMORY) throw;
      return "";
    }
  }
  const float one_f = 1.f, zero_f = 0.f;
  const double one_d = 1.0, zero_d = 0.0;
  const void* alpha = f64 ? (const void*)&one_d : (const void*)&one_f;
  const void* beta = f64 ? (const void*)&zero_d : (const void*)&zero_f;
  if (v.dir == kForward)
    st = api.run_fwd(h, alpha, x, v.xp, w, v.wp, cv, ch.algo, ws, ch.ws, beta, y, v.out);
  else if (v.dir == kBackwardData)
    st = api.run_bwd_data(h, alpha, w, v.wp, y, v.yp, cv, ch.algo, ws, ch.ws, beta, x, v.out);
  else
    st = api.run_bwd_filter(h, alpha, x, v.xp, y, v.yp, cv, ch.algo, ws, ch.ws, beta, w, v.out);
  if (st != 0) {
    if (declined(st)) {
      std::lock_guard<std::mutex> g(g_cache_mu);
      g_cache[key] = Choice{};  // ours from now on, for this shape
      return "";
    }
    raise(c, v.dir == kForward ? "cudnnConvolutionForward"
             : v.dir == kBackwardData ? "cudnnConvolutionBackwardData" : "cudnnConvolutionBackwardFilter", st);
  }
  return std::string("cuDNN ") + kDirName[v.dir] + " algo " + std::to_string(ch.algo) + " (" +
         algo_name(v.dir, ch.algo) + ")" + (ch.math == 1 || ch.math == 2 ? " tensor ops" : "");
}

}  // namespace dnn

LibraryStatus cudnn_status() { return dnn::lib().st; }

}  // namespace cuda
}  // namespace tensile
