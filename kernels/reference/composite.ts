// Reference alpha compositing (NeRF quadrature) with early termination, float64.
type Num = ArrayLike<number>;

export interface CompositeRef {
  color: Float64Array;
  transmittance: Float64Array;
  samplesUsed: Int32Array;
}

export function compositeRef(sigma: Num, rgb: Num, delta: Num, offsets: Num, bg: Num, tEps: number): CompositeRef {
  const R = offsets.length - 1;
  const color = new Float64Array(R * 3), transmittance = new Float64Array(R), samplesUsed = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    const s0 = offsets[r]!, s1 = offsets[r + 1]!;
    let T = 1, i = s0;
    const c = [0, 0, 0];
    for (; i < s1; i++) {
      if (T < tEps) break;
      const trans = Math.exp(-Math.max(sigma[i]!, 0) * delta[i]!);
      const w = T * (1 - trans);
      for (let k = 0; k < 3; k++) c[k]! += w * rgb[3 * i + k]!;
      T *= trans;
    }
    for (let k = 0; k < 3; k++) color[3 * r + k] = c[k]! + T * bg[k]!;
    transmittance[r] = T;
    samplesUsed[r] = i - s0;
  }
  return { color, transmittance, samplesUsed };
}

/**
 * Straight from the definition, with explicit suffix sums (the C++ kernel uses the
 * color - prefix form instead, so the two are independent derivations):
 * dC/ds_k = delta_k (T_{k+1} c_k - sum_{i>k, used} w_i c_i - T_end bg), dC/dc_k = w_k.
 */
export function compositeBackwardRef(
  sigma: Num, rgb: Num, delta: Num, offsets: Num, bg: Num, used: ArrayLike<number>, dColor: Num,
): { dSigma: Float64Array; dRgb: Float64Array } {
  const S = sigma.length, R = offsets.length - 1;
  const dSigma = new Float64Array(S), dRgb = new Float64Array(S * 3);
  for (let r = 0; r < R; r++) {
    const s0 = offsets[r]!, se = s0 + used[r]!;
    const g = [dColor[3 * r]!, dColor[3 * r + 1]!, dColor[3 * r + 2]!];
    const Tafter: number[] = [], wg: number[] = [], cg: number[] = [];
    let T = 1;
    for (let i = s0; i < se; i++) {
      const trans = Math.exp(-Math.max(sigma[i]!, 0) * delta[i]!);
      const w = T * (1 - trans);
      const gc = g[0]! * rgb[3 * i]! + g[1]! * rgb[3 * i + 1]! + g[2]! * rgb[3 * i + 2]!;
      T *= trans;
      Tafter.push(T);
      wg.push(w * gc);
      cg.push(gc);
      for (let k = 0; k < 3; k++) dRgb[3 * i + k] = w * g[k]!;
    }
    let suffix = T * (g[0]! * bg[0]! + g[1]! * bg[1]! + g[2]! * bg[2]!);
    for (let j = se - s0 - 1; j >= 0; j--) {
      const i = s0 + j;
      dSigma[i] = sigma[i]! > 0 ? delta[i]! * (Tafter[j]! * cg[j]! - suffix) : 0;
      suffix += wg[j]!;
    }
  }
  return { dSigma, dRgb };
}
