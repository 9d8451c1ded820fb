/**
 * The trainer's snapshot measures on its held-out frames (square training views, RGB in
 * [0,1]): PSNR over the square, and PSNR and SSIM inside each frame's face oval, for a set
 * of renders and for the mean training image (the baseline a blur of the person scores).
 * Face figures average the frames that have a face oval; null when none has.
 * Why both face figures: on an onboarding capture the mean image scores 22.2-22.7 dB in
 * the face, above a 1- to 4-minute avatar's 19.7-22.8 (PSNR rewards its blur), while face
 * SSIM ranks them the other way (docs/onboarding.md): "usable" reads the SSIM.
 */
import { meanSsim, psnr, regionPsnr, ssimMap } from '../engine/Metrics';

export interface HeldOutFrame {
  readonly image: Float32Array;
  readonly faceRegion?: Uint8Array;
}

export interface HeldOutQuality {
  heldOutPsnr: number;
  heldOutFacePsnr: number | null;
  heldOutFaceSsim: number | null;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The measures of `images` (one per frame, same order) against the frames at size x size. */
export function heldOutQuality(frames: readonly HeldOutFrame[], images: readonly Float32Array[], size: number): HeldOutQuality {
  if (images.length !== frames.length || frames.length === 0) throw new RangeError(`heldOutQuality: ${images.length} images for ${frames.length} frames`);
  const withFace = frames.flatMap((f, i) => (f.faceRegion ? [{ f, img: images[i]!, face: f.faceRegion }] : []));
  // A face oval too small to centre an SSIM window in scores NaN: such frames are left out.
  const faceMean = (score: (x: (typeof withFace)[number]) => number, digits: number) => {
    const scores = withFace.map(score).filter(Number.isFinite);
    return scores.length === 0 ? null : round(scores.reduce((sum, v) => sum + v, 0) / scores.length, digits);
  };
  return {
    heldOutPsnr: round(images.reduce((sum, img, i) => sum + psnr(img, frames[i]!.image), 0) / images.length, 2),
    heldOutFacePsnr: faceMean((x) => regionPsnr(x.img, x.f.image, x.face), 2),
    heldOutFaceSsim: faceMean((x) => meanSsim(ssimMap(x.img, x.f.image, size, size), size, size, x.face), 4),
  };
}

/** The same measures for the mean training image in every frame's place, under the baseline names. */
export function baselineQuality(frames: readonly HeldOutFrame[], mean: Float32Array, size: number) {
  const q = heldOutQuality(frames, frames.map(() => mean), size);
  return { baselinePsnr: q.heldOutPsnr, baselineFacePsnr: q.heldOutFacePsnr, baselineFaceSsim: q.heldOutFaceSsim };
}
