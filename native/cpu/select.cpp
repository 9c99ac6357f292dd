// Chooses the CPU kernel set at run time (never -march=native): the best the CPU supports, or the one forced by
// TENSILE_ISA / setIsa(). Compiled once, with baseline flags.
#include <string>
#include "../core/runtime.h"

namespace tensile {
namespace cpu {
namespace avx512 { void register_kernels(); }
namespace avx2 { void register_kernels(); }
namespace scalar { void register_kernels(); }
}  // namespace cpu

static const char* g_isa = "none";

static bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
static bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const char* cpu_select_isa(const std::string& forced) {
  std::string want = forced;
  if (want.empty()) want = has_avx512() ? "avx512" : has_avx2() ? "avx2" : "scalar";
  if (want == "avx512") {
    if (!has_avx512()) throw Error{ERR_DEVICE, "setIsa: expected an instruction set this CPU supports, got 'avx512'"};
    cpu::avx512::register_kernels();
    g_isa = "avx512";
  } else if (want == "avx2") {
    if (!has_avx2()) throw Error{ERR_DEVICE, "setIsa: expected an instruction set this CPU supports, got 'avx2'"};
    cpu::avx2::register_kernels();
    g_isa = "avx2";
  } else if (want == "scalar") {
    cpu::scalar::register_kernels();
    g_isa = "scalar";
  } else {
    throw Error{ERR_DEVICE, "setIsa: expected one of 'avx512', 'avx2', 'scalar', got '" + want + "'"};
  }
  return g_isa;
}
const char* cpu_isa() { return g_isa; }
}  // namespace tensile
