// `using` with tensile's tensors, for projects whose lib or @types/node declares Disposable (scripts/check-types.sh
// checks it in those configurations only: TypeScript's ES2022 lib alone has no Disposable).
import { randn, Tensor } from 'tensile';

function release(d: Disposable): void {
  d[Symbol.dispose]();
}

export async function total(): Promise<number> {
  using x = randn([4, 4]);
  using y: Tensor = x.exp();
  release(randn([2]));  // a Tensor is a Disposable
  return y.sum().item();
}
