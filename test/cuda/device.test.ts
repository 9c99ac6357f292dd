// The CUDA device layer: what the backend reports (built, driver, devices, and why not), transfers between the CPU
// and a GPU, the caching allocator's figures, limits and out-of-memory errors, mixed-device errors, module.to().
// The GPU cases run wherever a GPU is usable: under the SIMT emulator in CI (TENSILE_EMULATE_CUDA=1,
// `npm run build:emulated`), on a real GPU as they are. The status cases run in child processes over the emulated
// build with the emulator's driver and device settings (skipped when that build is absent).
import { describe, it, expect } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, tensor, zeros, cuda, nn, save, load, DeviceError, MemoryError, ArgumentError, sync } from '../../lib/index.js';
import { covers } from '../api/coverage.js';
import { throwsExactly } from '../helpers.js';
import { EMULATED_ADDON, emulatedEnv } from './emulated.js';

covers('cuda.isAvailable');
covers('cuda.status');
covers('cuda.deviceCount');
covers('cuda.getDeviceProperties');
covers('cuda.synchronize');
covers('cuda.memory');
covers('cuda.emptyCache');
covers('cuda.setMemoryLimit');
covers('cuda.resetPeakMemoryStats');

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const emulated = EMULATED_ADDON;
const gpu = cuda.isAvailable();

