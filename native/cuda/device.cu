// The device layer of the CUDA backend: what the driver says (status), device properties, one context per
// (tensile stream, GPU) with its CUDA stream and caching allocator, pinned staging for uploads, copies between
// devices, and CUDA errors as tensile errors. Kernels are in the other files of native/cuda (register.cu lists them).
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>
#include "api.h"
#include "common.cuh"
#include "../core/runtime.h"

namespace tensile {
namespace cuda {

namespace {

std::string version_str(int v) { return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10); }

// A device whose context was lost to a sticky error (an illegal address, a device-side assert): every later use of
// it fails with the first such error. CUDA offers no way back short of a new process.
struct Lost {
  std::atomic<bool> lost{false};
  std::mutex mu;
  std::string why;
};
Lost g_lost[kMaxDevices];

bool sticky(cudaError_t e) {
  return e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || (int)e == 710 /* assert */ ||
         ((int)e >= 713 && (int)e <= 720) /* hardware stack, illegal instruction, misaligned, address space, pc, trap */;
}

void check_lost(int ord, const char* op) {
  if (ord >= 0 && ord < kMaxDevices && g_lost[ord].lost.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> g(g_lost[ord].mu);
    throw Error{ERR_DEVICE, std::string(op) + ": cuda:" + std::to_string(ord) + " is unusable after an earlier error (" +
                                g_lost[ord].why + "); tensors on it are lost until the process restarts"};
  }
}

struct DevStats {
  std::atomic<int64_t> allocated{0}, reserved{0}, peak{0}, allocations{0}, limit{0};
};
DevStats g_stats[kMaxDevices];

}  // namespace

void throw_error(cudaError_t e, const char* op, const char* what) {
  int ord = -1;
  cudaGetDevice(&ord);
  std::string msg = std::string(op) + ": " + what + " failed on cuda:" + std::to_string(ord) + ": " +
                    cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
#ifdef TENSILE_EMU
  const char* m = ::tensile_emu::last_message();
  if (m && *m) msg += std::string(" [emulator: ") + m + "]";
#endif
  if (sticky(e) && ord >= 0 && ord < kMaxDevices) {
    Lost& l = g_lost[ord];
    {
      std::lock_guard<std::mutex> g(l.mu);
      if (!l.lost.load()) l.why = msg;
    }
    l.lost.store(true, std::memory_order_release);
    msg += "; the device is unusable until the process restarts";
  }
  throw Error{e == cudaErrorMemoryAllocation ? ERR_MEMORY : ERR_DEVICE, msg};
}

// ---------------------------------------------------------------- status
const Status& status() {
  static const Status s = [] {
    Status st;
    st.built = true;
#ifdef TENSILE_EMU
    st.emulated = true;
#endif
    cudaRuntimeGetVersion(&st.runtime_version);
    cudaDriverGetVersion(&st.driver_version);  // 0 when no driver is installed
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    cudaGetLastError();
    const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
    if (st.driver_version == 0) {
      st.reason = "no NVIDIA driver found (libcuda.so.1 could not be loaded): install the NVIDIA driver to use a GPU";
    } else if (e == cudaErrorInsufficientDriver || st.driver_version < st.runtime_version) {
      st.reason = "the NVIDIA driver supports CUDA " + version_str(st.driver_version) + ", older than the CUDA " +
                  version_str(st.runtime_version) + " runtime of this build: update the driver";
    } else if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) {
      st.reason = std::string("no CUDA device found") +
                  (vis ? std::string(" (CUDA_VISIBLE_DEVICES=") + vis + " hides the others)" : "");
    } else if (e != cudaSuccess) {
      st.reason = std::string("CUDA could not start: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    } else {
      st.devices = n < kMaxDevices - 1 ? n : kMaxDevices - 1;
    }
    return st;
  }();
  return s;
}

Properties properties(int ord) {
  const Status& st = status();
  if (ord < 0 || ord >= st.devices)
    throw Error{ERR_DEVICE, "getDeviceProperties: expected a device index in [0, " + std::to_string(st.devices) +
                                "), got " + std::to_string(ord) + (st.devices ? "" : ": " + st.reason)};
  cudaDeviceProp p;
  check(cudaGetDeviceProperties(&p, ord), "getDeviceProperties", "cudaGetDeviceProperties");
  Properties r;
  r.name = p.name;
  r.major = p.major;
  r.minor = p.minor;
  r.multiprocessors = p.multiProcessorCount;
  r.warp_size = p.warpSize;
  r.max_threads_per_block = p.maxThreadsPerBlock;
  r.total_memory = (int64_t)p.totalGlobalMem;
  r.shared_memory_per_block = (int64_t)p.sharedMemPerBlock;
  r.l2_cache = (int64_t)p.l2CacheSize;
  return r;
}

MemoryStats memory(int ord) {
  MemoryStats m;
  if (ord < 0 || ord >= status().devices) return m;
  const DevStats& s = g_stats[ord];
  m.allocated = s.allocated.load();
  m.reserved = s.reserved.load();
  m.peak = s.peak.load();
  m.allocations = s.allocations.load();
  m.limit = s.limit.load();
  int prev = 0;
  cudaGetDevice(&prev);
  size_t fr = 0, tot = 0;
  if (cudaSetDevice(ord) == cudaSuccess && cudaMemGetInfo(&fr, &tot) == cudaSuccess) {
    m.free = (int64_t)fr;
    m.total = (int64_t)tot;
  }
  cudaGetLastError();
  cudaSetDevice(prev);
  return m;
}

void reset_peak(int ord) {
  if (ord >= 0 && ord < kMaxDevices) g_stats[ord].peak.store(g_stats[ord].allocated.load());
}
void set_memory_limit(int ord, int64_t bytes) {
  if (ord >= 0 && ord < kMaxDevices) g_stats[ord].limit.store(bytes > 0 ? bytes : 0);
}

namespace {

// ---------------------------------------------------------------- caching allocator
// One per (tensile stream, device): a tensile stream runs its ops on one CUDA stream per device, so a block it frees
// can be handed to its next op at once (stream order makes that safe, as in PyTorch's allocator) and no lock is
// needed (it is used by the stream's worker, or by the JS thread while the worker is idle). Sizes: multiples of 512
// bytes up to 1 MiB rounded to powers of two, 1 MiB multiples above; free blocks are kept by size. Out of memory
// (the device's, or the limit set by setMemoryLimit): the cache goes back to the driver and the allocation is tried
// once more before it fails with the figures.
size_t round_size(size_t b) {
  if (b <= 512) return 512;
  if (b < (size_t(1) << 20)) return size_t(1) << (64 - __builtin_clzll(b - 1));
  return (b + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
}

class CachingAllocator : public Allocator {
 public:
  explicit CachingAllocator(int ord) : ord_(ord) {}
  ~CachingAllocator() override { trim(); }
  void* alloc(size_t bytes) override {
    const size_t sz = round_size(bytes);
    DevStats& st = g_stats[ord_];
    auto it = free_.find(sz);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= sz;
      used(sz);
      return p;
    }
    const int64_t limit = st.limit.load();
    if (limit > 0 && st.reserved.load() + (int64_t)sz > limit) trim();
    if (limit > 0 && st.reserved.load() + (int64_t)sz > limit) oom(bytes, "the memory limit set by cuda.setMemoryLimit");
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, sz);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // not sticky: clear it
      trim();
      e = cudaMalloc(&p, sz);
      if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        oom(bytes, "the device's memory");
      }
    }
    check(e, "alloc", "cudaMalloc");
    st.reserved.fetch_add((int64_t)sz);
    st.allocations.fetch_add(1);
    used(sz);
    return p;
  }
  void free(void* p, size_t bytes) override {
    const size_t sz = round_size(bytes);
    free_[sz].push_back(p);
    cached_ += sz;
    g_stats[ord_].allocated.fetch_sub((int64_t)sz);
  }
  size_t pooled_bytes() const override { return cached_; }
  // Gives the cached blocks back (cudaFree waits for the device: no kernel still uses them).
  void trim() override {
    DevStats& st = g_stats[ord_];
    for (auto& kv : free_) {
      for (void* p : kv.second) {
        cudaFree(p);
        st.reserved.fetch_sub((int64_t)kv.first);
        st.allocations.fetch_sub(1);
      }
    }
    cudaGetLastError();
    free_.clear();
    cached_ = 0;
  }

 private:
  void used(size_t sz) {
    DevStats& st = g_stats[ord_];
    const int64_t now = st.allocated.fetch_add((int64_t)sz) + (int64_t)sz;
    int64_t pk = st.peak.load();
    while (now > pk && !st.peak.compare_exchange_weak(pk, now)) {
    }
  }
  [[noreturn]] void oom(size_t bytes, const char* what) {
    const DevStats& st = g_stats[ord_];
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    cudaGetLastError();
    throw Error{ERR_MEMORY, "out of memory on cuda:" + std::to_string(ord_) + " allocating " + std::to_string(bytes) +
                                " bytes (" + what + "; allocated " + std::to_string(st.allocated.load()) +
                                ", reserved " + std::to_string(st.reserved.load()) + ", total " + std::to_string(tot) +
                                (st.limit.load() ? ", limit " + std::to_string(st.limit.load()) : std::string()) + ")"};
  }
  int ord_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

