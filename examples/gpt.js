// A small GPT trained on the Jargon File (Debian's jargon-text: 1.68 MB of English prose), character by character.
// Character-level, not byte-level BPE: the loss in nats per token is then the loss per character, so bits per
// character and the exact unigram/bigram baselines compare one to one; the vocabulary (~100 symbols) keeps the
// output projection cheap, which a context of a few hundred tokens on 2 cores needs more than shorter sequences.
// AdamW with weightDecayGroups (no decay on biases, LayerNorms, embeddings), linear warm-up then cosine decay per
// step, gradient clipping at norm 1; the HTML report (per-step loss curve, validation loss per interval).
// Prints train/validation loss in nats and bits per character beside the unigram and bigram cross-entropies of
// the same validation split (counted on the train split), tokens/s, and a sample of generated text. --out gets
// report.html, history.json, result.json and checkpoint.safetensors, whose metadata (the model's options and the
// tokenizer, as `tensile train --model gpt` writes them) lets `npx tensile generate --checkpoint FILE --prompt ...`
// and `npx tensile eval --checkpoint FILE` use it.
// Run: node examples/gpt.js [--steps 500] [--batch-size 16] [--context 128] [--d-model 128] [--layers 4] [--heads 4]
//      [--lr 0.002] [--eval-every 100] [--device cpu|cuda|auto] [--out gpt-out] [--seed 0]
//      (needs `apt-get install jargon-text`; `npx tsc -p tsconfig.json` first)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as T from '../dist/index.js';

const { nn, optim, F, data, text } = T;
const flag = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d; };
const num = (n, d) => Number(flag(n, d));
const steps = num('steps', 500), bs = num('batch-size', 16), ctx = num('context', 128), seed = num('seed', 0);
const dModel = num('d-model', 128), nLayers = num('layers', 4), nHeads = num('heads', 4), lr = num('lr', 2e-3);
const evalEvery = num('eval-every', 100), device = flag('device', 'cpu'), out = flag('out', 'gpt-out');
const LN2 = Math.log(2);

// the corpus and its fixed split (the last 10% from a line start is validation)
const trainText = await data.datasets.jargonFile({ split: 'train' });
const valText = await data.datasets.jargonFile({ split: 'validation' });
const tok = text.CharTokenizer.train(trainText + valText);  // the character set of the whole file
const trainIds = tok.encode(trainText), valIds = tok.encode(valText);
const V = tok.vocabSize;
console.log(`Jargon File: ${trainIds.length.toLocaleString('en-US')} train / ${valIds.length.toLocaleString('en-US')} validation characters, ${V} symbols`);

// the count baselines on the validation split, fitted on train (add-one smoothing: the exact counts give Infinity
// for a pair train lacks) and fitted on validation itself (its exact empirical entropy, a bigram model's floor)
const uni = text.ngramCrossEntropy(trainIds, valIds, { order: 1, vocabSize: V, alpha: 1 });
const bi = text.ngramCrossEntropy(trainIds, valIds, { order: 2, vocabSize: V, alpha: 1 });
const biExact = text.ngramCrossEntropy(valIds, valIds, { order: 2, vocabSize: V });
const uniExact = text.ngramCrossEntropy(valIds, valIds, { order: 1, vocabSize: V });

T.manualSeed(seed);
const model = new nn.GPT({ vocabSize: V, contextLength: ctx, dModel, nHeads, nLayers, dropout: 0 }).to(device);
const opt = new optim.AdamW(optim.weightDecayGroups(model, { weightDecay: 0.1 }), { lr, betas: [0.9, 0.99] });
const warmup = Math.max(1, Math.round(steps / 20));
const sched = optim.warmupCosine(opt, { warmupSteps: warmup, totalSteps: steps, etaMin: lr / 10 });
console.log(`${String(model).split('\n')[0]} ${model.numParameters().toLocaleString('en-US')} parameters; ${steps} steps of ${bs} x ${ctx} tokens on ${device}`);

// random windows for training (nanoGPT's get_batch); non-overlapping windows over validation
const trainSet = new data.TokenWindowDataset(trainIds, { blockSize: ctx, samples: steps * bs });
const loader = new data.DataLoader(trainSet, { batchSize: bs, seed: seed + 1 });
const valSet = new data.TokenWindowDataset(valIds, { blockSize: ctx });
const loss = (x, y) => F.crossEntropy(model.forward(x).reshape([-1, V]), y.reshape([-1]));

// mean loss per predicted character over the first `limit` validation windows (all of them by default)
async function validate(limit = valSet.length) {
  model.eval();
  const ev = new data.DataLoader({ length: Math.min(limit, valSet.length), get: (i) => valSet.get(i) }, { batchSize: 32 });
  let s = 0, n = 0;
  await T.noGrad(async () => {
    for await (const { x, y } of ev) {
      const l = loss(x.to(device), y.to(device));
      s += (await l.item()) * x.shape[0];
      n += x.shape[0];
    }
  });
  model.train();
  return s / n;
}

