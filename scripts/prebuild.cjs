#!/usr/bin/env node
// `npm run prebuildify`: the Linux x64 prebuild, laid out where node-gyp-build finds it
// (prebuilds/linux-x64/tensile.glibc.node, one binary for every Node >= 20), with OpenMP's runtime beside it and
// a manifest (tensile.json: the glibc floor, the CUDA architectures, the CPU instruction sets) that the loader reads
// to explain a failed load. prebuildify stays the tool (naming, --strip, the shared libraries beside the binary);
// scripts/prebuildify-gyp.cjs stands in for the node-gyp it spawns and builds with cmake-js.
// The CUDA kernels are required (nvcc >= 12; the release architectures unless TENSILE_CUDA_ARCHS says otherwise);
// TENSILE_CUDA=OFF makes a CPU-only prebuild, and says so. cuBLAS and cuDNN are never bundled.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { cmp } = require('./build-from-source.cjs');

const root = path.join(__dirname, '..');
const dir = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const ALLOWED_NEEDED = new Set(['libc.so.6', 'libm.so.6', 'libgomp.so.1', 'libgcc_s.so.1', 'ld-linux-x86-64.so.2',
  'libdl.so.2', 'libpthread.so.0', 'librt.so.1']);

function fail(msg) {
  console.error(`prebuild: ${msg}`);
  process.exit(1);
}
function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.error || r.status !== 0) return null;
  return r.stdout;
}

/** The newest GLIBC_x.y symbol version a file needs (objdump -T), or null when it needs none. */
function glibcFloor(file) {
  const out = tool('objdump', ['-T', file]);
  if (out === null) fail(`expected objdump (binutils) to read ${file}, got none that runs`);
  let floor = null;
  for (const m of out.matchAll(/GLIBC_([0-9]+\.[0-9]+(?:\.[0-9]+)?)/g)) if (floor === null || cmp(m[1], floor) > 0) floor = m[1];
  return floor;
}
function dynamic(file) {
  const out = tool('readelf', ['-d', file]);
  if (out === null) fail(`expected readelf (binutils) to read ${file}, got none that runs`);
  return {
    needed: [...out.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]),
    runpath: (/\((?:RUNPATH|RPATH)\).*\[(.+)\]/.exec(out) ?? [])[1] ?? '',
  };
}
// The architectures in the binary's CUDA fatbins (.nv_fatbin, copied out by objcopy). The toolkit here has no
// cuobjdump, so the fatbin headers are read directly: a header (magic 0xBA55ED50, u16 version, u16 header size,
// u64 size of its entries), then entries of u16 kind (1 PTX, 2 SASS), u16 version, u32 header size, u64 payload
// size, ..., u32 architecture at byte 28 (75, 80, ..., 120). Checked against builds of one and of seven architectures.
function cudaArchs(file) {
  const tmp = path.join(require('node:os').tmpdir(), `tensile-fatbin-${process.pid}.bin`);
  if (tool('objcopy', ['-O', 'binary', '--only-section=.nv_fatbin', file, tmp]) === null) fail(`expected objcopy (binutils) to read ${file}, got none that runs`);
  const b = fs.readFileSync(tmp);
  fs.rmSync(tmp, { force: true });
  const sass = new Set(), ptx = new Set();
  let off = 0;
  while (off + 16 <= b.length) {
    if (b.readUInt32LE(off) !== 0xba55ed50) break;
    const hs = b.readUInt16LE(off + 6), size = Number(b.readBigUInt64LE(off + 8));
    let p = off + hs;
    const end = p + size;
    while (p + 32 <= end) {
      const kind = b.readUInt16LE(p), ehs = b.readUInt32LE(p + 4), payload = Number(b.readBigUInt64LE(p + 8)), sm = b.readUInt32LE(p + 28);
      if (kind === 2) sass.add(sm);
      else if (kind === 1) ptx.add(sm);
      p += ehs + payload;
    }
    off = end;
    while (off < b.length && off % 8) off++;
  }
  const names = (s) => [...s].sort((x, y) => x - y).map((x) => `sm_${x}`);
  return { sass: names(sass), ptx: names(ptx).map((x) => x.replace('sm_', 'compute_')) };
}

