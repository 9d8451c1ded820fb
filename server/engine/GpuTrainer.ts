// The training loop on the GPU: Trainer's step (TrainingBatch.ts draws the same frames,
// pixels and backgrounds from the same seed) with the model's forward and backward
// (GpuTrainStep), the L1 loss and Adam (masked for the grids, dense for the MLPs) on
// parameters and moments resident on the device. A step's readbacks: the march's sample
// count (GpuTrainStep.prepare); the loss and colour only every `lossEvery` steps; the
// probes' densities at each occupancy refresh (evaluated on the device, GpuTrainStep.density,
// at the jittered probes Trainer draws from the same generator; thresholded and dilated on
// the CPU as computeOccupancy does). No CPU kernel runs: a GPU server's CPU is not needed
// (nor its addon's SIMD level), and held-out frames render on the device too.
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { encodeAdamStep } from '../../kernels/wgsl/adam';
import { type AvatarModel, modelDims } from './AvatarModel';
import { type AvatarParams, type ParamName, GRID_PARAMS, PARAM_NAMES } from './AvatarModelTypes';
import { GpuTrainStep } from './GpuTrainStep';
import { checkedLrScale } from './LearningRateTail';
import { psnrFromMse } from './Metrics';
import { occupancyFromDensity, occupancyProbes } from './Occupancy';
import { cameraRays, raysToCanonical } from './Pose';
import {
  type ResolvedTrainerOptions, TrainingRandom, drawTrainingBatch, gatherTarget, moveTargetOntoBackground, occupancyCoefficients,
  refreshesOccupancy, resolveTrainerOptions, validateTrainingFrames,
} from './TrainingBatch';
import type { StepOptions, TrainerOptions, TrainerState, TrainingFrame, TrainingProgress, TrainRunOptions } from './TrainerTypes';

export interface GpuTrainerOptions extends Omit<TrainerOptions, 'kernels'> {
  /** Steps between readbacks of the batch's loss (default 10): each one waits for the device. */
  readonly lossEvery?: number;
}

export interface GpuStepResult {
  readonly samples: number;
  readonly rays: number;
  /** The batch's loss and colour MSE, on the steps that read them back (every lossEvery). */
  readonly loss?: number;
  readonly mse?: number;
}

const WHITE = Float32Array.of(1, 1, 1);

export class GpuTrainer {
  /** The CPU copy of the parameters: as given at the start, then stale until syncModel(). */
  readonly model: AvatarModel;
  readonly step: GpuTrainStep;
  stepCount = 0;
  private readonly ctx: GpuContext;
  private readonly frames: readonly TrainingFrame[];
  private readonly o: ResolvedTrainerOptions;
  private readonly lossEvery: number;
  private readonly random: TrainingRandom;
  private readonly m = {} as Record<ParamName, GPUBuffer>;
  private readonly v = {} as Record<ParamName, GPUBuffer>;
  private order: number[] = [];
  /** The last step's target, for reading its loss back later (train's final report). */
  private lastTarget: Float32Array | undefined;
  private occupancy: Uint8Array;
  private closed = false;

  constructor(ctx: GpuContext, model: AvatarModel, frames: readonly TrainingFrame[], options: GpuTrainerOptions) {
    validateTrainingFrames(frames, options.width, options.height, model.config.expressionCount, 'GpuTrainer');
    this.o = resolveTrainerOptions(options);
    // Not on the device yet: D-SSIM needs patch sums of the colour, alignment its Gauss-Newton solve.
    if (this.o.patchRayShare > 0) throw new RangeError('GpuTrainer: patchRayShare (D-SSIM) is not supported on the GPU yet');
    if (this.o.alignRate > 0) throw new RangeError('GpuTrainer: alignRate (per-frame target shifts) is not supported on the GPU yet');
    this.lossEvery = options.lossEvery ?? 10;
    if (!Number.isInteger(this.lossEvery) || this.lossEvery < 1) throw new RangeError(`GpuTrainer: lossEvery must be a positive integer, got ${this.lossEvery}`);
    this.ctx = ctx;
    this.model = model;
    this.frames = frames;
    this.random = new TrainingRandom(this.o.seed);
    this.step = new GpuTrainStep(ctx, model.config, model.params, Math.min(this.o.raysPerStep, this.o.width * this.o.height));
    for (const name of PARAM_NAMES) {
      this.m[name] = ctx.storage(`train adam m ${name}`, 4 * model.params[name].length);
      this.v[name] = ctx.storage(`train adam v ${name}`, 4 * model.params[name].length);
    }
    const G = model.config.occupancyRes;
    this.occupancy = new Uint8Array(G * G * G).fill(1);
  }