// runs `body` (an async function body with T = the compiled library) in a child process over the emulated build
function child(env: Record<string, string>, body: string): { out: unknown; stderr: string; status: number | null } {
  const src = `const T = await import(${JSON.stringify(join(root, 'dist', 'index.js'))});\n` +
    `const out = await (async () => { ${body} })();\nprocess.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
    encoding: 'utf8', timeout: 120_000,
    env: { ...process.env, ...emulatedEnv(), ...env },
  });
  let out: unknown = null;
  try { out = JSON.parse(r.stdout); } catch { out = r.stdout; }
  return { out, stderr: r.stderr, status: r.status };
}
const tryDevice = `try { T.tensor([1], { device: 'cuda' }); return 'no error'; } catch (e) { return [e.name, e.message]; }`;

describe('cuda.status() tells apart why no GPU can be used', () => {
  it('this build reports itself: built or not, and a reason exactly when no device is usable', () => {
    const st = cuda.status();
    expect(Object.keys(st).sort()).toEqual(['built', 'cublas', 'cudnn', 'devices', 'driverVersion', 'emulated', 'reason', 'runtimeVersion']);
    expect(cuda.isAvailable()).toBe(st.devices > 0);
    expect(cuda.deviceCount()).toBe(st.devices);
    expect(st.reason === '').toBe(st.devices > 0);
    if (!st.built) expect(st.reason).toMatch(/has no CUDA backend/);
    if (st.built && !st.emulated && st.driverVersion === 0) expect(st.reason).toMatch(/^no NVIDIA driver found/);
    if (!gpu) {
      throwsExactly(() => tensor([1, 2], { device: 'cuda' }), DeviceError, `tensor: expected a usable device, got 'cuda': ${st.reason}`);
      throwsExactly(() => zeros([2]).to('cuda:0'), DeviceError, `to: expected a usable device, got 'cuda:0': ${st.reason}`);
      expect(zeros([2], { device: 'auto' }).device).toBe('cpu');
    }
  });

  it('a device name that is not one is an ArgumentError', () => {
    throwsExactly(() => zeros([2]).to('gpu' as 'cpu'), ArgumentError, "to: expected a device 'cpu', 'cuda', 'cuda:N' or 'auto', got 'gpu'");
    throwsExactly(() => tensor([2], { device: 'cuda:x' as 'cuda' }), ArgumentError, "tensor: expected a device 'cpu', 'cuda', 'cuda:N' or 'auto', got 'cuda:x'");
    throwsExactly(() => zeros([2]).cuda(-1), ArgumentError, 'cuda: expected a device index >= 0, got the number -1');
  });

  describe.skipIf(!existsSync(emulated))('over the emulated build, with the emulator playing each case', () => {
    const probe = `const s = T.cuda.status(); return { s, err: (() => { ${tryDevice} })(), auto: T.zeros([1], { device: 'auto' }).device, cpu: Array.from(await T.tensor([1, 2]).add(1).data()) };`;
    it('no driver', () => {
      const r = child({ TENSILE_EMU_DRIVER: 'none' }, probe);
      const o = r.out as { s: cuda.CudaStatus; err: string[]; auto: string; cpu: number[] };
      expect(o.s).toMatchObject({ built: true, emulated: true, devices: 0, driverVersion: 0 });
      expect(o.s.reason).toBe('no NVIDIA driver found (libcuda.so.1 could not be loaded): install the NVIDIA driver to use a GPU');
      expect(o.err).toEqual(['DeviceError', `tensor: expected a usable device, got 'cuda': ${o.s.reason}`]);
      expect(o.auto).toBe('cpu');
      expect(o.cpu).toEqual([2, 3]);  // the CPU path never fails for it
    });
    it('a driver older than the runtime names both versions', () => {
      const o = child({ TENSILE_EMU_DRIVER: '12040' }, probe).out as { s: cuda.CudaStatus; auto: string; cpu: number[] };
      expect(o.s.devices).toBe(0);
      expect(o.s.reason).toBe('the NVIDIA driver supports CUDA 12.4, older than the CUDA 13.0 runtime of this build: update the driver');
      expect(o.auto).toBe('cpu');
      expect(o.cpu).toEqual([2, 3]);
    });
    it('no device', () => {
      const o = child({ TENSILE_EMU_DEVICES: '0' }, probe).out as { s: cuda.CudaStatus; cpu: number[] };
      expect(o.s.devices).toBe(0);
      expect(o.s.reason).toBe('no CUDA device found');
      expect(o.cpu).toEqual([2, 3]);
    });
    it('a device fault (an illegal address) loses that device only: its tensors and later ops fail, the CPU goes on', () => {
      const r = child({ TENSILE_EMU_FAULT: 'mul' }, `
        const err = async (p) => { try { await p; return 'resolved'; } catch (e) { return [e.name, e.message]; } };
        const a = T.tensor([1, 2, 3], { device: 'cuda' });
        const before = Array.from(await a.data());
        const b = a.mul(2);  // the emulator faults this kernel
        const read = await err(b.data());
        const old = await err(a.data());
        let later = null;
        try { later = await err(T.tensor([4], { device: 'cuda' }).add(1).data()); } catch (e) { later = [e.name, e.message]; }
        const cpu = Array.from(await T.tensor([1, 2]).mul(3).data());
        return { before, read, old, later, cpu };`);
      const o = r.out as { before: number[]; read: string[]; old: string[]; later: string[]; cpu: number[] };
      expect(o.before).toEqual([1, 2, 3]);
      expect(o.read[0]).toBe('DeviceError');
      expect(o.read[1]).toMatch(/failed on cuda:0: cudaErrorIllegalAddress \(an illegal memory access was encountered\).*kernel 'mul'.*; the device is unusable until the process restarts$/);
      for (const e of [o.old, o.later]) {
        expect(e[0]).toBe('DeviceError');
        expect(e[1]).toMatch(/cuda:0 is unusable after an earlier error \(.*cudaErrorIllegalAddress.*\); tensors on it are lost until the process restarts$/);
      }
      expect(o.cpu).toEqual([3, 6]);
      expect(r.status).toBe(0);
    });
    it('two devices: cuda:1, copies between GPUs, and tensors on two GPUs in one op', () => {
      const r = child({ TENSILE_EMU_DEVICES: '2' }, `
        const a = T.tensor([1, 2, 3], { device: 'cuda:1' });
        const b = T.tensor([4, 5, 6], { device: 'cuda' });
        const c = b.to('cuda:1');
        let mixed = null, range = null;
        try { a.add(b); } catch (e) { mixed = [e.name, e.message]; }
        try { a.to('cuda:2'); } catch (e) { range = [e.name, e.message]; }
        return { count: T.cuda.deviceCount(), devs: [a.device, b.device, c.device], a: Array.from(await a.data()),
                 c: Array.from(await c.data()), back: Array.from(await c.to('cuda:0').cpu().data()), mixed, range,
                 mem1: T.cuda.memory(1).allocated > 0 };`);
      expect(r.stderr).toBe('');
      expect(r.out).toEqual({
        count: 2, devs: ['cuda:1', 'cuda:0', 'cuda:1'], a: [1, 2, 3], c: [4, 5, 6], back: [4, 5, 6],
        mixed: ['DeviceError', 'add: expected tensors on one device, got cuda:1 and cuda:0'],
        range: ['DeviceError', "to: expected a CUDA device index in [0, 2), got 'cuda:2'"], mem1: true,
      });
    });
  });
});

describe.skipIf(!gpu)('tensors on the GPU', () => {
  it('properties name the device', () => {
    const p = cuda.getDeviceProperties(0);
    expect(p.name.length).toBeGreaterThan(0);
    if (cuda.status().emulated) expect(p.name).toBe('tensile SIMT emulator');
    expect(p.major).toBeGreaterThanOrEqual(7);
    expect(p.totalMemory).toBeGreaterThan(0);
    expect(p.multiProcessorCount).toBeGreaterThan(0);
    expect(cuda.getDeviceProperties('cuda:0')).toEqual(p);
    throwsExactly(() => cuda.getDeviceProperties(cuda.deviceCount()), DeviceError,
      `getDeviceProperties: expected a CUDA device index in [0, ${cuda.deviceCount()}), got 'cuda:${cuda.deviceCount()}'`);
  });

  it.each(['float32', 'float64', 'int32', 'uint8'] as const)('round trip cpu -> cuda -> cpu, dtype %s, any shape', async (dtype) => {
    for (const shape of [[], [0], [7], [3, 5], [2, 3, 4]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const vals = Array.from({ length: n }, (_, i) => (i * 7) % 13);
      const x = tensor(vals, { dtype, shape });
      const g = x.to('cuda');
      expect(g.device).toBe('cuda:0');
      expect(g.dtype).toBe(dtype);
      expect(g.shape).toEqual(shape);
      expect(Array.from(await g.data())).toEqual(vals);
      const back = g.cpu();
      expect(back.device).toBe('cpu');
      expect(Array.from(await back.data())).toEqual(vals);
      expect(Array.from(g.dataSync())).toEqual(vals);
      const direct = tensor(vals, { dtype, shape, device: 'cuda' });
      expect(Array.from(await direct.data())).toEqual(vals);
    }
  });

  it('a view goes over as its values (transposed, sliced); to() on its own device returns the tensor itself', async () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(Array.from(await x.t().to('cuda').data())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(await x.slice(1, 1, 3).cuda().data())).toEqual([2, 3, 5, 6]);
    const g = x.cuda();
    expect(g.to('cuda')).toBe(g);
    expect(g.cuda()).toBe(g);
    expect(x.cpu()).toBe(x);
  });

  it('more than the inline read size (4 MiB) and many uploads in flight come back intact', async () => {
    const n = 1 << 20;
    const ts: Tensor[] = [];
    for (let k = 0; k < 8; k++) {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i += 4099) a[i] = i + k;
      ts.push(tensor(a, { device: 'cuda' }));
    }
    for (let k = 0; k < 8; k++) {
      const v = await ts[k]!.data();
      for (let i = 0; i < n; i += 4099) expect(v[i]).toBe(i + k);
      expect(v[1]).toBe(0);
    }
  });

  it('an op over tensors on two devices is a DeviceError naming both', () => {
    const a = tensor([1, 2]), b = tensor([1, 2], { device: 'cuda' });
    throwsExactly(() => a.add(b), DeviceError, 'add: expected tensors on one device, got cpu and cuda:0');
    throwsExactly(() => b.mul(a), DeviceError, 'mul: expected tensors on one device, got cuda:0 and cpu');
  });

  it('gradients flow back through to()', async () => {
    const x = tensor([1, 2, 3], { dtype: 'float64' }).requiresGrad_();
    const y = x.to('cuda').cpu().mul(tensor([2, 3, 4], { dtype: 'float64' })).sum();
    y.backward();
    expect(x.grad!.device).toBe('cpu');
    expect(Array.from(await x.grad!.data())).toEqual([2, 3, 4]);
  });

  it('module.to() moves parameters and buffers in place (same objects), and back', async () => {
    const m = new nn.Sequential(new nn.Linear(3, 2), new nn.BatchNorm1d(2));
    const params = m.parameters(), bufs = m.buffers();
    const before = await Promise.all([...params, ...bufs].map((t) => t.data()));
    m.to('cuda');
    expect(m.parameters()).toEqual(params);
    for (const t of [...params, ...bufs]) expect(t.device).toBe('cuda:0');
    const on = await Promise.all([...params, ...bufs].map((t) => t.data()));
    expect(on).toEqual(before);
    m.to('cpu');
    for (const t of [...params, ...bufs]) expect(t.device).toBe('cpu');
    expect(await Promise.all([...params, ...bufs].map((t) => t.data()))).toEqual(before);
  });

  it('memory(): allocated follows tensors, reserved keeps the cache until emptyCache(), peak until reset', async () => {
    await cuda.synchronize();
    cuda.emptyCache();
    const m0 = cuda.memory();
    expect(m0.reserved).toBe(m0.allocated);
    const t = tensor(new Float32Array(1 << 18), { device: 'cuda' });  // 1 MiB
    const m1 = cuda.memory();
    expect(m1.allocated - m0.allocated).toBe(1 << 20);
    expect(m1.liveBytes - m0.liveBytes).toBe(1 << 20);
    expect(m1.peak).toBeGreaterThanOrEqual(m1.allocated);
    expect(m1.total).toBeGreaterThan(0);
    t.dispose();
    const m2 = cuda.memory();
    expect(m2.allocated).toBe(m0.allocated);
    expect(m2.reserved - m2.allocated).toBeGreaterThanOrEqual(1 << 20);  // cached for the next tensor of that size
    const again = tensor(new Float32Array(1 << 18), { device: 'cuda' });
    expect(cuda.memory().reserved).toBe(m2.reserved);  // reused, not allocated anew
    again.dispose();
    cuda.emptyCache();
    const m3 = cuda.memory();
    expect(m3.reserved).toBe(m3.allocated);
    cuda.resetPeakMemoryStats();
    expect(cuda.memory().peak).toBe(m3.allocated);
  });

  it('past the memory limit an allocation fails that op only, with a MemoryError giving the figures', async () => {
    await cuda.synchronize();
    cuda.emptyCache();
    const base = cuda.memory().reserved;
    cuda.setMemoryLimit(base + (1 << 20));
    try {
      const ok = tensor(new Float32Array(1 << 17), { device: 'cuda' });  // 512 KiB fits
      const big = tensor(new Float32Array(1 << 19), { device: 'cuda' });  // 2 MiB does not
      await expect(big.data()).rejects.toThrow(MemoryError);
      await expect(big.data()).rejects.toThrow(/^copy: out of memory on cuda:0 allocating 2097152 bytes \(the memory limit set by cuda.setMemoryLimit; allocated \d+, reserved \d+, total \d+, limit \d+\)$/);
      expect((await ok.data()).length).toBe(1 << 17);
    } finally {
      cuda.setMemoryLimit(0);
    }
    await sync().catch(() => undefined);
    expect((await tensor(new Float32Array(1 << 19), { device: 'cuda' }).data()).length).toBe(1 << 19);
    throwsExactly(() => cuda.setMemoryLimit(-1), ArgumentError, 'setMemoryLimit: expected a byte count or a fraction in (0, 1], got the number -1');
  });

  it('save() writes tensors from any device; load() puts them on the device asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-cuda-'));
    try {
      const f = join(dir, 'm.safetensors');
      await save({ a: tensor([1, 2, 3], { device: 'cuda' }), b: tensor([[4, 5]], { dtype: 'int32' }) }, f);
      const onGpu = await load(f, { device: 'cuda' }) as Record<string, Tensor>;
      expect([onGpu['a']!.device, onGpu['b']!.device]).toEqual(['cuda:0', 'cuda:0']);
      expect(Array.from(await onGpu['a']!.data())).toEqual([1, 2, 3]);
      expect(Array.from(await onGpu['b']!.data())).toEqual([4, 5]);
      const onCpu = await load(f) as Record<string, Tensor>;
      expect(onCpu['a']!.device).toBe('cpu');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('synchronize() resolves once the queued work has run', async () => {
    const t = tensor([1, 2, 3], { device: 'cuda' });
    await cuda.synchronize();
    expect(cuda.memory().liveStorages).toBeGreaterThan(0);
    t.dispose();
  });
});
