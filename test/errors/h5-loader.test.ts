// DataLoader: samples that cannot be batched are named errors; a dataset whose get(i) throws delivers its error in
// the loop, once, and never as an unhandled rejection (which kills a Node process, even inside try/catch around the
// loop); break and return stop prefetching and free the batch that was being prefetched.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { data, Tensor, ArgumentError, ShapeError, DTypeError, TensileError } from '../../lib/index.js';

const { DataLoader, defaultCollate } = data;
type ErrorClass = new (...a: never[]) => TensileError;

/** Runs one epoch and returns the error it ended with (null when none). */
async function epochError(loader: AsyncIterable<Record<string, Tensor>>): Promise<unknown> {
  try {
    for await (const b of loader) void b;
  } catch (e) {
    return e;
  }
  return null;
}
async function expectEpochError(loader: AsyncIterable<Record<string, Tensor>>, cls: ErrorClass, msg: string): Promise<void> {
  const e = await epochError(loader);
  expect(e, `expected ${cls.name}: ${msg}`).toBeInstanceOf(cls);
  expect((e as Error).message).toBe(msg);
}
const ds = (get: (i: number) => unknown, length = 4) => ({ length, get }) as data.Dataset;
/** Lets the event loop run: pending promises settle and Node reports the rejections nobody handled. */
const turns = async (n = 5) => { for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r)); };

describe('defaultCollate: samples that cannot be stacked are named errors (in the loop)', () => {
  const cases: [string, (i: number) => unknown, ErrorClass, string][] = [
    ['x a plain array', () => ({ x: [1, 2], y: 0 }), ArgumentError,
      "defaultCollate: expected field 'x' to be a number or a Float32Array, Float64Array, Int32Array or Uint8Array, got an array of length 2 in sample 0"],
    ['x a string', () => ({ x: 'ab', y: 0 }), ArgumentError,
      "defaultCollate: expected field 'x' to be a number or a Float32Array, Float64Array, Int32Array or Uint8Array, got the string 'ab' in sample 0"],
    ['x an Int16Array', () => ({ x: new Int16Array(2), y: 0 }), ArgumentError,
      "defaultCollate: expected field 'x' to be a number or a Float32Array, Float64Array, Int32Array or Uint8Array, got a Int16Array in sample 0"],
    ['x shorter in sample 1 (was zero-padded)', (i) => ({ x: new Float32Array(i === 1 ? 2 : 3).fill(1), y: 0 }), ShapeError,
      "defaultCollate: expected field 'x' of length 3 in every sample (as in sample 0), got length 2 in sample 1"],
    ['x longer in sample 1 (was a RangeError)', (i) => ({ x: new Float32Array(i === 1 ? 4 : 3), y: 0 }), ShapeError,
      "defaultCollate: expected field 'x' of length 3 in every sample (as in sample 0), got length 4 in sample 1"],
    ['x a Uint8Array in sample 1, Float32Array in sample 0', (i) => ({ x: i === 1 ? new Uint8Array(3) : new Float32Array(3), y: 0 }), DTypeError,
      "defaultCollate: expected field 'x' to be a Float32Array in every sample (as in sample 0), got a Uint8Array in sample 1"],
    ['no y in sample 1 (was a NaN label)', (i) => (i === 1 ? { x: new Float32Array(3) } : { x: new Float32Array(3), y: 1 }), ArgumentError,
      "defaultCollate: expected every sample to have the field 'y' (sample 0 has it), got sample 1 with fields x"],
    ['y a string in sample 1', (i) => ({ x: new Float32Array(3), y: i === 1 ? '1' : 1 }), ArgumentError,
      "defaultCollate: expected field 'y' to be a number in every sample (as in sample 0), got the string '1' in sample 1"],
    ['a sample that is a number', () => 3, ArgumentError, 'defaultCollate: expected each sample to be an object of fields, got the number 3 as sample 0'],
  ];
  for (const [what, get, cls, msg] of cases) {
    it(`${what}: ${cls.name}`, () => expectEpochError(new DataLoader(ds(get), { batchSize: 2 }), cls, msg));
  }
  it('shapes that do not hold the field: ShapeError', () => {
    throwsExactly(() => defaultCollate([{ x: new Float32Array(4) }], { x: [3] }), ShapeError,
      "defaultCollate: expected shapes.x to hold 4 values (the length of field 'x'), got [3]");
  });
  it('good samples still stack: x [2,1,2] float32, y int32, z float32', async () => {
    const l = new DataLoader(ds((i) => ({ x: Float32Array.of(i, -i), y: i, z: i + 0.5 })), { batchSize: 2, shapes: { x: [1, 2] } });
    const batches: Record<string, Tensor>[] = [];
    for await (const b of l) batches.push(b);
    expect(batches[1]!['x']!.shape).toEqual([2, 1, 2]);
    expect(Array.from(await batches[1]!['x']!.data())).toEqual([2, -2, 3, -3]);
    expect(batches[1]!['y']!.dtype).toBe('int32');
    expect(Array.from(await batches[1]!['z']!.data())).toEqual([2.5, 3.5]);
  });
  it('the DataLoader checks its dataset and options', () => {
    throwsExactly(() => new DataLoader(3 as never), ArgumentError, 'DataLoader: expected a Dataset ({ length, get(i) }) or an async iterable of samples, got the number 3');
    throwsExactly(() => new DataLoader(ds(() => ({})), { collate: 1 as never }), ArgumentError, 'DataLoader: expected collate to be a function, got the number 1');
  });
});

