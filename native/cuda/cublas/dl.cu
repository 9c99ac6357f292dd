// The search path, dlopen/dlsym helpers, switches and path records of dl.h.
#include "dl.h"
#include <dlfcn.h>
#include <glob.h>
#include <link.h>
#include <sys/stat.h>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include "../common.cuh"

namespace tensile {
namespace cuda {
namespace libs {

namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return !p.empty() && stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
void add_dir(std::vector<std::string>& out, const std::string& d) {
  if (!is_dir(d)) return;
  for (const std::string& e : out)
    if (e == d) return;
  out.push_back(d);
}
void add_glob(std::vector<std::string>& out, const std::string& pattern) {
  glob_t g;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) add_dir(out, g.gl_pathv[i]);
  globfree(&g);
}
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::atomic<bool> g_tf32{false}, g_bench{false}, g_det{false};

// ---------------------------------------------------------------- path records
struct Paths {
  std::atomic<bool> on{false};
  bool print = false;
  std::mutex mu;
  std::map<std::pair<std::string, std::string>, int64_t> calls;
  Paths() {
    const char* e = std::getenv("TENSILE_PROFILE");
    print = e && *e && std::strcmp(e, "0") != 0;
    on.store(print);
  }
  ~Paths() {
    if (!print || calls.empty()) return;
    std::fprintf(stderr, "tensile cuda paths (which implementation ran, per op)\n%-28s %-52s %10s\n", "op", "path",
                 "calls");
    for (const auto& kv : calls)
      std::fprintf(stderr, "%-28s %-52s %10lld\n", kv.first.first.c_str(), kv.first.second.c_str(),
                   (long long)kv.second);
  }
};
Paths& paths() {
  static Paths p;
  return p;
}
const bool g_paths_init = (paths(), true);  // constructed at load (reads TENSILE_PROFILE once)

}  // namespace

std::vector<std::string> search_dirs(const char* wheel) {
  std::vector<std::string> out;
  out.push_back("");
  for (const char* v : {"CUDA_HOME", "CUDA_PATH"}) {
    const std::string r = env(v);
    if (!r.empty()) add_dir(out, r + "/lib64");
  }
  add_dir(out, "/usr/local/cuda/lib64");
  std::vector<std::string> sites;
  std::string pp = env("PYTHONPATH");
  for (size_t a = 0; !pp.empty() && a <= pp.size();) {
    size_t b = pp.find(':', a);
    if (b == std::string::npos) b = pp.size();
    if (b > a) add_dir(sites, pp.substr(a, b - a));
    a = b + 1;
  }
  for (const char* v : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    const std::string r = env(v);
    if (!r.empty()) add_glob(sites, r + "/lib/python3*/site-packages");
  }
  const std::string home = env("HOME");
  if (!home.empty()) add_glob(sites, home + "/.local/lib/python3*/site-packages");
  add_glob(sites, "/usr/local/lib/python3*/dist-packages");
  add_glob(sites, "/usr/local/lib/python3*/site-packages");
  add_dir(sites, "/usr/lib/python3/dist-packages");
  add_glob(sites, "/usr/lib/python3*/site-packages");
  add_glob(sites, "/opt/conda/lib/python3*/site-packages");
  for (const std::string& s : sites) {
    add_dir(out, s + "/nvidia/" + wheel + "/lib");
    add_dir(out, s + "/nvidia/cu13/lib");
    add_dir(out, s + "/nvidia/cu12/lib");
  }
  return out;
}

void* open(const std::string& path, std::vector<std::string>& tried, std::string* err) {
  tried.push_back(path);
  dlerror();
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h && err) {
    const char* e = dlerror();
    *err = e ? e : "dlopen failed";
  }
  return h;
}

std::string path_of(void* handle) {
  struct link_map* lm = nullptr;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && *lm->l_name) {
    char buf[4096];
    if (realpath(lm->l_name, buf)) return buf;
    return lm->l_name;
  }
  return "";
}

std::string dir_of(const std::string& path) {
  const size_t s = path.rfind('/');
  return s == std::string::npos ? std::string() : path.substr(0, s);
}

std::string resolve(void* handle, const char* const* names, void** slots, int n) {
  for (int i = 0; i < n; ++i) {
    slots[i] = dlsym(handle, names[i]);
    if (!slots[i]) return names[i];
  }
  return "";
}

int runtime_major() {
  int v = 0;
  cudaRuntimeGetVersion(&v);
  return v / 1000;
}

bool disabled(const char* name) { return env(name) == "0"; }

bool allow_tf32() { return g_tf32.load(std::memory_order_relaxed); }
bool benchmark() { return g_bench.load(std::memory_order_relaxed); }
bool deterministic() { return g_det.load(std::memory_order_relaxed); }

void note(int op, const char* path) {
  Paths& p = paths();
  if (!p.on.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> g(p.mu);
  ++p.calls[{op_name(op), path}];
}
void note(int op, const std::string& path) { note(op, path.c_str()); }

}  // namespace libs

void set_allow_tf32(bool on) { libs::g_tf32.store(on); }
void set_benchmark(bool on) { libs::g_bench.store(on); }
void set_deterministic(bool on) { libs::g_det.store(on); }

std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> library_paths(bool reset) {
  libs::Paths& p = libs::paths();
  p.on.store(true);
  std::lock_guard<std::mutex> g(p.mu);
  std::vector<std::pair<std::string, std::pair<std::string, int64_t>>> out;
  for (const auto& kv : p.calls) out.push_back({kv.first.first, {kv.first.second, kv.second}});
  if (reset) p.calls.clear();
  return out;
}

}  // namespace cuda
}  // namespace tensile
