/**
 * Finding and loading the native addon, and, when it cannot load, one error that says why and what to do (sharp's
 * kind): which binary was tried and what it is (prebuild or local build), this machine's platform, libc and Node, what
 * the binary requires (the prebuild's manifest, tensile.json beside it), and the remedies that fit the failure.
 * Nothing here costs anything when the load succeeds: the machine is only examined to explain a failure.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { TensileError } from './errors.js';

/** The addon could not be loaded; the message names the binary tried, this machine, what is required and the remedy. @example `try { await import('tensile') } catch (e) { if (e.name === 'AddonLoadError') console.error(e.message) }` */
export class AddonLoadError extends TensileError {
  /** the binaries tried, in order */
  tried: string[];
  constructor(message: string, tried: string[]) {
    super(message);
    this.tried = tried;
  }
}

/** Which binary is loaded: a prebuild (prebuilds/), a local build (build/Release), TENSILE_ADDON's, or the emulated test build. @example `if (addon().kind === 'local build') console.log('built from source')` */
export type AddonKind = 'prebuild' | 'local build' | 'TENSILE_ADDON' | 'emulated build';
/** The loaded binary. @example `addon().path` */
export interface AddonInfo {
  path: string;
  kind: AddonKind;
  /** the prebuild's manifest (glibc floor, CUDA architectures), when the binary is a prebuild */
  manifest: PrebuildManifest | null;
}
/** What scripts/prebuild.cjs records beside a prebuild (prebuilds/<platform>-<arch>/tensile.json). @example `addon().manifest?.glibc` */
export interface PrebuildManifest {
  name: string;
  version: string;
  binary: string;
  napi: number;
  glibc: string;
  openmp: string;
  cpu: string[];
  cuda: { runtime: string | null; sass: string[]; ptx: string[]; cudart: string } | null;
}

/** The machine as a load error describes it. @internal */
export interface Machine {
  platform: string;
  arch: string;
  /** 'glibc 2.36', 'musl', or '' when unknown */
  libc: string;
  glibcVersion: string;
  node: string;
  napi: number;
}

/** Node >= this (engines); the addon needs Node-API 8 and the basic finalizers of 20.10. @internal */
export const NODE_FLOOR = '20.10.0';

/** Compares dotted versions numerically. @internal */
export function versionCmp(a: string, b: string): number {
  const x = a.split('.').map(Number), y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** This machine (reads process.report only: called when a load fails). @internal */
export function thisMachine(): Machine {
  let glibcVersion = '';
  let libc = '';
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    glibcVersion = header?.glibcVersionRuntime ?? '';
    libc = glibcVersion ? `glibc ${glibcVersion}` : 'musl (or another libc than glibc)';
  }
  return { platform: process.platform, arch: process.arch, libc, glibcVersion, node: process.versions.node, napi: Number(process.versions.napi ?? 0) };
}

/** The manifest beside a prebuild, or null (a local build has none; a damaged one reads as none). @internal */
export function readManifest(binary: string): PrebuildManifest | null {
  const f = join(dirname(binary), 'tensile.json');
  try {
    const m = JSON.parse(readFileSync(f, 'utf8')) as PrebuildManifest;
    return typeof m.glibc === 'string' ? m : null;
  } catch {
    return null;
  }
}

/** What a binary's path says it is. @internal */
export function kindOf(root: string, file: string): AddonKind {
  const f = resolve(file);
  if (f.startsWith(join(root, 'prebuilds') + sep)) return 'prebuild';
  if (f.startsWith(join(root, 'build') + sep)) return 'local build';
  return 'TENSILE_ADDON';
}

/** What a failed load knew. @internal */
export interface Failure {
  root: string;
  /** the binary tried (null: none was found for this machine) */
  file: string | null;
  kind: AddonKind | null;
  error: string;
  machine: Machine;
  manifest: PrebuildManifest | null;
  /** prebuilds/ as found: folder name -> its files */
  prebuilds: Record<string, string[]>;
}

