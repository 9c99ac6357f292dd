#include "runtime.h"
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <new>
#include <chrono>
#include <cstdio>
#include <sys/mman.h>
#include <atomic>
#include <omp.h>

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
  void* p[kWorkspaceSlots] = {};
  size_t n[kWorkspaceSlots] = {};
  ~Workspace() {
    for (int i = 0; i < kWorkspaceSlots; ++i) std::free(p[i]);
  }
};
thread_local Workspace tls_ws;
}  // namespace

void* workspace(int slot, size_t bytes) {
  if (slot < 0 || slot >= kWorkspaceSlots) fail(ERR_NATIVE, "workspace", "bad slot");
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
// Blocks of 2 MiB and more are 2 MiB-aligned and asked to be backed by transparent huge pages (the kernel's
// default here is to use them only where asked): streaming kernels over large tensors then miss the TLB far less
// (fused Adam on 10M parameters: 54 -> 64 GB/s in a plain loop on this machine).
constexpr size_t kHuge = size_t(2) << 20;
void* raw_alloc(size_t sz) {
  if (sz >= kHuge) {
    void* p = mmap(nullptr, sz + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    char* base = (char*)p;
    char* a = (char*)(((uintptr_t)base + kHuge - 1) & ~(uintptr_t)(kHuge - 1));
    if (a > base) munmap(base, (size_t)(a - base));                      // the slack before the aligned start
    if (base + sz + kHuge > a + sz) munmap(a + sz, (size_t)(base + sz + kHuge - (a + sz)));  // and after its end
    madvise(a, sz, MADV_HUGEPAGE);  // advice only: without THP the block is plain pages
    return a;
  }
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

}  // namespace

// size classes: powers of two below 1 MiB, multiples of 1 MiB above (bounded waste, good reuse)
size_t cpu_size_class(size_t b) {
  if (b <= 64) return 64;
  if (b < (1u << 20)) return size_t(1) << (64 - __builtin_clzll(b - 1));
  return (b + (1u << 20) - 1) & ~size_t((1u << 20) - 1);
}

namespace {
class CpuAllocator : public Allocator {
 public:
  ~CpuAllocator() override { trim(); }
  static size_t round(size_t b) { return cpu_size_class(b); }
  void* alloc(size_t bytes) override {
    size_t sz = round(bytes);
    bool full;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = free_.find(sz);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        pooled_.fetch_sub(sz, std::memory_order_relaxed);
        return p;
      }
      full = pooled_.load(std::memory_order_relaxed) + sz > pool_cap() / 2;
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
    free_global(p, sz);
  }
  size_t pooled_bytes() const override { return pooled_.load(std::memory_order_relaxed); }
  // Returns the pool to the system (each stream's cache of small blocks, at most 1 MiB, stays).
  void trim() override {
    std::map<size_t, std::vector<void*>> drop;
    size_t dropped = 0;
    {
      std::lock_guard<std::mutex> g(mu_);
      drop.swap(free_);
      for (auto& kv : drop) dropped += kv.first * kv.second.size();
      pooled_.fetch_sub(dropped, std::memory_order_relaxed);
    }
    for (auto& kv : drop)
      for (void* p : kv.second) raw_free(p, kv.first);
  }

 private:
  void free_global(void* p, size_t sz) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (pooled_.load(std::memory_order_relaxed) + sz <= pool_cap()) {
        free_[sz].push_back(p);
        pooled_.fetch_add(sz, std::memory_order_relaxed);
        return;
      }
    }
    raw_free(p, sz);
  }
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  std::atomic<size_t> pooled_{0};
};
}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* a = new CpuAllocator();  // never destroyed: worker threads may free during exit
  return *a;
}

static Allocator& allocator_for(int device) {
  if (device == DEV_CPU) return cpu_allocator();
  throw Error{ERR_DEVICE, "storage: expected a CPU storage, got device " + std::to_string(device) + " (a GPU's memory comes from its stream)"};
}

static DeviceContextFactory g_device_factory = nullptr;
void register_device_backend(DeviceContextFactory f) { g_device_factory = f; }

