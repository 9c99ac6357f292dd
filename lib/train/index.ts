export { fit, evaluate, predict } from './fit.js';
export type { FitOptions, History, EpochRecord, StepRecord, Batch } from './fit.js';
export { Accuracy, TopKAccuracy, ConfusionMatrix, perClass } from './metrics.js';
export type { Metric } from './metrics.js';
export { EarlyStopping, ModelCheckpoint, LearningRateScheduler, CSVLogger } from './callbacks.js';
export type { Callback, Logs, TrainContext } from './callbacks.js';
export { renderReport, writeReport } from './report.js';
export type { ReportInput } from './report.js';
