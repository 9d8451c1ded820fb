import type { Kernels } from '../../kernels/KernelsTypes';
import type { EncoderTrainingState } from '../encoder/EncoderTraining';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import type { AvatarParams, HeadPose } from './AvatarModelTypes';

export interface TrainingFrame {
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
  /** [H*W*3] in [0,1], composited on white. */
  readonly image: Float32Array;
  /** [H*W] head mask in [0,1] (RaySampler: headRayShare; the face share's fallback). */
  readonly mask?: Float32Array;
  /** [H*W] 1 inside the frame's face oval (RaySampler: faceRayShare and patch centres). */
  readonly faceRegion?: Uint8Array;
  /** [478*2] MediaPipe landmarks, image px (x, y down; NaN without a face): the expression encoder's input. */
  readonly landmarks?: Float32Array;
}

export interface TrainerOptions {
  readonly width: number;
  readonly height: number;
  readonly kernels?: Kernels;
  /** Random pixels of one frame per step (default DEFAULT_RAYS_PER_STEP, 1024). */
  readonly raysPerStep?: number;
  /** Adam learning rate of the voxel grids (sparse Adam) and of the MLPs. */
  readonly gridLr?: number;
  readonly mlpLr?: number;
  /** Weight of mean(raw offset^2) next to the L1 colour loss. */
  readonly offsetWeight?: number;
  /** Steps between occupancy refreshes (all cells occupied before the first). */
  readonly occupancyEvery?: number;
  /** Early-termination threshold on transmittance while training. */
  readonly tEps?: number;
  readonly seed?: number;
  /**
   * Composite each step's rays and targets onto a random colour instead of white (frames
   * with a mask only; default true), so the head learns to be opaque where the person is.
   */
  readonly randomBackground?: boolean;
  /** Rays where the face is (RaySampler.ts): shares of the single rays in the face oval and in the head mask. */
  readonly faceRayShare?: number;
  readonly headRayShare?: number;
  /** D-SSIM (PatchSsim.ts): share of the rays traced as patchSize x patchSize patches, and the weight of D-SSIM beside L1 (loss = (1 - w) L1 + w D-SSIM). */
  readonly patchRayShare?: number;
  readonly patchSize?: number;
  readonly ssimWeight?: number;
  /**
   * Weight of the distortion loss (DistortionLoss.ts) beside L1 (default
   * DEFAULT_DISTORTION_WEIGHT, 1e-3; 0 turns it off). Both trainers run it.
   */
  readonly distortionWeight?: number;
  /** Per-frame target shifts (FrameAlignment.ts); 0 turns them off. Gauss-Newton step fraction per visit. */
  readonly alignRate?: number;
  /** First step that updates the shifts, and their bound (training pixels, per axis). */
  readonly alignFromStep?: number;
  readonly alignMaxShift?: number;
  /**
   * Train this expression encoder with the avatar (server/encoder; off by default): a
   * frame's coefficients become its blendshapes + projection . code of its landmarks, and
   * the coefficients' gradient trains the encoder (Adam at encoderLr, default mlpLr).
   * Frames without landmarks keep their blendshapes.
   */
  readonly encoder?: ExpressionEncoder;
  readonly encoderLr?: number;
}

/** What changes from one step to the next. */
export interface StepOptions {
  /**
   * Multiplier of the grid, MLP and expression encoder learning rates for this step (default 1; > 0):
   * LearningRateTail.ts's schedule over the run's budget.
   */
  readonly lrScale?: number;
}

/** One JSON line of progress. */
export interface TrainingProgress {
  readonly step: number;
  /** Training loss (L1 + offset term) averaged since the previous report. */
  readonly loss: number;
  /** PSNR of the training batches since the previous report, dB. */
  readonly psnr: number;
  /** Held-out PSNR when validation frames were given, dB. */
  readonly validationPsnr?: number;
  readonly elapsedMs: number;
  readonly samplesPerRay: number;
}

export interface TrainRunOptions {
  readonly maxSteps?: number;
  readonly maxMs?: number;
  /** Steps between progress reports. */
  readonly reportEvery?: number;
  readonly onProgress?: (p: TrainingProgress) => void;
  /** Held-out frames evaluated at each report (costly: full renders). */
  readonly validation?: readonly TrainingFrame[];
}

/** Optimiser state besides the parameters (Trainer.exportState / importState; Checkpoint.ts stores it). Exported arrays are the trainer's own (serialise before the next step). */
export interface TrainerState {
  readonly step: number;
  readonly rngState: number;
  /** Remaining shuffled frame indices of the current epoch. */
  readonly order: readonly number[];
  readonly occupancy: Uint8Array;
  readonly adamM: AvatarParams;
  readonly adamV: AvatarParams;
  /** [2F] per-frame target shifts (FrameAlignment), training pixels; absent in older checkpoints (all 0). */
  readonly frameShifts?: Float32Array;
  /** The encoder's Adam state when the run trains one (its weights travel with the model). */
  readonly encoder?: EncoderTrainingState;
}
