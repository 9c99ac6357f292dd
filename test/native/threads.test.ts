// setNumThreads()/getNumThreads() and TENSILE_NUM_THREADS: the CPU kernels' OpenMP thread count.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ArgumentError, getNumThreads, setNumThreads, randn, matmul, manualSeed } from '../../lib/index.js';
import { covers } from '../api/coverage.js';

covers('getNumThreads');
covers('setNumThreads');

const initial = getNumThreads();
afterAll(() => setNumThreads(initial));

describe('setNumThreads', () => {
  it('sets the count the kernels use, and the results do not depend on it', async () => {
    manualSeed(3);
    const a = randn([96, 80]), b = randn([80, 72]);
    const many = await matmul(a, b).data();
    expect(setNumThreads(1)).toBe(1);
    expect(getNumThreads()).toBe(1);
    const one = await matmul(a, b).data();
    expect(Array.from(one)).toEqual(Array.from(many));
    expect(setNumThreads(initial + 1)).toBe(initial + 1);
    expect(getNumThreads()).toBe(initial + 1);
  });
  it.each([[0], [-1], [1.5], [NaN], [2000]])('refuses %s', (n) => {
    expect(() => setNumThreads(n)).toThrow(ArgumentError);
    expect(() => setNumThreads(n)).toThrow(`setNumThreads: expected an integer from 1 to 1024, got ${n}`);
  });
  it('refuses a non-number', () => {
    expect(() => setNumThreads('4' as unknown as number)).toThrow('setNumThreads: expected an integer from 1 to 1024, got string');
  });
  it('TENSILE_NUM_THREADS sets it at load; a bad value is ignored with a warning', () => {
    const run = (v: string) => spawnSync(process.execPath, ['-e', "import('./dist/index.js').then((T) => console.log(T.getNumThreads()))"],
      { cwd: resolve(__dirname, '../..'), env: { ...process.env, TENSILE_NUM_THREADS: v }, encoding: 'utf8' });
    expect(run('1').stdout.trim()).toBe('1');
    const bad = run('many');
    expect(bad.stderr).toContain('TENSILE_NUM_THREADS=many ignored: expected an integer from 1 to 1024');
    expect(Number(bad.stdout.trim())).toBeGreaterThanOrEqual(1);
  });
});