Storage* storage_new(int device, size_t bytes) {
  Allocator& a = allocator_for(device);
  void* p = a.alloc(bytes ? bytes : 1);
  return new Storage{p, bytes, device, {1}, 0};
}
Storage* storage_new_lazy(int device, size_t bytes) {
  return new Storage{nullptr, bytes, device, {1}, 0};
}
void* storage_data(Storage* s, bool zero) {
  if (!s->data) {
    s->data = allocator_for(s->device).alloc(s->bytes ? s->bytes : 1);
    if (zero) std::memset(s->data, 0, s->bytes);
  }
  return s->data;
}
void storage_ref(Storage* s) { s->refs.store(s->refs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

// ---------------------------------------------------------------- kernel table
static KernelFn g_table[OP_COUNT][DEV_COUNT][DT_COUNT];
// The CPU kernels' thread count: 0 until set_num_threads() (then OpenMP's own default, from OMP_NUM_THREADS or the
// cores). OpenMP keeps the count per thread, so each thread that runs kernels applies a change before its next op.
namespace {
std::atomic<int> g_num_threads{0};
int default_threads() {
  static const int n = omp_get_max_threads();
  return n;
}
void apply_num_threads() {
  thread_local int applied = 0;
  const int n = g_num_threads.load(std::memory_order_relaxed);
  if (n != applied) {
    omp_set_num_threads(n > 0 ? n : default_threads());
    applied = n;
  }
}
}  // namespace

int num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_threads();
}
void set_num_threads(int n) {
  default_threads();  // read OpenMP's default before the first change
  g_num_threads.store(n, std::memory_order_relaxed);
}

KernelFn kernel_lookup(int op, int device, int dtype) {
  if (op < 0 || op >= OP_COUNT || device < 0 || device >= DEV_COUNT || dtype < 0 || dtype >= DT_COUNT) return nullptr;
  return g_table[op][device][dtype];
}
void kernel_register(int op, int device, int dtype, KernelFn fn) { g_table[op][device][dtype] = fn; }

// ---------------------------------------------------------------- stream
Stream::Stream() : ring_(kSlots), rel_ring_(kRelRing), th_([this] { run(); }) {}
Stream::~Stream() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
    discard_.store(true);
  }
  cv_.notify_all();
  th_.join();
  for (int d = 1; d < kMaxDevices; ++d) {  // what the GPUs still run may read storages freed below
    if (!ctx_[d]) continue;
    try {
      ctx_[d]->synchronize();
    } catch (const Error&) {  // a lost device: its memory goes back all the same
    }
  }
  for (Storage* s : handles_)
    if (s) drop(s);
  for (Storage* s : spare_) delete s;
  for (int d = 1; d < kMaxDevices; ++d) delete ctx_[d];
  for (int k = 0; k < kSmallClasses; ++k)
    for (int i = 0; i < small_n_[k]; ++i) cpu_allocator().free(small_[k][i], size_t(64) << k);
  // The stream's environment is ending (a worker_thread that ended or was terminated): what it held went to the
  // process's pool above, which would keep it resident for streams that may never ask for those sizes. It goes back
  // to the system (the other streams' next misses take fresh blocks, as after emptyCache()).
  cpu_allocator().trim();
}

StreamItem& Stream::reserve() {
  const uint64_t t = tail_.load(std::memory_order_relaxed);
  // full ring: the device is kSlots items behind; wait for it (backpressure)
  while (t - head_.load(std::memory_order_acquire) >= kSlots) std::this_thread::yield();
  return ring_[t % kSlots];
}

void Stream::commit() {
  tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) {
    // taking the lock orders this notify after the worker's predicate check: no lost wake-up
    std::lock_guard<std::mutex> g(mu_);
    cv_.notify_one();
  }
}

bool Stream::run_inline(StreamItem& it) {
  if (head_.load(std::memory_order_acquire) != tail_.load(std::memory_order_relaxed)) return false;
  std::unique_lock<std::mutex> g(exec_mu_, std::try_to_lock);
  if (!g.owns_lock() || head_.load(std::memory_order_acquire) != tail_.load(std::memory_order_relaxed)) return false;
  execute(it);
  return true;
}

void Stream::submit(const double* buf, size_t n, std::atomic<int>* busy, double seq_end, bool may_inline) {
  busy->fetch_add(1, std::memory_order_relaxed);
  if (may_inline) {
    StreamItem now;
    now.kind = StreamItem::BATCH;
    now.batch = buf;
    now.len = n;
    now.busy = busy;
    now.seq_end = seq_end;
    if (run_inline(now)) return;
  }
  StreamItem& it = reserve();
  it.kind = StreamItem::BATCH;
  it.batch = buf;
  it.len = n;
  it.busy = busy;
  it.seq_end = seq_end;
  commit();
}

