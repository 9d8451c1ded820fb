// Optimises an AvatarModel on posed, coefficient-labelled frames: one random frame per
// step, uniformly random pixels, L1 colour loss + offset regulariser, sparse Adam on the
// grids (most cells get no gradient in a step, and decaying their moments anyway would
// smear updates), dense Adam on the MLPs, occupancy refreshed from the model's density.
// Optional (off by default, measured in docs/engine.md "Trainer"): rays in the face oval /
// head mask (RaySampler.ts), D-SSIM on ray patches (PatchSsim.ts), per-frame target shifts
// (FrameAlignment.ts, saved in checkpoints), an expression encoder trained with the avatar
// (server/encoder/EncoderTraining.ts).
import { cpuKernels } from '../../kernels/cpu';
import { EncoderTraining } from '../encoder/EncoderTraining';
import type { Kernels } from '../../kernels/KernelsTypes';
import type { AvatarModel } from './AvatarModel';
import { type ParamName, GRID_PARAMS, PARAM_NAMES } from './AvatarModelTypes';
import { computeOccupancy } from './Occupancy';
import { cameraRays } from './Pose';
import { FrameAlignment } from './FrameAlignment';
import { checkedLrScale } from './LearningRateTail';
import { patchDssim } from './PatchSsim';
import { psnrFromMse } from './Metrics';
import type { StepOptions, TrainerOptions, TrainerState, TrainingFrame, TrainingProgress, TrainRunOptions } from './TrainerTypes';
import {
  drawTrainingBatch, gatherTarget, moveTargetOntoBackground, occupancyFrames, refreshesOccupancy, resolveTrainerOptions,
  type ResolvedTrainerOptions, TrainingRandom, validateTrainingFrames,
} from './TrainingBatch';

export { DEFAULT_RAYS_PER_STEP } from './TrainingBatch';

export class Trainer {
  readonly model: AvatarModel;
  private readonly frames: readonly TrainingFrame[];
  private readonly k: Kernels;
  private readonly o: ResolvedTrainerOptions;
  /** The seeded generator (its state is checkpointed), shared in kind with GpuTrainer (TrainingBatch.ts). */
  private readonly random: TrainingRandom;
  private readonly rand: () => number;
  private readonly m = {} as Record<ParamName, Float32Array>;
  private readonly v = {} as Record<ParamName, Float32Array>;
  private occupancy: Uint8Array;
  private order: number[] = [];
  /** Per-frame target shifts (undefined when alignRate is 0). */
  private readonly alignment?: FrameAlignment;
  /** The expression encoder trained with the model (undefined when TrainerOptions.encoder is not given). */
  readonly encoding?: EncoderTraining;
  stepCount = 0;

  constructor(model: AvatarModel, frames: readonly TrainingFrame[], options: TrainerOptions) {
    validateTrainingFrames(frames, options.width, options.height, model.config.expressionCount);
    this.model = model;
    this.frames = frames;
    this.k = options.kernels ?? cpuKernels;
    this.o = resolveTrainerOptions(options);
    if (this.o.alignRate > 0)
      this.alignment = new FrameAlignment(frames.length, { rate: this.o.alignRate, maxShift: this.o.alignMaxShift, maxStep: 1, damping: 0.1 });
    if (options.encoder) {
      if (options.encoder.expressionCount !== model.config.expressionCount)
        throw new RangeError(`Trainer: the encoder writes ${options.encoder.expressionCount} coefficients, the model has ${model.config.expressionCount}`);
      this.encoding = new EncoderTraining(options.encoder, this.k, options.encoderLr ?? this.o.mlpLr);
    }
    this.random = new TrainingRandom(this.o.seed);
    this.rand = this.random.next;
    for (const name of PARAM_NAMES) {
      this.m[name] = new Float32Array(model.params[name].length);
      this.v[name] = new Float32Array(model.params[name].length);
    }
    const G = model.config.occupancyRes;
    this.occupancy = new Uint8Array(G * G * G).fill(1);
  }

