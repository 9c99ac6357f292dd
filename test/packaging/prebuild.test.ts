// The prebuild wrapper (scripts/prebuildify-gyp.cjs stands in for the node-gyp that prebuildify spawns) and the
// source build's checks (scripts/build-from-source.cjs). The whole prebuild runs in scripts/install-check.sh (CI).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { addon, cuda } from '../../lib/index.js';
import { versionCmp } from '../../lib/loader.js';

const repo = resolve(__dirname, '../..');
const require = createRequire(import.meta.url);
const gyp = require('../../scripts/prebuildify-gyp.cjs') as { translate(a: string[]): { arch?: string; clean: boolean }; openmpRuntime(): string };
const src = require('../../scripts/build-from-source.cjs') as {
  missing(env: NodeJS.ProcessEnv): { what: string; found: string; remedy: string }[];
  buildFromSource(o: { env: NodeJS.ProcessEnv; stdio: 'pipe' }): string;
  BUILD_PACKAGES: string[];
};

describe('prebuildify-gyp: prebuildify node-gyp arguments to cmake-js', () => {
  it('takes what prebuildify 6 passes (recorded from the real prebuildify, not written by hand)', () => {
    // prebuildify spawns --node-gyp with its arguments: record them with a stand-in that exits at once
    const dir = mkdtempSync(join(tmpdir(), 'tensile-prebuildify-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0' }));
    const rec = join(dir, 'record.cjs');
    writeFileSync(rec, `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(join(dir, 'args.json'))}, JSON.stringify(process.argv.slice(2))); process.exit(3);\n`);
    chmodSync(rec, 0o755);
    const r = spawnSync(process.execPath, [require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc', '--node-gyp', rec], { cwd: dir, encoding: 'utf8' });
    expect(r.status).not.toBe(0);  // the stand-in failed the build, as intended
    const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as string[];
    expect(args[0]).toBe('rebuild');
    expect(args).toContain('--release');
    expect(args.some((a) => a.startsWith('--target='))).toBe(true);
    expect(gyp.translate(args)).toEqual({ arch: process.arch, clean: true });
  });
  it('node-gyp-build picks the name prebuild.cjs expects (tensile.glibc.node), and a local build before it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-ngb-'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'tensile', version: '1.0.0' }));
    mkdirSync(join(dir, 'prebuilds', 'linux-x64'), { recursive: true });
    for (const f of ['tensile.glibc.node', 'tensile.musl.node', 'libgomp.so.1', 'tensile.json']) writeFileSync(join(dir, 'prebuilds', 'linux-x64', f), '');
    const ngb = require('node-gyp-build') as { resolve(d: string): string };
    expect(ngb.resolve(dir)).toBe(join(dir, 'prebuilds', 'linux-x64', 'tensile.glibc.node'));
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    writeFileSync(join(dir, 'build', 'Release', 'tensile.node'), '');
    expect(ngb.resolve(dir)).toBe(join(dir, 'build', 'Release', 'tensile.node'));
  });
  it.each([
    [['configure'], "expected the command rebuild (as prebuildify runs node-gyp), got 'configure'"],
    [[], 'expected the command rebuild (as prebuildify runs node-gyp), got none'],
    [['rebuild', '--debug'], 'expected a release build, got --debug'],
    [['rebuild', '--arch=arm64'], 'expected --arch=x64 (the CPU kernels are x86-64 code), got --arch=arm64'],
    [['rebuild', '--runtime=electron'], 'expected --target, --devdir, --arch or --release, got --runtime=electron'],
    [['rebuild', 'x64'], "expected --name=value arguments, got 'x64'"],
  ])('refuses %j', (args, msg) => {
    expect(() => gyp.translate(args)).toThrow(msg);
    // the command line says the same and exits 1, before building anything
    const r = spawnSync(join(repo, 'scripts/prebuildify-gyp.cjs'), args, { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(msg);
  });
  it('finds the OpenMP runtime it ships beside the binary', () => {
    const p = gyp.openmpRuntime();
    expect(isAbsolute(p)).toBe(true);
    expect(existsSync(p)).toBe(true);
    expect(p).toMatch(/libgomp\.so/);
  });
});

