// The SIMT emulator behind native/emu/cuda_emu.h: devices over host memory, asynchronous in-order streams run by a
// small pool of OS threads, and blocks whose CUDA threads are fibers (our own x86-64 context switch; ucontext
// elsewhere) scheduled in rounds between barriers. See native/emu/README.md.
#include "cuda_emu.h"
#include "stream_abi.h"
#undef __assert_fail

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#if defined(__SANITIZE_ADDRESS__)
#define TS_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TS_EMU_ASAN 1
#endif
#endif
#ifdef TS_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

// ---- context switch ----------------------------------------------------------------------------------------------
#if defined(__x86_64__)
// tensile_emu_switch(save, to): pushes the callee-saved registers and the x87/MXCSR control words, stores rsp in
// *save, loads rsp = to and pops the same frame from there. tensile_emu_start: where a new fiber's frame returns to;
// calls r13(r12) on an aligned stack (the end of the fiber's call chain for unwinders).
asm(R"(
  .text
  .p2align 4
  .globl tensile_emu_switch
  .hidden tensile_emu_switch
  .type tensile_emu_switch,@function
tensile_emu_switch:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  fldcw (%rsp)
  ldmxcsr 8(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size tensile_emu_switch,.-tensile_emu_switch

  .p2align 4
  .globl tensile_emu_start
  .hidden tensile_emu_start
  .type tensile_emu_start,@function
tensile_emu_start:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  andq $-16, %rsp
  callq *%r13
  ud2
  .cfi_endproc
  .size tensile_emu_start,.-tensile_emu_start
)");
extern "C" void tensile_emu_switch(void** save, void* to);
extern "C" void tensile_emu_start();
#endif

namespace tensile_emu {
namespace detail {

thread_local Cur tl_cur;

namespace {

// ---- configuration -----------------------------------------------------------------------------------------------
struct Config {
  int devices = 1;
  size_t memory = size_t(4096) << 20;
  int driver = 13000;  // 0: none
  int threads = 1;
  size_t stack = 64 << 10;
  unsigned long long seed = 0x7e15113ull;
  std::string fault_kernel;
};
constexpr int kRuntimeVersion = 13000;
constexpr size_t kSharedDefault = 48 << 10;
constexpr size_t kSharedOptin = 227 << 10;

long env_int(const char* name, long dflt, long lo, long hi) {
  const char* v = getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  long x = strtol(v, &end, 0);
  if (*end || x < lo || x > hi) {
    fprintf(stderr, "tensile emu: ignoring %s=%s (expected an integer in [%ld, %ld])\n", name, v, lo, hi);
    return dflt;
  }
  return x;
}

Config read_config() {
  Config c;
  c.devices = (int)env_int("TENSILE_EMU_DEVICES", 1, 0, 16);
  c.memory = (size_t)env_int("TENSILE_EMU_MEMORY_MB", 4096, 0, 1L << 24) << 20;
  const char* d = getenv("TENSILE_EMU_DRIVER");
  if (d && !strcmp(d, "none"))
    c.driver = 0;
  else
    c.driver = (int)env_int("TENSILE_EMU_DRIVER", kRuntimeVersion, 0, 1000000);
  cpu_set_t set;
  long ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : (long)std::thread::hardware_concurrency();
  if (ncpu < 1) ncpu = 1;
  c.threads = (int)env_int("TENSILE_EMU_THREADS", std::min(ncpu, 8L), 1, 8);
  c.stack = (size_t)env_int("TENSILE_EMU_STACK_KB", 64, 16, 1 << 20) << 10;
  const char* s = getenv("TENSILE_EMU_SEED");
  if (s && *s) c.seed = strtoull(s, nullptr, 0);
  const char* f = getenv("TENSILE_EMU_FAULT");
  if (f) c.fault_kernel = f;
  return c;
}

// ---- engine state ------------------------------------------------------------------------------------------------
struct Stream;
struct Event;
struct Device;

struct Launch {
  std::string name;
  std::unique_ptr<KernelBase> kernel;
  dim3 grid, block;
  size_t shmem = 0;
  unsigned long long nblocks = 0, next = 0, finished = 0;
  bool injected = false;
};

struct Op {
  enum Kind { KERNEL, COPY, MEMSET, RECORD, NOP, HOST } kind = NOP;
  void (*host_fn)(void*) = nullptr;  // HOST: cudaLaunchHostFunc's function and argument
  void* host_arg = nullptr;
  std::vector<std::pair<std::shared_ptr<Stream>, unsigned long long>> deps;
  std::shared_ptr<Launch> launch;
  void* dst = nullptr;
  const void* src = nullptr;
  size_t n = 0;
  int value = 0;
  std::shared_ptr<Event> event;
  unsigned long long record = 0;  // the event's record number
  unsigned long long seq = 0;
  bool busy = false;
};

int launch_host_abi(void* stream, void (*fn)(void*), void* arg);
const tensile_emu_stream_abi g_stream_abi = {TENSILE_EMU_STREAM_MAGIC, TENSILE_EMU_STREAM_VERSION, launch_host_abi};

// The first member is the table of stream_abi.h (what the test doubles of native/emu/doubles call through).
struct Stream {
  const tensile_emu_stream_abi* abi = &g_stream_abi;
  Device* dev = nullptr;
  unsigned flags = 0;
  bool legacy = false;
  std::deque<Op> q;
  unsigned long long enq = 0, done = 0;
  bool active = false;
};

struct Event {
  Device* dev = nullptr;
  unsigned flags = 0;
  unsigned long long records = 0;
  std::shared_ptr<Stream> stream;  // of the latest record
  unsigned long long seq = 0;      // its op
  bool timed = false;              // the latest record completed and set t
  std::chrono::steady_clock::time_point t;
};

struct Device {
  int id = 0;
  size_t total = 0, used = 0;
  std::shared_ptr<Stream> legacy;
  std::vector<std::weak_ptr<Stream>> streams;  // all but legacy
  cudaError_t sticky = cudaSuccess;
  std::string sticky_msg;
  std::unordered_set<int> peers;
};

struct Alloc {
  size_t size;
  int device;  // -1: pinned host memory
};

struct Engine {
  Config cfg;
  std::mutex mu;
  std::condition_variable cv_work, cv_done;
  std::vector<std::unique_ptr<Device>> devices;
  std::unordered_map<Stream*, std::shared_ptr<Stream>> streams;
  std::unordered_map<Event*, std::shared_ptr<Event>> events;
  std::vector<std::shared_ptr<Stream>> active;
  std::map<uintptr_t, Alloc> allocs;
  std::unordered_map<const void*, size_t> shmem_limit;
  bool workers_started = false;
  bool shutdown = false;
  int exit_handlers = 0;  // registrations of on_exit_handler
  // The workers' state, reachable from here (LeakSanitizer cannot scan a thread's own stack while it runs a fiber).
  std::vector<void*> workers;
};

Engine* g_engine = nullptr;
std::once_flag g_once;

void on_exit_handler() {
  Engine* e = g_engine;
  std::lock_guard<std::mutex> lk(e->mu);
  e->shutdown = true;
  e->cv_work.notify_all();
  e->cv_done.notify_all();
}

// Intentionally never destroyed: worker threads and streams may outlive static destruction (see README).
Engine& engine() {
  std::call_once(g_once, [] {
    Engine* e = new Engine;
    e->cfg = read_config();
    for (int i = 0; i < e->cfg.devices; ++i) {
      std::unique_ptr<Device> d(new Device);
      d->id = i;
      d->total = e->cfg.memory;
      d->legacy = std::make_shared<Stream>();
      d->legacy->dev = d.get();
      d->legacy->legacy = true;
      e->devices.push_back(std::move(d));
    }
    g_engine = e;
    e->exit_handlers = 1;
    atexit(on_exit_handler);
  });
  return *g_engine;
}

thread_local int tl_device = 0;
thread_local cudaError_t tl_last = cudaSuccess;
thread_local std::string tl_msg;
thread_local std::string tl_msg_out;

cudaError_t record(cudaError_t e, const std::string& msg) {
  if (e != cudaSuccess) {
    tl_last = e;
    tl_msg = msg;
  }
  return e;
}

// The common prologue of a call: driver and device checks, then the device's sticky error. Holds no lock.
cudaError_t check_driver(Engine& g) {
  if (g.cfg.driver == 0)
    return record(cudaErrorInsufficientDriver, "no CUDA driver (TENSILE_EMU_DRIVER=none)");
  if (g.cfg.driver < kRuntimeVersion)
    return record(cudaErrorInsufficientDriver, "the driver (" + std::to_string(g.cfg.driver) +
                                                   ") is older than the runtime (" + std::to_string(kRuntimeVersion) + ")");
  if (g.devices.empty()) return record(cudaErrorNoDevice, "no device (TENSILE_EMU_DEVICES=0)");
  return cudaSuccess;
}
cudaError_t current(Engine& g, Device** out, bool check_sticky = true) {
  cudaError_t e = check_driver(g);
  if (e) return e;
  if (tl_device < 0 || tl_device >= (int)g.devices.size())
    return record(cudaErrorInvalidDevice, "invalid current device");
  Device* d = g.devices[tl_device].get();
  if (check_sticky) {
    std::lock_guard<std::mutex> lk(g.mu);
    if (d->sticky) return record(d->sticky, d->sticky_msg);
  }
  *out = d;
  return cudaSuccess;
}

void set_sticky(Device* d, cudaError_t e, const std::string& msg) {  // under g.mu
  if (d->sticky == cudaSuccess) {
    d->sticky = e;
    d->sticky_msg = msg;
  }
}

// Resolves a stream handle (under g.mu). 0 and cudaStreamLegacy name the current device's legacy stream.
std::shared_ptr<Stream> find_stream(Engine& g, cudaStream_t s, Device* cur) {
  if (s == nullptr || s == cudaStreamLegacy) return cur->legacy;
  auto it = g.streams.find((Stream*)s);
  return it == g.streams.end() ? nullptr : it->second;
}

// ---- the worker pool ---------------------------------------------------------------------------------------------
void worker_main(Engine* g, int index);

void start_workers(Engine& g) {  // under g.mu
  if (g.workers_started) return;
  g.workers_started = true;
  for (int i = 0; i < g.cfg.threads; ++i) std::thread(worker_main, &g, i).detach();
}

// Queues op on s (under g.mu), with the legacy stream's implicit ordering against blocking streams.
unsigned long long enqueue(Engine& g, const std::shared_ptr<Stream>& s, Op&& op) {
  start_workers(g);
  Device* d = s->dev;
  if (s->legacy) {
    for (auto it = d->streams.begin(); it != d->streams.end();) {
      std::shared_ptr<Stream> o = it->lock();
      if (!o) {
        it = d->streams.erase(it);
        continue;
      }
      if (!(o->flags & cudaStreamNonBlocking) && o->enq > o->done) op.deps.emplace_back(o, o->enq);
      ++it;
    }
  } else if (!(s->flags & cudaStreamNonBlocking) && d->legacy->enq > d->legacy->done) {
    op.deps.emplace_back(d->legacy, d->legacy->enq);
  }
  op.seq = ++s->enq;
  s->q.push_back(std::move(op));
  if (!s->active) {
    s->active = true;
    g.active.push_back(s);
  }
  g.cv_work.notify_all();
  return s->enq;
}

void complete_head(Engine& g, Stream* s) {  // under g.mu
  Op& op = s->q.front();
  if (op.kind == Op::RECORD && op.event->records == op.record) {
    op.event->timed = true;
    op.event->t = std::chrono::steady_clock::now();
  }
  s->done = op.seq;
  s->q.pop_front();
  g.cv_done.notify_all();
  g.cv_work.notify_all();
}

bool deps_met(const Op& op) {
  for (auto& d : op.deps)
    if (d.first->done < d.second) return false;
  return true;
}

// Finds work for a worker (under g.mu): completes ready bookkeeping ops and ops of faulted devices on the way.
// Returns the stream whose head op the worker should work on, or nullptr.
Stream* find_work(Engine& g) {
  for (bool again = true; again;) {
    again = false;
    for (size_t i = 0; i < g.active.size();) {
      Stream* s = g.active[i].get();
      if (s->q.empty()) {
        s->active = false;
        g.active[i] = g.active.back();
        g.active.pop_back();
        continue;
      }
      Op& op = s->q.front();
      if (!deps_met(op)) {
        ++i;
        continue;
      }
      const bool dead = s->dev->sticky != cudaSuccess || g.shutdown;
      if (op.kind == Op::KERNEL) {
        Launch& L = *op.launch;
        if (dead && L.next < L.nblocks) {  // skip what was not started
          L.finished += L.nblocks - L.next;
          L.next = L.nblocks;
        }
        if (L.finished == L.nblocks) {
          complete_head(g, s);
          again = true;
          continue;
        }
        if (L.next < L.nblocks) return s;
        ++i;
        continue;
      }
      if (op.kind == Op::RECORD || op.kind == Op::NOP || (dead && !op.busy)) {
        complete_head(g, s);
        again = true;
        continue;
      }
      if (!op.busy) return s;
      ++i;
    }
  }
  return nullptr;
}

// ---- fibers ------------------------------------------------------------------------------------------------------
enum FState { F_RUN = 0, F_BARRIER, F_WARP, F_DONE };

struct Fiber {
  char* map = nullptr;  // the mapping, guard page first
  size_t map_size = 0;
  char* lo = nullptr;  // usable stack
  size_t size = 0;
  void* sp = nullptr;
#if !defined(__x86_64__)
  ucontext_t uc;
#endif
  void (*entry)(Fiber*) = nullptr;
  bool ready = false;  // has a fresh or reusable context
  bool dirty = false;  // abandoned mid-kernel: rebuild (and unpoison) before reuse
  void* fake = nullptr;
  int state = F_RUN;
  unsigned index = 0;
  uint3 tid{0, 0, 0};
  // what it waits at
  int op = 0;
  unsigned mask = 0;
  unsigned long long value = 0, result = 0;
  int arg = 0, width = 32;
  const char* file = "";
  int line = 0, col = 0;
};

struct BlockFault {
  cudaError_t code = cudaSuccess;
  std::string msg;
};

struct Worker {
  std::vector<Fiber*> fibers;
  void* sched_sp = nullptr;
#if !defined(__x86_64__)
  ucontext_t sched_uc;
#endif
  void* sched_fake = nullptr;
  const void* sched_bottom = nullptr;
  size_t sched_size = 0;
  Fiber* cur = nullptr;
  Launch* launch = nullptr;
  BlockFault fault;
  void* dyn = nullptr;
  size_t dyn_size = 0;
  size_t stack = 0;
  std::vector<unsigned> order;  // of a round
};
thread_local Worker* tl_worker = nullptr;

void fiber_entry(Fiber* f);
extern "C" void tensile_emu_fiber_entry(Fiber* f) { f->entry(f); }
#if !defined(__x86_64__)
void uc_entry(unsigned lo, unsigned hi) {
  Fiber* f = (Fiber*)(((uintptr_t)hi << 32) | lo);
  f->entry(f);
}
#endif

void prepare(Fiber* f, void (*entry)(Fiber*) = fiber_entry) {
  f->entry = entry;
#ifdef TS_EMU_ASAN
  if (f->dirty) __asan_unpoison_memory_region(f->lo, f->size);
#endif
#if defined(__x86_64__)
  uintptr_t top = ((uintptr_t)(f->lo + f->size)) & ~(uintptr_t)15;
  uint64_t* sp = (uint64_t*)(top - 96);
  uint16_t cw;
  uint32_t mx;
  asm volatile("fnstcw %0" : "=m"(cw));
  asm volatile("stmxcsr %0" : "=m"(mx));
  std::memset(sp, 0, 96);
  std::memcpy(&sp[0], &cw, 2);
  std::memcpy((char*)sp + 8, &mx, 4);
  sp[2] = 0;                                    // r15
  sp[3] = 0;                                    // r14
  sp[4] = (uint64_t)&tensile_emu_fiber_entry;   // r13
  sp[5] = (uint64_t)f;                          // r12
  sp[6] = 0;                                    // rbx
  sp[7] = 0;                                    // rbp
  sp[8] = (uint64_t)&tensile_emu_start;         // return address
  f->sp = sp;
#else
  getcontext(&f->uc);
  f->uc.uc_stack.ss_sp = f->lo;
  f->uc.uc_stack.ss_size = f->size;
  f->uc.uc_link = nullptr;
  makecontext(&f->uc, (void (*)())uc_entry, 2, (unsigned)(uintptr_t)f, (unsigned)((uintptr_t)f >> 32));
#endif
  f->ready = true;
  f->dirty = false;
  f->fake = nullptr;
}

Fiber* new_fiber(size_t stack) {
  Fiber* f = new Fiber;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  f->size = (stack + page - 1) / page * page;
  f->map_size = f->size + page;
  void* m = mmap(nullptr, f->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    delete f;
    return nullptr;
  }
  mprotect(m, page, PROT_NONE);  // the guard page below the stack
  f->map = (char*)m;
  f->lo = f->map + page;
  return f;
}

// scheduler -> fiber f, until f yields.
void resume(Worker* w, Fiber* f) {
  w->cur = f;
  tl_cur.tid = f->tid;
#ifdef TS_EMU_ASAN
  __sanitizer_start_switch_fiber(&w->sched_fake, f->lo, f->size);
#endif
#if defined(__x86_64__)
  tensile_emu_switch(&w->sched_sp, f->sp);
#else
  swapcontext(&w->sched_uc, &f->uc);
#endif
#ifdef TS_EMU_ASAN
  __sanitizer_finish_switch_fiber(w->sched_fake, nullptr, nullptr);
#endif
  w->cur = nullptr;
}

// fiber -> scheduler; returns when resumed (unless dying).
void yield(Worker* w, Fiber* f, bool dying) {
#ifdef TS_EMU_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &f->fake, w->sched_bottom, w->sched_size);
#else
  (void)dying;
#endif
#if defined(__x86_64__)
  tensile_emu_switch(&f->sp, w->sched_sp);
#else
  swapcontext(&f->uc, &w->sched_uc);
#endif
#ifdef TS_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake, &w->sched_bottom, &w->sched_size);
#endif
}

void fiber_entry(Fiber* f) {
  Worker* w = tl_worker;
#ifdef TS_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &w->sched_bottom, &w->sched_size);
#endif
  for (;;) {
    try {
      w->launch->kernel->run();
    } catch (const std::exception& e) {
      if (!w->fault.code) {
        w->fault.code = cudaErrorLaunchFailure;
        w->fault.msg = std::string("thread (") + std::to_string(f->tid.x) + "," + std::to_string(f->tid.y) + "," +
                       std::to_string(f->tid.z) + "): a C++ exception escaped the kernel: " + e.what();
      }
    } catch (...) {
      if (!w->fault.code) {
        w->fault.code = cudaErrorLaunchFailure;
        w->fault.msg = std::string("thread (") + std::to_string(f->tid.x) + "," + std::to_string(f->tid.y) + "," +
                       std::to_string(f->tid.z) + "): a C++ exception escaped the kernel";
      }
    }
    f->state = F_DONE;
    yield(w, f, false);
  }
}

std::string tid_str(uint3 t) {
  return "(" + std::to_string(t.x) + "," + std::to_string(t.y) + "," + std::to_string(t.z) + ")";
}
const char* op_name(int op) {
  switch (op) {
    case W_SHFL: return "__shfl_sync";
    case W_SHFL_UP: return "__shfl_up_sync";
    case W_SHFL_DOWN: return "__shfl_down_sync";
    case W_SHFL_XOR: return "__shfl_xor_sync";
    case W_BALLOT: return "__ballot_sync";
    case W_ANY: return "__any_sync";
    case W_ALL: return "__all_sync";
    case W_SYNCWARP: return "__syncwarp";
    case W_ACTIVEMASK: return "__activemask";
  }
  return "?";
}
const char* bar_name(int kind) {
  switch (kind) {
    case B_SYNC: return "__syncthreads";
    case B_COUNT: return "__syncthreads_count";
    case B_AND: return "__syncthreads_and";
    case B_OR: return "__syncthreads_or";
  }
  return "?";
}
std::string where(const Fiber* f) {
  char buf[64];
  std::string s;
  if (f->state == F_BARRIER) {
    s = bar_name(f->op);
  } else {
    s = op_name(f->op);
    if (f->op != W_ACTIVEMASK) {
      snprintf(buf, sizeof buf, "(mask 0x%08x)", f->mask);
      s += buf;
    }
  }
  const char* base = strrchr(f->file, '/');
  s += std::string(" at ") + (base ? base + 1 : f->file) + ":" + std::to_string(f->line);
  return s;
}
bool same_site(const Fiber* a, const Fiber* b) {
  return a->line == b->line && a->col == b->col && (a->file == b->file || !strcmp(a->file, b->file));
}

unsigned long long splitmix(unsigned long long& x) {
  unsigned long long z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Resolves the warp rounds that can complete. Returns whether any did; sets w->fault on a misuse.
bool resolve_warps(Worker* w, unsigned n) {
  bool progress = false;
  for (unsigned base = 0; base < n && !w->fault.code; base += 32) {
    const unsigned lanes = std::min(32u, n - base);
    Fiber** F = &w->fibers[base];
    unsigned handled = 0;
    for (unsigned l = 0; l < lanes && !w->fault.code; ++l) {
      Fiber* f = F[l];
      if (f->state != F_WARP || (handled >> l & 1)) continue;
      if (f->op == W_ACTIVEMASK) {
        unsigned m = 0;
        for (unsigned j = l; j < lanes; ++j)
          if (F[j]->state == F_WARP && F[j]->op == W_ACTIVEMASK && same_site(F[j], f)) m |= 1u << j;
        for (unsigned j = l; j < lanes; ++j)
          if (m >> j & 1) {
            F[j]->result = m;
            F[j]->state = F_RUN;
          }
        handled |= m;
        progress = true;
        continue;
      }
      const unsigned M = f->mask;
      auto misuse = [&](const std::string& why) {
        w->fault.code = cudaErrorLaunchFailure;
        w->fault.msg = "thread " + tid_str(f->tid) + ": " + where(f) + ": " + why;
      };
      if (!(M >> l & 1)) {
        misuse("the calling lane " + std::to_string(l) + " is not in the mask");
        break;
      }
      if (lanes < 32 && (M >> lanes)) {
        misuse("the mask names lanes that do not exist (the warp has " + std::to_string(lanes) + " lanes)");
        break;
      }
      bool ready = true;
      for (unsigned j = 0; j < lanes && !w->fault.code; ++j) {
        if (!(M >> j & 1)) continue;
        Fiber* o = F[j];
        if (o->state == F_DONE) {
          misuse("lane " + std::to_string(j) + " named in the mask has exited");
        } else if (o->state == F_WARP) {
          if (o->op == W_ACTIVEMASK || o->op != f->op || o->mask != M)
            misuse("lane " + std::to_string(j) + " named in the mask waits at a different warp operation: " +
                   where(o));
        } else {
          ready = false;
        }
      }
      if (w->fault.code) break;
      if (!ready) continue;
      unsigned long long ballot = 0;
      for (unsigned j = 0; j < lanes; ++j)
        if ((M >> j & 1) && F[j]->value) ballot |= 1ull << j;
      for (unsigned j = 0; j < lanes; ++j) {
        if (!(M >> j & 1)) continue;
        Fiber* o = F[j];
        const int width = o->width;
        const unsigned seg = j / (unsigned)width * (unsigned)width;
        long src = -1;
        switch (o->op) {
          case W_SHFL: src = (long)seg + (long)((unsigned)o->arg % (unsigned)width); break;
          case W_SHFL_UP: src = (j - seg) >= (unsigned)o->arg ? (long)j - o->arg : (long)j; break;
          case W_SHFL_DOWN: src = (j - seg) + (unsigned)o->arg < (unsigned)width ? (long)j + o->arg : (long)j; break;
          case W_SHFL_XOR: {
            unsigned s = j ^ (unsigned)o->arg;
            src = s >= seg + (unsigned)width ? (long)j : (long)s;
            break;
          }
          default: break;
        }
        switch (o->op) {
          case W_BALLOT: o->result = ballot; break;
          case W_ANY: o->result = ballot != 0; break;
          case W_ALL: o->result = ballot == (unsigned long long)M; break;
          case W_SYNCWARP: o->result = 0; break;
          default:
            // A source lane outside the round (not in the mask, or past the warp) gives the lane its own value.
            o->result = (src >= 0 && src < (long)lanes && (M >> src & 1)) ? F[src]->value : o->value;
        }
      }
      for (unsigned j = 0; j < lanes; ++j)
        if (M >> j & 1) F[j]->state = F_RUN;
      handled |= M;
      progress = true;
    }
  }
  return progress;
}

std::string waiting_report(Worker* w, unsigned n) {
  // One line per distinct wait point: how many threads, the first of them.
  std::vector<std::pair<std::string, std::pair<unsigned, uint3>>> groups;
  for (unsigned i = 0; i < n; ++i) {
    Fiber* f = w->fibers[i];
    if (f->state == F_DONE) continue;
    std::string at = where(f);
    bool found = false;
    for (auto& g : groups)
      if (g.first == at) {
        g.second.first++;
        found = true;
        break;
      }
    if (!found) groups.push_back({at, {1u, f->tid}});
  }
  std::string s;
  for (auto& g : groups) {
    if (!s.empty()) s += "; ";
    s += std::to_string(g.second.first) + (g.second.first == 1 ? " thread (" : " threads (first ") +
         tid_str(g.second.second) + ") wait at " + g.first;
  }
  return s;
}

// Runs block b of launch L on this worker thread. Returns the fault, if any.
void run_block(Worker* w, Launch& L, unsigned long long b, const Config& cfg) {
  const dim3 bd = L.block;
  const unsigned n = bd.x * bd.y * bd.z;
  w->fault = BlockFault();
  while (w->fibers.size() < n) {
    Fiber* f = new_fiber(w->stack);
    if (!f) {
      w->fault.code = cudaErrorLaunchOutOfResources;
      w->fault.msg = "could not map fiber stacks";
      return;
    }
    w->fibers.push_back(f);
  }
  if (w->dyn_size != L.shmem) {
    free(w->dyn);
    w->dyn = nullptr;
    w->dyn_size = 0;
    if (L.shmem) {
      if (posix_memalign(&w->dyn, 256, L.shmem)) {
        w->dyn = nullptr;
        w->fault.code = cudaErrorLaunchOutOfResources;
        w->fault.msg = "could not allocate dynamic shared memory";
        return;
      }
      w->dyn_size = L.shmem;
    }
  }
  const dim3 gd = L.grid;
  tl_cur.bid = uint3{(unsigned)(b % gd.x), (unsigned)(b / gd.x % gd.y), (unsigned)(b / ((unsigned long long)gd.x * gd.y))};
  tl_cur.bdim = bd;
  tl_cur.gdim = gd;
  tl_cur.dyn = w->dyn;
  w->launch = &L;
  for (unsigned i = 0; i < n; ++i) {
    Fiber* f = w->fibers[i];
    if (!f->ready || f->dirty) prepare(f);
    f->state = F_RUN;
    f->index = i;
    f->tid = uint3{i % bd.x, i / bd.x % bd.y, i / (bd.x * bd.y)};
  }
  unsigned long long rng = cfg.seed ^ (std::hash<std::string>()(L.name) * 0x9e3779b97f4a7c15ull) ^ (b * 0xd1b54a32d192ed03ull);
  std::vector<unsigned>& order = w->order;
  auto block_name = [&] {
    return "kernel '" + L.name + "' block " + tid_str(tl_cur.bid);
  };
  for (;;) {
    order.clear();
    for (unsigned i = 0; i < n; ++i)
      if (w->fibers[i]->state == F_RUN) order.push_back(i);
    if (cfg.seed)
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[splitmix(rng) % i]);
    for (unsigned i : order) {
      resume(w, w->fibers[i]);
      if (w->fault.code) break;
    }
    if (w->fault.code) break;
    unsigned live = 0, at_bar = 0, at_warp = 0;
    for (unsigned i = 0; i < n; ++i) {
      const int st = w->fibers[i]->state;
      live += st != F_DONE;
      at_bar += st == F_BARRIER;
      at_warp += st == F_WARP;
    }
    if (!live) break;
    if (at_warp && resolve_warps(w, n)) continue;
    if (w->fault.code) break;
    if (at_bar == live) {
      Fiber* first = nullptr;
      int count = 0;
      for (unsigned i = 0; i < n && !w->fault.code; ++i) {
        Fiber* f = w->fibers[i];
        if (f->state != F_BARRIER) continue;
        if (!first) {
          first = f;
        } else if (!same_site(f, first) || f->op != first->op) {
          w->fault.code = cudaErrorLaunchFailure;
          w->fault.msg = "divergent __syncthreads: thread " + tid_str(first->tid) + " waits at " + where(first) +
                         " but thread " + tid_str(f->tid) + " at " + where(f);
        }
        count += f->value != 0;
      }
      if (w->fault.code) break;
      for (unsigned i = 0; i < n; ++i) {
        Fiber* f = w->fibers[i];
        if (f->state != F_BARRIER) continue;
        f->result = first->op == B_COUNT ? (unsigned long long)count
                    : first->op == B_AND ? (unsigned long long)(count == (int)live)
                    : first->op == B_OR  ? (unsigned long long)(count != 0)
                                         : 0ull;
        f->state = F_RUN;
      }
      continue;
    }
    w->fault.code = cudaErrorLaunchFailure;
    w->fault.msg = "deadlock: " + waiting_report(w, n);
    break;
  }
  if (w->fault.code) {
    w->fault.msg = block_name() + ": " + w->fault.msg;
    for (unsigned i = 0; i < n; ++i)
      if (w->fibers[i]->state != F_DONE) w->fibers[i]->dirty = true;
  }
  w->launch = nullptr;
}

void worker_main(Engine* g, int) {
  Worker& w = *new Worker;
  w.stack = g->cfg.stack;
  tl_worker = &w;
  std::unique_lock<std::mutex> lk(g->mu);
  g->workers.push_back(&w);
  for (;;) {
    Stream* s = find_work(*g);
    if (!s) {
      g->cv_work.wait(lk);
      continue;
    }
    Op& op = s->q.front();
    Device* d = s->dev;
    if (op.kind == Op::KERNEL) {
      std::shared_ptr<Launch> L = op.launch;
      if (L->injected) {
        set_sticky(d, cudaErrorIllegalAddress,
                   "kernel '" + L->name + "': an illegal memory access (injected by TENSILE_EMU_FAULT)");
        L->finished += L->nblocks - L->next;
        L->next = L->nblocks;
        continue;
      }
      const unsigned long long b = L->next++;
      lk.unlock();
      run_block(&w, *L, b, g->cfg);
      lk.lock();
      if (w.fault.code) {
        set_sticky(d, w.fault.code, w.fault.msg);
        L->finished += L->nblocks - L->next;
        L->next = L->nblocks;
      }
      L->finished++;
      if (L->finished == L->nblocks) g->cv_work.notify_all();  // find_work completes it
      continue;
    }
    op.busy = true;
    void* dst = op.dst;
    const void* src = op.src;
    const size_t n = op.n;
    const int value = op.value;
    const Op::Kind kind = op.kind;
    void (*host_fn)(void*) = op.host_fn;
    void* host_arg = op.host_arg;
    lk.unlock();
    if (kind == Op::HOST) {
      host_fn(host_arg);
    } else if (n) {
      if (kind == Op::COPY)
        std::memmove(dst, src, n);
      else
        std::memset(dst, value, n);
    }
    lk.lock();
    complete_head(*g, s);
  }
}

// ---- memory checks -----------------------------------------------------------------------------------------------
// The allocation holding [p, p + n) (under g.mu), or nullptr.
const Alloc* find_alloc(Engine& g, const void* p, size_t n, uintptr_t* base = nullptr) {
  auto it = g.allocs.upper_bound((uintptr_t)p);
  if (it == g.allocs.begin()) return nullptr;
  --it;
  const uintptr_t a = it->first, q = (uintptr_t)p;
  if (q < a || q + n > a + it->second.size || (n == 0 && q > a + it->second.size)) return nullptr;
  if (base) *base = a;
  return &it->second;
}

std::string hex(const void* p) {
  char b[32];
  snprintf(b, sizeof b, "%p", p);
  return b;
}

// Checks a copy's pointers against its kind (under g.mu). Device sides must lie in one device allocation.
cudaError_t check_copy(Engine& g, void* dst, const void* src, size_t n, cudaMemcpyKind kind, const char* what) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return record(cudaErrorInvalidValue, std::string(what) + ": null pointer");
  const Alloc* ad = find_alloc(g, dst, n);
  const Alloc* as = find_alloc(g, src, n);
  bool dd, sd;
  switch (kind) {
    case cudaMemcpyHostToHost: dd = false, sd = false; break;
    case cudaMemcpyHostToDevice: dd = true, sd = false; break;
    case cudaMemcpyDeviceToHost: dd = false, sd = true; break;
    case cudaMemcpyDeviceToDevice: dd = true, sd = true; break;
    case cudaMemcpyDefault: return cudaSuccess;  // any mix: unified addressing
    default: return record(cudaErrorInvalidMemcpyDirection, std::string(what) + ": invalid cudaMemcpyKind");
  }
  if (dd && !(ad && ad->device >= 0))
    return record(cudaErrorInvalidValue, std::string(what) + ": destination " + hex(dst) + " (+" + std::to_string(n) +
                                             " bytes) is not inside a device allocation");
  if (sd && !(as && as->device >= 0))
    return record(cudaErrorInvalidValue, std::string(what) + ": source " + hex(src) + " (+" + std::to_string(n) +
                                             " bytes) is not inside a device allocation");
  return cudaSuccess;
}

// Waits (holding lk) until s has completed op seq.
void wait_for(Engine& g, std::unique_lock<std::mutex>& lk, Stream* s, unsigned long long seq) {
  g.cv_done.wait(lk, [&] { return s->done >= seq || g.shutdown; });
}

cudaError_t copy_op(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t stream, bool sync,
                    const char* what, int value = -1) {
  Engine& g = engine();
  Device* d;
  cudaError_t e = current(g, &d);
  if (e) return e;
  std::unique_lock<std::mutex> lk(g.mu);
  std::shared_ptr<Stream> s = find_stream(g, stream, d);
  if (!s) return record(cudaErrorInvalidResourceHandle, std::string(what) + ": invalid stream");
  if (s->dev->sticky) return record(s->dev->sticky, s->dev->sticky_msg);
  if (value >= 0) {
    if (n && !find_alloc(g, dst, n))
      return record(cudaErrorInvalidValue,
                    std::string(what) + ": " + hex(dst) + " (+" + std::to_string(n) + " bytes) is not inside a device allocation");
  } else {
    e = check_copy(g, dst, src, n, kind, what);
    if (e) return e;
  }
  Op op;
  op.kind = value >= 0 ? Op::MEMSET : Op::COPY;
  op.dst = dst;
  op.src = src;
  op.n = n;
  op.value = value;
  unsigned long long seq = enqueue(g, s, std::move(op));
  if (sync) {
    wait_for(g, lk, s.get(), seq);
    if (g.shutdown) return record(cudaErrorCudartUnloading, "the process is exiting");
    if (s->dev->sticky) return record(s->dev->sticky, s->dev->sticky_msg);
  }
  return cudaSuccess;
}

}  // namespace

// ---- kernel-side entry points ------------------------------------------------------------------------------------
cudaError_t submit(const char* name, const void* fn, std::unique_ptr<KernelBase> kernel, dim3 grid, dim3 block,
                   size_t shmem, cudaStream_t stream) {
  Engine& g = engine();
  Device* d;
  cudaError_t e = current(g, &d);
  if (e) return e;
  std::string kn = name ? name : "?";
  auto bad = [&](const std::string& why) {
    tl_msg = "kernel '" + kn + "': invalid configuration: " + why;
    return cudaErrorInvalidConfiguration;
  };
  const unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
      threads > 1024)
    return bad("block (" + std::to_string(block.x) + "," + std::to_string(block.y) + "," + std::to_string(block.z) +
               ") (at most 1024 threads, 1024 x 1024 x 64)");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    return bad("grid (" + std::to_string(grid.x) + "," + std::to_string(grid.y) + "," + std::to_string(grid.z) +
               ") (at most 2147483647 x 65535 x 65535)");
  std::unique_lock<std::mutex> lk(g.mu);
  size_t limit = kSharedDefault;
  auto it = g.shmem_limit.find(fn);
  if (it != g.shmem_limit.end()) limit = it->second;
  if (shmem > limit)
    return bad(std::to_string(shmem) + " bytes of dynamic shared memory (the limit is " + std::to_string(limit) +
               "; raise it with cudaFuncSetAttribute)");
  std::shared_ptr<Stream> s = find_stream(g, stream, d);
  if (!s) {
    tl_msg = "kernel '" + kn + "': invalid stream";
    return cudaErrorInvalidResourceHandle;
  }
  if (s->dev != d) {
    tl_msg = "kernel '" + kn + "': the stream belongs to device " + std::to_string(s->dev->id) +
             ", the current device is " + std::to_string(d->id);
    return cudaErrorInvalidResourceHandle;
  }
  auto L = std::make_shared<Launch>();
  L->name = kn;
  L->kernel = std::move(kernel);
  L->grid = grid;
  L->block = block;
  L->shmem = shmem;
  L->nblocks = (unsigned long long)grid.x * grid.y * grid.z;
  L->injected = !g.cfg.fault_kernel.empty() && g.cfg.fault_kernel == kn;
  Op op;
  op.kind = Op::KERNEL;
  op.launch = std::move(L);
  enqueue(g, s, std::move(op));
  return cudaSuccess;
}

namespace {
Fiber* current_fiber() {
  Worker* w = tl_worker;
  return w ? w->cur : nullptr;
}
}  // namespace

unsigned long long warp_op(int op, unsigned mask, unsigned long long value, int arg, int width, const char* file,
                           int line, int col) {
  Fiber* f = current_fiber();
  if (!f) throw std::logic_error(std::string(op_name(op)) + " called outside a kernel");
  if (width < 1 || width > 32 || (width & (width - 1))) fault("warp operation with a width that is not a power of 2 in [1, 32]", file, line);
  f->state = F_WARP;
  f->op = op;
  f->mask = mask;
  f->value = value;
  f->arg = arg;
  f->width = width;
  f->file = file;
  f->line = line;
  f->col = col;
  yield(tl_worker, f, false);
  return f->result;
}

int block_barrier(int kind, int pred, const char* file, int line, int col) {
  Fiber* f = current_fiber();
  if (!f) throw std::logic_error(std::string(bar_name(kind)) + " called outside a kernel");
  f->state = F_BARRIER;
  f->op = kind;
  f->value = (unsigned long long)pred;
  f->file = file;
  f->line = line;
  f->col = col;
  yield(tl_worker, f, false);
  return (int)f->result;
}

namespace {
// Records a fault of the current fiber (the first of its block wins).
void record_fault(const char* what, const char* file, int line) {
  Fiber* f = current_fiber();
  Worker* w = tl_worker;
  if (!w->fault.code) {
    const char* base = strrchr(file, '/');
    w->fault.code = cudaErrorLaunchFailure;
    w->fault.msg = "thread " + tid_str(f->tid) + ": " + what + " at " + (base ? base + 1 : file) + ":" + std::to_string(line);
  }
}
// Leaves the current fiber for good (its stack is rebuilt before reuse). The caller's frames must own nothing.
[[noreturn]] void abandon() {
  Fiber* f = current_fiber();
  f->dirty = true;
  f->state = F_DONE;
  yield(tl_worker, f, true);
  __builtin_unreachable();
}
}  // namespace

void fault(const char* what, const char* file, int line) {
  if (!current_fiber()) throw std::logic_error(std::string(what) + " outside a kernel");
  record_fault(what, file, line);
  abandon();
}

}  // namespace detail
}  // namespace tensile_emu
// glibc's, declared by <assert.h> only without NDEBUG (a Release build defines it)
extern "C" [[noreturn]] void __assert_fail(const char*, const char*, unsigned int, const char*) noexcept;
namespace tensile_emu {
namespace detail {
void assert_fail(const char* expr, const char* file, unsigned line, const char* func) {
  if (!current_fiber()) ::__assert_fail(expr, file, line, func);
  {
    const std::string what = std::string("assertion '") + expr + "' failed in " + func;
    record_fault(what.c_str(), file, (int)line);
  }
  abandon();
}

// Raw context-switch cost (for the README's figures): a fiber and this thread ping-pong iters times.
double measure_switch_ns(long iters);

}  // namespace detail

void* dyn_shared() { return detail::tl_cur.dyn; }

const char* last_message() {
  using namespace detail;
  Engine& g = engine();
  std::string m = tl_msg;
  if (!g.devices.empty() && tl_device >= 0 && tl_device < (int)g.devices.size()) {
    std::lock_guard<std::mutex> lk(g.mu);
    Device* d = g.devices[tl_device].get();
    if (d->sticky) m = d->sticky_msg;
  }
  tl_msg_out = m;
  return tl_msg_out.c_str();
}

namespace detail {
namespace {
// measure_switch_ns: a fiber and the calling thread ping-pong; each iteration is two switches.
struct PingPong {
  Fiber* f = nullptr;
  void* main_sp = nullptr;
#if !defined(__x86_64__)
  ucontext_t main_uc;
#endif
  void* main_fake = nullptr;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
};
thread_local PingPong* tl_pp = nullptr;

void pp_to_fiber(PingPong* p) {
#ifdef TS_EMU_ASAN
  __sanitizer_start_switch_fiber(&p->main_fake, p->f->lo, p->f->size);
#endif
#if defined(__x86_64__)
  tensile_emu_switch(&p->main_sp, p->f->sp);
#else
  swapcontext(&p->main_uc, &p->f->uc);
#endif
#ifdef TS_EMU_ASAN
  __sanitizer_finish_switch_fiber(p->main_fake, nullptr, nullptr);
#endif
}
void pp_entry(Fiber* f) {
  PingPong* p = tl_pp;
#ifdef TS_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &p->main_bottom, &p->main_size);
#endif
  for (;;) {
#ifdef TS_EMU_ASAN
    __sanitizer_start_switch_fiber(&f->fake, p->main_bottom, p->main_size);
#endif
#if defined(__x86_64__)
    tensile_emu_switch(&f->sp, p->main_sp);
#else
    swapcontext(&f->uc, &p->main_uc);
#endif
#ifdef TS_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->fake, &p->main_bottom, &p->main_size);
#endif
  }
}
}  // namespace

double measure_switch_ns(long iters) {
  PingPong p;
  p.f = new_fiber(64 << 10);
  if (!p.f) return -1;
  prepare(p.f, pp_entry);
  tl_pp = &p;
  pp_to_fiber(&p);  // start it
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iters; ++i) pp_to_fiber(&p);
  auto t1 = std::chrono::steady_clock::now();
  tl_pp = nullptr;
  // The fiber is parked forever in pp_entry; its stack is released with the mapping.
#ifdef TS_EMU_ASAN
  __asan_unpoison_memory_region(p.f->lo, p.f->size);
#endif
  munmap(p.f->map, p.f->map_size);
  delete p.f;
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / (2.0 * (double)iters);
}
}  // namespace detail
}  // namespace tensile_emu

