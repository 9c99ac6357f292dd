// node-addon-api glue only: per-environment state, tensor handles, op enqueue, reads, errors. No math here.
#include <napi.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include "../core/runtime.h"
#include "../cuda/api.h"

using namespace tensile;

namespace {

// Releases found by the garbage collector. lib/ attaches a Node-API finalizer to each tensor that lives past a submit
// (track()); V8 runs it during the collection itself, also inside a synchronous loop that never lets the event loop
// turn (FinalizationRegistry callbacks, and Node-API finalizers of ordinary modules, wait for the loop). Such a
// finalizer may not touch the JS heap: it writes the tensor's handle id and generation into this ring, memory that
// lib/ reads as an Int32Array and drains at its next submit (lib/native.ts drainCollected). Layout, in int32s:
// [0] entries written (native), [1] entries read (lib/), [2] 1 while entries wait in `overflow` (the ring was full),
// [3] unused, then kRingCap (id, generation) pairs. The JS thread is the only one that touches it: finalizers run on
// it, between two JS operations. The ring outlives the environment's state until the last finalizer has run (Node
// runs the remaining ones at teardown, in an order it does not promise): `refs` counts the state and each pending
// finalizer.
struct GcRing {
  static constexpr uint32_t kRingCap = 1u << 16;  // pairs (512 KiB); more between two submits go to `overflow`
  int32_t* mem;
  std::vector<std::pair<int32_t, int32_t>> overflow;
  int64_t refs = 1;
  bool alive = true;
  GcRing() : mem(static_cast<int32_t*>(std::calloc(4 + 2 * (size_t)kRingCap, sizeof(int32_t)))) {
    if (!mem) throw std::bad_alloc();
  }
  ~GcRing() { std::free(mem); }
  void unref() {
    if (--refs == 0) delete this;
  }
  void push(int32_t id, int32_t gen) {
    const uint32_t w = (uint32_t)mem[0], r = (uint32_t)mem[1];
    if (w - r < kRingCap && overflow.empty()) {
      int32_t* e = mem + 4 + 2 * (w & (kRingCap - 1));
      e[0] = id;
      e[1] = gen;
      mem[0] = (int32_t)(w + 1);
    } else {
      overflow.emplace_back(id, gen);
      mem[2] = 1;
    }
  }
  // moves waiting entries into the ring as far as it has room (lib/ has just drained it)
  void refill() {
    size_t i = 0;
    for (uint32_t w = (uint32_t)mem[0]; i < overflow.size() && w - (uint32_t)mem[1] < kRingCap; ++i, ++w) {
      int32_t* e = mem + 4 + 2 * (w & (kRingCap - 1));
      e[0] = overflow[i].first;
      e[1] = overflow[i].second;
      mem[0] = (int32_t)(w + 1);
    }
    overflow.erase(overflow.begin(), overflow.begin() + (ptrdiff_t)i);
    mem[2] = overflow.empty() ? 0 : 1;
  }
};

// A basic finalizer (node_api_basic_finalize): runs inside the GC, so it touches only the ring.
void collected(node_api_basic_env, void* data, void* hint) {
  GcRing* ring = static_cast<GcRing*>(hint);
  const uint64_t v = (uint64_t)(uintptr_t)data;
  if (ring->alive) ring->push((int32_t)(uint32_t)v, (int32_t)(uint32_t)(v >> 32));
  ring->unref();
}

// Per-environment state (context-aware: each worker_thread gets its own stream and error classes).
// Teardown (a worker_thread that ends or is terminated, or the main thread's exit): the JS thread can no longer run
// JS, every Node-API call that could fails, and Node deletes the environment's thread-safe functions before the
// instance data (this struct). So the stream is stopped by an environment cleanup hook (shutdown(), registered by
// init() after the TSFN, so it runs first: Node runs cleanup hooks youngest first), which first aborts the TSFN (the
// stream's last fences then find it closing and free their reads), then joins the worker and frees every storage.
struct EnvData {
  std::unique_ptr<Stream> stream;
  Napi::FunctionReference errors[6];
  // lib/'s command buffers (Float64Arrays it fills with records, runtime.h) and whether the worker still reads each
  std::vector<Napi::Reference<Napi::Float64Array>> buf_refs;
  std::vector<double*> bufs;
  size_t buf_len = 0;
  std::unique_ptr<std::atomic<int>[]> busy;
  Napi::ThreadSafeFunction tsfn;
  int pending = 0;
  bool initialised = false;
  bool tsfn_live = false;  // tsfn made and not yet aborted by shutdown()
  int64_t unreported = 0;  // bytes not yet reported to V8 (reported in steps of 1 MiB)
  GcRing* ring = new GcRing();
  // The environment is going away: no read can be settled any more. Aborting the TSFN makes every later call on it
  // fail (the fences that run below free their reads; Node frees what was already queued through settle_on_js,
  // with no environment), then the worker is joined and every storage of the environment freed. Nothing here
  // throws: it runs inside Node's teardown.
  void shutdown() noexcept {
    if (tsfn_live) {
      napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
      tsfn_live = false;
    }
    initialised = false;  // a late call gets "expected init() before use", not a stopped stream
    stream.reset();
  }
  // Runs after the cleanup hook (Node deletes the instance data last), when the TSFN is gone: not touched here.
  ~EnvData() {
    stream.reset();  // set only when init() failed before registering the hook, or never ran
    ring->alive = false;
    ring->unref();
  }
};

void shutdown_hook(void* data) { static_cast<EnvData*>(data)->shutdown(); }
void settle_on_js(napi_env env, napi_value, void*, void* data) noexcept;

EnvData& env_data(Napi::Env env) { return *env.GetInstanceData<EnvData>(); }

// seq: the number of the record whose op raised it (0: none); lib/ puts the stack of the user's line that recorded
// that op on the error when it kept one (lib/native.ts withSite)
Napi::Error make_error(Napi::Env env, int kind, const std::string& msg, double seq = 0) {
  EnvData& d = env_data(env);
  Napi::Error err = d.initialised && kind >= 0 && kind < 6 && !d.errors[kind].IsEmpty()
                        ? Napi::Error(env, d.errors[kind].New({Napi::String::New(env, msg)}))
                        : Napi::Error::New(env, msg);
  if (seq > 0) err.Set("seq", Napi::Number::New(env, seq));
  return err;
}

// Every function lib/ calls, the module's registration and the TSFN's callback end in one of these (not in
// node-addon-api's wrappers): no C++ exception may leave a Node-API callback (std::terminate would abort the whole
// process), and while an environment is being torn down (worker.terminate(), the end of a worker) a Node-API call
// that could run JS fails and node-addon-api turns that into a Napi::Error, which its wrappers, failing to throw it
// into JS, throw again. Here an error goes to JS when JS can still take it and is dropped when it cannot (nothing
// waits for it then).
void throw_to_js(napi_env env, const Napi::Error* e, const char* msg) noexcept {
  try {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return;  // one already goes to JS
    napi_value v = e && !e->IsEmpty() ? napi_value(e->Value()) : nullptr;
    if (!v) {
      napi_value m;
      if (napi_create_string_utf8(env, msg ? msg : "tensile: native error", NAPI_AUTO_LENGTH, &m) != napi_ok ||
          napi_create_error(env, nullptr, m, &v) != napi_ok)
        return;
    }
    napi_throw(env, v);  // fails once the environment cannot run JS: the error is dropped
  } catch (...) {
  }
}

template <Napi::Value (*F)(const Napi::CallbackInfo&)>
napi_value guarded(napi_env env, napi_callback_info cbinfo) noexcept {
  try {
    Napi::CallbackInfo info(env, cbinfo);
    return F(info);
  } catch (const Napi::Error& e) {
    throw_to_js(env, &e, nullptr);
  } catch (const tensile::Error& e) {  // from a function without its own TS_GUARD: the error class of its kind
    try {
      const Napi::Error err = make_error(Napi::Env(env), e.kind, e.message);
      throw_to_js(env, &err, nullptr);
    } catch (...) {
      throw_to_js(env, nullptr, e.message.c_str());
    }
  } catch (const std::bad_alloc&) {
    throw_to_js(env, nullptr, "tensile: out of memory");
  } catch (const std::exception& e) {
    throw_to_js(env, nullptr, e.what());
  } catch (...) {
    throw_to_js(env, nullptr, "tensile: unknown native error");
  }
  return nullptr;
}

#define TS_GUARD_BEGIN try {
#define TS_GUARD_END                                   \
  }                                                    \
  catch (const tensile::Error& e) {                    \
    throw make_error(info.Env(), e.kind, e.message);   \
  }                                                    \
  catch (const std::bad_alloc&) {                      \
    throw make_error(info.Env(), ERR_MEMORY, "out of memory"); \
  }

