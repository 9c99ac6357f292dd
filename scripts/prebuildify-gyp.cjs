#!/usr/bin/env node
// prebuildify's build step, through cmake-js. prebuildify can only drive node-gyp: it spawns
// `node-gyp rebuild --target=<node version> --devdir=<dir> --arch=<arch> --release` and takes the first .node in
// build/Release (with the .so files beside it). scripts/prebuild.cjs points it here (--node-gyp), and this runs the
// cmake-js build in build/ instead, then puts OpenMP's runtime beside the binary (its $ORIGIN rpath finds it there).
// --target is not passed on: a Node-API build is one binary for every Node >= 20, made from node-api-headers, so
// nothing is downloaded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** prebuildify's node-gyp arguments -> what buildFromSource() takes; throws on what it cannot honour. */
function translate(argv) {
  const [cmd, ...rest] = argv;
  if (cmd !== 'rebuild' && cmd !== 'build') throw new Error(`prebuildify-gyp: expected the command rebuild (as prebuildify runs node-gyp), got ${cmd === undefined ? 'none' : `'${cmd}'`}`);
  const o = { arch: undefined, clean: cmd === 'rebuild' };
  for (const a of rest) {
    const m = /^--([a-z_-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`prebuildify-gyp: expected --name=value arguments, got '${a}'`);
    const [, k, v] = m;
    if (k === 'target' || k === 'devdir' || k === 'release') continue;
    if (k === 'arch') {
      if (v !== 'x64') throw new Error(`prebuildify-gyp: expected --arch=x64 (the CPU kernels are x86-64 code), got --arch=${v}`);
      o.arch = v;
    } else if (k === 'debug') {
      throw new Error('prebuildify-gyp: expected a release build, got --debug (prebuilds are release builds; debug builds: cmake-js compile -D)');
    } else {
      throw new Error(`prebuildify-gyp: expected --target, --devdir, --arch or --release, got --${k}${v === undefined ? '' : `=${v}`}`);
    }
  }
  return o;
}

/** The OpenMP runtime the compiler links (libgomp.so.1), to ship beside the binary. */
function openmpRuntime(env = process.env) {
  const cxx = env.CXX || 'c++';
  const r = spawnSync(cxx, ['-print-file-name=libgomp.so.1'], { encoding: 'utf8', env });
  const p = (r.stdout ?? '').trim();
  if (r.status !== 0 || !path.isAbsolute(p) || !fs.existsSync(p)) {
    throw new Error(`prebuildify-gyp: expected ${cxx} to name its libgomp.so.1 (-print-file-name), got '${p || r.stderr}'`);
  }
  return fs.realpathSync(p);
}

module.exports = { translate, openmpRuntime };

if (require.main === module) {
  try {
    const o = translate(process.argv.slice(2));
    const { buildFromSource, root } = require('./build-from-source.cjs');
    const release = path.join(root, 'build', 'Release');
    if (o.clean) fs.rmSync(release, { recursive: true, force: true });
    const file = buildFromSource({ out: 'build', arch: o.arch });
    fs.copyFileSync(openmpRuntime(), path.join(path.dirname(file), 'libgomp.so.1'));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
