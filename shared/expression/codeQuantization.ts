/**
 * The code's form on the wire (issue 16's packet, not built yet): each value is a tanh
 * output in [-1, 1], sent as int8 (round(127 v), clamped), so a K = 12 code is 12 bytes a
 * frame, 2.9 kbps at 30 Hz. The rounding error is at most 1/254 of a code unit; what that
 * moves the avatar's coefficients is measured in test/engine/encoderTraining.test.ts
 * (docs/fidelity.md "The expression encoder").
 */

export const CODE_QUANT_SCALE = 127;

export function quantizeCode(code: ArrayLike<number>, out = new Int8Array(code.length)): Int8Array {
  for (let i = 0; i < code.length; i++) {
    const v = code[i]!;
    // NaN becomes 0: the neutral code (the blendshapes alone), never a wild value.
    out[i] = Number.isFinite(v) ? Math.max(-127, Math.min(127, Math.round(v * CODE_QUANT_SCALE))) : 0;
  }
  return out;
}

export function dequantizeCode(q: ArrayLike<number>, out = new Float32Array(q.length)): Float32Array {
  for (let i = 0; i < q.length; i++) out[i] = q[i]! / CODE_QUANT_SCALE;
  return out;
}
