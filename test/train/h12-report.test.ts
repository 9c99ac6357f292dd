// The report's per-step curves (downsampled for drawing only) and the confusion matrix's layout, checked on the SVG
// text and, in headless Chromium, on the drawn geometry; the screenshots stay in a temp dir for a person to look at.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../lib/index.js';
import { bucketSteps, MAX_STEP_POINTS } from '../../lib/train/report.js';
import type { History } from '../../lib/train/fit.js';

const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

// a synthetic run: E epochs of S steps, loss falling and accuracy rising, with noise
function synth(E: number, S: number): History {
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const steps: History['steps'] = [], epochs: History['epochs'] = [];
  for (let e = 1; e <= E; e++) {
    let ls = 0, as = 0;
    for (let b = 1; b <= S; b++) {
      const t = (e - 1 + b / S) / E;
      const loss = 2.3 * Math.exp(-4 * t) + 0.1 + 0.3 * rnd() * Math.exp(-2 * t);
      const accuracy = Math.min(1, 1 - 0.9 * Math.exp(-5 * t) - 0.1 * rnd());
      steps.push({ epoch: e, batch: b, loss, accuracy });
      ls += loss; as += accuracy;
    }
    epochs.push({ epoch: e, loss: ls / S, accuracy: as / S, valLoss: (1.1 * ls) / S, valAccuracy: as / S - 0.02, seconds: 1, samplesPerSecond: 1000 });
  }
  return { epochs, steps, interrupted: false };
}
const confusion = FASHION.map((_, i) => FASHION.map((_, j) => (i === j ? 90 : (i * 7 + j * 3) % 9)));
const pointsOf = (svg: string, cls: string) => (svg.match(new RegExp(`<${cls}[^>]* points="([^"]*)"`))?.[1] ?? '').split(' ').filter(Boolean);

describe('bucketSteps (drawing only)', () => {
  it(`keeps 125 steps as they are, and makes 100,000 steps into ${MAX_STEP_POINTS} buckets with their mean, min and max`, () => {
    const few = Array.from({ length: 125 }, (_, i) => i % 7);
    expect(bucketSteps(few.map((_, i) => i), few).map((p) => [p.x, p.mean, p.min, p.max, p.count])).toEqual(few.map((v, i) => [i, v, v, v, 1]));
    const n = 100_000, vs = Array.from({ length: n }, (_, i) => (i % 10) + Math.floor(i / 1000)), xs = vs.map((_, i) => i);
    const pts = bucketSteps(xs, vs);
    expect(pts).toHaveLength(MAX_STEP_POINTS);
    expect(pts.reduce((a, p) => a + p.count, 0)).toBe(n);
    // bucket 7 covers steps [floor(7n/320), floor(8n/320)), counted here
    const from = Math.floor((7 * n) / MAX_STEP_POINTS), to = Math.floor((8 * n) / MAX_STEP_POINTS), part = vs.slice(from, to);
    expect(pts[7]!.mean).toBeCloseTo(part.reduce((a, v) => a + v, 0) / part.length, 9);
    expect([pts[7]!.min, pts[7]!.max]).toEqual([Math.min(...part), Math.max(...part)]);
    expect(pts[7]!.x).toBeCloseTo((from + to - 1) / 2, 9);
  });
  it('skips non-finite values, and leaves out a bucket of NaN only (10 steps into 5 buckets)', () => {
    const vs = [1, 3, NaN, NaN, 5, Infinity, 2, 4, 6, 8];
    const pts = bucketSteps(vs.map((_, i) => i), vs, 5);
    expect(pts.map((p) => [p.x, p.mean, p.min, p.max])).toEqual([[0.5, 2, 1, 3], [4, 5, 5, 5], [6.5, 3, 2, 4], [8.5, 7, 6, 8]]);
  });
});