void report(Napi::Env env, EnvData& d, int64_t delta) {
  d.unreported += delta;
  if (d.unreported >= (1 << 20) || d.unreported <= -(1 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, d.unreported);
    d.unreported = 0;
  }
}

// init({errors: [NativeError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError],
//       buffers: Float64Array[] (lib/'s command buffers, all of one length), isa: string})
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = env_data(env);
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Array errs = o.Get("errors").As<Napi::Array>();
  for (uint32_t i = 0; i < 6 && i < errs.Length(); ++i) d.errors[i] = Napi::Persistent(errs.Get(i).As<Napi::Function>());
  if (d.initialised) throw tensile::Error{ERR_NATIVE, "init: expected one call per environment, got a second"};
  Napi::Array bufs = o.Get("buffers").As<Napi::Array>();
  if (bufs.Length() < 2) throw tensile::Error{ERR_NATIVE, "init: expected at least 2 command buffers"};
  d.busy.reset(new std::atomic<int>[bufs.Length()]);
  for (uint32_t i = 0; i < bufs.Length(); ++i) {
    Napi::Float64Array b = bufs.Get(i).As<Napi::Float64Array>();
    if (i == 0) d.buf_len = b.ElementLength();
    if (b.ElementLength() != d.buf_len || d.buf_len < 1024)
      throw tensile::Error{ERR_NATIVE, "init: expected command buffers of one length >= 1024"};
    d.buf_refs.push_back(Napi::Persistent(b));
    d.bufs.push_back(b.Data());
    d.busy[i].store(0);
  }
  std::string isa = o.Has("isa") && o.Get("isa").IsString() ? o.Get("isa").As<Napi::String>().Utf8Value() : "";
  static std::once_flag once;
  static std::string chosen_error;
  std::call_once(once, [&] {
    try {
      cpu_select_isa(isa);
    } catch (const tensile::Error& e) {
      chosen_error = e.message;
      cpu_select_isa("");
    }
  });
  if (cuda::status().devices > 0) cuda::init_backend();  // once per process; a few ms without a driver
  d.stream.reset(new Stream());
  // The TSFN settles reads on this thread (settle_on_js, with no JS function), and the cleanup hook that stops the
  // stream at teardown is registered right after it, so that it runs before Node's own hook for the TSFN.
  napi_value name;
  napi_threadsafe_function tsfn;
  if (napi_create_string_utf8(env, "tensile-stream", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, nullptr, settle_on_js,
                                      &tsfn) != napi_ok)
    throw Napi::Error::New(env);
  d.tsfn = Napi::ThreadSafeFunction(tsfn);
  d.tsfn_live = true;
  if (napi_add_env_cleanup_hook(env, shutdown_hook, &d) != napi_ok) {
    d.shutdown();
    throw tensile::Error{ERR_NATIVE, "init: expected to register the environment's cleanup hook"};
  }
  d.tsfn.Unref(env);
  d.initialised = true;
  Napi::Object r = Napi::Object::New(env);
  r.Set("isa", cpu_isa());
  r.Set("isaError", chosen_error);
  // the ring's memory stays valid while this environment runs JS (EnvData holds a reference until teardown)
  r.Set("collected", Napi::Int32Array::New(env, 4 + 2 * (size_t)GcRing::kRingCap,
                                           Napi::ArrayBuffer::New(env, d.ring->mem, (4 + 2 * (size_t)GcRing::kRingCap) * 4), 0));
  return r;
  TS_GUARD_END
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  TS_GUARD_BEGIN
  EnvData& d = env_data(info.Env());
  if (d.stream) d.stream->synchronize();
  return Napi::String::New(info.Env(), cpu_select_isa(info[0].As<Napi::String>().Utf8Value()));
  TS_GUARD_END
}

