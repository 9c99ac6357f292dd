export { Module, Parameter, isParameter } from './module.js';
export type { StateDict } from './module.js';
export * from './layers.js';
export * as functional from './functional.js';
export * as init from './init.js';
export * as utils from './utils.js';
export { RNN, LSTM, GRU } from './recurrent.js';
export type { RNNOptions } from './recurrent.js';
