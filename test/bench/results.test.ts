// bench/run.js's report: how RESULTS.md judges bars and summarises the recorded runs. Records are written by hand
// here; nothing is timed.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
// @ts-expect-error bench/run.js is plain JavaScript without declarations
import { barStatus, barText, renderResults, comparableRuns, handWrittenSections } from '../../bench/run.js';

const runJs = join(__dirname, '../../bench/run.js');

const cnn = (ours: number) => ({
  group: 'train', what: 'CNN (ANCHORS) samples/s, batch 64, Adam', ours, peer: 2.3, peerName: 'tfjs cpu', unit: 'samples/s',
  ratio: ours / 2.3, ratioMeans: 'ours/tfjs; > 1 is faster than the peer', samplesOurs: 'median of 3 windows of 40 steps',
  samplesPeer: 'median of 3 calls after 1 warm-up', nOurs: 3, nPeer: 3, bar: { on: 'ours', op: '>=', value: 5000 }, noBar: '', note: '',
});
const gemm = (ratio: number) => ({
  group: 'sgemm', what: 'M=256 K=256 N=256', ours: 200 * ratio, peer: 200, peerName: 'numpy/OpenBLAS', unit: 'GFLOP/s', ratio,
  ratioMeans: 'ours/numpy; > 1 is faster than the peer', samplesOurs: 'median of 9', samplesPeer: 'median of 9', nOurs: 9, nPeer: 9,
  bar: { on: 'ratio', op: '>=', value: 0.9, floor: 0.8 }, noBar: '', note: '',
});
const dispatch = (ratio: number) => ({
  group: 'dispatch', what: 'enqueue add [16]+[16], result disposed', ours: 15 * ratio, peer: 15, peerName: 'bare N-API call', unit: 'ns/op',
  ratio, ratioMeans: 'ours/bare; <= 4 is the bar; lower is better', samplesOurs: 'median of 10 passes', samplesPeer: 'median of 10 passes',
  nOurs: 10, nPeer: 10, bar: { on: 'ratio', op: '<=', value: 4 }, noBar: '', note: '',
});
const statusQuo = {
  group: 'tfjs', what: 'Adam 10M params (status quo)', ours: 50, peer: 0.2, peerName: 'tfjs cpu', unit: 'GB/s', ratio: 250,
  ratioMeans: 'ours/tfjs; > 1 is faster than the peer', samplesOurs: "the adam row's median of 7", samplesPeer: 'median of 3 calls after 1 warm-up',
  nOurs: 7, nPeer: 3, bar: null, noBar: 'status quo', note: '',
};
const record = (date: string, rows: object[], sources = 'abc', machine = '2 x Xeon, Node v20, kernels avx512') => ({
  date, seconds: 170, commit: '1234567', dirty: false, sources, machine, quick: false, only: null, rows,
});

