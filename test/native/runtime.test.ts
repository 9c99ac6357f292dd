// The execution model and memory: non-blocking ops, errors at the next read, dispose/using/scope, GC-driven
// release, flat memory without dispose, worker_threads.
import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import { tensor, randn, zeros, conv2d, scope, memory, DisposedError, matmul, adamStep, crossEntropyForward, crossEntropyBackward, randint } from '../../lib/index.js';

describe('execution model', () => {
  it('a long convolution does not block the event loop: a timer keeps firing', async () => {
    const x = randn([32, 64, 56, 56]);
    const w = randn([64, 64, 3, 3]);
    await x.sum().item();  // inputs ready
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    let y = conv2d(x, w, null, { padding: 1 });
    for (let i = 0; i < 3; i++) y = conv2d(x, w, null, { padding: 1 });
    const enqueueMs = performance.now() - t0;
    await y.sum().item();
    const totalMs = performance.now() - t0;
    clearInterval(timer);
    expect(enqueueMs).toBeLessThan(totalMs / 4); // the calls returned long before the work finished
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(totalMs / 5 / 4)); // and timers ran meanwhile
  });
  it('shape and dtype are known at once, before the kernel runs', () => {
    const y = matmul(randn([300, 200]), randn([200, 100]));
    expect(y.shape).toEqual([300, 100]);
    expect(y.dtype).toBe('float32');
  });
  it('an error raised while executing surfaces at the next read with the op name and the caller stack', async () => {
    const [loss] = crossEntropyForward(randn([4, 3]), tensor([0, 1, 5, 2], { dtype: 'int32' }));
    const later = loss.mul(2);
    const err = await later.data().catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^cross_entropy: expected labels in \[0, 3\)/);
    expect((err as Error).stack).toContain('runtime.test.ts');
    expect(await tensor([5]).item()).toBe(5);
  });
  it('dataSync and item agree with data', async () => {
    const x = tensor([[1, 2], [3, 4]]);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4]);
    expect(await x.toArray()).toEqual([[1, 2], [3, 4]]);
    expect(x.toArraySync()).toEqual([[1, 2], [3, 4]]);
    expect(String(x)).toBe('Tensor(shape=[2,2], dtype=float32, device=cpu, values=[1.000, 2.000, 3.000, 4.000])');
  });
});

describe('memory', () => {
  it('dispose frees at once; use after dispose throws DisposedError', async () => {
    const before = memory().cpu.bytes;
    const x = zeros([1024, 1024]);
    expect(memory().cpu.bytes - before).toBe(4 * 1024 * 1024);
    x.dispose();
    await tensor([0]).item(); // the queue has released its references
    expect(memory().cpu.bytes - before).toBeLessThanOrEqual(8);
    expect(() => x.add(1)).toThrow(DisposedError);
    expect(() => x.add(1)).toThrow('add: expected a live tensor, got a disposed one (shape [1024,1024], float32)');
    await expect(x.data()).rejects.toThrow(DisposedError);
    x.dispose(); // twice is fine
  });
  it('`using` disposes at the end of the block', async () => {
    let ref: import('../../lib/index.js').Tensor;
    {
      using t = zeros([10]);
      ref = t;
      expect(ref.isDisposed).toBe(false);
    }
    expect(ref.isDisposed).toBe(true);
  });
  it('scope frees everything created inside except what it returns, across await', async () => {
    // (each tensor checked by name: a count of live tensors would also move with the GC's releases of other tests')
    const made: import('../../lib/index.js').Tensor[] = [];
    const kept = await scope(async () => {
      const a = randn([100, 100]);
      const s = a.sum();
      made.push(a, s);
      await s.item();
      const b = a.matmul(a);
      made.push(b);
      await new Promise((r) => setTimeout(r, 1));
      return { out: b.sum(), list: [b.mean()] };
    });
    expect(made.map((t) => t.isDisposed)).toEqual([true, true, true]);
    expect(kept.out.isDisposed).toBe(false);
    expect(kept.list[0]!.isDisposed).toBe(false);
    expect(typeof (await kept.out.item())).toBe('number');
    const before = memory().liveTensors;
    kept.out.dispose();
    kept.list[0]!.dispose();
    expect(memory().liveTensors).toBe(before - 2);
  });
  it('2,000 training-like steps that never dispose hold flat memory (GC + reported native bytes)', async () => {
    const w = randn([256, 128]);
    const m = zeros([256, 128]), v = zeros([256, 128]);
    const samples: number[] = [];
    for (let step = 1; step <= 2000; step++) {
      const x = randn([64, 256]);
      const labels = randint(0, 128, [64]);
      const logits = x.matmul(w);
      const [loss, lse] = crossEntropyForward(logits, labels);
      const dlogits = crossEntropyBackward(logits, labels, lse, loss.mul(0).add(1 / 64));
      const grad = x.t().matmul(dlogits);
      adamStep([w], [grad], [m], [v], null, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step });
      if (step % 100 === 0) {
        await loss.sum().item();
        samples.push(memory().cpu.bytes);
      }
    }
    // after warm-up, the live native bytes must not grow with the step count
    const early = Math.max(...samples.slice(2, 6));
    const late = Math.max(...samples.slice(-4));
    expect(late).toBeLessThan(early * 1.5 + 64 * 1024 * 1024);
    expect(late).toBeLessThan(512 * 1024 * 1024);
  });
});

describe('worker_threads', () => {
  it('loads in several workers at once, each with its own stream', async () => {
    const url = new URL('../../lib/index.ts', import.meta.url).href;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      import(workerData.url).then(async (t) => {
        const a = t.tensor([1, 2, 3]).mul(workerData.k);
        parentPort.postMessage(await a.sum().item());
      }).catch((e) => parentPort.postMessage('error: ' + e.message));`;
    // workers run the compiled build when present (plain Node cannot import .ts)
    const dist = new URL('../../dist/index.js', import.meta.url);
    const { existsSync } = await import('node:fs');
    const target = existsSync(dist) ? dist.href : url;
    const results = await Promise.all([1, 2, 3].map((k) => new Promise((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { url: target, k } });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    })));
    expect(results).toEqual([6, 12, 18]);
  });
});
