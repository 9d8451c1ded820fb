// NeRF positional encoding of interpolated features and view directions, per scalar:
// [x, sin(x), cos(x), sin(2x), cos(2x), ..., sin(2^(F-1) x), cos(2^(F-1) x)].
// Written in TS (no kernel op exists for it). Only one sin/cos pair per scalar is
// computed with Math.sin/cos; higher octaves use the double-angle identities, which is
// ~4x cheaper in JS and exact to a few ulps of double for F <= 6.

/** Output width for `features` scalars with F frequencies. */
export function encodedWidth(features: number, frequencies: number): number {
  return features * (1 + 2 * frequencies);
}

/**
 * x [N, C] -> out [N, C * (1 + 2F)], scalar-major (the 1+2F values of each scalar are
 * contiguous). `out` may be given to avoid allocation.
 */
export function encode(x: Float32Array, n: number, c: number, f: number, out?: Float32Array): Float32Array {
  const per = 1 + 2 * f, width = c * per;
  const y = out ?? new Float32Array(n * width);
  if (y.length < n * width) throw new RangeError(`encode: out holds ${y.length} floats, need ${n * width}`);
  for (let i = 0, xi = 0, yi = 0; i < n; i++) {
    for (let k = 0; k < c; k++, xi++) {
      const v = x[xi]!;
      y[yi++] = v;
      let s = Math.sin(v), co = Math.cos(v);
      for (let j = 0; j < f; j++) {
        y[yi++] = s;
        y[yi++] = co;
        const s2 = 2 * s * co;
        co = 1 - 2 * s * s;
        s = s2;
      }
    }
  }
  return y;
}

/** dL/dx [N, C] from x and dL/dout [N, C * (1 + 2F)]. */
export function encodeBackward(x: Float32Array, dOut: Float32Array, n: number, c: number, f: number, out?: Float32Array): Float32Array {
  const dx = out ?? new Float32Array(n * c);
  for (let i = 0, xi = 0, gi = 0; i < n; i++) {
    for (let k = 0; k < c; k++, xi++) {
      const v = x[xi]!;
      let g = dOut[gi++]!;
      let s = Math.sin(v), co = Math.cos(v), scale = 1;
      for (let j = 0; j < f; j++) {
        // d sin(a x)/dx = a cos(a x); d cos(a x)/dx = -a sin(a x).
        g += scale * (dOut[gi]! * co - dOut[gi + 1]! * s);
        gi += 2;
        const s2 = 2 * s * co;
        co = 1 - 2 * s * s;
        s = s2;
        scale *= 2;
      }
      dx[xi] = g;
    }
  }
  return dx;
}