// ---- the runtime API ---------------------------------------------------------------------------------------------
using namespace tensile_emu::detail;

namespace {
struct ErrName {
  cudaError_t e;
  const char* name;
  const char* text;
};
const ErrName kErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorCudartUnloading, "cudaErrorCudartUnloading", "driver shutting down"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration", "invalid configuration argument"},
    {cudaErrorInvalidDevicePointer, "cudaErrorInvalidDevicePointer", "invalid device pointer"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection", "invalid copy direction for memcpy"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorIllegalAddress, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {cudaErrorLaunchOutOfResources, "cudaErrorLaunchOutOfResources", "too many resources requested for launch"},
    {cudaErrorPeerAccessAlreadyEnabled, "cudaErrorPeerAccessAlreadyEnabled",
     "peer access is already enabled"},
    {cudaErrorPeerAccessNotEnabled, "cudaErrorPeerAccessNotEnabled", "peer access has not been enabled"},
    {cudaErrorAssert, "cudaErrorAssert", "device-side assert triggered"},
    {cudaErrorLaunchFailure, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};
const ErrName* err_entry(cudaError_t e) {
  for (const ErrName& x : kErrors)
    if (x.e == e) return &x;
  return nullptr;
}

Engine& E() { return tensile_emu::detail::engine(); }

cudaError_t device_of(int device, Device** out) {
  Engine& g = E();
  cudaError_t e = check_driver(g);
  if (e) return e;
  if (device < 0 || device >= (int)g.devices.size())
    return record(cudaErrorInvalidDevice, "invalid device ordinal " + std::to_string(device));
  *out = g.devices[device].get();
  return cudaSuccess;
}

void fill_props(cudaDeviceProp* p, const Device* d) {
  Engine& g = E();
  std::memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", "tensile SIMT emulator");
  p->totalGlobalMem = d->total;
  p->sharedMemPerBlock = kSharedDefault;
  p->sharedMemPerBlockOptin = kSharedOptin;
  p->sharedMemPerMultiprocessor = 228 << 10;
  p->regsPerBlock = 65536;
  p->regsPerMultiprocessor = 65536;
  p->warpSize = 32;
  p->memPitch = 2147483647;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024;
  p->maxThreadsDim[1] = 1024;
  p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647;
  p->maxGridSize[1] = 65535;
  p->maxGridSize[2] = 65535;
  p->clockRate = 1000000;
  p->totalConstMem = 65536;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = g.cfg.threads;
  p->integrated = 0;
  p->canMapHostMemory = 1;
  p->concurrentKernels = 1;
  p->memoryClockRate = 1000000;
  p->memoryBusWidth = 64;
  p->l2CacheSize = 4 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->asyncEngineCount = 1;
  p->unifiedAddressing = 1;
}

// Waits until every stream of d has completed what was queued before the call (holding lk).
void sync_device(Engine& g, std::unique_lock<std::mutex>& lk, Device* d) {
  std::vector<std::pair<std::shared_ptr<Stream>, unsigned long long>> targets;
  targets.emplace_back(d->legacy, d->legacy->enq);
  for (auto& w : d->streams)
    if (auto s = w.lock()) targets.emplace_back(s, s->enq);
  for (auto& t : targets) wait_for(g, lk, t.first.get(), t.second);
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
  Engine& g = E();
  if (!count) return record(cudaErrorInvalidValue, "cudaGetDeviceCount: null pointer");
  *count = 0;
  cudaError_t e = check_driver(g);
  if (e) return e;
  *count = (int)g.devices.size();
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  Device* d;
  cudaError_t e = device_of(device, &d);
  if (e) return e;
  tl_device = device;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  Engine& g = E();
  if (!device) return record(cudaErrorInvalidValue, "cudaGetDevice: null pointer");
  cudaError_t e = check_driver(g);
  if (e) return e;
  *device = tl_device;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  Device* d;
  if (!prop) return record(cudaErrorInvalidValue, "cudaGetDeviceProperties: null pointer");
  cudaError_t e = device_of(device, &d);
  if (e) return e;
  fill_props(prop, d);
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  Device* d;
  if (!value) return record(cudaErrorInvalidValue, "cudaDeviceGetAttribute: null pointer");
  cudaError_t e = device_of(device, &d);
  if (e) return e;
  cudaDeviceProp p;
  fill_props(&p, d);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock: *value = p.maxThreadsPerBlock; break;
    case cudaDevAttrMaxBlockDimX: *value = p.maxThreadsDim[0]; break;
    case cudaDevAttrMaxBlockDimY: *value = p.maxThreadsDim[1]; break;
    case cudaDevAttrMaxBlockDimZ: *value = p.maxThreadsDim[2]; break;
    case cudaDevAttrMaxGridDimX: *value = p.maxGridSize[0]; break;
    case cudaDevAttrMaxGridDimY: *value = p.maxGridSize[1]; break;
    case cudaDevAttrMaxGridDimZ: *value = p.maxGridSize[2]; break;
    case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; break;
    case cudaDevAttrTotalConstantMemory: *value = (int)p.totalConstMem; break;
    case cudaDevAttrWarpSize: *value = p.warpSize; break;
    case cudaDevAttrMaxRegistersPerBlock: *value = p.regsPerBlock; break;
    case cudaDevAttrClockRate: *value = p.clockRate; break;
    case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; break;
    case cudaDevAttrIntegrated: *value = p.integrated; break;
    case cudaDevAttrCanMapHostMemory: *value = p.canMapHostMemory; break;
    case cudaDevAttrConcurrentKernels: *value = p.concurrentKernels; break;
    case cudaDevAttrMemoryClockRate: *value = p.memoryClockRate; break;
    case cudaDevAttrGlobalMemoryBusWidth: *value = p.memoryBusWidth; break;
    case cudaDevAttrL2CacheSize: *value = p.l2CacheSize; break;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *value = p.maxThreadsPerMultiProcessor; break;
    case cudaDevAttrAsyncEngineCount: *value = p.asyncEngineCount; break;
    case cudaDevAttrUnifiedAddressing: *value = p.unifiedAddressing; break;
    case cudaDevAttrComputeCapabilityMajor: *value = p.major; break;
    case cudaDevAttrComputeCapabilityMinor: *value = p.minor; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *value = (int)p.sharedMemPerMultiprocessor; break;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *value = p.regsPerMultiprocessor; break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; break;
    default: return record(cudaErrorInvalidValue, "cudaDeviceGetAttribute: unsupported attribute " + std::to_string((int)attr));
  }
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return record(cudaErrorInvalidValue, "cudaDriverGetVersion: null pointer");
  *version = E().cfg.driver;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return record(cudaErrorInvalidValue, "cudaRuntimeGetVersion: null pointer");
  *version = kRuntimeVersion;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** ptr, size_t size) {
  Engine& g = E();
  Device* d;
  if (!ptr) return record(cudaErrorInvalidValue, "cudaMalloc: null pointer");
  cudaError_t e = current(g, &d);
  if (e) return e;
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  std::lock_guard<std::mutex> lk(g.mu);
  if (size > d->total - d->used)
    return record(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(size) + " bytes on device " +
                                                 std::to_string(d->id) + ": out of memory (" +
                                                 std::to_string(d->total - d->used) + " bytes free)");
  void* p = nullptr;
  if (posix_memalign(&p, 256, size) || !p)
    return record(cudaErrorMemoryAllocation, "cudaMalloc of " + std::to_string(size) + " bytes: host allocation failed");
  d->used += size;
  g.allocs[(uintptr_t)p] = Alloc{size, d->id};
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
  Engine& g = E();
  cudaError_t e = check_driver(g);
  if (e) return e;
  if (!ptr) return cudaSuccess;
  std::unique_lock<std::mutex> lk(g.mu);
  auto it = g.allocs.find((uintptr_t)ptr);
  if (it == g.allocs.end() || it->second.device < 0)
    return record(cudaErrorInvalidValue, "cudaFree(" + hex(ptr) + "): not a device allocation");
  Device* d = g.devices[it->second.device].get();
  // After exit() began, queued or running kernels may still use the memory: leave it to the process's end.
  if (g.shutdown) return cudaSuccess;
  sync_device(g, lk, d);  // cudaFree waits for the device, as the real one does
  if (g.shutdown) return cudaSuccess;
  it = g.allocs.find((uintptr_t)ptr);
  if (it == g.allocs.end()) return record(cudaErrorInvalidValue, "cudaFree(" + hex(ptr) + "): freed twice");
  d->used -= it->second.size;
  g.allocs.erase(it);
  free(ptr);
  if (d->sticky) return record(d->sticky, d->sticky_msg);
  return cudaSuccess;
}
cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int) {
  Engine& g = E();
  Device* d;
  if (!ptr) return record(cudaErrorInvalidValue, "cudaHostAlloc: null pointer");
  cudaError_t e = current(g, &d);
  if (e) return e;
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;
  void* p = nullptr;
  if (posix_memalign(&p, 256, size) || !p) return record(cudaErrorMemoryAllocation, "cudaHostAlloc: out of memory");
  std::lock_guard<std::mutex> lk(g.mu);
  g.allocs[(uintptr_t)p] = Alloc{size, -1};
  *ptr = p;
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** ptr, size_t size) { return cudaHostAlloc(ptr, size, cudaHostAllocDefault); }
cudaError_t cudaFreeHost(void* ptr) {
  Engine& g = E();
  cudaError_t e = check_driver(g);
  if (e) return e;
  if (!ptr) return cudaSuccess;
  std::lock_guard<std::mutex> lk(g.mu);
  auto it = g.allocs.find((uintptr_t)ptr);
  if (it == g.allocs.end() || it->second.device >= 0)
    return record(cudaErrorInvalidValue, "cudaFreeHost(" + hex(ptr) + "): not a pinned host allocation");
  g.allocs.erase(it);
  free(ptr);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d);
  if (e) return e;
  std::lock_guard<std::mutex> lk(g.mu);
  if (free_bytes) *free_bytes = d->total - d->used;
  if (total_bytes) *total_bytes = d->total;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  return copy_op(dst, src, count, kind, nullptr, true, "cudaMemcpy");
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
  return copy_op(dst, src, count, kind, stream, false, "cudaMemcpyAsync");
}
namespace {
cudaError_t peer_copy(void* dst, int dst_device, const void* src, int src_device, size_t count, cudaStream_t stream,
                      bool sync) {
  Engine& g = E();
  Device *dd, *sd;
  cudaError_t e = device_of(dst_device, &dd);
  if (e) return e;
  e = device_of(src_device, &sd);
  if (e) return e;
  {
    std::lock_guard<std::mutex> lk(g.mu);
    if (dd->sticky) return record(dd->sticky, dd->sticky_msg);
    if (sd->sticky) return record(sd->sticky, sd->sticky_msg);
    if (count) {
      const Alloc* a = find_alloc(g, dst, count);
      const Alloc* b = find_alloc(g, src, count);
      if (!a || a->device != dst_device)
        return record(cudaErrorInvalidValue, "cudaMemcpyPeer: destination is not inside an allocation of device " +
                                                 std::to_string(dst_device));
      if (!b || b->device != src_device)
        return record(cudaErrorInvalidValue, "cudaMemcpyPeer: source is not inside an allocation of device " +
                                                 std::to_string(src_device));
    }
  }
  if (sync) {  // cudaMemcpyPeer is serialised with all pending work on both devices, not only the current one's
    std::unique_lock<std::mutex> lk(g.mu);
    sync_device(g, lk, sd);
    if (dd != sd) sync_device(g, lk, dd);
  }
  return copy_op(dst, src, count, cudaMemcpyDefault, stream, sync, sync ? "cudaMemcpyPeer" : "cudaMemcpyPeerAsync");
}
}  // namespace
cudaError_t cudaMemcpyPeer(void* dst, int dst_device, const void* src, int src_device, size_t count) {
  return peer_copy(dst, dst_device, src, src_device, count, nullptr, true);
}
cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_device, const void* src, int src_device, size_t count,
                                cudaStream_t stream) {
  return peer_copy(dst, dst_device, src, src_device, count, stream, false);
}
cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  return copy_op(ptr, nullptr, count, cudaMemcpyDefault, nullptr, true, "cudaMemset", value & 0xff);
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream) {
  return copy_op(ptr, nullptr, count, cudaMemcpyDefault, stream, false, "cudaMemsetAsync", value & 0xff);
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  Engine& g = E();
  Device* d;
  if (!stream) return record(cudaErrorInvalidValue, "cudaStreamCreate: null pointer");
  cudaError_t e = current(g, &d);
  if (e) return e;
  if (flags & ~1u) return record(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: invalid flags");
  auto s = std::make_shared<Stream>();
  s->dev = d;
  s->flags = flags;
  std::lock_guard<std::mutex> lk(g.mu);
  // The exit handler again (idempotent; bounded): it then runs before the destructors of statics constructed
  // before this stream, which may hold it, so that their synchronising calls at exit do not wait on work that
  // cannot finish.
  if (g.exit_handlers < 1024 && atexit(on_exit_handler) == 0) ++g.exit_handlers;
  g.streams[s.get()] = s;
  d->streams.push_back(s);
  *stream = (cudaStream_t)s.get();
  return cudaSuccess;
}
cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  Engine& g = E();
  cudaError_t e = check_driver(g);
  if (e) return e;
  std::lock_guard<std::mutex> lk(g.mu);
  auto it = g.streams.find((Stream*)stream);
  if (it == g.streams.end()) return record(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: invalid stream");
  g.streams.erase(it);  // queued work still completes (the queue holds the stream)
  return cudaSuccess;
}
namespace {
cudaError_t stream_call(cudaStream_t stream, const char* what, std::shared_ptr<Stream>* out,
                        std::unique_lock<std::mutex>& lk) {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d, false);
  if (e) return e;
  lk = std::unique_lock<std::mutex>(g.mu);
  *out = find_stream(g, stream, d);
  if (!*out) return record(cudaErrorInvalidResourceHandle, std::string(what) + ": invalid stream");
  if ((*out)->dev->sticky) return record((*out)->dev->sticky, (*out)->dev->sticky_msg);
  return cudaSuccess;
}
}  // namespace
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::unique_lock<std::mutex> lk;
  std::shared_ptr<Stream> s;
  cudaError_t e = stream_call(stream, "cudaStreamSynchronize", &s, lk);
  if (e) return e;
  wait_for(E(), lk, s.get(), s->enq);
  if (E().shutdown) return record(cudaErrorCudartUnloading, "the process is exiting");
  if (s->dev->sticky) return record(s->dev->sticky, s->dev->sticky_msg);
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t stream) {
  std::unique_lock<std::mutex> lk;
  std::shared_ptr<Stream> s;
  cudaError_t e = stream_call(stream, "cudaStreamQuery", &s, lk);
  if (e) return e;
  return s->done >= s->enq ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  Engine& g = E();
  Device* d;
  if (!event) return record(cudaErrorInvalidValue, "cudaEventCreate: null pointer");
  cudaError_t e = current(g, &d);
  if (e) return e;
  if (flags & ~7u) return record(cudaErrorInvalidValue, "cudaEventCreateWithFlags: invalid flags");
  auto ev = std::make_shared<Event>();
  ev->dev = d;
  ev->flags = flags;
  std::lock_guard<std::mutex> lk(g.mu);
  g.events[ev.get()] = ev;
  *event = (cudaEvent_t)ev.get();
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }
namespace {
std::shared_ptr<Event> find_event(Engine& g, cudaEvent_t e) {
  auto it = g.events.find((Event*)e);
  return it == g.events.end() ? nullptr : it->second;
}
}  // namespace
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::unique_lock<std::mutex> lk;
  std::shared_ptr<Stream> s;
  cudaError_t e = stream_call(stream, "cudaEventRecord", &s, lk);
  if (e) return e;
  Engine& g = E();
  std::shared_ptr<Event> ev = find_event(g, event);
  if (!ev) return record(cudaErrorInvalidResourceHandle, "cudaEventRecord: invalid event");
  if (ev->dev != s->dev)
    return record(cudaErrorInvalidResourceHandle, "cudaEventRecord: the event and the stream are on different devices");
  Op op;
  op.kind = Op::RECORD;
  op.event = ev;
  op.record = ++ev->records;
  ev->timed = false;
  ev->stream = s;
  ev->seq = enqueue(g, s, std::move(op));
  return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t event) {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d, false);
  if (e) return e;
  std::lock_guard<std::mutex> lk(g.mu);
  std::shared_ptr<Event> ev = find_event(g, event);
  if (!ev) return record(cudaErrorInvalidResourceHandle, "cudaEventQuery: invalid event");
  if (ev->dev->sticky) return record(ev->dev->sticky, ev->dev->sticky_msg);
  if (!ev->records) return cudaSuccess;
  return ev->stream->done >= ev->seq ? cudaSuccess : cudaErrorNotReady;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d, false);
  if (e) return e;
  std::unique_lock<std::mutex> lk(g.mu);
  std::shared_ptr<Event> ev = find_event(g, event);
  if (!ev) return record(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: invalid event");
  if (ev->dev->sticky) return record(ev->dev->sticky, ev->dev->sticky_msg);
  if (ev->records) {
    std::shared_ptr<Stream> s = ev->stream;
    wait_for(g, lk, s.get(), ev->seq);
    if (g.shutdown) return record(cudaErrorCudartUnloading, "the process is exiting");
  }
  if (ev->dev->sticky) return record(ev->dev->sticky, ev->dev->sticky_msg);
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  Engine& g = E();
  Device* d;
  if (!ms) return record(cudaErrorInvalidValue, "cudaEventElapsedTime: null pointer");
  cudaError_t e = current(g, &d, false);
  if (e) return e;
  std::lock_guard<std::mutex> lk(g.mu);
  std::shared_ptr<Event> a = find_event(g, start), b = find_event(g, end);
  if (!a || !b) return record(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: invalid event");
  if (a->dev->sticky) return record(a->dev->sticky, a->dev->sticky_msg);
  if ((a->flags | b->flags) & cudaEventDisableTiming)
    return record(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was created with cudaEventDisableTiming");
  if (!a->records || !b->records)
    return record(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
  if (!a->timed || !b->timed) return record(cudaErrorNotReady, "cudaEventElapsedTime: an event has not completed");
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  Engine& g = E();
  cudaError_t e = check_driver(g);
  if (e) return e;
  std::lock_guard<std::mutex> lk(g.mu);
  auto it = g.events.find((Event*)event);
  if (it == g.events.end()) return record(cudaErrorInvalidResourceHandle, "cudaEventDestroy: invalid event");
  g.events.erase(it);  // a queued record keeps it alive
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  std::unique_lock<std::mutex> lk;
  std::shared_ptr<Stream> s;
  cudaError_t e = stream_call(stream, "cudaStreamWaitEvent", &s, lk);
  if (e) return e;
  Engine& g = E();
  std::shared_ptr<Event> ev = find_event(g, event);
  if (!ev) return record(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: invalid event");
  if (!ev->records) return cudaSuccess;
  Op op;
  op.kind = Op::NOP;
  op.deps.emplace_back(ev->stream, ev->seq);
  enqueue(g, s, std::move(op));
  return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* userData) {
  if (!fn) return record(cudaErrorInvalidValue, "cudaLaunchHostFunc: null function");
  std::unique_lock<std::mutex> lk;
  std::shared_ptr<Stream> s;
  cudaError_t e = stream_call(stream, "cudaLaunchHostFunc", &s, lk);
  if (e) return e;
  Op op;
  op.kind = Op::HOST;
  op.host_fn = fn;
  op.host_arg = userData;
  enqueue(E(), s, std::move(op));
  return cudaSuccess;
}
namespace tensile_emu {
namespace detail {
namespace {
int launch_host_abi(void* stream, void (*fn)(void*), void* arg) {
  return (int)cudaLaunchHostFunc((cudaStream_t)stream, fn, arg);
}
}  // namespace
}  // namespace detail
}  // namespace tensile_emu

cudaError_t cudaDeviceSynchronize() {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d);
  if (e) return e;
  std::unique_lock<std::mutex> lk(g.mu);
  sync_device(g, lk, d);
  if (g.shutdown) return record(cudaErrorCudartUnloading, "the process is exiting");
  if (d->sticky) return record(d->sticky, d->sticky_msg);
  return cudaSuccess;
}
cudaError_t cudaDeviceReset() {
  // Waits for the device's work, then clears its sticky error (a new context). Allocations, streams and events stay.
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d, false);
  if (e) return e;
  std::unique_lock<std::mutex> lk(g.mu);
  sync_device(g, lk, d);
  d->sticky = cudaSuccess;
  d->sticky_msg.clear();
  d->peers.clear();
  tl_last = cudaSuccess;
  return cudaSuccess;
}
cudaError_t cudaGetLastError() {
  Engine& g = E();
  if (!g.devices.empty() && tl_device >= 0 && tl_device < (int)g.devices.size() && g.cfg.driver >= kRuntimeVersion) {
    std::lock_guard<std::mutex> lk(g.mu);
    Device* d = g.devices[tl_device].get();
    if (d->sticky) return d->sticky;
  }
  cudaError_t e = tl_last;
  tl_last = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() {
  Engine& g = E();
  if (!g.devices.empty() && tl_device >= 0 && tl_device < (int)g.devices.size() && g.cfg.driver >= kRuntimeVersion) {
    std::lock_guard<std::mutex> lk(g.mu);
    Device* d = g.devices[tl_device].get();
    if (d->sticky) return d->sticky;
  }
  return tl_last;
}
const char* cudaGetErrorName(cudaError_t error) {
  const ErrName* x = err_entry(error);
  return x ? x->name : "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t error) {
  const ErrName* x = err_entry(error);
  return x ? x->text : "unknown error";
}
cudaError_t cudaDeviceCanAccessPeer(int* can_access, int device, int peer_device) {
  Device *a, *b;
  if (!can_access) return record(cudaErrorInvalidValue, "cudaDeviceCanAccessPeer: null pointer");
  cudaError_t e = device_of(device, &a);
  if (e) return e;
  e = device_of(peer_device, &b);
  if (e) return e;
  *can_access = device != peer_device;
  return cudaSuccess;
}
cudaError_t cudaDeviceEnablePeerAccess(int peer_device, unsigned int flags) {
  Engine& g = E();
  Device *d, *p;
  cudaError_t e = current(g, &d);
  if (e) return e;
  e = device_of(peer_device, &p);
  if (e) return e;
  if (flags) return record(cudaErrorInvalidValue, "cudaDeviceEnablePeerAccess: flags must be 0");
  if (p == d) return record(cudaErrorInvalidDevice, "cudaDeviceEnablePeerAccess: a device is not its own peer");
  std::lock_guard<std::mutex> lk(g.mu);
  if (!d->peers.insert(peer_device).second)
    return record(cudaErrorPeerAccessAlreadyEnabled, "cudaDeviceEnablePeerAccess: already enabled");
  return cudaSuccess;
}
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  Engine& g = E();
  Device* d;
  cudaError_t e = current(g, &d);
  if (e) return e;
  if (!func) return record(cudaErrorInvalidDeviceFunction, "cudaFuncSetAttribute: null function");
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: unsupported attribute");
  if (value < 0 || (size_t)value > kSharedOptin)
    return record(cudaErrorInvalidValue, "cudaFuncSetAttribute: at most " + std::to_string(kSharedOptin) + " bytes");
  std::lock_guard<std::mutex> lk(g.mu);
  g.shmem_limit[func] = (size_t)value;
  return cudaSuccess;
}
