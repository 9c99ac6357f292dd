#!/usr/bin/env bash
# The one prepared run on a machine with an NVIDIA GPU (nvcc, CMake, PyTorch; no Node.js, no registry): builds the
# addon for the GPU's architecture, records cuda.status() and the device, runs scripts/backend-ops.mjs (every
# kernel against the CPU) and the CUDA tests on the real device, then the GPU benchmarks against PyTorch in the same
# run. Needs gpu-pack/ (scripts/pack-gpu-check.sh) and dist/ carried with the checkout. Writes everything to OUT.
# cuBLAS and cuDNN: those of the machine's Python site-packages (PyTorch's nvidia-* wheels) are found through the
# loader's own search, with the site-packages of the python3 that has torch added to PYTHONPATH (which the search
# reads); the log shows cuda.status().cublas / .cudnn. The benchmark runs once per path: the libraries (cuBLAS with
# cuBLASLt's fused epilogue, cuDNN), cuBLAS without cuBLASLt (TENSILE_CUBLASLT=0), and ours only (TENSILE_CUBLAS=0
# TENSILE_CUDNN=0), each against PyTorch's figures of the same run (bench/gpu.js --torch).
# Budget: 8 minutes in all. Each step has its own limit, so one that hangs cannot take the rest's time, and no step
# runs past the overall deadline (GPU_CHECK_BUDGET_S, default 470 s from the start): a late step gets what is left,
# or is skipped and says so, so that one run and a rerun fit in a session's 15 minutes of device time.
# Usage: bash scripts/gpu-check.sh OUT
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: gpu-check.sh OUT}
mkdir -p "$out"
log="$out/gpu-check.log"
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 ))s] $*" | tee -a "$log"; }
deadline=$(( t0 + ${GPU_CHECK_BUDGET_S:-470} ))
run() {  # run LIMIT_S NAME cmd...: output to OUT/NAME.txt, status into the log
  local limit=$1 name=$2
  shift 2
  local left=$(( deadline - $(date +%s) ))
  if [ "$left" -lt 10 ]; then step "$name: SKIPPED (the overall budget is spent)"; return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  step "$name (limit ${limit}s): $*"
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "   rc=$rc ($(( $(date +%s) - t0 ))s)" | tee -a "$log"
  tail -5 "$out/$name.txt" | sed 's/^/   | /' | tee -a "$log"
  return 0
}

# node from the pack (no Node.js on the machine)
if ! command -v node >/dev/null; then
  [ -f gpu-pack/node.xz ] || { echo "gpu-check: no node and no gpu-pack/node.xz (run scripts/pack-gpu-check.sh)" | tee -a "$log"; exit 2; }
  mkdir -p /tmp/tensile-node/bin
  xz -dc gpu-pack/node.xz > /tmp/tensile-node/bin/node && chmod +x /tmp/tensile-node/bin/node
  export PATH=/tmp/tensile-node/bin:$PATH
fi
[ -d node_modules/vitest ] || { step "unpacking node_modules"; xz -dc gpu-pack/modules.tar.xz | tar -xf -; }
[ -f dist/index.js ] || { echo "gpu-check: dist/ missing (carry it)" | tee -a "$log"; exit 2; }

step "machine"
{ nvidia-smi; nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version,clocks.max.sm --format=csv; nvcc --version; cmake --version | head -1; node --version; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; nproc; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt" >> "$log"
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
arch=${TENSILE_CUDA_ARCHS:-${cap:-90}-real}

# the site-packages of the python3 that has torch (its nvidia/*/lib folders hold cuBLAS and cuDNN)
site=$(python3 -c 'import site; print(":".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
[ -n "$site" ] && export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$site"
step "python site-packages searched for cuBLAS/cuDNN: ${site:-none}"
IFS=: read -ra sites <<< "$site"
for d in "${sites[@]}"; do ls -d "$d"/nvidia/*/lib 2>/dev/null; done | sed 's/^/   | /' | tee -a "$log"

run 300 build env TENSILE_CUDA=ON TENSILE_CUDA_ARCHS="$arch" node node_modules/cmake-js/bin/cmake-js compile
run 30 status node -e "import('./dist/index.js').then((T) => { console.log(JSON.stringify({ status: T.cuda.status(), props: T.cuda.isAvailable() ? T.cuda.getDeviceProperties(0) : null })); })"
cp "$out/status.txt" "$out/status.json" 2>/dev/null
step "cuda.status().cublas / .cudnn"
node -e "import('./dist/index.js').then((T) => { const s = T.cuda.status(); for (const k of ['cublas', 'cudnn']) console.log(k + ': ' + JSON.stringify(s[k])); })" 2>&1 | sed 's/^/   | /' | tee -a "$log"
[ -f scripts/backend-ops.mjs ] && run 120 backend-ops node scripts/backend-ops.mjs --device cuda --json "$out/backend-ops.json"
run 150 tests-cuda node node_modules/vitest/vitest.mjs run test/cuda --reporter=default --reporter=json --outputFile="$out/tests-cuda.json"
[ -f scripts/backend-ops.mjs ] && run 60 backend-ops-perf node scripts/backend-ops.mjs --device cuda --perf --json "$out/backend-ops-perf.json"
# PyTorch first, then each of our paths against its figures (--torch: the ratios in each output's tail)
run 120 bench-torch python3 bench/gpu_torch.py --json "$out/bench-torch.json"
torch_json=()
[ -f "$out/bench-torch.json" ] && torch_json=(--torch "$out/bench-torch.json")
run 120 bench-gpu node bench/gpu.js --label libraries --json "$out/bench-gpu.json" "${torch_json[@]}"
run 60 bench-gpu-no-cublaslt env TENSILE_CUBLASLT=0 node bench/gpu.js --only linear --label no-cublaslt --json "$out/bench-gpu-no-cublaslt.json" "${torch_json[@]}"
run 90 bench-gpu-ours env TENSILE_CUBLAS=0 TENSILE_CUDNN=0 node bench/gpu.js --only sgemm,linear,conv --label ours --json "$out/bench-gpu-ours.json" "${torch_json[@]}"
step "done"