// numThreads(n?) -> the CPU kernels' thread count, after setting it to n (an integer >= 1; checked in lib/) when given.
// A change applies from the next op each thread runs (ops queued but not yet run included).
Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsNumber()) set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(info.Env(), num_threads());
}

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), OP_COUNT);
  for (int i = 0; i < OP_COUNT; ++i) a.Set(i, op_name(i));
  return a;
}

// supports(op, device, dtype) -> boolean
Napi::Value Supports(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value(), dev = info[1].As<Napi::Number>().Int32Value(),
      dt = info[2].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), kernel_lookup(op, device_kind(dev), dt) != nullptr);
}

EnvData& ready(Napi::Env env) {
  EnvData& d = env_data(env);
  if (!d.initialised) throw tensile::Error{ERR_NATIVE, "tensile: expected init() before use"};
  return d;
}

uint32_t handle_arg(const Napi::Value& v, const char* what) {
  const double h = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(h >= 0 && h < 4294967296.0) || h != (double)(uint32_t)h)
    throw tensile::Error{ERR_NATIVE, std::string(what) + ": expected a tensor handle"};
  return (uint32_t)h;
}

// submit(buffer, start, end, seqEnd, memoryDelta, advance, released: Int32Array, lastUse: Float64Array, nReleased):
// hands the worker the releases released[0, nReleased) (with the number of each handle's last record,
// Stream::release) and slots [start, end) of command buffer `buffer` (records, runtime.h; seqEnd: the number of
// the last numbered record in them), and reports memoryDelta bytes (the native memory lib/'s new handles hold, less
// what its releases let go) to V8. advance: lib/ goes on in the next buffer, so this waits until the worker no longer reads that one (it
// is a whole ring of buffers behind: backpressure).
Napi::Value Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  const uint32_t i = info[0].As<Napi::Number>().Uint32Value();
  const double start = info[1].As<Napi::Number>().DoubleValue(), end = info[2].As<Napi::Number>().DoubleValue();
  const size_t k = d.bufs.size();
  if (i >= k || !(start >= 0 && start <= end && end <= (double)d.buf_len))
    throw tensile::Error{ERR_NATIVE, "submit: expected a buffer index and a range inside it"};
  const double seq_end = info[3].As<Napi::Number>().DoubleValue();
  report(env, d, info[4].As<Napi::Number>().Int64Value());
  if (info.Length() > 8 && info[6].IsTypedArray() && info[7].IsTypedArray()) {
    Napi::Int32Array rel = info[6].As<Napi::Int32Array>();
    Napi::Float64Array at = info[7].As<Napi::Float64Array>();
    const size_t nr = (size_t)info[8].As<Napi::Number>().Uint32Value();
    if (nr > rel.ElementLength() || nr > at.ElementLength())
      throw tensile::Error{ERR_NATIVE, "submit: expected nReleased within the arrays"};
    if (nr) d.stream->release(rel.Data(), at.Data(), nr, !(end > start));
  }
  const bool may_inline = info.Length() > 9 && info[9].ToBoolean().Value();
  if (end > start) d.stream->submit(d.bufs[i] + (size_t)start, (size_t)(end - start), &d.busy[i], seq_end, may_inline);
  if (info[5].ToBoolean().Value()) {
    std::atomic<int>& next = d.busy[(i + 1) % k];
    for (int spin = 0; next.load(std::memory_order_acquire) != 0; ++spin) {
      if (spin < 64) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }
  return env.Undefined();
  TS_GUARD_END
}