function throwsExactly(fn: () => unknown, cls: ErrorClass, msg: string): void {
  let err: unknown = null;
  try { fn(); } catch (e) { err = e; }
  expect(err, `expected ${cls.name}: ${msg}`).toBeInstanceOf(cls);
  expect((err as Error).message).toBe(msg);
}

describe('a dataset whose get(i) throws mid-epoch', () => {
  // every rejection that Node would report as unhandled (the default mode then ends the process)
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => { unhandled.push(e); };
  const listen = () => { unhandled.length = 0; process.on('unhandledRejection', onUnhandled); };
  afterEach(() => { process.off('unhandledRejection', onUnhandled); vi.restoreAllMocks(); });

  const failing = (bad: Set<number>, calls: number[], length = 8) => ds((i) => {
    calls.push(i);
    if (bad.has(i)) throw new Error(`bad sample ${i}`);
    return { x: Float32Array.of(i, i, i, i, i, i, i), y: i };
  }, length);

  for (const sync of [true, false]) {
    it(`get(3) ${sync ? 'throws' : 'rejects'}: the error arrives in the loop once, while the loop was busy with batch 0 (batchSize 2)`, async () => {
      listen();
      const calls: number[] = [];
      const base = failing(new Set([3]), calls);
      const dset = sync ? base : ds(async (i) => base.get(i));
      const seen: number[] = [];
      let caught: unknown[] = [];
      try {
        for await (const b of new DataLoader(dset, { batchSize: 2 })) {
          seen.push(...Array.from(await b['y']!.data()));
          await turns();  // training on batch 0 while batch 1 (samples 2, 3) is prefetched and fails
        }
      } catch (e) {
        caught = [...caught, e];
      }
      await turns();
      expect(seen).toEqual([0, 1]);
      expect(caught.length).toBe(1);
      expect((caught[0] as Error).message).toBe('bad sample 3');
      expect(unhandled).toEqual([]);
      expect(Math.max(...calls)).toBe(3);  // no batch after the failing one was started
    });
  }
  it('two bad samples in one batch (get(2), get(3)): one error in the loop, no unhandled rejection for the other', async () => {
    listen();
    const e = await epochError(new DataLoader(failing(new Set([2, 3]), []), { batchSize: 2 }));
    await turns();
    expect((e as Error).message).toBe('bad sample 2');
    expect(unhandled).toEqual([]);
  });
  it('break after batch 0 while batch 1 is being prefetched and fails: no error, no unhandled rejection', async () => {
    listen();
    const calls: number[] = [];
    let n = 0;
    for await (const b of new DataLoader(failing(new Set([2]), calls), { batchSize: 2 })) {
      void b;
      n++;
      await turns();
      break;
    }
    await turns();
    expect(n).toBe(1);
    expect(unhandled).toEqual([]);
    expect(calls).toEqual([0, 1, 2]);  // batch 1 was prefetched (and failed at sample 2); nothing after it
  });
  it('break frees the prefetched batch (its x [2,7] and y are disposed) and starts no other', async () => {
    listen();
    const disposed = vi.spyOn(Tensor.prototype, 'dispose');
    const calls: number[] = [];
    let first: Record<string, Tensor> | null = null;
    for await (const b of new DataLoader(failing(new Set(), calls), { batchSize: 2 })) {
      first = b;
      break;
    }
    await turns();
    const freed = disposed.mock.contexts as Tensor[];
    const prefetchedX = freed.filter((t) => t.shape.length === 2 && t.shape[0] === 2 && t.shape[1] === 7);
    expect(prefetchedX.length).toBe(1);
    expect(prefetchedX[0]).not.toBe(first!['x']);
    expect(prefetchedX[0]!.isDisposed).toBe(true);
    expect(freed.some((t) => t.shape.length === 1 && t.shape[0] === 2 && t.dtype === 'int32' && t !== first!['y'])).toBe(true);
    expect(first!['x']!.isDisposed).toBe(false);  // the batch the loop got is the caller's
    expect(calls).toEqual([0, 1, 2, 3]);
    expect(unhandled).toEqual([]);
  });
  it('return from inside the loop (in a function) behaves like break', async () => {
    listen();
    const calls: number[] = [];
    const firstLabels = async () => {
      for await (const b of new DataLoader(failing(new Set([3]), calls), { batchSize: 2 })) return Array.from(await b['y']!.data());
      return [];
    };
    expect(await firstLabels()).toEqual([0, 1]);
    await turns();
    expect(unhandled).toEqual([]);
    expect(calls).toEqual([0, 1, 2, 3]);
  });
  it('an error thrown by the loop body itself still reaches the caller, and the prefetched failure does not', async () => {
    listen();
    let caught: unknown = null;
    try {
      for await (const b of new DataLoader(failing(new Set([3]), []), { batchSize: 2 })) {
        void b;
        await turns();
        throw new Error('from the body');
      }
    } catch (e) {
      caught = e;
    }
    await turns();
    expect((caught as Error).message).toBe('from the body');
    expect(unhandled).toEqual([]);
  });
  it('the next epoch runs again from the start (the loader is reusable after an error)', async () => {
    listen();
    let fail = true;
    const l = new DataLoader(ds((i) => {
      if (fail && i === 2) throw new Error('once');
      return { x: Float32Array.of(i), y: i };
    }), { batchSize: 2 });
    expect(((await epochError(l)) as Error).message).toBe('once');
    fail = false;
    const ys: number[] = [];
    for await (const b of l) ys.push(...Array.from(await b['y']!.data()));
    expect(ys).toEqual([0, 1, 2, 3]);
    expect(unhandled).toEqual([]);
  });
});
