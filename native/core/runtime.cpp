#include "runtime.h"
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

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
namespace {
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
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = free_.find(sz);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        pooled_ -= sz;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, sz);
    if (!p) {
      trim();
      p = std::aligned_alloc(64, sz);
      if (!p) throw Error{ERR_MEMORY, "out of memory allocating " + std::to_string(bytes) + " bytes on cpu"};
    }
    return p;
  }
  void free(void* p, size_t bytes) override {
    size_t sz = round(bytes);
    std::lock_guard<std::mutex> g(mu_);
    // Keep at most 256 MiB pooled: beyond that, return memory to the system.
    if (pooled_ + sz > (size_t(256) << 20)) {
      std::free(p);
      return;
    }
    free_[sz].push_back(p);
    pooled_ += sz;
  }
  size_t pooled_bytes() const override { return pooled_; }
  void trim() override {
    std::lock_guard<std::mutex> g(mu_);
    for (auto& kv : free_)
      for (void* p : kv.second) std::free(p);
    free_.clear();
    pooled_ = 0;
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
void storage_ref(Storage* s) { s->refs.fetch_add(1, std::memory_order_relaxed); }
void storage_unref(Storage* s) {
  if (s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    allocator_for(s->device).free(s->data, s->bytes ? s->bytes : 1);
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
Stream::Stream() : th_([this] { run(); }) {}
Stream::~Stream() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  th_.join();
}

void Stream::push(QueuedOp&& op) {
  {
    std::lock_guard<std::mutex> g(mu_);
    q_.push_back(std::move(op));
    pending_.fetch_add(1, std::memory_order_release);
  }
  // Wake the worker only when it sleeps: an op pushed while it works costs no syscall.
  if (sleeping_.load(std::memory_order_acquire)) cv_.notify_one();
}

void Stream::synchronize() {
  std::unique_lock<std::mutex> lk(mu_);
  idle_cv_.wait(lk, [this] { return q_.empty() && !busy_; });
}

bool Stream::take_error(Error* out) {
  std::lock_guard<std::mutex> g(mu_);
  if (!has_error_) return false;
  *out = error_;
  has_error_ = false;
  return true;
}

void Stream::run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    if (q_.empty()) {
      busy_ = false;
      idle_cv_.notify_all();
      // spin briefly without the lock before sleeping: back-to-back small ops avoid a futex round trip
      lk.unlock();
      for (int i = 0; i < 2000; ++i) {
          if (pending_.load(std::memory_order_acquire) > 0) break;  // confirmed under the lock below
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      lk.lock();
      if (q_.empty() && !stop_) {
        sleeping_.store(true, std::memory_order_release);
        cv_.wait(lk, [this] { return stop_ || !q_.empty(); });
        sleeping_.store(false, std::memory_order_release);
      }
      if (q_.empty() && stop_) return;
      continue;
    }
    QueuedOp op = std::move(q_.front());
    q_.pop_front();
    pending_.fetch_sub(1, std::memory_order_relaxed);
    busy_ = true;
    bool had_error = has_error_;
    Error err_copy;
    if (op.fence && had_error) {  // a fence (a read) takes the error: it is reported once, then work goes on
      err_copy = error_;
      has_error_ = false;
    }
    lk.unlock();
    if (op.fence) {
      op.fence(had_error ? &err_copy : nullptr);
    } else if (!had_error) {
      // After an error, later ops are skipped until the error is taken by a read: their inputs may be garbage.
      try {
        op.fn(op.call);
      } catch (const Error& e) {
        std::lock_guard<std::mutex> g(mu_);
        if (!has_error_) {
          has_error_ = true;
          error_ = e;
        }
      } catch (const std::bad_alloc&) {
        std::lock_guard<std::mutex> g(mu_);
        if (!has_error_) {
          has_error_ = true;
          error_ = Error{ERR_MEMORY, std::string(op_name(op.call.op)) + ": out of memory"};
        }
      } catch (...) {
        std::lock_guard<std::mutex> g(mu_);
        if (!has_error_) {
          has_error_ = true;
          error_ = Error{ERR_NATIVE, std::string(op_name(op.call.op)) + ": unknown native error"};
        }
      }
    }
    for (Storage* s : op.refs) storage_unref(s);
    lk.lock();
  }
}

}  // namespace tensile
