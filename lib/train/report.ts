/**
 * A one-file HTML training report (inline SVG, no scripts or network): loss and accuracy curves per epoch for
 * training and validation over the per-step training curve, the confusion matrix with class names, the model
 * summary, timing and device.
 */
import { writeFile, rename } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { History } from './fit.js';
import { ArgumentError } from '../errors.js';

export interface ReportInput {
  title?: string;
  history: History;
  modelSummary: string;
  confusion?: number[][];
  classNames?: string[];
  device?: string;
  extra?: Record<string, string | number>;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const num = (v: number) => String(Number(v.toPrecision(4)));

/** Most points a per-step curve is drawn with (about one per pixel of the plot); history.json keeps every step. @internal */
export const MAX_STEP_POINTS = 320;

/** A drawn point of a per-step curve: the mean, min and max of the steps it stands for, at their mean x. @internal */
export interface StepPoint { x: number; mean: number; min: number; max: number; count: number }

/**
 * Downsamples a per-step curve for drawing: at most `maxPoints` buckets of consecutive steps, each drawn as the mean
 * of its finite values with their min and max (a band); a bucket of non-finite values only is left out. @internal
 */
export function bucketSteps(xs: readonly number[], values: readonly number[], maxPoints = MAX_STEP_POINTS): StepPoint[] {
  const n = values.length, k = Math.min(n, maxPoints), out: StepPoint[] = [];
  for (let i = 0; i < k; i++) {
    const from = Math.floor((i * n) / k), to = Math.floor(((i + 1) * n) / k);
    let s = 0, sx = 0, c = 0, lo = Infinity, hi = -Infinity;
    for (let j = from; j < to; j++) {
      const v = values[j]!;
      if (!Number.isFinite(v)) continue;
      s += v; sx += xs[j]!; c++;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (c) out.push({ x: sx / c, mean: s / c, min: lo, max: hi, count: to - from });
  }
  return out;
}

// tick values for [lo, hi]: multiples of 1, 2 or 5 times a power of ten, at most about `count` of them
function niceTicks(lo: number, hi: number, count: number, integers = false): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  let step = 10 ** Math.floor(Math.log10(span / count));
  for (const m of [1, 2, 5, 10]) if (span / (m * step) <= count) { step *= m; break; }
  if (integers) step = Math.max(1, Math.round(step));
  const out: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  return out;
}

/** A per-epoch series of a chart. @internal */
export interface EpochSeries { name: string; color: string; values: number[] }
/** The per-step curve drawn under a chart's per-epoch series: x in epochs (0 to the number of epochs). @internal */
export interface StepSeries { name: string; color: string; xs: number[]; values: number[] }

/**
 * A line chart of series over epochs, as an SVG string. With a per-step curve, the x axis runs in epochs from 0,
 * each epoch's values sit at its end, and the steps are drawn under them (downsampled to MAX_STEP_POINTS).
 * @internal
 */
export function lineChart(title: string, series: EpochSeries[], steps?: StepSeries): string {
  const W = 540, H = 250, L = 50, R = 170, T = 28, B = 36;
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const pts = steps && steps.values.length ? bucketSteps(steps.xs, steps.values) : [];
  const banded = pts.some((p) => p.count > 1);
  const all = [...series.flatMap((s) => s.values), ...pts.flatMap((p) => [p.min, p.max])].filter(Number.isFinite);
  let lo = Math.min(...all), hi = Math.max(...all);
  if (!all.length) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  // x: epochs 0..n when there are steps (epoch e's values at e), else epochs 1..n
  const x0 = steps ? 0 : 1, x1 = steps ? n : n;
  const x = (e: number) => L + (x1 === x0 ? (W - L - R) / 2 : ((e - x0) * (W - L - R)) / (x1 - x0));
  const y = (v: number) => T + ((hi - v) * (H - T - B)) / (hi - lo);
  const f1 = (v: number) => v.toFixed(1);
  const xticks = x1 === x0 ? [x0] : niceTicks(x0, x1, 8, !steps || n >= 4);
  const nSteps = steps?.values.length ?? 0;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`,
    `<text class="title" x="${L}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>`,
    ...niceTicks(lo, hi, 5).map((t) => `<text x="${L - 6}" y="${f1(y(t) + 4)}" font-size="10" text-anchor="end">${num(t)}</text><line x1="${L}" y1="${f1(y(t))}" x2="${W - R}" y2="${f1(y(t))}" stroke="#eee"/>`),
    ...xticks.map((t) => `<text class="xtick" x="${f1(x(t))}" y="${H - B + 14}" font-size="10" text-anchor="middle">${num(t)}</text>`),
    `<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${steps ? `epoch (${nSteps.toLocaleString('en-US')} steps)` : 'epoch'}</text>`,
  ];
  const legend: string[] = [];
  const key = (k: number, color: string, name: string, shape = `<rect x="${W - R + 10}" y="${T + k * 18}" width="12" height="3" fill="${color}"/>`) =>
    `${shape}<text x="${W - R + 26}" y="${T + k * 18 + 5}" font-size="11">${esc(name)}</text>`;
  if (steps && pts.length) {
    const per = nSteps % pts.length ? `~${Math.round(nSteps / pts.length)}` : String(nSteps / pts.length);
    if (banded) {
      const band = [...pts.map((p) => `${f1(x(p.x))},${f1(y(p.max))}`), ...pts.map((p) => `${f1(x(p.x))},${f1(y(p.min))}`).reverse()];
      parts.push(`<polygon class="band" fill="${steps.color}" fill-opacity="0.18" stroke="none" points="${band.join(' ')}"/>`);
    }
    parts.push(`<polyline class="steps" data-name="${esc(steps.name)}" data-steps="${nSteps}" fill="none" stroke="${steps.color}" stroke-opacity="0.75" stroke-width="1" points="${pts.map((p) => `${f1(x(p.x))},${f1(y(p.mean))}`).join(' ')}"/>`);
    legend.push(banded ? `${steps.name}, mean of ${per} steps` : `${steps.name}, per step`);
    if (banded) legend.push(`${steps.name}, min-max of steps`);
  }
  series.forEach((s) => {
    const xy = s.values.map((v, i) => (Number.isFinite(v) ? `${f1(x(i + 1))},${f1(y(v))}` : null)).filter((p): p is string => p !== null);
    if (xy.length) parts.push(`<polyline class="series" data-name="${esc(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${xy.join(' ')}"/>`);
    // a dot per epoch while dots are at least 6 px apart (past that they would draw a thick line)
    if ((W - L - R) / Math.max(1, x1 - x0) >= 6 || xy.length === 1) {
      xy.forEach((p) => { const [px, py] = p.split(','); parts.push(`<circle class="point" data-name="${esc(s.name)}" cx="${px}" cy="${py}" r="2.5" fill="${s.color}"/>`); });
    }
  });
  let k = 0;
  for (const s of series) parts.push(key(k++, s.color, s.name));
  if (steps && legend.length) {
    parts.push(key(k++, steps.color, legend[0]!, `<rect x="${W - R + 10}" y="${T + (k - 1) * 18 + 1}" width="12" height="1" fill="${steps.color}"/>`));
    if (legend[1]) parts.push(key(k++, steps.color, legend[1], `<rect x="${W - R + 10}" y="${T + (k - 1) * 18 - 3}" width="12" height="9" fill="${steps.color}" fill-opacity="0.18"/>`));
  }
  parts.push('</svg>');
  return parts.join('');
}

