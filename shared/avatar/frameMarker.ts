/**
 * A machine-readable marker drawn into avatar frames for latency measurements:
 * the low 16 bits of the coefficient packet's sequence number that the frame shows,
 * as 16 black or white blocks along the frame's top edge, plus a parity block, so
 * a receiver can tell exactly which capture a decoded frame came from. Blocks are
 * large (width / 18) so a lossy encoder keeps them readable. Off by default in
 * the product (VOXFACE_AVATAR_MARKER=1 turns it on for benchmarks).
 */
export const MARKER_BITS = 16;
const BLOCKS = MARKER_BITS + 2; // bits, parity, and a white guard block

function blockSize(width: number): number {
  return Math.max(4, Math.floor(width / BLOCKS));
}

/** Draws `sequence`'s low 16 bits into the top rows of an RGBA frame. */
export function stampMarker(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, sequence: number): void {
  const size = blockSize(width);
  if (size > height) return;
  const value = sequence & 0xffff;
  let parity = 0;
  for (let b = 0; b < BLOCKS; b++) {
    let on: number;
    if (b < MARKER_BITS) {
      on = (value >> (MARKER_BITS - 1 - b)) & 1;
      parity ^= on;
    } else {
      on = b === MARKER_BITS ? parity : 1;
    }
    const level = on ? 255 : 0;
    for (let y = 0; y < size; y++) {
      for (let x = b * size; x < (b + 1) * size; x++) {
        const i = (y * width + x) * 4;
        rgba[i] = level;
        rgba[i + 1] = level;
        rgba[i + 2] = level;
        rgba[i + 3] = 255;
      }
    }
  }
}

/** Reads the marker back from an RGBA frame: the 16-bit value, or null when the parity does not hold. */
export function readMarker(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): number | null {
  const size = blockSize(width);
  if (size > height) return null;
  const sample = (b: number) => {
    const x = b * size + (size >> 1);
    const i = ((size >> 1) * width + x) * 4;
    return (rgba[i]! + rgba[i + 1]! + rgba[i + 2]!) / 3 > 128 ? 1 : 0;
  };
  let value = 0;
  let parity = 0;
  for (let b = 0; b < MARKER_BITS; b++) {
    const bit = sample(b);
    value = (value << 1) | bit;
    parity ^= bit;
  }
  if (sample(MARKER_BITS) !== parity || sample(MARKER_BITS + 1) !== 1) return null;
  return value;
}
