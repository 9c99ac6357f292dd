/**
 * Classification metrics computed on the host from logits and labels, accumulated over batches.
 * @example `const m = new Accuracy(); m.update(logits, labels); await m.result()`
 */
import { ArgumentError, DTypeError, IndexError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { fmt } from '../tensor/shape.js';
import { noGrad } from '../autograd/engine.js';
import { describe, tensorArg } from '../check.js';

// logits [N, C] (C = numClasses when given) and int32 labels [N]
function batchArgs(op: string, logits: unknown, labels: unknown, numClasses?: number): [Tensor, Tensor] {
  const l = tensorArg(op, 'logits', logits), y = tensorArg(op, 'labels', labels);
  if (l.ndim !== 2 || (numClasses !== undefined && l.shape[1] !== numClasses)) {
    throw new ShapeError(`${op}: expected logits of shape [N,${numClasses ?? 'C'}], got ${fmt(l.shape)}`);
  }
  if (y.dtype !== 'int32') throw new DTypeError(`${op}: expected int32 labels, got ${y.dtype}`);
  if (y.ndim !== 1 || y.shape[0] !== l.shape[0]) throw new ShapeError(`${op}: expected labels of shape [${l.shape[0]}], got ${fmt(y.shape)}`);
  return [l, y];
}
// a label read back on the host: in [0, C)
function labelIn(op: string, v: number, C: number, i: number): number {
  if (!(v >= 0 && v < C)) throw new IndexError(`${op}: expected labels in [0, ${C}), got ${v} at sample ${i}`);
  return v;
}

export interface Metric {
  readonly name: string;
  /** queues the work for one batch (no read) @example `m.update(model.forward(x), y)` */
  update(logits: Tensor, labels: Tensor): void;
  /** waits for the queued work and returns the value @example `await m.result()` */
  result(): Promise<number>;
  /** Starts over (fit calls it each epoch). @example `m.reset()` */
  reset(): void;
}

/** Fraction of samples whose arg-max logit is the label. @example `fit(model, loader, { metrics: [new Accuracy()] })` */
export class Accuracy implements Metric {
  readonly name = 'accuracy';
  private hits: Tensor[] = [];
  private n = 0;
  update(logits: Tensor, labels: Tensor): void {
    tensorArg('Accuracy.update', 'logits', logits);
    tensorArg('Accuracy.update', 'labels', labels);
    noGrad(() => this.hits.push(logits.argmax(1).eq(labels).cast('float32').sum()));
    this.n += labels.numel;
  }
  async result(): Promise<number> {
    let s = 0;
    for (const h of this.hits) s += await h.item();
    return this.n ? s / this.n : NaN;
  }
  reset(): void {
    this.hits = [];
    this.n = 0;
  }
}

/** Fraction of samples whose label is among the k largest logits. @example `new TopKAccuracy(5)` */
export class TopKAccuracy implements Metric {
  readonly name: string;
  private batches: [Tensor, Tensor][] = [];
  constructor(readonly k: number) {
    if (!(k >= 1)) throw new ArgumentError(`TopKAccuracy: expected k >= 1, got ${k}`);
    this.name = `top${k}Accuracy`;
  }
  update(logits: Tensor, labels: Tensor): void {
    batchArgs('TopKAccuracy.update', logits, labels);
    this.batches.push([logits.detach(), labels]);
  }
  async result(): Promise<number> {
    let hit = 0, n = 0;
    for (const [l, y] of this.batches) {
      const C = l.shape[1]!;
      const lv = await l.data(), yv = await y.data();
      for (let i = 0; i < yv.length; i++) {
        const target = lv[i * C + labelIn('TopKAccuracy', yv[i]!, C, i)]!;
        let greater = 0;
        for (let c = 0; c < C; c++) if (lv[i * C + c]! > target) greater++;
        if (greater < this.k) hit++;
        n++;
      }
    }
    return n ? hit / n : NaN;
  }
  reset(): void {
    this.batches = [];
  }
}

/** Rows: true class, columns: predicted class. @example `const cm = new ConfusionMatrix(10); ...; await cm.matrix()` */
export class ConfusionMatrix {
  private batches: [Tensor, Tensor][] = [];
  constructor(readonly numClasses: number) {
    if (!(Number.isInteger(numClasses) && numClasses >= 1)) throw new ArgumentError(`ConfusionMatrix: expected numClasses to be an integer >= 1, got ${numClasses}`);
  }
  /** Queues the counts of one batch (no read); logits [N, numClasses], int32 labels [N]. @example `cm.update(model.forward(x), y)` */
  update(logits: Tensor, labels: Tensor): void {
    batchArgs('ConfusionMatrix.update', logits, labels, this.numClasses);
    this.batches.push([noGrad(() => logits.argmax(1)), labels]);
  }
  /** Waits for the queued counts and returns them, rows by true class. @example `const m = await cm.matrix()` */
  async matrix(): Promise<number[][]> {
    const C = this.numClasses;
    const m = Array.from({ length: C }, () => new Array<number>(C).fill(0));
    const reads = await Promise.all(this.batches.map(async ([p, y]) => [await p.data(), await y.data()] as const));
    // every label is checked before anything is counted: a bad batch leaves no partial counts
    reads.forEach(([, yv]) => yv.forEach((v, i) => labelIn('ConfusionMatrix', v, C, i)));
    for (const [pv, yv] of reads) for (let i = 0; i < yv.length; i++) m[yv[i]!]![pv[i]!]!++;
    return m;
  }
  /** Clears the counts. @example `cm.reset()` */
  reset(): void {
    this.batches = [];
  }
}

/** Per-class precision, recall and F1 from a confusion matrix. @example `perClass(await cm.matrix())` */
export function perClass(m: number[][]): { precision: number; recall: number; f1: number; support: number }[] {
  const n = Array.isArray(m) ? m.length : -1;
  for (let i = 0; i < n; i++) {
    const row: unknown = m[i];
    if (!Array.isArray(row) || row.length !== n || !row.every((v) => typeof v === 'number')) {
      throw new ArgumentError(`perClass: expected a square matrix of numbers (${n} rows of ${n}), got row ${i}: ${describe(row)}`);
    }
  }
  if (n < 0) throw new ArgumentError(`perClass: expected a confusion matrix (an array of rows), got ${describe(m)}`);
  return m.map((row, c) => {
    const tp = row[c]!, support = row.reduce((a, b) => a + b, 0), predicted = m.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted ? tp / predicted : 0, recall = support ? tp / support : 0;
    return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
}
