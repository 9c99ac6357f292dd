export { ByteBPETokenizer } from './bpe.js';
export type { BPETrainOptions, BPEJson } from './bpe.js';
export { CharTokenizer } from './char.js';
export type { CharJson } from './char.js';
export { GPT2_PATTERN, readChunks, readTextFile } from './stream.js';
export type { TextSource } from './stream.js';
export type { TokenIds } from './common.js';
export { ngramCrossEntropy } from './ngram.js';
