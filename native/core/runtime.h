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
  double seq = 0;  // the number of the record whose op raised it (lib/ finds the user's stack by it); 0: none
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
size_t cpu_size_class(size_t bytes);  // the block size the CPU allocator gives for a request

// What a stream (one per JS environment) holds on one GPU: its CUDA stream, its caching allocator (so blocks are
// reused in that stream's order), its pinned staging buffers. Made by the CUDA backend (native/cuda/device.cu) the
// first time the stream runs something on that device; destroyed with the stream.
struct DeviceContext {
  virtual ~DeviceContext() = default;
  virtual Allocator& allocator() = 0;
  virtual void* stream(int op) = 0;  // the cudaStream_t ops go on (op: the one about to be launched)
  // copies n bytes of device memory at src to host memory at dst once what is queued on the stream has run, and
  // waits (throws Error: a device error, named after the CUDA error)
  virtual void to_host(void* dst, const void* src, size_t n) = 0;
  virtual void synchronize() = 0;  // waits for the stream (throws Error)
};
// The CUDA backend's factory (nullptr in a build without it): the context for device id (1 + N); throws
// Error{ERR_DEVICE} naming why when the device cannot be used.
using DeviceContextFactory = DeviceContext* (*)(int id);
void register_device_backend(DeviceContextFactory f);

// Reference-counted storage: each tensor handle (and so each view) holds one reference. Ops hold none: the worker
// drops a handle only once it has run the handle's last op (Stream::release). An op's outputs are created empty (data == nullptr)
// when the worker decodes the op and get their memory as it runs: memory is taken and given back in execution
// order, so a JS thread that runs far ahead of the worker does not hold the memory of every op in flight, and freed
// blocks are reused at once.
struct Storage {
  void* data;
  size_t bytes;
  int device;  // id: 0 cpu, 1 + N cuda:N
  std::atomic<int> refs;
  int32_t failed;  // 0, or the stream's failure (1-based) that an op writing this storage raised or inherited
};
// CPU storages (device 0); a GPU's come from its stream's DeviceContext (Stream::data).
Storage* storage_new(int device, size_t bytes);
Storage* storage_new_lazy(int device, size_t bytes);  // memory comes at first storage_data()
// The memory of a CPU storage, allocated on first use (zero-filled when `zero`). Call it on the stream's worker, or
// on the owning thread once the stream is idle.
void* storage_data(Storage* s, bool zero = false);
// References change on the stream's worker only (Stream::drop releases them), so they are plain loads and stores: a
// locked instruction per op would cost more than the op's bookkeeping.
void storage_ref(Storage* s);

// ---------------------------------------------------------------- kernel table
// table[op][device][dtype]; nullptr means "not implemented", which lib/ reports as a clear error.
KernelFn kernel_lookup(int op, int device, int dtype);
// The CPU kernels' OpenMP thread count (every thread that runs kernels follows a change from its next op on).
int num_threads();
void set_num_threads(int n);
void kernel_register(int op, int device, int dtype, KernelFn fn);
// Registers the CPU kernels for the chosen instruction set ("avx512", "avx2", "scalar"; empty = best supported).
// Returns the name chosen. Throws Error when a forced set is not supported by this CPU.
const char* cpu_select_isa(const std::string& forced);
const char* cpu_isa();

// ---------------------------------------------------------------- stream
// lib/ records what it asks of a device into command buffers (Float64Arrays it fills and submits in ranges), and
// the device's worker thread decodes and runs them in order. Tensor handles are small integers that lib/ assigns
// (it reuses an id as soon as it has released it); the worker's handle table maps them to storages.
// Records are made of 8-byte slots; each starts with a slot whose low int32 is its tag:
//   OP       [1, 0] then doubles: op, dtype, device, nin, nout, arg..., nip, ip..., nfp, fp...
//            arg, an existing handle: id, elemOffset, dtype, ndim, shape..., strides...
//            arg, a new output:       -id, dtype, ndim, shape...  (contiguous; memory taken when the op runs; on the
//                                     op's device, or with dtype + 256 * (1 + id) on device id: a copy between devices)
//   RELEASE  [2, id]                               (a dispose(): drops the handle here, in order)
//   SHARE    [3, src] [dst, 0]                     (dst: a new handle to src's storage, for a view)
//   FLAT     int32s: 4, op, dtype, device, n, inId, inId2 (0: none), outId, outDtype, 0 (an elementwise op with no
//            params over 1 or 2 contiguous inputs of n elements of `dtype`, at offset 0, into a new output)
// Releases by the GC are not records: they go beside the buffers (Stream::release), with each handle's last use.
enum Cmd : int { CMD_OP = 1, CMD_RELEASE = 2, CMD_SHARE = 3, CMD_FLAT = 4 };

