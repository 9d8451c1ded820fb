// Occupancy grid over the appearance box (index (z*G+y)*G+x, as marchRays reads it):
// a cell is occupied when the density at a jittered point in it, for any of the given
// coefficient vectors, gives alpha above a threshold over one march step; then dilated by
// one cell so thin surfaces between the probe points are not skipped.
import type { Kernels } from '../../kernels/KernelsTypes';
import { type AvatarModel, modelDims } from './AvatarModel';

export interface OccupancyOptions {
  /** Alpha over one step below which a probe counts as empty. */
  readonly alphaThreshold?: number;
  /** Probe offset inside each cell in [0,1)^3 (0.5 = centres); random jitter when a function. */
  readonly jitter?: () => number;
}

/** Cell centres (or jittered points) [G^3, 3] in canonical space. */
export function occupancyProbes(model: AvatarModel, jitter?: () => number): Float32Array {
  const c = model.config, G = c.occupancyRes, b = c.appearanceBox, pts = new Float32Array(3 * G * G * G);
  for (let z = 0, i = 0; z < G; z++)
    for (let y = 0; y < G; y++)
      for (let x = 0; x < G; x++, i += 3) {
        const cell = [x, y, z];
        for (let a = 0; a < 3; a++)
          pts[i + a] = b.min[a]! + ((cell[a]! + (jitter ? jitter() : 0.5)) / G) * (b.max[a]! - b.min[a]!);
      }
  return pts;
}

/** Sets out[i] = 1 where any of `sigmas` gives alpha > threshold, dilated by one cell. */
export function occupancyFromDensity(sigmas: readonly Float32Array[], G: number, stepDensity: number, threshold: number, out?: Uint8Array): Uint8Array {
  const n = G * G * G, raw = new Uint8Array(n);
  const minSigma = -Math.log(1 - threshold) / stepDensity;
  for (const s of sigmas) for (let i = 0; i < n; i++) if (s[i]! > minSigma) raw[i] = 1;
  return dilateOccupancy(raw, G, out);
}

/** out = raw dilated by one cell (26-neighbourhood); out must not alias raw. */
export function dilateOccupancy(raw: Uint8Array, G: number, out?: Uint8Array): Uint8Array {
  const occ = out ?? new Uint8Array(G * G * G);
  occ.fill(0);
  for (let z = 0; z < G; z++)
    for (let y = 0; y < G; y++)
      for (let x = 0; x < G; x++) {
        if (!raw[(z * G + y) * G + x]) continue;
        for (let dz = Math.max(z - 1, 0); dz <= Math.min(z + 1, G - 1); dz++)
          for (let dy = Math.max(y - 1, 0); dy <= Math.min(y + 1, G - 1); dy++)
            for (let dx = Math.max(x - 1, 0); dx <= Math.min(x + 1, G - 1); dx++) occ[(dz * G + dy) * G + dx] = 1;
      }
  return occ;
}

/** Occupancy of `model` for a set of coefficient vectors. */
export function computeOccupancy(k: Kernels, model: AvatarModel, coefficients: readonly Float32Array[], o: OccupancyOptions = {}): Uint8Array {
  const pts = occupancyProbes(model, o.jitter);
  const sigmas = coefficients.map((c) => model.density(k, c, pts));
  const stepDensity = modelDims(model.config).step * model.config.densityScale;
  return occupancyFromDensity(sigmas, model.config.occupancyRes, stepDensity, o.alphaThreshold ?? 0.01);
}