/** The one message of a failed load: what was tried, this machine, what is required, and the remedies. @internal */
export function loadErrorMessage(f: Failure): string {
  const m = f.machine;
  const tag = `${m.platform}-${m.arch}`;
  const lines = [`tensile: could not load its native addon for ${tag}${m.libc ? ` (${m.libc})` : ''}, Node ${m.node} (Node-API ${m.napi}).`];
  const err = f.error.split('\n').filter((l) => l.trim()).slice(0, 3).join(' | ');
  if (f.file) lines.push(`  tried: ${f.file} (${f.kind})`, `  error: ${err}`);
  else lines.push(`  tried: no binary for ${tag}: none in ${join(f.root, 'build', 'Release')}, and prebuilds/ has ${Object.keys(f.prebuilds).length ? Object.entries(f.prebuilds).map(([d, fs]) => `${d}/ (${fs.filter((x) => x.endsWith('.node')).join(', ') || 'no .node'})`).join(', ') : 'nothing'}`);
  const req = [`Node >= ${NODE_FLOOR}`];
  if (f.manifest) req.push(`glibc >= ${f.manifest.glibc}`, `Node-API ${f.manifest.napi}`, `${f.manifest.openmp} beside the binary`);
  lines.push(`  required: ${req.join(', ')}`);
  const fixes: string[] = [];
  const build = 'build from source: `npx tensile build` (needs cmake >= 3.15 and g++; Debian/Ubuntu: apt-get install cmake g++)';
  if (versionCmp(m.node, NODE_FLOOR) < 0) fixes.push(`upgrade Node to ${NODE_FLOOR} or newer (this is ${m.node})`);
  if (f.manifest && m.glibcVersion && versionCmp(m.glibcVersion, f.manifest.glibc) < 0) {
    fixes.push(`this prebuild needs glibc >= ${f.manifest.glibc} and this system has ${m.glibcVersion}: update the OS (Debian 12, Ubuntu 22.04, RHEL 9 or newer), or ${build}`);
  }
  if (m.platform === 'linux' && !m.glibcVersion) fixes.push(`there is no prebuild for musl (Alpine): ${build.replace('apt-get install cmake g++', 'apk add cmake g++ make')}`);
  if (/libgomp/.test(f.error)) fixes.push(`OpenMP's runtime libgomp.so.1 is missing: it ships beside the prebuild; reinstall tensile (npm install tensile), or install it (Debian/Ubuntu: apt-get install libgomp1)`);
  if (f.file === null) fixes.push(`tensile ships a prebuild for linux-x64 (glibc) only; elsewhere ${build}`);
  if (f.kind === 'local build') fixes.push(`${f.file} is a local build that does not load here: rebuild it (\`npx tensile build\`), or delete ${join(f.root, 'build')} to use the prebuild`);
  if (f.kind === 'TENSILE_ADDON') fixes.push(`TENSILE_ADDON names this binary: unset it to load the installed one`);
  if (fixes.length === 0) fixes.push(`reinstall tensile (npm install tensile), or ${build}`, 'then `npx tensile doctor` says what loaded');
  lines.push('Possible solutions:', ...fixes.map((x) => `  - ${x}`));
  return lines.join('\n');
}

function listPrebuilds(root: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const dir = join(root, 'prebuilds');
  if (!existsSync(dir)) return out;
  for (const d of readdirSync(dir)) {
    try {
      out[d] = readdirSync(join(dir, d));
    } catch {
      // not a folder
    }
  }
  return out;
}

/**
 * Loads the addon: TENSILE_ADDON's file when set, else what node-gyp-build picks (build/Release, then
 * prebuilds/<platform>-<arch>/). Throws an AddonLoadError that explains a failure. @internal
 */
export function loadAddon<B>(root: string, metaUrl: string): { binding: B; info: AddonInfo } {
  const require = createRequire(metaUrl);
  const override = process.env['TENSILE_ADDON'];
  let ngb: { resolve(dir: string): string } | null = null;
  if (!override) {
    try {
      ngb = require('node-gyp-build') as { resolve(dir: string): string };
    } catch (e) {
      throw new AddonLoadError(`tensile: expected its dependency node-gyp-build to be installed, got ${(e as Error).message}. Possible solution: reinstall tensile (npm install tensile)`, []);
    }
  }
  let file: string | null = null;
  let kind: AddonKind | null = null;
  try {
    if (override) {
      file = resolve(override);
      kind = 'TENSILE_ADDON';
    } else {
      file = ngb!.resolve(root);
      kind = kindOf(root, file);
    }
    const binding = require(file) as B;
    return { binding, info: { path: file, kind, manifest: kind === 'prebuild' ? readManifest(file) : null } };
  } catch (e) {
    const error = (e as Error).message ?? String(e);
    const notFound = !override && file === null;
    const manifest = file && kind === 'prebuild' ? readManifest(file) : null;
    const failure: Failure = { root, file: notFound ? null : file, kind, error, machine: thisMachine(), manifest, prebuilds: listPrebuilds(root) };
    throw new AddonLoadError(loadErrorMessage(failure), file ? [file] : []);
  }
}
