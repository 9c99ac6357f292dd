/**
 * The one place that loads the addon and speaks to it. Ops describe a call in a shared Float64Array ("scratch")
 * and call `enqueue`; the native side copies the description into its queue and returns at once.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeErrorClasses, DeviceError, NativeError } from './errors.js';

/** An opaque native handle (a small integer): one reference to a storage, released by release(). */
export type Handle = number & { readonly __handle: unique symbol };

interface Binding {
  init(o: { errors: readonly Function[]; scratch: Float64Array; isa?: string }): {
    isa: string;
    isaError: string;
    scratchLength: number;
  };
  setIsa(name: string): string;
  opNames(): string[];
  supports(op: number, device: number, dtype: number): boolean;
  fromBytes(device: number, bytes: ArrayBufferView): Handle;
  share(h: Handle): Handle;
  enqueue(op: number, dtype: number, device: number, ...handles: Handle[]): Handle | Handle[] | undefined;
  release(h: Handle): void;
  read(h: Handle | null, byteOffset: number, byteLength: number): Promise<ArrayBuffer | undefined>;
  readSync(h: Handle | null, byteOffset: number, byteLength: number): ArrayBuffer | undefined;
  memory(): { liveBytes: number; liveStorages: number; pooledBytes: number };
  trim(): void;
  noop(): void;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function load(): Binding {
  const require = createRequire(import.meta.url);
  let nodeGypBuild: (dir: string) => Binding;
  try {
    nodeGypBuild = require('node-gyp-build');
  } catch (e) {
    throw new NativeError(`tensile: expected the dependency node-gyp-build to be installed, got ${(e as Error).message}`);
  }
  const override = process.env['TENSILE_ADDON'];  // a specific build (the sanitizer build, a debug build)
  try {
    return override ? require(resolve(override)) : nodeGypBuild(root);
  } catch (e) {
    const msg = (e as Error).message;
    throw new NativeError(
      `tensile: expected a native addon for ${process.platform}-${process.arch} (Node-API 8, glibc >= 2.34) in ` +
        `${root}/prebuilds or ${root}/build/Release, got: ${msg}. ` +
        'Remedy: run `npm rebuild tensile` (needs cmake >= 3.15 and g++ with OpenMP), or install on a supported platform.',
    );
  }
}

export const binding: Binding = load();
export const scratch = new Float64Array(8192);
const info = binding.init({ errors: nativeErrorClasses, scratch, isa: process.env['TENSILE_ISA'] ?? '' });
if (info.isaError) {
  process.emitWarning(`tensile: TENSILE_ISA=${process.env['TENSILE_ISA']} ignored: ${info.isaError}`);
}

const names = binding.opNames();
/** Native op ids by name (from native/core/ops.def). */
export const OP: Readonly<Record<string, number>> = Object.freeze(Object.fromEntries(names.map((n, i) => [n, i])));
/** Names of the native ops, by op id (the order of native/core/ops.def). @example `opNames.includes('conv2d')` */
export const opNames: readonly string[] = names;

export function opId(name: string): number {
  const id = OP[name];
  if (id === undefined) throw new NativeError(`${name}: expected an op of native/core/ops.def, got none by that name`);
  return id;
}

/** The instruction set the CPU kernels use: 'avx512', 'avx2' or 'scalar'. @example `isa() // 'avx512'` */
export function isa(): string {
  return info.isa;
}
/**
 * Forces the CPU kernel set (for tests and benchmarks; process-wide).
 * @example `setIsa('avx2')`
 */
export function setIsa(name: 'avx512' | 'avx2' | 'scalar'): string {
  info.isa = binding.setIsa(name);
  return info.isa;
}

export const DEVICE_ID = { cpu: 0, cuda: 1 } as const;
export type Device = keyof typeof DEVICE_ID;

export function assertSupported(op: string, device: Device, dtype: string, dtypeId: number): void {
  if (!binding.supports(opId(op), DEVICE_ID[device], dtypeId)) {
    throw new DeviceError(`${op}: not implemented for device ${device}, dtype ${dtype}`);
  }
}