// track(tensors: array, ids: Int32Array, n): attaches the GC-time finalizer to tensors[i] for i < n where ids[2i]
// (the tensor's handle id) is not 0; ids[2i + 1] is the id's generation, returned with it through the ring so that
// lib/ can tell a finalizer of a tensor it already disposed (whose id may have been reused since) from a live one.
Napi::Value Track(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsTypedArray())
    throw tensile::Error{ERR_NATIVE, "track: expected (tensors, ids, n)"};
  Napi::Array list = info[0].As<Napi::Array>();
  Napi::Int32Array ids = info[1].As<Napi::Int32Array>();
  const uint32_t n = info[2].As<Napi::Number>().Uint32Value();
  if ((size_t)n * 2 > ids.ElementLength() || n > list.Length())
    throw tensile::Error{ERR_NATIVE, "track: expected n within the arrays"};
  const int32_t* p = ids.Data();
  for (uint32_t i = 0; i < n; ++i) {
    if (p[2 * i] == 0) continue;
    napi_value obj;
    if (napi_get_element(env, list, i, &obj) != napi_ok) throw Napi::Error::New(env);
    const uint64_t v = (uint64_t)(uint32_t)p[2 * i] | ((uint64_t)(uint32_t)p[2 * i + 1] << 32);
    if (napi_add_finalizer(env, obj, (void*)(uintptr_t)v, collected, d.ring, nullptr) != napi_ok) throw Napi::Error::New(env);
    d.ring->refs++;
  }
  return env.Undefined();
  TS_GUARD_END
}

