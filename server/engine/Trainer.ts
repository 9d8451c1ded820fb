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
import { FrameAlignment } from './FrameAlignment';
import { patchDssim } from './PatchSsim';
import { cameraRays } from './Pose';
import { sampleRays, validateSamplerOptions } from './RaySampler';
import { psnrFromMse } from './Metrics';
import type { TrainerOptions, TrainerState, TrainingFrame, TrainingProgress, TrainRunOptions } from './TrainerTypes';

/**
 * 1024, not 2048: at equal CPU time (240 CPU-s on KatieHill, 256 px, fast model) 1024 rays a
 * step ran 391 steps against 127 (614.7 vs 1903.6 CPU-ms a step: a 2048-ray step costs more
 * than two 1024-ray ones, and the first 10 steps, before the first occupancy refresh, march
 * every sample of the box) and scored 20.83 dB / 0.038 face sharpness in `voxface eval`
 * against 19.55 / 0.020 (docs/engine.md "Trainer"). An under-trained model gains more from
 * more Adam steps than from bigger batches.
 */
export const DEFAULT_RAYS_PER_STEP = 1024;

export class Trainer {
  readonly model: AvatarModel;
  private readonly frames: readonly TrainingFrame[];
  private readonly k: Kernels;
  private readonly o: Required<Omit<TrainerOptions, 'kernels' | 'encoder' | 'encoderLr'>>;
  /** mulberry32 state (the same generator as Random.ts), kept here so checkpoints can restore it. */
  private rngState: number;
  private readonly rand = (): number => {
    this.rngState = (this.rngState + 0x6d2b79f5) >>> 0;
    let t = this.rngState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
    if (frames.length === 0) throw new RangeError('Trainer: no training frames');
    const px = options.width * options.height * 3;
    frames.forEach((f, i) => {
      if (f.image.length !== px) throw new RangeError(`Trainer: frame ${i} image has ${f.image.length} values, expected ${px}`);
      if (f.coefficients.length !== model.config.expressionCount)
        throw new RangeError(`Trainer: frame ${i} has ${f.coefficients.length} coefficients, expected ${model.config.expressionCount}`);
    });
    this.model = model;
    this.frames = frames;
    this.k = options.kernels ?? cpuKernels;
    this.o = {
      width: options.width, height: options.height,
      raysPerStep: options.raysPerStep ?? DEFAULT_RAYS_PER_STEP, gridLr: options.gridLr ?? 1e-2, mlpLr: options.mlpLr ?? 1e-3,
      offsetWeight: options.offsetWeight ?? 1e-3, occupancyEvery: options.occupancyEvery ?? 50,
      tEps: options.tEps ?? 1e-4, seed: options.seed ?? 1, randomBackground: options.randomBackground ?? true,
      faceRayShare: options.faceRayShare ?? 0, headRayShare: options.headRayShare ?? 0,
      patchRayShare: options.patchRayShare ?? 0, patchSize: options.patchSize ?? 8, ssimWeight: options.ssimWeight ?? 0.2,
      alignRate: options.alignRate ?? 0, alignFromStep: options.alignFromStep ?? 60,
      alignMaxShift: options.alignMaxShift ?? Math.max(1, 0.03 * Math.max(options.width, options.height)),
    };
    validateSamplerOptions(this.o);
    if (!(this.o.ssimWeight >= 0 && this.o.ssimWeight <= 1)) throw new RangeError(`ssimWeight must be in [0, 1], got ${this.o.ssimWeight}`);
    if (!(this.o.alignRate >= 0 && this.o.alignRate <= 1)) throw new RangeError(`alignRate must be in [0, 1], got ${this.o.alignRate}`);
    if (this.o.alignRate > 0)
      this.alignment = new FrameAlignment(frames.length, { rate: this.o.alignRate, maxShift: this.o.alignMaxShift, maxStep: 1, damping: 0.1 });
    if (options.encoder) {
      if (options.encoder.expressionCount !== model.config.expressionCount)
        throw new RangeError(`Trainer: the encoder writes ${options.encoder.expressionCount} coefficients, the model has ${model.config.expressionCount}`);
      this.encoding = new EncoderTraining(options.encoder, this.k, options.encoderLr ?? this.o.mlpLr);
    }
    this.rngState = this.o.seed >>> 0;
    for (const name of PARAM_NAMES) {
      this.m[name] = new Float32Array(model.params[name].length);
      this.v[name] = new Float32Array(model.params[name].length);
    }
    const G = model.config.occupancyRes;
    this.occupancy = new Uint8Array(G * G * G).fill(1);
  }

