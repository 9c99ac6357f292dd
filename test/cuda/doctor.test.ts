// `tensile doctor` over the emulated CUDA build (./emulated.ts: build-emu/ or the sanitizer's; skipped without one): the
// CUDA lines name the emulator, its runtime, and each emulated GPU with its compute capability and memory.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { haveEmulated, emulatedEnv, DOUBLES } from './emulated.js';

const repo = resolve(__dirname, '../..');
const emulated = haveEmulated();
const doctor = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [resolve(repo, 'bin/tensile.js'), 'doctor', ...args], { env: { ...process.env, ...emulatedEnv(), ...env }, encoding: 'utf8' });

describe.runIf(emulated)('tensile doctor on the emulated CUDA build', () => {
  it('--json: built, emulated, a runtime and a driver, each GPU', () => {
    const r = doctor(['--json'], { TENSILE_EMU_DEVICES: '2' });
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    // the emulated build, or the sanitizer's emulated build when TENSILE_ADDON names it (scripts/sanitize.sh --emulated)
    expect(j.addon).toMatchObject({ loaded: true, kind: process.env['TENSILE_ADDON'] ? 'TENSILE_ADDON' : 'emulated build' });
    expect(j.cuda).toMatchObject({ built: true, emulated: true, reason: '' });
    expect(j.cuda.runtimeVersion).toMatch(/^\d+\.\d+$/);
    expect(j.cuda.driverVersion).toMatch(/^\d+\.\d+$/);
    expect(j.cuda.devices).toHaveLength(2);
    for (const d of j.cuda.devices) {
      expect(d.computeCapability).toMatch(/^\d+\.\d$/);
      expect(d.memoryGiB).toBeGreaterThan(0);
      expect(d.multiprocessors).toBeGreaterThan(0);
    }
  });
  it('text: one line per GPU', () => {
    const r = doctor([], { TENSILE_EMU_DEVICES: '2' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^CUDA: the SIMT emulator \(test build\), runtime \d+\.\d+, driver \d+\.\d+$/m);
    expect(r.stdout).toMatch(/^ {2}cuda:0: .+, compute capability \d+\.\d, [\d.]+ GiB, \d+ SMs$/m);
    expect(r.stdout).toMatch(/^ {2}cuda:1: /m);
  });
  it('cuBLAS and cuDNN: found through their test doubles with versions and paths, or why not with the paths tried', () => {
    const D = DOUBLES;
    const found = doctor([], { TENSILE_CUBLAS_LIBRARY: `${D}/cublas/libcublas.so.13`, TENSILE_CUDNN_LIBRARY: `${D}/cudnn/libcudnn.so.9` });
    expect(found.status).toBe(0);
    expect(found.stdout).toMatch(new RegExp(`^cuBLAS: found, version 13\\.1\\.0, ${D}/cublas/libcublas\\.so\\.13$`, 'm'));
    expect(found.stdout).toMatch(new RegExp(`^cuDNN: found, version 9\\.13\\.0, ${D}/cudnn/libcudnn\\.so\\.9$`, 'm'));
    const off = doctor(['--json'], { TENSILE_CUBLAS: '0', TENSILE_CUDNN_LIBRARY: '/nonexistent/libcudnn.so.9' });
    const j = JSON.parse(off.stdout);
    expect(j.cublas).toMatchObject({ found: false, version: 0, path: '' });
    expect(j.cublas.reason).toMatch(/TENSILE_CUBLAS=0/);
    expect(j.cudnn.found).toBe(false);
    expect(j.cudnn.tried).toContain('/nonexistent/libcudnn.so.9');
    const text = doctor([], { TENSILE_CUBLAS: '0', TENSILE_CUDNN_LIBRARY: '/nonexistent/libcudnn.so.9' }).stdout;
    expect(text).toMatch(/^cuBLAS: not used: .*TENSILE_CUBLAS=0.*; tensile's own kernels run$/m);
    expect(text).toMatch(/^ {2}tried: \/nonexistent\/libcudnn\.so\.9/m);
  });
  it('no driver: the exact reason', () => {
    const r = doctor([], { TENSILE_EMU_DRIVER: 'none' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}no GPU: no NVIDIA driver found/m);
  });
});
