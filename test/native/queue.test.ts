// The command queue (lib/native.ts, native/core/runtime.{h,cpp}): ops recorded into buffers with JS-assigned handle
// ids, submitted a buffer at a time and decoded by the worker. These tests pin the orderings it depends on.
import { describe, it, expect } from 'vitest';
import { tensor, randn, zeros, full, cat, adamStep, memory, sync, NativeError, ArgumentError } from '../../lib/index.js';
import { cmd, submit, CMD_LEN } from '../../lib/native.js';
import { launch } from '../../lib/tensor/tensor.js';

describe('command queue', () => {
  it('a handle id released and reused within one buffer refers to the new tensor', async () => {
    const x = tensor([1, 2, 3]);
    const y = x.add(1);
    const id = y._h;
    y.dispose();
    const z = x.mul(x);  // takes y's id: the worker must release y before binding z
    expect(z._h).toBe(id);
    expect(Array.from(await z.data())).toEqual([1, 4, 9]);
  });
  it('a copy from JS after a pending release of the same id keeps its values', async () => {
    const x = randn([8]);
    const y = x.add(1);
    y.dispose();  // release recorded, not yet submitted
    const c = tensor([4, 5, 6]);  // may take y's id: the pending release must run first
    expect(Array.from(await c.data())).toEqual([4, 5, 6]);
    expect((await x.data()).length).toBe(8);
  });
  it('a copy from JS right after a dispose with nothing else pending (the release must reach the worker first)', async () => {
    const x = zeros([4]);
    await sync();
    const id = x._h;
    x.dispose();
    const c = tensor([1, 2]);
    expect(c._h).toBe(id);
    expect(Array.from(await c.data())).toEqual([1, 2]);
  });
  it('a long synchronous run of ops spans many buffers and runs in order', async () => {
    let acc = zeros([16]);
    const n = 3 * CMD_LEN;  // each step writes an op and a release: several buffers, with backpressure
    for (let i = 0; i < n; i++) {
      const next = acc.add(1);
      acc.dispose();
      acc = next;
    }
    expect(Array.from(await acc.data())).toEqual(new Array(16).fill(n));
  });
  it('views made across buffer boundaries keep the worker\'s count of records in step with lib/\'s', async () => {
    // a view's record that opens a new buffer once numbered itself into the previous buffer's count: every release
    // after it then came one record early
    const x = tensor([1, 2, 3, 4]);
    let acc = zeros([4]);
    const n = CMD_LEN;  // about 40 buffers; 1 to 3 views a step, so that views land on buffer ends too
    for (let i = 0; i < n; i++) {
      const views = [x.reshape([2, 2])];
      for (let k = 0; k < i % 3; k++) views.push(views[views.length - 1]!.reshape([4]).reshape([2, 2]));
      const v = views[views.length - 1]!.reshape([4]);
      const next = acc.add(v);
      views.forEach((t) => t.dispose());
      v.dispose();
      acc.dispose();
      acc = next;
    }
    expect(Array.from(await acc.data())).toEqual([1, 2, 3, 4].map((k) => k * n));
    acc.dispose();
    x.dispose();
  });
  it('a tensor disposed while its read is pending still reads (the read counts as a use)', async () => {
    const a = tensor([1, 2, 3]), b = tensor([2, 2, 2]), c = tensor([9]);
    for (let i = 0; i < 20; i++) {
      const x = a.mul(b);
      const pending = x.data();
      x.dispose();
      c.add(c).dispose();  // later work, so that the worker's count moves past x's last op
      expect(Array.from(await pending)).toEqual([2, 4, 6]);
    }
    [a, b, c].forEach((t) => t.dispose());
  });
  it('a record that ends one slot past a buffer\'s end goes to the next buffer (a reduction\'s record is longer than its output shape says)', async () => {
    const x = tensor([[1, 2], [3, 4]]), one = tensor([1]);
    await sync();
    let p0 = cmd.p;
    x.sum().dispose();
    const size = cmd.p - p0 - 1;  // the sum's record, less the release after it
    expect(size).toBeGreaterThan(5);
    const target = CMD_LEN - size + 1;  // a bound one slot short would let the record run past the end here
    const spare = Array.from({ length: 8 }, () => one.add(one));
    while (cmd.p !== target) {
      if (cmd.p > target || target - cmd.p >= 6) one.add(one).dispose();  // 6 slots
      else spare.pop()!.dispose();  // 1 slot
    }
    p0 = cmd.p;
    const s = x.sum();
    expect(cmd.p).toBeLessThan(p0);  // it went to the next buffer
    expect(await s.item()).toBe(10);
    [s, x, one, ...spare].forEach((t) => t.dispose());
  });
  it('views made and dropped between ops keep their storage alive until released', async () => {
    // (a storage of 16 MiB, told apart by its bytes: the GC may release other tests' small tensors meanwhile, which
    // only lowers the counts)
    const n = 1 << 22, MiB16 = 4 * n;
    const before = memory().cpu.bytes;
    const head = tensor([[1, 2], [3, 4]]), rest = full([2, n / 2 - 2], 1);
    const x = cat([head, rest], 1);
    head.dispose();
    rest.dispose();
    const t = x.t();  // a view: a second handle to x's storage
    x.dispose();
    const top = t.slice(0, 0, 2);  // (a third handle: disposed too)
    expect(await top.toArray()).toEqual([[1, 3], [2, 4]]);
    top.dispose();
    const held = memory().cpu.bytes;
    expect(held).toBeGreaterThanOrEqual(before + MiB16 - (1 << 20));
    t.dispose();
    expect(memory().cpu.bytes).toBeLessThanOrEqual(held - MiB16);
  });
  it('scalar operands are recorded fills (integer dtypes convert as typed arrays do)', async () => {
    expect(Array.from(await tensor([1, 2], { dtype: 'uint8' }).add(300).data())).toEqual([45, 46]);
    expect(Array.from(await full([2], 300, { dtype: 'uint8' }).data())).toEqual([44, 44]);
    expect(Array.from(await full([2], NaN, { dtype: 'int32' }).data())).toEqual([0, 0]);
    expect(Array.from(await full([2], -2.7, { dtype: 'int32' }).data())).toEqual([-2, -2]);
    expect(Array.from(await tensor([1.5, 2.5]).mul(0.1).data())).toEqual([Math.fround(1.5 * Math.fround(0.1)), Math.fround(2.5 * Math.fround(0.1))]);
  });
  it('an op whose record does not fit a command buffer throws ArgumentError before anything is queued', async () => {
    const p = cmd.p;
    expect(() => launch('fill', 'float32', [], [{ shape: [1], dtype: 'float32' }], [], new Array(CMD_LEN).fill(0))).toThrow(ArgumentError);
    expect(cmd.p).toBe(p);
    expect(await tensor([7]).item()).toBe(7);
  });
  it('a fused optimizer step over more tensors than one call takes is split, with the same result', async () => {
    const n = 300;
    const ps = Array.from({ length: n }, (_, i) => full([3], i));
    const gs = Array.from({ length: n }, () => full([3], 1));
    const ms = Array.from({ length: n }, () => zeros([3])), vs = Array.from({ length: n }, () => zeros([3]));
    adamStep(ps, gs, ms, vs, null, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
    // first Adam step with a constant gradient moves every element by lr (to float32 precision)
    const vals = await Promise.all(ps.map((p) => p.data()));
    vals.forEach((v, i) => expect(Array.from(v).map((x) => Math.round((i - x) * 1e4) / 1e4)).toEqual([0.1, 0.1, 0.1]));
  });
  it('a malformed command buffer is reported at the next read; the process and later ops go on', async () => {
    await sync();
    const p = cmd.p;
    cmd.i32[2 * p] = 99;  // no such record
    cmd.p = p + 1;
    submit();
    const err = await sync().catch((e: Error) => e);
    expect(err).toBeInstanceOf(NativeError);
    expect((err as Error).message).toMatch(/malformed command buffer/);
    await sync();  // reported once
    expect(Array.from(await tensor([1, 2]).add(1).data())).toEqual([2, 3]);
  });
});
