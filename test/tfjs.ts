// TensorFlow.js's CPU backend as an independent implementation to compare against (layouts converted here).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

let ready: Promise<boolean> | null = null;
export async function tfjs(): Promise<typeof tf> {
  ready ??= tf.setBackend('cpu');
  await ready;
  return tf;
}

/** NCHW conv with weight [K,C,kh,kw] computed by tfjs (NHWC, HWIO), returned NCHW. groups = 1. */
export async function tfConv(x: Float64Array, xs: number[], w: Float64Array, ws: number[], stride: [number, number], pad: [number, number], dil: [number, number]) {
  const t = await tfjs();
  return t.tidy(() => {
    const X = t.transpose(t.tensor4d(Float32Array.from(x), xs as [number, number, number, number]), [0, 2, 3, 1]);
    const W = t.transpose(t.tensor4d(Float32Array.from(w), ws as [number, number, number, number]), [2, 3, 1, 0]);
    const padded = t.pad(X, [[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]]);
    const f = (xx: tf.Tensor4D, ww: tf.Tensor4D) => t.conv2d(xx, ww, stride, 'valid', 'NHWC', dil);
    const y = f(padded as tf.Tensor4D, W as tf.Tensor4D);
    const dy = t.ones(y.shape);
    const [dx, dw] = t.grads((a: tf.Tensor, b: tf.Tensor) => f(a as tf.Tensor4D, b as tf.Tensor4D))([padded, W], dy);
    const dxc = t.slice(dx!, [0, pad[0], pad[1], 0], [xs[0]!, xs[2]!, xs[3]!, xs[1]!]);
    return {
      y: Float64Array.from(t.transpose(y, [0, 3, 1, 2]).dataSync()),
      dx: Float64Array.from(t.transpose(dxc, [0, 3, 1, 2]).dataSync()),
      dw: Float64Array.from(t.transpose(dw!, [3, 2, 0, 1]).dataSync()),
    };
  });
}
