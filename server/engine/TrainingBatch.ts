// What a training step draws, shared by the CPU trainer (Trainer.ts) and the GPU trainer
// (GpuTrainer.ts) so that both, seeded alike, see the same frames, pixels and background
// colours in the same order: the options' defaults, the seeded generator (its state is
// checkpointed), the epoch's shuffled frame order, the step's rays and background, the
// target composited onto that background, and when the occupancy is refreshed.
import type { AvatarConfig } from './AvatarModelTypes';
import { cameraRays } from './Pose';
import { type RayBatch, sampleRays, validateSamplerOptions } from './RaySampler';
import type { TrainerOptions, TrainingFrame } from './TrainerTypes';

/**
 * 1024, not 2048: at equal CPU time (240 CPU-s on KatieHill, 256 px, fast model) 1024 rays a
 * step ran 391 steps against 127 (614.7 vs 1903.6 CPU-ms a step: a 2048-ray step costs more
 * than two 1024-ray ones, and the first 10 steps, before the first occupancy refresh, march
 * every sample of the box) and scored 20.83 dB / 0.038 face sharpness in `voxface eval`
 * against 19.55 / 0.020 (docs/engine.md "Trainer"). An under-trained model gains more from
 * more Adam steps than from bigger batches.
 */
export const DEFAULT_RAYS_PER_STEP = 1024;
/**
 * The distortion loss's weight (DistortionLoss.ts): it pulls each ray's weight towards a
 * surface. At the onboarding budget (1200 CPU-s; pinkwall and expressions, scored in the call
 * framing) 1e-3 against 0 cost 0.19 and 0.32 dB of face PSNR for 1.46x and 1.22x the face's
 * sharpness, 1.22x and 1.29x the optimiser steps in the same CPU time (a ray stops sooner), and
 * LIVE's 640x360 frame in 0.68x and 0.61x the time (samples a ray 11.3 -> 8.3): the call's
 * frame rate is what the render lacked (docs/picture.md, "A surface instead of a soft layer").
 */
export const DEFAULT_DISTORTION_WEIGHT = 1e-3;

export type ResolvedTrainerOptions = Required<Omit<TrainerOptions, 'kernels' | 'encoder' | 'encoderLr'>>;

/** The options with their defaults, checked (the messages Trainer has always thrown). */
export function resolveTrainerOptions(options: TrainerOptions): ResolvedTrainerOptions {
  const o: ResolvedTrainerOptions = {
    width: options.width, height: options.height,
    raysPerStep: options.raysPerStep ?? DEFAULT_RAYS_PER_STEP, gridLr: options.gridLr ?? 1e-2, mlpLr: options.mlpLr ?? 1e-3,
    offsetWeight: options.offsetWeight ?? 1e-3, occupancyEvery: options.occupancyEvery ?? 50,
    tEps: options.tEps ?? 1e-4, seed: options.seed ?? 1, randomBackground: options.randomBackground ?? true,
    faceRayShare: options.faceRayShare ?? 0, headRayShare: options.headRayShare ?? 0,
    patchRayShare: options.patchRayShare ?? 0, patchSize: options.patchSize ?? 8, ssimWeight: options.ssimWeight ?? 0.2,
    distortionWeight: options.distortionWeight ?? DEFAULT_DISTORTION_WEIGHT,
    alignRate: options.alignRate ?? 0, alignFromStep: options.alignFromStep ?? 60,
    alignMaxShift: options.alignMaxShift ?? Math.max(1, 0.03 * Math.max(options.width, options.height)),
  };
  validateSamplerOptions(o);
  if (!(o.ssimWeight >= 0 && o.ssimWeight <= 1)) throw new RangeError(`ssimWeight must be in [0, 1], got ${o.ssimWeight}`);
  if (!(o.distortionWeight >= 0 && o.distortionWeight <= 1)) throw new RangeError(`distortionWeight must be in [0, 1], got ${o.distortionWeight}`);
  if (!(o.alignRate >= 0 && o.alignRate <= 1)) throw new RangeError(`alignRate must be in [0, 1], got ${o.alignRate}`);
  return o;
}

