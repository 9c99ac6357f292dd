// node-addon-api glue only: per-environment state, tensor handles, op enqueue, reads, errors. No math here.
#include <napi.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include "../core/runtime.h"

using namespace tensile;

namespace {

constexpr size_t kScratchLen = 8192;  // doubles; lib/native.ts writes each op's description here


// Per-environment state (context-aware: each worker_thread gets its own stream and error classes).
struct EnvData {
  std::unique_ptr<Stream> stream;
  Napi::FunctionReference errors[6];
  Napi::Reference<Napi::Float64Array> scratch_ref;
  double* scratch = nullptr;
  Napi::ThreadSafeFunction tsfn;
  int pending = 0;
  bool initialised = false;
  // Tensor handles are small integers indexing this table (JS releases them by dispose() or a FinalizationRegistry):
  // far cheaper than one finalizer-tracked napi external per tensor.
  std::vector<Storage*> handles{nullptr};  // id 0 is never used
  std::vector<uint32_t> free_ids;
  int64_t unreported = 0;  // bytes not yet reported to V8 (reported in steps of 1 MiB)
  ~EnvData() {
    stream.reset();  // drains and joins the worker before the TSFN goes away
    for (Storage* s : handles)
      if (s) storage_unref(s);
    if (initialised) tsfn.Release();
  }
};

EnvData& env_data(Napi::Env env) { return *env.GetInstanceData<EnvData>(); }

Napi::Error make_error(Napi::Env env, int kind, const std::string& msg) {
  EnvData& d = env_data(env);
  if (d.initialised && kind >= 0 && kind < 6 && !d.errors[kind].IsEmpty()) {
    Napi::Value e = d.errors[kind].New({Napi::String::New(env, msg)});
    return Napi::Error(env, e);
  }
  return Napi::Error::New(env, msg);
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

Storage* handle_storage(EnvData& d, const Napi::Value& v, const char* what) {
  const uint32_t id = v.IsNumber() ? v.As<Napi::Number>().Uint32Value() / 2 : 0;
  if (id == 0 || id >= d.handles.size()) throw tensile::Error{ERR_NATIVE, std::string(what) + ": expected a tensor handle"};
  Storage* s = d.handles[id];
  if (!s) throw tensile::Error{ERR_NATIVE, std::string(what) + ": expected a live tensor, got a disposed one"};
  return s;
}

void report(Napi::Env env, EnvData& d, int64_t delta) {
  d.unreported += delta;
  if (d.unreported >= (1 << 20) || d.unreported <= -(1 << 20)) {
    Napi::MemoryManagement::AdjustExternalMemory(env, d.unreported);
    d.unreported = 0;
  }
}

// A new handle id owning one reference to s. counted: the storage's bytes are reported to V8 with this handle
// (views share a storage without re-counting it).
Napi::Value wrap_storage(Napi::Env env, Storage* s, bool counted = true) {
  EnvData& d = env_data(env);
  uint32_t id;
  if (!d.free_ids.empty()) {
    id = d.free_ids.back();
    d.free_ids.pop_back();
    d.handles[id] = s;
  } else {
    id = (uint32_t)d.handles.size();
    d.handles.push_back(s);
  }
  if (counted) report(env, d, (int64_t)s->bytes);
  // the JS number is id * 2 + counted, so that release() knows whether to un-report the bytes
  return Napi::Number::New(env, (double)id * 2 + (counted ? 1 : 0));
}

// init({errors: [NativeError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError], scratch: Float64Array,
//       isa: string})
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = env_data(env);
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Array errs = o.Get("errors").As<Napi::Array>();
  for (uint32_t i = 0; i < 6 && i < errs.Length(); ++i) d.errors[i] = Napi::Persistent(errs.Get(i).As<Napi::Function>());
  Napi::Float64Array sc = o.Get("scratch").As<Napi::Float64Array>();
  if (sc.ElementLength() < kScratchLen) throw tensile::Error{ERR_NATIVE, "init: scratch too small"};
  d.scratch_ref = Napi::Persistent(sc);
  d.scratch = sc.Data();
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
  if (!d.initialised) {
    d.stream.reset(new Stream());
    d.tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                           "tensile-stream", 0, 1);
    d.tsfn.Unref(env);
    d.initialised = true;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("isa", cpu_isa());
  r.Set("isaError", chosen_error);
  r.Set("scratchLength", (double)kScratchLen);
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

Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), OP_COUNT);
  for (int i = 0; i < OP_COUNT; ++i) a.Set(i, op_name(i));
  return a;
}

// supports(op, device, dtype) -> boolean
Napi::Value Supports(const Napi::CallbackInfo& info) {
  int op = info[0].As<Napi::Number>().Int32Value(), dev = info[1].As<Napi::Number>().Int32Value(),
      dt = info[2].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), kernel_lookup(op, dev, dt) != nullptr);
}

