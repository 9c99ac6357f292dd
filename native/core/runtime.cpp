#include "runtime.h"
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <new>
#include <chrono>
#include <cstdio>
#include <sys/mman.h>

namespace tensile {

const char* op_name(int op) {
  static const char* names[] = {
#define TS_OP(name) #name,
#include "ops.def"
#undef TS_OP
  };
  static_assert(sizeof(names) / sizeof(names[0]) == OP_COUNT, "op table and names out of sync");
  return (op >= 0 && op < OP_COUNT) ? names[op] : "unknown_op";
}

void fail(int kind, const char* op, const char* msg) { throw Error{kind, std::string(op) + ": " + msg}; }

// ---------------------------------------------------------------- workspace
namespace {
struct Workspace {
  void* p[8] = {};
  size_t n[8] = {};
  ~Workspace() {
    for (int i = 0; i < 8; ++i) std::free(p[i]);
  }
};
thread_local Workspace tls_ws;
}  // namespace

void* workspace(int slot, size_t bytes) {
  if (slot < 0 || slot >= 8) fail(ERR_NATIVE, "workspace", "bad slot");
  if (tls_ws.n[slot] < bytes) {
    std::free(tls_ws.p[slot]);
    size_t sz = (bytes + 63) & ~size_t(63);
    tls_ws.p[slot] = std::aligned_alloc(64, sz);
    if (!tls_ws.p[slot]) {
      tls_ws.n[slot] = 0;
      fail(ERR_MEMORY, "workspace", "out of memory");
    }
    tls_ws.n[slot] = sz;
  }
  return tls_ws.p[slot];
}

// ---------------------------------------------------------------- CPU allocator: 64-byte aligned, size-class pool
// Blocks of 256 KiB and more come straight from mmap and go back with munmap: glibc's heap, fed by one thread and
// freed by another (the stream's worker), fragments and keeps growing under that pattern. The pool keeps freed blocks
// for reuse up to a cap (TENSILE_POOL_MB, default 1024); when a request misses while the pool is full, the pool is
// emptied first, so that blocks of sizes no longer used do not pin memory.
namespace {
constexpr size_t kMmapMin = size_t(256) << 10;
size_t pool_cap() {
  static const size_t cap = [] {
    const char* e = std::getenv("TENSILE_POOL_MB");
    long mb = e ? std::atol(e) : 1024;
    return size_t(mb < 0 ? 0 : mb) << 20;
  }();
  return cap;
}
void* raw_alloc(size_t sz) {
  if (sz >= kMmapMin) {
    void* p = mmap(nullptr, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  return std::aligned_alloc(64, sz);
}
void raw_free(void* p, size_t sz) {
  if (sz >= kMmapMin) munmap(p, sz);
  else std::free(p);
}

class CpuAllocator : public Allocator {
 public:
  ~CpuAllocator() override { trim(); }
  static size_t round(size_t b) {
    if (b <= 64) return 64;
    // size classes: powers of two below 1 MiB, multiples of 1 MiB above (bounded waste, good reuse)
    if (b < (1u << 20)) {
      size_t r = 64;
      while (r < b) r <<= 1;
      return r;
    }
    return (b + (1u << 20) - 1) & ~size_t((1u << 20) - 1);
  }
  void* alloc(size_t bytes) override {
    size_t sz = round(bytes);
    bool full;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = free_.find(sz);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        pooled_ -= sz;
        return p;
      }
      full = pooled_ + sz > pool_cap() / 2;
    }
    if (full) trim();
    void* p = raw_alloc(sz);
    if (!p) {
      trim();
      p = raw_alloc(sz);
      if (!p) throw Error{ERR_MEMORY, "out of memory allocating " + std::to_string(bytes) + " bytes on cpu"};
    }
    return p;
  }
  void free(void* p, size_t bytes) override {
    size_t sz = round(bytes);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (pooled_ + sz <= pool_cap()) {
        free_[sz].push_back(p);
        pooled_ += sz;
        return;
      }
    }
    raw_free(p, sz);
  }
  size_t pooled_bytes() const override { return pooled_; }
  void trim() override {
    std::map<size_t, std::vector<void*>> drop;
    {
      std::lock_guard<std::mutex> g(mu_);
      drop.swap(free_);
      pooled_ = 0;
    }
    for (auto& kv : drop)
      for (void* p : kv.second) raw_free(p, kv.first);
  }

