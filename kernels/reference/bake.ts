// Reference for bakeMotion: the deformation MLP at the bake grid's points, written as
// the plain composition of the reference trilinear lookups, encoding and layers, in
// float64. Ground truth for the native op's fused float32 version.
import type { DeformMlp, GridShape } from '../KernelsTypes';
import { gridSample3dRef } from './gridSample';
import { encode, layer } from './render';

export function bakeMotionRef(motion: Float32Array, shape: GridShape, m: number, d: DeformMlp, offsets: Float32Array): void {
  const encM = 3 * shape.c * (1 + 2 * d.frequencies);
  for (let z = 0, i = 0; z < m; z++)
    for (let y = 0; y < m; y++)
      for (let x = 0; x < m; x++, i++) {
        const g = [x, y, z].map((v) => (2 * v + 1) / m - 1);
        const feat: number[] = [];
        for (const st of [1, 2, 4] as const) feat.push(...gridSample3dRef(motion, shape, g, st));
        const enc: number[] = [];
        encode(feat, d.frequencies, enc);
        const h = layer(d.W0, encM, 0, d.b0, enc, d.hidden, 'leaky');
        const out = layer(d.W1, d.hidden, 0, d.b1, h, 3, false);
        for (let o = 0; o < 3; o++) offsets[3 * i + o] = 0.1 * out[o]!;
      }
}
