/**
 * The autograd engine (micrograd's shape: each op records how to push its gradient to its inputs; backward walks a
 * topological order and accumulates with +=). Small enough to read in one sitting.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ArgumentError, ShapeError, TensileError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

/** Raised when an in-place update changed a tensor that a recorded op still needs for backward. @example `expect(() => loss.backward()).toThrow(InPlaceError)` */
export class InPlaceError extends TensileError {}

export interface Node {
  name: string;
  /** the inputs that need a gradient (null where an input does not) */
  inputs: (Tensor | null)[];
  /** given the output's gradient, the inputs' gradients (null: none) */
  backward: ((g: Tensor) => (Tensor | null)[]) | null;
  /** tensors the backward needs, with their version at save time */
  saved: { t: Tensor; v: number }[];
}

const gradMode = new AsyncLocalStorage<boolean>();
let globalGrad = true;

/** Whether ops record the graph in the current context. @example `isGradEnabled()` */
export function isGradEnabled(): boolean {
  return gradMode.getStore() ?? globalGrad;
}
/**
 * Runs fn without recording the graph (also across await inside an async fn).
 * @example `const y = noGrad(() => model.forward(x));`
 */
export function noGrad<T>(fn: () => T): T {
  fnArg('noGrad', fn);
  return gradMode.run(false, fn);
}
// (not check.ts's describe(): that module imports Tensor, which imports this one)
function fnArg(op: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    const got = fn === null || fn === undefined ? String(fn) : typeof fn === 'object' ? (Array.isArray(fn) ? 'an array' : 'an object') : `a ${typeof fn}`;
    throw new ArgumentError(`${op}: expected a function, got ${got}`);
  }
}
/** Runs fn with graph recording on, even inside noGrad. @example `enableGrad(() => loss(x))` */
export function enableGrad<T>(fn: () => T): T {
  fnArg('enableGrad', fn);
  return gradMode.run(true, fn);
}
/** Turns recording on or off for the rest of the program (outside noGrad/enableGrad). @example `setGradEnabled(false)` */
export function setGradEnabled(on: boolean): void {
  globalGrad = on;
}

/**
 * Records that `out` was computed from `inputs` by `name`; `backward` maps out's gradient to the inputs'.
 * `save` lists the tensors backward reads, so that in-place changes to them are caught. @internal
 */
export function record(out: Tensor | readonly Tensor[], inputs: readonly (Tensor | null | undefined)[], name: string,
  backward: (g: Tensor) => (Tensor | null)[], save: readonly Tensor[] = []): void {
  if (!isGradEnabled()) return;
  if (!inputs.some((t) => t?.requiresGrad)) return;
  const node: Node = {
    name,
    inputs: inputs.map((t) => (t && t.requiresGrad ? t : null)),
    backward,
    saved: save.map((t) => ({ t, v: t._vc.v })),
  };
  for (const o of Array.isArray(out) ? out : [out]) {
    (o as Tensor).requiresGrad = true;
    (o as Tensor).gradFn = node;
  }
}

/** @internal true when any input will need a gradient */
export function needsGrad(...ts: (Tensor | null | undefined)[]): boolean {
  return isGradEnabled() && ts.some((t) => t?.requiresGrad);
}

function topo(root: Tensor): Tensor[] {
  // iterative DFS over tensors with a gradFn; returns outputs before their inputs
  const order: Tensor[] = [];
  const seen = new Set<Node>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    const n = t.gradFn;
    if (!n) continue;
    if (done) { order.push(t); continue; }
    if (seen.has(n)) continue;
    seen.add(n);
    stack.push([t, true]);
    for (const i of n.inputs) if (i && i.gradFn && !seen.has(i.gradFn)) stack.push([i, false]);
  }
  return order.reverse();
}

/**
 * Backpropagates from `root`: accumulates d(root)/d(leaf) into every leaf's `.grad` (+=). A non-scalar root needs
 * `grad` (the vector of the vector-Jacobian product). Saved tensors are dropped afterwards unless retainGraph.
 * @internal use `t.backward()`
 */
export function backward(root: Tensor, grad: Tensor | undefined, retainGraph: boolean, ones: (t: Tensor) => Tensor): void {
  if (!root.requiresGrad) {
    throw new ArgumentError('backward: expected a tensor that requires grad (computed from a tensor with requiresGrad), got one that does not');
  }
  if (!grad && root.numel !== 1) {
    throw new ShapeError(`backward: expected a gradient argument for a non-scalar output, got none for shape [${root.shape.join(',')}]`);
  }
  if (grad && (grad.shape.length !== root.shape.length || grad.shape.some((d, i) => d !== root.shape[i]))) {
    throw new ShapeError(`backward: expected a gradient of shape [${root.shape.join(',')}], got [${grad.shape.join(',')}]`);
  }
  const grads = new Map<Tensor, Tensor>();
  // Intermediate gradients are disposed as soon as nothing refers to them; `uses` counts map entries and leaf .grad
  // assignments (the same tensor can flow to several places: add's backward passes g through to both inputs).
  const uses = new Map<Tensor, number>();
  const use = (x: Tensor) => uses.set(x, (uses.get(x) ?? 0) + 1);
  const drop = (x: Tensor) => {
    const n = (uses.get(x) ?? 0) - 1;
    if (n > 0) uses.set(x, n);
    else { uses.delete(x); if (x !== grad) x.dispose(); }
  };
  const toLeaf = (t: Tensor, g: Tensor) => {
    const gg = g.dtype === t.dtype ? g : g.cast(t.dtype);
    if (t.grad) t.grad = t.grad.add(gg);  // the old .grad is left to the user (or the GC)
    else t.grad = gg;
    use(t.grad);
    uses.set(t.grad, Infinity);  // owned by the leaf from now on
  };
  noGradRun(() => {
    const g0 = grad ?? ones(root);
    if (!root.gradFn) {
      toLeaf(root, g0);
      return;
    }
    grads.set(root, g0);
    use(g0);
    for (const t of topo(root)) {
      const node = t.gradFn!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!node.backward) throw new ArgumentError(`backward: the graph through '${node.name}' was already freed; pass {retainGraph: true} to backward twice`);
      for (const s of node.saved) {
        if (s.t._vc.v !== s.v) {
          throw new InPlaceError(`${node.name}: expected saved tensor of shape [${s.t.shape.join(',')}] at version ${s.v}, got version ${s.t._vc.v}: it was modified in place after being used; clone it first`);
        }
      }
      const gin = node.backward(g);
      node.inputs.forEach((inp, k) => {
        const gi = gin[k];
        if (!inp || !gi) return;
        if (!inp.gradFn) {
          toLeaf(inp, gi);
        } else {
          const prev = grads.get(inp);
          if (prev) {
            const sum = prev.add(gi);
            grads.set(inp, sum);
            use(sum);
            drop(prev);
          } else {
            grads.set(inp, gi);
            use(gi);
          }
        }
      });
      for (const gi of gin) if (gi && !uses.has(gi) && gi !== g) gi.dispose();  // returned but not needed
      drop(g);
      if (!retainGraph) {
        node.backward = null;
        node.saved = [];
      }
    }
  });
}

function noGradRun(fn: () => void): void {
  gradMode.run(false, fn);
}
