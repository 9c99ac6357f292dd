// Prints the README's Fashion-MNIST results table from examples/results/*.json.
import { readdirSync, readFileSync } from 'node:fs';

const BARS = { convnet: ['2 Conv+pooling', 0.916], 'convnet-bn': ['2 Conv+pooling+BN', 0.934], mlp: ['MLP 256-128-100', 0.8833] };
const dir = new URL('../examples/results/', import.meta.url);
const rows = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')))
  .filter((r) => Array.isArray(r.history));  // the classifiers' runs (gpt-jargon.json records the GPT's, quoted in README's own section)
console.log('| model | data | published | epochs | batch | optimizer | wall time | samples/s | final test accuracy | best epoch |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const [name, bar] = BARS[r.model] ?? [r.model, undefined];
  const best = r.history.reduce((a, h) => (h.testAccuracy > a.testAccuracy ? h : a));
  console.log(`| ${name} (\`${r.model}\`) | ${r.data ?? 'Fashion-MNIST'} | ${bar ?? '-'} | ${r.epochs} | ${r.batchSize} | ${r.optimizer} lr ${r.lr} | ${(r.wallSeconds / 60).toFixed(1)} min | ${r.samplesPerSecond.toFixed(0)} | **${r.finalTestAccuracy.toFixed(4)}** | ${best.testAccuracy.toFixed(4)} (epoch ${best.epoch}) |`);
}
