// Ground truth in the call's framing: images taken by the real camera (the source video's
// frames, the capture's plates, the dataset's crops and masks) brought into an output
// PixelCamera (Framing.ts). The output camera is the real camera turned by the
// reference's look-at rotation with other intrinsics, so each output pixel's ray meets the
// real image at one point (plateSourcePositions, a homography). Each output pixel averages
// ss x ss bilinear taps so a larger source does not alias; pixels whose taps leave the
// source have no ground truth and are outside the `inside` region.
import type { Intrinsics } from '../../shared/dataset/format';
import type { Region } from './FaceRegion';
import { type PixelCamera, plateSourcePositions } from './Framing';
import type { PoseReference } from './PoseMapping';

export interface FramedSampler {
  readonly cam: PixelCamera;
  /** Source image size the positions are for. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  readonly ss: number;
  /** [height*ss][width*ss] (u, v) source positions. */
  readonly positions: Float32Array;
  /** Output pixels whose every tap is inside the source. */
  readonly inside: Region;
}

/** Where each output pixel of `cam` samples a source image of the given intrinsics and size. */
export function framedSampler(cam: PixelCamera, reference: PoseReference, source: Intrinsics, sourceWidth: number, sourceHeight: number, ss = 2): FramedSampler {
  if (!(Number.isInteger(ss) && ss >= 1 && ss <= 8)) throw new RangeError(`framedSampler: ss must be an integer in [1, 8], got ${ss}`);
  const fine: PixelCamera = { ...cam, width: cam.width * ss, height: cam.height * ss, focalPx: cam.focalPx * ss, cx: cam.cx * ss, cy: cam.cy * ss };
  const positions = plateSourcePositions(fine, reference, source), inside = new Uint8Array(cam.width * cam.height).fill(1);
  const W = fine.width;
  for (let y = 0; y < fine.height; y++)
    for (let x = 0; x < W; x++) {
      const u = positions[2 * (y * W + x)]!, v = positions[2 * (y * W + x) + 1]!;
      if (!(u >= 0 && v >= 0 && u <= sourceWidth && v <= sourceHeight)) inside[Math.floor(y / ss) * cam.width + Math.floor(x / ss)] = 0;
    }
  return { cam, sourceWidth, sourceHeight, ss, positions, inside };
}

/**
 * Samples an interleaved 8-bit image (channels c, sourceWidth x sourceHeight) into the
 * output: float [0,1], c values a pixel. Taps outside the source take the nearest edge
 * pixel (the `inside` region says which pixels to trust).
 */
export function sampleFramed(s: FramedSampler, src: Uint8Array, c: number, out = new Float32Array(s.cam.width * s.cam.height * c)): Float32Array {
  const { sourceWidth: sw, sourceHeight: sh, ss } = s, W = s.cam.width, H = s.cam.height, fw = W * ss, taps = ss * ss;
  if (src.length !== sw * sh * c) throw new RangeError(`sampleFramed: source has ${src.length} values, expected ${sw * sh * c}`);
  const acc = new Float64Array(c), clampX = (x: number) => Math.min(sw - 1, Math.max(0, x)), clampY = (y: number) => Math.min(sh - 1, Math.max(0, y));
  for (let j = 0; j < H; j++)
    for (let i = 0; i < W; i++) {
      acc.fill(0);
      for (let b = 0; b < ss; b++)
        for (let a = 0; a < ss; a++) {
          const at = 2 * ((j * ss + b) * fw + i * ss + a);
          let u = s.positions[at]! - 0.5, v = s.positions[at + 1]! - 0.5;
          if (!Number.isFinite(u) || !Number.isFinite(v)) { u = 0; v = 0; }
          const x0 = Math.floor(u), y0 = Math.floor(v), fx = u - x0, fy = v - y0;
          const xa = clampX(x0), xb = clampX(x0 + 1), ya = clampY(y0), yb = clampY(y0 + 1);
          const p00 = (ya * sw + xa) * c, p10 = (ya * sw + xb) * c, p01 = (yb * sw + xa) * c, p11 = (yb * sw + xb) * c;
          const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
          for (let ch = 0; ch < c; ch++) acc[ch]! += w00 * src[p00 + ch]! + w10 * src[p10 + ch]! + w01 * src[p01 + ch]! + w11 * src[p11 + ch]!;
        }
      const o = (j * W + i) * c;
      for (let ch = 0; ch < c; ch++) out[o + ch] = acc[ch]! / (255 * taps);
    }
  return out;
}
