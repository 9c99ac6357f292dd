// Every runtime export of lib/index.ts (recursing into nn, F, optim, data, train and their namespaces) must have a
// behavioural test: a `covers('name')` call in a test file (see coverage.ts), or an entry of existing.ts naming a
// test of a file outside test/api. The table is read from the sources, so a test file that stops calling covers(),
// or an existing test that is renamed or deleted, makes this test fail.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportPaths, resolveExport } from './coverage.js';
import { EXISTING } from './existing.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const testDir = join(root, 'test');

function walk(d: string, out: string[] = []): string[] {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    if (e.isDirectory()) walk(join(d, e.name), out);
    else if (e.name.endsWith('.ts')) out.push(join(d, e.name));
  }
  return out;
}
// comments removed (line and block), so a commented-out covers() does not count; strings are kept
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const files = walk(testDir);
const testFiles = files.filter((f) => f.endsWith('.test.ts'));
// covers('X') calls: each test file's literals; any other use of covers( is an error below
const coveredBy = new Map<string, string[]>();
const badCalls: string[] = [];
for (const f of files) {
  const src = stripComments(readFileSync(f, 'utf8'));
  const rel = relative(root, f);
  // the registry and this file name covers() without calling it for an export
  if (f === join(testDir, 'api', 'coverage.ts') || f === fileURLToPath(import.meta.url)) continue;
  for (const m of src.matchAll(/\bcovers\(([^)]*)\)/g)) {
    const lit = /^\s*'([^'\\]+)'\s*$/.exec(m[1]!);
    if (!lit || !f.endsWith('.test.ts')) { badCalls.push(`${rel}: covers(${m[1]})`); continue; }
    coveredBy.set(lit[1]!, [...(coveredBy.get(lit[1]!) ?? []), rel]);
  }
}

// test titles of a file: the literal of each it(...)/test(...)/describe(...) call, also it.skipIf(...)(...), it.each...
function titles(src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/\b(?:it|test|describe)(?:\.\w+(?:\([^()]*(?:\([^()]*\))*[^()]*\))?)*\(\s*(['"`])((?:\\.|(?!\1)[\s\S])*?)\1/g)) out.push(m[2]!.replace(/\\(.)/g, '$1'));
  return out;
}
// a template title matches a concrete name when each ${...} stands for any text
function titleMatches(title: string, name: string): boolean {
  if (title === name) return true;
  if (!title.includes('${')) return false;
  const re = '^' + title.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*') + '$';
  return new RegExp(re).test(name);
}

const exportsMap = exportPaths();
// alias groups: the names under which one value is exported (F.relu, nn.functional.relu, ...)
const groups = new Map<unknown, string[]>();
for (const [name, v] of exportsMap) {
  const key = typeof v === 'function' || (typeof v === 'object' && v !== null) ? v : name;
  groups.set(key, [...(groups.get(key) ?? []), name]);
}

describe('every export of lib/index.ts has a behavioural test', () => {
  it('the export list is the real one: namespaces are walked and aliases grouped', () => {
    expect(exportsMap.size).toBeGreaterThan(200);
    for (const n of ['fullLike', 'nn.init.kaimingUniform_', 'F.maxPool2dIndices', 'data.transforms.toUnit', 'optim.lrScheduler.LRScheduler', 'train.LearningRateScheduler']) {
      expect(exportsMap.has(n), n).toBe(true);
    }
    expect([...groups.values()].find((g) => g.includes('F.relu'))).toEqual(['F.relu', 'nn.functional.relu']);
    expect([...groups.values()].find((g) => g.includes('conv2d'))).toEqual(['F.conv2d', 'conv2d', 'nn.functional.conv2d']);
  });
  it('covers() is only called with a string literal, in *.test.ts files, naming a runtime export', () => {
    expect(badCalls).toEqual([]);
    expect(coveredBy.size).toBeGreaterThan(40);
    const unknown = [...coveredBy.keys()].filter((n) => resolveExport(n) === undefined);
    expect(unknown).toEqual([]);
  });
  it('every entry of existing.ts names an export, a test file outside test/api, and a test title of that file that mentions the export', () => {
    const problems: string[] = [];
    for (const e of EXISTING) {
      if (resolveExport(e.name) === undefined) { problems.push(`${e.name}: not a runtime export`); continue; }
      const path = join(root, e.file);
      if (!existsSync(path) || !e.file.startsWith('test/') || e.file.startsWith('test/api/') || !e.file.endsWith('.test.ts')) {
        problems.push(`${e.name}: ${e.file} is not an existing test file outside test/api`);
        continue;
      }
      const src = stripComments(readFileSync(path, 'utf8'));
      if (!titles(src).some((t) => titleMatches(t, e.test))) problems.push(`${e.name}: no test titled '${e.test}' in ${e.file}`);
      const leaf = e.name.split('.').at(-1)!;
      if (!new RegExp(`\\b${leaf.replace(/[$]/g, '\\$')}\\b`).test(src)) problems.push(`${e.name}: ${e.file} never mentions ${leaf}`);
    }
    expect(problems).toEqual([]);
    const names = EXISTING.map((e) => e.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i), 'duplicate entries').toEqual([]);
  });
  it('no export is left without a test (covers() in a test file, or an entry of existing.ts)', () => {
    const covered = new Set([...coveredBy.keys(), ...EXISTING.map((e) => e.name)]);
    const missing = [...groups.values()].filter((names) => !names.some((n) => covered.has(n))).map((names) => names.join(' = '));
    expect(missing, `exports without a behavioural test:\n${missing.join('\n')}`).toEqual([]);
  });
});
