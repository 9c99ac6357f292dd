import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { opNames, isa, setIsa, tensor, DeviceError, ArgumentError } from '../../lib/index.js';
import { binding, OP } from '../../lib/native.js';

type Isa = 'avx512' | 'avx2' | 'scalar';
// What the CPU can run, from its own flags (the kernel set's requirements: native/cpu/select.cpp), best first.
function cpuIsas(): Isa[] {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').trim().split(/\s+/));
  const out: Isa[] = [];
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) out.push('avx512');
  if (flags.has('avx2') && flags.has('fma')) out.push('avx2');
  out.push('scalar');
  return out;
}
const hasCpuinfo = existsSync('/proc/cpuinfo');

// TENSILE_ISA is read once, when the addon loads: those checks run in child processes, on lib/ compiled to
// JavaScript (into node_modules/.cache, so that the compiled lib/ finds node-gyp-build) and the addon this process
// loaded.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ADDON = process.env['TENSILE_ADDON'] ?? (createRequire(import.meta.url)('node-gyp-build') as { path(d: string): string }).path(ROOT);
let libDir = '';
function child(script: string, env: Record<string, string | undefined>): { out: { isa: string; warnings: string[]; sum: number }; stderr: string } {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, TENSILE_ADDON: ADDON, ...env })) if (v !== undefined) e[k] = v;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: e });
  expect(r.status, `child failed: ${r.stderr}`).toBe(0);
  return { out: JSON.parse(r.stdout.trim().split('\n').at(-1)!), stderr: r.stderr };
}
// the chosen set, the warnings emitted while loading, and a small computation on that set
const probe = () => `
  const warnings = [];
  process.on('warning', (w) => warnings.push(w.message));
  const t = await import(${JSON.stringify(pathToFileURL(join(libDir, 'index.js')).href)});
  const sum = await t.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]).mul(2).sum().item();
  await new Promise((r) => setImmediate(r));
  console.log(JSON.stringify({ isa: t.isa(), warnings, sum }));`;

describe('op table', () => {
  it('the native op names are exactly native/core/ops.def, in order', () => {
    const def = readFileSync(new URL('../../native/core/ops.def', import.meta.url), 'utf8');
    const names = [...def.matchAll(/^TS_OP\((\w+)\)/gm)].map((m) => m[1]);
    expect(opNames).toEqual(names);
  });
  it('every op name used by lib/ exists in the native table', () => {
    const dir = new URL('../../lib/', import.meta.url);
    const files: string[] = [];
    const walk = (d: URL) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(new URL(`${e.name}/`, d));
        else if (e.name.endsWith('.ts')) files.push(readFileSync(new URL(e.name, d), 'utf8'));
      }
    };
    walk(dir);
    const used = new Set<string>();
    for (const src of files) for (const m of src.matchAll(/launch\(\s*'(\w+)'/g)) used.add(m[1]!);
    for (const m of files.join('\n').matchAll(/(?:binary|unary|reduce|softmax|argReduce|reduceWithIndices)\(\s*'(\w+)'/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(20);
    for (const u of used) expect(OP[u], u).toBeTypeOf('number');
  });
  it('every op has a float32 CPU kernel (or int32 for randint)', () => {
    for (const [name, id] of Object.entries(OP)) {
      const ok = binding.supports(id, 0, 0) || binding.supports(id, 0, 2);
      expect(ok, name).toBe(true);
    }
  });
  it('an unsupported (op, device, dtype) is a clear DeviceError', async () => {
    const { tensor, DeviceError } = await import('../../lib/index.js');
    const { launch } = await import('../../lib/tensor/tensor.js');
    const x = tensor([1], { dtype: 'uint8' });
    expect(() => launch('exp', 'uint8', [x], [{ shape: [1], dtype: 'uint8' }])).toThrow(DeviceError);
    expect(() => launch('exp', 'uint8', [x], [{ shape: [1], dtype: 'uint8' }])).toThrow('exp: not implemented for device cpu, dtype uint8');
  });
});

describe.skipIf(!hasCpuinfo)('instruction set choice', () => {
  const sets = hasCpuinfo ? cpuIsas() : [];
  const lacking = (['avx512', 'avx2'] as const).filter((s) => !sets.includes(s));
  beforeAll(() => {
    const cache = join(ROOT, 'node_modules', '.cache');
    mkdirSync(cache, { recursive: true });
    libDir = mkdtempSync(join(cache, 'tensile-optable-'));
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.json'), '--outDir', libDir, '--declaration', 'false', '--sourceMap', 'false'], { encoding: 'utf8' });
    expect(r.status, `tsc: ${r.stdout}${r.stderr}`).toBe(0);
  });
  afterAll(() => {
    if (libDir) rmSync(libDir, { recursive: true, force: true });
  });
  it(`picks the best instruction set the CPU's flags allow (${sets[0]})`, () => {
    const { out } = child(probe(), { TENSILE_ISA: undefined });
    expect(out.isa).toBe(sets[0]);
    expect(out.warnings).toEqual([]);
    expect(out.sum).toBe(306);
    if (process.env['TENSILE_ISA'] === undefined) expect(isa()).toBe(sets[0]);
  });
  for (const s of sets) {
    it(`TENSILE_ISA=${s} forces that set`, () => {
      const { out } = child(probe(), { TENSILE_ISA: s });
      expect(out).toEqual({ isa: s, warnings: [], sum: 306 });
    });
  }
  it('TENSILE_ISA naming no set: a warning, and the best set', () => {
    const { out, stderr } = child(probe(), { TENSILE_ISA: 'sse9' });
    const msg = "tensile: TENSILE_ISA=sse9 ignored: setIsa: expected one of 'avx512', 'avx2', 'scalar', got 'sse9'";
    expect(out).toEqual({ isa: sets[0], warnings: [msg], sum: 306 });
    expect(stderr).toContain(msg);
  });
  it.skipIf(lacking.length === 0)(`TENSILE_ISA naming a set this CPU lacks (${lacking.join(', ') || 'none'}): a warning, and the best set`, () => {
    for (const s of lacking) {
      const { out } = child(probe(), { TENSILE_ISA: s });
      expect(out).toEqual({ isa: sets[0], warnings: [`tensile: TENSILE_ISA=${s} ignored: setIsa: expected an instruction set this CPU supports, got '${s}'`], sum: 306 });
    }
  });
  it(`setIsa switches to each set the CPU supports (${sets.join(', ')}) and rejects the others`, async () => {
    const prev = isa() as Isa;
    try {
      for (const s of sets) {
        expect(setIsa(s)).toBe(s);
        expect(isa()).toBe(s);
        expect(await tensor([1, 2, 3]).mul(2).sum().item()).toBe(12);
      }
      for (const s of lacking) {
        expect(() => setIsa(s)).toThrow(DeviceError);
        expect(() => setIsa(s)).toThrow(`setIsa: expected an instruction set this CPU supports, got '${s}'`);
        expect(isa()).toBe('scalar');
      }
      expect(() => setIsa('sse9' as never)).toThrow(DeviceError);
      expect(() => setIsa('sse9' as never)).toThrow("setIsa: expected one of 'avx512', 'avx2', 'scalar', got 'sse9'");
      expect(() => setIsa(3 as never)).toThrow(ArgumentError);
      expect(() => setIsa(3 as never)).toThrow("setIsa: expected 'avx512', 'avx2' or 'scalar', got number");
      expect(isa()).toBe('scalar');  // a refused set leaves the current one
    } finally {
      setIsa(prev);
    }
  });
});