describe('bench/run.js report', () => {
  it('barStatus: met, MISSED, MISSED under the floor, NOT EVALUATED, no bar', () => {
    expect(barStatus(cnn(5100))).toEqual({ status: 'met', text: 'met (5100.0 >= 5000 samples/s)' });
    expect(barStatus(cnn(4990.4))).toEqual({ status: 'missed', text: '**MISSED** (4990.4 < 5000 samples/s)' });
    expect(barStatus(gemm(0.85))).toEqual({ status: 'missed', text: '**MISSED** (0.850 < 0.9)' });
    expect(barStatus(gemm(0.75))).toEqual({ status: 'missed', text: '**MISSED** (0.750 < 0.9; under the 0.8 floor)' });
    expect(barStatus({ ...gemm(1), ratio: null, peer: null })).toEqual({ status: 'unevaluated', text: '**NOT EVALUATED** (no figure from numpy/OpenBLAS)' });
    expect(barStatus(dispatch(3.6))).toEqual({ status: 'met', text: 'met (3.600 <= 4)' });
    expect(barStatus(dispatch(4.2))).toEqual({ status: 'missed', text: '**MISSED** (4.200 > 4)' });
    expect(barStatus(statusQuo)).toEqual({ status: 'none', text: 'no bar (status quo)' });
  });

  it('barStatus: a ratio that rounds to the bar (0.8996 against 0.9) shows the digits that miss it', () => {
    expect(barStatus(gemm(0.8996)).text).toBe('**MISSED** (0.8996 < 0.9)');
    expect(barStatus(gemm(0.9)).status).toBe('met');
  });

  it('barText: the bar on the ratio or on our figure, with its floor', () => {
    expect(barText(gemm(1))).toBe('ratio >= 0.9 (never < 0.8)');
    expect(barText(cnn(5000))).toBe('ours >= 5000 samples/s');
    expect(barText(dispatch(1))).toBe('ratio <= 4');
    expect(barText(statusQuo)).toBe('-');
  });

  it('renderResults: a missed bar (CNN 4990.4 < 5000) is flagged above the table and in its row', () => {
    const md: string = renderResults([record('2026-11-22T15:50:48.320Z', [dispatch(3.62), cnn(4990.4), statusQuo])]);
    expect(md).toContain('**Bars MISSED in the latest run: 1 of 2**: train CNN (ANCHORS) samples/s, batch 64, Adam (4990.4 < 5000 samples/s).');
    const line = md.split('\n').find((l) => l.startsWith('| train |'))!;
    expect(line).toContain('| ours >= 5000 samples/s | **MISSED** (4990.4 < 5000 samples/s) |');
    expect(md).not.toContain('Every bar was met');
    const ok: string = renderResults([record('2026-11-22T15:50:48.320Z', [dispatch(3.62), cnn(5100), statusQuo])]);
    expect(ok).toContain('Every bar was met in the latest run (2 of 2).');
    expect(ok).not.toContain('**MISSED** (');
    expect(ok).not.toContain('Bars MISSED');
  });

  it('renderResults: every row of the latest table states the peer, the ratio\'s direction, both sides\' samples and the bar', () => {
    const md: string = renderResults([record('2026-11-22T15:50:48.320Z', [dispatch(3.62), cnn(4990.4), gemm(0.98), statusQuo])]);
    const lines = md.split('\n');
    const head = lines.findIndex((l) => l.startsWith('| group | what is measured | ours |'));
    expect(lines[head]).toBe('| group | what is measured | ours | compared with | its value | unit | ratio | ratio means | samples: ours | samples: compared with | bar | bar met? | note |');
    const body = lines.slice(head + 2, head + 6);
    expect(body.map((l) => l.split(' | ')[0])).toEqual(['| dispatch', '| train', '| sgemm', '| tfjs']);
    expect(body[0]).toBe('| dispatch | enqueue add [16]+[16], result disposed | 54.3 | bare N-API call | 15.0 | ns/op | 3.62 | ours/bare; <= 4 is the bar; lower is better | median of 10 passes | median of 10 passes | ratio <= 4 | met (3.620 <= 4) |  |');
    expect(body[3]).toBe("| tfjs | Adam 10M params (status quo) | 50.0 | tfjs cpu | 0.200 | GB/s | 250.00 | ours/tfjs; > 1 is faster than the peer | the adam row's median of 7 | median of 3 calls after 1 warm-up | - | no bar (status quo) |  |");
  });

  it('renderResults: the ranges cover the runs of the latest one\'s sources and machine (2 of 3), with the misses counted', () => {
    const records = [
      record('2026-11-20T10:00:00.000Z', [cnn(9000)], 'old'),
      record('2026-11-22T10:00:00.000Z', [cnn(5200), gemm(0.93)]),
      record('2026-11-22T15:50:48.320Z', [cnn(4990.4), gemm(0.98)]),
    ];
    expect(comparableRuns(records).map((r: { date: string }) => r.date)).toEqual(['2026-11-22T10:00:00.000Z', '2026-11-22T15:50:48.320Z']);
    const md: string = renderResults(records);
    expect(md).toContain('2 recorded runs of these sources (fingerprint abc) on this machine, from bench/results.jsonl: 2026-11-22T10:00:00.000Z (1234567), 2026-11-22T15:50:48.320Z (1234567). 1 other recorded run (other sources, machine or mode) is left out.');
    const summary = md.slice(md.indexOf('## Over the recorded runs')).split('\n');
    expect(summary.find((l) => l.startsWith('| train |'))).toBe('| train | CNN (ANCHORS) samples/s, batch 64, Adam | tfjs cpu | samples/s | 2 | 4990.4-5200.0 | 2.30 | 2169.74-2260.87 | ours/tfjs; > 1 is faster than the peer | 3; 3 | ours >= 5000 samples/s | 1 of 2 runs; **MISSED in 1** |');
    expect(summary.find((l) => l.startsWith('| sgemm |'))).toBe('| sgemm | M=256 K=256 N=256 | numpy/OpenBLAS | GFLOP/s | 2 | 186.0-196.0 | 200.0 | 0.93-0.98 | ours/numpy; > 1 is faster than the peer | 9; 9 | ratio >= 0.9 (never < 0.8) | 2 of 2 runs |');
  });

  it('renderResults: no recorded run is an Error naming what it got', () => {
    expect(() => renderResults([])).toThrow(new Error('renderResults: expected at least one recorded run, got none'));
  });

  it('node bench/run.js --report --out DIR rewrites RESULTS.md from DIR/results.jsonl, running nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-bench-'));
    const empty = spawnSync(process.execPath, [runJs, '--report', '--out', dir], { encoding: 'utf8' });
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain(`bench/run.js --report: expected recorded runs in ${join(dir, 'results.jsonl')}, got none`);
    expect(existsSync(join(dir, 'RESULTS.md'))).toBe(false);
    const records = [record('2026-11-22T10:00:00.000Z', [cnn(5200)]), record('2026-11-22T15:50:48.320Z', [cnn(4990.4)])];
    writeFileSync(join(dir, 'results.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const r = spawnSync(process.execPath, [runJs, '--report', '--out', dir], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'RESULTS.md'), 'utf8')).toBe(renderResults(records));
  });

  it('a rewrite keeps the sections written by hand (their order and text) and drops the old generated tables', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tensile-bench-'));
    const records = [record('2026-11-22T15:50:48.320Z', [cnn(4990.4)])];
    writeFileSync(join(dir, 'results.jsonl'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const gpu = '## GPU (written by hand, 2026-12-01)\nNo GPU was lent.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n';
    const pack = '## Packaging (written by hand, 2026-12-02)\nThe tarball is 7.9 MiB.\n';
    writeFileSync(join(dir, 'RESULTS.md'), `# Benchmark results\n\n## Latest run (old)\n| stale | row |\n\n${gpu}\n${pack}\n\n`);
    expect(handWrittenSections(readFileSync(join(dir, 'RESULTS.md'), 'utf8'))).toBe(`${gpu}\n${pack}`);
    const r = spawnSync(process.execPath, [runJs, '--report', '--out', dir], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const md = readFileSync(join(dir, 'RESULTS.md'), 'utf8');
    expect(md).toBe(`${renderResults(records)}\n${gpu}\n${pack}`);
    expect(md).not.toContain('stale');
  });

  it('node bench/run.js with a wrong option (--only nope, --runs 0, --fast) exits 2 naming it', () => {
    const cases: [string[], string][] = [
      [['--only', 'nope'], '--only: expected some of dispatch,latency,train,gpt,sgemm,conv,pool,adam,memory,attention, got nope'],
      [['--runs', '0'], '--runs: expected a positive integer, got 0'],
      [['--fast'], 'expected one of --runs N, --only a,b, --quick, --record, --report, --out DIR, got --fast'],
    ];
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [runJs, ...args], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr.trim()).toBe(`bench/run.js: ${message}`);
    }
  });
});
