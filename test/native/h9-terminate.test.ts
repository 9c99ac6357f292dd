// worker.terminate() on a worker_thread running tensile ends only that worker and frees its memory. The workers run
// in a child process (test/native/h9-terminate-child.mjs, over the compiled dist/, which `npm test` builds first):
// a crash there (the whole process aborting, as it did when a Napi::Error escaped a callback during teardown) fails
// the test with the child's exit status instead of taking this runner down.
import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./h9-terminate-child.mjs', import.meta.url));

function run(args: string[]): unknown {
  const r = spawnSync(process.execPath, [child, ...args], { encoding: 'utf8', timeout: 600_000 });
  const where = `h9-terminate-child ${args.join(' ')}: status ${r.status}, signal ${r.signal}\n${r.stderr}`;
  expect(r.signal, where).toBeNull();
  expect(r.status, where).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface Rounds {
  rounds: number; counts: Record<string, number>; errors: string[]; fresh: number; mainThread: { same: boolean; ownSum: number };
}
interface Memory { workers: number; heldMB: number[]; rssStartMB: number; rssHeldMB: number; rssEndMB: number; pooledMB: number }
// Under scripts/sanitize.sh the resident set says little: ASan keeps freed heap blocks in quarantine (256 MiB)
const sanitized = /libasan/.test(process.env['LD_PRELOAD'] ?? '');

describe('worker.terminate() on a worker running tensile', { timeout: 900_000 }, () => {
  // 8 scenarios (loading, an async loop with reads pending, a synchronous loop, an await on a long chain, a read
  // behind a queue of heavy ops still running at teardown, many reads in flight, errors thrown and rejected, tensors
  // from bytes with GC garbage), each terminated at random points
  it("56 workers terminated at random points (seed 1): the process survives, its main thread's tensors are intact and a fresh worker works", () => {
    const r = run(['terminate', '56', '1']) as Rounds;
    expect(r.rounds).toBe(56);
    expect(r.counts).toEqual({ import: 7, loop: 7, sync: 7, await: 7, busy: 7, pending: 7, errors: 7, bytes: 7 });
    expect(r.errors).toEqual([]);
    expect(r.fresh).toBe(12);
    expect(r.mainThread).toEqual({ same: true, ownSum: 6 });
  });

  it('8 workers terminated while each holds 128 MiB (64 MiB of tensors, reads of as much in flight): the resident set comes back', () => {
    const r = run(['memory', '8', '64']) as Memory;
    expect(r.heldMB).toHaveLength(8);
    for (const mb of r.heldMB) expect(mb).toBeGreaterThanOrEqual(128);
    // the workers' storages went back to the system, not to the process's pool of freed blocks
    expect(r.pooledMB).toBeLessThan(1);
    if (sanitized) return;
    // the memory was there while a worker held it ...
    expect(r.rssHeldMB - r.rssStartMB).toBeGreaterThan(128);
    // ... and is given back when it is terminated: the 8 workers' 1 GiB leaves less than one worker's share behind
    expect(r.rssEndMB - r.rssStartMB).toBeLessThan(48);
  });
});
