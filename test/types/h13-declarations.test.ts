import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// scripts/check-types.sh (the CI step) on the declarations of lib/ as it is now, emitted into a package of their own
// (a package.json and dist/*.d.ts): not into dist/, which other tests run the CLI from.
const configs = ['tsconfig.json', 'tsconfig.esnext.json', 'tsconfig.node.json', 'tsconfig.esnext-node.json'];
let tmp: string;
let pkg: string;

const checkTypes = (dir: string) => spawnSync('bash', ['scripts/check-types.sh', dir], { encoding: 'utf8' });
// each configuration's verdict and, when it failed, tsc's errors
function verdicts(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of stdout.split(/^check-types: /m).slice(1)) {
    const m = /^(\S+) (ok|failed:)\n?([\s\S]*)$/.exec(part);
    if (m) out[m[1]!] = m[2] === 'ok' ? 'ok' : m[3]!.trim();
  }
  return out;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tensile-h13-'));
  pkg = join(tmp, 'tensile');
  const r = spawnSync('node_modules/.bin/tsc', ['-p', 'tsconfig.json', '--outDir', join(pkg, 'dist'), '--emitDeclarationOnly', '--sourceMap', 'false'], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
  copyFileSync('package.json', join(pkg, 'package.json'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('published declarations in a user project (strict, skipLibCheck false, target ES2022, module nodenext)', () => {
  it('check under lib ES2022 and ESNext, each with and without @types/node (README loop, save/load, errors, using)', () => {
    const r = checkTypes(pkg);
    expect(verdicts(r.stdout)).toEqual(Object.fromEntries(configs.map((c) => [c, 'ok'])));
    expect(r.status).toBe(0);
  });

  it('the check fails on declarations that need esnext.disposable or @types/node (Symbol.dispose undeclared, NodeJS.WriteStream)', () => {
    const bad = join(tmp, 'bad');
    cpSync(pkg, bad, { recursive: true });
    const tensorDts = join(bad, 'dist/tensor/tensor.d.ts');
    const withGlobal = readFileSync(tensorDts, 'utf8');
    const withoutGlobal = withGlobal.replace(/declare global \{\n(?: {4}.*\n)+\}\n/, '');
    expect(withoutGlobal).not.toBe(withGlobal);
    writeFileSync(tensorDts, withoutGlobal);
    const progressDts = join(bad, 'dist/train/progress.d.ts');
    const structural = readFileSync(progressDts, 'utf8');
    const nodeTyped = structural.replace(/readonly out: \{[^}]*\};/, 'readonly out: NodeJS.WriteStream;');
    expect(nodeTyped).not.toBe(structural);
    writeFileSync(progressDts, nodeTyped);

    const r = checkTypes(bad);
    const v = verdicts(r.stdout);
    expect(Object.keys(v)).toEqual(configs);
    expect(v['tsconfig.json']).toMatch(/node_modules\/tensile\/dist\/tensor\/tensor\.d\.ts\(\d+,\d+\): error TS2550: Property 'dispose' does not exist on type 'SymbolConstructor'/);
    expect(v['tsconfig.json']).toMatch(/node_modules\/tensile\/dist\/train\/progress\.d\.ts\(\d+,\d+\): error TS2503: Cannot find namespace 'NodeJS'/);
    expect(v['tsconfig.esnext.json']).toMatch(/progress\.d\.ts\(\d+,\d+\): error TS2503: Cannot find namespace 'NodeJS'/);
    expect(v['tsconfig.esnext.json']).not.toMatch(/TS2550/);
    expect(v['tsconfig.node.json']).toBe('ok');
    expect(v['tsconfig.esnext-node.json']).toBe('ok');
    expect(r.status).toBe(1);
  });
});
