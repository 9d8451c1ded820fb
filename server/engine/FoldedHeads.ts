// The exact model's density and colour heads with their constant inputs folded out of the
// per-sample GEMM. A head's first layer reads [encoded appearance | (view) | coefficients / 3],
// but the coefficients are the same for every sample of a frame and the encoded view
// direction the same for every sample of a ray: their products with the weights are a
// per-frame bias and a per-ray bias. The per-sample GEMM then reads the encoded appearance
// alone (108 of 159 and 186 columns in the shipped configs): no concatenated input is built
// and the heads' multiply-adds fall by 37%, in training's forward and backward alike.
// Parameters keep their [hidden, width] layout (files, the GPU trainer and LiveFrame's fold
// read them unchanged); gradients are assembled back into it.
import type { Kernels } from '../../kernels/KernelsTypes';
import { copyCols, sliceCols } from './Columns';

/** A head's first layer split by input block: [hidden, encA], [hidden, encV] (colour only), [hidden, E]. */
export interface SplitWeights {
  readonly hidden: number;
  readonly width: number;
  readonly encA: number;
  readonly encV: number;
  readonly wA: Float32Array;
  readonly wV: Float32Array;
  readonly wC: Float32Array;
}

export function splitWeights(w: Float32Array, hidden: number, encA: number, encV: number, expressions: number): SplitWeights {
  const width = encA + encV + expressions;
  if (w.length !== hidden * width) throw new RangeError(`splitWeights: ${w.length} weights, expected ${hidden} x ${width}`);
  const block = (start: number, count: number) => sliceCols(w, hidden, width, start, count);
  return { hidden, width, encA, encV, wA: block(0, encA), wV: block(encA, encV), wC: block(encA + encV, expressions) };
}

/**
 * out = b + W[:, start:start+E] (coefficients / 3), for a first layer W [b.length, cols]
 * whose coefficient columns start at `start`: exact, once per frame. The live renderer
 * (LiveFrame) and training fold with this one function, so both draw with the same biases.
 */
export function foldCoefficientColumns(
  w: Float32Array, cols: number, start: number, b: Float32Array, coefficients: Float32Array, out: Float32Array,
): Float32Array {
  const E = coefficients.length;
  for (let o = 0; o < b.length; o++) {
    let s = b[o]!;
    for (let e = 0; e < E; e++) s += w[o * cols + start + e]! * (coefficients[e]! / 3);
    out[o] = s;
  }
  return out;
}

/** The frame's bias of a head's first layer: b + wC (coefficients / 3). */
export function frameBias(s: SplitWeights, b: Float32Array, coefficients: Float32Array): Float32Array {
  return foldCoefficientColumns(s.wC, coefficients.length, 0, b, coefficients, new Float32Array(s.hidden));
}

/**
 * relu(encA wA^T + rayBias[ray of the sample]) for the colour head, where rayBias [R, H] =
 * encV wV^T + frame bias. `rayOffsets` [R + 1] maps samples to rays.
 */
export function colourHidden(
  k: Kernels, s: SplitWeights, encA: Float32Array, rayBias: Float32Array, rayOffsets: Int32Array, S: number,
): Float32Array {
  const H = s.hidden, z = k.dense(encA, s.wA, new Float32Array(H), { n: S, inFeatures: s.encA, outFeatures: H }, 'none').y;
  const R = rayOffsets.length - 1;
  for (let r = 0; r < R; r++) {
    const end = rayOffsets[r + 1]! * H;
    for (let i = rayOffsets[r]! * H, o = 0; i < end; i++, o = o + 1 === H ? 0 : o + 1) {
      const v = z[i]! + rayBias[r * H + o]!;
      z[i] = v > 0 ? v : 0;
    }
  }
  return z;
}

/** Gradients of a folded first layer in the unfolded [hidden, width] layout, and dL/d(encA). */
export interface FoldedGradients {
  readonly dW: Float32Array;
  readonly dB: Float32Array;
  readonly dEncA: Float32Array;
}

/** Writes dW's blocks: the appearance block, the view block (when given) and dB x coeff. */
function assemble(s: SplitWeights, dWA: Float32Array, dWV: Float32Array | null, dB: Float32Array, coeff: Float32Array): Float32Array {
  const { hidden: H, width, encA, encV } = s, E = coeff.length, dW = new Float32Array(H * width);
  copyCols(dWA, encA, 0, dW, width, 0, encA, H);
  if (dWV) copyCols(dWV, encV, 0, dW, width, encA, encV, H);
  for (let o = 0; o < H; o++)
    for (let e = 0; e < E; e++) dW[o * width + encA + encV + e] = dB[o]! * coeff[e]!;
  return dW;
}

/** Adds wC^T dB / 3 to dCoefficients (the layer reads coefficients / 3). */
export function addCoefficientGradient(s: SplitWeights, dB: Float32Array, dCoefficients: Float32Array): void {
  const E = dCoefficients.length;
  for (let e = 0; e < E; e++) {
    let sum = 0;
    for (let o = 0; o < s.hidden; o++) sum += s.wC[o * E + e]! * dB[o]!;
    dCoefficients[e]! += sum / 3;
  }
}

/** Backward of relu(encA wA^T + frame bias) (the density head's first layer). */
export function densityHiddenBackward(
  k: Kernels, s: SplitWeights, encA: Float32Array, hidden: Float32Array, dHidden: Float32Array, coeff: Float32Array, S: number,
): FoldedGradients {
  const g = k.denseBackward(encA, s.wA, hidden, dHidden, { n: S, inFeatures: s.encA, outFeatures: s.hidden }, 'relu');
  return { dW: assemble(s, g.dW, null, g.dB, coeff), dB: g.dB, dEncA: g.dX! };
}

/** Backward of colourHidden; `encV` [R, encV] is the rays' encoded view directions. */
export function colourHiddenBackward(
  k: Kernels, s: SplitWeights, encA: Float32Array, encV: Float32Array, hidden: Float32Array, dHidden: Float32Array,
  rayOffsets: Int32Array, coeff: Float32Array, S: number,
): FoldedGradients {
  const H = s.hidden, R = rayOffsets.length - 1;
  const dZ = new Float32Array(S * H), dZRay = new Float32Array(R * H);
  for (let r = 0; r < R; r++) {
    const end = rayOffsets[r + 1]! * H;
    for (let i = rayOffsets[r]! * H, o = 0; i < end; i++, o = o + 1 === H ? 0 : o + 1) {
      const d = hidden[i]! > 0 ? dHidden[i]! : 0;
      dZ[i] = d;
      dZRay[r * H + o]! += d;
    }
  }
  // Activation 'none' reads y only for its length: dZ already holds the relu's gradient.
  const a = k.denseBackward(encA, s.wA, dZ, dZ, { n: S, inFeatures: s.encA, outFeatures: H }, 'none');
  const v = k.denseBackward(encV, s.wV, dZRay, dZRay, { n: R, inFeatures: s.encV, outFeatures: H }, 'none', false);
  return { dW: assemble(s, a.dW, v.dW, a.dB, coeff), dB: a.dB, dEncA: a.dX! };
}
