// The built-in models of the CLI and the examples (the Fashion-MNIST benchmark table's architectures).
import * as nn from '../nn/index.js';
import type { GPTOptions } from '../nn/gpt.js';
import type { Module } from '../nn/module.js';
import { ArgumentError } from '../errors.js';
import { describe } from '../check.js';

/** The options of the built-in models (each takes the ones its MODEL_OPTIONS entry lists). */
export interface ModelOptions {
  /** outputs of the last layer (default 10) */
  classes?: number;
  /** mlp: the widths of the hidden layers (default [256, 128, 100]) */
  hidden?: number[];
  /** convnet, convnet-bn: the dropout probability before the last layer (default 0.4); gpt: nn.GPT's dropout */
  dropout?: number;
  /** gpt: nn.GPT's options (vocabSize is the tokenizer's: train records it, eval and generate read it back) */
  vocabSize?: number;
  contextLength?: number;
  dModel?: number;
  nHeads?: number;
  nLayers?: number;
  tieWeights?: boolean;
  posEncoding?: 'learned' | 'sinusoidal';
  dimFeedforward?: number;
  bias?: boolean;
  layerNormEps?: number;
}

/**
 * name -> (options) => Module: the classifiers take 1x28x28 inputs (10 classes unless options.classes says
 * otherwise); gpt is nn.GPT, a language model over the characters of --data (lib/cli/gpt.ts trains it)
 */
export const MODELS: Record<string, (o?: ModelOptions) => Module> = {
  // "MLP 256-128-100"
  mlp: ({ classes = 10, hidden = [256, 128, 100] } = {}) => {
    const layers: Module[] = [new nn.Flatten()];
    hidden.forEach((h, i) => layers.push(new nn.Linear(i ? hidden[i - 1]! : 784, h), new nn.ReLU()));
    return new nn.Sequential(...layers, new nn.Linear(hidden.at(-1) ?? 784, classes));
  },
  // the classic PyTorch-tutorial LeNet-5 (5x5 convs, 2x2 max pools), on 28x28 input with padding 2 on the first conv
  lenet5: ({ classes = 10 } = {}) => new nn.Sequential(new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.ReLU(), new nn.Linear(120, 84), new nn.ReLU(), new nn.Linear(84, classes)),
  // "2 Conv+pooling": the TensorFlow docs convnet
  convnet: ({ classes = 10, dropout = 0.4 } = {}) => new nn.Sequential(new nn.Conv2d(1, 32, 5, { padding: 'same' }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5, { padding: 'same' }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 1024), new nn.ReLU(), new nn.Dropout(dropout), new nn.Linear(1024, classes)),
  // "2 Conv+pooling+BN"
  'convnet-bn': ({ classes = 10, dropout = 0.4 } = {}) => new nn.Sequential(new nn.Conv2d(1, 32, 5, { padding: 'same', bias: false }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5, { padding: 'same', bias: false }), new nn.BatchNorm2d(64), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 1024, { bias: false }), new nn.BatchNorm1d(1024), new nn.ReLU(), new nn.Dropout(dropout), new nn.Linear(1024, classes)),
  // the Keras-style CNN of the benchmarks (93,322 parameters)
  cnn: ({ classes = 10 } = {}) => new nn.Sequential(new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(32, 64, 3), new nn.ReLU(),
    new nn.MaxPool2d(2), new nn.Conv2d(64, 64, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, classes)),
  // a decoder-only Transformer over characters (options recorded with the tokenizer's vocabSize)
  gpt: (o = {}) => new nn.GPT(o as GPTOptions),
};

/** The options each built-in model takes. */
export const MODEL_OPTIONS: Record<string, (keyof ModelOptions)[]> = {
  mlp: ['classes', 'hidden'], lenet5: ['classes'], convnet: ['classes', 'dropout'], 'convnet-bn': ['classes', 'dropout'], cnn: ['classes'],
  gpt: ['vocabSize', 'contextLength', 'dModel', 'nHeads', 'nLayers', 'dropout', 'tieWeights', 'posEncoding', 'dimFeedforward', 'bias', 'layerNormEps'],
};
/** The built-in language models (trained on text, not on images). */
export const TEXT_MODELS = new Set(['gpt']);

const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
const CHECKS: Record<keyof ModelOptions, [(v: unknown) => boolean, string]> = {
  classes: [posInt, 'an integer >= 1'],
  hidden: [(v) => Array.isArray(v) && v.length > 0 && v.every(posInt), 'a non-empty array of integers >= 1'],
  dropout: [(v) => typeof v === 'number' && v >= 0 && v < 1, 'a number in [0, 1)'],
  vocabSize: [posInt, 'an integer >= 1'],
  contextLength: [posInt, 'an integer >= 1'],
  dModel: [posInt, 'an integer >= 1'],
  nHeads: [posInt, 'an integer >= 1'],
  nLayers: [posInt, 'an integer >= 1'],
  dimFeedforward: [posInt, 'an integer >= 1'],
  tieWeights: [(v) => typeof v === 'boolean', 'true or false'],
  bias: [(v) => typeof v === 'boolean', 'true or false'],
  posEncoding: [(v) => v === 'learned' || v === 'sinusoidal', "'learned' or 'sinusoidal'"],
  layerNormEps: [(v) => typeof v === 'number' && v > 0 && v < Infinity, 'a number > 0'],
};

/** Builds the built-in model `name` after checking its options (`op` names the caller in errors). */
export function buildModel(name: string, options: Record<string, unknown>, op: string): Module {
  const known = MODEL_OPTIONS[name];
  if (!known || !MODELS[name]) throw new ArgumentError(`${op}: expected a built-in model (${Object.keys(MODELS).join(', ')}), got '${name}'`);
  for (const [k, v] of Object.entries(options)) {
    if (!known.includes(k as keyof ModelOptions)) {
      throw new ArgumentError(`${op}: expected options of ${name} among ${known.join(', ')}, got '${k}'`);
    }
    const [ok, what] = CHECKS[k as keyof ModelOptions];
    if (!ok(v)) throw new ArgumentError(`${op}: expected ${name}'s option ${k} to be ${what}, got ${describe(v)}`);
  }
  return MODELS[name]!(options as ModelOptions);
}