/** Throws when there are no frames, or one's image or coefficients do not fit. */
export function validateTrainingFrames(frames: readonly TrainingFrame[], width: number, height: number, expressionCount: number, who = 'Trainer'): void {
  if (frames.length === 0) throw new RangeError(`${who}: no training frames`);
  const px = width * height * 3;
  frames.forEach((f, i) => {
    if (f.image.length !== px) throw new RangeError(`${who}: frame ${i} image has ${f.image.length} values, expected ${px}`);
    if (f.coefficients.length !== expressionCount)
      throw new RangeError(`${who}: frame ${i} has ${f.coefficients.length} coefficients, expected ${expressionCount}`);
  });
}

/** mulberry32 (the same generator as Random.ts) with its state in the open, so checkpoints can restore it. */
export class TrainingRandom {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  readonly next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 0..n-1 in a Fisher-Yates order. */
export function shuffleOrder(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface DrawnBatch {
  readonly index: number;
  readonly frame: TrainingFrame;
  readonly batch: RayBatch;
  /** World rays of the batch's pixels (not yet posed). */
  readonly rays: { origins: Float32Array; dirs: Float32Array };
  /** The step's random background, or undefined for white. */
  readonly background?: Float32Array;
}

/**
 * The step's frame (popped from `order`, reshuffled when it runs out), its pixels, their
 * camera rays and the background colour, drawing from `rand` in Trainer's order.
 */
export function drawTrainingBatch(
  frames: readonly TrainingFrame[], order: number[], o: ResolvedTrainerOptions, camera: AvatarConfig['camera'], rand: () => number,
): DrawnBatch {
  if (order.length === 0) order.push(...shuffleOrder(frames.length, rand));
  const index = order.pop()!, frame = frames[index]!, { width, height } = o;
  const batch = sampleRays(frame, width, height, Math.min(o.raysPerStep, width * height), o, rand);
  const rays = cameraRays(camera, width, height, batch.pixels);
  // A random background colour a step (frames with a mask): white was the only background the
  // model ever saw, so a half-transparent face could borrow it and look right on white; calls
  // draw the head over the room and the body, where such a face shows them through.
  const background = o.randomBackground && frame.mask ? Float32Array.of(rand(), rand(), rand()) : undefined;
  return { index, frame, batch, rays, ...(background ? { background } : {}) };
}

/** The frame's colours at `pixels` [n,3]. */
export function gatherTarget(frame: TrainingFrame, pixels: Int32Array): Float32Array {
  const n = pixels.length, target = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) target[3 * i + c] = frame.image[3 * pixels[i]! + c]!;
  return target;
}

/** The frame's image is composited on white with its mask: moves that white to `background` in place. */
export function moveTargetOntoBackground(target: Float32Array, frame: TrainingFrame, pixels: Int32Array, background: Float32Array): void {
  const mask = frame.mask!;
  for (let i = 0; i < pixels.length; i++) {
    const out = 1 - mask[pixels[i]!]!;
    for (let c = 0; c < 3; c++) target[3 * i + c]! += (background[c]! - 1) * out;
  }
}

/**
 * Whether the occupancy is refreshed after step `stepCount`: every `every` steps, and also
 * every 10 before the first regular refresh (short runs otherwise march every sample of
 * the box for their first `every` steps).
 */
export function refreshesOccupancy(stepCount: number, every: number): boolean {
  return stepCount % every === 0 || (stepCount < every && stepCount % 10 === 0);
}

/** The frames whose coefficients the occupancy is probed for: four random training frames. */
export function occupancyFrames(frames: readonly TrainingFrame[], rand: () => number): TrainingFrame[] {
  return Array.from({ length: Math.min(4, frames.length) }, () => frames[Math.floor(rand() * frames.length)]!);
}

/** The coefficients the occupancy is probed for: four random training frames'. */
export function occupancyCoefficients(frames: readonly TrainingFrame[], rand: () => number): Float32Array[] {
  return occupancyFrames(frames, rand).map((frame) => frame.coefficients);
}
