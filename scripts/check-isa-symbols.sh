#!/usr/bin/env bash
# Fails if an instruction-set build of native/cpu defines code that the linker could merge across sets (weak or
# unique symbols outside tensile::cpu::<isa>): such a merge could run AVX-512 code on a CPU without it (SIGILL).
set -euo pipefail
build=${1:-build}
status=0
for isa in scalar avx2 avx512; do
  dir="$build/CMakeFiles/tensile_cpu_$isa.dir/native/cpu"
  [ -d "$dir" ] || { echo "check-isa-symbols: no objects in $dir (build first)"; exit 2; }
  bad=$(for o in "$dir"/*.o; do nm -C "$o" | awk '$2 ~ /^[WVu]$/' ; done | grep -v "tensile::cpu::$isa::" | grep -v "DW.ref.__gxx_personality_v0" | sort -u || true)
  if [ -n "$bad" ]; then
    echo "check-isa-symbols: $isa objects define shared weak symbols:"
    echo "$bad"
    status=1
  fi
done
[ $status -eq 0 ] && echo "check-isa-symbols: ok (no code shared across instruction sets)"
exit $status
