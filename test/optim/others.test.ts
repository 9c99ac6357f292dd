import { describe, it } from 'vitest';
import { tensor, optim } from '../../lib/index.js';
import { randArray, expectClose, f64 } from '../helpers.js';

// References from torch.optim's algorithm boxes, float64 on the host.
function run(make: (p: ReturnType<typeof tensor>) => optim.Optimizer<{ lr: number }>, steps: number, init: Float64Array, grads: Float64Array[]) {
  const p = tensor(init, { dtype: 'float64' }).requiresGrad_();
  const opt = make(p);
  for (let t = 0; t < steps; t++) {
    p.grad = tensor(grads[t]!, { dtype: 'float64' });
    opt.step();
  }
  return p;
}

describe('RMSprop and Adagrad against references', () => {
  const n = 50, steps = 15;
  const init = randArray(n, 1), grads = Array.from({ length: steps }, (_, t) => randArray(n, 10 + t));
  for (const [centered, momentum, wd] of [[false, 0, 0], [true, 0.9, 0.01]] as const) {
    it(`RMSprop centered=${centered} momentum=${momentum} weightDecay=${wd}`, async () => {
      const p = run((q) => new optim.RMSprop([q], { lr: 0.01, alpha: 0.9, centered, momentum, weightDecay: wd }), steps, init, grads);
      const ref = init.slice(), sq = new Float64Array(n), ga = new Float64Array(n), buf = new Float64Array(n);
      for (let t = 0; t < steps; t++) for (let i = 0; i < n; i++) {
        const g = grads[t]![i]! + wd * ref[i]!;
        sq[i] = 0.9 * sq[i]! + 0.1 * g * g;
        let avg = sq[i]!;
        if (centered) { ga[i] = 0.9 * ga[i]! + 0.1 * g; avg -= ga[i]! * ga[i]!; }
        const d = Math.sqrt(avg) + 1e-8;
        if (momentum) { buf[i] = momentum * buf[i]! + g / d; ref[i] -= 0.01 * buf[i]!; } else ref[i] -= (0.01 * g) / d;
      }
      expectClose(await f64(p), ref, { rtol: 1e-10, atol: 1e-12 }, 'rmsprop');
    });
  }
  it('Adagrad with lr decay, weight decay and an initial accumulator', async () => {
    const p = run((q) => new optim.Adagrad([q], { lr: 0.1, lrDecay: 0.01, weightDecay: 0.001, initialAccumulatorValue: 0.1 }), steps, init, grads);
    const ref = init.slice(), sum = new Float64Array(n).fill(0.1);
    for (let t = 0; t < steps; t++) for (let i = 0; i < n; i++) {
      const g = grads[t]![i]! + 0.001 * ref[i]!;
      sum[i] += g * g;
      ref[i] -= (0.1 / (1 + t * 0.01)) * g / (Math.sqrt(sum[i]!) + 1e-10);
    }
    expectClose(await f64(p), ref, { rtol: 1e-10, atol: 1e-12 }, 'adagrad');
  });
});
