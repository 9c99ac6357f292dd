// Core runtime: errors, storage with a pooled allocator, the kernel table, and the per-device stream.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include "types.h"

namespace tensile {

struct Error {
  int kind;
  std::string message;
};

// ---------------------------------------------------------------- storage
// The device layer is an interface; the CPU is its first implementation. A CUDA allocator implements the same.
struct Allocator {
  virtual ~Allocator() = default;
  virtual void* alloc(size_t bytes) = 0;  // throws Error{ERR_MEMORY} on failure
  virtual void free(void* p, size_t bytes) = 0;
  virtual size_t pooled_bytes() const = 0;
  virtual void trim() = 0;
};
Allocator& cpu_allocator();

// Reference-counted storage. JS holds one reference per tensor handle; each queued op holds one per argument.
// An op's outputs are created empty (data == nullptr) when the op is enqueued and get their memory when the op
// runs: memory is then taken and given back in execution order, so a JS thread that runs far ahead of the worker
// does not hold the memory of every op in flight, and freed blocks are reused at once.
struct Storage {
  void* data;
  size_t bytes;
  int device;
  std::atomic<int> refs;
};
Storage* storage_new(int device, size_t bytes);
Storage* storage_new_lazy(int device, size_t bytes);  // memory comes at first storage_data()
// The storage's memory, allocated on first use (zero-filled when `zero`). Call it on the stream's worker, or on
// the owning thread once the stream is idle.
void* storage_data(Storage* s, bool zero = false);
void storage_ref(Storage* s);
void storage_unref(Storage* s);
int64_t live_storage_bytes(int device);
int64_t live_storage_count(int device);

// ---------------------------------------------------------------- kernel table
// table[op][device][dtype]; nullptr means "not implemented", which lib/ reports as a clear error.
KernelFn kernel_lookup(int op, int device, int dtype);
void kernel_register(int op, int device, int dtype, KernelFn fn);
// Registers the CPU kernels for the chosen instruction set ("avx512", "avx2", "scalar"; empty = best supported).
// Returns the name chosen. Throws Error when a forced set is not supported by this CPU.
const char* cpu_select_isa(const std::string& forced);
const char* cpu_isa();

// ---------------------------------------------------------------- stream
// Ops and fences execute in order on one native worker thread per device and environment.
struct QueuedOp {
  OpCall call;
  KernelFn fn = nullptr;
  std::vector<TensorArg> args;      // in then out
  std::vector<Storage*> refs;       // released after execution
  bool rebase = false;              // args[i].data holds a byte offset into refs[i], resolved when the op runs
  std::vector<int64_t> ip;
  std::vector<double> fp;
  std::function<void(const Error*)> fence;  // set for fences: runs on the worker after all earlier ops
  void clear() {  // keeps the vectors' capacity: a reused slot allocates nothing
    fn = nullptr;
    args.clear();
    refs.clear();
    ip.clear();
    fp.clear();
    fence = nullptr;
    rebase = false;
  }
};

// A single-producer (the environment's JS thread) single-consumer (the worker) ring of reusable op slots: the
// common path takes no lock and allocates nothing. The worker spins briefly when idle, then sleeps on a condvar.
class Stream {
 public:
  Stream();
  ~Stream();
  QueuedOp& reserve();                   // the next free slot (waits if the ring is full); fill it, then commit()
  void commit();
  void abandon();                        // drop a reserved slot (its refs must already be released)
  void synchronize();                    // waits until every committed op has run (blocks the caller)
  bool take_error(Error* out);           // the first error since the last take, if any
 private:
  void run();
  void execute(QueuedOp& op);
  static constexpr size_t kSlots = 4096;
  std::vector<QueuedOp> ring_;
  alignas(64) std::atomic<uint64_t> head_{0};  // next slot the worker runs
  alignas(64) std::atomic<uint64_t> tail_{0};  // next slot the producer fills
  std::atomic<bool> sleeping_{false};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  bool stop_ = false;
  bool has_error_ = false;
  Error error_;
  std::thread th_;
};

}  // namespace tensile
