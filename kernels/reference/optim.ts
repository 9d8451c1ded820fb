// Reference losses and Adam (double arithmetic, stored back as float32).
import type { AdamOptions } from '../KernelsTypes';

type Num = ArrayLike<number>;

export function l1LossRef(a: Num, b: Num): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return a.length === 0 ? 0 : s / a.length;
}

export function l1LossBackwardRef(a: Num, b: Num, dLoss: number): Float64Array {
  const g = a.length === 0 ? 0 : dLoss / a.length;
  const d = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) d[i] = a[i]! > b[i]! ? g : a[i]! < b[i]! ? -g : 0;
  return d;
}

export function meanSquareRef(x: Num): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return x.length === 0 ? 0 : s / x.length;
}

export function meanSquareBackwardRef(x: Num, dValue: number): Float64Array {
  const d = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) d[i] = (2 * dValue * x[i]!) / x.length;
  return d;
}

/** In-place Adam; masked skips elements whose grad is exactly 0 (see KernelsTypes). */
export function adamStepRef(
  param: Float32Array | Float64Array, grad: Num, m: Float32Array | Float64Array, v: Float32Array | Float64Array,
  o: AdamOptions, masked: boolean,
): void {
  const bc1 = 1 - Math.pow(o.beta1, o.step), bc2 = 1 - Math.pow(o.beta2, o.step);
  for (let i = 0; i < param.length; i++) {
    const g = grad[i]!;
    if (masked && g === 0) continue;
    const mi = o.beta1 * m[i]! + (1 - o.beta1) * g;
    const vi = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i]! -= (o.lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + o.eps);
  }
}