  /** One optimisation step; returns the batch's loss and colour MSE. */
  step(options: StepOptions = {}): { loss: number; mse: number; samples: number; rays: number } {
    const lrScale = checkedLrScale(options.lrScale);
    const { width, height } = this.o;
    // Refills this.order in place when an epoch ends.
    const { index, frame, batch, rays, background } = drawTrainingBatch(this.frames, this.order, this.o, this.model.config.camera, this.rand);
    const { pixels } = batch, n = pixels.length;
    const driven = this.encoding?.coefficients(frame);
    const k = this.k, fwd = this.model.forward(k, driven ? { pose: frame.pose, coefficients: driven.coefficients } : frame, rays.origins, rays.dirs, { occupancy: this.occupancy, tEps: this.o.tEps, background });
    let target: Float32Array;
    if (this.alignment) {
      // Align first, then fit: the render does not depend on the target, so two Gauss-Newton
      // updates of this frame's shift against it take effect in this very step (each frame
      // is visited only a few times in the budget; an update used only at the next visit
      // would come too late to matter).
      let aligned = this.alignment.target(index, frame, width, height, pixels);
      if (this.stepCount + 1 >= this.o.alignFromStep)
        for (let it = 0; it < 2; it++) {
          this.alignment.update(index, fwd.color, aligned);
          aligned = this.alignment.target(index, frame, width, height, pixels);
        }
      target = aligned.target;
    } else {
      target = gatherTarget(frame, pixels);
    }
    if (background) moveTargetOntoBackground(target, frame, pixels, background);
    const w = batch.patches > 0 ? this.o.ssimWeight : 0;
    const l1 = k.l1Loss(fwd.color, target);
    let se = 0;
    for (let i = 0; i < target.length; i++) se += (fwd.color[i]! - target[i]!) ** 2;
    const dColor = k.l1LossBackward(fwd.color, target, 1 - w);
    const dssim = w > 0 ? patchDssim(fwd.color, target, batch.patchStart, batch.patches, batch.patchSize, w, dColor).dssim : 0;
    const dCoefficients = driven?.cache ? new Float32Array(this.model.config.expressionCount) : undefined;
    const grads = this.model.backward(k, fwd.cache, dColor, { offset: this.o.offsetWeight, distortion: this.o.distortionWeight }, dCoefficients);
    this.stepCount++;
    if (driven?.cache) this.encoding!.step(driven.cache, dCoefficients!, lrScale);
    for (const name of PARAM_NAMES) {
      const grid = GRID_PARAMS.includes(name);
      const opts = { lr: lrScale * (grid ? this.o.gridLr : this.o.mlpLr), beta1: 0.9, beta2: 0.999, eps: 1e-8, step: this.stepCount };
      (grid ? k.adamStepMasked : k.adamStep)(this.model.params[name], grads[name], this.m[name], this.v[name], opts);
    }
    if (refreshesOccupancy(this.stepCount, this.o.occupancyEvery)) {
      this.refreshOccupancy();
      this.alignment?.recentre();
    }
    return { loss: (1 - w) * l1 + w * dssim + this.o.offsetWeight * fwd.offsetMeanSquare, mse: se / target.length, samples: fwd.samples, rays: n };
  }

  /** Occupancy for the coefficients of four random training frames, jittered probes. */
  refreshOccupancy(): void {
    const coeffs = occupancyFrames(this.frames, this.rand).map((frame) => this.coefficientsOf(frame));
    this.occupancy = computeOccupancy(this.k, this.model, coeffs, { jitter: this.rand });
  }

  /** The coefficients the model sees for a frame: its own, or through the encoder when the run trains one. */
  coefficientsOf(frame: Pick<TrainingFrame, 'coefficients' | 'landmarks'>): Float32Array {
    return this.encoding ? this.encoding.coefficients(frame).coefficients : frame.coefficients;
  }

  /** [2F] per-frame target shifts in training pixels (x right, y down), or undefined when alignment is off. */
  get frameShifts(): Float32Array | undefined {
    return this.alignment?.shifts;
  }

  get currentOccupancy(): Uint8Array {
    return this.occupancy;
  }

  /** Everything besides the parameters that a resumed run needs to continue exactly. */
  exportState(): TrainerState {
    return {
      step: this.stepCount, rngState: this.random.state, order: [...this.order], occupancy: this.occupancy, adamM: this.m, adamV: this.v,
      ...(this.alignment ? { frameShifts: this.alignment.shifts } : {}),
      ...(this.encoding ? { encoder: this.encoding.exportState() } : {}),
    };
  }

