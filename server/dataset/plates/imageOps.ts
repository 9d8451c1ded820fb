/**
 * Small image operations the plate estimator needs, on flat typed arrays:
 * a median by quickselect, a square max filter (dilation), and pull-push hole
 * filling. Pure code, no image library.
 */

/**
 * The k-th smallest of values[0..n) (reorders them). Quickselect: about 2n
 * comparisons, against n log n for a sort; the plates select once per pixel.
 */
export function selectKth(values: Int32Array | Float32Array, n: number, k: number): number {
  let lo = 0; let hi = n - 1;
  while (hi > lo) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo; let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i += 1;
      while (values[j]! > pivot) j -= 1;
      if (i <= j) {
        const t = values[i]!; values[i] = values[j]!; values[j] = t;
        i += 1; j -= 1;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return values[k]!;
}

/**
 * Where any pixel within `radius` (a (2r+1)² square) has `mask` >= `threshold`:
 * a binary dilation by a summed-area table, the same cost for any radius.
 */
export function dilateAbove(mask: Uint8Array, width: number, height: number, threshold: number, radius: number): Uint8Array {
  const w1 = width + 1;
  const sums = new Int32Array(w1 * (height + 1));
  for (let y = 0; y < height; y += 1) {
    let row = 0;
    for (let x = 0; x < width; x += 1) {
      row += mask[y * width + x]! >= threshold ? 1 : 0;
      sums[(y + 1) * w1 + x + 1] = sums[y * w1 + x + 1]! + row;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let y = 0; y < height; y += 1) {
    const y0 = Math.max(0, y - radius); const y1 = Math.min(height, y + radius + 1);
    for (let x = 0; x < width; x += 1) {
      const x0 = Math.max(0, x - radius); const x1 = Math.min(width, x + radius + 1);
      out[y * width + x] = sums[y1 * w1 + x1]! - sums[y0 * w1 + x1]! - sums[y1 * w1 + x0]! + sums[y0 * w1 + x0]! > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * Fills the unknown pixels (weight 0) of each row that has known pixels by
 * interpolating linearly between the known pixels left and right of the gap
 * (the nearer one alone at the image's edge), then smooths the filled pixels
 * down the columns (a box of +-`smooth` rows over filled pixels). Rooms are
 * mostly horizontal and vertical structure (walls, shelves, frames, the edge
 * of a desk), so carrying each row across the person continues them; a radial
 * fill would blend the frame above and the wall below into a grey blob the
 * shape of the person. Returns the weights after filling (rows with nothing
 * known stay 0, for pull-push).
 */
export function fillRows(colour: Float32Array, weight: Float32Array, width: number, height: number, channels: number, smooth: number): Float32Array {
  const filled = new Uint8Array(width * height);
  const out = weight.slice();
  for (let y = 0; y < height; y += 1) {
    const o = y * width;
    let x = 0;
    while (x < width) {
      if (weight[o + x]! > 0) { x += 1; continue; }
      let end = x;
      while (end < width && weight[o + end]! === 0) end += 1;
      const left = x - 1; const right = end; // known neighbours (or outside)
      if (left >= 0 || right < width) {
        for (let k = x; k < end; k += 1) {
          const t = left < 0 ? 1 : right >= width ? 0 : (k - left) / (right - left);
          for (let c = 0; c < channels; c += 1) {
            const a = left >= 0 ? colour[(o + left) * channels + c]! : colour[(o + right) * channels + c]!;
            const b = right < width ? colour[(o + right) * channels + c]! : a;
            colour[(o + k) * channels + c] = a * (1 - t) + b * t;
          }
          filled[o + k] = 1;
          out[o + k] = 1;
        }
      }
      x = end;
    }
  }
  if (smooth <= 0) return out;
  const column = new Float32Array(height * channels);
  for (let x = 0; x < width; x += 1) {
    for (let y = 0; y < height; y += 1) for (let c = 0; c < channels; c += 1) column[y * channels + c] = colour[(y * width + x) * channels + c]!;
    for (let y = 0; y < height; y += 1) {
      if (!filled[y * width + x]) continue;
      let n = 0;
      const acc = [0, 0, 0, 0];
      for (let d = Math.max(0, y - smooth); d <= Math.min(height - 1, y + smooth); d += 1) {
        if (!filled[d * width + x]) continue;
        n += 1;
        for (let c = 0; c < channels; c += 1) acc[c]! += column[d * channels + c]!;
      }
      for (let c = 0; c < channels; c += 1) colour[(y * width + x) * channels + c] = acc[c]! / n;
    }
  }
  return out;
}

/**
 * Fills pixels of weight < 1 from their surroundings by pull-push (Gortler et
 * al. 1996): a pyramid of weighted averages down to one pixel, then back up,
 * each level blending in the coarser one (bilinearly upsampled) where its own
 * weight falls short. Holes of any size get a smooth fill that meets the known
 * pixels without a seam, and known pixels (weight 1) are kept exactly.
 * `colour` holds `channels` floats a pixel; `weight` is in [0, 1].
 */
export function pullPush(colour: Float32Array, weight: Float32Array, width: number, height: number, channels: number): Float32Array {
  if (width <= 1 && height <= 1) return colour.slice();
  const cw = Math.ceil(width / 2); const ch = Math.ceil(height / 2);
  const coarseColour = new Float32Array(cw * ch * channels);
  const coarseWeight = new Float32Array(cw * ch);
  const acc = new Float32Array(channels);
  for (let y = 0; y < ch; y += 1) {
    for (let x = 0; x < cw; x += 1) {
      let sw = 0;
      acc.fill(0);
      for (let dy = 0; dy < 2; dy += 1) {
        for (let dx = 0; dx < 2; dx += 1) {
          const sx = 2 * x + dx; const sy = 2 * y + dy;
          if (sx >= width || sy >= height) continue;
          const i = sy * width + sx; const w = weight[i]!;
          sw += w;
          for (let c = 0; c < channels; c += 1) acc[c]! += colour[i * channels + c]! * w;
        }
      }
      const o = y * cw + x;
      coarseWeight[o] = Math.min(1, sw);
      if (sw > 0) for (let c = 0; c < channels; c += 1) coarseColour[o * channels + c] = acc[c]! / sw;
    }
  }
  const filled = pullPush(coarseColour, coarseWeight, cw, ch, channels);
  const out = new Float32Array(colour.length);
  // Bilinear: pixel centres of this level sit at (x + 0.5) / 2 - 0.5 in the coarse one.
  const left = new Int32Array(width); const right = new Int32Array(width); const across = new Float32Array(width);
  for (let x = 0; x < width; x += 1) {
    const fx = Math.min(cw - 1, Math.max(0, (x + 0.5) / 2 - 0.5));
    left[x] = Math.floor(fx); right[x] = Math.min(cw - 1, left[x]! + 1); across[x] = fx - left[x]!;
  }
  for (let y = 0; y < height; y += 1) {
    const fy = Math.min(ch - 1, Math.max(0, (y + 0.5) / 2 - 0.5));
    const y0 = Math.floor(fy); const y1 = Math.min(ch - 1, y0 + 1); const ty = fy - y0;
    const row0 = y0 * cw; const row1 = y1 * cw;
    for (let x = 0; x < width; x += 1) {
      const i = y * width + x; const w = Math.min(1, weight[i]!);
      if (w >= 1) {
        for (let c = 0; c < channels; c += 1) out[i * channels + c] = colour[i * channels + c]!;
        continue;
      }
      const tx = across[x]!;
      const a = (row0 + left[x]!) * channels; const b = (row0 + right[x]!) * channels;
      const d = (row1 + left[x]!) * channels; const e = (row1 + right[x]!) * channels;
      for (let c = 0; c < channels; c += 1) {
        const up = (filled[a + c]! * (1 - tx) + filled[b + c]! * tx) * (1 - ty) + (filled[d + c]! * (1 - tx) + filled[e + c]! * tx) * ty;
        out[i * channels + c] = w * colour[i * channels + c]! + (1 - w) * up;
      }
    }
  }
  return out;
}

/**
 * Sets out[i] = 1 for the pixels whose centres lie inside the closed polygon
 * (u, v pairs, pixels) and at or below row `fromY` (a scanline fill, even-odd rule).
 */
export function fillPolygon(points: ArrayLike<number>, width: number, height: number, out: Uint8Array, fromY = 0): void {
  const n = points.length / 2;
  let minY = Infinity; let maxY = -Infinity;
  for (let i = 0; i < n; i += 1) { minY = Math.min(minY, points[i * 2 + 1]!); maxY = Math.max(maxY, points[i * 2 + 1]!); }
  const y0 = Math.max(0, Math.ceil(Math.max(minY, fromY) - 0.5)); const y1 = Math.min(height - 1, Math.floor(maxY - 0.5));
  const crossings: number[] = [];
  for (let y = y0; y <= y1; y += 1) {
    const cy = y + 0.5;
    crossings.length = 0;
    for (let i = 0, j = n - 1; i < n; j = i, i += 1) {
      const xi = points[i * 2]!; const yi = points[i * 2 + 1]!;
      const xj = points[j * 2]!; const yj = points[j * 2 + 1]!;
      if ((yi > cy) !== (yj > cy)) crossings.push(xi + ((xj - xi) * (cy - yi)) / (yj - yi));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      const xa = Math.max(0, Math.ceil(crossings[k]! - 0.5)); const xb = Math.min(width - 1, Math.floor(crossings[k + 1]! - 0.5));
      for (let x = xa; x <= xb; x += 1) out[y * width + x] = 1;
    }
  }
}
