// cuBLAS with a cuBLASLt that lacks one of the entry points tensile calls (cublasLtMatmul: the double of
// native/emu/doubles built without it, under build-emu/doubles/cublaslt-no-matmul): cuBLAS stays in use, only the
// fused epilogue is off, so matmul with a bias and ReLU runs cuBLAS's GEMM and then tensile's epilogue kernel, with
// the CPU's result. Its own file: the libraries are probed once per process (vitest runs each file in its own).
// Runs under TENSILE_EMULATE_CUDA=1 with the doubles built; skipped elsewhere.
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { matmul, cuda } from '../../lib/index.js';
import { binding, cudaStatus } from '../../lib/native.js';
import { randTensor, expectClose, f64 } from '../helpers.js';

const ROOT = resolve(__dirname, '../..');
const ADDON = process.env['TENSILE_ADDON'] ? resolve(process.env['TENSILE_ADDON']) : join(ROOT, 'build-emu', 'Release', 'tensile.node');
const DIR = join(dirname(dirname(ADDON)), 'doubles', 'cublaslt-no-matmul');
const CUBLAS = join(DIR, 'libcublas.so.13');
const HAVE = cudaStatus().emulated && cudaStatus().devices > 0 && existsSync(CUBLAS);
const LOG = join(tmpdir(), `tensile-cublaslt-${process.pid}.log`);
if (HAVE) {
  delete process.env['TENSILE_CUBLAS'];
  delete process.env['TENSILE_CUBLASLT'];
  process.env['TENSILE_CUBLAS_LIBRARY'] = CUBLAS;
  process.env['TENSILE_DOUBLE_LOG'] = LOG;
}

describe.skipIf(!HAVE)('a cuBLASLt without cublasLtMatmul', () => {
  it("status(): cuBLAS found, its reason names the missing symbol and the path that runs instead", () => {
    const s = cuda.status().cublas;
    expect(s.found).toBe(true);
    expect(s.path).toBe(CUBLAS);
    expect(s.reason).toBe(`cuBLASLt's fused epilogue not used: missing symbol cublasLtMatmul in ${join(DIR, 'libcublasLt.so.13')}; matmul's bias/ReLU run as tensile's kernel after the cuBLAS GEMM`);
  });

  it('[12,7] @ [7,9] + bias + ReLU float32: cuBLAS GEMM, then our epilogue kernel; cuBLASLt never called', async () => {
    const [a] = randTensor([12, 7], 1, 'float32');
    const [b] = randTensor([7, 9], 2, 'float32');
    const [bias] = randTensor([9], 3, 'float32');
    binding.cudaLibraryPaths(true);
    writeFileSync(LOG, '');
    const y = matmul(a.to('cuda'), b.to('cuda'), { bias: bias.to('cuda'), relu: true });
    await cuda.synchronize();
    const log = readFileSync(LOG, 'utf8').split('\n').filter((l) => l.length > 0);
    expect(log.filter((l) => l.startsWith('cublasLt'))).toEqual([]);
    expect(log.filter((l) => l.startsWith('cublasGemmStridedBatchedEx '))).toHaveLength(1);
    const want = matmul(a, b, { bias, relu: true });
    expectClose(await f64(y.cpu()), await f64(want), { rtol: 1e-4, atol: 1e-4 }, 'bias + ReLU');
    expect(Array.from(await f64(want)).some((v) => v === 0)).toBe(true);
    expect(binding.cudaLibraryPaths(true).map(([op, path, n]) => `${op}: ${path} x${n}`)).toEqual(['matmul: cuBLAS gemm f32 + our bias/ReLU epilogue x1']);
  });
});
