/**
 * The head-only mask: the person segmenter keeps the whole person (neck,
 * shoulders, clothes), but the avatar trains on heads, so the body below the
 * jaw is cut with a line derived from the face landmarks, feathered so the
 * boundary is soft like the segmenter's own edges.
 *
 * The cut works in the face's own frame (an "up" axis from chin to forehead and
 * its perpendicular), so a tilted head is cut along its jaw, not along an image
 * row. Between the jaw's ends the cut follows the jaw line; beyond them (ears,
 * hair at the sides) it ramps down to chin level, so hair beside the face is
 * kept down to the chin and the shoulders are not.
 *
 * Pure array code (no DOM): the browser capture cuts training masks with it and
 * the server cuts the plate samples' person masks with it (server/dataset/plates),
 * so the head layer and the body plate meet along the same line.
 */

/** Face-oval landmarks from one side of the face (at ear level) round the chin (152) to the other. */
export const JAW_LINE = [454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234] as const;
const CHIN = 152;
const FOREHEAD = 10;

export interface HeadCutOptions {
  /** How far below the jaw line the cut sits, as a fraction of the chin-forehead distance. */
  offset?: number;
  /** Feather width (logistic scale) as a fraction of that distance. */
  feather?: number;
  /** Beyond the jaw's ends, the cut reaches chin level over this many face-heights. */
  sideRamp?: number;
}

/**
 * Per-pixel keep weight in [0, 1] (1 above the jaw, 0 well below) for a
 * width x height image, from 2D landmarks in that image's pixels (u, v pairs).
 */
export function headCut(landmarksPx: ArrayLike<number>, width: number, height: number, options: HeadCutOptions = {}): Float32Array {
  const { offset = 0.04, feather = 0.025, sideRamp = 0.35 } = options;
  const px = (i: number) => landmarksPx[i * 2] ?? Number.NaN;
  const py = (i: number) => landmarksPx[i * 2 + 1] ?? Number.NaN;
  const chinX = px(CHIN); const chinY = py(CHIN);
  let downX = chinX - px(FOREHEAD); let downY = chinY - py(FOREHEAD);
  const faceHeight = Math.hypot(downX, downY);
  const out = new Float32Array(width * height);
  if (!(faceHeight > 1)) return out.fill(1);
  downX /= faceHeight; downY /= faceHeight;
  // "right" is perpendicular to "down" in image coordinates.
  const rightX = -downY; const rightY = downX;

  // The jaw in face coordinates (u along right, v along down, origin at the chin).
  const jaw = JAW_LINE.map((i) => {
    const dx = px(i) - chinX; const dy = py(i) - chinY;
    return { u: dx * rightX + dy * rightY, v: dx * downX + dy * downY };
  });
  // Lookup table of the cut's v over u, one bin a pixel, spanning the whole image diagonal.
  const half = Math.ceil(Math.hypot(width, height));
  const cutV = new Float32Array(2 * half + 1).fill(Number.NaN);
  for (let s = 0; s + 1 < jaw.length; s += 1) {
    const a = jaw[s]!; const b = jaw[s + 1]!;
    const lo = Math.max(-half, Math.ceil(Math.min(a.u, b.u))); const hi = Math.min(half, Math.floor(Math.max(a.u, b.u)));
    for (let u = lo; u <= hi; u += 1) {
      const t = b.u === a.u ? 0 : (u - a.u) / (b.u - a.u);
      const v = a.v + t * (b.v - a.v);
      const k = u + half;
      // Where the jaw folds back on itself (turned head), the lower line wins: keep more, never less.
      if (!(cutV[k]! >= v)) cutV[k] = v;
    }
  }
  // Beyond the jaw's ends, ramp from the end's height down to chin level (v = 0).
  let first = 0; while (first < cutV.length && Number.isNaN(cutV[first]!)) first += 1;
  let last = cutV.length - 1; while (last >= 0 && Number.isNaN(cutV[last]!)) last -= 1;
  if (first > last) return out.fill(1);
  const ramp = Math.max(1, sideRamp * faceHeight);
  for (let k = 0; k < first; k += 1) {
    const t = Math.min(1, (first - k) / ramp);
    cutV[k] = cutV[first]! * (1 - t);
  }
  for (let k = last + 1; k < cutV.length; k += 1) {
    const t = Math.min(1, (k - last) / ramp);
    cutV[k] = cutV[last]! * (1 - t);
  }
  const shift = offset * faceHeight;
  const scale = 1 / Math.max(0.5, feather * faceHeight);
  for (let y = 0; y < height; y += 1) {
    const dy = y + 0.5 - chinY;
    for (let x = 0; x < width; x += 1) {
      const dx = x + 0.5 - chinX;
      const u = dx * rightX + dy * rightY;
      const v = dx * downX + dy * downY;
      const k = Math.min(cutV.length - 1, Math.max(0, Math.round(u) + half));
      const z = (cutV[k]! + shift - v) * scale; // positive above the cut
      // Outside +-12 feather widths the logistic is 0 or 1 to 6 decimals: skip exp there (it is most pixels).
      out[y * width + x] = z > 12 ? 1 : z < -12 ? 0 : 1 / (1 + Math.exp(-z));
    }
  }
  return out;
}

