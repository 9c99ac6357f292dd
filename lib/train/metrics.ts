/**
 * Classification metrics computed on the host from logits and labels, accumulated over batches.
 * @example `const m = new Accuracy(); m.update(logits, labels); await m.result()`
 */
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/engine.js';

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
    this.batches.push([logits.detach(), labels]);
  }
  async result(): Promise<number> {
    let hit = 0, n = 0;
    for (const [l, y] of this.batches) {
      const C = l.shape[1]!;
      const lv = await l.data(), yv = await y.data();
      for (let i = 0; i < yv.length; i++) {
        const target = lv[i * C + yv[i]!]!;
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
  constructor(readonly numClasses: number) {}
  /** Queues the counts of one batch (no read). @example `cm.update(model.forward(x), y)` */
  update(logits: Tensor, labels: Tensor): void {
    this.batches.push([noGrad(() => logits.argmax(1)), labels]);
  }
  /** Waits for the queued counts and returns them, rows by true class. @example `const m = await cm.matrix()` */
  async matrix(): Promise<number[][]> {
    const m = Array.from({ length: this.numClasses }, () => new Array<number>(this.numClasses).fill(0));
    for (const [p, y] of this.batches) {
      const pv = await p.data(), yv = await y.data();
      for (let i = 0; i < yv.length; i++) m[yv[i]!]![pv[i]!]!++;
    }
    return m;
  }
  /** Clears the counts. @example `cm.reset()` */
  reset(): void {
    this.batches = [];
  }
}

/** Per-class precision, recall and F1 from a confusion matrix. @example `perClass(await cm.matrix())` */
export function perClass(m: number[][]): { precision: number; recall: number; f1: number; support: number }[] {
  return m.map((row, c) => {
    const tp = row[c]!, support = row.reduce((a, b) => a + b, 0), predicted = m.reduce((a, r) => a + r[c]!, 0);
    const precision = predicted ? tp / predicted : 0, recall = support ? tp / support : 0;
    return { precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support };
  });
}