  get currentOccupancy(): Uint8Array {
    return this.occupancy;
  }

  /** One optimisation step, as Trainer.step (without D-SSIM and frame alignment); the loss is read back every lossEvery steps, or when asked. */
  async trainStep(options: StepOptions & { readonly readLoss?: boolean } = {}): Promise<GpuStepResult> {
    if (this.closed) throw new DOMException('GpuTrainer is closed', 'InvalidStateError');
    const lrScale = checkedLrScale(options.lrScale);
    const rand = this.random.next, o = this.o, config = this.model.config;
    const drawn = drawTrainingBatch(this.frames, this.order, o, config.camera, rand);
    const { pixels } = drawn.batch, n = pixels.length;
    const target = gatherTarget(drawn.frame, pixels);
    if (drawn.background) moveTargetOntoBackground(target, drawn.frame, pixels, drawn.background);
    const origins = drawn.rays.origins, dirs = drawn.rays.dirs;
    raysToCanonical(drawn.frame.pose, origins, dirs);
    const samples = await this.step.prepare({ origins, dirs, coefficients: drawn.frame.coefficients, background: drawn.background ?? WHITE, target });

    const ctx = this.ctx, encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} train step encoder` });
    this.step.encodeForward(encoder, o.tEps);
    this.step.encodeL1Loss(encoder);
    this.step.encodeBackward(encoder, { offset: o.offsetWeight, distortion: o.distortionWeight });
    this.stepCount++;
    const b = this.step.buffers;
    for (const name of PARAM_NAMES) {
      const grid = GRID_PARAMS.includes(name);
      const opts = { lr: lrScale * (grid ? o.gridLr : o.mlpLr), beta1: 0.9, beta2: 0.999, eps: 1e-8, step: this.stepCount };
      encodeAdamStep(ctx, encoder, { param: b.params[name], grad: b.grads[name], m: this.m[name], v: this.v[name] }, { n: this.model.params[name].length, masked: grid }, opts);
    }
    ctx.device.queue.submit([encoder.finish()]);

    this.lastTarget = target;
    let result: GpuStepResult = { samples, rays: n };
    if (options.readLoss || this.stepCount % this.lossEvery === 0) result = { ...result, ...(await this.readLastLoss())! };
    if (refreshesOccupancy(this.stepCount, o.occupancyEvery)) await this.refreshOccupancy();
    return result;
  }

  /** The last step's loss and colour MSE, read back (undefined before the first step). */
  async readLastLoss(): Promise<{ loss: number; mse: number } | undefined> {
    const target = this.lastTarget;
    if (!target) return undefined;
    const [loss, color] = await Promise.all([this.step.readLoss(), this.step.read(this.step.buffers.rays.color, target.length)]);
    let se = 0;
    for (let i = 0; i < target.length; i++) se += (color[i]! - target[i]!) ** 2;
    return { loss: loss.l1 + this.o.offsetWeight * loss.offsetMeanSquare, mse: se / target.length };
  }

  /** Occupancy for four random training frames' coefficients (computeOccupancy's, the probes' densities on the device). */
  async refreshOccupancy(): Promise<void> {
    const coeffs = occupancyCoefficients(this.frames, this.random.next);
    const probes = occupancyProbes(this.model, this.random.next);
    const sigmas = await this.step.density(probes, coeffs);
    const c = this.model.config, stepDensity = modelDims(c).step * c.densityScale;
    this.occupancy = occupancyFromDensity(sigmas, c.occupancyRes, stepDensity, 0.01);
    this.step.setOccupancy(this.occupancy);
  }

  /** Every parameter read back from the device (fresh arrays: for snapshots and checkpoints). */
  exportParams(): Promise<AvatarParams> {
    return this.step.readAll('params');
  }

  /** Everything besides the parameters that a resumed run needs (Trainer.exportState's shape: Checkpoint.ts stores it). */
  async exportState(): Promise<TrainerState> {
    const read = async (group: Record<ParamName, GPUBuffer>) => {
      const out = {} as AvatarParams;
      await Promise.all(PARAM_NAMES.map(async (name) => { out[name] = await this.step.read(group[name], this.model.params[name].length); }));
      return out;
    };
    const [adamM, adamV] = await Promise.all([read(this.m), read(this.v)]);
    return { step: this.stepCount, rngState: this.random.state, order: [...this.order], occupancy: Uint8Array.from(this.occupancy), adamM, adamV };
  }

  /** Restores exportState's output (the caller builds this trainer's model from the checkpoint's parameters). */
  importState(s: TrainerState): void {
    const G = this.model.config.occupancyRes;
    if (s.occupancy.length !== G * G * G) throw new RangeError(`GpuTrainer state: occupancy has ${s.occupancy.length} cells, expected ${G ** 3}`);
    if (s.order.some((i) => !Number.isInteger(i) || i < 0 || i >= this.frames.length))
      throw new RangeError('GpuTrainer state: frame order refers to frames this trainer does not have');
    for (const name of PARAM_NAMES)
      for (const [what, t] of [['m', s.adamM[name]], ['v', s.adamV[name]]] as const)
        if (t?.length !== this.model.params[name].length) throw new RangeError(`GpuTrainer state: Adam ${what} of ${name} has ${String(t?.length)} values, expected ${this.model.params[name].length}`);
    this.stepCount = s.step;
    this.random.state = s.rngState >>> 0;
    this.order = [...s.order];
    this.occupancy = Uint8Array.from(s.occupancy);
    this.step.setOccupancy(this.occupancy);
    for (const name of PARAM_NAMES) {
      this.ctx.write(this.m[name], 0, s.adamM[name]);
      this.ctx.write(this.v[name], 0, s.adamV[name]);
    }
  }

  /** Copies the device's parameters into this.model.params and returns the model. */
  async syncModel(): Promise<AvatarModel> {
    const params = await this.exportParams();
    for (const name of PARAM_NAMES) this.model.params[name].set(params[name]);
    return this.model;
  }

  /** A full frame [H*W*3] on white, rendered on the device with the training occupancy (chunks of the batch's size). */
  async renderFrame(frame: Pick<TrainingFrame, 'coefficients' | 'pose'>): Promise<Float32Array> {
    const { width, height } = this.o, all = width * height, out = new Float32Array(3 * all), chunk = this.step.buffers.maxRays;
    for (let start = 0; start < all; start += chunk) {
      const px = Int32Array.from({ length: Math.min(chunk, all - start) }, (_, i) => start + i);
      const rays = cameraRays(this.model.config.camera, width, height, px);
      raysToCanonical(frame.pose, rays.origins, rays.dirs);
      await this.step.prepare({ origins: rays.origins, dirs: rays.dirs, coefficients: frame.coefficients, background: WHITE });
      const encoder = this.ctx.device.createCommandEncoder({ label: `${this.ctx.label} train render encoder` });
      this.step.encodeForward(encoder, this.o.tEps);
      this.ctx.device.queue.submit([encoder.finish()]);
      out.set(await this.step.read(this.step.buffers.rays.color, 3 * px.length), 3 * start);
    }
    return out;
  }

  /** Mean PSNR over frames, dB (Trainer.evaluate, rendered on the device). */
  async evaluate(frames: readonly TrainingFrame[]): Promise<number> {
    let sum = 0;
    for (const f of frames) {
      const img = await this.renderFrame(f);
      let se = 0;
      for (let i = 0; i < img.length; i++) se += (img[i]! - f.image[i]!) ** 2;
      sum += psnrFromMse(se / img.length);
    }
    return sum / frames.length;
  }

  /** Runs steps until maxSteps or maxMs; reports every reportEvery steps (loss and PSNR averaged over the steps that read them back, the report's own always among them). */
  async train(run: TrainRunOptions): Promise<TrainingProgress[]> {
    const t0 = performance.now(), every = run.reportEvery ?? 50, reports: TrainingProgress[] = [];
    let loss = 0, se = 0, count = 0, samples = 0, rays = 0, done = 0;
    const report = async () => {
      const p: TrainingProgress = {
        step: this.stepCount, loss: loss / Math.max(count, 1), psnr: psnrFromMse(se / Math.max(count, 1)),
        ...(run.validation ? { validationPsnr: await this.evaluate(run.validation) } : {}),
        elapsedMs: Math.round(performance.now() - t0), samplesPerRay: samples / Math.max(rays, 1),
      };
      reports.push(p);
      run.onProgress?.(p);
      loss = se = count = samples = rays = 0;
    };
    while ((run.maxSteps === undefined || done < run.maxSteps) && (run.maxMs === undefined || performance.now() - t0 < run.maxMs)) {
      // A report step always reads its loss back, so no report is without one.
      const s = await this.trainStep({ readLoss: (done + 1) % every === 0 });
      samples += s.samples; rays += s.rays; done++;
      if (s.loss !== undefined) { loss += s.loss; se += s.mse!; count++; }
      if (done % every === 0) await report();
    }
    if (done % every !== 0) {
      if (count === 0) {
        const last = await this.readLastLoss();
        if (last) { loss += last.loss; se += last.mse; count++; }
      }
      await report();
    }
    return reports;
  }

  /** Frees the device's buffers (the context is the caller's); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.step.close();
    for (const name of PARAM_NAMES) {
      this.m[name].destroy();
      this.v[name].destroy();
    }
  }
}
