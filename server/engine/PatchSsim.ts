// SSIM of small square patches of rendered rays against their targets, and its gradient,
// for the trainer's D-SSIM term (docs/engine.md "Trainer"). Each k x k patch is one SSIM
// window with uniform weights (Wang et al.'s 8x8 block form), per RGB channel:
//
//   S = (2 mx my + C1)(2 sxy + C2) / ((mx^2 + my^2 + C1)(sx^2 + sy^2 + C2))
//
// with population (1/N) moments. With A1 = 2 mx my + C1, A2 = 2 sxy + C2, B1, B2 the
// denominator's factors and N = k^2, the derivative in one value x_i of the render is
//
//   dS/dx_i = 2 / (N B1 B2) * (my A2 + A1 (y_i - my) - S (mx B2 + B1 (x_i - mx)))
//
// and, S being symmetric in x and y, the same with x and y swapped for the target (the
// per-frame alignment moves the target, so it needs that side too). Everything is in TS:
// the kernels' backward takes dLoss/dcolour, whatever the loss.

/** The usual constants for values in [0, 1]: (0.01)^2 and (0.03)^2. */
export const SSIM_C1 = 1e-4, SSIM_C2 = 9e-4;

export interface PatchSsimResult {
  /** Mean of (1 - S) over patches and channels. */
  readonly dssim: number;
}

/**
 * D-SSIM of `patches` patches of k*k consecutive rays starting at ray `start` (rays of a patch
 * in row-major order; x, y interleaved RGB, 3 values a ray). Adds weight * d(mean(1 - S))/dx
 * to gradX, and the same for y to gradY when given.
 */
export function patchDssim(
  x: Float32Array, y: Float32Array, start: number, patches: number, k: number, weight: number,
  gradX: Float32Array, gradY?: Float32Array,
): PatchSsimResult {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`patchDssim: patch side must be an integer >= 2, got ${k}`);
  const n = k * k;
  if (3 * (start + patches * n) > x.length || x.length !== y.length) throw new RangeError('patchDssim: patches run past the rays');
  if (patches === 0) return { dssim: 0 };
  let sum = 0;
  const scale = -weight / (patches * 3); // d(mean(1 - S)) = -dS / (patches * channels)
  for (let p = 0; p < patches; p++) {
    const r0 = start + p * n;
    for (let c = 0; c < 3; c++) {
      let mx = 0, my = 0;
      for (let i = 0; i < n; i++) { mx += x[3 * (r0 + i) + c]!; my += y[3 * (r0 + i) + c]!; }
      mx /= n; my /= n;
      let vx = 0, vy = 0, cxy = 0;
      for (let i = 0; i < n; i++) {
        const dx = x[3 * (r0 + i) + c]! - mx, dy = y[3 * (r0 + i) + c]! - my;
        vx += dx * dx; vy += dy * dy; cxy += dx * dy;
      }
      vx /= n; vy /= n; cxy /= n;
      const a1 = 2 * mx * my + SSIM_C1, a2 = 2 * cxy + SSIM_C2, b1 = mx * mx + my * my + SSIM_C1, b2 = vx + vy + SSIM_C2;
      const s = (a1 * a2) / (b1 * b2);
      sum += 1 - s;
      const f = (2 / (n * b1 * b2)) * scale;
      for (let i = 0; i < n; i++) {
        const at = 3 * (r0 + i) + c, dx = x[at]! - mx, dy = y[at]! - my;
        gradX[at]! += f * (my * a2 + a1 * dy - s * (mx * b2 + b1 * dx));
        if (gradY) gradY[at]! += f * (mx * a2 + a1 * dx - s * (my * b2 + b1 * dy));
      }
    }
  }
  return { dssim: sum / (patches * 3) };
}
