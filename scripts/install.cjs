#!/usr/bin/env node
// npm's install hook, where npm still runs one (a prebuilt install needs none: the package loads
// prebuilds/<platform>-<arch>/ as it is). Nothing to do when a binary already loads here; otherwise, or with
// TENSILE_BUILD_FROM_SOURCE=1, builds from source (`npx tensile build` does the same). Downloads nothing.
'use strict';
const path = require('node:path');
const { buildFromSource } = require('./build-from-source.cjs');

const root = path.join(__dirname, '..');
const force = process.env.TENSILE_BUILD_FROM_SOURCE === '1' || process.env.npm_config_build_from_source === 'true' ||
  process.argv.includes('--build-from-source');
if (!force) {
  try {
    require('node-gyp-build')(root);
    process.exit(0);
  } catch {
    // no binary for this machine (or it does not load): build below
  }
}
try {
  buildFromSource();
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
