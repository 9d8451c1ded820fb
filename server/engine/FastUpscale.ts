// Cubic convolution upscaling (Keys' kernel with a = CUBIC_A, four taps per axis) of a float
// RGB image [h, w, 3] to an RGBA8 image [H, W, 4] (alpha 255), pixel-centre aligned (like
// align_corners=false resizing, edges clamped). The renderer shades fewer rays than it outputs
// (half per axis in LIVE) and fills the rest by interpolation. Bilinear, which it used first,
// halves the contrast of detail one ray apart; on the six shared clips' own frames pushed
// through LIVE's ray grid, Catmull-Rom (a = -0.5) kept 1.45-1.74x bilinear's face sharpness and
// 1.2-3.8 dB more face PSNR (docs/picture.md, "The upscaler"); a = -0.75 keeps 0.15-0.80 dB
// more of those frames' faces than Catmull-Rom, 1.07-1.22x their sharpness (docs/picture.md,
// "A sharper cubic").
// Separable: each source row is widened once into the plan's scratch, then output rows
// blend four widened rows.

// The cubic's parameter: kernels/upscaleCubic.ts, one number for the CPU and the GPU.
import { CUBIC_A } from '../../kernels/upscaleCubic';

/** Source taps per output pixel along one axis: 4 clamped indices and weights each. */
export interface UpscaleTaps {
  /** [dst * 4] source indices, nondecreasing per output pixel, clamped to [0, src). */
  readonly index: Int32Array;
  /** [dst * 4] weights (they sum to 1). */
  readonly weight: Float32Array;
}

/** Precomputed source taps per output column and row. */
export interface UpscalePlan {
  readonly x: UpscaleTaps;
  readonly y: UpscaleTaps;
  /** Output size. */
  readonly width: number;
  readonly height: number;
  /** Source rows widened to the output width [h, W, 4] (scratch, reused). */
  readonly rows: Float32Array;
}

/** The four cubic weights at fraction t in [0, 1) between taps 1 and 2 (Keys' kernel at distances 1 + t, t, 1 - t, 2 - t). */
export function cubicWeights(t: number, a = CUBIC_A): [number, number, number, number] {
  const u = 1 - t;
  const w0 = a * t * u * u, w3 = a * u * t * t, w2 = ((a + 2) * u - (a + 3)) * u * u + 1;
  return [w0, 1 - w0 - w2 - w3, w2, w3];
}

/**
 * Where output pixel i of dst reads a source of src pixels: u = (i + 0.5) src / dst - 0.5
 * clamped to [0, src - 1], taps floor(u) - 1 .. floor(u) + 2 (clamped), t = u - floor(u).
 */
export function upscaleTaps(src: number, dst: number): UpscaleTaps {
  const index = new Int32Array(4 * dst), weight = new Float32Array(4 * dst);
  for (let i = 0; i < dst; i++) {
    const u = Math.min(Math.max(((i + 0.5) * src) / dst - 0.5, 0), src - 1), fl = Math.floor(u);
    const w = cubicWeights(u - fl);
    for (let k = 0; k < 4; k++) {
      index[4 * i + k] = Math.min(Math.max(fl - 1 + k, 0), src - 1);
      weight[4 * i + k] = w[k]!;
    }
  }
  return { index, weight };
}

export function upscalePlan(sw: number, sh: number, dw: number, dh: number): UpscalePlan {
  return { x: upscaleTaps(sw, dw), y: upscaleTaps(sh, dh), width: dw, height: dh, rows: new Float32Array(sh * dw * 4) };
}

export function upscaleRgb(src: Float32Array, sw: number, plan: UpscalePlan, out: Uint8Array): void {
  const W = plan.width, H = plan.height, rows = plan.rows, sh = rows.length / (4 * W);
  const xi = plan.x.index, xw = plan.x.weight, yi = plan.y.index, yw = plan.y.weight;
  for (let sy = 0, o = 0; sy < sh; sy++) {
    const r = sy * sw;
    for (let x = 0; x < W; x++, o += 3) {
      const k = 4 * x, a = 3 * (r + xi[k]!), b = 3 * (r + xi[k + 1]!), c = 3 * (r + xi[k + 2]!), d = 3 * (r + xi[k + 3]!);
      const w0 = xw[k]!, w1 = xw[k + 1]!, w2 = xw[k + 2]!, w3 = xw[k + 3]!;
      rows[o] = src[a]! * w0 + src[b]! * w1 + src[c]! * w2 + src[d]! * w3;
      rows[o + 1] = src[a + 1]! * w0 + src[b + 1]! * w1 + src[c + 1]! * w2 + src[d + 1]! * w3;
      rows[o + 2] = src[a + 2]! * w0 + src[b + 2]! * w1 + src[c + 2]! * w2 + src[d + 2]! * w3;
    }
  }
  // A clamped view converts like to8 (clamp to [0, 255], round; ties to even) in the engine.
  const out8 = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let y = 0, o = 0; y < H; y++) {
    const k = 4 * y, r0 = yi[k]! * W * 3, r1 = yi[k + 1]! * W * 3, r2 = yi[k + 2]! * W * 3, r3 = yi[k + 3]! * W * 3;
    const w0 = 255 * yw[k]!, w1 = 255 * yw[k + 1]!, w2 = 255 * yw[k + 2]!, w3 = 255 * yw[k + 3]!;
    for (let i = 0; i < 3 * W; i += 3, o += 4) {
      out8[o] = rows[r0 + i]! * w0 + rows[r1 + i]! * w1 + rows[r2 + i]! * w2 + rows[r3 + i]! * w3;
      out8[o + 1] = rows[r0 + i + 1]! * w0 + rows[r1 + i + 1]! * w1 + rows[r2 + i + 1]! * w2 + rows[r3 + i + 1]! * w3;
      out8[o + 2] = rows[r0 + i + 2]! * w0 + rows[r1 + i + 2]! * w1 + rows[r2 + i + 2]! * w2 + rows[r3 + i + 2]! * w3;
      out8[o + 3] = 255;
    }
  }
}
