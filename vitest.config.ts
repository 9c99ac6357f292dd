import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks', // setIsa() is process-wide: each test file gets its own process
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
