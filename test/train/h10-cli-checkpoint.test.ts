// Issue 17, command line: a checkpoint knows its model. `tensile eval --checkpoint FILE` and `tensile train --resume
// FILE` need nothing else; a --model that contradicts the checkpoint is an error naming both; `tensile inspect FILE`.
// Runs the CLI from dist/ (npx tsc -p tsconfig.json first).
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { data, evaluate, load, manualSeed, optim, save, Tensor, train as T } from '../../lib/index.js';
import { MODELS } from '../../lib/cli/models.js';
import { loadWithMetadata } from '../../lib/io/safetensors.js';

const bin = new URL('../../bin/tensile.js', import.meta.url).pathname;
const distIndex = new URL('../../dist/index.js', import.meta.url);
const distReady = existsSync(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tensile-h10-cli-'));
const elsewhere = join(dir, 'elsewhere');
mkdirSync(elsewhere);

function cli(args: string[], cwd = dir) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd, env: { ...process.env, CI: 'true' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const accuracyOf = (stdout: string) => /accuracy (\d+\.\d+)% on 2000 samples/.exec(stdout)?.[1];
const history = (out: string) => JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { epochs: { epoch: number; valAccuracy: number; loss: number }[] };

describe.skipIf(!distReady)('tensile: a checkpoint knows its model', () => {
  // one tiny run of a built-in with options: mlp with one hidden layer of 16, 128 samples = 2 batches of 64
  const run = join(dir, 'mlp');
  const ckpt = join(run, 'checkpoint.safetensors');
  beforeAll(() => {
    const r = cli(['train', '--model', 'mlp', '--model-options', '{"hidden":[16]}', '--data', 'digits', '--epochs', '1', '--limit', '128', '--out', run, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);

  it('eval --checkpoint FILE --data digits builds mlp {hidden: [16]} from the file and gets the accuracy training reported', () => {
    const e = cli(['eval', '--checkpoint', ckpt, '--data', 'digits']);
    expect(e.stderr).toBe('');
    expect(e.status).toBe(0);
    expect(accuracyOf(e.stdout)).toBe((100 * history(run).epochs[0]!.valAccuracy).toFixed(2));
    // the data set too comes from the checkpoint, and a --model that agrees with it is fine
    const e2 = cli(['eval', '--checkpoint', ckpt, '--model', 'mlp'], elsewhere);
    expect(e2.status).toBe(0);
    expect(accuracyOf(e2.stdout)).toBe(accuracyOf(e.stdout));
  });

  it('a --model or --model-options that contradicts the checkpoint is an ArgumentError naming both', () => {
    const m = cli(['eval', '--checkpoint', ckpt, '--model', 'lenet5', '--data', 'digits']);
    expect(m.status).toBe(1);
    expect(m.stderr.trim()).toBe(`ArgumentError: eval: expected --model to be the model '${ckpt}' was trained with, mlp, got lenet5; leave --model out to use the checkpoint's`);
    const o = cli(['eval', '--checkpoint', ckpt, '--model-options', '{"hidden":[32]}']);
    expect(o.status).toBe(1);
    expect(o.stderr.trim()).toBe(`ArgumentError: eval: expected --model-options to be the options '${ckpt}' was trained with, {"hidden":[16]}, got {"hidden":[32]}; leave --model-options out to use the checkpoint's`);
    const f = cli(['train', '--resume', ckpt, '--model', './net.js', '--epochs', '2']);
    expect(f.status).toBe(1);
    expect(f.stderr.trim()).toBe(`ArgumentError: train --resume: expected --model to be the model '${ckpt}' was trained with, mlp, got ./net.js (${join(dir, 'net.js')}); leave --model out to use the checkpoint's`);
  });

  it('inspect FILE prints every tensor with its dtype and shape, the plain values, and the metadata', async () => {
    const r = cli(['inspect', ckpt]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { state, metadata } = await loadWithMetadata(ckpt);
    const model = state['model'] as Record<string, Tensor>;
    const expected = MODELS['mlp']!({ hidden: [16] }).stateDict();
    expect(Object.keys(model)).toEqual(Object.keys(expected));
    const lines = r.stdout.split('\n');
    const tensorLines = lines.filter((l) => /^ {2}\S+ +(float32|float64|int32|uint8) +\[/.test(l));
    // 4 of the model, and Adam's two moments for each of its 4 parameters
    expect(tensorLines).toHaveLength(12);
    expect(lines[0]).toBe(`${ckpt}: 12 tensors, ${(3 * 4 * (16 * 784 + 16 + 10 * 16 + 10)).toLocaleString('en-US')} bytes of data`);
    for (const [k, t] of Object.entries(expected)) {
      expect(tensorLines.some((l) => l.trim().split(/ +/).join(' ') === `model.${k} float32 [${t.shape.join(', ')}]`), k).toBe(true);
    }
    expect(lines).toContain('  epoch: 1');
    expect(lines).toContain(`  tensile.model: {"builtin":"mlp","options":{"hidden":[16]}}`);
    expect(lines).toContain(`  tensile.training: ${metadata['tensile.training']}`);
    expect(JSON.parse(metadata['tensile.training']!)).toMatchObject({ data: 'digits', batchSize: 64, lr: 0.001, optimizer: 'adam', limit: 128, epoch: 1, epochs: 1 });
    expect(r.stdout).toContain(`  tensile.summary: \n    ${MODELS['mlp']!({ hidden: [16] }).toString().split('\n').join('\n    ')}`);
  });

  it('train --resume FILE --epochs 2 continues at epoch 2 with the recorded settings and optimizer state; history keeps epoch 1', async () => {
    const out = join(dir, 'resumed');
    mkdirSync(out);
    for (const f of ['checkpoint.safetensors', 'history.json', 'history.csv']) writeFileSync(join(out, f), readFileSync(join(run, f)));
    const before = history(out).epochs[0]!;
    const r = cli(['train', '--resume', join(out, 'checkpoint.safetensors'), '--epochs', '2', '--quiet'], elsewhere);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`resumed at epoch 2; `);
    expect(r.stdout).toContain(`in ${out}`);  // --out defaults to the checkpoint's directory
    const h = history(out);
    expect(h.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(h.epochs[0]).toEqual(before);
    expect(readFileSync(join(out, 'history.csv'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(',')[0])).toEqual(['epoch', '1', '2']);
    const ck = await load(join(out, 'checkpoint.safetensors')) as { epoch: number; optimizer: { state: Record<number, { step: number }> }; model: Record<string, Tensor> };
    expect(ck.epoch).toBe(2);
    expect(ck.optimizer.state[0]!.step).toBe(4);  // 2 batches per epoch on the 128 recorded samples, Adam's state carried over
    expect(Object.keys(ck.model)).toEqual(Object.keys(MODELS['mlp']!({ hidden: [16] }).stateDict()));
    // the run is done: resuming again needs more epochs; the optimizer must stay the recorded one
    const again = cli(['train', '--resume', join(out, 'checkpoint.safetensors')]);
    expect(again.status).toBe(1);
    expect(again.stderr.trim()).toBe(`ArgumentError: train --resume: expected --epochs above the 2 epochs '${join(out, 'checkpoint.safetensors')}' has done, got 2`);
    const sgd = cli(['train', '--resume', join(out, 'checkpoint.safetensors'), '--epochs', '3', '--optimizer', 'sgd']);
    expect(sgd.status).toBe(1);
    expect(sgd.stderr.trim()).toBe(`ArgumentError: train --resume: expected --optimizer to be the optimizer '${join(out, 'checkpoint.safetensors')}' was trained with, adam, got sgd; leave --optimizer out to use the checkpoint's`);
  });

  it('train --resume of a checkpoint written at Ctrl-C in epoch 1 runs epoch 1 again', async () => {
    const out = join(dir, 'interrupted');
    mkdirSync(out);
    const model = MODELS['mlp']!({ hidden: [16] });
    const ctx = { model, optimizer: new optim.Adam(model.parameters()), stopTraining: true, epoch: 1, epochs: 2 };
    await new T.ModelCheckpoint({ path: join(out, 'checkpoint.safetensors'), model: { builtin: 'mlp', options: { hidden: [16] } }, settings: { data: 'digits', limit: 64, batchSize: 64 } }).onInterrupt(ctx);
    const r = cli(['train', '--resume', join(out, 'checkpoint.safetensors'), '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('resumed at epoch 1; ');
    expect(history(out).epochs.map((e) => e.epoch)).toEqual([1, 2]);
  });

  it('a user model file: its absolute path and options are recorded and reused from another directory; a moved file may be named anew', async () => {
    const file = join(dir, 'net.mjs');
    writeFileSync(file, `import { nn } from ${JSON.stringify(distIndex.href)};
export default ({ width }) => new nn.Sequential(new nn.Flatten(), new nn.Linear(784, width), new nn.ReLU(), new nn.Linear(width, 10));\n`);
    const out = join(dir, 'user');
    const t = cli(['train', '--model', 'net.mjs', '--model-options', '{"width":8}', '--data', 'digits', '--epochs', '1', '--limit', '64', '--out', out, '--quiet']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const ckf = join(out, 'checkpoint.safetensors');
    const meta = (await loadWithMetadata(ckf)).metadata;
    expect(JSON.parse(meta['tensile.model']!)).toEqual({ file, options: { width: 8 } });
    const e = cli(['eval', '--checkpoint', ckf], elsewhere);
    expect(e.stderr).toBe('');
    expect(accuracyOf(e.stdout)).toBe((100 * history(out).epochs[0]!.valAccuracy).toFixed(2));
    const m = cli(['eval', '--checkpoint', ckf, '--model', 'mlp']);
    expect(m.status).toBe(1);
    expect(m.stderr.trim()).toBe(`ArgumentError: eval: expected --model to be the model '${ckf}' was trained with, ${file}, got mlp; leave --model out to use the checkpoint's`);
    const moved = join(elsewhere, 'net-moved.mjs');
    renameSync(file, moved);
    const gone = cli(['eval', '--checkpoint', ckf]);
    expect(gone.status).toBe(1);
    expect(gone.stderr.trim()).toBe(`ArgumentError: eval: expected the model file '${file}' that '${ckf}' records, got none there; pass --model FILE where it is now`);
    const found = cli(['eval', '--checkpoint', ckf, '--model', moved]);
    expect(found.stderr).toBe('');
    expect(accuracyOf(found.stdout)).toBe(accuracyOf(e.stdout));
  });

  it('an old checkpoint without metadata loads with --model given, and without it asks for --model', async () => {
    manualSeed(7);
    const model = MODELS['mlp']!();
    const old = join(dir, 'old.safetensors');
    // what the CLI wrote before checkpoints recorded their model
    await save({ model: model.stateDict(), optimizer: new optim.Adam(model.parameters()).stateDict(), epoch: 1 }, old);
    expect(Object.keys((await loadWithMetadata(old)).metadata)).toEqual(['format']);
    const { test } = data.datasets.digits();
    const want = await evaluate(model, new data.DataLoader(test, { batchSize: 1000, shapes: { x: test.sampleShape } }));
    const e = cli(['eval', '--checkpoint', old, '--model', 'mlp', '--data', 'digits']);
    expect(e.stderr).toBe('');
    expect(accuracyOf(e.stdout)).toBe((100 * want['accuracy']!).toFixed(2));
    const none = cli(['eval', '--checkpoint', old, '--data', 'digits']);
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(`ArgumentError: eval: expected --model NAME|FILE for '${old}', which does not record its model (written by an older tensile or another program), got none`);
  });
});
