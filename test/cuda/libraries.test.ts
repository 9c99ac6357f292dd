// cuBLAS and cuDNN at run time (native/cuda/cublas, native/cuda/cudnn), proven against the test doubles of
// native/emu/doubles (built with the emulated addon under build-emu/doubles): what tensile asks the libraries for
// (the doubles log every call: TENSILE_DOUBLE_LOG), the results against the CPU, the algorithm choice and its cache,
// the fallbacks, the switches, the path each op took, and cuda.status()'s messages when a library or a symbol is
// missing (in child processes, each with its own environment). Runs under TENSILE_EMULATE_CUDA=1 with the doubles
// built; skipped elsewhere.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { matmul, conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardWeightBias, cuda, Tensor, ArgumentError } from '../../lib/index.js';
import { binding, cudaStatus } from '../../lib/native.js';
import { randTensor, expectClose, f64 } from '../helpers.js';
import { covers } from '../api/coverage.js';

covers('cuda.setAllowTF32');
covers('cuda.setBenchmark');
covers('cuda.setDeterministic');

const ROOT = resolve(__dirname, '../..');
// the addon this process loaded (lib/native.ts: TENSILE_ADDON, e.g. the sanitizer build, else build-emu) and the
// doubles built beside it
const ADDON = process.env['TENSILE_ADDON'] ? resolve(process.env['TENSILE_ADDON']) : join(ROOT, 'build-emu', 'Release', 'tensile.node');
const DOUBLES = join(dirname(dirname(ADDON)), 'doubles');
const CUBLAS = join(DOUBLES, 'cublas', 'libcublas.so.13');
const CUDNN = join(DOUBLES, 'cudnn', 'libcudnn.so.9');
const HAVE = cudaStatus().emulated && cudaStatus().devices > 0 && existsSync(CUBLAS) && existsSync(CUDNN);
const LOG = join(tmpdir(), `tensile-doubles-${process.pid}.log`);
// before the first op or status() (the libraries are probed then, once per process)
if (HAVE) {
  delete process.env['TENSILE_CUBLAS'];
  delete process.env['TENSILE_CUDNN'];
  process.env['TENSILE_CUBLAS_LIBRARY'] = CUBLAS;
  process.env['TENSILE_CUDNN_LIBRARY'] = CUDNN;
  process.env['TENSILE_DOUBLE_LOG'] = LOG;
}

/** The calls the doubles got while fn ran (and its work completed), as lines. */
async function calls(fn: () => Promise<unknown> | unknown): Promise<string[]> {
  writeFileSync(LOG, '');
  await fn();
  await cuda.synchronize();
  return readFileSync(LOG, 'utf8').split('\n').filter((l) => l.length > 0);
}
/** key=value pairs of a logged call */
function args(line: string): Record<string, string> {
  return Object.fromEntries(line.split(' ').slice(1).filter((p) => p.includes('=')).map((p) => p.split('=') as [string, string]));
}
const named = (log: string[], name: string) => log.filter((l) => l.split(' ')[0] === name);
/** which paths ran since the last call: "op: path" */
function paths(): string[] {
  return binding.cudaLibraryPaths(true).map(([op, path, n]) => `${op}: ${path} x${n}`);
}

type DT = 'float32' | 'float64';
const tolFor = (dtype: DT) => (dtype === 'float32' ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-10, atol: 1e-10 });
function pair(shape: number[], seed: number, dtype: DT): [Tensor, Tensor] {
  const [t] = randTensor(shape, seed, dtype);
  return [t, t.to('cuda')];
}
async function same(g: Tensor, c: Tensor, dtype: DT, what: string): Promise<void> {
  expect(g.device, what).toBe('cuda:0');
  expect(g.shape, what).toEqual(c.shape);
  expectClose(await f64(g.cpu()), await f64(c), tolFor(dtype), what);
}