// ---------------------------------------------------------------- context
class Context;
thread_local Context* tl_ctx = nullptr;   // the context of the op being run on this thread
thread_local int tl_device = -1;          // the thread's current CUDA device, as last set here

class Context : public DeviceContext {
 public:
  explicit Context(int id) : id_(id), ord_(id - 1), alloc_(id - 1) {
    activate("stream");
    check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "stream", "cudaStreamCreateWithFlags");
  }
  ~Context() override {
    cudaSetDevice(ord_);
    tl_device = ord_;
    cudaStreamSynchronize(s_);
    for (int i = 0; i < kSlots; ++i)
      if (ws_[i]) alloc_.free(ws_[i], ws_n_[i]);
    if (flag_) alloc_.free(flag_, sizeof(unsigned long long));
    alloc_.trim();
    for (Staging& b : staging_) {
      cudaEventDestroy(b.ev);
      cudaFreeHost(b.host);
    }
    if (flag_host_) cudaFreeHost(flag_host_);
    for (cudaEvent_t e : peer_ev_) cudaEventDestroy(e);
    cudaStreamDestroy(s_);
    cudaGetLastError();
    if (tl_ctx == this) tl_ctx = nullptr;
  }
  Allocator& allocator() override {
    activate("alloc");
    return alloc_;
  }
  void* stream() override {
    activate("launch");
    tl_ctx = this;
    return s_;
  }
  cudaStream_t raw() const { return s_; }
  int ordinal() const { return ord_; }
  void to_host(void* dst, const void* src, size_t n) override {
    activate("read");
    check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s_), "read", "cudaMemcpyAsync (device to host)");
    check(cudaStreamSynchronize(s_), "read", "the device's work before it");
  }
  void synchronize() override {
    activate("synchronize");
    check(cudaStreamSynchronize(s_), "synchronize", "cudaStreamSynchronize");
  }

  void* workspace(int slot, size_t bytes) {
    if (slot < 0 || slot >= kSlots) fail(ERR_NATIVE, "workspace", "expected a slot in [0, 8)");
    if (ws_n_[slot] < bytes) {
      if (ws_[slot]) alloc_.free(ws_[slot], ws_n_[slot]);  // stream-ordered: reused only by later work
      ws_[slot] = nullptr;
      ws_n_[slot] = 0;
      ws_[slot] = alloc_.alloc(bytes);
      ws_n_[slot] = bytes;
    }
    return ws_[slot];
  }
  unsigned long long* flag() {
    if (!flag_) flag_ = (unsigned long long*)alloc_.alloc(sizeof(unsigned long long));
    check(cudaMemsetAsync(flag_, 0xff, sizeof(unsigned long long), s_), "error_flag", "cudaMemsetAsync");
    return flag_;
  }
  unsigned long long read_flag() {
    if (!flag_host_) check(cudaMallocHost(&flag_host_, sizeof(unsigned long long)), "error_flag", "cudaMallocHost");
    check(cudaMemcpyAsync(flag_host_, flag_, sizeof(unsigned long long), cudaMemcpyDeviceToHost, s_), "error_flag",
          "cudaMemcpyAsync");
    check(cudaStreamSynchronize(s_), "error_flag", "cudaStreamSynchronize");
    return *(unsigned long long*)flag_host_;
  }

  // An upload: the bytes go into a pinned staging block at once (the source may be freed as soon as this returns),
  // and from there to the device on the stream, so the worker never waits for the device. A block is reused once
  // its copy's event has completed; at most kStagingMax bytes are kept.
  void upload(void* dst, const void* src, size_t n) {
    activate("copy");
    Staging* b = nullptr;
    for (Staging& s : staging_) {
      if (s.cap >= n && (!s.busy || cudaEventQuery(s.ev) == cudaSuccess)) {
        b = &s;
        break;
      }
    }
    cudaGetLastError();  // cudaErrorNotReady from the queries is not an error
    if (!b) {
      size_t total = 0;
      for (const Staging& s : staging_) total += s.cap;
      if (total + n > kStagingMax && !staging_.empty()) {  // too much pinned memory: wait for the oldest, reuse
        Staging* big = nullptr;
        for (Staging& s : staging_)
          if (!big || s.cap > big->cap) big = &s;
        check(cudaEventSynchronize(big->ev), "copy", "cudaEventSynchronize");
        cudaEventDestroy(big->ev);
        cudaFreeHost(big->host);
        *big = staging_.back();
        staging_.pop_back();
      }
      Staging s;
      s.cap = n < (size_t(1) << 16) ? (size_t(1) << 16) : n;
      check(cudaMallocHost(&s.host, s.cap), "copy", "cudaMallocHost (pinned staging)");
      const cudaError_t e = cudaEventCreateWithFlags(&s.ev, cudaEventDisableTiming);
      if (e != cudaSuccess) {
        cudaFreeHost(s.host);
        check(e, "copy", "cudaEventCreate");
      }
      staging_.push_back(s);
      b = &staging_.back();
    }
    std::memcpy(b->host, src, n);
    check(cudaMemcpyAsync(dst, b->host, n, cudaMemcpyHostToDevice, s_), "copy", "cudaMemcpyAsync (host to device)");
    check(cudaEventRecord(b->ev, s_), "copy", "cudaEventRecord");
    b->busy = true;
  }
  // An event recorded on this stream now (one of a small ring), for another stream to wait on.
  cudaEvent_t mark() {
    if (peer_ev_.size() < 4) {
      cudaEvent_t e;
      check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "copy", "cudaEventCreate");
      peer_ev_.push_back(e);
    }
    cudaEvent_t e = peer_ev_[peer_next_++ % peer_ev_.size()];
    check(cudaEventRecord(e, s_), "copy", "cudaEventRecord");
    return e;
  }
  void activate(const char* op) {
    check_lost(ord_, op);
    if (tl_device != ord_) {
      check(cudaSetDevice(ord_), op, "cudaSetDevice");
      tl_device = ord_;
    }
  }

 private:
  static constexpr int kSlots = 8;
  static constexpr size_t kStagingMax = size_t(256) << 20;
  struct Staging {
    void* host = nullptr;
    size_t cap = 0;
    cudaEvent_t ev = nullptr;
    bool busy = false;
  };
  int id_, ord_;
  cudaStream_t s_ = nullptr;
  CachingAllocator alloc_;
  void* ws_[kSlots] = {};
  size_t ws_n_[kSlots] = {};
  unsigned long long* flag_ = nullptr;
  void* flag_host_ = nullptr;
  std::vector<Staging> staging_;
  std::vector<cudaEvent_t> peer_ev_;
  size_t peer_next_ = 0;
};

