// Reference dense layer y = act(x W^T + b) and backward (float64, naive loops).
import type { Activation, DenseShape } from '../KernelsTypes';

type Num = ArrayLike<number>;

export function activate(z: number, act: Activation): number {
  switch (act) {
    case 'relu': return z > 0 ? z : 0;
    case 'leakyRelu': return z > 0 ? z : 0.01 * z;
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    default: return z;
  }
}

/** d act / d z, written in terms of the output y (what backward receives). */
export function activateGrad(y: number, act: Activation): number {
  switch (act) {
    case 'relu': return y > 0 ? 1 : 0;
    case 'leakyRelu': return y > 0 ? 1 : 0.01;
    case 'sigmoid': return y * (1 - y);
    default: return 1;
  }
}

export function denseRef(x: Num, w: Num, b: Num, s: DenseShape, act: Activation): Float64Array {
  const { n, inFeatures: I, outFeatures: O } = s;
  const y = new Float64Array(n * O);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < O; o++) {
      let z = b[o]!;
      for (let k = 0; k < I; k++) z += x[r * I + k]! * w[o * I + k]!;
      y[r * O + o] = activate(z, act);
    }
  return y;
}

export function denseBackwardRef(
  x: Num, w: Num, y: Num, dY: Num, s: DenseShape, act: Activation,
): { dX: Float64Array; dW: Float64Array; dB: Float64Array } {
  const { n, inFeatures: I, outFeatures: O } = s;
  const dX = new Float64Array(n * I), dW = new Float64Array(O * I), dB = new Float64Array(O);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < O; o++) {
      const dz = dY[r * O + o]! * activateGrad(y[r * O + o]!, act);
      if (dz === 0) continue;
      dB[o]! += dz;
      for (let k = 0; k < I; k++) {
        dX[r * I + k]! += dz * w[o * I + k]!;
        dW[o * I + k]! += dz * x[r * I + k]!;
      }
    }
  return { dX, dW, dB };
}
