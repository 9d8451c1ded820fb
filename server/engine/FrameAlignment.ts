// Per-frame 2D corrections of the training targets, learned with the avatar.
//
// MediaPipe's rigid fit leaves 5-10 px of error at 512 px (dataset reprojection error 6.8 px
// on KatieHill), so the same feature lands a few pixels apart from frame to frame and the
// model learns their blur. Each training frame gets a sub-pixel shift s (training pixels,
// x right, y down): its target at pixel p is the image read (bilinear) at p + s. Live
// driving keeps the tracker's values; only what the model is taught to reproduce moves.
//
// The shift is fitted by Gauss-Newton (two Lucas-Kanade steps per visit, before the step fits the target) against the
// current render C on the step's own rays: with J = dT/ds, the target image's spatial
// gradient (cheap: no ray gradients), residual r = C - T and
//   delta = rate * (J^T J + damping * tr(J^T J)/2 I)^-1 J^T r,
// clamped to maxStep per visit and maxShift in all. A step-free update matters here:
// in 565-1600 steps over ~170 frames each frame is visited only 3-10 times, too few for a
// gradient method to travel a few pixels. Updates start at fromStep (before that the render
// is a blob and the residual says nothing about alignment). recentre() removes the mean
// shift so the avatar does not drift away from where live driving puts it.
//
// Off by default (Trainer alignRate 0): at 240 CPU-s on KatieHill (114 steps, 256 px) it
// scored 19.03 dB in the face against 19.55 without (127 steps), sharpness 0.016 vs 0.020:
// a frame is aligned against a render that is still a blob. Longer runs may differ.
import type { TrainingFrame } from './TrainerTypes';

export interface FrameAlignmentOptions {
  /** Fraction of the Gauss-Newton step taken per visit. */
  readonly rate: number;
  /** Largest |shift| per axis, training pixels. */
  readonly maxShift: number;
  /** Largest change per visit per axis, training pixels. */
  readonly maxStep: number;
  /** Levenberg damping, relative to the mean diagonal of J^T J. */
  readonly damping: number;
}

export interface AlignedTarget {
  /** [3n] target colours at the shifted pixels. */
  readonly target: Float32Array;
  /** [3n] dTarget/dshift_x and dTarget/dshift_y. */
  readonly jx: Float32Array;
  readonly jy: Float32Array;
}

export class FrameAlignment {
  /** [2F] (x, y) per frame, training pixels. */
  readonly shifts: Float32Array;
  private readonly o: FrameAlignmentOptions;

  constructor(frames: number, o: FrameAlignmentOptions) {
    this.shifts = new Float32Array(2 * frames);
    this.o = o;
  }

  /** The frame's target at the given pixels, read at pixel + shift, with its derivatives in the shift. */
  target(index: number, frame: Pick<TrainingFrame, 'image'>, width: number, height: number, pixels: Int32Array): AlignedTarget {
    const n = pixels.length, target = new Float32Array(3 * n), jx = new Float32Array(3 * n), jy = new Float32Array(3 * n);
    const sx = this.shifts[2 * index]!, sy = this.shifts[2 * index + 1]!, img = frame.image;
    const clampX = (x: number) => Math.min(Math.max(x, 0), width - 1), clampY = (y: number) => Math.min(Math.max(y, 0), height - 1);
    for (let r = 0; r < n; r++) {
      const p = pixels[r]!, u = (p % width) + sx, v = Math.floor(p / width) + sy;
      const x0 = Math.floor(u), y0 = Math.floor(v), fx = u - x0, fy = v - y0;
      const xa = clampX(x0), xb = clampX(x0 + 1), ya = clampY(y0), yb = clampY(y0 + 1);
      const i00 = 3 * (ya * width + xa), i10 = 3 * (ya * width + xb), i01 = 3 * (yb * width + xa), i11 = 3 * (yb * width + xb);
      for (let c = 0; c < 3; c++) {
        const a = img[i00 + c]!, b = img[i10 + c]!, d = img[i01 + c]!, e = img[i11 + c]!;
        target[3 * r + c] = (1 - fx) * (1 - fy) * a + fx * (1 - fy) * b + (1 - fx) * fy * d + fx * fy * e;
        jx[3 * r + c] = (1 - fy) * (b - a) + fy * (e - d);
        jy[3 * r + c] = (1 - fx) * (d - a) + fx * (e - b);
      }
    }
    return { target, jx, jy };
  }

  /** One damped Gauss-Newton step of the frame's shift towards the render. */
  update(index: number, render: Float32Array, t: AlignedTarget): void {
    let axx = 0, axy = 0, ayy = 0, bx = 0, by = 0;
    for (let i = 0; i < render.length; i++) {
      const gx = t.jx[i]!, gy = t.jy[i]!, r = render[i]! - t.target[i]!;
      axx += gx * gx; axy += gx * gy; ayy += gy * gy; bx += gx * r; by += gy * r;
    }
    const mu = this.o.damping * 0.5 * (axx + ayy) + 1e-9;
    axx += mu; ayy += mu;
    const det = axx * ayy - axy * axy;
    if (!(det > 0)) return;
    const { rate, maxStep, maxShift } = this.o;
    const clamp = (v: number, m: number) => Math.min(Math.max(v, -m), m);
    const dx = clamp((rate * (ayy * bx - axy * by)) / det, maxStep), dy = clamp((rate * (axx * by - axy * bx)) / det, maxStep);
    this.shifts[2 * index] = clamp(this.shifts[2 * index]! + dx, maxShift);
    this.shifts[2 * index + 1] = clamp(this.shifts[2 * index + 1]! + dy, maxShift);
  }

  /** Subtracts the mean shift (the avatar stays where the tracker puts it). */
  recentre(): void {
    const f = this.shifts.length / 2;
    let mx = 0, my = 0;
    for (let i = 0; i < f; i++) { mx += this.shifts[2 * i]!; my += this.shifts[2 * i + 1]!; }
    mx /= f; my /= f;
    for (let i = 0; i < f; i++) { this.shifts[2 * i]! -= mx; this.shifts[2 * i + 1]! -= my; }
  }
}
