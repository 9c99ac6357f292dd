/**
 * A one-file HTML training report (inline SVG, no scripts or network): loss and accuracy curves per epoch for
 * training and validation, the confusion matrix with class names, the model summary, timing and device.
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

/** A line chart of series over epochs, as an SVG string. @internal */
export function lineChart(title: string, series: { name: string; color: string; values: number[] }[]): string {
  const W = 420, H = 240, L = 50, R = 110, T = 28, B = 34;
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let lo = Math.min(...all), hi = Math.max(...all);
  if (!all.length) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
  const x = (i: number) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (v: number) => T + ((hi - v) * (H - T - B)) / (hi - lo);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`,
    `<text x="${L}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>`,
    ...ticks.map((t) => `<text x="${L - 6}" y="${y(t) + 4}" font-size="10" text-anchor="end">${Number(t.toPrecision(3))}</text><line x1="${L}" y1="${y(t)}" x2="${W - R}" y2="${y(t)}" stroke="#eee"/>`),
    ...Array.from({ length: n }, (_, i) => `<text x="${x(i)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${i + 1}</text>`),
    `<text x="${(L + W - R) / 2}" y="${H - 4}" font-size="11" text-anchor="middle">epoch</text>`,
  ];
  series.forEach((s, k) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : null)).filter(Boolean);
    if (pts.length) parts.push(`<polyline class="series" data-name="${esc(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    pts.forEach((p) => { const [px, py] = p!.split(','); parts.push(`<circle cx="${px}" cy="${py}" r="2.5" fill="${s.color}"/>`); });
    parts.push(`<rect x="${W - R + 10}" y="${T + k * 18}" width="12" height="3" fill="${s.color}"/><text x="${W - R + 26}" y="${T + k * 18 + 5}" font-size="11">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** The confusion matrix as an SVG heat map with class names. @internal */
export function confusionChart(m: number[][], names: string[]): string {
  const n = m.length, cell = Math.max(18, Math.min(40, Math.floor(360 / n))), L = 90, T = 90;
  const W = Math.max(380, L + n * cell + 10), H = T + n * cell + 30;  // wide enough for the title
  const max = Math.max(1, ...m.flat());
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" class="confusion" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="confusion matrix">`,
    `<text x="${L}" y="14" font-size="13" font-weight="bold">Confusion matrix (rows: true, columns: predicted)</text>`];
  for (let i = 0; i < n; i++) {
    const name = esc(names[i] ?? String(i));
    parts.push(`<text x="${L - 4}" y="${T + i * cell + cell / 2 + 4}" font-size="10" text-anchor="end">${name}</text>`);
    parts.push(`<text transform="translate(${L + i * cell + cell / 2 + 3},${T - 4}) rotate(-60)" font-size="10">${name}</text>`);
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
  const charts = [lineChart('Loss', [{ name: 'train', color: '#1f77b4', values: col('loss') }, { name: 'validation', color: '#ff7f0e', values: col('valLoss') }])];
  if (accKey) charts.push(lineChart('Accuracy', [{ name: 'train', color: '#1f77b4', values: col(accKey) }, { name: 'validation', color: '#ff7f0e', values: col(`val${accKey[0]!.toUpperCase()}${accKey.slice(1)}`) }]));
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