const history = { epochs: [], steps: [], interrupted: false };
let step = 0, t0 = performance.now(), trainSeconds = 0, intervalLoss = 0, intervalSteps = 0, tIv = performance.now();
for await (const { x, y } of loader) {
  const l = loss(x.to(device), y.to(device));
  opt.zeroGrad();
  l.backward();
  nn.utils.clipGradNorm(model.parameters(), 1.0);
  opt.step();
  sched.step();
  step++;
  const lv = await l.item();
  const interval = Math.floor((step - 1) / evalEvery) + 1;
  history.steps.push({ epoch: interval, batch: step - (interval - 1) * evalEvery, loss: lv });
  intervalLoss += lv;
  intervalSteps++;
  if (step % evalEvery === 0 || step === steps) {
    const seconds = (performance.now() - tIv) / 1e3;
    trainSeconds += seconds;
    const val = await validate(64);  // a fixed subset of 64 windows while training; the whole split at the end
    history.epochs.push({ epoch: interval, loss: intervalLoss / intervalSteps, valLoss: val, seconds, samplesPerSecond: (intervalSteps * bs) / seconds });
    console.log(`step ${step}/${steps}: train loss ${(intervalLoss / intervalSteps).toFixed(3)}, validation (64 windows) ${val.toFixed(3)} nats; ${Math.round((intervalSteps * bs * ctx) / seconds)} tokens/s; lr ${sched.getLastLr()[0].toExponential(2)}`);
    intervalLoss = 0;
    intervalSteps = 0;
    tIv = performance.now();
  }
}
const wall = (performance.now() - t0) / 1e3;
const tokensPerSecond = (steps * bs * ctx) / trainSeconds;
const trainLoss = history.epochs.at(-1).loss;
const valLoss = await validate();
const bpc = (v) => (v / LN2).toFixed(3);
console.log(`\ntrain loss (last ${evalEvery} steps) ${trainLoss.toFixed(4)} nats = ${bpc(trainLoss)} bits/char`);
console.log(`validation loss   ${valLoss.toFixed(4)} nats = ${bpc(valLoss)} bits/char (${valSet.length} windows of ${ctx})`);
console.log(`unigram, fitted on train: ${uni.toFixed(4)} nats = ${bpc(uni)} bits/char (exact on validation itself: ${uniExact.toFixed(4)} = ${bpc(uniExact)})`);
console.log(`bigram,  fitted on train: ${bi.toFixed(4)} nats = ${bpc(bi)} bits/char (exact on validation itself: ${biExact.toFixed(4)} = ${bpc(biExact)})`);
console.log(`training ${trainSeconds.toFixed(0)} s (${Math.round(tokensPerSecond)} tokens/s), wall ${wall.toFixed(0)} s with the validations`);

mkdirSync(out, { recursive: true });
const c = model.config;
await T.save({ model: model.stateDict(), optimizer: opt.stateDict(), step: steps }, join(out, 'checkpoint.safetensors'), {
  metadata: {
    'tensile.model': JSON.stringify({ builtin: 'gpt', options: { vocabSize: V, contextLength: ctx, dModel, nHeads, nLayers, dropout: 0, tieWeights: c.tieWeights, posEncoding: c.posEncoding, dimFeedforward: c.dimFeedforward, bias: c.bias, layerNormEps: c.layerNormEps } }),
    'tensile.training': JSON.stringify({ data: 'jargon', batchSize: bs, lr, steps, step: steps, optimizerClass: 'AdamW', optimizer: 'adamw', valLoss }),
    'tensile.summary': String(model),
    'tensile.tokenizer': JSON.stringify(tok.toJSON()),
  },
});

T.manualSeed(seed);
const prompt = 'hacker: n. ';
const sampled = await model.generate(tok.encode(prompt), { maxNewTokens: 300, temperature: 0.8, topK: 20 });
const sample = tok.decode(sampled);
console.log(`\nsample (temperature 0.8, top-k 20, seed ${seed}):\n${sample}\n`);

writeFileSync(join(out, 'history.json'), JSON.stringify(history, null, 2));
await T.train.writeReport(join(out, 'report.html'), {
  title: `GPT (${nLayers} layers, ${nHeads} heads, d ${dModel}, context ${ctx}) on the Jargon File`, history, modelSummary: String(model),
  device: device === 'cpu' ? `cpu (${T.isa()})` : device,
  extra: {
    steps, 'batch size': bs, 'tokens/s': Math.round(tokensPerSecond), 'validation loss (nats)': Number(valLoss.toFixed(4)), 'validation bits/char': Number(bpc(valLoss)),
    'bigram (train-fitted) nats': Number(bi.toFixed(4)), 'unigram (train-fitted) nats': Number(uni.toFixed(4)), sample: sample.slice(0, 200),
  },
});
writeFileSync(join(out, 'result.json'), JSON.stringify({ steps, batchSize: bs, context: ctx, dModel, nLayers, nHeads, lr, parameters: model.numParameters(), trainLoss, valLoss, valBitsPerChar: valLoss / LN2, unigram: uni, bigram: bi, unigramExactOnValidation: uniExact, bigramExactOnValidation: biExact, tokensPerSecond, trainSeconds, wallSeconds: wall, sample }, null, 2));
console.log(`wrote ${join(out, 'report.html')}, history.json, result.json and checkpoint.safetensors`);
