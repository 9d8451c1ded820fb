// Reference expression blending: out = mean + sum_e coeff[e] * bases[e] (float64).
type Num = ArrayLike<number>;

export function blendVolumesRef(mean: Num, bases: Num, coeff: Num): Float64Array {
  const V = mean.length, E = coeff.length;
  const out = Float64Array.from(mean);
  for (let e = 0; e < E; e++) for (let i = 0; i < V; i++) out[i]! += coeff[e]! * bases[e * V + i]!;
  return out;
}

export function blendVolumesBackwardRef(
  bases: Num, coeff: Num, dOut: Num,
): { dMean: Float64Array; dBases: Float64Array; dCoeff: Float64Array } {
  const V = dOut.length, E = coeff.length;
  const dBases = new Float64Array(E * V), dCoeff = new Float64Array(E);
  for (let e = 0; e < E; e++)
    for (let i = 0; i < V; i++) {
      dBases[e * V + i] = coeff[e]! * dOut[i]!;
      dCoeff[e]! += bases[e * V + i]! * dOut[i]!;
    }
  return { dMean: Float64Array.from(dOut), dBases, dCoeff };
}