void Stream::bind(uint32_t handle, Storage* s) {
  StreamItem now;
  now.kind = StreamItem::BIND;
  now.handle = handle;
  now.storage = s;
  if (run_inline(now)) return;
  StreamItem& it = reserve();
  it.kind = StreamItem::BIND;
  it.handle = handle;
  it.storage = s;
  commit();
}

bool Stream::fence_inline(uint32_t handle, const std::function<void(const Error*, Storage*)>& fn) {
  StreamItem now;
  now.kind = StreamItem::FENCE;
  now.handle = handle;
  now.fence = fn;
  return run_inline(now);
}

void Stream::fence(uint32_t handle, std::function<void(const Error*, Storage*)> fn) {
  StreamItem& it = reserve();
  it.kind = StreamItem::FENCE;
  it.handle = handle;
  it.fence = std::move(fn);
  commit();
}

void Stream::release(const int32_t* handles, const double* last_use, size_t n, bool wake) {
  uint64_t t = rel_tail_.load(std::memory_order_relaxed);
  uint64_t head = rel_head_.load(std::memory_order_acquire);  // read once (the worker writes it): not per entry
  for (size_t i = 0; i < n; ++i, ++t) {
    while (t - head >= kRelRing) {  // full: the worker is far behind
      rel_tail_.store(t, std::memory_order_release);
      std::this_thread::yield();
      head = rel_head_.load(std::memory_order_acquire);
    }
    rel_ring_[t % kRelRing] = Release{last_use[i], handles[i]};
  }
  rel_tail_.store(t, std::memory_order_release);
  if (wake) {
    StreamItem& it = reserve();
    it.kind = StreamItem::NOP;
    commit();
  }
}

void Stream::release_now(int32_t h) {
  Storage* s = h > 0 ? lookup((uint32_t)h) : nullptr;
  if (s) {
    handles_[h] = nullptr;
    drop(s);
  }
}

// Moves the releases the JS thread handed over into the worker's queues, dropping those already due.
void Stream::take_releases() {
  const uint64_t t = rel_tail_.load(std::memory_order_acquire);
  uint64_t h = rel_head_.load(std::memory_order_relaxed);
  if (h == t) return;
  for (; h != t; ++h) {
    const Release r = rel_ring_[h % kRelRing];
    if (r.at <= decoded_) {
      release_now(r.handle);
    } else if (rel_fifo_.empty() || rel_fifo_.back().at <= r.at) {
      rel_fifo_.push_back(r);
    } else {
      rel_heap_.push_back(r);
      std::push_heap(rel_heap_.begin(), rel_heap_.end(), std::greater<Release>());
    }
  }
  rel_head_.store(t, std::memory_order_release);
}

// Drops the handles whose last use has now run.
void Stream::release_due() {
  while (!rel_fifo_.empty() && rel_fifo_.front().at <= decoded_) {
    release_now(rel_fifo_.front().handle);
    rel_fifo_.pop_front();
  }
  while (!rel_heap_.empty() && rel_heap_.front().at <= decoded_) {
    std::pop_heap(rel_heap_.begin(), rel_heap_.end(), std::greater<Release>());
    release_now(rel_heap_.back().handle);
    rel_heap_.pop_back();
  }
}

void Stream::decoded_one() {
  decoded_ += 1;
  if (!rel_fifo_.empty() || !rel_heap_.empty()) release_due();
}

void Stream::synchronize() {
  const uint64_t target = tail_.load(std::memory_order_acquire);
  if (head_.load(std::memory_order_acquire) >= target) return;
  std::unique_lock<std::mutex> lk(mu_);
  waiters_.fetch_add(1, std::memory_order_seq_cst);
  idle_cv_.wait(lk, [&] { return head_.load(std::memory_order_acquire) >= target; });
  waiters_.fetch_sub(1, std::memory_order_relaxed);
}

int32_t Stream::new_failure(Error e) {
  int32_t f;
  if (!free_failures_.empty()) {
    f = free_failures_.back();
    free_failures_.pop_back();
    failures_[f - 1] = Failure{std::move(e), 0, false};
  } else {
    failures_.push_back(Failure{std::move(e), 0, false});
    f = (int32_t)failures_.size();
  }
  if (unreported_.size() < kMaxUnreported) {
    unreported_.push_back(f);
    failures_[f - 1].refs++;
  }
  return f;
}

