// Bilinear upscaling of a float RGB image [h, w, 3] to an RGBA8 image [H, W, 4] (alpha
// 255), pixel-centre aligned (like align_corners=false resizing, edges clamped). The
// renderer shades fewer rays than it outputs and fills the rest by interpolation.
// Separable: each source row is widened once into the plan's scratch, then output rows
// blend two widened rows (half the arithmetic of four taps per output pixel).

/** Precomputed source taps per output column/row. */
export interface UpscalePlan {
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly fx: Float32Array;
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly fy: Float32Array;
  /** Source rows widened to the output width [h, W, 3] (scratch, reused). */
  readonly rows: Float32Array;
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
  return { x0: x.i0, x1: x.i1, fx: x.f, y0: y.i0, y1: y.i1, fy: y.f, rows: new Float32Array(sh * dw * 3) };
}

export function upscaleRgb(src: Float32Array, sw: number, plan: UpscalePlan, out: Uint8Array): void {
  const W = plan.x0.length, H = plan.y0.length, rows = plan.rows, sh = rows.length / (3 * W);
  for (let sy = 0, o = 0; sy < sh; sy++) {
    const r = sy * sw;
    for (let x = 0; x < W; x++, o += 3) {
      const a = 3 * (r + plan.x0[x]!), b = 3 * (r + plan.x1[x]!), fx = plan.fx[x]!;
      rows[o] = src[a]! + (src[b]! - src[a]!) * fx;
      rows[o + 1] = src[a + 1]! + (src[b + 1]! - src[a + 1]!) * fx;
      rows[o + 2] = src[a + 2]! + (src[b + 2]! - src[a + 2]!) * fx;
    }
  }
  // A clamped view converts like to8 (clamp to [0, 255], round; ties to even) in the engine.
  const out8 = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let y = 0, o = 0; y < H; y++) {
    const r0 = plan.y0[y]! * W * 3, r1 = plan.y1[y]! * W * 3, fy = 255 * plan.fy[y]!;
    for (let i = 0; i < 3 * W; i += 3, o += 4) {
      const a = r0 + i, b = r1 + i;
      out8[o] = 255 * rows[a]! + (rows[b]! - rows[a]!) * fy;
      out8[o + 1] = 255 * rows[a + 1]! + (rows[b + 1]! - rows[a + 1]!) * fy;
      out8[o + 2] = 255 * rows[a + 2]! + (rows[b + 2]! - rows[a + 2]!) * fy;
      out8[o + 3] = 255;
    }
  }
}
