#!/usr/bin/env bash
# The packaging proof (issue 14; a CI step): the npm tarball, with its prebuild, installs and trains on a minimal
# Debian system that has no compiler, no cmake, no nvcc and no libgomp, with nothing downloaded (npm installs from an
# offline cache, in a network namespace without a network).
#   1. `npm run prebuildify` (unless prebuilds/linux-x64 is already there and SKIP_PREBUILD=1), then `npm pack`;
#      reports the tarball's size and unpacked size and checks what it holds.
#   2. debootstrap --variant=minbase (Debian's package; as root) into $ROOT; copies in the node binary and the npm
#      that ships with it, and the npm cache of the tarball's dependencies.
#   3. Inside (chroot, no network): `npm install --offline` of the tarball, with install scripts and with
#      --ignore-scripts; a training script that must train (loss falls), in the main thread, in a worker_thread, and in
#      two workers at once; `tensile doctor`; a forced source build (TENSILE_BUILD_FROM_SOURCE=1) and `tensile build`
#      must fail naming cmake and the compiler; with libgomp.so.1 taken away the import must fail with the loader's
#      message (what was tried, this machine, what is required, the remedy).
# Usage: sudo bash scripts/install-check.sh [ROOT]   (ROOT defaults to /tmp/tensile-minbase; reused when present)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
ROOT=${1:-/tmp/tensile-minbase}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "install-check: expected to run as root (debootstrap, chroot, mount), got uid $(id -u)" >&2; exit 1; }
t0=$(date +%s)
say() { echo "install-check [$(( $(date +%s) - t0 )) s]: $*"; }

# 1. the prebuild and the tarball
if [ "${SKIP_PREBUILD:-0}" != 1 ] || [ ! -f prebuilds/linux-x64/tensile.glibc.node ]; then
  npm run prebuildify
