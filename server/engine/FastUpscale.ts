// Bilinear upscaling of a float RGB image [h, w, 3] to an RGBA8 image [H, W, 4] (alpha
// 255), pixel-centre aligned (like align_corners=false resizing, edges clamped). The
// renderer shades fewer rays than it outputs and fills the rest by interpolation.

/** Precomputed source taps per output column/row. */
export interface UpscalePlan {
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly fx: Float32Array;
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly fy: Float32Array;
}

function taps(src: number, dst: number) {
  const i0 = new Int32Array(dst), i1 = new Int32Array(dst), f = new Float32Array(dst);
  for (let i = 0; i < dst; i++) {
    const u = Math.min(Math.max(((i + 0.5) * src) / dst - 0.5, 0), src - 1), fl = Math.floor(u);
    i0[i] = fl;
    i1[i] = Math.min(fl + 1, src - 1);
    f[i] = u - fl;
  }
  return { i0, i1, f };
}

export function upscalePlan(sw: number, sh: number, dw: number, dh: number): UpscalePlan {
  const x = taps(sw, dw), y = taps(sh, dh);
  return { x0: x.i0, x1: x.i1, fx: x.f, y0: y.i0, y1: y.i1, fy: y.f };
}

const to8 = (v: number) => Math.round(Math.min(Math.max(v, 0), 1) * 255);

export function upscaleRgb(src: Float32Array, sw: number, plan: UpscalePlan, out: Uint8Array): void {
  const W = plan.x0.length, H = plan.y0.length;
  for (let y = 0, o = 0; y < H; y++) {
    const r0 = plan.y0[y]! * sw, r1 = plan.y1[y]! * sw, fy = plan.fy[y]!;
    for (let x = 0; x < W; x++, o += 4) {
      const a = 3 * (r0 + plan.x0[x]!), b = 3 * (r0 + plan.x1[x]!), c = 3 * (r1 + plan.x0[x]!), d = 3 * (r1 + plan.x1[x]!), fx = plan.fx[x]!;
      for (let ch = 0; ch < 3; ch++) {
        const top = src[a + ch]! + (src[b + ch]! - src[a + ch]!) * fx, bot = src[c + ch]! + (src[d + ch]! - src[c + ch]!) * fx;
        out[o + ch] = to8(top + (bot - top) * fy);
      }
      out[o + 3] = 255;
    }
  }
}
