// One training step of the avatar model on the GPU: AvatarModel.forward and .backward
// (the CPU's exact form, server/engine/AvatarModel.ts) as WGSL ops on resident buffers
// (GpuTrainBuffers): the parameters go up once, the gradients stay on the device, and a
// step's only readback is the march's sample count (rayOffsets, to size the per-sample
// tensors before the fill; ~4 KB for 1024 rays). Everything else of a step is one
// submission: march fill, forward, L1 loss and its gradient, backward (GpuTrainer adds
// Adam to it). The batch's rays come up posed into canonical space (24 bytes a ray).
import type { GridShape, GridStride } from '../../kernels/KernelsTypes';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { encodeBlendVolumes, encodeBlendVolumesBackward } from '../../kernels/wgsl/blendVolumes';
import { encodeCopyCols, encodeFillCols, encodeBroadcastRays } from '../../kernels/wgsl/columns';
import { encodeComposite, encodeCompositeBackward } from '../../kernels/wgsl/composite';
import { encodeDistortionBackward } from '../../kernels/wgsl/distortion';
import { encodeDense, encodeDenseBackward } from '../../kernels/wgsl/dense';
import { encodePositionalEncoding, encodePositionalEncodingBackward, encodeToBox } from '../../kernels/wgsl/encoding';
import { encodeGridSample3d, encodeGridSample3dBackward } from '../../kernels/wgsl/gridSample3d';
import { encodeLoss, encodeLossBackward, readLossMean } from '../../kernels/wgsl/losses';
import { encodeMarchCount, encodeMarchFill, readMarchOffsets, type MarchRaysDims } from '../../kernels/wgsl/marchRays';
import { modelDims, paramShapes, type RegulariserWeights } from './AvatarModel';
import { type AvatarConfig, type AvatarParams, type ParamName, PARAM_NAMES, STRIDES } from './AvatarModelTypes';
import { GpuTrainBuffers } from './GpuTrainBuffers';

export interface GpuTrainBatch {
  /** [R,3] canonical ray origins and unit directions (raysToCanonical applied). */
  readonly origins: Float32Array;
  readonly dirs: Float32Array;
  /** [E] the frame's expression coefficients. */
  readonly coefficients: Float32Array;
  /** [3] the colour the rays composite onto. */
  readonly background: Float32Array;
  /** [R,3] the pixels' colours (for the L1 loss); omitted when the caller writes dColor itself. */
  readonly target?: Float32Array;
}

export class GpuTrainStep {
  readonly config: AvatarConfig;
  readonly buffers: GpuTrainBuffers;
  private readonly ctx: GpuContext;
  private readonly dims: ReturnType<typeof modelDims>;
  /** This batch's rays and samples (set by prepare). */
  private R = 0;
  private S = 0;

  constructor(ctx: GpuContext, config: AvatarConfig, params: AvatarParams, maxRays: number) {
    this.ctx = ctx;
    this.config = config;
    this.dims = modelDims(config);
    this.buffers = new GpuTrainBuffers(ctx, config, params, maxRays);
    this.setOccupancy(new Uint8Array(config.occupancyRes ** 3).fill(1));
  }

  get rays(): number {
    return this.R;
  }

  get samples(): number {
    return this.S;
  }

  setOccupancy(occupancy: Uint8Array): void {
    const n = this.config.occupancyRes ** 3;
    if (occupancy.length !== n) throw new RangeError(`GpuTrainStep: occupancy has ${occupancy.length} cells, expected ${n}`);
    this.ctx.write(this.buffers.occupancy, 0, occupancy.length % 4 ? Uint8Array.from({ length: Math.ceil(n / 4) * 4 }, (_, i) => occupancy[i] ?? 0) : occupancy);
  }

  private marchDims(): MarchRaysDims {
    const box = this.config.appearanceBox;
    return { rays: this.R, box: { min: Float32Array.from(box.min), max: Float32Array.from(box.max) }, gridRes: this.config.occupancyRes, step: this.dims.step, maxSamples: this.dims.maxSamples };
  }

