import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { tensor, randn, save, load, CheckpointError, nn, optim, F, manualSeed, getRngState, setRngState, Tensor, randint } from '../../lib/index.js';

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
    for (const [name, buf, msg] of cases) {
      const p = join(dir, `bad-${name.replace(' ', '-')}.safetensors`);
      writeFileSync(p, buf);
      await expect(load(p), name).rejects.toThrow(CheckpointError);
      await expect(load(p), name).rejects.toThrow(msg);
    }
    await expect(load(join(dir, 'missing.safetensors'))).rejects.toThrow(CheckpointError);
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
