import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks', // setIsa() is process-wide: each test file gets its own process
    // vitest's default is one fewer than the cores: on CI's two, a single file at a time, with a core idle through
    // the many single-threaded (JavaScript, child-process) tests; two at a time ran `npm test` in 249 s, not 372
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
