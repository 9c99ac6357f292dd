// The property sweep (scripts/sweep.mjs, issue 13): random argument lists over the public API in a child process;
// every case returns (its tensors then read to values or a TensileError) or throws a TensileError named after its
// op, and none aborts, hangs or runs away with memory. The second test makes the sweep fail on purpose, once per
// kind of failure, to show that it reports each one.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;
let dist = '';

interface Failure { index: number; kind: string; target?: string; call: string; why: string; error: string; repro: string }
interface Report { seed: number; ran: number; returned: number; threw: number; skipped: number; targets: number; failures: Failure[]; known: unknown[] }

function sweep(args: string[]): { status: number | null; report: Report } {
  // (the compiled library lives outside dist/, so the addon is named for it)
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/sweep.mjs'), '--dist', dist, ...args], {
    encoding: 'utf8', env: { ...process.env, TENSILE_ADDON: join(ROOT, 'build/Release/tensile.node') }, maxBuffer: 64 * 2 ** 20,
  });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`sweep printed no JSON report (exit ${r.status}, signal ${r.signal}): ${r.stdout.slice(0, 2000)} ${r.stderr.slice(-2000)}`);
  }
  return { status: r.status, report };
}

beforeAll(() => {
  const cache = join(ROOT, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  dist = mkdtempSync(join(cache, 'tensile-sweep-'));
  // declarations too: the sweep leaves out the members they mark private, protected or @internal
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.json'), '--outDir', dist, '--sourceMap', 'false'], { encoding: 'utf8' });
  expect(r.status, `tsc: ${r.stdout}${r.stderr}`).toBe(0);
});
afterAll(() => {
  if (dist) rmSync(dist, { recursive: true, force: true });
});

describe('property sweep over the public API', () => {
  it('seed 1, 1500 cases: every error a named TensileError, no abort, hang or runaway memory', () => {
    const { status, report } = sweep(['--seed', '1', '--cases', '1500']);
    // the failures, written out for the log: each with its call and the command that replays it
    expect(report.failures.map((f) => `${f.kind} #${f.index} ${f.call}: ${f.why}: ${f.error} (${f.repro})`)).toEqual([]);
    expect(status).toBe(0);
    expect(report.ran).toBe(1500);
    expect(report.returned + report.threw + report.skipped).toBe(1500);
    // the sweep reached both outcomes, and the memory guard left most cases to run
    expect(report.returned).toBeGreaterThan(300);
    expect(report.threw).toBeGreaterThan(300);
    expect(report.skipped).toBeLessThan(150);
    expect(report.targets).toBeGreaterThan(500);
  }, 300_000);  // (about 20 s of CPU; the limit is for a machine shared with other work)

  it('--inject: each planted failure is reported with its kind and call, and the exit status is 1', () => {
    const { status, report } = sweep(['--seed', '1', '--cases', '8', '--inject', '--timeout', '2500', '--rss-mb', '384']);
    expect(status).toBe(1);
    const got = Object.fromEntries(report.failures.map((f) => [f.target, [f.index, f.kind, f.why]]));
    expect(got).toEqual({
      'inject.typeError': [0, 'error', 'not a TensileError'],
      'inject.unnamed': [1, 'error', 'a TensileError without an op name'],
      'inject.badRead': [2, 'error', 'not a TensileError'],
      'inject.hang': [3, 'hang', 'did not settle within 2500 ms'],
      'inject.spin': [4, 'hang', 'did not settle within 2500 ms'],
      'inject.abort': [5, 'crash', 'the worker died (exit code null, signal SIGABRT)'],
      'inject.oom': [6, 'memory', 'the worker grew past 384 MiB'],
      'inject.unhandled': [7, 'error', 'a rejected promise nobody handled'],
    });
    const typeError = report.failures.find((f) => f.target === 'inject.typeError')!;
    expect(typeError.error).toBe('TypeError: boom');
    expect(typeError.call).toMatch(/^inject\.typeError\(/);
    expect(typeError.repro).toBe('node scripts/sweep.mjs --seed 1 --only 0 --inject');
    expect(report.failures.find((f) => f.target === 'inject.badRead')!.error).toBe('RangeError: bad read');
    expect(report.ran).toBe(8);  // a new worker went on after each hang, crash and kill
  }, 120_000);
});
