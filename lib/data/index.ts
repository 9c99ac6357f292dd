export { readIdx, DataError } from './idx.js';
export type { IdxArray } from './idx.js';
export { ArrayDataset, seededRandom } from './dataset.js';
export type { Dataset, IterableDataset, Sample } from './dataset.js';
export { DataLoader, defaultCollate } from './loader.js';
export type { DataLoaderOptions } from './loader.js';
export * as transforms from './transforms.js';
export * as datasets from './datasets.js';
