#!/bin/sh
# Builds the emulator's test program with g++ and runs it; then again under AddressSanitizer + UBSan; then checks
# that nvcc accepts the same kernel source (when /usr/local/cuda/bin/nvcc exists).
# Usage: native/emu/test/run.sh [case]    (OUT=dir for the build, default /tmp/tensile-emu-test)
set -e
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/tensile-emu-test}
mkdir -p "$out"
CXX=${CXX:-g++}
flags="-std=c++17 -Wall -Wextra -Werror -DTENSILE_EMU -I$here -pthread"
build() {  # $1 = output, rest = extra flags
  o=$1
  shift
  nice -n 10 $CXX $flags "$@" -c "$here/../emu.cpp" -o "$o.emu.o"
  nice -n 10 $CXX $flags "$@" -x c++ -c "$here/kernels.cu" -o "$o.kernels.o"
  nice -n 10 $CXX $flags "$@" -c "$here/test.cpp" -o "$o.test.o"
  nice -n 10 $CXX "$@" -pthread "$o.emu.o" "$o.kernels.o" "$o.test.o" -o "$o"
}
echo "== g++ -O2"
build "$out/emu_test" -O2
"$out/emu_test" "$@"
echo "== g++ -O1 -fsanitize=address,undefined"
build "$out/emu_test_asan" -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 "$out/emu_test_asan" "$@"
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
if [ -x "$NVCC" ]; then
  echo "== nvcc -std=c++17 -arch=sm_90 -c kernels.cu"
  nice -n 10 "$NVCC" -std=c++17 -arch=sm_90 -c "$here/kernels.cu" -o "$out/kernels.nvcc.o"
  echo "nvcc accepts kernels.cu"
else
  echo "== nvcc not found ($NVCC): skipped the nvcc check"
fi