  /**
   * Writes the batch, marches it (count and scan) and reads back the sample count, the
   * step's one readback; sizes the per-sample tensors. Returns the samples S.
   */
  async prepare(batch: GpuTrainBatch): Promise<number> {
    const R = batch.origins.length / 3, b = this.buffers, E = this.config.expressionCount;
    if (!Number.isInteger(R) || R < 1 || R > b.maxRays) throw new RangeError(`GpuTrainStep: a batch needs 1 to ${b.maxRays} rays, got ${batch.origins.length / 3}`);
    if (batch.dirs.length !== 3 * R) throw new RangeError(`GpuTrainStep: dirs has ${batch.dirs.length} values, expected ${3 * R}`);
    if (batch.coefficients.length !== E) throw new RangeError(`GpuTrainStep: expected ${E} coefficients, got ${batch.coefficients.length}`);
    if (batch.background.length !== 3) throw new RangeError(`GpuTrainStep: background has ${batch.background.length} values, expected 3`);
    if (batch.target && batch.target.length !== 3 * R) throw new RangeError(`GpuTrainStep: target has ${batch.target.length} values, expected ${3 * R}`);
    this.R = R;
    const ctx = this.ctx;
    ctx.write(b.rays.origins, 0, batch.origins);
    ctx.write(b.rays.dirs, 0, batch.dirs);
    if (E > 0) {
      ctx.write(b.coefficients, 0, batch.coefficients);
      ctx.write(b.coeff, 0, batch.coefficients.map((x) => x / 3));
    }
    ctx.write(b.background, 0, batch.background);
    if (batch.target) ctx.write(b.rays.target, 0, batch.target);
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} train march count encoder` });
    const march = { origins: b.rays.origins, dirs: b.rays.dirs, occupancy: b.occupancy, rayOffsets: b.rayOffsets, scratch: b.marchScratch };
    encodeMarchCount(ctx, encoder, march, this.marchDims());
    ctx.device.queue.submit([encoder.finish()]);
    const offsets = await readMarchOffsets(ctx, march, this.marchDims());
    this.S = offsets[R]!;
    b.ensureSamples(this.S);
    return this.S;
  }

  /** [S, 3C]: the grid sampled at strides 1, 2, 4, concatenated per point (AvatarModel.sampleStrides). */
  private encodeSampleStrides(encoder: GPUCommandEncoder, grid: GPUBuffer, shape: GridShape, points: GPUBuffer, feat: GPUBuffer, S: number): void {
    const { ctx } = this, s = this.buffers.samples, C = shape.c, W = STRIDES.length * C;
    STRIDES.forEach((stride, j) => {
      encodeGridSample3d(ctx, encoder, { grid, points, out: s.strideFeat }, { shape, stride: stride as GridStride, count: S });
      encodeCopyCols(ctx, encoder, { buffer: s.strideFeat, width: C, start: 0 }, { buffer: feat, width: W, start: j * C }, C, S);
    });
  }

  /**
   * Encodes sigma (before relu) at the n points in samples.positions under the
   * coefficients in buffers.coefficients / coeff, keeping what the colour head and the
   * backward need (AvatarModel.forward's first half; AvatarModel.density).
   */
  private encodeDensity(encoder: GPUCommandEncoder, n: number): void {
    const { ctx, config: c, dims: d } = this, b = this.buffers, s = b.samples, p = b.params, E = c.expressionCount, F = c.frequencies;
    const dense = (x: GPUBuffer, w: ParamName, bias: ParamName, y: GPUBuffer, inFeatures: number, outFeatures: number, act: 'none' | 'relu' | 'leakyRelu') =>
      encodeDense(ctx, encoder, { x, w: p[w], b: p[bias], y }, { n, inFeatures, outFeatures, act });

    // Motion: blended volume at strides 1/2/4 -> encoded -> deformation MLP.
    encodeBlendVolumes(ctx, encoder, { mean: p.motionMean, bases: p.motionBases, coeff: b.coefficients, out: b.motion }, E, d.motionVoxels);
    encodeToBox(ctx, encoder, { points: s.positions, out: s.pm }, n, c.motionBox);
    this.encodeSampleStrides(encoder, b.motion, d.motionShape, s.pm, s.featM, n);
    encodePositionalEncoding(ctx, encoder, { x: s.featM, out: s.encM }, n, d.featM, F);
    dense(s.encM, 'deformW0', 'deformB0', s.h1, d.encM, c.deformHidden, 'leakyRelu');
    dense(s.h1, 'deformW1', 'deformB1', s.raw, c.deformHidden, 3, 'none');

    // Appearance at the moved point, then the expression-conditioned density head.
    encodeToBox(ctx, encoder, { points: s.positions, raw: s.raw, out: s.pa }, n, c.appearanceBox, 0.1);
    this.encodeSampleStrides(encoder, p.appearance, d.appearanceShape, s.pa, s.featA, n);
    encodePositionalEncoding(ctx, encoder, { x: s.featA, out: s.encA }, n, d.featA, F);
    encodeCopyCols(ctx, encoder, { buffer: s.encA, width: d.encA, start: 0 }, { buffer: s.densIn, width: d.densIn, start: 0 }, d.encA, n);
    if (E > 0) encodeFillCols(ctx, encoder, b.coeff, { buffer: s.densIn, width: d.densIn, start: d.encA }, E, n);
    dense(s.densIn, 'densityW0', 'densityB0', s.hD, d.densIn, c.densityHidden, 'relu');
    dense(s.hD, 'densityW1', 'densityB1', s.sigma, c.densityHidden, 1, 'none');
  }

  /**
   * Density (before relu) at `points` [N,3] for each coefficient vector, on the device
   * (the occupancy refresh's probes): one submission per vector, one readback of all.
   * Overwrites the per-sample tensors: call between steps.
   */
  async density(points: Float32Array, coefficientSets: readonly Float32Array[]): Promise<Float32Array[]> {
    const N = points.length / 3, E = this.config.expressionCount, ctx = this.ctx, b = this.buffers;
    if (!Number.isInteger(N)) throw new RangeError(`GpuTrainStep.density: points has ${points.length} values, not a multiple of 3`);
    for (const coefficients of coefficientSets)
      if (coefficients.length !== E) throw new RangeError(`GpuTrainStep.density: expected ${E} coefficients, got ${coefficients.length}`);
    if (N === 0 || coefficientSets.length === 0) return coefficientSets.map(() => new Float32Array(0));
    b.ensureSamples(N);
    ctx.write(b.samples.positions, 0, points);
    const out = ctx.storage('train probe sigmas', 4 * N * coefficientSets.length);
    try {
      coefficientSets.forEach((coefficients, k) => {
        if (E > 0) {
          ctx.write(b.coefficients, 0, coefficients);
          ctx.write(b.coeff, 0, coefficients.map((x) => x / 3));
        }
        const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} train density encoder` });
        this.encodeDensity(encoder, N);
        encoder.copyBufferToBuffer(b.samples.sigma, 0, out, 4 * N * k, 4 * N);
        ctx.device.queue.submit([encoder.finish()]);
      });
      const all = new Float32Array(await ctx.read(out, 4 * N * coefficientSets.length));
      return coefficientSets.map((_, k) => all.slice(k * N, (k + 1) * N));
    } finally {
      out.destroy();
    }
  }

  /** Encodes the march's fill and the model's forward: colour [R,3] in buffers.rays.color. */
  encodeForward(encoder: GPUCommandEncoder, tEps: number): void {
    const { ctx, config: c, dims: d, R, S } = this, b = this.buffers, s = b.samples, p = b.params, E = c.expressionCount, F = c.frequencies;
    const march = { origins: b.rays.origins, dirs: b.rays.dirs, occupancy: b.occupancy, rayOffsets: b.rayOffsets, scratch: b.marchScratch };
    encodeMarchFill(ctx, encoder, { ...march, positions: s.positions, deltas: s.deltas }, this.marchDims(), S);
    this.encodeDensity(encoder, S);
    const dense = (x: GPUBuffer, w: ParamName, bias: ParamName, y: GPUBuffer, inFeatures: number, outFeatures: number, act: 'none' | 'relu' | 'sigmoid') =>
      encodeDense(ctx, encoder, { x, w: p[w], b: p[bias], y }, { n: S, inFeatures, outFeatures, act });

    // The view direction's encoding, repeated on each ray's samples, then the colour head.
    encodePositionalEncoding(ctx, encoder, { x: b.rays.dirs, out: b.rays.encV }, R, 3, F);
    encodeCopyCols(ctx, encoder, { buffer: s.encA, width: d.encA, start: 0 }, { buffer: s.colorIn, width: d.colorIn, start: 0 }, d.encA, S);
    encodeBroadcastRays(ctx, encoder, { buffer: b.rays.encV, width: d.encV, start: 0 }, b.rayOffsets, { buffer: s.colorIn, width: d.colorIn, start: d.encA }, d.encV, R, S);
    if (E > 0) encodeFillCols(ctx, encoder, b.coeff, { buffer: s.colorIn, width: d.colorIn, start: d.encA + d.encV }, E, S);
    dense(s.colorIn, 'colorW0', 'colorB0', s.hC, d.colorIn, c.colorHidden, 'relu');
    dense(s.hC, 'colorW1', 'colorB1', s.rgb, c.colorHidden, 3, 'sigmoid');

    // densityScale x the march's deltas: exact in float32 for the default 10, as on the CPU.
    encodeCopyCols(ctx, encoder, { buffer: s.deltas, width: 1, start: 0 }, { buffer: s.scaledDeltas, width: 1, start: 0 }, 1, S, { scale: c.densityScale });
    encodeComposite(ctx, encoder, {
      sigma: s.sigma, rgb: s.rgb, delta: s.scaledDeltas, rayOffsets: b.rayOffsets, background: b.background,
      color: b.rays.color, transmittance: b.rays.transmittance, samplesUsed: b.rays.samplesUsed,
    }, { rays: R, samples: S, tEps });
  }

  /**
   * Encodes the L1 loss of the colour against the batch's target (its sum, and the offset
   * regulariser's, for readLoss) and dColor = dL1/dColor, as Trainer.step does (dLoss 1).
   */
  encodeL1Loss(encoder: GPUCommandEncoder): void {
    const { ctx, R, S } = this, b = this.buffers, n = 3 * R;
    encodeLoss(ctx, encoder, 'l1Loss', { a: b.rays.color, b: b.rays.target, partials: b.l1Partials, total: b.l1Total }, n);
    // As the CPU op: float(double(dLoss) / N).
    encodeLossBackward(ctx, encoder, 'l1Loss', { a: b.rays.color, b: b.rays.target, grad: b.rays.dColor }, n, Math.fround(1 / n));
    encodeLoss(ctx, encoder, 'meanSquare', { a: b.samples.raw, partials: b.offsetPartials, total: b.offsetTotal }, 3 * S);
  }

  /** The batch's mean L1 and offset mean square (after the step's work is submitted). */
  async readLoss(): Promise<{ l1: number; offsetMeanSquare: number }> {
    const [l1, offsetMeanSquare] = await Promise.all([readLossMean(this.ctx, this.buffers.l1Total, 3 * this.R), readLossMean(this.ctx, this.buffers.offsetTotal, 3 * this.S)]);
    return { l1, offsetMeanSquare };
  }

  /** dGrid += each stride's gradient slice scattered; dPts (when given) = the sum of the strides' point gradients. */
  private encodeSampleStridesBackward(encoder: GPUCommandEncoder, grid: GPUBuffer, shape: GridShape, points: GPUBuffer, dFeat: GPUBuffer, dGrid: GPUBuffer, dPts?: GPUBuffer): void {
    const { ctx, S } = this, s = this.buffers.samples, C = shape.c, W = STRIDES.length * C;
    STRIDES.forEach((stride, j) => {
      encodeCopyCols(ctx, encoder, { buffer: dFeat, width: W, start: j * C }, { buffer: s.strideFeat, width: C, start: 0 }, C, S);
      const first = j === 0;
      encodeGridSample3dBackward(ctx, encoder, { grid, points, dOut: s.strideFeat, dGrid, ...(dPts ? { dPoints: first ? dPts : s.dStridePts } : {}) },
        { shape, stride: stride as GridStride, count: S });
      if (dPts && !first) encodeCopyCols(ctx, encoder, { buffer: s.dStridePts, width: 3, start: 0 }, { buffer: dPts, width: 3, start: 0 }, 3, S, { accumulate: true });
    });
  }

  /**
   * Encodes the gradients of sum(dColor * color) + weights.offset * mean(raw^2) +
   * weights.distortion * the rays' mean distortion, dColor in buffers.rays.dColor, into
   * buffers.grads (AvatarModel.backward).
   */
  encodeBackward(encoder: GPUCommandEncoder, weights: RegulariserWeights): void {
    const { ctx, config: c, dims: d, R, S } = this, b = this.buffers, s = b.samples, p = b.params, g = b.grads, F = c.frequencies, E = c.expressionCount;
    const denseBack = (x: GPUBuffer, w: ParamName, bias: ParamName, y: GPUBuffer, dY: GPUBuffer, dX: GPUBuffer, inFeatures: number, outFeatures: number, act: 'none' | 'relu' | 'leakyRelu' | 'sigmoid') =>
      encodeDenseBackward(ctx, encoder, { x, w: p[w], y, dY, dX, dW: g[w], dB: g[bias] }, { n: S, inFeatures, outFeatures, act });
    encoder.clearBuffer(g.appearance);
    encoder.clearBuffer(b.dMotion);
    encodeCompositeBackward(ctx, encoder, {
      sigma: s.sigma, rgb: s.rgb, delta: s.scaledDeltas, rayOffsets: b.rayOffsets, color: b.rays.color, samplesUsed: b.rays.samplesUsed,
      dColor: b.rays.dColor, dSigma: s.dSigma, dRgb: s.dRgb,
    }, { rays: R, samples: S });
    const distortion = weights.distortion ?? 0;
    if (distortion > 0)
      encodeDistortionBackward(ctx, encoder, {
        sigma: s.sigma, delta: s.scaledDeltas, positions: s.positions, dirs: b.rays.dirs, rayOffsets: b.rayOffsets, samplesUsed: b.rays.samplesUsed, dSigma: s.dSigma,
      }, { rays: R, samples: S, weight: distortion, step: d.step });

    // Heads -> d(encoded appearance).
    denseBack(s.hC, 'colorW1', 'colorB1', s.rgb, s.dRgb, s.dHC, c.colorHidden, 3, 'sigmoid');
    denseBack(s.colorIn, 'colorW0', 'colorB0', s.hC, s.dHC, s.dColorIn, d.colorIn, c.colorHidden, 'relu');
    denseBack(s.hD, 'densityW1', 'densityB1', s.sigma, s.dSigma, s.dHD, c.densityHidden, 1, 'none');
    denseBack(s.densIn, 'densityW0', 'densityB0', s.hD, s.dHD, s.dDensIn, d.densIn, c.densityHidden, 'relu');
    encodeCopyCols(ctx, encoder, { buffer: s.dDensIn, width: d.densIn, start: 0 }, { buffer: s.dEncA, width: d.encA, start: 0 }, d.encA, S);
    encodeCopyCols(ctx, encoder, { buffer: s.dColorIn, width: d.colorIn, start: 0 }, { buffer: s.dEncA, width: d.encA, start: 0 }, d.encA, S, { accumulate: true });

    // Appearance grid and the moved point: dRaw = the regulariser's + 0.1 x the box scale x dPa.
    encodePositionalEncodingBackward(ctx, encoder, { x: s.featA, dOut: s.dEncA, dx: s.dFeatA }, S, d.featA, F);
    this.encodeSampleStridesBackward(encoder, p.appearance, d.appearanceShape, s.pa, s.dFeatA, g.appearance, s.dPts);
    if (weights.offset !== 0)
      // As the CPU op: float(2 * double(dValue) / N).
      encodeLossBackward(ctx, encoder, 'meanSquare', { a: s.raw, grad: s.dRaw }, 3 * S, Math.fround((2 * Math.fround(weights.offset)) / (3 * S)));
    else encoder.clearBuffer(s.dRaw);
    for (let k = 0; k < 3; k++) {
      const box = c.appearanceBox, scale = (0.1 * 2) / (box.max[k]! - box.min[k]!);
      encodeCopyCols(ctx, encoder, { buffer: s.dPts, width: 3, start: k }, { buffer: s.dRaw, width: 3, start: k }, 1, S, { accumulate: true, scale });
    }

    // Deformation MLP -> motion volume -> mean and bases.
    denseBack(s.h1, 'deformW1', 'deformB1', s.raw, s.dRaw, s.dH1, c.deformHidden, 3, 'none');
    denseBack(s.encM, 'deformW0', 'deformB0', s.h1, s.dH1, s.dEncM, d.encM, c.deformHidden, 'leakyRelu');
    encodePositionalEncodingBackward(ctx, encoder, { x: s.featM, dOut: s.dEncM, dx: s.dFeatM }, S, d.featM, F);
    this.encodeSampleStridesBackward(encoder, b.motion, d.motionShape, s.pm, s.dFeatM, b.dMotion);
    encodeBlendVolumesBackward(ctx, encoder, {
      bases: p.motionBases, coeff: b.coefficients, dOut: b.dMotion, dMean: g.motionMean, dBases: g.motionBases, dCoeff: b.dCoeff,
    }, E, d.motionVoxels);
  }

  /** Reads a tensor of the step back (tests, snapshots). */
  async read(buffer: GPUBuffer, floats: number): Promise<Float32Array> {
    return floats === 0 ? new Float32Array(0) : new Float32Array(await this.ctx.read(buffer, 4 * floats));
  }

  /** Every parameter (or gradient) read back, by name. */
  async readAll(which: 'params' | 'grads'): Promise<AvatarParams> {
    const out = {} as AvatarParams, group = this.buffers[which], shapes = paramShapes(this.config);
    await Promise.all(PARAM_NAMES.map(async (name) => {
      out[name] = await this.read(group[name], shapes[name].reduce((x, y) => x * y, 1));
    }));
    return out;
  }

  close(): void {
    this.buffers.close();
  }
}
