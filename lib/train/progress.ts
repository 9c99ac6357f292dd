/** Progress output of fit(): a cli-progress bar on a TTY, one plain line per epoch otherwise (CI, logs). */
import cliProgress from 'cli-progress';

export type Verbosity = 0 | 1 | 2;  // quiet, default, verbose (also a line per 100 batches)

const sig4 = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));

export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  // `out` is typed by what the plain lines use, not NodeJS.WriteStream: the published progress.d.ts must check
  // without @types/node. The bar is drawn only when out.isTTY (process.stdout on a terminal: a tty.WriteStream).
  constructor(readonly verbosity: Verbosity, readonly out: { readonly isTTY?: boolean; write(chunk: string): unknown } = process.stdout) {
    this.tty = !!out.isTTY && !process.env['CI'];
  }
  epochBegin(epoch: number, epochs: number, batches: number): void {
    this.lastLine = 0;
    if (this.verbosity === 0 || !this.tty) return;
    this.bar = new cliProgress.SingleBar({
      format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | loss {loss} | {metric} | {sps} samples/s | ETA {eta_formatted}`,
      stream: this.out as NodeJS.WritableStream, hideCursor: true, clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    this.bar.start(Number.isFinite(batches) ? batches : 0, 0, { loss: '-', metric: '', sps: '-' });
  }
  private lastLoss = '-';
  private lastMetric = '';
  private lastLine = 0;
  batch(i: number, loss: number | null, metric: string, sps: number): void {
    if (loss !== null) this.lastLoss = sig4(loss);
    if (metric) this.lastMetric = metric;
    if (this.bar) this.bar.update(i, { loss: this.lastLoss, metric: this.lastMetric, sps: sps.toFixed(0) });
    else if (this.verbosity === 2 && loss !== null && Math.floor(i / 100) > Math.floor(this.lastLine / 100)) {
      // one line per 100 batches, at the first read past each hundred (reads come every logEvery batches)
      this.lastLine = i;
      this.out.write(`  batch ${i} loss ${sig4(loss)} ${sps.toFixed(0)} samples/s\n`);
    }
  }
  epochEnd(epoch: number, epochs: number, logs: Record<string, number>, seconds: number, sps: number): void {
    this.bar?.stop();
    this.bar = null;
    if (this.verbosity === 0) return;
    const parts = Object.entries(logs).map(([k, v]) => `${k} ${sig4(v)}`);
    this.out.write(`epoch ${epoch}/${epochs}: ${parts.join(', ')} (${seconds.toFixed(1)} s, ${sps.toFixed(0)} samples/s)\n`);
  }
}
