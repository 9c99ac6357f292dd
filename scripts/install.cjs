#!/usr/bin/env node
// npm install hook: use a prebuilt binary (prebuilds/<platform>-<arch>/, found by node-gyp-build) when one loads on
// this machine; otherwise build from source with cmake-js (cmake >= 3.15, g++ with OpenMP). Downloads nothing.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const force = process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');
if (!force) {
  try {
    require('node-gyp-build')(root);
    process.exit(0);
  } catch {
    // no usable prebuild or earlier build: build below
  }
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--CDCMAKE_BUILD_TYPE=Release'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(
    'tensile: building the native addon failed. It needs cmake >= 3.15 and g++ with OpenMP ' +
      '(Debian/Ubuntu: apt-get install cmake g++). Prebuilt binaries are used instead when present in prebuilds/.',
  );
  process.exit(r.status ?? 1);
}
