// The device memory of a training step (GpuTrainStep): the model's parameters and their
// gradients, resident for the whole run; the batch's per-ray tensors, sized once for the
// largest batch; and every per-sample tensor the forward keeps for the backward, sized
// from the march's sample count and grown (never shrunk) when a step marches more.
import { PARAM_NAMES, type AvatarConfig, type AvatarParams, type ParamName } from './AvatarModelTypes';
import { modelDims } from './AvatarModel';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { lossPartialsBytes } from '../../kernels/wgsl/losses';
import { marchScratchBytes } from '../../kernels/wgsl/marchRays';

/** Floats per sample of each per-sample tensor. */
export function sampleWidths(c: AvatarConfig) {
  const d = modelDims(c), C = Math.max(c.motionChannels, c.appearanceChannels);
  return {
    positions: 3, deltas: 1, scaledDeltas: 1, pm: 3, featM: d.featM, encM: d.encM, h1: c.deformHidden, raw: 3,
    pa: 3, featA: d.featA, encA: d.encA, densIn: d.densIn, hD: c.densityHidden, sigma: 1, colorIn: d.colorIn,
    hC: c.colorHidden, rgb: 3,
    // One stride's lookup (forward) or its slice of the gradient (backward).
    strideFeat: C,
    dSigma: 1, dRgb: 3, dHC: c.colorHidden, dColorIn: d.colorIn, dHD: c.densityHidden, dDensIn: d.densIn,
    dEncA: d.encA, dFeatA: d.featA, dPts: 3, dStridePts: 3, dRaw: 3, dH1: c.deformHidden, dEncM: d.encM, dFeatM: d.featM,
  } as const;
}
export type SampleTensor = keyof ReturnType<typeof sampleWidths>;

/** Floats per ray of each per-ray tensor. */
function rayWidths(c: AvatarConfig) {
  return { origins: 3, dirs: 3, encV: modelDims(c).encV, color: 3, transmittance: 1, samplesUsed: 1, target: 3, dColor: 3 } as const;
}
export type RayTensor = keyof ReturnType<typeof rayWidths>;

export class GpuTrainBuffers {
  readonly params = {} as Record<ParamName, GPUBuffer>;
  readonly grads = {} as Record<ParamName, GPUBuffer>;
  readonly rays = {} as Record<RayTensor, GPUBuffer>;
  readonly samples = {} as Record<SampleTensor, GPUBuffer>;
  /** [R+1] int32 and the march's scratch. */
  readonly rayOffsets: GPUBuffer;
  readonly marchScratch: GPUBuffer;
  /** [G^3] bytes. */
  readonly occupancy: GPUBuffer;
  /** [V] the blended motion volume and its gradient; [E] coefficients, coefficients / 3, dCoeff; [3] background. */
  readonly motion: GPUBuffer;
  readonly dMotion: GPUBuffer;
  readonly coefficients: GPUBuffer;
  readonly coeff: GPUBuffer;
  readonly dCoeff: GPUBuffer;
  readonly background: GPUBuffer;
  /** The L1 loss's and the offset regulariser's sums (8 bytes each: a float32 pair) and scratch. */
  readonly l1Partials: GPUBuffer;
  readonly l1Total: GPUBuffer;
  offsetPartials: GPUBuffer;
  readonly offsetTotal: GPUBuffer;
  /** Samples the per-sample tensors hold now. */
  sampleCapacity = 0;
  private readonly ctx: GpuContext;
  private readonly config: AvatarConfig;
  private closed = false;

  constructor(ctx: GpuContext, config: AvatarConfig, params: AvatarParams, readonly maxRays: number) {
    if (!Number.isInteger(maxRays) || maxRays < 1) throw new RangeError(`GpuTrainBuffers: maxRays must be a positive integer, got ${maxRays}`);
    this.ctx = ctx;
    this.config = config;
    for (const name of PARAM_NAMES) {
      this.params[name] = ctx.upload(`train param ${name}`, params[name]);
      this.grads[name] = ctx.storage(`train grad ${name}`, 4 * params[name].length);
    }
    for (const [name, w] of Object.entries(rayWidths(config)) as [RayTensor, number][]) this.rays[name] = ctx.storage(`train ray ${name}`, 4 * w * maxRays);
    const V = modelDims(config).motionVoxels, E = config.expressionCount, G = config.occupancyRes;
    this.rayOffsets = ctx.storage('train rayOffsets', 4 * (maxRays + 1));
    this.marchScratch = ctx.storage('train march scratch', marchScratchBytes(maxRays));
    this.occupancy = ctx.storage('train occupancy', G * G * G);
    this.motion = ctx.storage('train motion', 4 * V);
    this.dMotion = ctx.storage('train dMotion', 4 * V);
    this.coefficients = ctx.storage('train coefficients', 4 * E);
    this.coeff = ctx.storage('train coeff', 4 * E);
    this.dCoeff = ctx.storage('train dCoeff', 4 * E);
    this.background = ctx.storage('train background', 12);
    this.l1Partials = ctx.storage('train l1 partials', lossPartialsBytes(3 * maxRays));
    this.l1Total = ctx.storage('train l1 total', 8);
    this.offsetPartials = ctx.storage('train offset partials', lossPartialsBytes(0));
    this.offsetTotal = ctx.storage('train offset total', 8);
  }

  /**
   * Makes the per-sample tensors hold at least `samples` (a quarter more than asked when
   * they grow, so a run's sample counts settle after a few steps). Call between steps:
   * the old buffers are destroyed, and work already submitted keeps them until it is done.
   */
  ensureSamples(samples: number): void {
    if (samples <= this.sampleCapacity) return;
    const capacity = Math.max(samples, Math.ceil(1.25 * this.sampleCapacity), 64);
    for (const b of Object.values(this.samples)) b.destroy();
    this.offsetPartials.destroy();
    for (const [name, w] of Object.entries(sampleWidths(this.config)) as [SampleTensor, number][])
      this.samples[name] = this.ctx.storage(`train sample ${name}`, 4 * w * capacity);
    this.offsetPartials = this.ctx.storage('train offset partials', lossPartialsBytes(3 * capacity));
    this.sampleCapacity = capacity;
  }

  /** Bytes on the device now. */
  get bytes(): number {
    let n = 0;
    for (const group of [this.params, this.grads, this.rays, this.samples]) for (const b of Object.values(group)) n += b.size;
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const group of [this.params, this.grads, this.rays, this.samples]) for (const b of Object.values(group)) b.destroy();
    for (const b of [this.rayOffsets, this.marchScratch, this.occupancy, this.motion, this.dMotion, this.coefficients, this.coeff, this.dCoeff,
      this.background, this.l1Partials, this.l1Total, this.offsetPartials, this.offsetTotal]) b.destroy();
  }
}