// refillCollected(): after lib/ drained the ring, moves releases that did not fit into it (returns whether any wait)
Napi::Value RefillCollected(const Napi::CallbackInfo& info) {
  EnvData& d = env_data(info.Env());
  d.ring->refill();
  return Napi::Boolean::New(info.Env(), !d.ring->overflow.empty());
}

// fromBytes(device, ArrayBufferView, handle): a new storage holding a copy of the bytes, bound to `handle` after
// every record submitted so far (lib/ submits its pending records first).
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  int dev = info[0].As<Napi::Number>().Int32Value();
  if (dev != DEV_CPU) throw tensile::Error{ERR_DEVICE, "fromBytes: expected device cpu (lib/ copies to a GPU with an op)"};
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  const uint32_t h = handle_arg(info[2], "fromBytes");
  size_t bytes = ta.ByteLength();
  const uint8_t* src = (const uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset();
  Storage* s = storage_new(dev, bytes);
  if (bytes) std::memcpy(s->data, src, bytes);
  d.stream->bind(h, s);
  return env.Undefined();
  TS_GUARD_END
}

constexpr size_t kInlineReadMax = size_t(1) << 20;

struct ReadCtx {
  Napi::Promise::Deferred deferred;
  void* buf = nullptr;
  size_t len = 0;
  bool failed = false;
  int kind = 0;
  std::string msg;
  double seq = 0;
};

void free_read(ReadCtx* c) {
  std::free(c->buf);
  delete c;
}

// Settles a read on the JS thread; with no environment (Node empties the TSFN's queue at teardown) only frees it.
// The read is freed however this ends (a Node-API call that fails during teardown throws). pending: the read went
// through the worker (it holds a reference on the TSFN, so that the process waits for it).
void settle(Napi::Env env, ReadCtx* c, bool pending = true) {
  std::unique_ptr<ReadCtx, void (*)(ReadCtx*)> owned(c, free_read);
  if (env == nullptr) return;
  EnvData& d = env_data(env);
  if (pending && --d.pending == 0 && d.tsfn_live) d.tsfn.Unref(env);
  if (c->failed) {
    c->deferred.Reject(make_error(env, c->kind, c->msg, c->seq).Value());
  } else if (c->buf || c->len == 0) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, c->len);
    if (c->len) std::memcpy(ab.Data(), c->buf, c->len);
    c->deferred.Resolve(ab);
  } else {
    c->deferred.Resolve(env.Undefined());
  }
}

// The TSFN's call_js_cb: data is the ReadCtx a fence queued.
void settle_on_js(napi_env env, napi_value, void*, void* data) noexcept {
  try {
    settle(Napi::Env(env), static_cast<ReadCtx*>(data));
  } catch (const Napi::Error& e) {
    if (env) throw_to_js(env, &e, nullptr);
  } catch (...) {
    if (env) throw_to_js(env, nullptr, "read: unknown native error");
  }
}

