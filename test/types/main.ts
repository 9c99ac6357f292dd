// A user's script: the README's training loop, a checkpoint saved and loaded, the error classes. Type-checked by
// scripts/check-types.sh against the packed package under strict with skipLibCheck false (never run).
import { nn, optim, F, randn, randint, noGrad, manualSeed, save, load, Tensor, scope } from 'tensile';
import { TensileError, ShapeError, DTypeError, IndexError, DeviceError, MemoryError, DisposedError, ArgumentError, NativeError, CheckpointError } from 'tensile';

manualSeed(0);
const model = new nn.Sequential(
  new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Conv2d(32, 64, 3), new nn.ReLU(), new nn.MaxPool2d(2),
  new nn.Flatten(), new nn.Linear(64 * 5 * 5, 10),
);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });

for (let step = 0; step < 100; step++) {
  const x = randn([64, 1, 28, 28]), y = randint(0, 10, [64]);
  const loss = F.crossEntropy(model.forward(x), y);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  if (step % 10 === 0) console.log(step, await loss.item());
}
model.eval();
const xt = randn([256, 1, 28, 28]), yt = randint(0, 10, [256]);
const acc = noGrad(() => model.forward(xt).argmax(1).eq(yt).cast('float32').mean());
const accuracy: number = await acc.item();
console.log('accuracy', accuracy);

// a checkpoint: model + optimizer + step in one file, and back
await save({ model: model.stateDict(), optimizer: opt.stateDict(), step: 100 }, 'checkpoint.safetensors');
const state = await load('checkpoint.safetensors');
const { missing, unexpected }: { missing: string[]; unexpected: string[] } = model.loadStateDict(state['model'] as nn.StateDict);
opt.loadStateDict(state['optimizer'] as optim.OptimizerStateDict);
console.log(missing.length, unexpected.length, state['step'] as number);

// the error classes: all are TensileErrors, caught by class
const classes: (typeof TensileError)[] = [ShapeError, DTypeError, IndexError, DeviceError, MemoryError, DisposedError, ArgumentError, NativeError, CheckpointError];
try {
  model.forward(randn([3, 32, 32]));
} catch (e) {
  if (e instanceof ShapeError) console.log('shape', e.message);
  else if (e instanceof TensileError) console.log(e.name, e.message, classes.length);
  else throw e;
}
try {
  await load('missing.safetensors');
} catch (e) {
  if (!(e instanceof CheckpointError)) throw e;
}

// freeing without `using`: dispose(), the dispose symbol (declared by tensile for an ES2022 lib), scope()
const t: Tensor = randn([3]);
t.dispose();
randn([3])[Symbol.dispose]();
const kept: Tensor = await scope(async () => randn([2, 2]).exp().sum());
console.log(await kept.item(), t.isDisposed);