/**
 * The confusion matrix as an SVG heat map with class names. The layout is sized from the longest name (column
 * names are rotated 60 degrees): the title stays above the column names and everything inside the image.
 * @internal
 */
export function confusionChart(m: number[][], names: string[]): string {
  const n = m.length, cell = Math.max(18, Math.min(40, Math.floor(360 / n)));
  const label = (i: number) => names[i] ?? String(i);
  const title = 'Confusion matrix (rows: true, columns: predicted)';
  // text widths estimated from the character count, generously (about 0.55 em per character in sans-serif fonts)
  const wide = (s: string, px: number) => s.length * px * 0.62;
  const longest = Math.max(0, ...Array.from({ length: n }, (_, i) => wide(label(i), 10)));
  const titleH = 24;  // the title's baseline at 17 and its descent
  const L = Math.ceil(Math.max(30, 10 + longest));
  // a rotated name rises sin(60) of its length above its anchor (4 above the cells), its glyph height 0.5 x 12 more
  const T = Math.ceil(titleH + 6 + 4 + Math.sin(Math.PI / 3) * longest + 6);
  const W = Math.ceil(Math.max(16 + wide(title, 13), L + n * cell + 3 + Math.cos(Math.PI / 3) * longest + 12, 200));
  const H = T + n * cell + 10;
  const max = Math.max(1, ...m.flat());
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="confusion" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="confusion matrix">`,
    `<text class="title" x="8" y="17" font-size="13" font-weight="bold">${title}</text>`];
  for (let i = 0; i < n; i++) {
    const name = esc(label(i));
    parts.push(`<text class="row-label" x="${L - 4}" y="${T + i * cell + cell / 2 + 4}" font-size="10" text-anchor="end">${name}</text>`);
    parts.push(`<text class="col-label" transform="translate(${L + i * cell + cell / 2 + 3},${T - 4}) rotate(-60)" font-size="10">${name}</text>`);
    for (let j = 0; j < n; j++) {
      const v = m[i]![j]!, a = v / max;
      parts.push(`<rect class="cell" x="${L + j * cell}" y="${T + i * cell}" width="${cell}" height="${cell}" fill="rgba(31,119,180,${a.toFixed(3)})" stroke="#fff"/>`);
      if (cell >= 24) parts.push(`<text x="${L + j * cell + cell / 2}" y="${T + i * cell + cell / 2 + 4}" font-size="9" text-anchor="middle" fill="${a > 0.5 ? '#fff' : '#000'}">${v}</text>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** The report's HTML. @example `renderReport({ history, modelSummary: String(model) })` */
export function renderReport(r: ReportInput): string {
  const h = r !== null && typeof r === 'object' ? (r as { history?: unknown }).history : undefined;
  if (h === null || typeof h !== 'object' || !Array.isArray((h as { epochs?: unknown }).epochs)) {
    const got = r === null || typeof r !== 'object' ? String(r === null ? 'null' : typeof r) : h === undefined ? 'no history' : 'a history without an epochs array';
    throw new ArgumentError(`renderReport: expected { history: { epochs: [...] }, modelSummary }, got ${got}`);
  }
  const ep = r.history.epochs;
  const col = (k: string) => ep.map((e) => (typeof e[k] === 'number' ? (e[k] as number) : NaN));
  const accKey = ep.length && 'accuracy' in ep[0]! ? 'accuracy' : Object.keys(ep[0] ?? {}).find((k) => /acc/i.test(k) && !k.startsWith('val'));
  // the steps on the epoch axis: step b of epoch e at e - 1 + b / (the most batches an epoch had)
  const st = r.history.steps ?? [];
  const perEpoch = Math.max(1, ...st.map((s) => s.batch));
  const xs = st.map((s) => s.epoch - 1 + s.batch / perEpoch);
  const stepSeries = (key: 'loss' | 'accuracy'): StepSeries | undefined =>
    st.some((s) => typeof s[key] === 'number') ? { name: 'train', color: '#7f9fbf', xs, values: st.map((s) => s[key] ?? NaN) } : undefined;
  const tr = st.length ? 'train, epoch mean' : 'train';
  const charts = [lineChart('Loss', [{ name: tr, color: '#1f77b4', values: col('loss') }, { name: 'validation', color: '#ff7f0e', values: col('valLoss') }], stepSeries('loss'))];
  if (accKey) charts.push(lineChart('Accuracy', [{ name: tr, color: '#1f77b4', values: col(accKey) }, { name: 'validation', color: '#ff7f0e', values: col(`val${accKey[0]!.toUpperCase()}${accKey.slice(1)}`) }], accKey === 'accuracy' ? stepSeries('accuracy') : undefined));
  const total = ep.reduce((a, e) => a + e.seconds, 0);
  const rows = ep.map((e) => `<tr>${['epoch', ...Object.keys(e).filter((k) => k !== 'epoch')].map((k) => `<td>${typeof e[k] === 'number' ? Number((e[k] as number).toPrecision(5)) : ''}</td>`).join('')}</tr>`).join('');
  const head = ep.length ? `<tr>${['epoch', ...Object.keys(ep[0]!).filter((k) => k !== 'epoch')].map((k) => `<th>${esc(k)}</th>`).join('')}</tr>` : '';
  const facts: [string, string | number][] = [
    ['device', r.device ?? 'cpu'], ['machine', `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`], ['epochs', ep.length],
    ['training time', `${total.toFixed(1)} s`], ['interrupted', r.history.interrupted ? 'yes' : 'no'], ...Object.entries(r.extra ?? {}),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.title ?? 'tensile training report')}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}.charts{display:flex;flex-wrap:wrap;gap:16px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}</style>
</head><body>
<h1>${esc(r.title ?? 'tensile training report')}</h1>
<div class="charts">${charts.join('\n')}</div>
${r.confusion ? confusionChart(r.confusion, r.classNames ?? []) : ''}
<h2>Per epoch</h2><table>${head}${rows}</table>
<h2>Run</h2><table>${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('')}</table>
<h2>Model</h2><pre>${esc(r.modelSummary)}</pre>
</body></html>
`;
}

/** Writes the report atomically. @example `await writeReport('out/report.html', { history, modelSummary: String(model) })` */
export async function writeReport(path: string, r: ReportInput): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`writeReport: expected a file path, got ${path === '' ? 'an empty string' : typeof path}`);
  const html = renderReport(r);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, html);
  await rename(tmp, path);
}
