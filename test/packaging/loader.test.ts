// The loader's error when the addon cannot load (lib/loader.ts): the message for each kind of failure, and the real
// path through a child process (TENSILE_ADDON naming a file that is missing or not a binary; dist/, as `npm test` builds it).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadErrorMessage, kindOf, versionCmp, type Failure, type PrebuildManifest } from '../../lib/loader.js';
import { addon } from '../../lib/index.js';
import { covers } from '../api/coverage.js';

covers('addon');
covers('AddonLoadError');

const root = '/opt/app/node_modules/tensile';
const manifest: PrebuildManifest = {
  name: 'tensile', version: '0.2.0', binary: 'tensile.glibc.node', napi: 8, glibc: '2.34', openmp: 'libgomp.so.1',
  cpu: ['avx512', 'avx2', 'scalar'], cuda: { runtime: '13.0', sass: ['sm_90'], ptx: [], cudart: 'static' },
};
const prebuild = `${root}/prebuilds/linux-x64/tensile.glibc.node`;
function failure(over: Partial<Failure> & { machine?: Partial<Failure['machine']> }): Failure {
  return {
    root, file: prebuild, kind: 'prebuild', error: 'some error', manifest, prebuilds: { 'linux-x64': ['tensile.glibc.node', 'libgomp.so.1', 'tensile.json'] },
    ...over,
    machine: { platform: 'linux', arch: 'x64', libc: 'glibc 2.36', glibcVersion: '2.36', node: '20.20.2', napi: 10, ...over.machine },
  };
}

describe('loadErrorMessage', () => {
  it('a glibc older than the prebuild needs: both versions, the OS to update to, and the source build', () => {
    const m = loadErrorMessage(failure({ error: "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found", machine: { libc: 'glibc 2.31', glibcVersion: '2.31' } }));
    expect(m).toContain('tensile: could not load its native addon for linux-x64 (glibc 2.31), Node 20.20.2 (Node-API 10).');
    expect(m).toContain(`tried: ${prebuild} (prebuild)`);
    expect(m).toContain("error: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found");
    expect(m).toContain('required: Node >= 20.10.0, glibc >= 2.34, Node-API 8, libgomp.so.1 beside the binary');
    expect(m).toContain('this prebuild needs glibc >= 2.34 and this system has 2.31: update the OS');
    expect(m).toContain('npx tensile build');
  });
  it('OpenMP runtime missing: reinstall, or the libgomp1 package', () => {
    const m = loadErrorMessage(failure({ error: 'libgomp.so.1: cannot open shared object file: No such file or directory' }));
    expect(m).toContain("OpenMP's runtime libgomp.so.1 is missing");
    expect(m).toContain('apt-get install libgomp1');
    expect(m).not.toContain('update the OS');
  });
  it('no binary for this platform: what prebuilds/ has, and the source build', () => {
    const m = loadErrorMessage(failure({ file: null, kind: null, manifest: null, error: 'No native build was found', machine: { arch: 'arm64' } }));
    expect(m).toContain(`tried: no binary for linux-arm64: none in ${root}/build/Release, and prebuilds/ has linux-x64/ (tensile.glibc.node)`);
    expect(m).toContain('tensile ships a prebuild for linux-x64 (glibc) only; elsewhere build from source: `npx tensile build`');
  });
  it('musl: no prebuild, the source build with apk', () => {
    const m = loadErrorMessage(failure({ file: null, kind: null, manifest: null, machine: { libc: 'musl (or another libc than glibc)', glibcVersion: '' } }));
    expect(m).toContain('(musl (or another libc than glibc))');
    expect(m).toContain('there is no prebuild for musl (Alpine)');
    expect(m).toContain('apk add cmake g++ make');
  });
  it('a local build that does not load: rebuild it or delete build/', () => {
    const m = loadErrorMessage(failure({ file: `${root}/build/Release/tensile.node`, kind: 'local build', manifest: null, error: 'undefined symbol: foo' }));
    expect(m).toContain(`tried: ${root}/build/Release/tensile.node (local build)`);
    expect(m).toContain(`delete ${root}/build to use the prebuild`);
    expect(m).toContain('required: Node >= 20.10.0\n');
  });
  it('an old Node: upgrade', () => {
    expect(loadErrorMessage(failure({ machine: { node: '18.19.0', napi: 9 } }))).toContain('upgrade Node to 20.10.0 or newer (this is 18.19.0)');
  });
  it('nothing specific: reinstall, build, then doctor', () => {
    const m = loadErrorMessage(failure({}));
    expect(m).toContain('reinstall tensile (npm install tensile), or build from source');
    expect(m).toContain('`npx tensile doctor`');
  });
});

describe('kindOf and versionCmp', () => {
  it('names a binary by where it lies', () => {
    expect(kindOf(root, prebuild)).toBe('prebuild');
    expect(kindOf(root, `${root}/build/Release/tensile.node`)).toBe('local build');
    expect(kindOf(root, '/elsewhere/tensile.node')).toBe('TENSILE_ADDON');
    expect(kindOf(root, `${root}/prebuilds-old/x.node`)).toBe('TENSILE_ADDON');
  });
  it('compares versions numerically', () => {
    expect(versionCmp('2.34', '2.4')).toBeGreaterThan(0);
    expect(versionCmp('2.34', '2.34.0')).toBe(0);
    expect(versionCmp('20.9.1', '20.10.0')).toBeLessThan(0);
  });
});

describe('the real load', () => {
  it('addon() names the binary this process loaded', () => {
    const a = addon();
    expect(['local build', 'prebuild', 'TENSILE_ADDON', 'emulated build']).toContain(a.kind);
    expect(a.path).toMatch(/\.node$/);
  });
  it('is quiet: importing and computing print nothing (TENSILE_LOG_LEVEL raises it)', () => {
    const env = { ...process.env };
    delete env['TENSILE_LOG_LEVEL'];
    const r = spawnSync(process.execPath, ['-e', "import('./dist/index.js').then(async (T) => { await T.zeros([2]).add(1).data(); T.tensor([1], { device: 'auto' }); })"],
      { cwd: resolve(__dirname, '../..'), env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
    const info = spawnSync(process.execPath, ['-e', "import('./dist/index.js').then((T) => { T.tensor([1], { device: 'auto' }); })"],
      { cwd: resolve(__dirname, '../..'), env: { ...env, TENSILE_LOG_LEVEL: 'info' }, encoding: 'utf8' });
    expect(info.stdout + info.stderr).toMatch(/auto/);
  });
  const child = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['-e', "import('./dist/index.js').then(() => console.log('loaded'), (e) => { console.log(e.name); console.log(e.message); })"],
      { cwd: resolve(__dirname, '../..'), env: { ...process.env, ...env }, encoding: 'utf8' });
  it.each([
    ['a missing file', '/nonexistent/tensile.node', 'Cannot find module'],
    ['a file that is not a binary', 'NOT_ELF', 'invalid ELF header'],
  ])('TENSILE_ADDON naming %s: AddonLoadError with what was tried and the remedy', (_what, file, err) => {
    let f = file;
    if (file === 'NOT_ELF') {
      f = join(mkdtempSync(join(tmpdir(), 'tensile-loader-')), 'tensile.node');
      writeFileSync(f, 'not a shared object\n'.repeat(256));
    }
    const r = child({ TENSILE_ADDON: f });
    expect(r.stdout).toContain('AddonLoadError');
    expect(r.stdout).toContain(`tried: ${f} (TENSILE_ADDON)`);
    expect(r.stdout).toContain(err);
    expect(r.stdout).toContain('TENSILE_ADDON names this binary: unset it to load the installed one');
  });
});