  /** One optimisation step; returns the batch's loss and colour MSE. */
  step(): { loss: number; mse: number; samples: number; rays: number } {
    const { width, height, raysPerStep } = this.o;
    if (this.order.length === 0) this.order = shuffle(this.frames.length, this.rand);
    const index = this.order.pop()!, frame = this.frames[index]!;
    const batch = sampleRays(frame, width, height, Math.min(raysPerStep, width * height), this.o, this.rand);
    const { pixels } = batch, n = pixels.length;
    const rays = cameraRays(this.model.config.camera, width, height, pixels);
    // A random background colour a step (frames with a mask): white was the only background the
    // model ever saw, so a half-transparent face could borrow it and look right on white; calls
    // draw the head over the room and the body, where such a face shows them through.
    const background = this.o.randomBackground && frame.mask ? Float32Array.of(this.rand(), this.rand(), this.rand()) : undefined;
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
      target = new Float32Array(3 * n);
      for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) target[3 * i + c] = frame.image[3 * pixels[i]! + c]!;
    }
    if (background) {
      // The frame's image is composited on white with its mask: move that white to the step's colour.
      const mask = frame.mask!;
      for (let i = 0; i < n; i++) {
        const out = 1 - mask[pixels[i]!]!;
        for (let c = 0; c < 3; c++) target[3 * i + c]! += (background[c]! - 1) * out;
      }
    }
    const w = batch.patches > 0 ? this.o.ssimWeight : 0;
    const l1 = k.l1Loss(fwd.color, target);
    let se = 0;
    for (let i = 0; i < target.length; i++) se += (fwd.color[i]! - target[i]!) ** 2;
    const dColor = k.l1LossBackward(fwd.color, target, 1 - w);
    const dssim = w > 0 ? patchDssim(fwd.color, target, batch.patchStart, batch.patches, batch.patchSize, w, dColor).dssim : 0;
    const dCoefficients = driven?.cache ? new Float32Array(this.model.config.expressionCount) : undefined;
    const grads = this.model.backward(k, fwd.cache, dColor, this.o.offsetWeight, dCoefficients);
    this.stepCount++;
    if (driven?.cache) this.encoding!.step(driven.cache, dCoefficients!);
    for (const name of PARAM_NAMES) {
      const grid = GRID_PARAMS.includes(name);
      const opts = { lr: grid ? this.o.gridLr : this.o.mlpLr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: this.stepCount };
      (grid ? k.adamStepMasked : k.adamStep)(this.model.params[name], grads[name], this.m[name], this.v[name], opts);
    }
    // Also every 10 steps before the first regular refresh: short runs (tests, quick looks)
    // otherwise march every sample of the box for their first occupancyEvery steps.
    const every = this.o.occupancyEvery;
    if (this.stepCount % every === 0 || (this.stepCount < every && this.stepCount % 10 === 0)) {
      this.refreshOccupancy();
      this.alignment?.recentre();
    }
    return { loss: (1 - w) * l1 + w * dssim + this.o.offsetWeight * fwd.offsetMeanSquare, mse: se / target.length, samples: fwd.samples, rays: n };
  }

  /** Occupancy for the coefficients of four random training frames, jittered probes. */
  refreshOccupancy(): void {
    const coeffs = Array.from({ length: Math.min(4, this.frames.length) }, () =>
      this.coefficientsOf(this.frames[Math.floor(this.rand() * this.frames.length)]!));
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
      step: this.stepCount, rngState: this.rngState, order: [...this.order], occupancy: this.occupancy, adamM: this.m, adamV: this.v,
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
    this.rngState = s.rngState >>> 0;
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

function shuffle(n: number, rand: () => number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
