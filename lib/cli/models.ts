// The built-in models of the CLI and the examples (the Fashion-MNIST benchmark table's architectures).
import * as nn from '../nn/index.js';
import type { Module } from '../nn/module.js';

/** name -> () => Module, for 1x28x28 inputs and 10 classes */
export const MODELS: Record<string, () => Module> = {
  // "MLP 256-128-100"
  mlp: () => new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 128), new nn.ReLU(),
    new nn.Linear(128, 100), new nn.ReLU(), new nn.Linear(100, 10)),
  // the classic PyTorch-tutorial LeNet-5 (5x5 convs, 2x2 max pools), on 28x28 input with padding 2 on the first conv
  lenet5: () => new nn.Sequential(new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.ReLU(), new nn.Linear(120, 84), new nn.ReLU(), new nn.Linear(84, 10)),
  // "2 Conv+pooling": the TensorFlow docs convnet
  convnet: () => new nn.Sequential(new nn.Conv2d(1, 32, 5, { padding: 'same' }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5, { padding: 'same' }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 1024), new nn.ReLU(), new nn.Dropout(0.4), new nn.Linear(1024, 10)),
  // "2 Conv+pooling+BN"
  'convnet-bn': () => new nn.Sequential(new nn.Conv2d(1, 32, 5, { padding: 'same', bias: false }), new nn.BatchNorm2d(32), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(32, 64, 5, { padding: 'same', bias: false }), new nn.BatchNorm2d(64), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(),
    new nn.Linear(64 * 7 * 7, 1024, { bias: false }), new nn.BatchNorm1d(1024), new nn.ReLU(), new nn.Dropout(0.4), new nn.Linear(1024, 10)),
  // the Keras-style CNN of the benchmarks (93,322 parameters)
  cnn: () => new nn.Sequential(new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(32, 64, 3), new nn.ReLU(),
    new nn.MaxPool2d(2), new nn.Conv2d(64, 64, 3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(576, 64), new nn.ReLU(), new nn.Linear(64, 10)),
};