// One entry of the stream's queue: a submitted command buffer, a storage to bind to a handle, or a fence.
struct StreamItem {
  enum Kind { BATCH, BIND, FENCE, NOP } kind = BATCH;  // NOP: only wakes the worker (for releases)
  const double* batch = nullptr;       // BATCH: the records, `len` doubles
  size_t len = 0;
  double seq_end = 0;                  // BATCH: the number of the last numbered record in it (Stream::release)
  std::atomic<int>* busy = nullptr;    // BATCH: the buffer's count of ranges in flight, less one when this is done
  uint32_t handle = 0;                 // BIND: the handle to set; FENCE: the handle to read (0: none)
  Storage* storage = nullptr;          // BIND: the storage (its one reference passes to the handle)
  // FENCE: runs on the worker after every earlier item, with the first error raised since the last fence (or
  // null) and the storage of `handle` (null when 0); it reports a bad handle through the error.
  std::function<void(const Error*, Storage*)> fence;
};

// A single-producer (the environment's JS thread) single-consumer (the worker) ring: the common path takes no lock
// and allocates nothing. The worker spins briefly when idle, then sleeps on a condvar.
class Stream;
// The stream whose op the calling thread is running (set around each kernel call; null outside one).
Stream* executing_stream();

class Stream {
 public:
  Stream();
  ~Stream();  // joins the worker (queued command buffers are dropped, binds and fences run), releases every handle
  // Queues n slots of records from buf. *busy (the count of ranges of buf's buffer in flight) goes up by one now
  // and down by one when the worker is done with them.
  // may_inline: the records are little work; when the worker has nothing left to run, the calling thread runs them
  // itself at once (run_inline) instead of waking it.
  void submit(const double* buf, size_t n, std::atomic<int>* busy, double seq_end, bool may_inline = false);
  void bind(uint32_t handle, Storage* s);  // queues handle <- s (s's reference passes to the handle); inline when idle
  // Releases of handles, each with the sequence number of the last record that uses it (records that name handles
  // are numbered 1, 2, ... in the order lib/ writes them: OP, FLAT, SHARE, binds and reads). The worker drops each handle
  // as soon as it has run that record: neither later, at the point in the queue where lib/ let go of the tensor,
  // nor earlier. A record that reuses the id comes later in the numbering, so it always finds the id released.
  // (Lock-free: the JS thread fills a ring the worker empties; waits only if the ring is full.) wake: also queue an
  // item so that an idle worker wakes up for them (not needed when a batch is submitted right after).
  void release(const int32_t* handles, const double* last_use, size_t n, bool wake);

