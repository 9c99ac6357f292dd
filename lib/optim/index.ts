export { Optimizer } from './optimizer.js';
export type { OptimizerStateDict, ParamGroupSpec } from './optimizer.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { SGD } from './sgd.js';
export type { SgdOptions } from './sgd.js';
export { RMSprop, Adagrad } from './others.js';
export * as lrScheduler from './lr_scheduler.js';
export { StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR, ReduceLROnPlateau } from './lr_scheduler.js';
