// Reference ray marching. Mirrors kernels/src/march.cpp operation for operation in
// double precision (JS numbers), so sample counts and positions match exactly.
import type { MarchBox, MarchResult } from '../KernelsTypes';

type Num = ArrayLike<number>;

function marchRay(
  o: number[], d: number[], box: MarchBox, occ: Uint8Array, G: number, step: number, maxSamples: number,
  emit: (x: number, y: number, z: number) => void,
): number {
  let tNear = 0, tFar = Infinity;
  for (let a = 0; a < 3; a++) {
    const mn = box.min[a]!, mx = box.max[a]!;
    if (d[a] === 0) {
      if (o[a]! < mn || o[a]! > mx) return 0;
      continue;
    }
    let t0 = (mn - o[a]!) / d[a]!, t1 = (mx - o[a]!) / d[a]!;
    if (t0 > t1) [t0, t1] = [t1, t0];
    if (t0 > tNear) tNear = t0;
    if (t1 < tFar) tFar = t1;
  }
  if (!(tNear < tFar)) return 0;
  let count = 0;
  for (let k = 0; count < maxSamples; k += 1) {
    const t = tNear + (k + 0.5) * step;
    if (!(t < tFar)) break;
    const pos = [0, 0, 0], cell = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      const mn = box.min[a]!, mx = box.max[a]!;
      pos[a] = o[a]! + t * d[a]!;
      const c = Math.floor(((pos[a]! - mn) / (mx - mn)) * G);
      cell[a] = c < 0 ? 0 : c > G - 1 ? G - 1 : c;
    }
    if (!occ[(cell[2]! * G + cell[1]!) * G + cell[0]!]) continue;
    emit(pos[0]!, pos[1]!, pos[2]!);
    count++;
  }
  return count;
}

export function marchRaysRef(
  origins: Num, dirs: Num, box: MarchBox, occupancy: Uint8Array, G: number, step: number, maxSamples: number,
): MarchResult {
  const R = origins.length / 3;
  const positions: number[] = [];
  const rayOffsets = new Int32Array(R + 1);
  for (let r = 0; r < R; r++) {
    const o = [origins[3 * r]!, origins[3 * r + 1]!, origins[3 * r + 2]!];
    const d = [dirs[3 * r]!, dirs[3 * r + 1]!, dirs[3 * r + 2]!];
    const n = marchRay(o, d, box, occupancy, G, step, maxSamples, (x, y, z) => positions.push(x, y, z));
    rayOffsets[r + 1] = rayOffsets[r]! + n;
  }
  const S = rayOffsets[R]!;
  return { positions: Float32Array.from(positions), deltas: new Float32Array(S).fill(step), rayOffsets };
}
