// The call's picture, back to front: an under-layer (the background, with the body plate
// over it; built once per session and size, see AvatarPlates.ts) and the head layer the
// renderer draws over it each frame: out = C + T * under, with C the head's
// premultiplied colour and T what each ray leaves to what is behind (renderRays'
// transmittance output).
//
// The head layer is rendered at the renderer's internal resolution (fewer rays than
// output pixels) and upscaled (the cubic of FastUpscale.ts) as premultiplied colour and
// transmittance, then composited at the output resolution, so the under-layer stays
// sharp. Pixels whose upscale taps all miss the rays' rectangle are the under-layer
// exactly (a miss has C = 0 and T = 1, and the taps' weights sum to 1 within a float's
// rounding, far below half a grey level): only the rectangle's neighbourhood is computed per frame.
import type { UpscalePlan } from './FastUpscale';
import type { PixelRect } from './ScreenBounds';

/** What the head is composited onto: a flat colour, or an image of the output size. */
export type UnderLayer =
  | { readonly kind: 'colour'; /** RGB in [0, 1]. */ readonly rgb: readonly [number, number, number] }
  | { readonly kind: 'image'; readonly width: number; readonly height: number; /** RGB8 [H*W*3]. */ readonly rgb: Uint8Array };

export const WHITE_UNDER: UnderLayer = { kind: 'colour', rgb: [1, 1, 1] };

/** `under` as RGBA8 (alpha 255), the frame every composite starts from. */
export function underRgba(under: UnderLayer, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  if (under.kind === 'colour') {
    const px = under.rgb.map((v) => Math.round(Math.min(Math.max(v, 0), 1) * 255));
    for (let i = 0; i < out.length; i += 4) {
      out[i] = px[0]!; out[i + 1] = px[1]!; out[i + 2] = px[2]!; out[i + 3] = 255;
    }
    return out;
  }
  if (under.width !== width || under.height !== height || under.rgb.length !== width * height * 3)
    throw new RangeError(`compositing: the under-layer is ${under.width}x${under.height} (${under.rgb.length} bytes), the frame ${width}x${height}`);
  for (let p = 0, i = 0; p < width * height; p++, i += 4) {
    out[i] = under.rgb[3 * p]!; out[i + 1] = under.rgb[3 * p + 1]!; out[i + 2] = under.rgb[3 * p + 2]!; out[i + 3] = 255;
  }
  return out;
}

/** The contiguous range of output indices any of whose four taps reach [lo, hi) of the source. */
function reached(index: Int32Array, lo: number, hi: number): [number, number] {
  let a = -1, b = -1;
  for (let i = 0; i < index.length / 4; i++) {
    // Taps are nondecreasing: the first and the last bound them.
    if (index[4 * i + 3]! >= lo && index[4 * i]! < hi) {
      if (a < 0) a = i;
      b = i + 1;
    }
  }
  return a < 0 ? [0, 0] : [a, b];
}

/**
 * out (RGBA8 [H, W, 4]) = the under-layer, with C + T * under over it where the source
 * rectangle reaches: color [sh, sw, 3] (premultiplied, 0 outside the rectangle) and
 * trans [sh, sw] (1 outside) upscaled by `plan` (FastUpscale's cubic taps). T is
 * not clamped to [0, 1] where the cubic rings beside an edge: unclamped, the upscale stays
 * linear, so this equals compositing first and upscaling after, as the flat-colour path
 * does (test/engine/CallFrame.test.ts), and the output's 8-bit clamp bounds the ringing.
 */
export function compositeOver(
  color: Float32Array, trans: Float32Array, sw: number, plan: UpscalePlan, rect: PixelRect | null, under: Uint8Array, out: Uint8Array,
): void {
  out.set(under);
  if (!rect) return;
  const W = plan.width, rows = plan.rows, xi = plan.x.index, xw = plan.x.weight, yi = plan.y.index, yw = plan.y.weight;
  const [xa, xb] = reached(xi, rect.x0, rect.x1), [ya, yb] = reached(yi, rect.y0, rect.y1);
  if (xa === xb || ya === yb) return;
  // Widen the source rows the reached output rows read, over the reached columns: [sy][x] (C, T).
  for (let sy = yi[4 * ya]!; sy <= yi[4 * yb - 1]!; sy++) {
    const r = sy * sw;
    for (let x = xa; x < xb; x++) {
      const k = 4 * x, a = r + xi[k]!, b = r + xi[k + 1]!, c = r + xi[k + 2]!, d = r + xi[k + 3]!;
      const w0 = xw[k]!, w1 = xw[k + 1]!, w2 = xw[k + 2]!, w3 = xw[k + 3]!, o = 4 * (sy * W + x);
      rows[o] = color[3 * a]! * w0 + color[3 * b]! * w1 + color[3 * c]! * w2 + color[3 * d]! * w3;
      rows[o + 1] = color[3 * a + 1]! * w0 + color[3 * b + 1]! * w1 + color[3 * c + 1]! * w2 + color[3 * d + 1]! * w3;
      rows[o + 2] = color[3 * a + 2]! * w0 + color[3 * b + 2]! * w1 + color[3 * c + 2]! * w2 + color[3 * d + 2]! * w3;
      rows[o + 3] = trans[a]! * w0 + trans[b]! * w1 + trans[c]! * w2 + trans[d]! * w3;
    }
  }
  // A clamped view rounds like the renderer's other conversions (clamp to [0, 255], ties to even).
  const out8 = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let y = ya; y < yb; y++) {
    const k = 4 * y, r0 = 4 * yi[k]! * W, r1 = 4 * yi[k + 1]! * W, r2 = 4 * yi[k + 2]! * W, r3 = 4 * yi[k + 3]! * W;
    const w0 = yw[k]!, w1 = yw[k + 1]!, w2 = yw[k + 2]!, w3 = yw[k + 3]!;
    for (let x = xa; x < xb; x++) {
      const i = 4 * x, o = 4 * (y * W + x);
      const t = rows[r0 + i + 3]! * w0 + rows[r1 + i + 3]! * w1 + rows[r2 + i + 3]! * w2 + rows[r3 + i + 3]! * w3;
      for (let ch = 0; ch < 3; ch++) {
        const cv = rows[r0 + i + ch]! * w0 + rows[r1 + i + ch]! * w1 + rows[r2 + i + ch]! * w2 + rows[r3 + i + ch]! * w3;
        out8[o + ch] = 255 * cv + t * under[o + ch]!;
      }
    }
  }
}