 private:
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t pooled_ = 0;
};
std::atomic<int64_t> g_live_bytes[DEV_COUNT];
std::atomic<int64_t> g_live_count[DEV_COUNT];
}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* a = new CpuAllocator();  // never destroyed: worker threads may free during exit
  return *a;
}

static Allocator& allocator_for(int device) {
  if (device == DEV_CPU) return cpu_allocator();
  throw Error{ERR_DEVICE, "device " + std::to_string(device) + " has no allocator in this build"};
}

Storage* storage_new(int device, size_t bytes) {
  Allocator& a = allocator_for(device);
  void* p = a.alloc(bytes ? bytes : 1);
  Storage* s = new Storage{p, bytes, device, {1}};
  g_live_bytes[device] += (int64_t)bytes;
  g_live_count[device] += 1;
  return s;
}
Storage* storage_new_lazy(int device, size_t bytes) {
  allocator_for(device);  // a device without an allocator fails now, on the caller's thread
  Storage* s = new Storage{nullptr, bytes, device, {1}};
  g_live_bytes[device] += (int64_t)bytes;
  g_live_count[device] += 1;
  return s;
}
void* storage_data(Storage* s, bool zero) {
  if (!s->data) {
    s->data = allocator_for(s->device).alloc(s->bytes ? s->bytes : 1);
    if (zero) std::memset(s->data, 0, s->bytes);
  }
  return s->data;
}
void storage_ref(Storage* s) { s->refs.fetch_add(1, std::memory_order_relaxed); }
void storage_unref(Storage* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (s->data) allocator_for(s->device).free(s->data, s->bytes ? s->bytes : 1);
    g_live_bytes[s->device] -= (int64_t)s->bytes;
    g_live_count[s->device] -= 1;
    delete s;
  }
}
int64_t live_storage_bytes(int device) { return g_live_bytes[device].load(); }
int64_t live_storage_count(int device) { return g_live_count[device].load(); }

// ---------------------------------------------------------------- kernel table
static KernelFn g_table[OP_COUNT][DEV_COUNT][DT_COUNT];
KernelFn kernel_lookup(int op, int device, int dtype) {
  if (op < 0 || op >= OP_COUNT || device < 0 || device >= DEV_COUNT || dtype < 0 || dtype >= DT_COUNT) return nullptr;
  return g_table[op][device][dtype];
}
void kernel_register(int op, int device, int dtype, KernelFn fn) { g_table[op][device][dtype] = fn; }

// ---------------------------------------------------------------- stream
Stream::Stream() : ring_(kSlots), th_([this] { run(); }) {}
Stream::~Stream() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  th_.join();
}

QueuedOp& Stream::reserve() {
  const uint64_t t = tail_.load(std::memory_order_relaxed);
  // full ring: the device is kSlots ops behind; wait for it (backpressure)
  while (t - head_.load(std::memory_order_acquire) >= kSlots) std::this_thread::yield();
  QueuedOp& op = ring_[t % kSlots];
  op.clear();
  return op;
}

void Stream::commit() {
  tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) {
    // taking the lock orders this notify after the worker's predicate check: no lost wake-up
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_one();
  }
}

void Stream::abandon() { ring_[tail_.load(std::memory_order_relaxed) % kSlots].clear(); }

