// The emulated build that the tests of device 'cuda' use, in this process and in the child processes they start: the
// addon TENSILE_ADDON names when TENSILE_EMULATE_CUDA is set beside it (scripts/sanitize.sh --emulated: the
// sanitizer's emulated build, which is what CI runs test/cuda on), else build-emu/ (`npm run build:emulated`).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const emulate = process.env['TENSILE_EMULATE_CUDA'];
const named = process.env['TENSILE_ADDON'] && emulate && emulate !== '0' ? resolve(process.env['TENSILE_ADDON']) : '';

/** The emulated addon's path, and whether it is built. */
export const EMULATED_ADDON = named || join(root, 'build-emu', 'Release', 'tensile.node');
export const haveEmulated = (): boolean => existsSync(EMULATED_ADDON);
/** The folder of the cuBLAS/cuDNN test doubles built beside it. */
export const DOUBLES = join(dirname(dirname(EMULATED_ADDON)), 'doubles');
/** The environment that makes a child process load it (TENSILE_ADDON empty: lib/native.ts takes build-emu). */
export const emulatedEnv = (): Record<string, string> => ({ TENSILE_EMULATE_CUDA: '1', TENSILE_ADDON: named });
