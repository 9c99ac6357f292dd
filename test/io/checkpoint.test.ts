import { describe, it, expect, afterEach, vi } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, readdirSync, mkdirSync, truncateSync, unlinkSync, rmSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { spawn } from 'node:child_process';
import { tensor, randn, save, load, CheckpointError, ArgumentError, DisposedError, nn, optim, F, manualSeed, getRngState, setRngState, Tensor, randint } from '../../lib/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensile-ckpt-'));

// A file assembled byte by byte from the format's specification: u64 LE header size, JSON header, raw LE data.
function specFile(): Buffer {
  const a = Buffer.alloc(4 * 6);
  [1, 2, 3, 4, 5, 6].forEach((v, i) => a.writeFloatLE(v, i * 4));
  const b = Buffer.alloc(4 * 2);
  b.writeInt32LE(-7, 0);
  b.writeInt32LE(9, 4);
  const header = JSON.stringify({ __metadata__: { source: 'spec' }, b: { dtype: 'I32', shape: [2], data_offsets: [24, 32] }, a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  return Buffer.concat([len, Buffer.from(header), a, b]);
}

describe('safetensors checkpoints', () => {
  it('loads a file built from the specification', async () => {
    const p = join(dir, 'spec.safetensors');
    writeFileSync(p, specFile());
    const r = await load(p) as Record<string, Tensor>;
    expect(r['a']!.shape).toEqual([2, 3]);
    expect(await r['a']!.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(r['b']!.dtype).toBe('int32');
    expect(await r['b']!.toArray()).toEqual([-7, 9]);
  });
  it('writes files that follow the specification', async () => {
    const p = join(dir, 'out.safetensors');
    await save({ w: tensor([[1.5, -2]]), n: tensor([3, 4], { dtype: 'int32' }), img: tensor([255], { dtype: 'uint8' }) }, p);
    const buf = readFileSync(p);
    const hlen = Number(buf.readBigUInt64LE(0));
    expect((8 + hlen) % 8).toBe(0);
    const h = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    expect(h.w).toEqual({ dtype: 'F32', shape: [1, 2], data_offsets: [0, 8] });
    expect(h.n).toEqual({ dtype: 'I32', shape: [2], data_offsets: [8, 16] });
    expect(h.img).toEqual({ dtype: 'U8', shape: [1], data_offsets: [16, 17] });
    expect(typeof h.__metadata__).toBe('object');
    const body = buf.subarray(8 + hlen);
    expect(body.length).toBe(17);
    expect(body.readFloatLE(0)).toBe(1.5);
    expect(body.readFloatLE(4)).toBe(-2);
    expect(body.readInt32LE(12)).toBe(4);
    expect(body[16]).toBe(255);
  });
  it('nested state round-trips: model, optimizer, numbers, strings, arrays', async () => {
    const model = new nn.Linear(3, 2);
    const opt = new optim.Adam(model.parameters());
    model.weight.grad = randn([2, 3]);
    model.bias!.grad = randn([2]);
    opt.step();
    const p = join(dir, 'nested.safetensors');
    await save({ model: model.stateDict(), optimizer: opt.stateDict(), step: 1200, name: 'run', lrs: [0.1, Infinity], nothing: null }, p);
    const r = await load(p) as { model: Record<string, Tensor>; optimizer: optim.OptimizerStateDict; step: number; name: string; lrs: number[]; nothing: null };
    expect(r.step).toBe(1200);
    expect(r.name).toBe('run');
    expect(r.lrs).toEqual([0.1, Infinity]);
    expect(r.nothing).toBeNull();
    expect(Array.from(await r.model['weight']!.data())).toEqual(Array.from(await model.weight.data()));
    expect(r.optimizer.paramGroups[0]!['lr']).toBe(1e-3);
    const s0 = r.optimizer.state[0]!;
    expect(s0['step']).toBe(1);
    expect(Array.from(await (s0['expAvg'] as Tensor).data())).toEqual(Array.from(await (opt.state.get(model.weight)!['expAvg'] as Tensor).data()));
  });
  it('rejects corrupt and truncated files with a CheckpointError before allocating', async () => {
    const good = specFile();
    const cases: [string, Buffer, RegExp][] = [
      ['short', Buffer.alloc(4), /at least 8 bytes/],
      ['huge header', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), Buffer.alloc(16)]), /header length/],
      ['bad json', Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x]')]), /JSON header/],
      ['truncated', good.subarray(0, good.length - 4), /truncated/],
    ];
    const hdr = (o: object) => { const s = JSON.stringify(o); const l = Buffer.alloc(8); l.writeBigUInt64LE(BigInt(s.length)); return Buffer.concat([l, Buffer.from(s), Buffer.alloc(32)]); };
    cases.push(['bad dtype', hdr({ a: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }), /expected dtype/]);
    cases.push(['size mismatch', hdr({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }), /expected 12 bytes/]);
    cases.push(['overlap', hdr({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }), /overlapping/]);
    cases.push(['negative shape', hdr({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /shape/]);
    cases.push(['metadata array', hdr({ __metadata__: ['pt'] }), /expected __metadata__ to map strings to strings, got \["pt"\]/]);
    for (const [name, buf, msg] of cases) {
      const p = join(dir, `bad-${name.replace(' ', '-')}.safetensors`);
      writeFileSync(p, buf);
      await expect(load(p), name).rejects.toThrow(CheckpointError);
      await expect(load(p), name).rejects.toThrow(msg);
    }
  });
  it('a process killed during save leaves the previous checkpoint intact', async () => {
    const p = join(dir, 'atomic.safetensors');
    await save({ v: tensor([1, 2, 3]) }, p);
    const script = `
      import { save, randn } from ${JSON.stringify(new URL('../../lib/index.ts', import.meta.url).href.replace('/lib/index.ts', existsSync(new URL('../../dist/index.js', import.meta.url)) ? '/dist/index.js' : '/lib/index.ts'))};
      const big = randn([64, 1024, 1024]);  // 256 MiB: the write takes a while
      process.stdout.write('ready\\n');
      for (;;) await save({ v: big }, ${JSON.stringify(p)});`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    // kill it while a temporary file is being written: that is the moment a non-atomic save would tear the file
    const { readdirSync } = await import('node:fs');
    const t0 = Date.now();
    while (!readdirSync(dir).some((f) => f.startsWith('.atomic.safetensors.')) && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 5));
    expect(readdirSync(dir).some((f) => f.startsWith('.atomic.safetensors.'))).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const r = await load(p) as Record<string, Tensor>;  // either the old or a complete new file, never a torn one
    expect([[3], [64, 1024, 1024]]).toContainEqual(r['v']!.shape);
  });
});

describe('training resumes exactly from a checkpoint', () => {
  const steps = (model: nn.Module, opt: optim.Optimizer<{ lr: number }>, sched: optim.lrScheduler.StepLR, n: number) => {
    for (let i = 0; i < n; i++) {
      const x = randn([16, 4]), y = randint(0, 3, [16]);
      const loss = F.crossEntropy(model.forward(F.dropout(x, { p: 0.2, training: true })), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      sched.step();
    }
  };
  const make = () => {
    const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 3));
    const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
    return { model, opt, sched: new optim.StepLR(opt, { stepSize: 3, gamma: 0.5 }) };
  };
  it('N steps == k steps + save + load into fresh objects + N-k steps, bit for bit', async () => {
    manualSeed(5);
    const a = make();
    steps(a.model, a.opt, a.sched, 10);
    const want = await Promise.all(a.model.parameters().map((p) => p.data()));

    manualSeed(5);
    const b = make();
    steps(b.model, b.opt, b.sched, 4);
    const p = join(dir, 'resume.safetensors');
    await save({ model: b.model.stateDict(), optimizer: b.opt.stateDict(), scheduler: b.sched.stateDict(), rng: { ...getRngState() }, step: 4 }, p);

    manualSeed(999);  // a different state, then everything restored from the file
    const c = make();
    const ck = await load(p) as { model: Record<string, Tensor>; optimizer: optim.OptimizerStateDict; scheduler: Record<string, unknown>; rng: { seed: number; offset: number } };
    c.model.loadStateDict(ck.model);
    c.opt.loadStateDict(ck.optimizer);
    c.sched.loadStateDict(ck.scheduler);
    setRngState(ck.rng);
    steps(c.model, c.opt, c.sched, 6);
    const got = await Promise.all(c.model.parameters().map((q) => q.data()));
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(want[i]!)));
  });
});

