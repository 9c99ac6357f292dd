// Tensors across threads: toMessage() / fromMessage() through a real worker_thread (which runs the compiled dist/),
// and the ArgumentError for a Tensor sent through postMessage as it is (a copy of its fields, no tensor).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import {
  tensor, randn, matmul, cat, F, toMessage, fromMessage, Tensor, ArgumentError, DTypeError, ShapeError,
} from '../../lib/index.js';
import type { DType, TensorMessage } from '../../lib/index.js';
import { covers } from '../api/coverage.js';

covers('toMessage');
covers('fromMessage');

const HINT = 'sent through postMessage, which copies only its fields: send await toMessage(t) and rebuild it with fromMessage(m)';

// The worker rebuilds each message it gets, reports what it sees, and sends back a copy computed there (clone); a
// raw tensor it gets is passed to ops and the errors are reported.
const code = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.dist).then((T) => {
    parentPort.on('message', async ({ kind, m }) => {
      if (kind === 'echo') {
        const x = T.fromMessage(m);
        const seen = { isTensor: x instanceof T.Tensor, shape: x.shape, dtype: x.dtype, values: Array.from(await x.data()) };
        const back = await T.toMessage(x.clone());  // a tensor computed in the worker
        parentPort.postMessage({ seen, back }, [back.data]);
      } else {
        const errors = [];
        for (const f of [() => T.matmul(m, m), () => T.tensor([1]).add(m), () => T.fromMessage(m)]) {
          try { f(); errors.push('no error'); } catch (e) { errors.push({ isArgumentError: e instanceof T.ArgumentError, message: e.message }); }
        }
        parentPort.postMessage({ errors });
      }
    });
    parentPort.postMessage('ready');
  }).catch((e) => parentPort.postMessage({ failed: String(e && e.stack || e) }));`;

let worker: Worker;
function ask(msg: unknown, transfer: ArrayBuffer[] = []): Promise<any> {
  return new Promise((resolve, reject) => {
    worker.once('message', (r) => (r && r.failed ? reject(new Error(r.failed)) : resolve(r)));
    worker.postMessage(msg, transfer);
  });
}

beforeAll(async () => {
  worker = new Worker(code, { eval: true, workerData: { dist: new URL('../../dist/index.js', import.meta.url).href } });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m && m.failed)))));
    worker.once('error', reject);
  });
});
afterAll(async () => {
  await worker.terminate();
});

const CASES: { dtype: DType; values: number[]; shape: number[] }[] = [
  { dtype: 'float32', values: [1.5, -2.25, 3, 0, 1024.125, -7], shape: [2, 3] },
  { dtype: 'float64', values: [Math.PI, -1e300, 5e-324, 0.1], shape: [2, 1, 2] },
  { dtype: 'int32', values: [-(2 ** 31), 2 ** 31 - 1, 0, -5, 7, 123456], shape: [3, 2] },
  { dtype: 'uint8', values: [0, 255, 7, 128], shape: [4] },
];

describe('toMessage / fromMessage through a worker_thread', () => {
  for (const c of CASES) {
    it(`${c.dtype} of shape [${c.shape}]: the worker sees the values, shape and dtype, and they come back exactly`, async () => {
      const x = tensor(c.values, { dtype: c.dtype, shape: c.shape });
      const m = await toMessage(x);
      expect(Object.keys(m).sort()).toEqual(['__tensile', 'data', 'dtype', 'shape']);
      expect(m.data.byteLength).toBe(c.values.length * { float32: 4, float64: 8, int32: 4, uint8: 1 }[c.dtype]);
      const r = await ask({ kind: 'echo', m }, [m.data]);
      expect(m.data.byteLength).toBe(0);  // transferred, not copied
      expect(r.seen).toEqual({ isTensor: true, shape: c.shape, dtype: c.dtype, values: c.values });
      const y = fromMessage(r.back);
      expect(y).toBeInstanceOf(Tensor);
      expect(y.shape).toEqual(c.shape);
      expect(y.dtype).toBe(c.dtype);
      expect(Array.from(await y.data())).toEqual(c.values);
    });
  }
  it('a transposed view sends its own elements in row-major order; a 0-d and an empty tensor keep their shapes', async () => {
    const t = tensor([0, 1, 2, 3, 4, 5]).reshape([2, 3]).t();
    const r1 = await ask({ kind: 'echo', m: await toMessage(t) });
    expect(r1.seen).toEqual({ isTensor: true, shape: [3, 2], dtype: 'float32', values: [0, 3, 1, 4, 2, 5] });
    const r2 = await ask({ kind: 'echo', m: await toMessage(tensor(4.5)) });
    expect(r2.seen).toEqual({ isTensor: true, shape: [], dtype: 'float32', values: [4.5] });
    const r3 = await ask({ kind: 'echo', m: await toMessage(tensor([], { dtype: 'int32', shape: [0, 3] })) });
    expect(r3.seen).toEqual({ isTensor: true, shape: [0, 3], dtype: 'int32', values: [] });
    expect(fromMessage(r3.back).shape).toEqual([0, 3]);
  });
  it('a Tensor posted as it is reaches the worker as a copy of its fields: ops there throw an ArgumentError saying how', async () => {
    const r = await ask({ kind: 'raw', m: randn([2, 3]) });
    expect(r.errors).toEqual([
      { isArgumentError: true, message: `matmul: expected a to be a Tensor, got a Tensor of shape [2,3] (float32) ${HINT}` },
      { isArgumentError: true, message: `add: expected a Tensor or a number, got a Tensor of shape [2,3] (float32) ${HINT}` },
      { isArgumentError: true, message: `fromMessage: expected a message made by toMessage(), got a Tensor of shape [2,3] (float32) ${HINT}` },
    ]);
  });
});

describe('a Tensor sent through postMessage, and messages that are not toMessage()', () => {
  // a real postMessage, within this thread
  function posted(t: Tensor): unknown {
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(t);
    const got = receiveMessageOnPort(port2)!.message as unknown;
    port1.close();
    return got;
  }
  it('tensor-taking functions name it and the fix (matmul, cat, F.relu, toMessage), for an int32 [4] one too', async () => {
    const p = posted(randn([2, 3]));
    expect(p).not.toBeInstanceOf(Tensor);
    const x = randn([3, 2]);
    expect(() => matmul(p as Tensor, x)).toThrow(ArgumentError);
    expect(() => matmul(p as Tensor, x)).toThrow(`matmul: expected a to be a Tensor, got a Tensor of shape [2,3] (float32) ${HINT}`);
    expect(() => cat([x, p as Tensor])).toThrow(`cat: expected tensors[1] to be a Tensor, got a Tensor of shape [2,3] (float32) ${HINT}`);
    expect(() => F.relu(p as Tensor)).toThrow(`relu: expected input to be a Tensor, got a Tensor of shape [2,3] (float32) ${HINT}`);
    const q = posted(tensor([1, 2, 3, 4], { dtype: 'int32' }));
    await expect(toMessage(q as Tensor)).rejects.toThrow(ArgumentError);
    await expect(toMessage(q as Tensor)).rejects.toThrow(`toMessage: expected the argument to be a Tensor, got a Tensor of shape [4] (int32) ${HINT}`);
  });
  it('an object that only has a shape and a dtype is not taken for a posted tensor', () => {
    expect(() => matmul({ shape: [2], dtype: 'float32' } as unknown as Tensor, randn([2])))
      .toThrow(new ArgumentError('matmul: expected a to be a Tensor, got an object'));
  });
  it('fromMessage rejects what toMessage does not make: other objects, bad dtypes, shapes and data, a transferred buffer', async () => {
    const good = await toMessage(tensor([1, 2]));
    const bad = (o: object) => ({ ...good, ...o }) as unknown as TensorMessage;
    expect(() => fromMessage({ shape: [2] })).toThrow(new ArgumentError('fromMessage: expected a message made by toMessage(), got an object'));
    expect(() => fromMessage(null)).toThrow(new ArgumentError('fromMessage: expected a message made by toMessage(), got null'));
    expect(() => fromMessage(bad({ dtype: 'bool' }))).toThrow(DTypeError);
    expect(() => fromMessage(bad({ dtype: 'bool' }))).toThrow("fromMessage: expected a dtype of float32, float64, int32 or uint8, got 'bool'");
    expect(() => fromMessage(bad({ shape: [-2] }))).toThrow(ShapeError);
    expect(() => fromMessage(bad({ shape: [-2] }))).toThrow('fromMessage: expected non-negative integer sizes, got shape [-2]');
    expect(() => fromMessage(bad({ data: new Float32Array([1, 2]) })))
      .toThrow(new ArgumentError("fromMessage: expected the message's data to be an ArrayBuffer, got a Float32Array"));
    expect(() => fromMessage(bad({ shape: [3] })))
      .toThrow(new ArgumentError('fromMessage: expected 12 bytes of data for shape [3] (float32), got 8'));
    const sent = structuredClone(good, { transfer: [good.data] });  // moves the buffer: good.data is left empty
    expect(Array.from(await fromMessage(sent).data())).toEqual([1, 2]);
    expect(() => fromMessage(good)).toThrow(new ArgumentError(
      'fromMessage: expected 8 bytes of data for shape [2] (float32), got 0 (a buffer transferred to another thread is left empty: send each message once)'));
  });
});