// read(handle (0: none), byteOffset, byteLength) -> ArrayBuffer | undefined | Promise<ArrayBuffer | undefined> (no
// handle: a fence, undefined). On an idle stream the read runs here and now (a copy of at most 1 MiB) and returns
// the bytes themselves, or throws the failure: no promise to settle, no worker to wake, no turn of the event loop
// to wait for. Otherwise it returns a promise, settled once every earlier op has run. Either way a failure is the
// first error raised by an earlier op that the read depends on, named after that op.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  const uint32_t h = handle_arg(info[0], "read");
  const size_t off = (size_t)info[1].As<Napi::Number>().Int64Value();
  const size_t len = (size_t)info[2].As<Napi::Number>().Int64Value();
  Stream* stream = d.stream.get();
  if (len <= kInlineReadMax && stream->looks_idle()) {
    // the buffer is made before the fence: no JS allocation (which may run the GC) under the stream's lock
    Napi::ArrayBuffer ab = h && len ? Napi::ArrayBuffer::New(env, len) : Napi::ArrayBuffer();
    void* dst = h && len ? ab.Data() : nullptr;
    bool failed = false;
    int kind = 0;
    std::string msg;
    double seq = 0;
    const bool ran = stream->fence_inline(h, [&](const tensile::Error* err, Storage* st) {
      if (err) {
        failed = true;
        kind = err->kind;
        msg = err->message;
        seq = err->seq;
      } else if (h && off + len > st->bytes) {
        failed = true;
        kind = ERR_NATIVE;
        msg = "read: expected a range inside the storage";
      } else if (dst) {
        try {
          stream->read_bytes(st, off, dst, len);
        } catch (const tensile::Error& e) {  // a never-written storage that cannot get memory; a device error
          failed = true;
          kind = e.kind;
          msg = e.message.compare(0, 5, "read:") == 0 ? e.message : "read: " + e.message;
        }
      }
    });
    if (ran) {
      if (failed) throw make_error(env, kind, msg, seq);
      if (!h) return env.Undefined();
      return len ? Napi::Value(ab) : Napi::Value(Napi::ArrayBuffer::New(env, 0));
    }
  }
  ReadCtx* c = new ReadCtx{Napi::Promise::Deferred::New(env)};
  Napi::Promise promise = c->deferred.Promise();
  // the worker fills c; from the worker, the TSFN brings it back to this thread, which settles the promise
  auto fill = [c, h, off, len, stream](const tensile::Error* err, Storage* st) {
    if (err) {
      c->failed = true;
      c->kind = err->kind;
      c->msg = err->message;
      c->seq = err->seq;
    } else if (h) {
      c->len = len;
      if (off + len > st->bytes) {
        c->failed = true;
        c->kind = ERR_NATIVE;
        c->msg = "read: expected a range inside the storage";
      } else if (len) {
        c->buf = std::malloc(len);
        if (!c->buf) {
          c->failed = true;
          c->kind = ERR_MEMORY;
          c->msg = "read: out of memory";
        } else {
          try {
            stream->read_bytes(st, off, c->buf, len);
          } catch (const tensile::Error& e) {  // a never-written storage that cannot get memory; a device error
            c->failed = true;
            c->kind = e.kind;
            c->msg = e.message.compare(0, 5, "read:") == 0 ? e.message : "read: " + e.message;
          }
        }
      }
    }
  };
  if (d.pending++ == 0) d.tsfn.Ref(env);
  Napi::ThreadSafeFunction tsfn = d.tsfn;
  d.stream->fence(h, [c, fill, tsfn](const tensile::Error* err, Storage* st) mutable {
    fill(err, st);
    const napi_status status = napi_call_threadsafe_function(tsfn, c, napi_tsfn_blocking);
    if (status != napi_ok) {  // environment shutting down (shutdown() aborted the TSFN): nobody is waiting any more
      std::free(c->buf);
      delete c;
    }
  });
  return promise;
  TS_GUARD_END
}

// readSync(handle (0: none), byteOffset, byteLength) -> ArrayBuffer. Blocks the calling thread until the stream is
// idle.
Napi::Value ReadSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  const uint32_t h = handle_arg(info[0], "readSync");
  const size_t off = (size_t)info[1].As<Napi::Number>().Int64Value();
  const size_t len = (size_t)info[2].As<Napi::Number>().Int64Value();
  d.stream->synchronize();
  tensile::Error err;
  if (d.stream->error_for(h, &err)) throw make_error(env, err.kind, err.message, err.seq);
  if (!h) return env.Undefined();
  Storage* st = d.stream->idle_handle(h);
  if (!st) throw tensile::Error{ERR_NATIVE, "readSync: expected a live tensor handle, got a released one"};
  if (off + len > st->bytes) throw tensile::Error{ERR_NATIVE, "readSync: expected a range inside the storage"};
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, len);
  d.stream->read_bytes(st, off, ab.Data(), len);
  return ab;
  TS_GUARD_END
}

// memory(): live storages and bytes once the stream has run what was submitted (blocks until then), and pooled bytes.
Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = ready(env);
  d.stream->synchronize();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveBytes", (double)d.stream->live_bytes(DEV_CPU));
  o.Set("liveStorages", (double)d.stream->live_count(DEV_CPU));
  o.Set("pooledBytes", (double)cpu_allocator().pooled_bytes());
  return o;
  TS_GUARD_END
}

