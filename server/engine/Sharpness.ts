// How sharp a render is next to the camera's picture, in a region: the energy of the
// Laplacian of luma (the high frequencies blur removes) of the render over that of the
// ground truth, both over the same pixels. 1 is as sharp as the video; a blur scores far
// below (a Gaussian blur of sigma 1.5 px keeps 0.03 of a real face's Laplacian energy at 128 px,
// test/engine/RegionMetrics.test.ts). Noise and JPEG ringing also carry high-frequency
// energy, so a ratio above 1 is not better: it is a render noisier than the camera.

/** BT.601 luma of interleaved RGB in [0, 1]. */
function luma(rgb: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!;
  return y;
}

export interface LaplacianEnergy {
  /** Sum of the squared 4-neighbour Laplacian of luma over the counted pixels. */
  readonly sum: number;
  /** Pixels counted: those whose whole 3x3 neighbourhood lies inside the region and the frame. */
  readonly pixels: number;
}

/**
 * Squared Laplacian of luma summed over the pixels whose 3x3 neighbourhood is all inside
 * `region` (so the region's edge, where render and video may show different backgrounds,
 * does not count), or over every interior pixel without a region.
 */
export function laplacianEnergy(rgb: ArrayLike<number>, width: number, height: number, region?: Uint8Array): LaplacianEnergy {
  const n = width * height;
  if (rgb.length !== 3 * n) throw new RangeError(`laplacianEnergy: expected ${3 * n} values, got ${rgb.length}`);
  if (region && region.length !== n) throw new RangeError(`laplacianEnergy: region has ${region.length} pixels, the image ${n}`);
  const y = luma(rgb, n);
  let sum = 0, pixels = 0;
  for (let j = 1; j < height - 1; j++)
    for (let i = 1; i < width - 1; i++) {
      const p = j * width + i;
      if (region && !(region[p] && region[p - 1] && region[p + 1] && region[p - width] && region[p + width]
        && region[p - width - 1] && region[p - width + 1] && region[p + width - 1] && region[p + width + 1])) continue;
      const lap = y[p - 1]! + y[p + 1]! + y[p - width]! + y[p + width]! - 4 * y[p]!;
      sum += lap * lap;
      pixels++;
    }
  return { sum, pixels };
}

/** Laplacian energy of `render` over that of `truth` in `region`; NaN when the region has no interior pixel or the truth is flat there. */
export function sharpnessRatio(render: ArrayLike<number>, truth: ArrayLike<number>, width: number, height: number, region?: Uint8Array): number {
  const r = laplacianEnergy(render, width, height, region), t = laplacianEnergy(truth, width, height, region);
  return t.pixels === 0 || t.sum === 0 ? Number.NaN : r.sum / t.sum;
}