void Stream::unref_failure(int32_t f) {
  if (--failures_[f - 1].refs == 0) {
    failures_[f - 1].err.message.clear();
    free_failures_.push_back(f);
  }
}

void Stream::mark_failed(Storage* s, int32_t f) {
  if (s->failed == f) return;
  failures_[f - 1].refs++;
  if (s->failed) unref_failure(s->failed);
  s->failed = f;
}

void Stream::fail_outputs(int op, int nin, int nout, Error e) {
  // named after the op that raised it (kernels' messages already are: "cross_entropy: expected labels ...")
  const std::string name = op_name(op);
  if (e.message.compare(0, name.size() + 1, name + ":") != 0) e.message = name + ": " + e.message;
  e.seq = decoded_ + 1;  // this record's number: it is counted once it has run
  const int32_t f = new_failure(std::move(e));
  for (int a = nin; a < nin + nout; ++a)
    if (arg_st_[a]) mark_failed(arg_st_[a], f);
}

bool Stream::error_for(uint32_t handle, Error* out) {
  if (handle) {
    Storage* s = lookup(handle);
    if (!s) {
      *out = faulted_ ? fault_ : Error{ERR_NATIVE, "read: expected a live tensor handle, got a released one"};
      return true;
    }
    if (!s->failed) return false;
    Failure& f = failures_[s->failed - 1];
    f.reported = true;
    *out = f.err;
    return true;
  }
  // a sync: the first failure since the previous sync that no read has reported; the others count as reported
  bool found = false;
  for (int32_t f : unreported_) {
    if (!found && !failures_[f - 1].reported) {
      *out = failures_[f - 1].err;
      found = true;
    }
    failures_[f - 1].reported = true;
    unref_failure(f);
  }
  unreported_.clear();
  return found;
}

DeviceContext& Stream::context(int id) {
  if (id <= 0 || id >= kMaxDevices) throw Error{ERR_DEVICE, "expected a GPU device id, got " + std::to_string(id)};
  if (!ctx_[id]) {
    if (!g_device_factory) throw Error{ERR_DEVICE, "not available: this build of tensile has no CUDA backend"};
    ctx_[id] = g_device_factory(id);
  }
  return *ctx_[id];
}

void Stream::synchronize_devices() {
  for (int d = 1; d < kMaxDevices; ++d)
    if (ctx_[d]) ctx_[d]->synchronize();
}

void Stream::read_bytes(Storage* s, size_t off, void* dst, size_t n) {
  if (!n) return;
  if (s->device == DEV_CPU) {
    std::memcpy(dst, (const char*)storage_data(s, true) + off, n);
  } else if (!s->data) {  // never written (its op failed): zeros, as on the CPU
    std::memset(dst, 0, n);
  } else {
    context(s->device).to_host(dst, (const char*)s->data + off, n);
  }
}

Storage* Stream::lookup(uint32_t handle) const { return handle < handles_.size() ? handles_[handle] : nullptr; }
Storage* Stream::idle_handle(uint32_t handle) const { return lookup(handle); }

void Stream::set_handle(uint32_t handle, Storage* s) {
  if (handle >= handles_.size()) handles_.resize(std::max<size_t>(handle + 1, handles_.size() * 2), nullptr);
  if (handles_[handle]) drop(handles_[handle]);  // a well-formed stream released it first
  handles_[handle] = s;
}

void Stream::count(const Storage* s, int sign) {
  const int d = s->device;
  live_bytes_[d].store(live_bytes_[d].load(std::memory_order_relaxed) + sign * (int64_t)s->bytes, std::memory_order_relaxed);
  live_count_[d].store(live_count_[d].load(std::memory_order_relaxed) + sign, std::memory_order_relaxed);
}

// The last reference's storage gives its memory back and its record is kept for the next output.
void Stream::drop(Storage* s) {
  const int r = s->refs.load(std::memory_order_relaxed);
  if (r > 1) {
    s->refs.store(r - 1, std::memory_order_relaxed);
    return;
  }
  count(s, -1);
  if (s->failed) {
    unref_failure(s->failed);
    s->failed = 0;
  }
  if (s->data) {
    if (s->device != DEV_CPU) {
      ctx_[s->device]->allocator().free(s->data, s->bytes ? s->bytes : 1);
    } else {
      const size_t sz = cpu_size_class(s->bytes ? s->bytes : 1);
      const int k = sz <= kSmallMax ? __builtin_ctzll(sz) - 6 : -1;
      if (k >= 0 && small_n_[k] < kSmallDepth) small_[k][small_n_[k]++] = s->data;
      else cpu_allocator().free(s->data, s->bytes ? s->bytes : 1);
    }
  }
  if (spare_.size() < 4096) spare_.push_back(s);
  else delete s;
}

