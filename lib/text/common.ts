// What both tokenizers share: argument checks, token-id input, special-token lists and the JSON file reading.
import { readFile, writeFile } from 'node:fs/promises';
import { ArgumentError, IndexError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { describe, isOptions } from '../check.js';

/** Token ids as decode() takes them: an array, an Int32Array, or an int32 / uint8 tensor (any shape, read in order). */
export type TokenIds = ArrayLike<number> | Tensor;

/** ids as numbers, each an integer in [0, vocabSize), or an IndexError naming the first that is not. @internal */
export function idsArg(op: string, ids: unknown, vocabSize: number): ArrayLike<number> {
  let a: ArrayLike<number>;
  if (ids instanceof Tensor) {
    if (ids.dtype !== 'int32' && ids.dtype !== 'uint8') throw new ArgumentError(`${op}: expected token ids of dtype int32 or uint8, got ${describe(ids)}`);
    a = ids.dataSync();
  } else if (Array.isArray(ids) || ids instanceof Int32Array || ids instanceof Uint32Array || ids instanceof Uint16Array || ids instanceof Uint8Array || ids instanceof Float64Array) {
    a = ids as ArrayLike<number>;
  } else {
    throw new ArgumentError(`${op}: expected token ids (an array, an Int32Array or an int32 tensor), got ${describe(ids)}`);
  }
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as unknown;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new IndexError(`${op}: expected token ids in [0, ${vocabSize}), got ${typeof v === 'number' ? v : describe(v)} at position ${i}`);
    }
  }
  return a;
}

/** The special tokens option: distinct non-empty strings. @internal */
export function specialsArg(op: string, v: unknown, key = 'specialTokens'): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new ArgumentError(`${op}: expected ${key} to be an array of strings, got ${describe(v)}`);
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw new ArgumentError(`${op}: expected ${key}[${i}] to be a non-empty string, got ${describe(s)}`);
    if (v.indexOf(s) !== i) throw new ArgumentError(`${op}: expected distinct ${key}, got '${s}' twice`);
  });
  return [...v] as string[];
}

/** The encode options: allowSpecial (default true) reads special-token strings in the text as those tokens. @internal */
export function encodeOptions(op: string, o: unknown): { allowSpecial: boolean } {
  if (o === undefined) return { allowSpecial: true };
  if (!isOptions(o)) throw new ArgumentError(`${op}: expected an options object such as { allowSpecial: false }, got ${describe(o)}`);
  const a = (o as { allowSpecial?: unknown }).allowSpecial;
  if (a !== undefined && typeof a !== 'boolean') throw new ArgumentError(`${op}: expected allowSpecial to be true or false, got ${describe(a)}`);
  return { allowSpecial: a ?? true };
}

/** A tokenizer file: read, parsed as JSON; every failure an ArgumentError naming the path. @internal */
export async function readJson(op: string, path: unknown): Promise<unknown> {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`${op}: expected a file path, got ${describe(path)}`);
  let s: string;
  try {
    s = await readFile(path, 'utf8');
  } catch (e) {
    throw new ArgumentError(`${op}: expected a readable tokenizer file at ${path}, got ${(e as Error).message}`);
  }
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new ArgumentError(`${op}: expected a JSON tokenizer file at ${path}, got ${(e as Error).message}`);
  }
}
/** @internal */
export async function writeJson(op: string, path: unknown, v: unknown): Promise<void> {
  if (typeof path !== 'string' || path === '') throw new ArgumentError(`${op}: expected a file path, got ${describe(path)}`);
  await writeFile(path, JSON.stringify(v));
}

/** The header of a tokenizer file: an object of this format and version. @internal */
export function headerArg(op: string, j: unknown, format: string, fields: string): Record<string, unknown> {
  if (!isOptions(j)) throw new ArgumentError(`${op}: expected an object { ${fields} }, got ${describe(j)}`);
  const o = j as Record<string, unknown>;
  if (o['format'] !== format) throw new ArgumentError(`${op}: expected format '${format}', got ${describe(o['format'])}`);
  if (o['version'] !== 1) throw new ArgumentError(`${op}: expected version 1, got ${describe(o['version'])}`);
  return o;
}