describe('prebuild.cjs: what it reads from a binary', () => {
  const pb = require('../../scripts/prebuild.cjs') as { cudaArchs(f: string): { sass: string[]; ptx: string[] }; glibcFloor(f: string): string | null; dynamic(f: string): { needed: string[]; runpath: string } };
  const a = addon();
  const plain = a.kind === 'local build' || a.kind === 'prebuild';
  it.runIf(plain)('the binary that loads here needs glibc <= 2.34, only glibc, libgcc_s and libgomp, and finds libgomp beside it first', () => {
    expect(versionCmp(pb.glibcFloor(a.path)!, '2.34')).toBeLessThanOrEqual(0);
    const d = pb.dynamic(a.path);
    expect(d.needed.filter((n) => !/^(libc|libm|libgomp|libgcc_s|ld-linux-x86-64)\.so/.test(n))).toEqual([]);
    expect(d.runpath.split(':')).toContain('$ORIGIN');
  });
  it.runIf(plain && cuda.status().built)('lists the CUDA architectures of the binary that loads here', () => {
    const archs = pb.cudaArchs(a.path);
    expect(archs.sass.length).toBeGreaterThan(0);
    for (const s of [...archs.sass, ...archs.ptx]) expect(s).toMatch(/^(sm|compute)_[0-9]{2,3}$/);
  });
});

describe('build-from-source: what a source build needs', () => {
  it('names cmake and the compiler when neither is on PATH, each with its remedy', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tensile-nopath-'));
    const miss = src.missing({ PATH: empty });
    expect(miss.map((m) => m.what)).toEqual(['cmake >= 3.15', 'a C++17 compiler with OpenMP (g++ >= 9)']);
    expect(miss[0]!.remedy).toContain('apt-get install cmake');
    expect(miss[1]!.found).toBe('no c++ on PATH');
    expect(miss[1]!.remedy).toContain('apt-get install g++');
  });
  it('an old cmake is named with its version', () => {
    const bin = mkdtempSync(join(tmpdir(), 'tensile-oldcmake-'));
    writeFileSync(join(bin, 'cmake'), '#!/bin/sh\necho "cmake version 3.10.2"\n');
    chmodSync(join(bin, 'cmake'), 0o755);
    const miss = src.missing({ PATH: `${bin}:${process.env['PATH']}` });
    expect(miss).toEqual([expect.objectContaining({ what: 'cmake >= 3.15', found: 'cmake 3.10.2' })]);
  });
  it('CXX naming a compiler that is not there', () => {
    const miss = src.missing({ ...process.env, CXX: 'no-such-compiler' });
    expect(miss).toEqual([expect.objectContaining({ found: 'no no-such-compiler on PATH (CXX)' })]);
  });
  it('everything is here (this machine builds the addon)', () => {
    expect(src.missing(process.env)).toEqual([]);
  });
  it('buildFromSource stops before cmake-js with one message listing what is missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tensile-nopath-'));
    expect(() => src.buildFromSource({ env: { PATH: empty }, stdio: 'pipe' })).toThrow(
      /cannot build the native addon from source here; it needs:\n {2}- cmake >= 3.15: found none on PATH\. Remedy: Debian\/Ubuntu: apt-get install cmake.*\n {2}- a C\+\+17 compiler/);
  });
  it('the build-only packages are optional peers of the package, and dev dependencies here', () => {
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    for (const p of src.BUILD_PACKAGES) {
      expect(pkg.dependencies[p]).toBeUndefined();
      expect(pkg.peerDependenciesMeta[p]).toEqual({ optional: true });
      expect(pkg.devDependencies[p]).toBe(pkg.peerDependencies[p]);
    }
  });
});

describe('tensile build (bin/tensile.js)', () => {
  it('fails naming what is missing when the tools are not there', () => {
    const empty = mkdtempSync(join(tmpdir(), 'tensile-nopath-'));
    const r = spawnSync(process.execPath, [join(repo, 'bin/tensile.js'), 'build'], { env: { PATH: empty }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cmake >= 3.15: found none on PATH');
  });
  it('refuses arguments', () => {
    const r = spawnSync(process.execPath, [join(repo, 'bin/tensile.js'), 'build', '--cuda'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('tensile build: expected no arguments');
  });
});