// The memory of an output, taken when its op runs: small CPU blocks come from the stream's own cache.
void* Stream::data(Storage* s) {
  if (s->data) return s->data;
  if (s->device != DEV_CPU) return s->data = context(s->device).allocator().alloc(s->bytes ? s->bytes : 1);
  {
    const size_t sz = cpu_size_class(s->bytes ? s->bytes : 1);
    if (sz <= kSmallMax) {
      const int k = __builtin_ctzll(sz) - 6;
      if (small_n_[k] > 0) return s->data = small_[k][--small_n_[k]];
    }
  }
  return storage_data(s);
}

Storage* Stream::make_output(int device, size_t bytes, uint32_t handle) {
  Storage* s;
  if (spare_.empty()) {
    s = storage_new_lazy(device, bytes);
  } else {
    s = spare_.back();
    spare_.pop_back();
    s->data = nullptr;
    s->bytes = bytes;
    s->device = device;
    s->refs.store(1, std::memory_order_relaxed);
    s->failed = 0;
  }
  count(s, 1);
  set_handle(handle, s);
  return s;
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

// Decodes one OP record at b[p] (advancing p) and runs it. Returns false when the record is malformed: the rest of
// the buffer is then dropped. Outputs are bound to their handles even when the op is skipped after an error, so
// that the records that follow (releases, later ops) still find them.
bool Stream::run_op(const double* b, size_t n, size_t& p) {
  auto need = [&](size_t k) { return p + k <= n; };
  if (!need(5)) return false;
  const int op = (int)b[p], dtype = (int)b[p + 1], device = (int)b[p + 2], nin = (int)b[p + 3], nout = (int)b[p + 4];
  p += 5;
  if (nin < 0 || nout < 0 || nin + nout > 4096 || device < 0 || device >= kMaxDevices) return false;
  const size_t nargs = (size_t)(nin + nout);
  if (args_.size() < nargs) {
    args_.resize(nargs);
    arg_st_.resize(nargs);
    arg_off_.resize(nargs);
  }
  const char* bad = nullptr;
  for (size_t a = 0; a < nargs; ++a) {
    if (!need(3)) return false;
    const double hid = b[p++];
    TensorArg& t = args_[a];
    if (hid < 0) {  // a new output: contiguous, its memory taken when the op runs
      const int code = (int)b[p++];
      const int odev = code >= 256 ? code / 256 - 1 : device;  // a copy's output on another device
      t.dtype = code & 255;
      t.ndim = (int)b[p++];
      if (t.ndim < 0 || t.ndim > kMaxDims || t.dtype < 0 || t.dtype >= DT_COUNT || odev < 0 || odev >= kMaxDevices ||
          !need((size_t)t.ndim))
        return false;
      int64_t numel = 1;
      for (int i = 0; i < t.ndim; ++i) numel *= (t.shape[i] = (int64_t)b[p++]);
      for (int i = t.ndim - 1; i >= 0; --i) t.strides[i] = i == t.ndim - 1 ? 1 : t.strides[i + 1] * t.shape[i + 1];
      arg_st_[a] = make_output(odev, (size_t)numel * dtype_size(t.dtype), (uint32_t)-hid);
      arg_off_[a] = 0;
    } else {
      const int64_t off = (int64_t)b[p++];
      t.dtype = (int)b[p++];
      t.ndim = (int)b[p++];
      if (t.ndim < 0 || t.ndim > kMaxDims || t.dtype < 0 || t.dtype >= DT_COUNT || !need(2 * (size_t)t.ndim)) return false;
      for (int i = 0; i < t.ndim; ++i) t.shape[i] = (int64_t)b[p++];
      for (int i = 0; i < t.ndim; ++i) t.strides[i] = (int64_t)b[p++];
      arg_st_[a] = lookup((uint32_t)hid);
      arg_off_[a] = off * (int64_t)dtype_size(t.dtype);
      if (!arg_st_[a]) bad = "expected a live tensor handle, got a released one";
    }
  }
  if (!need(1)) return false;
  const int nip = (int)b[p++];
  if (nip < 0 || !need((size_t)nip + 1)) return false;
  if (ip_.size() < (size_t)nip) ip_.resize(nip);
  for (int i = 0; i < nip; ++i) ip_[i] = (int64_t)b[p++];
  const int nfp = (int)b[p++];
  if (nfp < 0 || !need((size_t)nfp)) return false;
  const double* fp = b + p;
  p += (size_t)nfp;
  exec_op(op, dtype, device, nin, nout, nip, fp, nfp, bad);
  return true;
}

// Decodes one FLAT record whose tag slot is b[p] (advancing p past it) and runs it.
bool Stream::run_flat(const double* b, size_t n, size_t& p) {
  if (p + 5 > n) return false;
  const int32_t* w = reinterpret_cast<const int32_t*>(b + p);
  p += 5;
  const int op = w[1], dtype = w[2], device = w[3], odt = w[8];
  const int64_t len = w[4];
  const int nin = w[6] > 0 ? 2 : 1;
  if (device < 0 || device >= kMaxDevices || dtype < 0 || dtype >= DT_COUNT || odt < 0 || odt >= DT_COUNT || len < 0 ||
      w[7] <= 0)
    return false;
  if (args_.size() < 3) {
    args_.resize(3);
    arg_st_.resize(3);
    arg_off_.resize(3);
  }
  const char* bad = nullptr;
  for (int a = 0; a < nin; ++a) {
    TensorArg& t = args_[a];
    arg_st_[a] = lookup((uint32_t)w[5 + a]);
    arg_off_[a] = 0;
    t.dtype = dtype;
    t.ndim = 1;
    t.shape[0] = len;
    t.strides[0] = 1;
    if (!arg_st_[a]) bad = "expected a live tensor handle, got a released one";
  }
  TensorArg& o = args_[nin];
  o.dtype = odt;
  o.ndim = 1;
  o.shape[0] = len;
  o.strides[0] = 1;
  arg_st_[nin] = make_output(device, (size_t)len * dtype_size(odt), (uint32_t)w[7]);
  arg_off_[nin] = 0;
  exec_op(op, dtype, device, nin, 1, 0, nullptr, 0, bad);
  return true;
}

namespace {
thread_local Stream* tl_executing = nullptr;
struct Executing {
  Stream* prev;
  explicit Executing(Stream* s) : prev(tl_executing) { tl_executing = s; }
  ~Executing() { tl_executing = prev; }
};
}  // namespace
Stream* executing_stream() { return tl_executing; }

// Runs a decoded op (args_, arg_st_, arg_off_, ip_[0, nip)); `bad` reports a released handle among its arguments.
void Stream::exec_op(int op, int dtype, int device, int nin, int nout, int nip, const double* fp, int nfp, const char* bad) {
  // an input (or a tensor it updates in place) that an earlier failure reached: skip, and pass the failure on
  int32_t inherited = 0;
  for (int a = 0; a < nin + nout && !inherited; ++a)
    if (arg_st_[a] && arg_st_[a]->failed) inherited = arg_st_[a]->failed;
  if (inherited) {
    for (int a = nin; a < nin + nout; ++a)
      if (arg_st_[a]) mark_failed(arg_st_[a], inherited);
    return;
  }
  KernelFn fn = kernel_lookup(op, device_kind(device), dtype);
  if (bad || !fn) {
    fail_outputs(op, nin, nout, Error{bad ? ERR_NATIVE : ERR_DEVICE, bad ? bad : "not implemented for this device and dtype"});
    return;
  }
  OpCall call{op, dtype, nin, nout, args_.data(), args_.data() + nin, nip, nfp, ip_.data(), fp, device, nullptr};
  Executing executing(this);
  apply_num_threads();
  try {
    if (device != DEV_CPU) call.stream = context(device).stream(op);
    for (int a = 0; a < nin + nout; ++a) {
      args_[a].data = (char*)data(arg_st_[a]) + arg_off_[a];
      args_[a].device = arg_st_[a]->device;
    }
    if (g_profile.on) {
      const auto t0 = std::chrono::steady_clock::now();
      fn(call);
      const int64_t dt = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      g_profile.ns[op] += dt;
      g_profile.calls[op] += 1;
      if (g_profile.shapes) g_profile.add_shape(call, dt);
    } else {
      fn(call);
    }
  } catch (const Error& ex) {
    fail_outputs(op, nin, nout, ex);
  } catch (const std::bad_alloc&) {
    fail_outputs(op, nin, nout, Error{ERR_MEMORY, "out of memory"});
  } catch (...) {
    fail_outputs(op, nin, nout, Error{ERR_NATIVE, "unknown native error"});
  }
}

void Stream::run_batch(const double* b, size_t n) {
  size_t p = 0;
  bool ok = true;
  while (ok && p < n) {
    take_releases();
    const int32_t* w = reinterpret_cast<const int32_t*>(b + p);
    switch (w[0]) {
      case CMD_OP:
        ++p;
        ok = run_op(b, n, p);
        if (ok) decoded_one();
        break;
      case CMD_FLAT:
        ok = run_flat(b, n, p);
        if (ok) decoded_one();
        break;
      case CMD_RELEASE:  // a dispose(): every record before it has run
        ++p;
        release_now(w[1]);
        break;
      case CMD_SHARE: {
        ok = p + 2 <= n;
        if (!ok) break;
        p += 2;
        Storage* s = lookup((uint32_t)w[1]);
        if (s) {
          storage_ref(s);
          set_handle((uint32_t)w[2], s);
        } else {  // the view reads as failed (lib/ never asks this: it checks that a tensor is live first)
          Error e{ERR_NATIVE, "view: expected a live tensor handle, got a released one"};
          e.seq = decoded_ + 1;
          mark_failed(make_output(DEV_CPU, 0, (uint32_t)w[2]), new_failure(std::move(e)));
        }
        decoded_one();
        break;
      }
      default:
        ok = false;
    }
  }
  if (!ok) {  // lib/ checks what it records, so this is a bug of ours: say so wherever it shows
    Error e{ERR_NATIVE, "stream: malformed command buffer (the records after the bad one in it were dropped)"};
    if (!faulted_) {
      faulted_ = true;
      fault_ = e;
    }
    new_failure(std::move(e));
  }
}

void Stream::execute(StreamItem& it) {
  take_releases();
  switch (it.kind) {
    case StreamItem::NOP:
      break;
    case StreamItem::BATCH:
      if (!discard_.load(std::memory_order_relaxed)) run_batch(it.batch, it.len);
      // the count agrees with lib/'s unless records were dropped (a malformed buffer): then it catches up here
      if (decoded_ < it.seq_end) {
        decoded_ = it.seq_end;
        release_due();
      }
      it.busy->fetch_sub(1, std::memory_order_release);
      break;
    case StreamItem::BIND:
      count(it.storage, 1);
      set_handle(it.handle, it.storage);
      decoded_one();  // binds are numbered like records
      break;
    case StreamItem::FENCE: {
      Error err;
      bool had = error_for(it.handle, &err);
      if (!it.handle) {  // a sync(): also what the GPUs still run of this stream's work (and their errors)
        try {
          synchronize_devices();
        } catch (const Error& e) {
          if (!had) err = e;
          had = true;
        }
      }
      Storage* s = it.handle ? lookup(it.handle) : nullptr;
      it.fence(had ? &err : nullptr, s);
      it.fence = nullptr;
      decoded_one();  // reads are numbered like records (a read counts as a use of its handle)
      break;
    }
  }
}

void Stream::run() {
  for (;;) {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_acquire)) {
      if (waiters_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> g(mu_);
        idle_cv_.notify_all();
      }
      // Spin a while (up to 300 us) before sleeping: waking a sleeping worker costs the JS thread a futex call, and
      // on a virtual machine an interrupt to an idle vCPU (tens of microseconds), which a program that submits every
      // few hundred microseconds would pay each time. The spin yields every few microseconds, so that a runnable
      // thread (the JS thread, OpenMP's) that wants this core gets it.
      bool got = false;
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(300);
      for (int i = 1; !got; ++i) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
        got = h != tail_.load(std::memory_order_acquire);
        if ((i & 127) == 0 && !got) {
          if (std::chrono::steady_clock::now() > until) break;
          std::this_thread::yield();
        }
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
    {
      std::lock_guard<std::mutex> g(exec_mu_);
      execute(ring_[h % kSlots]);
      head_.store(h + 1, std::memory_order_release);
    }
  }
}

}  // namespace tensile