describe('checkpoints never lose data', () => {
  afterEach(() => { vi.restoreAllMocks(); });
  // the error a promise rejects with (the test fails if it resolves)
  const rejection = async (p: Promise<unknown>): Promise<Error> => {
    try {
      await p;
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected a rejection, got none');
  };
  // an error shaped like the ones Node's fs raises (code, and the message naming the file it was called on)
  const sysError = (code: string, reason: string, call: string) => Object.assign(new Error(`${code}: ${reason}, ${call}`), { code, syscall: call.split(' ')[0] });
  const fileHandleProto = async (file: string) => {
    const h = await fsp.open(file, 'r');
    await h.close();
    return Object.getPrototypeOf(h) as { write: () => unknown; sync: () => unknown; read: () => unknown };
  };

  it('save refuses, before writing, every state and metadata load() would refuse: class, message, previous file untouched, no temporary file', async () => {
    const d = mkdtempSync(join(dir, 'refuse-'));
    const p = join(d, 'ckpt.safetensors');
    await save({ w: tensor([1, 2]) }, p);
    const before = readFileSync(p);
    const gone = tensor([1, 2]);
    gone.dispose();
    const cases: [string, () => Promise<void>, new (m: string) => Error, string][] = [
      ['metadata {epoch: 5}', () => save({ w: tensor([3]) }, p, { metadata: { epoch: 5 } as never }), ArgumentError,
        "save: expected metadata values to be strings (safetensors metadata maps strings to strings), got the number 5 for 'epoch'"],
      ['metadata a string', () => save({ w: tensor([3]) }, p, { metadata: 'v2' as never }), ArgumentError,
        "save: expected metadata to be a plain object of strings, got the string 'v2'"],
      ['metadata tensile.structure', () => save({ w: tensor([3]) }, p, { metadata: { 'tensile.structure': '{}' } }), ArgumentError,
        "save: expected metadata keys other than 'tensile.structure' (where save keeps the state's structure), got 'tensile.structure'"],
      ['options null', () => save({ w: tensor([3]) }, p, null as never), ArgumentError, 'save: expected an options object, got null'],
      ['a tensor named __metadata__', () => save({ __metadata__: tensor([3]) }, p), ArgumentError,
        "save: expected tensor names other than '__metadata__' (the safetensors header's metadata entry), got a tensor named '__metadata__'"],
      ["{a: {__tensor__: 'zz'}}", () => save({ a: { __tensor__: 'zz' } }, p), ArgumentError,
        "save: expected no object {__tensor__: string} (it marks a tensor in the saved structure), got {__tensor__: the string 'zz'} at 'a'"],
      ["{a: [{__number__: '5'}]}", () => save({ a: [{ __number__: '5' }] }, p), ArgumentError,
        "save: expected no object {__number__: string} (it marks a number JSON cannot hold in the saved structure), got {__number__: the string '5'} at 'a.0'"],
      ['a disposed tensor at model.w', () => save({ model: { w: gone }, step: 1 }, p), DisposedError,
        "save: expected a live tensor at 'model.w', got a disposed one (shape [2], float32)"],
      ['a Map', () => save({ w: tensor([3]), m: new Map() }, p), ArgumentError,
        "save: expected tensors, numbers, strings, booleans, null, arrays and plain objects, got a Map at 'm'"],
      ['state an array', () => save([tensor([3])] as never, p), ArgumentError, 'save: expected state to be a Tensor or a plain object, got an array of length 1'],
      ['state null', () => save(null as never, p), ArgumentError, 'save: expected state to be a Tensor or a plain object, got null'],
      ['path a number', () => save({ w: tensor([3]) }, 3 as never), ArgumentError, 'save: expected path to be a non-empty string, got the number 3'],
      ['a header over 100 MiB', () => save({ w: tensor([3]), note: 'x'.repeat(100 * 1024 * 1024) }, p), ArgumentError,
        `save: expected a header of at most 104857600 bytes (the most load accepts), got ${100 * 1024 * 1024 + 152} bytes of names, shapes and plain values`],
    ];
    for (const [name, run, cls, msg] of cases) {
      const e = await rejection(run());
      expect(e, name).toBeInstanceOf(cls);
      expect(e.message, name).toBe(msg);
      expect(readFileSync(p).equals(before), name).toBe(true);
      expect(readdirSync(d), name).toEqual(['ckpt.safetensors']);
    }
    expect(Array.from(await ((await load(p))['w'] as Tensor).data())).toEqual([1, 2]);
  });

  it("state load() used to misread round-trips exactly: a tensor under the key '', -0, objects holding __tensor__ with a tensor or beside other keys", async () => {
    const p = join(dir, 'odd.safetensors');
    await save({ '': tensor([7]) }, p);
    const flat = await load(p) as Record<string, Tensor>;
    expect(Object.keys(flat)).toEqual(['']);
    expect(Array.from(await flat['']!.data())).toEqual([7]);
    await save({ z: -0, zs: [0, -0], a: { __tensor__: tensor([5]) }, b: { __tensor__: 'zz', n: 1 } }, p);
    const r = await load(p) as { z: number; zs: number[]; a: { __tensor__: Tensor }; b: object };
    expect(Object.is(r.z, -0)).toBe(true);
    expect(Object.is(r.zs[0], 0) && Object.is(r.zs[1], -0)).toBe(true);
    expect(Array.from(await r.a.__tensor__.data())).toEqual([5]);
    expect(r.b).toEqual({ __tensor__: 'zz', n: 1 });
  });

  it('300 saves replacing a file while 3 readers load it in a loop: every load sees a complete old or new checkpoint (0 failures)', async () => {
    const d = mkdtempSync(join(dir, 'race-'));
    const p = join(d, 'race.safetensors');
    // files of different sizes: a load that takes one file's size and the other file's bytes fails
    const small = tensor([1, 2, 3]), big = randn([16, 64]);
    const wants = [Array.from(await small.data()), Array.from(await big.data())];
    await save({ v: small }, p);
    let writing = true, loads = 0;
    const failures: string[] = [];
    const writer = async () => {
      for (let i = 0; i < 300; i++) await save({ v: i % 2 ? small : big }, p);
      writing = false;
    };
    const reader = async () => {
      while (writing) {
        loads++;
        try {
          const got = Array.from(await ((await load(p))['v'] as Tensor).data());
          if (!wants.some((w) => w.length === got.length && w.every((x, i) => x === got[i]))) failures.push(`values of neither file (${got.length})`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    };
    await Promise.all([writer(), reader(), reader(), reader()]);
    expect(loads).toBeGreaterThan(300);
    expect(failures.slice(0, 5)).toEqual([]);
    expect(failures.length).toBe(0);
    expect(readdirSync(d)).toEqual(['race.safetensors']);
  });

  it('the atomic write: a new temporary file beside the target, written and fsynced, renamed over the target, then the directory fsynced', async () => {
    const d = mkdtempSync(join(dir, 'steps-'));
    const p = join(d, 'ckpt.safetensors');
    await save({ w: tensor([1]) }, p);
    const proto = await fileHandleProto(p);
    const realSync = proto.sync;
    const open = vi.spyOn(fsp, 'open'), rename = vi.spyOn(fsp, 'rename');
    const seen: string[] = [];  // what the target holds at each fsync
    const sync = vi.spyOn(proto, 'sync').mockImplementation(async function (this: unknown) {
      seen.push(Array.from(await ((await load(p))['w'] as Tensor).data()).join());
      return realSync.call(this);
    });
    await save({ w: tensor([2]) }, p);
    const tmp = String(open.mock.calls[0]![0]);
    expect(dirname(tmp)).toBe(d);
    expect(basename(tmp)).toMatch(/^\.ckpt\.safetensors\.\d+\.[0-9a-f]{8}\.tmp$/);
    expect(open.mock.calls[0]![1]).toBe('wx');
    expect(rename.mock.calls).toEqual([[tmp, p]]);
    expect(open.mock.calls.filter((c) => !String(c[0]).endsWith('.tmp') && c[0] !== p)).toEqual([[d, 'r']]);
    const handles = await Promise.all(open.mock.results.map((r) => r.value));
    const tmpHandle = handles[0], dirHandle = handles[open.mock.calls.findIndex((c) => c[0] === d)];
    expect(sync.mock.contexts).toEqual([tmpHandle, dirHandle]);
    const [syncTmp, syncDir] = sync.mock.invocationCallOrder;
    expect(syncTmp!).toBeLessThan(rename.mock.invocationCallOrder[0]!);
    expect(rename.mock.invocationCallOrder[0]!).toBeLessThan(syncDir!);
    expect(seen).toEqual(['1', '2']);  // the file fsync before the rename (old content in place), the directory's after
    expect(readdirSync(d)).toEqual(['ckpt.safetensors']);
  });

  it('a failed save is a CheckpointError naming the path (not the temporary file), leaves the previous file and no temporary file: target a directory, missing directory, parent a file, read-only directory, disk full, fsync and rename failing', async () => {
    const d = mkdtempSync(join(dir, 'fail-'));
    const p = join(d, 'ckpt.safetensors');
    await save({ w: tensor([1, 2]) }, p);
    const before = readFileSync(p);
    const sub = join(d, 'sub');
    mkdirSync(join(sub, 'inside'), { recursive: true });
    const proto = await fileHandleProto(p);
    const realRename = fsp.rename;
    const cases: [string, string, () => void, string][] = [
      ['target a directory', sub, () => {}, `save: expected '${sub}' to name a file, got a directory`],
      ['missing directory', join(d, 'nope', 'c.safetensors'), () => {}, `save: expected a writable directory for '${join(d, 'nope', 'c.safetensors')}', got ENOENT (no such file or directory)`],
      ['parent a file', join(p, 'c.safetensors'), () => {}, `save: expected a file path at '${join(p, 'c.safetensors')}', got ENOTDIR (not a directory)`],
      // permission bits do not bind root, so the read-only directory's EACCES is the one open(2) would raise
      ['read-only directory', p, () => vi.spyOn(fsp, 'open').mockImplementationOnce(async (f) => { throw sysError('EACCES', 'permission denied', `open '${String(f)}'`); }),
        `save: expected a writable directory for '${p}', got EACCES (permission denied)`],
      ['disk full', p, () => vi.spyOn(proto, 'write').mockImplementationOnce(async () => { throw sysError('ENOSPC', 'no space left on device', 'write'); }),
        `save: expected to write '${p}', got ENOSPC (no space left on device)`],
      ['fsync failing', p, () => vi.spyOn(proto, 'sync').mockImplementationOnce(async () => { throw sysError('EIO', 'i/o error', 'fsync'); }),
        `save: expected to write '${p}', got EIO (i/o error)`],
      // a directory appearing at the target between the check and the rename: the real EISDIR, naming the temporary
      ['rename failing', p, () => vi.spyOn(fsp, 'rename').mockImplementationOnce((from) => realRename(from, sub)),
        `save: expected to replace '${p}' with the new checkpoint, got EISDIR (illegal operation on a directory)`],
    ];
    for (const [name, target, arrange, msg] of cases) {
      arrange();
      const e = await rejection(save({ w: tensor([3, 4, 5]) }, target));
      vi.restoreAllMocks();
      expect(e, name).toBeInstanceOf(CheckpointError);
      expect(e.message, name).toBe(msg);
      expect(e.message, name).not.toMatch(/\.tmp/);
      expect(readFileSync(p).equals(before), name).toBe(true);
      expect(readdirSync(d).sort(), name).toEqual(['ckpt.safetensors', 'sub']);
      expect(readdirSync(sub), name).toEqual(['inside']);
    }
  });

  it('a failed load is a CheckpointError naming the path: missing file, a directory, a device, a file shrinking while read, a tensor over the largest Buffer', async () => {
    const d = mkdtempSync(join(dir, 'load-fail-'));
    const p = join(d, 'ckpt.safetensors');
    const missing = join(d, 'missing.safetensors');
    for (const [name, path, msg] of [
      ['missing', missing, `load: expected a readable file at '${missing}', got ENOENT (no such file or directory)`],
      ['a directory', d, `load: expected a file at '${d}', got a directory`],
      ['a device', '/dev/null', "load: expected a file at '/dev/null', got something that is not a regular file"],
    ] as const) {
      const e = await rejection(load(path));
      expect(e, name).toBeInstanceOf(CheckpointError);
      expect(e.message, name).toBe(msg);
    }
    const e0 = await rejection(load(7 as never));
    expect(e0).toBeInstanceOf(ArgumentError);
    expect(e0.message).toBe('load: expected path to be a non-empty string, got the number 7');

    // rewritten in place (not by save) between the size check and the read of the data
    await save({ w: randn([256]) }, p);
    const proto = await fileHandleProto(p);
    const realRead = proto.read as (this: unknown, ...a: unknown[]) => Promise<unknown>;
    const hlen = Number(readFileSync(p).readBigUInt64LE(0));
    let reads = 0;
    vi.spyOn(proto, 'read').mockImplementation(async function (this: unknown, ...a: unknown[]) {
      if (++reads === 3) truncateSync(p, 8 + hlen + 100);
      return realRead.apply(this, a);
    });
    const e1 = await rejection(load(p));
    vi.restoreAllMocks();
    expect(e1).toBeInstanceOf(CheckpointError);
    expect(e1.message).toBe(`load: expected 1024 bytes of tensor 'w' at offset ${8 + hlen} of '${p}', got 100: the file is truncated (it shrank while being read)`);

    // a sparse file: the 4 GiB + 1 byte take no disk, and load refuses before Buffer.alloc would throw a RangeError
    const n = 2 ** 32 + 1;
    const h = JSON.stringify({ big: { dtype: 'U8', shape: [n], data_offsets: [0, n] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const big = join(d, 'big.safetensors');
    writeFileSync(big, Buffer.concat([len, Buffer.from(h)]));
    truncateSync(big, 8 + h.length + n);
    const e2 = await rejection(load(big));
    unlinkSync(big);
    expect(e2).toBeInstanceOf(CheckpointError);
    expect(e2.message).toBe(`load: expected tensors of at most 4294967296 bytes (the largest buffer Node allocates), got ${n} bytes for 'big' in '${big}'`);
  });
});

describe('I64 tensors (PyTorch integer buffers such as num_batches_tracked)', () => {
  const writeI64 = (file: string, values: bigint[]) => {
    const header = JSON.stringify({ n: { dtype: 'I64', shape: [values.length], data_offsets: [0, 8 * values.length] } });
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
    const data = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => data.writeBigInt64LE(v, 8 * i));
    writeFileSync(file, Buffer.concat([len, Buffer.from(header), data]));
  };
  it('load as int32 when they fit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-i64-'));
    try {
      writeI64(join(dir, 'a.safetensors'), [0n, 7n, -2147483648n, 2147483647n]);
      const st = (await load(join(dir, 'a.safetensors'))) as Record<string, Tensor>;
      expect(st['n']!.dtype).toBe('int32');
      expect(Array.from(await st['n']!.data())).toEqual([0, 7, -2147483648, 2147483647]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('outside int32: a CheckpointError naming the tensor, the value and the path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-i64-'));
    try {
      const p = join(dir, 'b.safetensors');
      writeI64(p, [1n, 2n ** 40n]);
      await expect(load(p)).rejects.toThrow(CheckpointError);
      await expect(load(p)).rejects.toThrow(`load: expected I64 values of 'n' within int32 (tensile has no int64), got 1099511627776 at 1 in '${p}'`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
