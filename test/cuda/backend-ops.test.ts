// scripts/backend-ops.mjs (every op of native/core/ops.def through the public API, device vs CPU by NMSE):
// - its case table names every op of ops.def (a case, or the case whose backward covers it), and nothing else;
// - over the emulated build (`npm run build:emulated`, TENSILE_EMULATE_CUDA=1; skipped when that build's
//   cuda.isAvailable() is false): the whole run exits 0 with no FAIL line, and the same run with --fake (every value
//   read back from the device perturbed) exits 1 with FAIL lines, so the comparison can fail;
// - without a usable device it says so and exits 0.
// The script imports dist/ (tsc) and runs in child processes.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { EMULATED_ADDON, emulatedEnv } from './emulated.js';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'scripts', 'backend-ops.mjs');
const emulated = EMULATED_ADDON;
const dist = join(root, 'dist', 'index.js');

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [script, ...args], {
    cwd: root, encoding: 'utf8', timeout: 1_500_000, maxBuffer: 64 << 20,
    env: { ...process.env, TENSILE_ADDON: '', ...(env['TENSILE_EMULATE_CUDA'] ? emulatedEnv() : {}), ...env },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const opsDef = readFileSync(join(root, 'native', 'core', 'ops.def'), 'utf8')
  .split('\n').map((l) => /^TS_OP\((\w+)\)/.exec(l.trim())?.[1]).filter((x): x is string => !!x);

describe('the case table', () => {
  it('names every op of ops.def, each by a case or by the case whose backward runs it, and no other name', () => {
    expect(opsDef.length).toBeGreaterThan(70);
    const r = run(['--list']);
    expect(r.status).toBe(0);
    const { cases, coveredBy } = JSON.parse(r.out) as { cases: Record<string, string[]>; coveredBy: Record<string, string> };
    const missing = opsDef.filter((op) => !(op in cases) && !(op in coveredBy));
    expect(missing).toEqual([]);
    expect(Object.keys(cases).filter((op) => !opsDef.includes(op))).toEqual([]);
    expect(Object.keys(coveredBy).filter((op) => !opsDef.includes(op))).toEqual([]);
    // an op is listed once: a case of its own or a covering case, never both; coverers have cases
    expect(Object.keys(coveredBy).filter((op) => op in cases)).toEqual([]);
    expect(Object.values(coveredBy).filter((by) => !(by in cases))).toEqual([]);
    for (const [op, names] of Object.entries(cases)) {
      expect(names.length, op).toBeGreaterThan(0);
      expect(new Set(names).size, op).toBe(names.length);
    }
  });
});

// whether the emulated build has a usable device (its own cuda.isAvailable())
const probe = existsSync(emulated) && existsSync(dist)
  ? spawnSync(process.execPath, ['--input-type=module', '-e', `const T = await import(${JSON.stringify(dist)}); process.stdout.write(String(T.cuda.isAvailable()));`], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...emulatedEnv() },
  }).stdout
  : 'false';
const available = probe === 'true';

describe.skipIf(!available)('over the emulated build', () => {
  const emu = { TENSILE_EMULATE_CUDA: '1' };

  it('every case passes on cuda: exit 0, no FAIL line, and the kernels that have landed are compared', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bops-'));
    try {
      const json = join(dir, 'out.json');
      const r = run(['--device', 'cuda', '--seeds', '2', '--json', json], emu);
      const fails = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
      expect(fails).toEqual([]);
      expect(r.err).toBe('');
      expect(r.status).toBe(0);
      const res = JSON.parse(readFileSync(json, 'utf8')) as {
        summary: { ok: number; fail: number }; results: { op: string; dtype: string; status: string; nmse: number | null }[];
      };
      expect(res.summary.fail).toBe(0);
      // the transfer case runs the device's copy kernel whatever else has landed
      const transfer = res.results.filter((x) => x.op === 'copy' && x.status === 'OK');
      expect(transfer.map((x) => x.dtype).sort()).toEqual(expect.arrayContaining(['float32', 'float64', 'int32', 'uint8']));
      expect(res.summary.ok).toBeGreaterThanOrEqual(4);
      // one line per result, each with a status the script defines
      for (const x of res.results) expect(['OK', 'FAIL', 'not supported']).toContain(x.status);
      for (const x of res.results.filter((y) => y.status === 'OK')) expect(x.nmse).not.toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_500_000);

  it('a wrong device result is a FAIL with exit 1 (--fake perturbs what the device returns)', () => {
    const r = run(['--op', 'copy,add,sum', '--seeds', '1', '--fake'], emu);
    expect(r.status).toBe(1);
    const fails = r.out.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(fails.length).toBeGreaterThanOrEqual(4);
    expect(fails.find((l) => / copy float32 transfer /.test(l))).toMatch(/nmse \S+ > 1\.00e-7 \(float32\)/);
    expect(fails.find((l) => / copy int32 transfer /.test(l))).toMatch(/nmse \S+ > 0 \(int32\)/);
    expect(r.out).toMatch(/backend-ops: \d+ OK, [1-9]\d* FAIL/);
  }, 600_000);

  it('an unknown op name is an argument error (exit 2)', () => {
    const r = run(['--op', 'no_such_op'], emu);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/--op: expected an op of native\/core\/ops.def, got no_such_op/);
  });
});

describe.skipIf(!existsSync(emulated) || !existsSync(dist))('without a usable GPU', () => {
  it('says so and exits 0', () => {
    const r = run([], { TENSILE_EMULATE_CUDA: '1', TENSILE_EMU_DRIVER: 'none' });
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^backend-ops: no GPU device available: no NVIDIA driver found.*nothing to compare$/m);
    expect(r.out).not.toMatch(/^(OK|FAIL)/m);
  });
});
