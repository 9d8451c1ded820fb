// The distortion loss of Mip-NeRF 360 (Barron et al. 2022, eq. 15) on each ray's
// compositing weights: sum_ij w_i w_j |t_i - t_j| + 1/3 sum_i w_i^2 dt_i, averaged over the
// rays. It is small when a ray's weight sits in one short stretch (a surface) and large when
// it is spread through the volume, so it pulls the avatar's soft layer of density (weights
// above 2e-3 spread over 15 samples a ray, docs/picture.md) towards a surface: sharper
// pictures and fewer samples before a ray terminates.
//
// Gradient in O(n) per ray: with g_i = dL/dw_i = 2 sum_j w_j |t_i - t_j| + 2/3 w_i dt_i and
// w_i = T_i (1 - exp(-a_i)), a_k = relu(sigma_k) Delta_k: dL/da_k = T_{k+1} g_k - sum_{i>k} w_i g_i.

export interface DistortionInputs {
  /** [S] density before relu. */
  readonly sigma: Float32Array;
  /** [S] relu(sigma) multiplies these in the compositing exponent (the march's step times densityScale). */
  readonly deltas: Float32Array;
  /** [S] each sample's distance along its ray (any unit; increasing within a ray). */
  readonly t: Float32Array;
  /** [S] each sample's interval length, in t's unit. */
  readonly dt: Float32Array;
  /** [R + 1] ray r's samples start at rayOffsets[r]. */
  readonly rayOffsets: Int32Array;
  /** [R] samples composited before early termination (the first used[r] of each ray). */
  readonly used: Int32Array;
}

/**
 * Mean distortion over the rays, and `weight` times its gradient with respect to sigma
 * added into dSigma ([S]).
 */
export function distortionLoss(x: DistortionInputs, weight: number, dSigma: Float32Array | null): number {
  const R = x.rayOffsets.length - 1;
  let total = 0;
  const w: number[] = [], T: number[] = [], g: number[] = [];
  for (let r = 0; r < R; r++) {
    const s0 = x.rayOffsets[r]!, n = x.used[r]!;
    if (n === 0) continue;
    w.length = 0; T.length = 0; g.length = 0;
    let trans = 1;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(-Math.max(x.sigma[s0 + i]!, 0) * x.deltas[s0 + i]!);
      w.push(trans * (1 - e));
      trans *= e;
      T.push(trans);
    }
    // sum_j w_j |t_i - t_j| from prefix sums of w and w t (t increases along the ray).
    let wAll = 0, wtAll = 0;
    for (let i = 0; i < n; i++) { wAll += w[i]!; wtAll += w[i]! * x.t[s0 + i]!; }
    let wBefore = 0, wtBefore = 0, loss = 0;
    for (let i = 0; i < n; i++) {
      const ti = x.t[s0 + i]!, wi = w[i]!;
      const spread = ti * wBefore - wtBefore + (wtAll - wtBefore - wi * ti) - ti * (wAll - wBefore - wi);
      loss += wi * spread + (wi * wi * x.dt[s0 + i]!) / 3;
      g.push(2 * spread + (2 / 3) * wi * x.dt[s0 + i]!);
      wBefore += wi;
      wtBefore += wi * ti;
    }
    total += loss;
    if (!dSigma) continue;
    let after = 0;
    for (let k = n - 1; k >= 0; k--) {
      const s = s0 + k;
      if (x.sigma[s]! > 0) dSigma[s]! += (weight / R) * x.deltas[s]! * (T[k]! * g[k]! - after);
      after += w[k]! * g[k]!;
    }
  }
  return R > 0 ? total / R : 0;
}

/** What the loss reads, from a forward pass's cache: t along each ray in units of the march's step. */
export function distortionInputs(
  q: { sigma: Float32Array; deltas: Float32Array; rayOffsets: Int32Array; positions: Float32Array; rayDirs: Float32Array; composite: { samplesUsed: Int32Array } },
  step: number,
): DistortionInputs {
  const S = q.sigma.length, R = q.rayOffsets.length - 1, t = new Float32Array(S), dt = new Float32Array(S).fill(1);
  for (let r = 0; r < R; r++) {
    const s0 = q.rayOffsets[r]!, s1 = q.rayOffsets[r + 1]!;
    const vx = q.rayDirs[3 * r]!, vy = q.rayDirs[3 * r + 1]!, vz = q.rayDirs[3 * r + 2]!, vv = vx * vx + vy * vy + vz * vz;
    for (let i = s0; i < s1; i++) {
      // Samples lie on the ray: the projection on its direction orders and spaces them.
      const dx = q.positions[3 * i]! - q.positions[3 * s0]!, dy = q.positions[3 * i + 1]! - q.positions[3 * s0 + 1]!, dz = q.positions[3 * i + 2]! - q.positions[3 * s0 + 2]!;
      t[i] = (dx * vx + dy * vy + dz * vz) / vv / step;
    }
  }
  return { sigma: q.sigma, deltas: q.deltas, t, dt, rayOffsets: q.rayOffsets, used: q.composite.samplesUsed };
}
