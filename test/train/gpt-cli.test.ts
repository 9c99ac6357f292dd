// `tensile train --model gpt --data FILE`, `tensile eval` and `tensile generate` of its checkpoint (which records
// the model's options, the tokenizer and the training settings, so eval and generate need nothing else), and
// `train --resume`. Runs the CLI from dist/ (npx tsc -p tsconfig.json first).
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { nn, text, noGrad } from '../../lib/index.js';
import { loadWithMetadata } from '../../lib/io/safetensors.js';

const bin = new URL('../../bin/tensile.js', import.meta.url).pathname;
const distReady = existsSync(new URL('../../dist/cli/gpt.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tensile-gpt-cli-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, CI: 'true' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
// 300 lines of 10 words from a small vocabulary: 15 kB of text
const words = 'the quick brown fox jumps over a lazy dog and one hacker writes code at night'.split(' ');
let s = 7;
const rnd = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const corpus = Array.from({ length: 300 }, () => Array.from({ length: 10 }, () => words[Math.floor(rnd() * words.length)]).join(' ')).join('\n') + '\n';
const file = join(dir, 'tiny.txt');
writeFileSync(file, corpus);
const opts = '{"contextLength":32,"dModel":32,"nHeads":2,"nLayers":2}';
const run = join(dir, 'run');
const ckpt = join(run, 'checkpoint.safetensors');
const valLossOf = (out: string) => /validation loss (\d+\.\d+) nats/.exec(out)?.[1];

describe.skipIf(!distReady)('tensile train --model gpt', () => {
  let trainOut = '';
  beforeAll(() => {
    const r = cli(['train', '--model', 'gpt', '--data', file, '--steps', '40', '--batch-size', '8', '--lr', '0.003', '--model-options', opts, '--out', run, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    trainOut = r.stdout;
  }, 300_000);

  it('records the model options (with the tokenizer\'s vocabSize), the tokenizer and the settings in the checkpoint', async () => {
    const { metadata, state } = await loadWithMetadata(ckpt);
    const model = JSON.parse(metadata['tensile.model']!);
    const tok = text.CharTokenizer.fromJSON(JSON.parse(metadata['tensile.tokenizer']!));
    expect(tok.vocabSize).toBe(new Set(corpus).size);
    expect(model).toEqual({ builtin: 'gpt', options: { vocabSize: tok.vocabSize, contextLength: 32, dModel: 32, nHeads: 2, nLayers: 2, dropout: 0, tieWeights: true, posEncoding: 'learned', dimFeedforward: 128, bias: true, layerNormEps: 1e-5 } });
    const training = JSON.parse(metadata['tensile.training']!);
    expect(training).toMatchObject({ data: file, batchSize: 8, lr: 0.003, steps: 40, step: 40, optimizerClass: 'AdamW', interrupted: false });
    expect(state['step']).toBe(40);
    expect(Object.keys(state['model'] as object)).toContain('wte.weight');
    expect(Object.keys(state['model'] as object)).not.toContain('lm_head.weight');
    // the report and the history, one loss per step
    expect(existsSync(join(run, 'report.html'))).toBe(true);
    expect(JSON.parse(readFileSync(join(run, 'history.json'), 'utf8')).steps).toHaveLength(40);
    // training lowered the loss: the first steps are near ln V, the validation below it
    expect(Number(valLossOf(trainOut))).toBeLessThan(0.9 * Math.log(tok.vocabSize));
  });

  it('eval --checkpoint FILE reports the validation loss training reported, from the file alone', () => {
    const e = cli(['eval', '--checkpoint', ckpt]);
    expect(e.stderr).toBe('');
    expect(e.status).toBe(0);
    expect(e.stdout).toMatch(/^validation loss \d+\.\d+ nats \(\d+\.\d+ bits\) per character on \d+ windows of 32 characters of /);
    const val = corpus.slice(corpus.indexOf('\n', Math.floor(corpus.length * 0.9) - 1) + 1);
    expect(e.stdout).toContain(`on ${Math.floor((val.length - 33) / 32) + 1} windows`);
    expect(valLossOf(e.stdout)).toBe(valLossOf(trainOut));
  });

  it('generate --temperature 0 prints the greedy continuation the model gives in-process', async () => {
    const g = cli(['generate', '--checkpoint', ckpt, '--prompt', 'the quick ', '--max-new-tokens', '30', '--temperature', '0']);
    expect(g.stderr).toBe('');
    expect(g.status).toBe(0);
    const { metadata, state } = await loadWithMetadata(ckpt);
    const tok = text.CharTokenizer.fromJSON(JSON.parse(metadata['tensile.tokenizer']!));
    const m = new nn.GPT(JSON.parse(metadata['tensile.model']!).options);
    noGrad(() => m.loadStateDict(state['model'] as Record<string, never>));
    const want = tok.decode(await m.generate(tok.encode('the quick '), { maxNewTokens: 30, temperature: 0 }));
    expect(g.stdout).toBe(want + '\n');
    expect(want.startsWith('the quick ')).toBe(true);
    expect(want).toHaveLength(40);
  });

  it('generate samples the same text for the same --seed and other text for another', () => {
    const a = cli(['generate', '--checkpoint', ckpt, '--prompt', 'a ', '--max-new-tokens', '60', '--top-k', '5', '--seed', '3']);
    const b = cli(['generate', '--checkpoint', ckpt, '--prompt', 'a ', '--max-new-tokens', '60', '--top-k', '5', '--seed', '3']);
    const c = cli(['generate', '--checkpoint', ckpt, '--prompt', 'a ', '--max-new-tokens', '60', '--top-k', '5', '--seed', '4']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    expect(a.stdout).toHaveLength(63);
    expect(b.stdout).toBe(a.stdout);
    expect(c.stdout).not.toBe(a.stdout);
  });

  it('train --resume --steps 50 goes on from step 40', async () => {
    const r = cli(['train', '--resume', ckpt, '--steps', '50', '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^resumed at step 40; step 50: validation loss/);
    const { metadata, state } = await loadWithMetadata(ckpt);
    expect(state['step']).toBe(50);
    expect(JSON.parse(metadata['tensile.training']!)).toMatchObject({ steps: 50, step: 50, batchSize: 8, lr: 0.003, data: file });
    const again = cli(['train', '--resume', ckpt, '--steps', '50']);
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(`ArgumentError: train --resume: expected --steps above the 50 steps '${ckpt}' has done, got 50`);
  });

  it('names what is wrong: flags of the other kind of model, vocabSize, a missing file or prompt, a character outside the vocabulary', () => {
    const cases: [string[], string][] = [
      [['train', '--model', 'gpt', '--data', file, '--epochs', '2'], 'ArgumentError: train: expected --steps N for --model gpt (it counts optimizer steps, not epochs), got --epochs 2'],
      [['train', '--model', 'gpt', '--data', file, '--optimizer', 'sgd'], 'ArgumentError: train: expected no --optimizer for --model gpt (it trains with AdamW), got sgd'],
      [['train', '--model', 'gpt', '--data', file, '--model-options', '{"vocabSize":5}'], `ArgumentError: train: expected --model-options without vocabSize (the tokenizer's, ${new Set(corpus).size}), got 5`],
      [['train', '--model', 'gpt', '--data', join(dir, 'none.txt')], `ArgumentError: --data: expected jargon or a text file for --model gpt, got '${join(dir, 'none.txt')}'`],
      [['train', '--model', 'mlp', '--data', 'digits', '--steps', '5'], 'ArgumentError: train: expected --epochs N for mlp (--steps is for --model gpt), got --steps 5'],
      [['generate', '--checkpoint', ckpt], 'ArgumentError: generate: expected --prompt TEXT, got none'],
      [['generate', '--prompt', 'a'], 'ArgumentError: generate: expected --checkpoint FILE, got none'],
      [['generate', '--checkpoint', ckpt, '--prompt', 'a', '--temperature=-1'], "ArgumentError: --temperature: expected a number >= 0, got '-1'"],
      [['generate', '--checkpoint', ckpt, '--prompt', 'Z'], `ArgumentError: CharTokenizer.encode: expected characters of the vocabulary (${new Set(corpus).size} characters), got "Z" (U+005A)`],
    ];
    for (const [args, msg] of cases) {
      const r = cli(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr.trim()).toBe(msg);
    }
  });
});
