/** Count-based baselines: the cross-entropy of unigram and bigram models of a token sequence. */
import { ArgumentError } from '../errors.js';
import { describe, isOptions } from '../check.js';
import { idsArg } from './common.js';

/**
 * The cross-entropy, in nats per predicted token, of a unigram (order 1) or bigram (order 2) model counted on
 * `fit` and evaluated on `evalTokens`, with add-alpha smoothing over vocabSize tokens (default alpha 0: the exact
 * maximum-likelihood counts, Infinity when evalTokens has an event fit lacks). Unigram: p(t) = (n(t) + alpha) /
 * (N + alpha V) over every token of evalTokens. Bigram: p(b | a) = (n(a, b) + alpha) / (n(a, .) + alpha V) over each
 * adjacent pair of evalTokens (its first token is not predicted), where n(a, .) counts the pairs of fit that start
 * with a. The same tokens for both give the empirical entropy of the split; divide by ln 2 for bits.
 * @example `text.ngramCrossEntropy(trainIds, valIds, { order: 2, vocabSize: tok.vocabSize, alpha: 1 })`
 */
export function ngramCrossEntropy(fit: ArrayLike<number>, evalTokens: ArrayLike<number>, o: { order: 1 | 2; vocabSize: number; alpha?: number }): number {
  const op = 'ngramCrossEntropy';
  if (!isOptions(o)) throw new ArgumentError(`${op}: expected options { order, vocabSize, alpha? }, got ${describe(o)}`);
  const V = o.vocabSize as unknown, alpha = (o.alpha ?? 0) as unknown;
  if (typeof V !== 'number' || !Number.isInteger(V) || V < 1 || V > 1 << 21) throw new ArgumentError(`${op}: expected vocabSize to be an integer in [1, ${1 << 21}], got ${typeof V === 'number' ? V : describe(V)}`);
  if (o.order !== 1 && o.order !== 2) throw new ArgumentError(`${op}: expected order 1 or 2, got ${describe(o.order)}`);
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha < Infinity)) throw new ArgumentError(`${op}: expected alpha >= 0, got ${typeof alpha === 'number' ? alpha : describe(alpha)}`);
  const a = idsArg(op, fit, V), e = idsArg(op, evalTokens, V);
  const need = o.order;
  if (a.length < need || e.length < need) throw new ArgumentError(`${op}: expected at least ${need} tokens in fit and evalTokens for order ${need}, got ${a.length} and ${e.length}`);
  let total = 0;
  if (o.order === 1) {
    const n = new Float64Array(V);
    for (let i = 0; i < a.length; i++) n[a[i]!]!++;
    const den = a.length + alpha * V;
    for (let i = 0; i < e.length; i++) total -= Math.log((n[e[i]!]! + alpha) / den);
    return total / e.length;
  }
  const pairs = new Map<number, number>(), from = new Float64Array(V);
  for (let i = 0; i + 1 < a.length; i++) {
    const k = a[i]! * V + a[i + 1]!;
    pairs.set(k, (pairs.get(k) ?? 0) + 1);
    from[a[i]!]!++;
  }
  for (let i = 0; i + 1 < e.length; i++) {
    const x = e[i]!, y = e[i + 1]!;
    const num = (pairs.get(x * V + y) ?? 0) + alpha;
    if (num === 0) return Infinity;  // an event fit lacks, unsmoothed (0 / 0 when fit has no pair from x)
    total -= Math.log(num / (from[x]! + alpha * V));
  }
  return total / (e.length - 1);
}