  // Failures stay with the tensors they concern: an op that fails (a kernel's error, memory, a missing kernel)
  // marks the storages it writes as failed with its error, an op with a failed input skips and passes the failure
  // on to what it writes, and every other op runs as if nothing had happened. A read of a failed tensor rejects
  // with the original error (named after the op that raised it, with its record's number); a fence without a
  // handle (sync()) rejects with the first failure raised since the previous one that no read has reported.
  void fence(uint32_t handle, std::function<void(const Error*, Storage*)> fn);
  // Runs fn as fence() would, on the calling thread and at once, when the worker has nothing left to run; false
  // (and nothing done) otherwise.
  bool fence_inline(uint32_t handle, const std::function<void(const Error*, Storage*)>& fn);
  // Whether the worker has nothing queued right now (a hint: fence_inline decides under its lock).
  bool looks_idle() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed);
  }
  void synchronize();                      // waits until every queued item has run (blocks the caller)
  // The error a read of `handle` (0: a sync) gets, as fence() decides it; for the JS thread once synchronize()
  // has returned (the worker is idle).
  bool error_for(uint32_t handle, Error* out);
  // The storage of a live handle, for the JS thread once synchronize() has returned (the worker is idle); or null.
  Storage* idle_handle(uint32_t handle) const;
  // Copies n bytes of s from byte `off` to host memory (a GPU's: after what is queued on this stream's CUDA stream
  // for it); zeros for a storage never written. On the worker, or on the JS thread once the stream is idle. Throws Error.
  void read_bytes(Storage* s, size_t off, void* dst, size_t n);
  // This stream's context on GPU id (made on first use; throws Error{ERR_DEVICE} when it cannot be)
  DeviceContext& context(int id);
  // Waits for this stream's work on every GPU it used (the worker must be idle). Throws Error.
  void synchronize_devices();
  // Live storages held by this stream's handles and their bytes (exact once synchronize() has returned).
  int64_t live_bytes(int device) const { return live_bytes_[device].load(std::memory_order_relaxed); }
  int64_t live_count(int device) const { return live_count_[device].load(std::memory_order_relaxed); }

 private:
  StreamItem& reserve();                   // the next free slot (waits if the ring is full); fill it, then commit()
  // Runs `it` on the calling thread when every queued item has run (the worker is idle: spinning or asleep), under
  // exec_mu_, which the worker holds while it runs an item: an idle device then costs no wake-up of a sleeping
  // thread (a futex call, and on a virtual machine an interrupt to an idle vCPU: ~0.1-0.3 ms), for the op nor for
  // the read's completion. False when the worker is busy: the caller queues `it`.
  bool run_inline(StreamItem& it);
  void commit();
  void run();
  void execute(StreamItem& it);
  void run_batch(const double* b, size_t n);
  bool run_op(const double* b, size_t n, size_t& p);
  bool run_flat(const double* b, size_t n, size_t& p);
  void exec_op(int op, int dtype, int device, int nin, int nout, int nip, const double* fp, int nfp, const char* bad);
  void fail_outputs(int op, int nin, int nout, Error e);  // a new failure, marked on the op's written storages
  int32_t new_failure(Error e);
  void mark_failed(Storage* s, int32_t f);
  void unref_failure(int32_t f);
  void take_releases();
  void decoded_one();
  void release_due();
  void release_now(int32_t handle);
  Storage* lookup(uint32_t handle) const;
  void set_handle(uint32_t handle, Storage* s);
  Storage* make_output(int device, size_t bytes, uint32_t handle);  // a new lazy storage bound to handle, counted
  void count(const Storage* s, int sign);
  void drop(Storage* s);  // drops one reference; the last frees the storage (counted)
  void* data(Storage* s);  // storage_data, small blocks from the stream's cache
  // small CPU blocks (64 B .. 16 KiB) freed by this stream's ops, kept for its next outputs (at most ~1 MiB)
  static constexpr size_t kSmallMax = size_t(16) << 10;
  static constexpr int kSmallClasses = 9, kSmallDepth = 32;
  void* small_[kSmallClasses][kSmallDepth];
  int small_n_[kSmallClasses] = {};
  static constexpr size_t kSlots = 1024;
  std::vector<StreamItem> ring_;
  alignas(64) std::atomic<uint64_t> head_{0};  // next slot the worker runs
  alignas(64) std::atomic<uint64_t> tail_{0};  // next slot the producer fills
  std::atomic<bool> sleeping_{false};
  std::atomic<int> waiters_{0};
  std::mutex mu_;
  std::mutex exec_mu_;  // held by whoever runs items: the worker, or the JS thread running one inline
  std::condition_variable cv_, idle_cv_;
  bool stop_ = false;
  std::atomic<bool> discard_{false};  // set at shutdown: lib/'s buffers may be gone, so batches are not read
  // worker-owned (the JS thread reads them only while the worker is idle): failures by number (1-based; a free
  // list reuses the numbers of those no storage holds any more), those not yet reported (what sync() rejects with;
  // each entry holds a reference), and a malformed command buffer (what reads of the handles its dropped records
  // would have bound get)
  struct Failure {
    Error err;
    int64_t refs = 0;
    bool reported = false;
  };
  std::vector<Failure> failures_;
  std::vector<int32_t> free_failures_;
  std::deque<int32_t> unreported_;
  static constexpr size_t kMaxUnreported = 1024;
  bool faulted_ = false;
  Error fault_;
  struct Release {
    double at;  // the handle's last use
    int32_t handle;
    bool operator>(const Release& o) const { return at > o.at; }
  };
  static constexpr size_t kRelRing = 1 << 16;
  std::vector<Release> rel_ring_;           // from the JS thread: SPSC ring
  alignas(64) std::atomic<uint64_t> rel_head_{0};  // next entry the worker takes
  alignas(64) std::atomic<uint64_t> rel_tail_{0};  // next entry the JS thread fills
  std::deque<Release> rel_fifo_;            // releases that came in order of last use (the common case)
  std::vector<Release> rel_heap_;           // the others: a min-heap on `at`
  double decoded_ = 0;                      // numbered records run
  // worker-owned (the JS thread reads it only while the worker is idle)
  std::atomic<int64_t> live_bytes_[kMaxDevices] = {}, live_count_[kMaxDevices] = {};  // one writer: plain stores
  DeviceContext* ctx_[kMaxDevices] = {};  // by device id; [0] unused
  std::vector<Storage*> handles_;
  std::vector<Storage*> spare_;     // records of freed storages, for reuse
  std::vector<TensorArg> args_;     // one op's arguments, decoded
  std::vector<Storage*> arg_st_;    // their storages
  std::vector<int64_t> arg_off_;    // their byte offsets into those
  std::vector<int64_t> ip_;
  std::thread th_;
};

}  // namespace tensile