void Stream::synchronize() {
  const uint64_t target = tail_.load(std::memory_order_acquire);
  if (head_.load(std::memory_order_acquire) >= target) return;
  std::unique_lock<std::mutex> lk(mu_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  idle_cv_.wait(lk, [&] { return head_.load(std::memory_order_acquire) >= target; });
  waiters_.fetch_sub(1, std::memory_order_relaxed);
}

bool Stream::take_error(Error* out) {
  std::lock_guard<std::mutex> g(mu_);
  if (!has_error_) return false;
  *out = error_;
  has_error_ = false;
  return true;
}

// ---------------------------------------------------------------- profiler
// TENSILE_PROFILE=1: the worker times every op and the process prints a per-op table to stderr at exit;
// TENSILE_PROFILE=shapes: per op and input shapes.
namespace {
struct Profile {
  bool on = false, shapes = false;
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, int64_t>> by_shape;  // key -> (ns, calls)
  void add_shape(const OpCall& c, int64_t dt) {
    std::string k = op_name(c.op);
    for (int a = 0; a < c.nin && a < 2; ++a) {
      k += a ? " x [" : " [";
      for (int i = 0; i < c.in[a].ndim; ++i) k += (i ? "," : "") + std::to_string(c.in[a].shape[i]);
      k += "]";
    }
    std::lock_guard<std::mutex> g(mu);
    auto& e = by_shape[k];
    e.first += dt;
    e.second += 1;
  }
  std::atomic<int64_t> ns[OP_COUNT] = {};
  std::atomic<int64_t> calls[OP_COUNT] = {};
  Profile() {
    const char* e = std::getenv("TENSILE_PROFILE");
    on = e && *e && std::strcmp(e, "0") != 0;
    shapes = on && std::strcmp(e, "shapes") == 0;
  }
  ~Profile() {
    if (!on) return;
    int64_t total = 0;
    for (int i = 0; i < OP_COUNT; ++i) total += ns[i].load();
    if (total == 0) return;
    std::fprintf(stderr, "tensile profile (worker time per op)\n%-28s %10s %12s %8s\n", "op", "calls", "ms", "%");
    std::vector<int> order;
    for (int i = 0; i < OP_COUNT; ++i)
      if (calls[i].load()) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return ns[a].load() > ns[b].load(); });
    for (int i : order)
      std::fprintf(stderr, "%-28s %10lld %12.2f %8.1f\n", op_name(i), (long long)calls[i].load(), ns[i].load() / 1e6,
                   100.0 * ns[i].load() / total);
    std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> rows(by_shape.begin(), by_shape.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    for (const auto& r : rows)
      std::fprintf(stderr, "%-60s %8lld %10.2f ms %8.3f ms/call\n", r.first.c_str(), (long long)r.second.second,
                   r.second.first / 1e6, r.second.first / 1e6 / (double)r.second.second);
  }
};
Profile g_profile;
}  // namespace

void Stream::execute(QueuedOp& op) {
  if (op.fence) {
    // a fence (a read) takes the error: it is reported once, then work goes on
    Error err;
    bool had = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (has_error_) {
        err = error_;
        has_error_ = false;
        had = true;
      }
    }
    op.fence(had ? &err : nullptr);
  } else {
    bool skip;
    {
      // after an error, later ops are skipped until a read takes it: their inputs may be garbage
      std::lock_guard<std::mutex> g(mu_);
      skip = has_error_;
    }
    if (!skip) {
      Error e{ERR_NATIVE, ""};
      bool failed = true;
      try {
        if (op.rebase)
          for (size_t i = 0; i < op.args.size(); ++i)
            op.args[i].data = (char*)storage_data(op.refs[i]) + (intptr_t)op.args[i].data;
        if (g_profile.on) {
          const auto t0 = std::chrono::steady_clock::now();
          op.fn(op.call);
          const int64_t dt = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
          g_profile.ns[op.call.op] += dt;
          g_profile.calls[op.call.op] += 1;
          if (g_profile.shapes) g_profile.add_shape(op.call, dt);
        } else {
          op.fn(op.call);
        }
        failed = false;
      } catch (const Error& ex) {
        e = ex;
      } catch (const std::bad_alloc&) {
        e = Error{ERR_MEMORY, std::string(op_name(op.call.op)) + ": out of memory"};
      } catch (...) {
        e = Error{ERR_NATIVE, std::string(op_name(op.call.op)) + ": unknown native error"};
      }
      if (failed) {
        std::lock_guard<std::mutex> g(mu_);
        if (!has_error_) {
          has_error_ = true;
          error_ = e;
        }
      }
    }
  }
  for (Storage* s : op.refs) storage_unref(s);
  op.refs.clear();
  op.fence = nullptr;
}

void Stream::run() {
  for (;;) {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_acquire)) {
      if (waiters_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> g(mu_);
        idle_cv_.notify_all();
      }
      // spin a little (tens of microseconds) before sleeping: bursts of small ops skip the futex round trip
      bool got = false;
      for (int i = 0; i < 512 && !got; ++i) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        got = h != tail_.load(std::memory_order_acquire);
      }
      if (!got) {
        std::unique_lock<std::mutex> lk(mu_);
        sleeping_.store(true, std::memory_order_seq_cst);
        cv_.wait(lk, [&] { return stop_ || h != tail_.load(std::memory_order_seq_cst); });
        sleeping_.store(false, std::memory_order_relaxed);
        if (stop_ && h == tail_.load(std::memory_order_acquire)) return;
      }
      continue;
    }
    execute(ring_[h % kSlots]);
    head_.store(h + 1, std::memory_order_release);
  }
}

}  // namespace tensile
