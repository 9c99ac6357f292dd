// What the CUDA test files share.
import { expect } from 'vitest';
import { Tensor } from '../../lib/index.js';
import { expectClose, f64 } from '../helpers.js';

export type Tol = { rtol: number; atol: number };

/** The cuda result matches the cpu one: device, shape, dtype, values. */
export async function same(g: Tensor, c: Tensor, tol: Tol, what: string): Promise<void> {
  expect(g.device, what).toBe('cuda:0');
  expect(g.shape, what).toEqual(c.shape);
  expect(g.dtype, what).toBe(c.dtype);
  expectClose(await f64(g.cpu()), await f64(c), tol, what);
}