// ---------------------------------------------------------------- cuda.*
// cudaStatus() -> { built, emulated, runtimeVersion, driverVersion, devices, reason }
Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::Status& st = cuda::status();
  Napi::Object o = Napi::Object::New(env);
  o.Set("built", st.built);
  o.Set("emulated", st.emulated);
  o.Set("runtimeVersion", st.runtime_version);
  o.Set("driverVersion", st.driver_version);
  o.Set("devices", st.devices);
  o.Set("reason", st.reason);
  return o;
}

Napi::Value CudaProperties(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::Properties p = cuda::properties(info[0].As<Napi::Number>().Int32Value());
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", p.name);
  o.Set("major", p.major);
  o.Set("minor", p.minor);
  o.Set("multiProcessorCount", p.multiprocessors);
  o.Set("warpSize", p.warp_size);
  o.Set("maxThreadsPerBlock", p.max_threads_per_block);
  o.Set("totalMemory", (double)p.total_memory);
  o.Set("sharedMemoryPerBlock", (double)p.shared_memory_per_block);
  o.Set("l2CacheSize", (double)p.l2_cache);
  return o;
}

// cudaMemory(ordinal): the device's allocator figures once this environment's work has run (blocks until then)
Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData& d = ready(env);
  const int ord = info[0].As<Napi::Number>().Int32Value();
  d.stream->synchronize();
  const cuda::MemoryStats m = cuda::memory(ord);
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocated", (double)m.allocated);
  o.Set("reserved", (double)m.reserved);
  o.Set("peak", (double)m.peak);
  o.Set("allocations", (double)m.allocations);
  o.Set("limit", (double)m.limit);
  o.Set("total", (double)m.total);
  o.Set("free", (double)m.free);
  o.Set("liveBytes", (double)d.stream->live_bytes(1 + ord));
  o.Set("liveStorages", (double)d.stream->live_count(1 + ord));
  return o;
}

// cudaSynchronize(): waits (blocking) until this environment's work has run on every device, and throws the
// device's error if one was raised
Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  EnvData& d = ready(info.Env());
  d.stream->synchronize();
  d.stream->synchronize_devices();
  return info.Env().Undefined();
}

// cudaEmptyCache(ordinal): gives this environment's cached blocks on the device back to the driver
Napi::Value CudaEmptyCache(const Napi::CallbackInfo& info) {
  EnvData& d = ready(info.Env());
  const int ord = info[0].As<Napi::Number>().Int32Value();
  d.stream->synchronize();
  if (cuda::status().devices > ord) d.stream->context(1 + ord).allocator().trim();
  return info.Env().Undefined();
}

// cudaLibraries() -> { cublas, cudnn }: { found, version, path, reason, tried } each (probes them the first time)
Napi::Value CudaLibraries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto one = [&](const cuda::LibraryStatus& l) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("found", l.found);
    o.Set("version", l.version);
    o.Set("path", l.path);
    o.Set("reason", l.reason);
    Napi::Array t = Napi::Array::New(env, l.tried.size());
    for (size_t i = 0; i < l.tried.size(); ++i) t.Set((uint32_t)i, l.tried[i]);
    o.Set("tried", t);
    return o;
  };
  Napi::Object o = Napi::Object::New(env);
  o.Set("cublas", one(cuda::cublas_status()));
  o.Set("cudnn", one(cuda::cudnn_status()));
  return o;
}

// cudaSetSwitch(which, on): 0 allowTF32, 1 benchmark, 2 deterministic. Waits for this environment's queued work
// first, so that the ops recorded before the call run with the previous setting.
Napi::Value CudaSetSwitch(const Napi::CallbackInfo& info) {
  EnvData& d = ready(info.Env());
  const int which = info[0].As<Napi::Number>().Int32Value();
  const bool on = info[1].As<Napi::Boolean>().Value();
  d.stream->synchronize();
  if (which == 0) cuda::set_allow_tf32(on);
  else if (which == 1) cuda::set_benchmark(on);
  else cuda::set_deterministic(on);
  return info.Env().Undefined();
}

