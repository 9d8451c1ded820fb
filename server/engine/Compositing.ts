// The call's picture, back to front: an under-layer (the background, with the body plate
// over it; built once per session and size, see AvatarPlates.ts) and the head layer the
// renderer draws over it each frame: out = C + T * under, with C the head's
// premultiplied colour and T what each ray leaves to what is behind (renderRays'
// transmittance output).
//
// The head layer is rendered at the renderer's internal resolution (fewer rays than
// output pixels) and upscaled bilinearly as premultiplied colour and transmittance, then
// composited at the output resolution, so the under-layer stays sharp. Pixels whose
// upscale taps all miss the rays' rectangle are the under-layer exactly (a miss has C =
// 0 and T = 1, and a blend of equal values is that value): only the rectangle's
// neighbourhood is computed per frame.
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

/** The contiguous range of output indices whose two taps reach [lo, hi) of the source. */
function reached(i0: Int32Array, i1: Int32Array, lo: number, hi: number): [number, number] {
  let a = -1, b = -1;
  for (let i = 0; i < i0.length; i++) {
    if (i1[i]! >= lo && i0[i]! < hi) {
      if (a < 0) a = i;
      b = i + 1;
    }
  }
  return a < 0 ? [0, 0] : [a, b];
}

/**
 * out (RGBA8 [H, W, 4]) = the under-layer, with C + T * under over it where the source
 * rectangle reaches: color [sh, sw, 3] (premultiplied, 0 outside the rectangle) and
 * trans [sh, sw] (1 outside) upscaled by `plan` (FastUpscale's taps).
 */
export function compositeOver(
  color: Float32Array, trans: Float32Array, sw: number, plan: UpscalePlan, rect: PixelRect | null, under: Uint8Array, out: Uint8Array,
): void {
  out.set(under);
  if (!rect) return;
  const W = plan.x0.length;
  const [xa, xb] = reached(plan.x0, plan.x1, rect.x0, rect.x1), [ya, yb] = reached(plan.y0, plan.y1, rect.y0, rect.y1);
  // A clamped view rounds like the renderer's other conversions (clamp to [0, 255], ties to even).
  const out8 = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let y = ya; y < yb; y++) {
    const r0 = plan.y0[y]! * sw, r1 = plan.y1[y]! * sw, fy = plan.fy[y]!;
    for (let x = xa; x < xb; x++) {
      const fx = plan.fx[x]!, a = r0 + plan.x0[x]!, b = r0 + plan.x1[x]!, c = r1 + plan.x0[x]!, d = r1 + plan.x1[x]!;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      const t = trans[a]! * w00 + trans[b]! * w01 + trans[c]! * w10 + trans[d]! * w11;
      const o = 4 * (y * W + x);
      for (let ch = 0; ch < 3; ch++) {
        const cv = color[3 * a + ch]! * w00 + color[3 * b + ch]! * w01 + color[3 * c + ch]! * w10 + color[3 * d + ch]! * w11;
        out8[o + ch] = 255 * cv + t * under[o + ch]!;
      }
    }
  }
}
