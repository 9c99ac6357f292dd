import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';

describe('public API documentation', () => {
  it('every exported symbol and public method has a TSDoc @example (scripts/check-docs.mjs)', () => {
    const r = spawnSync(process.execPath, ['scripts/check-docs.mjs'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^0 public symbols without an @example \(\d+ checked\)/m);
    expect(r.status).toBe(0);
  });
});
