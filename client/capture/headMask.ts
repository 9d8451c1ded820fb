/**
 * The training mask: person confidence x the head cut below the jaw
 * (shared/dataset/headCut.ts), and the crop composited on white by it.
 */
export { headCut, JAW_LINE, type HeadCutOptions } from '../../shared/dataset/headCut';

/**
 * mask = person confidence x head cut (8-bit), and the RGBA pixels composited
 * on white by it in place, in one pass over the image.
 */
export function maskAndComposite(person: ArrayLike<number>, cut: ArrayLike<number>, rgba: Uint8ClampedArray): Uint8Array {
  const mask = new Uint8Array(cut.length);
  for (let i = 0; i < mask.length; i += 1) {
    const value = Math.round(Math.min(1, Math.max(0, (person[i] ?? 0) * (cut[i] ?? 0))) * 255);
    mask[i] = value;
    const a = value / 255;
    const white = 255 * (1 - a);
    const o = i * 4;
    rgba[o] = rgba[o]! * a + white;
    rgba[o + 1] = rgba[o + 1]! * a + white;
    rgba[o + 2] = rgba[o + 2]! * a + white;
    rgba[o + 3] = 255;
  }
  return mask;
}
