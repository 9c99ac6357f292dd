#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs the kernel and
# runtime tests against it (TENSILE_ADDON points lib/native.ts at that build). Node itself is not instrumented, so
# the ASan runtime is preloaded and leak checking is off (V8 keeps memory to exit by design).
set -euo pipefail
cd "$(dirname "$0")/.."
# One build serves both runs: the emulated one (the CPU backend and native/cuda over the SIMT emulator). --emulated
# runs the tests on device 'cuda' too (TENSILE_EMULATE_CUDA=1): an out-of-bounds access in a CUDA kernel is caught.
out=build-asan
if [ "${1:-}" = "--emulated" ]; then
  shift
  export TENSILE_EMULATE_CUDA=1
fi
# (configure, then build: `compile` keeps an existing build folder's settings)
npx cmake-js configure --out "$out" --CDTENSILE_SANITIZE=ON --CDCMAKE_BUILD_TYPE=RelWithDebInfo --CDTENSILE_CUDA=EMULATE >/dev/null
npx cmake-js build --out "$out" >/dev/null
asan=$(g++ -print-file-name=libasan.so)
ubsan=$(g++ -print-file-name=libubsan.so)
export TENSILE_ADDON=$out/Release/tensile.node
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# ASan's stack checks do not fit OpenMP's small default stacks on some kernels
export OMP_STACKSIZE=16M
npx vitest run ${@:-test/ops test/native test/tensor}
