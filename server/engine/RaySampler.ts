// Which pixels of a training frame one step traces. The model is heavily under-trained in
// the product's budget (565-1600 steps of 2048 rays in 10 minutes on 2 cores), and a
// uniformly random ray lands in the face oval only ~25% of the time on KatieHill (the rest
// is hair, neck and the white that the empty space learns quickly), so rays are spent
// where people look:
//
//   - faceRayShare of the single rays uniformly inside the frame's face oval (its own
//     landmarks, RealFrame.faceRegion), headRayShare inside its head mask (> 0.5), the rest
//     uniformly over the whole frame so the empty space stays empty;
//   - patchRayShare of all rays as k x k patches of neighbouring pixels centred on face
//     pixels, for the D-SSIM term (PatchSsim.ts), which needs neighbourhoods.
//
// A frame without a face region uses its mask for the face share; a frame without a mask
// (or an empty one) samples uniformly. The loss is not reweighted: the shares bias the
// fit towards the face on purpose (the face is what the eval and the call are judged on).
//
// Off by default (all shares 0): a ray in the head costs far more than one in empty space
// (occupancy skips the empty space), so face rays make a step dearer, not the face's rays
// cheaper: faceRayShare 0.6 cost 4314 CPU-ms a step against 1904 uniform (2048 rays,
// KatieHill, 256 px) and at equal CPU (240 CPU-s: 56 steps against 127) scored 18.53 dB in
// the face against 19.55. Patches for D-SSIM (0.25 of the rays, weight 0.2) likewise: 115
// steps, 17.88 dB (docs/engine.md "Trainer").
import type { TrainingFrame } from './TrainerTypes';

export interface RaySamplerOptions {
  /** Share of the single (non-patch) rays drawn inside the face oval. */
  readonly faceRayShare: number;
  /** Share of the single rays drawn inside the head mask. */
  readonly headRayShare: number;
  /** Share of all rays traced as patches (rounded down to whole patches). */
  readonly patchRayShare: number;
  /** Patch side, pixels. */
  readonly patchSize: number;
}

export interface RayBatch {
  /** Pixel indices (row-major): single rays first, then the patches, each k*k in row-major order. */
  readonly pixels: Int32Array;
  /** First ray of the patches, and how many patches. */
  readonly patchStart: number;
  readonly patches: number;
  readonly patchSize: number;
}

/** Indices of the pixels where region[i] passes, or undefined when none do. */
function pixelsWhere(n: number, inside: (i: number) => boolean): Int32Array | undefined {
  let count = 0;
  for (let i = 0; i < n; i++) if (inside(i)) count++;
  if (count === 0) return undefined;
  const out = new Int32Array(count);
  for (let i = 0, o = 0; i < n; i++) if (inside(i)) out[o++] = i;
  return out;
}

export function validateSamplerOptions(o: RaySamplerOptions): void {
  for (const [name, v] of [['faceRayShare', o.faceRayShare], ['headRayShare', o.headRayShare], ['patchRayShare', o.patchRayShare]] as const)
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
  if (o.faceRayShare + o.headRayShare > 1) throw new RangeError(`faceRayShare + headRayShare must be at most 1, got ${o.faceRayShare + o.headRayShare}`);
  if (!Number.isInteger(o.patchSize) || o.patchSize < 2 || o.patchSize > 32) throw new RangeError(`patchSize must be an integer in [2, 32], got ${o.patchSize}`);
}

export function sampleRays(
  frame: Pick<TrainingFrame, 'mask' | 'faceRegion'>, width: number, height: number, count: number, o: RaySamplerOptions, rand: () => number,
): RayBatch {
  const all = width * height, k = Math.min(o.patchSize, width, height);
  const patches = o.patchRayShare > 0 ? Math.floor((count * o.patchRayShare) / (k * k)) : 0;
  const single = count - patches * k * k, pixels = new Int32Array(count);
  const needFace = patches > 0 || o.faceRayShare > 0, needHead = o.headRayShare > 0 || needFace;
  const mask = frame.mask;
  const head = needHead && mask ? pixelsWhere(all, (i) => mask[i]! > 0.5) : undefined;
  const region = frame.faceRegion;
  const face = (needFace && region ? pixelsWhere(all, (i) => region[i]! > 0) : undefined) ?? head;
  const nFace = face ? Math.round(single * o.faceRayShare) : 0, nHead = head ? Math.round(single * o.headRayShare) : 0;
  let at = 0;
  for (let i = 0; i < nFace; i++) pixels[at++] = face![Math.floor(rand() * face!.length)]!;
  for (let i = 0; i < nHead; i++) pixels[at++] = head![Math.floor(rand() * head!.length)]!;
  while (at < single) pixels[at++] = Math.floor(rand() * all);
  const half = Math.floor(k / 2);
  for (let p = 0; p < patches; p++) {
    const centre = face ? face[Math.floor(rand() * face.length)]! : Math.floor(rand() * all);
    const x0 = Math.min(Math.max((centre % width) - half, 0), width - k), y0 = Math.min(Math.max(Math.floor(centre / width) - half, 0), height - k);
    for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) pixels[at++] = (y0 + y) * width + x0 + x;
  }
  return { pixels, patchStart: single, patches, patchSize: k };
}