fi
rm -f tensile-*.tgz
npm pack --json > /tmp/tensile-pack.json
TGZ=$(node -e "console.log(require('/tmp/tensile-pack.json')[0].filename)")
node -e "
const p = require('/tmp/tensile-pack.json')[0];
const files = p.files.map((f) => f.path);
const bad = files.filter((f) => /^(test|bench|build[^/]*|native\/emu|examples|gpu-pack|lib)\//.test(f) || /\.map$/.test(f));
if (bad.length) { console.error('install-check: expected no tests, benchmarks, sources of lib/, emulator or build trees in the tarball, got', bad.slice(0, 10).join(', ')); process.exit(1); }
for (const need of ['dist/index.js', 'dist/index.d.ts', 'prebuilds/linux-x64/tensile.glibc.node', 'prebuilds/linux-x64/libgomp.so.1', 'prebuilds/linux-x64/tensile.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'CMakeLists.txt', 'native/core/ops.def']) {
  if (!files.includes(need)) { console.error('install-check: expected', need, 'in the tarball, got none'); process.exit(1); }
}
console.log('install-check: ' + p.filename + ': ' + (p.size / 1048576).toFixed(1) + ' MiB packed, ' + (p.unpackedSize / 1048576).toFixed(1) + ' MiB unpacked, ' + p.entryCount + ' files');
"

# 2. the minimal system
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  command -v debootstrap >/dev/null || { apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; }
  rm -rf "$ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" > /tmp/tensile-debootstrap.log
  say "debootstrap --variant=minbase $SUITE: $(du -sh "$ROOT" | cut -f1)"
fi
for tool in cc gcc g++ c++ cmake make nvcc; do
  if chroot "$ROOT" /bin/sh -c "command -v $tool" >/dev/null 2>&1; then echo "install-check: expected no $tool in $ROOT, got one" >&2; exit 1; fi
done
if chroot "$ROOT" /bin/sh -c 'ls /usr/lib/x86_64-linux-gnu/libgomp.so* /lib/x86_64-linux-gnu/libgomp.so*' >/dev/null 2>&1; then
  echo "install-check: expected no libgomp in $ROOT (minbase has none), got one" >&2; exit 1
fi
NODE=$(command -v node)
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/local/lib/node_modules"
cp "$(readlink -f "$NODE")" "$ROOT/usr/local/bin/node"
rm -rf "$ROOT/usr/local/lib/node_modules/npm"
cp -r "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"

# the npm cache of the tarball and its dependencies, filled here (from the npm registry) for the offline install
rm -rf "$ROOT/check" && mkdir -p "$ROOT/check/cache" "$ROOT/check/app"
cp "$TGZ" "$ROOT/check/"
SCRATCH=$(mktemp -d)
(cd "$SCRATCH" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund --cache "$ROOT/check/cache" "$REPO/$TGZ" >/dev/null)
rm -rf "$SCRATCH"
cp scripts/install-check/*.mjs "$ROOT/check/app/"

mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
inside() {  # a command in the minimal system, with no network at all
  unshare --net chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin "$@"
}

# 3. install and train, inside
inside /bin/sh -c "cd /check/app && echo '{\"name\":\"app\",\"version\":\"1.0.0\",\"type\":\"module\"}' > package.json && npm install --offline --no-audit --no-fund --cache /check/cache /check/$TGZ"
say "npm install --offline (install scripts allowed): done"
if [ -e "$ROOT/check/app/node_modules/cmake-js" ] || [ -e "$ROOT/check/app/node_modules/node-addon-api" ]; then
  echo "install-check: expected a prebuilt install without the build-only packages (cmake-js, node-addon-api), got them" >&2; exit 1
fi
inside /bin/sh -c "cd /check/app && node /check/app/train.mjs main"
inside /bin/sh -c "cd /check/app && node /check/app/train.mjs worker"
inside /bin/sh -c "cd /check/app && node /check/app/train.mjs two-workers"
inside /bin/sh -c "cd /check/app && npx tensile doctor"
inside /bin/sh -c "cd /check/app && npx tensile doctor --json > /check/doctor.json"
node -e "const r = require('$ROOT/check/doctor.json'); if (r.addon.kind !== 'prebuild' || !r.addon.loaded) { console.error('install-check: expected doctor to report the prebuild, got', r.addon); process.exit(1); }"

# the same with install scripts blocked (npm 12's default for dependencies; --ignore-scripts today)
rm -rf "$ROOT/check/app/node_modules" "$ROOT/check/app/package-lock.json"
inside /bin/sh -c "cd /check/app && npm install --offline --ignore-scripts --no-audit --no-fund --cache /check/cache /check/$TGZ"
inside /bin/sh -c "cd /check/app && node /check/app/train.mjs main"
say "npm install --offline --ignore-scripts: trains"

# a source build cannot happen here, and says what is missing
set +e
out=$(inside /bin/sh -c "cd /check/app && TENSILE_BUILD_FROM_SOURCE=1 npm rebuild tensile 2>&1"); rc=$?
set -e
if [ $rc = 0 ] || ! grep -q "cmake >= 3.15: found none on PATH" <<<"$out" || ! grep -q "C++17 compiler" <<<"$out"; then
  echo "install-check: expected TENSILE_BUILD_FROM_SOURCE=1 to fail naming cmake and the compiler, got (exit $rc):" >&2; echo "$out" >&2; exit 1
fi
set +e
out=$(inside /bin/sh -c "cd /check/app && npx tensile build 2>&1"); rc=$?
set -e
if [ $rc = 0 ] || ! grep -q "apt-get install cmake" <<<"$out"; then
  echo "install-check: expected \`tensile build\` to fail naming what to install, got (exit $rc):" >&2; echo "$out" >&2; exit 1
fi
say "source builds fail with the missing tools named"

# the loader's message when the binary cannot load (OpenMP's runtime taken away)
PB="$ROOT/check/app/node_modules/tensile/prebuilds/linux-x64"
mv "$PB/libgomp.so.1" "$PB/libgomp.so.1.away"
set +e
out=$(inside /bin/sh -c "cd /check/app && node -e \"import('tensile').then(() => console.log('loaded'), (e) => { console.log(e.name); console.log(e.message); })\"" 2>&1)
set -e
mv "$PB/libgomp.so.1.away" "$PB/libgomp.so.1"
for want in AddonLoadError "tried: /check/app/node_modules/tensile/prebuilds/linux-x64/tensile.glibc.node (prebuild)" "libgomp.so.1" "required: Node >= 20.10.0, glibc >= " "Possible solutions:" "apt-get install libgomp1"; do
  grep -qF -- "$want" <<<"$out" || { echo "install-check: expected the load error to contain '$want', got:" >&2; echo "$out" >&2; exit 1; }
done
say "a binary that cannot load says why:"
sed 's/^/    /' <<<"$out"
say "passed"
