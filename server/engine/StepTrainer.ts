/**
 * What `voxface train` drives, whichever device trains: one optimiser step at a time, the
 * model's current parameters on demand, and the state a checkpoint keeps. The CPU form is
 * Trainer (native kernels); the GPU form is GpuTrainer (WGSL, parameters resident on the
 * device, read back only for snapshots and checkpoints). Both draw the same batches from
 * the same seed (TrainingBatch.ts), so a checkpoint's format does not depend on the device.
 *
 * Which one a run gets (`--backend`, or VOXFACE_TRAIN_BACKEND for the onboarding's trainer
 * processes, which inherit the server's environment) follows the render backend's rule:
 * auto takes a hardware GPU adapter, never SwiftShader, else the CPU; gpu insists.
 */
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { requestGpu } from '../avatar/renderBackend';
import type { AvatarModel } from './AvatarModel';
import { GpuTrainer } from './GpuTrainer';
import { Trainer } from './Trainer';
import type { StepOptions, TrainerOptions, TrainerState, TrainingFrame } from './TrainerTypes';

export type TrainBackendChoice = 'auto' | 'cpu' | 'gpu';
export const TRAIN_BACKEND_CHOICES: readonly TrainBackendChoice[] = ['auto', 'cpu', 'gpu'];

export interface StepStats {
  /** Loss and colour MSE of the step, when it measured them (the GPU reads them back every few steps). */
  readonly loss?: number;
  readonly mse?: number;
}

export interface StepTrainer {
  readonly backend: 'cpu' | 'gpu';
  /** For people: which device and why. */
  readonly reason: string;
  readonly stepCount: number;
  /** One optimiser step (options.lrScale: the learning-rate tail's multiplier). */
  step(options?: StepOptions): Promise<StepStats>;
  /** The last step's loss and MSE (read back on the GPU); empty before the first step. */
  lastStepStats(): Promise<StepStats>;
  /** The coefficients the model sees for a frame (through the encoder when the run trains one). */
  coefficientsOf(frame: Pick<TrainingFrame, 'coefficients' | 'landmarks'>): Float32Array;
  /** The model, its parameters brought up to date (the GPU's read back). */
  syncModel(): Promise<AvatarModel>;
  exportState(): Promise<TrainerState>;
  importState(state: TrainerState): void;
  close(): void;
}

class CpuStepTrainer implements StepTrainer {
  readonly backend = 'cpu';
  readonly #trainer: Trainer;
  readonly #model: AvatarModel;
  #last: StepStats = {};

  constructor(model: AvatarModel, frames: readonly TrainingFrame[], options: TrainerOptions, readonly reason: string) {
    this.#model = model;
    this.#trainer = new Trainer(model, frames, options);
  }

  get stepCount(): number { return this.#trainer.stepCount; }
  step(options: StepOptions = {}): Promise<StepStats> {
    this.#last = this.#trainer.step(options);
    return Promise.resolve(this.#last);
  }

  lastStepStats(): Promise<StepStats> { return Promise.resolve(this.#last); }
  coefficientsOf(frame: Pick<TrainingFrame, 'coefficients' | 'landmarks'>): Float32Array { return this.#trainer.coefficientsOf(frame); }
  syncModel(): Promise<AvatarModel> { return Promise.resolve(this.#model); }
  exportState(): Promise<TrainerState> { return Promise.resolve(this.#trainer.exportState()); }
  importState(state: TrainerState): void { this.#trainer.importState(state); }
  close(): void {}
}

class GpuStepTrainer implements StepTrainer {
  readonly backend = 'gpu';
  readonly #trainer: GpuTrainer;
  readonly #ctx: GpuContext;

  constructor(ctx: GpuContext, model: AvatarModel, frames: readonly TrainingFrame[], options: TrainerOptions, readonly reason: string) {
    this.#ctx = ctx;
    this.#trainer = new GpuTrainer(ctx, model, frames, options);
  }

  get stepCount(): number { return this.#trainer.stepCount; }
  step(options: StepOptions = {}): Promise<StepStats> { return this.#trainer.trainStep(options); }
  async lastStepStats(): Promise<StepStats> { return (await this.#trainer.readLastLoss()) ?? {}; }
  coefficientsOf(frame: Pick<TrainingFrame, 'coefficients'>): Float32Array { return frame.coefficients; }
  syncModel(): Promise<AvatarModel> { return this.#trainer.syncModel(); }
  exportState(): Promise<TrainerState> { return this.#trainer.exportState(); }
  importState(state: TrainerState): void { this.#trainer.importState(state); }
  close(): void {
    this.#trainer.close();
    this.#ctx.close();
  }
}

/** Options the GPU trainer does not run yet: with `gpu` they are an error, with `auto` they keep the run on the CPU. */
function cpuOnlyOptions(o: TrainerOptions): string[] {
  return [
    ...(o.encoder ? ['--encoder'] : []),
    ...((o.patchRayShare ?? 0) > 0 ? ['--patch-rays (D-SSIM)'] : []),
    ...((o.alignRate ?? 0) > 0 ? ['--align'] : []),
  ];
}

export async function openStepTrainer(choice: TrainBackendChoice, model: AvatarModel, frames: readonly TrainingFrame[], options: TrainerOptions,
  o: { allowSoftware?: boolean } = {}): Promise<StepTrainer> {
  if (choice === 'cpu') return new CpuStepTrainer(model, frames, options, 'backend cpu');
  const cpuOnly = cpuOnlyOptions(options);
  if (cpuOnly.length > 0) {
    if (choice === 'gpu') throw new RangeError(`training on the GPU does not support ${cpuOnly.join(', ')} yet (use --backend cpu)`);
    return new CpuStepTrainer(model, frames, options, `auto: ${cpuOnly.join(', ')} train on the CPU only`);
  }
  const { ctx, failure, adapter } = await requestGpu(choice, { ...o, label: 'train' });
  if (ctx) return new GpuStepTrainer(ctx, model, frames, options, `${choice}: ${adapter}`);
  if (choice === 'gpu') throw new RangeError(`backend gpu, but no ${o.allowSoftware ? '' : 'hardware '}GPU adapter was found${failure}`);
  return new CpuStepTrainer(model, frames, options, `auto: no hardware GPU adapter${failure}`);
}