describe('report with per-step curves', () => {
  it('a 1-epoch run of 125 steps draws every step under the epoch dots', () => {
    const html = train.renderReport({ history: synth(1, 125), modelSummary: 'm' });
    expect(html).not.toMatch(/<script|(?:src|href)="https?:|url\(/);
    const steps = html.match(/<polyline class="steps"[^>]*>/g) ?? [];
    expect(steps).toHaveLength(2);  // loss and accuracy
    expect(steps[0]).toContain('data-steps="125"');
    expect(pointsOf(html, 'polyline class="steps"')).toHaveLength(125);
    expect(html).not.toContain('class="band"');  // one step per point: nothing to spread
    expect((html.match(/<circle class="point"/g) ?? []).length).toBe(4);  // train and validation, loss and accuracy
  });
  it(`30 epochs x 500 steps: at most ${MAX_STEP_POINTS} points drawn, the history untouched, x labels thinned`, () => {
    const history = synth(30, 500);
    const copy = structuredClone(history);
    const html = train.renderReport({ history, modelSummary: 'm' });
    expect(history).toEqual(copy);  // history.json is written from this object: every step stays
    const drawn = pointsOf(html, 'polyline class="steps"');
    expect(drawn.length).toBeLessThanOrEqual(MAX_STEP_POINTS);
    expect(drawn.length).toBeGreaterThan(MAX_STEP_POINTS / 2);
    expect(html).toContain('data-steps="15000"');
    expect(pointsOf(html, 'polygon class="band"')).toHaveLength(2 * drawn.length);
    expect(html).toContain('epoch (15,000 steps)');
    const loss = html.slice(0, html.indexOf('aria-label="Accuracy"'));
    expect((loss.match(/class="xtick"/g) ?? []).length).toBeLessThanOrEqual(10);
    // the drawn x run from epoch 0 to 30: the first bucket near the left axis, the last near the right end
    const xs = drawn.map((p) => Number(p.split(',')[0]));
    expect(xs[0]).toBeLessThan(52);
    expect(xs.at(-1)).toBeGreaterThan(368);
  });
  it('a history without steps (steps: []) draws the per-epoch curves only, as before', () => {
    const html = train.renderReport({ history: { ...synth(3, 4), steps: [] }, modelSummary: 'm' });
    expect(html).not.toContain('class="steps"');
    expect((html.match(/<polyline class="series"/g) ?? []).length).toBe(4);
  });
  it('the confusion matrix of 10 Fashion-MNIST names is laid out from the longest one', () => {
    const svg = train.renderReport({ history: synth(1, 4), modelSummary: 'm', confusion, classNames: FASHION }).match(/<svg[^>]*class="confusion"[\s\S]*?<\/svg>/)![0];
    const T = Number(svg.match(/<rect class="cell" x="[\d.]+" y="([\d.]+)"/)![1]);
    // 'T-shirt/top': 11 characters at 10 px rise about 0.87 x 60 px above the cells, below a 24 px title
    expect(T).toBeGreaterThan(24 + 0.87 * 55);
    const short = train.renderReport({ history: synth(1, 4), modelSummary: 'm', confusion: [[1, 0], [0, 1]], classNames: ['a', 'b'] }).match(/<rect class="cell" x="[\d.]+" y="([\d.]+)"/)![1];
    expect(Number(short)).toBeLessThan(T);
  });
});

describe.skipIf(!existsSync('/usr/bin/chromium'))('report in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensile-h12-report-'));
  // the boxes of every text and drawn shape, per svg, as the browser lays them out
  type Box = { x: number; y: number; w: number; h: number };
  type Cls = { cls: string; text: string; box: Box };
  const layout = () => Array.from(document.querySelectorAll('svg')).map((svg) => {
    const b = (e: Element): Box => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
    return {
      cls: svg.getAttribute('class') ?? '', label: svg.getAttribute('aria-label') ?? '', box: b(svg),
      texts: Array.from(svg.querySelectorAll('text')).map((t) => ({ cls: t.getAttribute('class') ?? '', text: t.textContent ?? '', box: b(t) })),
      steps: Array.from(svg.querySelectorAll('polyline.steps')).map((p) => ({ drawn: (p as SVGPolylineElement).points.numberOfItems, steps: Number(p.getAttribute('data-steps')), box: b(p) })),
      series: Array.from(svg.querySelectorAll('polyline.series')).map((p) => ({ drawn: (p as SVGPolylineElement).points.numberOfItems, box: b(p) })),
    };
  });
  const meets = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  const inside = (a: Box, o: Box) => a.x >= o.x - 0.5 && a.y >= o.y - 0.5 && a.x + a.w <= o.x + o.w + 0.5 && a.y + a.h <= o.y + o.h + 0.5;
  const overlapping = (ts: Cls[]) => ts.flatMap((a, i) => ts.slice(i + 1).filter((b) => meets(a.box, b.box)).map((b) => `${a.text} / ${b.text}`));

  for (const [epochs, steps, names] of [[1, 125, FASHION], [30, 500, FASHION], [4, 50, ['a cat', 'a dog with a very long name', 'a bird']]] as const) {
    it(`${epochs} epoch(s) x ${steps} steps, ${names.length} classes: title clear of the column names, all text inside, per-step curve downsampled`, async () => {
      const { chromium } = await import('playwright-core');
      const history = synth(epochs, steps);
      const path = join(dir, `report-${epochs}x${steps}.html`);
      const n = names.length;
      await train.writeReport(path, { history, modelSummary: 'm', confusion: confusion.slice(0, n).map((r) => r.slice(0, n)), classNames: [...names] });
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(`file://${path}`);
        const svgs = await page.evaluate(layout);
        const shot = join(dir, `report-${epochs}x${steps}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        console.log(`screenshot: ${shot}`);
        const cm = svgs.find((s) => s.cls === 'confusion')!;
        const title = cm.texts.find((t) => t.cls === 'title')!;
        const cols = cm.texts.filter((t) => t.cls === 'col-label');
        expect(cols).toHaveLength(n);
        expect(cols.filter((c) => meets(c.box, title.box)).map((c) => c.text)).toEqual([]);
        expect(cm.texts.filter((t) => !inside(t.box, cm.box)).map((t) => t.text)).toEqual([]);
        for (const chart of svgs.filter((s) => s.cls === 'chart')) {
          expect(chart.texts.filter((t) => !inside(t.box, chart.box)).map((t) => t.text), chart.label).toEqual([]);
          expect(overlapping(chart.texts.filter((t) => t.cls === 'xtick')), chart.label).toEqual([]);
          expect(chart.steps).toHaveLength(1);
          const s = chart.steps[0]!;
          expect(s.steps).toBe(epochs * steps);
          expect(s.drawn).toBe(Math.min(epochs * steps, MAX_STEP_POINTS));
          expect(s.box.w).toBeGreaterThan(250);  // the curve spans the plot, not a dot
          expect(chart.series.map((p) => p.drawn)).toEqual([epochs, epochs]);
        }
        expect(history.steps).toHaveLength(epochs * steps);
      } finally {
        await browser.close();
      }
    }, 60_000);
  }
});