// fromBytes(device, Uint8Array|ArrayBufferView) -> handle: a new storage holding a copy of the bytes.
Napi::Value FromBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  int dev = info[0].As<Napi::Number>().Int32Value();
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  size_t bytes = ta.ByteLength();
  const uint8_t* src = (const uint8_t*)ta.ArrayBuffer().Data() + ta.ByteOffset();
  Storage* s = storage_new(dev, bytes);
  if (bytes) std::memcpy(s->data, src, bytes);
  return wrap_storage(env, s);
  TS_GUARD_END
}

// enqueue(op, dtype, device, ...handles) with the op description in the scratch array:
// [nin, nout, per arg: (handleIndex | -1 for a new output), elemOffset, dtype, ndim, shape..., strides...,
//  nip, ip..., nfp, fp...]. Returns the new output handle (one) or an array of them (several) or undefined.
Napi::Value Enqueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = env_data(env);
  const double* s = d.scratch;
  const int op = info[0].As<Napi::Number>().Int32Value();
  const int dtype = info[1].As<Napi::Number>().Int32Value();
  const int dev = info[2].As<Napi::Number>().Int32Value();
  KernelFn fn = kernel_lookup(op, dev, dtype);
  if (!fn) throw tensile::Error{ERR_DEVICE, std::string(op_name(op)) + ": not implemented for this device and dtype"};
  QueuedOp& q = d.stream->reserve();
  q.fn = fn;
  const int nin = (int)s[0], nout = (int)s[1];
  const int nargs = nin + nout;
  q.args.resize(nargs);
  q.refs.reserve(nargs);
  size_t p = 2;
  Storage* created[16];
  int ncreated = 0;
  try {
  for (int a = 0; a < nargs; ++a) {
    const int hidx = (int)s[p++];
    const int64_t off = (int64_t)s[p++];
    TensorArg& t = q.args[a];
    t.dtype = (int)s[p++];
    t.ndim = (int)s[p++];
    int64_t numel = 1;
    for (int i = 0; i < t.ndim; ++i) numel *= (t.shape[i] = (int64_t)s[p++]);
    for (int i = 0; i < t.ndim; ++i) t.strides[i] = (int64_t)s[p++];
    Storage* st;
    if (hidx < 0) {
      if (ncreated == 16) throw tensile::Error{ERR_NATIVE, std::string(op_name(op)) + ": too many outputs"};
      st = storage_new_lazy(dev, (size_t)numel * dtype_size(t.dtype));
      created[ncreated++] = st;
      storage_ref(st);  // one for JS (the wrap below), one for the queue
    } else {
      st = handle_storage(d, info[3 + hidx], op_name(op));
      storage_ref(st);
    }
    q.refs.push_back(st);
    t.data = (void*)(intptr_t)(off * (int64_t)dtype_size(t.dtype));  // rebased on the storage when the op runs
  }
  q.rebase = true;
  } catch (...) {  // drop the references taken so far: nothing leaks on a bad call
    for (Storage* r : q.refs) storage_unref(r);
    for (int i = 0; i < ncreated; ++i) storage_unref(created[i]);
    d.stream->abandon();
    throw;
  }
  const int nip = (int)s[p++];
  q.ip.resize(nip);
  for (int i = 0; i < nip; ++i) q.ip[i] = (int64_t)s[p++];
  const int nfp = (int)s[p++];
  q.fp.resize(nfp);
  for (int i = 0; i < nfp; ++i) q.fp[i] = s[p++];
  q.call = OpCall{op, dtype, nin, nout, q.args.data(), q.args.data() + nin, nip, nfp, q.ip.data(), q.fp.data()};
  Napi::Value result = env.Undefined();
  if (ncreated == 1) {
    result = wrap_storage(env, created[0]);
  } else if (ncreated > 1) {
    Napi::Array arr = Napi::Array::New(env, ncreated);
    for (int i = 0; i < ncreated; ++i) arr.Set(i, wrap_storage(env, created[i]));
    result = arr;
  }
  d.stream->commit();
  return result;
  TS_GUARD_END
}

// share(handle) -> a new handle to the same storage (a view holds its own reference).
Napi::Value Share(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  Storage* s = handle_storage(env_data(env), info[0], "share");
  storage_ref(s);
  return wrap_storage(env, s, false);
  TS_GUARD_END
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData& d = env_data(env);
  if (!info[0].IsNumber()) return env.Undefined();
  const uint32_t raw = info[0].As<Napi::Number>().Uint32Value(), id = raw / 2;
  if (id == 0 || id >= d.handles.size() || !d.handles[id]) return env.Undefined();
  Storage* s = d.handles[id];
  d.handles[id] = nullptr;
  d.free_ids.push_back(id);
  if (raw & 1) report(env, d, -(int64_t)s->bytes);
  storage_unref(s);
  return env.Undefined();
}

struct ReadCtx {
  Napi::Promise::Deferred deferred;
  void* buf = nullptr;
  size_t len = 0;
  bool failed = false;
  int kind = 0;
  std::string msg;
};