describe.skipIf(!HAVE)('cuBLAS and cuDNN through their test doubles', () => {
  beforeEach(() => {
    paths();
  });
  afterEach(() => {
    delete process.env['TENSILE_DOUBLE_FAIL'];
    delete process.env['TENSILE_DOUBLE_HUGE_WS'];
    delete process.env['TENSILE_DOUBLE_LT_NO_ALGO'];
    cuda.setAllowTF32(false);
    cuda.setBenchmark(false);
    cuda.setDeterministic(false);
  });

  it('status() reports both doubles: version, path, the files tried in order', () => {
    const s = cuda.status();
    expect(s.cublas).toEqual({
      found: true, version: 130100, path: CUBLAS, reason: '',
      tried: [join(DOUBLES, 'cublas', 'libcublasLt.so.13'), CUBLAS],
    });
    expect(s.cudnn).toEqual({
      found: true, version: 91300, path: CUDNN, reason: '',
      tried: [CUDNN, ...['graph', 'ops', 'cnn'].map((n) => join(DOUBLES, 'cudnn', `libcudnn_${n}.so.9`))],
    });
  });

  describe('matmul through cuBLAS', () => {
    // row-major C[M,N] = A[M,K] B[K,N] is column-major C^T = B^T A^T: cuBLAS's A is our B, its m is N
    it('[5,3] @ [3,7] float32: the operand swap, m/n/k, leading dimensions, the workspace', async () => {
      const [a, ag] = pair([5, 3], 1, 'float32');
      const [b, bg] = pair([3, 7], 2, 'float32');
      let y!: Tensor;
      const log = await calls(() => { y = matmul(ag, bg); });
      const g = named(log, 'cublasGemmStridedBatchedEx');
      expect(g).toHaveLength(1);
      expect(args(g[0]!)).toMatchObject({ transa: '0', transb: '0', m: '7', n: '5', k: '3', lda: '7', ldb: '3', ldc: '7', batch: '1', type: '0', computeType: '68', algo: '-1' });
      // the workspace from our allocator, set before the call: 32 MiB on compute capability 9.0 (the emulator's)
      expect(named(log, 'cublasSetWorkspace_v2').map(args)).toEqual([{ bytes: String(32 << 20), null: '0' }]);
      await same(y, matmul(a, b), 'float32', 'plain');
      expect(paths()).toEqual(['matmul: cuBLAS gemm f32 x1']);
    });

    it('[6,4] @ [4,9] float64, operands stored transposed: op T with the other stride as leading dimension', async () => {
      const [at] = pair([4, 6], 3, 'float64');  // A = at^T: unit stride along M
      const [bt] = pair([9, 4], 4, 'float64');  // B = bt^T: unit stride along N's other dim
      const atg = at.to('cuda'), btg = bt.to('cuda');
      let y!: Tensor;
      const log = await calls(() => { y = matmul(atg.t(), btg.t()); });
      const g = named(log, 'cublasGemmStridedBatchedEx').map(args);
      expect(g).toEqual([expect.objectContaining({ transa: '1', transb: '1', m: '9', n: '6', k: '4', lda: '4', ldb: '6', ldc: '9', type: '1', computeType: '70' })]);
      await same(y, matmul(at.t(), bt.t()), 'float64', 'transposed');
    });

    it('broadcast [33,19] @ batched [6,19,35]: batch strides (0 for the broadcast operand) and count; a contiguous [6,33,19] @ [19,35] folds into one GEMM of 198 rows', async () => {
      const [a, ag] = pair([33, 19], 5, 'float32');
      const [b, bg] = pair([6, 19, 35], 6, 'float32');
      let y!: Tensor;
      let log = await calls(() => { y = matmul(ag, bg); });
      // row-major C = A B as column-major C^T = B^T A^T: cuBLAS's A is our b, its B our broadcast a
      expect(named(log, 'cublasGemmStridedBatchedEx').map(args)).toEqual([expect.objectContaining({
        m: '35', n: '33', k: '19', lda: '35', strideA: String(19 * 35), ldb: '19', strideB: '0', ldc: '35', strideC: String(33 * 35), batch: '6',
      })]);
      await same(y, matmul(a, b), 'float32', 'batched');
      const [c, cg] = pair([6, 33, 19], 7, 'float32');
      const [w, wg] = pair([19, 35], 8, 'float32');
      log = await calls(() => { y = matmul(cg, wg); });
      expect(named(log, 'cublasGemmStridedBatchedEx').map(args)).toEqual([expect.objectContaining({
        m: '35', n: String(6 * 33), k: '19', lda: '35', ldb: '19', ldc: '35', batch: '1',
      })]);
      await same(y, matmul(c, w), 'float32', 'folded');
    });

    it('an operand cuBLAS cannot take (stride 0 along K: expand) and K = 0 run our kernel', async () => {
      const [col, colg] = pair([9, 1], 10, 'float32');
      const [b, bg] = pair([13, 5], 11, 'float32');
      let y!: Tensor;
      const log = await calls(() => { y = matmul(colg.expand([9, 13]), bg); });
      expect(named(log, 'cublasGemmStridedBatchedEx')).toEqual([]);
      await same(y, matmul(col.expand([9, 13]), b), 'float32', 'expanded A');
      const [e, eg] = pair([3, 0], 12, 'float32');
      const [f, fg] = pair([0, 4], 13, 'float32');
      await same(matmul(eg, fg), matmul(e, f), 'float32', 'K = 0');
      expect(paths()).toEqual(['matmul: ours (tiled GEMM) x2']);
    });

    it('TF32 only after setAllowTF32(true) (float32; float64 never)', async () => {
      const [, ag] = pair([4, 5], 14, 'float32');
      const [, bg] = pair([5, 3], 15, 'float32');
      const [, cg] = pair([4, 5], 16, 'float64');
      const [, dg] = pair([5, 3], 17, 'float64');
      const compute = async () => named(await calls(() => { matmul(ag, bg); matmul(cg, dg); }), 'cublasGemmStridedBatchedEx').map((l) => args(l)['computeType']);
      expect(await compute()).toEqual(['68', '70']);
      cuda.setAllowTF32(true);
      expect(await compute()).toEqual(['77', '70']);
      expect(paths()).toContain('matmul: cuBLAS gemm f32 (tf32) x1');
      cuda.setAllowTF32(false);
      expect(await compute()).toEqual(['68', '70']);
      expect(() => cuda.setAllowTF32(1 as unknown as boolean)).toThrow(ArgumentError);
      expect(() => cuda.setAllowTF32(1 as unknown as boolean)).toThrow('setAllowTF32: expected a boolean, got the number 1');
    });

    it('NOT_SUPPORTED from cuBLAS: our kernel runs instead, with the same result', async () => {
      process.env['TENSILE_DOUBLE_FAIL'] = 'cublasGemmStridedBatchedEx';
      const [a, ag] = pair([7, 6], 18, 'float32');
      const [b, bg] = pair([6, 5], 19, 'float32');
      let y!: Tensor;
      const log = await calls(() => { y = matmul(ag, bg); });
      expect(log).toContain('cublasGemmStridedBatchedEx -> NOT_SUPPORTED');
      await same(y, matmul(a, b), 'float32', 'fallback');
      expect(paths()).toEqual(['matmul: ours (tiled GEMM) x1']);
    });
  });

  describe("matmul's epilogue through cuBLASLt", () => {
    // the product as cuBLAS's (operand swap: cuBLASLt's A is our B, its m is N), the bias (one per column of our
    // C) one per row of cuBLASLt's m x n D, written in place over C
    const lt = (log: string[]) => log.filter((l) => l.startsWith('cublasLtMatmul computeType=')).map(args);
    const EPI = { BIAS: '4', RELU_BIAS: '6', RELU: '2' } as const;
    let seed = 100;
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [epi, withBias, relu] of [['BIAS', true, false], ['RELU_BIAS', true, true], ['RELU', false, true]] as const) {
        it(`[9,6] @ [6,13] ${dtype} ${withBias ? 'bias' : ''}${withBias && relu ? ' + ' : ''}${relu ? 'ReLU' : ''}: cublasLtMatmul with epilogue ${epi}, the descriptor and layouts, the result`, async () => {
          const s = (seed += 3);
          const [a, ag] = pair([9, 6], s, dtype);
          const [b, bg] = pair([6, 13], s + 1, dtype);
          const [bias, biasg] = pair([13], s + 2, dtype);
          let y!: Tensor;
          const log = await calls(() => { y = matmul(ag, bg, { bias: withBias ? biasg : undefined, relu }); });
          expect(named(log, 'cublasGemmStridedBatchedEx')).toEqual([]);
          const f32 = dtype === 'float32';
          expect(named(log, 'cublasLtMatmulDescCreate').map(args)).toEqual([{ computeType: f32 ? '68' : '70', scaleType: f32 ? '0' : '1' }]);
          // TRANSA, TRANSB (int32_t), EPILOGUE (uint32_t), BIAS_POINTER (a pointer): each with its type's size
          expect(named(log, 'cublasLtMatmulDescSetAttribute').map(args)).toEqual([
            { attr: '3', bytes: '4' }, { attr: '4', bytes: '4' }, { attr: '7', bytes: '4' }, ...(withBias ? [{ attr: '8', bytes: '8' }] : []),
          ]);
          // per layout: BATCH_COUNT (int32_t), STRIDED_BATCH_OFFSET (int64_t), both accepted
          expect(named(log, 'cublasLtMatrixLayoutSetAttribute')).toEqual(Array(3).fill(['cublasLtMatrixLayoutSetAttribute attr=5 bytes=4 -> 0', 'cublasLtMatrixLayoutSetAttribute attr=6 bytes=8 -> 0']).flat());
          const t = f32 ? '0' : '1';
          expect(lt(log)).toEqual([{
            computeType: f32 ? '68' : '70', scaleType: t, transa: '0', transb: '0', epilogue: EPI[epi], bias_null: withBias ? '0' : '1', biasStride: '0',
            Arows: '13', Acols: '6', ldA: '13', Abatch: '1', Astride: '0', Atype: t,
            Brows: '6', Bcols: '9', ldB: '6', Bbatch: '1', Bstride: '0', Btype: t,
            Crows: '13', Ccols: '9', ldC: '13', Cbatch: '1', Cstride: String(9 * 13), Ctype: t,
            Drows: '13', Dcols: '9', ldD: '13', Dbatch: '1', Dstride: String(9 * 13), Dtype: t,
            algo: '21', workspace: String(32 << 20), ws_null: '0', in_place: '1',
          }]);
          const want = matmul(a, b, { bias: withBias ? bias : undefined, relu });
          await same(y, want, dtype, epi);
          if (relu) expect(Array.from(await f64(want)).some((v) => v === 0)).toBe(true);
          expect(paths()).toEqual([`matmul: cuBLASLt matmul ${f32 ? 'f32' : 'f64'}, epilogue ${epi} x1`]);
        });
      }
    }

    it('batched [3,6,5] @ broadcast [5,7] + bias + ReLU float32, one operand stored transposed (batched: strides, 0 for the broadcast operand), then the other (a contiguous batch: one GEMM over its 18 rows): transposes, leading dimensions, batch count', async () => {
      const [at, atg] = pair([3, 5, 6], 130, 'float32');  // A = at^T: unit stride along M (cuBLASLt's B: op T)
      const [a, ag] = pair([3, 6, 5], 131, 'float32');
      const [b, bg] = pair([5, 7], 132, 'float32');
      const [bt, btg] = pair([7, 5], 133, 'float32');  // B = bt^T: unit stride along K (cuBLASLt's A: op T)
      const [bias, biasg] = pair([7], 134, 'float32');
      let y1!: Tensor, y2!: Tensor;
      const log = await calls(() => { y1 = matmul(atg.transpose(-2, -1), bg, { bias: biasg, relu: true }); y2 = matmul(ag, btg.t(), { bias: biasg, relu: true }); });
      const D = { epilogue: '6', bias_null: '0', biasStride: '0', Drows: '7', Dcols: '6', ldD: '7', Dbatch: '3', Dstride: '42' };
      expect(lt(log)).toEqual([
        expect.objectContaining({ ...D, transa: '0', transb: '1', Arows: '7', Acols: '5', ldA: '7', Abatch: '3', Astride: '0', Brows: '6', Bcols: '5', ldB: '6', Bbatch: '3', Bstride: '30' }),
        expect.objectContaining({ ...D, Dcols: '18', Dbatch: '1', Dstride: '126', transa: '1', transb: '0', Arows: '5', Acols: '7', ldA: '5', Abatch: '1', Brows: '5', Bcols: '18', ldB: '5', Bbatch: '1' }),
      ]);
      await same(y1, matmul(at.transpose(-2, -1), b, { bias, relu: true }), 'float32', 'A stored transposed');
      await same(y2, matmul(a, bt.t(), { bias, relu: true }), 'float32', 'B stored transposed');
      expect(paths()).toEqual(['matmul: cuBLASLt matmul f32, epilogue RELU_BIAS x2']);
    });

    it('one heuristic query per shape ([8,4] @ [4,10] + bias twice, then @ [4,11]): the preference (workspace, alignments), the algorithm it gave', async () => {
      const [a, ag] = pair([8, 4], 140, 'float32');
      const [b, bg] = pair([4, 10], 141, 'float32');
      const [c, cg] = pair([4, 11], 142, 'float32');
      const [bias, biasg] = pair([10], 143, 'float32');
      const [bias2, bias2g] = pair([11], 144, 'float32');
      let y1!: Tensor, y2!: Tensor, y3!: Tensor;
      const log = await calls(() => { y1 = matmul(ag, bg, { bias: biasg }); y2 = matmul(ag, bg, { bias: biasg }); y3 = matmul(ag, cg, { bias: bias2g }); });
      const h = named(log, 'cublasLtMatmulAlgoGetHeuristic').map(args);
      expect(h.map((q) => q['Drows'])).toEqual(['10', '11']);
      // the workspace our allocator gives cuBLAS (32 MiB on compute capability 9.0); the alignment of pointer and
      // leading dimension: 10 or 11 floats (8 or 4 bytes) for cuBLASLt's A, C and D, 4 floats (16 bytes) for its B
      expect(h.map((q) => [q['requested'], q['maxWorkspace'], q['alignA'], q['alignB'], q['alignC'], q['alignD']])).toEqual([
        ['1', String(32 << 20), '8', '16', '8', '8'],
        ['1', String(32 << 20), '4', '16', '4', '4'],
      ]);
      expect(named(log, 'cublasLtMatmulPreferenceSetAttribute').map((l) => l.split(' ').slice(1).join(' '))).toEqual(
        Array(2).fill(['attr=1 bytes=8 -> 0', 'attr=5 bytes=4 -> 0', 'attr=6 bytes=4 -> 0', 'attr=7 bytes=4 -> 0', 'attr=8 bytes=4 -> 0']).flat());
      expect(lt(log).map((l) => [l['Drows'], l['algo'], l['workspace']])).toEqual([['10', '21', String(32 << 20)], ['10', '21', String(32 << 20)], ['11', '21', String(32 << 20)]]);
      await same(y1, matmul(a, b, { bias }), 'float32', 'first');
      await same(y2, matmul(a, b, { bias }), 'float32', 'cached');
      await same(y3, matmul(a, c, { bias: bias2 }), 'float32', 'second shape');
      expect(paths()).toEqual(['matmul: cuBLASLt matmul f32, epilogue BIAS x3']);
    });

    const fallbacks = [
      ['no algorithm from the heuristic', 'TENSILE_DOUBLE_LT_NO_ALGO', '1'],
      ['NOT_SUPPORTED from the heuristic', 'TENSILE_DOUBLE_FAIL', 'cublasLtMatmulAlgoGetHeuristic'],
      ['NOT_SUPPORTED from cublasLtMatmul', 'TENSILE_DOUBLE_FAIL', 'cublasLtMatmul'],
    ] as const;
    fallbacks.forEach(([what, name, value], i) => {
      it(`${what} ([17,23] @ [23,${11 + i}] + bias + ReLU): cuBLAS's GEMM then our epilogue kernel, the same result, and that shape stays off cuBLASLt`, async () => {
        const [a, ag] = pair([17, 23], 150 + 3 * i, 'float32');
        const [b, bg] = pair([23, 11 + i], 151 + 3 * i, 'float32');
        const [bias, biasg] = pair([11 + i], 152 + 3 * i, 'float32');
        process.env[name] = value;
        let y1!: Tensor, y2!: Tensor;
        const log = await calls(() => { y1 = matmul(ag, bg, { bias: biasg, relu: true }); y2 = matmul(ag, bg, { bias: biasg, relu: true }); });
        // asked once; after a refusal from cublasLtMatmul itself, not asked to run that shape again
        expect(named(log, 'cublasLtMatmulAlgoGetHeuristic').filter((l) => !l.includes('->'))).toHaveLength(1);
        expect(lt(log)).toHaveLength(name === 'TENSILE_DOUBLE_FAIL' && value === 'cublasLtMatmul' ? 1 : 0);
        expect(named(log, 'cublasGemmStridedBatchedEx').map(args)).toEqual(Array(2).fill(expect.objectContaining({ m: String(11 + i), n: '17', k: '23' })));
        const want = matmul(a, b, { bias, relu: true });
        await same(y1, want, 'float32', what);
        await same(y2, want, 'float32', `${what}, again`);
        expect(Array.from(await f64(want)).some((v) => v === 0)).toBe(true);
        expect(paths()).toEqual(['matmul: cuBLAS gemm f32 + our bias/ReLU epilogue x2']);
      });
    });

    it('TF32 in cuBLASLt only after setAllowTF32(true) (float32; float64 never)', async () => {
      const [, ag] = pair([5, 4], 160, 'float32');
      const [, bg] = pair([4, 6], 161, 'float32');
      const [, biasg] = pair([6], 162, 'float32');
      const [, cg] = pair([5, 4], 163, 'float64');
      const [, dg] = pair([4, 6], 164, 'float64');
      const [, bias64g] = pair([6], 165, 'float64');
      const compute = async () => named(await calls(() => { matmul(ag, bg, { bias: biasg }); matmul(cg, dg, { bias: bias64g }); }), 'cublasLtMatmulDescCreate').map((l) => args(l)['computeType']);
      expect(await compute()).toEqual(['68', '70']);
      cuda.setAllowTF32(true);
      expect(await compute()).toEqual(['77', '70']);
      expect(paths()).toContain('matmul: cuBLASLt matmul f32 (tf32), epilogue BIAS x1');
      cuda.setAllowTF32(false);
      expect(await compute()).toEqual(['68', '70']);
    });
  });

  describe('conv2d through cuDNN', () => {
    const o = { stride: [2, 1] as [number, number], padding: [1, 2] as [number, number], dilation: [1, 2] as [number, number], groups: 2 };

    it('forward float64 x=[2,4,7,9] w=[6,2,3,3] s=2,1 p=1,2 d=1,2 g=2: descriptors in cuDNN\'s argument order, one query per shape', async () => {
      const [x, xg] = pair([2, 4, 7, 9], 20, 'float64');
      const [w, wg] = pair([6, 2, 3, 3], 21, 'float64');
      let y1!: Tensor, y2!: Tensor;
      const log = await calls(() => { y1 = conv2d(xg, wg, null, o); y2 = conv2d(xg, wg, null, o); });
      // dataType before format in the filter's call (the opposite of the tensor's)
      expect(named(log, 'cudnnSetFilter4dDescriptor').map(args)).toEqual(Array(2).fill({ dataType: '1', format: '0', k: '6', c: '2', h: '3', w: '3' }));
      expect(named(log, 'cudnnSetTensor4dDescriptor').map(args).slice(0, 2)).toEqual([
        { format: '0', dataType: '1', n: '2', c: '4', h: '7', w: '9' },
        { format: '0', dataType: '1', n: '2', c: '6', h: '4', w: '9' },
      ]);
      expect(args(named(log, 'cudnnSetConvolution2dDescriptor')[0]!)).toEqual({ pad: '1,2', stride: '2,1', dilation: '1,2', mode: '1', computeType: '1' });
      expect(args(named(log, 'cudnnSetConvolutionGroupCount')[0]!)).toEqual({ groups: '2' });
      expect(named(log, 'cudnnGetConvolutionForwardAlgorithm_v7')).toHaveLength(1);
      // the heuristics' first algorithm (IMPLICIT_PRECOMP_GEMM), its workspace as the size query gave it
      expect(named(log, 'cudnnGetConvolutionForwardWorkspaceSize').map(args)).toEqual([{ algo: '1' }]);
      const run = named(log, 'cudnnConvolutionForward').map(args);
      expect(run).toEqual(Array(2).fill({ algo: '1', workspace: String(1024 + 8 * 2 * 3 * 3), ws_null: '0', alpha: '1', beta: '0' }));
      const want = conv2d(x, w, null, o);
      await same(y1, want, 'float64', 'forward');
      await same(y2, want, 'float64', 'forward, cached algorithm');
      expect(paths()).toEqual(['conv2d: cuDNN forward algo 1 (IMPLICIT_PRECOMP_GEMM) x2']);
    });

    it('float32: FMA math (no TF32) unless setAllowTF32(true); bias + ReLU as our epilogue', async () => {
      const [x, xg] = pair([1, 3, 6, 5], 22, 'float32');
      const [w, wg] = pair([4, 3, 3, 3], 23, 'float32');
      const [b, bg] = pair([4], 24, 'float32');
      const math = async () => named(await calls(() => conv2d(xg, wg, bg, { padding: 1, relu: true })), 'cudnnSetConvolutionMathType').map((l) => args(l)['math']);
      expect(await math()).toEqual(['3']);
      cuda.setAllowTF32(true);
      expect(await math()).toEqual(['0']);
      cuda.setAllowTF32(false);
      await same(conv2d(xg, wg, bg, { padding: 1, relu: true }), conv2d(x, w, b, { padding: 1, relu: true }), 'float32', 'forward+bias+relu');
      expect(paths()).toEqual(['conv2d: cuDNN forward algo 1 (IMPLICIT_PRECOMP_GEMM) + our bias/ReLU epilogue x3']);
    });

    for (const dtype of ['float32', 'float64'] as const) {
      it(`backward data and filter ${dtype} x=[2,4,7,9] w=[6,2,3,3] s=2,1 p=1,2 d=1,2 g=2: results, algorithms, determinism`, async () => {
        const [x, xg] = pair([2, 4, 7, 9], 25, dtype);
        const [w, wg] = pair([6, 2, 3, 3], 26, dtype);
        const [dy, dyg] = pair([2, 6, 4, 9], 27, dtype);
        const algos = async (det: boolean) => {
          cuda.setDeterministic(det);
          let dx!: Tensor, dw!: Tensor, db!: Tensor;
          const log = await calls(() => { dx = conv2dBackwardInput(dyg, wg, [2, 4, 7, 9], o); [dw, db] = conv2dBackwardWeightBias(dyg, xg, [6, 2, 3, 3], o); });
          await same(dx, conv2dBackwardInput(dy, w, [2, 4, 7, 9], o), dtype, `dx det=${det}`);
          const [cw, cb] = conv2dBackwardWeightBias(dy, x, [6, 2, 3, 3], o);
          await same(dw, cw, dtype, `dw det=${det}`);
          await same(db, cb, dtype, `db det=${det}`);
          return [...named(log, 'cudnnConvolutionBackwardData'), ...named(log, 'cudnnConvolutionBackwardFilter')].map((l) => `${l.split(' ')[0]} algo=${args(l)['algo']} ws=${args(l)['workspace']}`);
        };
        // the heuristics' first entries are non-deterministic (ALGO_0); setDeterministic(true) skips them
        expect(await algos(false)).toEqual(['cudnnConvolutionBackwardData algo=0 ws=0', 'cudnnConvolutionBackwardFilter algo=0 ws=0']);
        expect(await algos(true)).toEqual(['cudnnConvolutionBackwardData algo=1 ws=2048', 'cudnnConvolutionBackwardFilter algo=1 ws=4096']);
        expect(paths()).toEqual([
          'conv2d_bwd_input: cuDNN backward data algo 0 (ALGO_0) x1', 'conv2d_bwd_input: cuDNN backward data algo 1 (ALGO_1) x1',
          'conv2d_bwd_weight: cuDNN backward filter algo 0 (ALGO_0) + our bias gradient x1',
          'conv2d_bwd_weight: cuDNN backward filter algo 1 (ALGO_1) + our bias gradient x1',
        ]);
      });
    }

    it('setBenchmark(true): cudnnFind once per shape, its fastest algorithm', async () => {
      const [x, xg] = pair([1, 2, 5, 6], 28, 'float32');
      const [w, wg] = pair([3, 2, 2, 2], 29, 'float32');
      cuda.setBenchmark(true);
      let y!: Tensor;
      const log = await calls(() => { y = conv2d(xg, wg); conv2d(xg, wg); conv2dBackwardWeight(conv2d(xg, wg), xg, [3, 2, 2, 2]); });
      expect(named(log, 'cudnnGetConvolutionForwardAlgorithm_v7')).toEqual([]);
      expect(named(log, 'cudnnFindConvolutionForwardAlgorithm')).toHaveLength(1);
      expect(named(log, 'cudnnFindConvolutionBackwardFilterAlgorithm')).toHaveLength(1);
      expect(named(log, 'cudnnConvolutionForward').map((l) => args(l)['algo'])).toEqual(['0', '0', '0']);
      expect(named(log, 'cudnnConvolutionBackwardFilter').map((l) => args(l)['algo'])).toEqual(['3']);
      await same(y, conv2d(x, w), 'float32', 'benchmarked forward');
    });

    it('an algorithm whose workspace does not fit (2^48 bytes) falls back to the next one that does', async () => {
      process.env['TENSILE_DOUBLE_HUGE_WS'] = '1';
      const [x, xg] = pair([1, 3, 5, 5], 30, 'float32');
      const [w, wg] = pair([2, 3, 3, 3], 31, 'float32');
      let y!: Tensor;
      const log = await calls(() => { y = conv2d(xg, wg); });
      expect(named(log, 'cudnnGetConvolutionForwardWorkspaceSize').map((l) => args(l)['algo'])).toEqual(['1', '0']);
      expect(named(log, 'cudnnConvolutionForward').map(args)).toEqual([expect.objectContaining({ algo: '0', workspace: '0' })]);
      await same(y, conv2d(x, w), 'float32', 'forward with the second algorithm');
    });

    it('NOT_SUPPORTED from cuDNN: ours runs, and that shape stays on ours (no second query or call)', async () => {
      process.env['TENSILE_DOUBLE_FAIL'] = 'cudnnConvolutionForward';
      const [x, xg] = pair([2, 2, 6, 4], 32, 'float64');
      const [w, wg] = pair([3, 2, 1, 3], 33, 'float64');
      let y1!: Tensor, y2!: Tensor;
      const log = await calls(() => { y1 = conv2d(xg, wg); y2 = conv2d(xg, wg); });
      expect(named(log, 'cudnnGetConvolutionForwardAlgorithm_v7')).toHaveLength(1);
      expect(log.filter((l) => l.startsWith('cudnnConvolutionForward'))).toEqual(['cudnnConvolutionForward algo=1 workspace=1072 ws_null=0 alpha=1 beta=0', 'cudnnConvolutionForward -> NOT_SUPPORTED']);
      await same(y1, conv2d(x, w), 'float64', 'fallback');
      await same(y2, conv2d(x, w), 'float64', 'fallback, cached');
      expect(paths()).toEqual(['conv2d: ours (implicit GEMM) x2']);
    });
  });

  describe('status messages (child processes, each with its own environment)', () => {
    /** cuda libraries as a fresh process with env sees them (the addon alone: no TypeScript needed) */
    function probe(env: Record<string, string | undefined>): ReturnType<typeof binding.cudaLibraries> {
      const e: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TENSILE_CU') && k !== 'LD_LIBRARY_PATH') e[k] = v;
      for (const [k, v] of Object.entries(env)) if (v !== undefined) e[k] = v;
      const out = execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(ADDON)}).cudaLibraries()))`], { env: e, encoding: 'utf8' });
      return JSON.parse(out);
    }

    it('TENSILE_CUBLAS=0 / TENSILE_CUDNN=0: disabled, nothing tried', () => {
      const s = probe({ TENSILE_CUBLAS: '0', TENSILE_CUDNN: '0', TENSILE_CUBLAS_LIBRARY: CUBLAS, TENSILE_CUDNN_LIBRARY: CUDNN });
      expect(s.cublas).toEqual({ found: false, version: 0, path: '', reason: 'disabled by TENSILE_CUBLAS=0', tried: [] });
      expect(s.cudnn).toEqual({ found: false, version: 0, path: '', reason: 'disabled by TENSILE_CUDNN=0', tried: [] });
    });

    it('nothing set and none installed: not found, with the sonames tried (13 before 12, 9 before 8)', () => {
      const s = probe({});
      expect(s.cublas.found).toBe(false);
      expect(s.cublas.reason).toBe("cuBLAS not found (libcublasLt.so.13/.12 and libcublas.so.13/.12 in the loader's path, the CUDA toolkit and Python's nvidia/ wheels); set TENSILE_CUBLAS_LIBRARY to the full path of libcublas.so.N");
      expect(s.cublas.tried[0]).toBe('libcublasLt.so.13');
      expect(s.cublas.tried.indexOf('libcublasLt.so.12')).toBeGreaterThan(0);
      expect(s.cudnn.reason).toBe("cuDNN not found (libcudnn.so.9/.8 in the loader's path, the CUDA toolkit and Python's nvidia/ wheels); set TENSILE_CUDNN_LIBRARY to the full path of libcudnn.so.N");
      expect(s.cudnn.tried[0]).toBe('libcudnn.so.9');
      expect(s.cudnn.tried.indexOf('libcudnn.so.8')).toBeGreaterThan(0);
    });

    it('a library without one of the symbols tensile needs is refused, naming the symbol', () => {
      const lib = join(DOUBLES, 'cublas-no-gemm', 'libcublas.so.13');
      const s = probe({ TENSILE_CUBLAS_LIBRARY: lib });
      expect(s.cublas.found).toBe(false);
      expect(s.cublas.reason).toBe(`TENSILE_CUBLAS_LIBRARY=${lib}: missing symbol cublasGemmStridedBatchedEx in ${lib}`);
    });

    it('a cuBLASLt without cublasLtMatmul, or TENSILE_CUBLASLT=0: cuBLAS still found, only the fused epilogue off, the reason says why', () => {
      const dir = join(DOUBLES, 'cublaslt-no-matmul');
      const lib = join(dir, 'libcublas.so.13');
      const s = probe({ TENSILE_CUBLAS_LIBRARY: lib });
      const after = "; matmul's bias/ReLU run as tensile's kernel after the cuBLAS GEMM";
      expect(s.cublas).toEqual({
        found: true, version: 130100, path: lib, tried: [join(dir, 'libcublasLt.so.13'), lib],
        reason: `cuBLASLt's fused epilogue not used: missing symbol cublasLtMatmul in ${join(dir, 'libcublasLt.so.13')}${after}`,
      });
      const off = probe({ TENSILE_CUBLAS_LIBRARY: CUBLAS, TENSILE_CUBLASLT: '0' });
      expect(off.cublas).toMatchObject({ found: true, path: CUBLAS, reason: `cuBLASLt's fused epilogue not used: disabled by TENSILE_CUBLASLT=0${after}` });
    });

    it('TENSILE_CUBLAS_LIBRARY / TENSILE_CUDNN_LIBRARY naming a file that is not a library, or nothing', () => {
      const bad = join(ROOT, 'package.json');
      const s = probe({ TENSILE_CUBLAS_LIBRARY: bad, TENSILE_CUDNN_LIBRARY: '/nonexistent/libcudnn.so.9' });
      expect(s.cublas.reason).toMatch(new RegExp(`^TENSILE_CUBLAS_LIBRARY=${bad}: .*package\\.json: invalid ELF header$`));
      expect(s.cublas.tried).toEqual([bad]);
      expect(s.cudnn.reason).toBe('TENSILE_CUDNN_LIBRARY=/nonexistent/libcudnn.so.9: /nonexistent/libcudnn.so.9: cannot open shared object file: No such file or directory');
    });

    it('a library built for another CUDA major is refused, naming both', () => {
      const cublas12 = join(DOUBLES, 'cublas-cuda12', 'libcublas.so.12');
      const cudnn12 = join(DOUBLES, 'cudnn-cuda12', 'libcudnn.so.9');
      const s = probe({ TENSILE_CUBLAS_LIBRARY: cublas12, TENSILE_CUDNN_LIBRARY: cudnn12 });
      expect(s.cublas.reason).toBe(`TENSILE_CUBLAS_LIBRARY=${cublas12}: cuBLAS 12.1.0 at ${cublas12} is built for CUDA 12, this build of tensile uses the CUDA 13 runtime (install libcublas.so.13)`);
      expect(s.cudnn.reason).toBe(`TENSILE_CUDNN_LIBRARY=${cudnn12}: cuDNN 9.13.0 at ${cudnn12} is built for CUDA 12, this build of tensile uses the CUDA 13 runtime (install cuDNN for CUDA 13)`);
    });

    it('a cuDNN 9 without one of its sub-libraries is refused before first use (the shim would abort)', () => {
      const lib = join(DOUBLES, 'cudnn-no-cnn', 'libcudnn.so.9');
      const s = probe({ TENSILE_CUDNN_LIBRARY: lib });
      expect(s.cudnn.found).toBe(false);
      const cnn = join(DOUBLES, 'cudnn-no-cnn', 'libcudnn_cnn.so.9');
      expect(s.cudnn.reason).toBe(`TENSILE_CUDNN_LIBRARY=${lib}: cuDNN 9.13.0 at ${lib} lacks its sub-library ${cnn} (${cnn}: cannot open shared object file: No such file or directory); cuDNN would abort the process at first use`);
      expect(s.cudnn.tried.at(-1)).toBe(cnn);
    });
  });
});
