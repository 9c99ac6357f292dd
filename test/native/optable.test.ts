import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { opNames, isa } from '../../lib/index.js';
import { binding, OP } from '../../lib/native.js';

describe('op table', () => {
  it('the native op names are exactly native/core/ops.def, in order', () => {
    const def = readFileSync(new URL('../../native/core/ops.def', import.meta.url), 'utf8');
    const names = [...def.matchAll(/^TS_OP\((\w+)\)/gm)].map((m) => m[1]);
    expect(opNames).toEqual(names);
  });
  it('every op name used by lib/ exists in the native table', () => {
    const dir = new URL('../../lib/', import.meta.url);
    const files: string[] = [];
    const walk = (d: URL) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(new URL(`${e.name}/`, d));
        else if (e.name.endsWith('.ts')) files.push(readFileSync(new URL(e.name, d), 'utf8'));
      }
    };
    walk(dir);
    const used = new Set<string>();
    for (const src of files) for (const m of src.matchAll(/launch\(\s*'(\w+)'/g)) used.add(m[1]!);
    for (const m of files.join('\n').matchAll(/(?:binary|unary|reduce|softmax|argReduce|reduceWithIndices)\(\s*'(\w+)'/g)) used.add(m[1]!);
    expect(used.size).toBeGreaterThan(20);
    for (const u of used) expect(OP[u], u).toBeTypeOf('number');
  });
  it('every op has a float32 CPU kernel (or int32 for randint)', () => {
    for (const [name, id] of Object.entries(OP)) {
      const ok = binding.supports(id, 0, 0) || binding.supports(id, 0, 2);
      expect(ok, name).toBe(true);
    }
  });
  it('an unsupported (op, device, dtype) is a clear DeviceError', async () => {
    const { tensor, DeviceError } = await import('../../lib/index.js');
    const { launch } = await import('../../lib/tensor/tensor.js');
    const x = tensor([1], { dtype: 'uint8' });
    expect(() => launch('exp', 'uint8', [x], [{ shape: [1], dtype: 'uint8' }])).toThrow(DeviceError);
    expect(() => launch('exp', 'uint8', [x], [{ shape: [1], dtype: 'uint8' }])).toThrow('exp: not implemented for device cpu, dtype uint8');
  });
  it('picks the best instruction set this CPU supports', () => {
    expect(['avx512', 'avx2', 'scalar']).toContain(isa());
  });
});
