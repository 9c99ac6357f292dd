// The export-coverage table. A test file that checks the behaviour of an export of lib/index.ts says so with
// `covers('nn.init.kaimingUniform_')` at module top level; test/api/exports.test.ts reads those calls back from the
// test sources (vitest runs each file in its own process, so the table is the source text, not memory) and fails on
// any export that neither a covers() call nor an entry of test/api/existing.ts names.
//
// Names are the dotted paths of runtime exports, as a user writes them: 'fullLike', 'nn.Linear', 'F.maxPool2dIndices',
// 'data.transforms.toUnit'. An alias (the same object under two paths, such as F.relu and nn.functional.relu) is one
// entry: covering one path covers all of them. Type-only exports have no runtime value and are not in the table.
import * as api from '../../lib/index.js';

type Namespace = Record<string, unknown>;

/** A namespace object made by `export * as ns` (its toStringTag is 'Module'). */
export function isNamespace(v: unknown): v is Namespace {
  return typeof v === 'object' && v !== null && Object.prototype.toString.call(v) === '[object Module]';
}

/** Every runtime export of lib/index.ts by dotted path, recursing into namespaces (which are not entries themselves). */
export function exportPaths(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (ns: Namespace, prefix: string) => {
    for (const k of Object.keys(ns).sort()) {
      const v = ns[k];
      if (isNamespace(v)) walk(v, `${prefix}${k}.`);
      else out.set(`${prefix}${k}`, v);
    }
  };
  walk(api as unknown as Namespace, '');
  return out;
}

/** The value at a dotted export path, or undefined. */
export function resolveExport(name: string): unknown {
  let cur: unknown = api;
  for (const part of name.split('.')) {
    if (!isNamespace(cur) || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = cur[part];
  }
  return isNamespace(cur) ? undefined : cur;
}

/**
 * Marks an export as behaviourally tested by the calling file. Call it at module top level with a string literal
 * (exports.test.ts reads the literal from the source); an unknown name throws here, so a typo fails the file.
 */
export function covers(name: string): void {
  if (resolveExport(name) === undefined) throw new Error(`covers: expected a runtime export of lib/index.ts, got '${name}'`);
}
