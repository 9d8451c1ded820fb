// Reference for renderRays: the avatar's fused inference per ray, written as the plain
// composition of the reference march, trilinear lookups, encoding and dense layers, in
// float64 (positions rounded to float32 as marchRays returns them). Ground truth for
// the native op, which fuses the same steps with float32 math.
import type { RenderRaysScene, RenderRaysStats } from '../KernelsTypes';
import { gridSample3dRef } from './gridSample';
import { marchRaysRef } from './march';

export function encode(x: ArrayLike<number>, F: number, out: number[]): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out.push(v);
    for (let j = 0, a = 1; j < F; j++, a *= 2) out.push(Math.sin(a * v), Math.cos(a * v));
  }
}

/** act(W[:, c0:c0+x.length] x + b) for W [H, ld]; act true = relu, 'leaky' = leaky relu (0.01). */
export function layer(W: ArrayLike<number>, ld: number, c0: number, b: ArrayLike<number>, x: ArrayLike<number>, H: number, relu: boolean | 'leaky'): number[] {
  const y: number[] = [];
  for (let h = 0; h < H; h++) {
    let s = b[h]!;
    for (let k = 0; k < x.length; k++) s += W[h * ld + c0 + k]! * x[k]!;
    y.push(relu === 'leaky' ? (s > 0 ? s : 0.01 * s) : relu ? Math.max(s, 0) : s);
  }
  return y;
}

const norm = (p: number[], box: RenderRaysScene['motionBox']) => p.map((v, a) => ((v - box.min[a]!) * 2) / (box.max[a]! - box.min[a]!) - 1);

/** One canonical point through the offset, appearance, encoding and density steps. */
function sampleDensity(s: RenderRaysScene, p: number[]): { sigma: number; enc: number[] } {
  const C = s.channels, encA = 3 * C * (1 + 2 * s.frequencies);
  const offShape = { d: s.offsetRes, h: s.offsetRes, w: s.offsetRes, c: 3 };
  const appShape = { d: s.appearanceRes, h: s.appearanceRes, w: s.appearanceRes, c: C };
  const off = gridSample3dRef(s.offsets, offShape, norm(p, s.motionBox), 1);
  const ga = norm(p.map((v, a) => v + off[a]!), s.appearanceBox);
  const feat: number[] = [];
  for (const st of [1, 2, 4] as const) feat.push(...gridSample3dRef(s.appearance, appShape, ga, st));
  const enc: number[] = [];
  encode(feat, s.frequencies, enc);
  const hD = layer(s.densW0, encA, 0, s.densB0, enc, s.densityHidden, true);
  let sigma = s.densB1;
  for (let h = 0; h < s.densityHidden; h++) sigma += s.densW1[h]! * hD[h]!;
  return { sigma, enc };
}

export function densityAtRef(points: ArrayLike<number>, s: RenderRaysScene, sigma: Float32Array): void {
  for (let i = 0; i < points.length / 3; i++) sigma[i] = sampleDensity(s, [points[3 * i]!, points[3 * i + 1]!, points[3 * i + 2]!]).sigma;
}

export function renderRaysRef(
  origins: ArrayLike<number>, dirs: ArrayLike<number>, s: RenderRaysScene, color: Float32Array, transmittance?: Float32Array,
): RenderRaysStats {
  const R = origins.length / 3, F = s.frequencies, C = s.channels;
  const encA = 3 * C * (1 + 2 * F), encV = 3 * (1 + 2 * F), colorIn = encA + encV;
  // A zero direction inside the box would march forever: moving its origin out makes it a miss, as in the native op.
  const o = Float64Array.from(origins);
  for (let r = 0; r < R; r++) if (dirs[3 * r] === 0 && dirs[3 * r + 1] === 0 && dirs[3 * r + 2] === 0) o[3 * r] = 1e30;
  const march = marchRaysRef(o, dirs, s.appearanceBox, s.occupancy, s.gridRes, s.step, s.maxSamples);
  let density = 0, shaded = 0;
  for (let r = 0; r < R; r++) {
    const view: number[] = [];
    encode([dirs[3 * r]!, dirs[3 * r + 1]!, dirs[3 * r + 2]!], F, view);
    let T = 1, pending = 0;
    const acc = [0, 0, 0];
    for (let i = march.rayOffsets[r]!; i < march.rayOffsets[r + 1]!; i++) {
      if (T < s.tEps) break;
      const { sigma, enc } = sampleDensity(s, [march.positions[3 * i]!, march.positions[3 * i + 1]!, march.positions[3 * i + 2]!]);
      density++;
      const trans = Math.exp(-Math.max(sigma, 0) * s.stepDensity), w = T * (1 - trans);
      T *= trans;
      if (w < s.weightEps) {
        pending += w;
        continue;
      }
      // View columns: the same per-ray bias the native op folds.
      const bias = layer(s.colorW0, colorIn, encA, s.colorB0, view, s.colorHidden, false);
      const hC = layer(s.colorW0, colorIn, 0, bias, enc, s.colorHidden, true);
      const rgb = layer(s.colorW1, s.colorHidden, 0, s.colorB1, hC, 3, false).map((v) => 1 / (1 + Math.exp(-v)));
      for (let c = 0; c < 3; c++) acc[c]! += (w + pending) * rgb[c]!;
      pending = 0;
      shaded++;
    }
    for (let c = 0; c < 3; c++) color[3 * r + c] = acc[c]! + (T + pending) * s.background[c]!;
    if (transmittance) transmittance[r] = T + pending;
  }
  // The ops march only as far as they shade: every sample they keep gets the density head.
  return { samples: density, density, shaded };
}