// cudaLibraryPaths(reset) -> [op, path, calls][]: which implementation each op ran on since the start (or the last
// reset), once this environment's work has run. The first call starts the recording (TENSILE_PROFILE starts it
// at load).
Napi::Value CudaLibraryPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData& d = ready(env);
  d.stream->synchronize();
  const auto rows = cuda::library_paths(info[0].As<Napi::Boolean>().Value());
  Napi::Array a = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Napi::Array r = Napi::Array::New(env, 3);
    r.Set(0u, rows[i].first);
    r.Set(1u, rows[i].second.first);
    r.Set(2u, (double)rows[i].second.second);
    a.Set((uint32_t)i, r);
  }
  return a;
}

Napi::Value CudaSetMemoryLimit(const Napi::CallbackInfo& info) {
  cuda::set_memory_limit(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int64Value());
  return info.Env().Undefined();
}

Napi::Value CudaResetPeak(const Napi::CallbackInfo& info) {
  EnvData& d = ready(info.Env());
  d.stream->synchronize();
  cuda::reset_peak(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value Trim(const Napi::CallbackInfo& info) {
  cpu_allocator().trim();
  return info.Env().Undefined();
}

// A bare N-API call, for the dispatch benchmark's baseline.
Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

void free_env_data(napi_env, void* data, void*) { delete static_cast<EnvData*>(data); }

// The module's exports; returns null (the require() fails) if the environment cannot take them (terminated while
// loading the module).
napi_value init_module(napi_env env, napi_value exports) noexcept {
  EnvData* d = nullptr;
  try {
    d = new EnvData();
  } catch (...) {
    throw_to_js(env, nullptr, "tensile: out of memory");
    return nullptr;
  }
  if (napi_set_instance_data(env, d, free_env_data, nullptr) != napi_ok) {
    delete d;
    return nullptr;
  }
  struct Export {
    const char* name;
    napi_callback fn;
  };
  static const Export fns[] = {
      {"init", guarded<Init>},          {"setIsa", guarded<SetIsa>},
      {"opNames", guarded<OpNames>},    {"supports", guarded<Supports>},
      {"fromBytes", guarded<FromBytes>}, {"track", guarded<Track>},
      {"refillCollected", guarded<RefillCollected>}, {"submit", guarded<Submit>},
      {"read", guarded<Read>},          {"readSync", guarded<ReadSync>},
      {"memory", guarded<Memory>},      {"trim", guarded<Trim>},
      {"noop", guarded<Noop>},          {"numThreads", guarded<NumThreads>},
      {"cudaStatus", guarded<CudaStatus>}, {"cudaProperties", guarded<CudaProperties>},
      {"cudaMemory", guarded<CudaMemory>}, {"cudaSynchronize", guarded<CudaSynchronize>},
      {"cudaEmptyCache", guarded<CudaEmptyCache>}, {"cudaSetMemoryLimit", guarded<CudaSetMemoryLimit>},
      {"cudaResetPeak", guarded<CudaResetPeak>},
      {"cudaLibraries", guarded<CudaLibraries>}, {"cudaSetSwitch", guarded<CudaSetSwitch>},
      {"cudaLibraryPaths", guarded<CudaLibraryPaths>},
  };
  for (const Export& e : fns) {
    napi_value f;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, nullptr, &f) != napi_ok ||
        napi_set_named_property(env, exports, e.name, f) != napi_ok)
      return nullptr;
  }
  return exports;
}

}  // namespace

// The module's registration, written out (NODE_API_MODULE's expansion) to declare one thing differently: the Node-API
// version the module reports at run time is NAPI_VERSION_EXPERIMENTAL, the one mode in which Node runs a module's
// finalizers inside the garbage collection (napi_env__::InvokeFinalizerFromGC; every other version defers them to
// the event loop, as FinalizationRegistry does). That is what frees tensors in a loop that never awaits (`collected`
// above). The code is compiled against Node-API 8 (NAPI_VERSION in CMakeLists.txt), so the binary calls nothing a
// Node >= 20 lacks; its finalizers obey the mode's rule (no call that touches the JS heap from inside the GC:
// `collected` touches only the ring; the instance data's, free_env_data, runs at teardown, not in a collection).
EXTERN_C_START
NAPI_MODULE_EXPORT int32_t NODE_API_MODULE_GET_API_VERSION(void) { return NAPI_VERSION_EXPERIMENTAL; }
NAPI_MODULE_EXPORT napi_value NAPI_MODULE_INITIALIZER(napi_env env, napi_value exports) {
  return init_module(env, exports);
}
EXTERN_C_END