  /** Restores exportState's output (the model's parameters are restored by the caller). */
  importState(s: TrainerState): void {
    const G = this.model.config.occupancyRes;
    if (s.occupancy.length !== G * G * G) throw new RangeError(`Trainer state: occupancy has ${s.occupancy.length} cells, expected ${G ** 3}`);
    if (s.order.some((i) => !Number.isInteger(i) || i < 0 || i >= this.frames.length))
      throw new RangeError('Trainer state: frame order refers to frames this trainer does not have');
    for (const name of PARAM_NAMES)
      for (const [what, t] of [['m', s.adamM[name]], ['v', s.adamV[name]]] as const)
        if (t?.length !== this.model.params[name].length) throw new RangeError(`Trainer state: Adam ${what} of ${name} has ${String(t?.length)} values, expected ${this.model.params[name].length}`);
    if (s.frameShifts && s.frameShifts.length !== 2 * this.frames.length)
      throw new RangeError(`Trainer state: ${s.frameShifts.length / 2} frame shifts, expected ${this.frames.length}`);
    if (this.encoding && !s.encoder) throw new RangeError('Trainer state: this run trains an expression encoder, the state has none');
    if (s.encoder) {
      if (!this.encoding) throw new RangeError('Trainer state: the state trains an expression encoder, this run has none');
      this.encoding.importState(s.encoder);
    }
    this.stepCount = s.step;
    if (this.alignment) this.alignment.shifts.set(s.frameShifts ?? new Float32Array(2 * this.frames.length));
    this.random.state = s.rngState >>> 0;
    this.order = [...s.order];
    this.occupancy = Uint8Array.from(s.occupancy);
    for (const name of PARAM_NAMES) {
      this.m[name].set(s.adamM[name]);
      this.v[name].set(s.adamV[name]);
    }
  }

  /** Full-frame render (chunks of 8192 rays) with the training occupancy. */
  renderFrame(frame: Pick<TrainingFrame, 'coefficients' | 'pose' | 'landmarks'>): Float32Array {
    const { width, height } = this.o, out = new Float32Array(width * height * 3), all = width * height, coefficients = this.coefficientsOf(frame);
    for (let start = 0; start < all; start += 8192) {
      const px = Int32Array.from({ length: Math.min(8192, all - start) }, (_, i) => start + i);
      const rays = cameraRays(this.model.config.camera, width, height, px);
      const f = this.model.forward(this.k, { pose: frame.pose, coefficients }, rays.origins, rays.dirs, { occupancy: this.occupancy, tEps: this.o.tEps });
      out.set(f.color, 3 * start);
    }
    return out;
  }

  /** Mean PSNR over frames, dB. */
  evaluate(frames: readonly TrainingFrame[]): number {
    let sum = 0;
    for (const f of frames) {
      const img = this.renderFrame(f);
      let se = 0;
      for (let i = 0; i < img.length; i++) se += (img[i]! - f.image[i]!) ** 2;
      sum += psnrFromMse(se / img.length);
    }
    return sum / frames.length;
  }

  /** Runs steps until maxSteps or maxMs, reporting progress every reportEvery steps. */
  train(run: TrainRunOptions): TrainingProgress[] {
    const t0 = performance.now(), every = run.reportEvery ?? 50, reports: TrainingProgress[] = [];
    let loss = 0, se = 0, count = 0, samples = 0, rays = 0, done = 0;
    const report = () => {
      const p: TrainingProgress = {
        step: this.stepCount, loss: loss / Math.max(count, 1), psnr: psnrFromMse(se / Math.max(count, 1)),
        ...(run.validation ? { validationPsnr: this.evaluate(run.validation) } : {}),
        elapsedMs: Math.round(performance.now() - t0), samplesPerRay: samples / Math.max(rays, 1),
      };
      reports.push(p);
      run.onProgress?.(p);
      loss = se = count = samples = rays = 0;
    };
    while ((run.maxSteps === undefined || done < run.maxSteps) && (run.maxMs === undefined || performance.now() - t0 < run.maxMs)) {
      const s = this.step();
      loss += s.loss; se += s.mse; samples += s.samples; rays += s.rays; count++; done++;
      if (done % every === 0) report();
    }
    if (count > 0) report();
    return reports;
  }
}
