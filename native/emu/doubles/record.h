// What the test doubles share: the call log, failure injection, and running work in the order of an emulated
// stream (native/emu/stream_abi.h). Tests only.
//
// - TENSILE_DOUBLE_LOG=<file>: every call a double gets is appended to the file as one line, its name then
//   key=value pairs ("cublasGemmStridedBatchedEx transa=0 transb=1 m=7 ..."), when the call is made (so the log
//   shows what tensile asked for, in its order). The file is opened per line: a test may set or change the
//   variable (process.env) at any time.
// - TENSILE_DOUBLE_FAIL=<name>[,<name>...]: those entry points return NOT_SUPPORTED (and log "... -> NOT_SUPPORTED").
// - TENSILE_DOUBLE_HUGE_WS=1: the first algorithm of every cuDNN list reports a workspace of 2^48 bytes.
// - TENSILE_DOUBLE_LT_NO_ALGO=1: cuBLASLt's heuristic succeeds with no algorithm (count 0).
#pragma once
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include "../stream_abi.h"

#define TS_EXPORT extern "C" __attribute__((visibility("default")))

namespace tensile_double {

inline void logf(const char* fmt, ...) {
  const char* path = std::getenv("TENSILE_DOUBLE_LOG");
  if (!path || !*path) return;
  FILE* f = std::fopen(path, "a");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(f, fmt, ap);
  va_end(ap);
  std::fputc('\n', f);
  std::fclose(f);
}

inline bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

// The entry point `name` is told to fail by TENSILE_DOUBLE_FAIL.
inline bool fails(const char* name) {
  const char* v = std::getenv("TENSILE_DOUBLE_FAIL");
  if (!v) return false;
  const std::string list = std::string(",") + v + ",";
  return list.find(std::string(",") + name + ",") != std::string::npos;
}

// Queues fn(job) in the stream's order (fn must not throw; it owns and frees job). false when the stream is not an
// emulated stream (the null stream, or a foreign pointer): the double then refuses the call.
inline bool in_order(void* stream, void (*fn)(void*), void* job) {
  const tensile_emu_stream_abi* abi = tensile_emu_stream_abi_of(stream);
  if (!abi || abi->magic != TENSILE_EMU_STREAM_MAGIC || abi->version != TENSILE_EMU_STREAM_VERSION) return false;
  return abi->launch_host(stream, fn, job) == 0;
}

}  // namespace tensile_double