Context& current(const OpCall& c, const char* what) {
  if (!tl_ctx || c.device != tl_ctx->ordinal() + 1) fail(ERR_NATIVE, what, "expected to run inside a CUDA op");
  return *tl_ctx;
}

DeviceContext* make_context(int id) {
  const Status& st = status();
  const int ord = id - 1;
  if (ord < 0 || ord >= st.devices)
    throw Error{ERR_DEVICE, "expected a CUDA device index in [0, " + std::to_string(st.devices) + "), got cuda:" +
                                std::to_string(ord) + (st.devices ? "" : ": " + st.reason)};
  return new Context(id);
}

// ---------------------------------------------------------------- copies between devices
// copy on cuda: lib/ records it on the GPU's side. Between devices the input is contiguous and of the output's dtype
// (lib/ makes it so first); on one device it is the elementwise copy (casts, strided views) of elementwise.cu.
KernelFn g_same_copy[DT_COUNT] = {};
void copy_kernel(const OpCall& c) {
  const TensorArg &in = c.in[0], &out = c.out[0];
  const size_t n = (size_t)numel(out) * dtype_size(out.dtype);
  if (in.device == out.device) {
    if (in.dtype == out.dtype && contiguous(in) && n) {
      check(cudaMemcpyAsync(out.data, in.data, n, cudaMemcpyDeviceToDevice, stream_of(c)), "copy", "cudaMemcpyAsync");
      return;
    }
    if (!g_same_copy[c.dtype]) fail(ERR_DEVICE, "copy", "not implemented for this device and dtype");
    g_same_copy[c.dtype](c);
    return;
  }
  if (in.dtype != out.dtype || !contiguous(in) || numel(in) != numel(out))
    fail(ERR_NATIVE, "copy", "expected a contiguous input of the output's dtype for a copy between devices");
  if (!n) return;
  Context& ctx = current(c, "copy");
  if (in.device == DEV_CPU) {  // host -> this GPU
    ctx.upload(out.data, in.data, n);
  } else if (out.device == DEV_CPU) {  // this GPU -> host: the CPU ops that follow read it, so wait
    check(cudaMemcpyAsync(out.data, in.data, n, cudaMemcpyDeviceToHost, ctx.raw()), "copy", "cudaMemcpyAsync (device to host)");
    check(cudaStreamSynchronize(ctx.raw()), "copy", "the device's work before it");
  } else {  // GPU -> GPU: the copy runs on the source's stream, ordered after the target stream's work (its new
            // block may have been freed by an op still queued there) and before the target's next ops
    Context* src = &ctx;
    Context* dst = nullptr;
    // the op runs on the input's device (lib/ records it there); the output's context is this stream's for its id
    if (in.device != c.device) fail(ERR_NATIVE, "copy", "expected a copy between GPUs on the input's device");
    dst = static_cast<Context*>(&executing_stream()->context(out.device));
    cudaEvent_t before = dst->mark();
    src->activate("copy");
    check(cudaStreamWaitEvent(src->raw(), before, 0), "copy", "cudaStreamWaitEvent");
    check(cudaMemcpyPeerAsync(out.data, out.device - 1, in.data, in.device - 1, n, src->raw()), "copy",
          "cudaMemcpyPeerAsync");
    cudaEvent_t after = src->mark();
    dst->activate("copy");
    check(cudaStreamWaitEvent(dst->raw(), after, 0), "copy", "cudaStreamWaitEvent");
    src->activate("copy");
  }
}

}  // namespace

void* workspace(const OpCall& c, int slot, size_t bytes) { return current(c, "workspace").workspace(slot, bytes); }
unsigned long long* error_flag(const OpCall& c) { return current(c, "error_flag").flag(); }
unsigned long long read_error_flag(const OpCall& c) { return current(c, "error_flag").read_flag(); }
void copy_to_host(const OpCall& c, void* dst, const void* src, size_t n) {
  Context& ctx = current(c, "copy_to_host");
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, ctx.raw()), "copy_to_host", "cudaMemcpyAsync");
  check(cudaStreamSynchronize(ctx.raw()), "copy_to_host", "cudaStreamSynchronize");
}

void register_kernels();  // register.cu

void init_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_device_backend(make_context);
    register_kernels();
    for (int dt = 0; dt < DT_COUNT; ++dt) {
      KernelFn f = kernel_lookup(OP_copy, DEV_CUDA, dt);
      g_same_copy[dt] = f == copy_kernel ? nullptr : f;
      kernel_register(OP_copy, DEV_CUDA, dt, copy_kernel);
    }
  });
}

}  // namespace cuda
}  // namespace tensile
