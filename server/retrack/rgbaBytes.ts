/** Caller images (RGB or RGBA, float [0, 1] or 8-bit) to the RGBA bytes the re-tracking page reads. */
import { RETRACK_MAX_SIDE } from '../../shared/retrack/retrackProtocol';
import type { RetrackImage } from './RetrackTypes';

/** A copy of `image` as RGBA bytes (alpha 255), checked: sizes are bounded and the length must match. */
export function toRgbaBytes(image: RetrackImage, what = 'image'): Uint8Array {
  const { pixels, width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new TypeError(`${what}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (width > RETRACK_MAX_SIDE || height > RETRACK_MAX_SIDE) {
    throw new RangeError(`${what}: ${width}x${height} is larger than ${RETRACK_MAX_SIDE} px on a side`);
  }
  if (!(pixels instanceof Float32Array || pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) {
    throw new TypeError(`${what}: pixels must be a Float32Array, Uint8Array or Uint8ClampedArray`);
  }
  const count = width * height;
  const channels = pixels.length === count * 3 ? 3 : pixels.length === count * 4 ? 4 : 0;
  if (channels === 0) throw new TypeError(`${what}: ${pixels.length} values is neither RGB nor RGBA of ${width}x${height}`);
  const out = new Uint8Array(count * 4);
  const float = pixels instanceof Float32Array;
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < 3; c++) {
      const v = pixels[i * channels + c]!;
      // NaN becomes 0 (black), as the clamp would not say otherwise.
      out[i * 4 + c] = float ? (v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0) : v;
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}