void settle(Napi::Env env, ReadCtx* c) {
  EnvData& d = env_data(env);
  if (--d.pending == 0) d.tsfn.Unref(env);
  if (c->failed) {
    c->deferred.Reject(make_error(env, c->kind, c->msg).Value());
  } else if (c->buf || c->len == 0) {
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, c->len);
    if (c->len) std::memcpy(ab.Data(), c->buf, c->len);
    c->deferred.Resolve(ab);
  } else {
    c->deferred.Resolve(env.Undefined());
  }
  std::free(c->buf);
  delete c;
}

// read(handle|null, byteOffset, byteLength) -> Promise<ArrayBuffer> (null handle: a fence, resolves undefined).
// Rejects with the first error raised by an earlier op, named after that op.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = env_data(env);
  Storage* st = info[0].IsNull() ? nullptr : handle_storage(d, info[0], "read");
  const size_t off = (size_t)info[1].As<Napi::Number>().Int64Value();
  const size_t len = (size_t)info[2].As<Napi::Number>().Int64Value();
  if (st && off + len > st->bytes) throw tensile::Error{ERR_NATIVE, "read: range outside the storage"};
  ReadCtx* c = new ReadCtx{Napi::Promise::Deferred::New(env)};
  Napi::Promise promise = c->deferred.Promise();
  if (d.pending++ == 0) d.tsfn.Ref(env);
  QueuedOp& q = d.stream->reserve();
  if (st) {
    storage_ref(st);
    q.refs.push_back(st);
  }
  Napi::ThreadSafeFunction tsfn = d.tsfn;
  q.fence = [c, st, off, len, tsfn](const tensile::Error* err) mutable {
    if (err) {
      c->failed = true;
      c->kind = err->kind;
      c->msg = err->message;
    } else if (st) {
      c->len = len;
      if (len) {
        c->buf = std::malloc(len);
        if (!c->buf) {
          c->failed = true;
          c->kind = ERR_MEMORY;
          c->msg = "read: out of memory";
        } else {
          try {
            std::memcpy(c->buf, (const char*)storage_data(st, true) + off, len);
          } catch (const tensile::Error& e) {  // a never-written storage that cannot get memory
            c->failed = true;
            c->kind = e.kind;
            c->msg = "read: " + e.message;
          }
        }
      }
    }
    napi_status status = tsfn.BlockingCall(c, [](Napi::Env env, Napi::Function, ReadCtx* c) { settle(env, c); });
    if (status != napi_ok) {  // environment shutting down: nobody is waiting any more
      std::free(c->buf);
      delete c;
    }
  };
  d.stream->commit();
  return promise;
  TS_GUARD_END
}

// readSync(handle, byteOffset, byteLength) -> ArrayBuffer. Blocks the calling thread until the stream is idle.
Napi::Value ReadSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_GUARD_BEGIN
  EnvData& d = env_data(env);
  Storage* st = info[0].IsNull() ? nullptr : handle_storage(d, info[0], "readSync");
  const size_t off = (size_t)info[1].As<Napi::Number>().Int64Value();
  const size_t len = (size_t)info[2].As<Napi::Number>().Int64Value();
  if (st && off + len > st->bytes) throw tensile::Error{ERR_NATIVE, "readSync: range outside the storage"};
  d.stream->synchronize();
  tensile::Error err;
  if (d.stream->take_error(&err)) throw make_error(env, err.kind, err.message);
  if (!st) return env.Undefined();
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, len);
  if (len) std::memcpy(ab.Data(), (const char*)storage_data(st, true) + off, len);
  return ab;
  TS_GUARD_END
}

Napi::Value Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveBytes", (double)live_storage_bytes(DEV_CPU));
  o.Set("liveStorages", (double)live_storage_count(DEV_CPU));
  o.Set("pooledBytes", (double)cpu_allocator().pooled_bytes());
  return o;
}

Napi::Value Trim(const Napi::CallbackInfo& info) {
  cpu_allocator().trim();
  return info.Env().Undefined();
}

// A bare N-API call, for the dispatch benchmark's baseline.
Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<EnvData>(new EnvData());
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("opNames", Napi::Function::New(env, OpNames));
  exports.Set("supports", Napi::Function::New(env, Supports));
  exports.Set("fromBytes", Napi::Function::New(env, FromBytes));
  exports.Set("enqueue", Napi::Function::New(env, Enqueue));
  exports.Set("share", Napi::Function::New(env, Share));
  exports.Set("release", Napi::Function::New(env, Release));
  exports.Set("read", Napi::Function::New(env, Read));
  exports.Set("readSync", Napi::Function::New(env, ReadSync));
  exports.Set("memory", Napi::Function::New(env, Memory));
  exports.Set("trim", Napi::Function::New(env, Trim));
  exports.Set("noop", Napi::Function::New(env, Noop));
  return exports;
}

}  // namespace

NODE_API_MODULE(tensile, InitModule)
