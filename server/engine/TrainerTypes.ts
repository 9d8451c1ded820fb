import type { Kernels } from '../../kernels/KernelsTypes';
import type { AvatarParams, HeadPose } from './AvatarModelTypes';

export interface TrainingFrame {
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
  /** [H*W*3] in [0,1], composited on white. */
  readonly image: Float32Array;
}

export interface TrainerOptions {
  readonly width: number;
  readonly height: number;
  readonly kernels?: Kernels;
  /** Random pixels of one frame per step. */
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
}
