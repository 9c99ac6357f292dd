#!/usr/bin/env bash
# Type-checks a user's project (test/types/: the README's loop, a checkpoint saved and loaded, the error classes,
# `using`) against the package as published, under strict with skipLibCheck false, so that our own .d.ts files
# are checked too: target ES2022 and module nodenext, with lib ES2022 (what Node 20, the oldest we support, has)
# and ESNext, each with and without @types/node. Nothing is downloaded.
# Usage: bash scripts/check-types.sh            builds dist/, packs the package (npm pack) and checks the tarball
#        bash scripts/check-types.sh DIR        checks DIR as the installed package (a package.json and its dist/)
# The tarball is unpacked into the project's node_modules/tensile rather than `npm install`ed: npm would resolve
# the package's dependencies from the registry, and the declarations need none of them (an import of one in a
# .d.ts shows up here as "Cannot find module").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tsc="$root/node_modules/.bin/tsc"
work=$(mktemp -d "${TMPDIR:-/tmp}/tensile-types.XXXXXX")  # outside the repository: no node_modules above it
trap 'rm -rf "$work"' EXIT

proj="$work/project"
mkdir -p "$proj/node_modules"
cp test/types/package.json test/types/main.ts test/types/using.ts test/types/console.d.ts test/types/tsconfig*.json "$proj/"
if [ $# -ge 1 ]; then
  cp -r "$1" "$proj/node_modules/tensile"
else
  "$tsc" -p tsconfig.json                                   # dist/ as lib/ is now (what `prepare` does)
  npm pack --ignore-scripts --silent --pack-destination "$work" >/dev/null
  tarballs=("$work"/tensile-*.tgz)
  mkdir "$proj/node_modules/tensile"
  tar -xzf "${tarballs[0]}" -C "$proj/node_modules/tensile" --strip-components=1
fi

status=0
check() {  # check CONFIG: tsc on the project with test/types/CONFIG
  if out=$(cd "$proj" && "$tsc" -p "$1" 2>&1); then
    echo "check-types: $1 ok"
  else
    echo "check-types: $1 failed:"
    echo "$out"
    status=1
  fi
}
# without @types/node: none in the project (not even unused), so nothing of Node's can resolve
check tsconfig.json          # lib ES2022
check tsconfig.esnext.json   # lib ESNext
mkdir -p "$proj/node_modules/@types"
ln -s "$root/node_modules/@types/node" "$proj/node_modules/@types/node"
check tsconfig.node.json          # lib ES2022 + @types/node
check tsconfig.esnext-node.json   # lib ESNext + @types/node
exit $status
