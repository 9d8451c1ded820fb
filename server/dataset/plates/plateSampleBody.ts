/**
 * The server side of a plate sample body (shared/dataset/plateSample.ts):
 * split and header checked there, then the two images inflated here with a
 * bound (a small body cannot inflate to more than the plate needs) and their
 * exact sizes checked against the plate size this capture expects.
 */
import { inflateSync } from 'node:zlib';
import { decodePlateSampleBody, PlateSampleError } from '../../../shared/dataset/plateSample';
import type { PlateSample } from './PlateEstimator';

function inflateExactly(deflated: Uint8Array, bytes: number, what: string): Uint8Array {
  let out: Buffer;
  try {
    // One byte over the limit tells "too large" apart from "exactly right".
    out = inflateSync(deflated, { maxOutputLength: bytes + 1 });
  } catch (error) {
    const tooLarge = error instanceof RangeError || (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new PlateSampleError(tooLarge ? `plate sample ${what} inflates to more than ${bytes} bytes` : `plate sample ${what} is not zlib-deflated data`);
  }
  if (out.length !== bytes) throw new PlateSampleError(`plate sample ${what} inflates to ${out.length} bytes, expected ${bytes}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The sample in `body`, for plates of width x height; throws PlateSampleError. */
export function readPlateSampleBody(body: Uint8Array, width: number, height: number): PlateSample {
  const { header, deflatedRgb, deflatedPerson, landmarks } = decodePlateSampleBody(body);
  if (header.width !== width || header.height !== height) {
    throw new PlateSampleError(`plate sample ${header.index} is ${header.width}x${header.height}; this capture's plates are ${width}x${height}`);
  }
  const pixels = width * height;
  return {
    index: header.index,
    rgb: inflateExactly(deflatedRgb, pixels * 3, `rgb (${width}x${height}x3)`),
    person: inflateExactly(deflatedPerson, pixels, `person mask (${width}x${height})`),
    landmarks,
  };
}