module.exports = { cudaArchs, glibcFloor, dynamic };

if (require.main === module) {
  const env = { ...process.env };
  if (!env.TENSILE_CUDA) env.TENSILE_CUDA = 'ON';
  if (env.TENSILE_CUDA === 'OFF') console.warn('prebuild: TENSILE_CUDA=OFF: a CPU-only prebuild (release prebuilds carry the CUDA kernels)');
  else if (env.TENSILE_CUDA !== 'ON') fail(`expected TENSILE_CUDA unset, ON or OFF for a prebuild, got ${env.TENSILE_CUDA}`);

  fs.rmSync(dir, { recursive: true, force: true });
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc', '--node-gyp', path.join(__dirname, 'prebuildify-gyp.cjs')],
    { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) fail(`prebuildify failed (exit ${r.status}); the output above names the step`);

  const files = fs.readdirSync(dir);
  const binary = files.find((f) => f.endsWith('.node'));
  if (binary !== 'tensile.glibc.node') fail(`expected prebuildify to write tensile.glibc.node in ${dir}, got ${files.join(', ') || 'nothing'}`);
  const bundled = files.filter((f) => /\.so(\.[0-9]+)*$/.test(f));
  const vendor = bundled.filter((f) => /cublas|cudnn|cudart/.test(f));
  if (vendor.length) fail(`expected no CUDA libraries in the prebuild (cuBLAS/cuDNN are found at run time), got ${vendor.join(', ')}`);
  if (!bundled.includes('libgomp.so.1')) fail(`expected OpenMP's runtime libgomp.so.1 beside the binary, got ${bundled.join(', ') || 'none'}`);
  const node = path.join(dir, binary);
  const dyn = dynamic(node);
  const odd = dyn.needed.filter((n) => !ALLOWED_NEEDED.has(n));
  if (odd.length) fail(`expected ${binary} to need only glibc, libgcc_s and libgomp, got also ${odd.join(', ')}`);
  if (!dyn.runpath.split(':').includes('$ORIGIN')) fail(`expected ${binary} to have the rpath $ORIGIN (to find libgomp.so.1 beside it), got '${dyn.runpath}'`);
  const floors = [node, ...bundled.map((f) => path.join(dir, f))].map(glibcFloor).filter(Boolean);
  const glibc = floors.reduce((a, b) => (cmp(a, b) >= 0 ? a : b), '2.17');
  const archs = env.TENSILE_CUDA === 'OFF' ? null : cudaArchs(node);
  if (archs && archs.sass.length === 0) fail(`expected CUDA kernels in ${binary} (its .nv_fatbin section), got none`);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const nvcc = env.TENSILE_CUDA === 'OFF' ? null : (/release ([0-9.]+)/.exec(tool('/usr/local/cuda/bin/nvcc', ['--version']) ?? tool('nvcc', ['--version']) ?? '') ?? [])[1] ?? null;
  const manifest = {
    name: pkg.name,
    version: pkg.version,
    binary,
    napi: pkg.binary.napi_versions[0],
    glibc,
    openmp: 'libgomp.so.1',
    cpu: ['avx512', 'avx2', 'scalar'],
    cuda: archs ? { runtime: nvcc, sass: archs.sass, ptx: archs.ptx, cudart: 'static' } : null,
  };
  fs.writeFileSync(path.join(dir, 'tensile.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const size = (f) => fs.statSync(path.join(dir, f)).size;
  console.log(`prebuild: ${path.relative(root, dir)}/ in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${files.filter((f) => f !== 'tensile.json').map((f) => `${f} ${(size(f) / 1048576).toFixed(1)} MiB`).join(', ')}`);
  console.log(`prebuild: glibc >= ${glibc}; CUDA ${archs ? `${nvcc}: SASS ${archs.sass.join(' ')}${archs.ptx.length ? `, PTX ${archs.ptx.join(' ')}` : ''}` : 'none'}`);
}
