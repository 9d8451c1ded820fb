// The exact (training) form of the motion-aware voxel avatar, after AvatarMAV:
// canonical rays are marched through the appearance box; each sample looks up the
// expression-blended motion volume at strides 1/2/4, the deformation MLP moves it by
// 0.1 x its output, the appearance grid is looked up at the moved point (strides 1/2/4),
// and the density and colour heads, both conditioned on coefficients / 3, produce sigma
// and rgb for compositing on white. `backward` returns gradients for every parameter.
import { distortionInputs, distortionLoss } from './DistortionLoss';
import type { GridShape, GridStride, Kernels } from '../../kernels/KernelsTypes';
import {
  type AvatarConfig, type AvatarParams, type HeadPose, type ParamName,
  PARAM_NAMES, STRIDES, validateConfig,
} from './AvatarModelTypes';
import { copyCols } from './Columns';
import { encode, encodeBackward, encodedWidth } from './Encoding';
import {
  type SplitWeights, addCoefficientGradient, colourHidden, colourHiddenBackward, densityHiddenBackward, frameBias, splitWeights,
} from './FoldedHeads';
import { raysToCanonical } from './Pose';
import { seededRandom } from '../../shared/coefficients/seededRandom';

export interface FrameInput {
  /** [E] expression coefficients. */
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
}

export interface ForwardOptions {
  /** [G^3] occupancy over the appearance box (config.occupancyRes); all occupied when omitted. */
  readonly occupancy?: Uint8Array;
  /** Early-termination threshold on transmittance; 0 composites every sample. */
  readonly tEps?: number;
  /** RGB the rays composite onto (default white). */
  readonly background?: Float32Array;
}

/** Everything backward needs, kept from forward. */
export interface ForwardCache {
  readonly coefficients: Float32Array;
  /** coefficients / 3, as appended to the heads' inputs. */
  readonly coeff: Float32Array;
  readonly motion: Float32Array;
  readonly pm: Float32Array;
  readonly encM: Float32Array;
  readonly featM: Float32Array;
  readonly h1: Float32Array;
  readonly raw: Float32Array;
  readonly pa: Float32Array;
  readonly featA: Float32Array;
  /** [S, encA]: the encoded appearance both heads read. */
  readonly encA: Float32Array;
  /** [R, encV]: the rays' encoded view directions. */
  readonly encV: Float32Array;
  /** The heads' first layers split by input block (FoldedHeads.ts). */
  readonly densW: SplitWeights;
  readonly colW: SplitWeights;
  readonly hD: Float32Array;
  readonly sigma: Float32Array;
  readonly hC: Float32Array;
  readonly rgb: Float32Array;
  readonly deltas: Float32Array;
  readonly rayOffsets: Int32Array;
  readonly background: Float32Array;
  readonly composite: ReturnType<Kernels['composite']>;
  /** [S, 3] the samples' canonical positions and [R, 3] the rays' canonical directions (for the distortion loss). */
  readonly positions: Float32Array;
  readonly rayDirs: Float32Array;
}

/** The weights of the loss terms beside the colour loss that backward adds. */
export interface RegulariserWeights {
  /** Of mean(raw offset^2). */
  readonly offset: number;
  /** Of the rays' distortion (DistortionLoss.ts); 0 or absent: off. */
  readonly distortion?: number;
}

export interface ForwardResult {
  /** [R,3] colour on white. */
  readonly color: Float32Array;
  /** Mean square of the raw (pre x0.1) offsets: the regulariser's value. */
  readonly offsetMeanSquare: number;
  readonly samples: number;
  readonly cache: ForwardCache;
}

export const WHITE = new Float32Array([1, 1, 1]);

/** Derived sizes shared by the model, the renderer and the file format. */
export function modelDims(c: AvatarConfig) {
  const m = c.motionRes + 1, a = c.appearanceRes + 1, F = c.frequencies, E = c.expressionCount;
  const featM = STRIDES.length * c.motionChannels, featA = STRIDES.length * c.appearanceChannels;
  const encM = encodedWidth(featM, F), encA = encodedWidth(featA, F), encV = encodedWidth(3, F);
  const ext = (b: AvatarConfig['appearanceBox']) => [0, 1, 2].map((i) => b.max[i]! - b.min[i]!);
  const longest = Math.max(...ext(c.appearanceBox));
  const step = longest / c.samplesPerRay;
  return {
    motionShape: { d: m, h: m, w: m, c: c.motionChannels } satisfies GridShape,
    appearanceShape: { d: a, h: a, w: a, c: c.appearanceChannels } satisfies GridShape,
    motionVoxels: m * m * m * c.motionChannels,
    featM, featA, encM, encA, encV,
    densIn: encA + E,
    colorIn: encA + encV + E,
    step,
    // The longest chord of the box is its diagonal; +1 for the half-step offset.
    maxSamples: Math.ceil(Math.hypot(...ext(c.appearanceBox)) / step) + 1,
  };
}

/** Shape of every parameter tensor (dense weights are [out, in]). */
export function paramShapes(c: AvatarConfig): Record<ParamName, number[]> {
  const d = modelDims(c), m = c.motionRes + 1, a = c.appearanceRes + 1;
  return {
    motionMean: [m, m, m, c.motionChannels],
    motionBases: [c.expressionCount, m, m, m, c.motionChannels],
    appearance: [a, a, a, c.appearanceChannels],
    deformW0: [c.deformHidden, d.encM], deformB0: [c.deformHidden],
    deformW1: [3, c.deformHidden], deformB1: [3],
    densityW0: [c.densityHidden, d.densIn], densityB0: [c.densityHidden],
    densityW1: [1, c.densityHidden], densityB1: [1],
    colorW0: [c.colorHidden, d.colorIn], colorB0: [c.colorHidden],
    colorW1: [3, c.colorHidden], colorB1: [3],
  };
}

/** Maps points [N,3] in a box to the grid's [-1,1]^3. */
export function normalizeToBox(p: Float32Array, box: AvatarConfig['motionBox'], out?: Float32Array): Float32Array {
  const q = out ?? new Float32Array(p.length);
  const s = [0, 1, 2].map((i) => 2 / (box.max[i]! - box.min[i]!));
  for (let i = 0; i < p.length; i += 3)
    for (let k = 0; k < 3; k++) q[i + k] = (p[i + k]! - box.min[k]!) * s[k]! - 1;
  return q;
}

export class AvatarModel {
  readonly config: AvatarConfig;
  readonly params: AvatarParams;

  constructor(config: AvatarConfig, params: AvatarParams) {
    validateConfig(config);
    const shapes = paramShapes(config);
    for (const name of PARAM_NAMES) {
      const want = shapes[name].reduce((x, y) => x * y, 1), got = params[name]?.length;
      if (got !== want) throw new RangeError(`AvatarModel: parameter ${name} has ${String(got)} values, expected ${want}`);
    }
    this.config = config;
    this.params = params;
  }

  /**
   * Zero grids (as the reference), PyTorch-style uniform(+-1/sqrt(in)) dense layers,
   * and a positive density output bias: with zero grids every sample starts with the
   * same sigma, and a negative one would sit in relu's dead zone with no gradient.
   */
  static create(config: AvatarConfig, seed = 1): AvatarModel {
    validateConfig(config);
    const rand = seededRandom(seed), shapes = paramShapes(config);
    const params = {} as AvatarParams;
    for (const name of PARAM_NAMES) {
      const shape = shapes[name], n = shape.reduce((x, y) => x * y, 1), t = new Float32Array(n);
      const dense = /^(deform|density|color)([WB])(\d)$/.exec(name);
      if (dense) {
        const fanIn = shapes[`${dense[1]}W${dense[3]}` as ParamName][1]!;
        const bound = 1 / Math.sqrt(fanIn);
        for (let i = 0; i < n; i++) t[i] = (2 * rand() - 1) * bound;
      }
      params[name] = t;
    }
    params.densityB1[0] = 0.5;
    return new AvatarModel(config, params);
  }

  /** Renders world rays [R,3] (origins, unit dirs) of one frame. */
  forward(k: Kernels, frame: FrameInput, origins: Float32Array, dirs: Float32Array, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config, p = this.params, d = modelDims(c), E = c.expressionCount, F = c.frequencies;
    if (frame.coefficients.length !== E)
      throw new RangeError(`forward: expected ${E} coefficients, got ${frame.coefficients.length}`);
    const R = origins.length / 3;
    const o = Float32Array.from(origins), v = Float32Array.from(dirs);
    raysToCanonical(frame.pose, o, v);
    const G = c.occupancyRes, occ = opts.occupancy ?? new Uint8Array(G * G * G).fill(1);
    const box = { min: Float32Array.from(c.appearanceBox.min), max: Float32Array.from(c.appearanceBox.max) };
    const march = k.marchRays(o, v, box, occ, G, d.step, d.maxSamples);
    const S = march.rayOffsets[R]!, pos = march.positions, off = march.rayOffsets;

    // Motion: blended volume at strides 1/2/4 -> encoded -> deformation MLP.
    const motion = k.blendVolumes(p.motionMean, p.motionBases, frame.coefficients).out;
    const pm = normalizeToBox(pos, c.motionBox);
    const featM = this.sampleStrides(k, motion, d.motionShape, pm, S);
    const encM = encode(featM, S, d.featM, F);
    const h1 = k.dense(encM, p.deformW0, p.deformB0, { n: S, inFeatures: d.encM, outFeatures: c.deformHidden }, 'leakyRelu').y;
    const raw = k.dense(h1, p.deformW1, p.deformB1, { n: S, inFeatures: c.deformHidden, outFeatures: 3 }, 'none').y;
    const moved = new Float32Array(3 * S);
    for (let i = 0; i < moved.length; i++) moved[i] = pos[i]! + 0.1 * raw[i]!;

    // Appearance at the moved point, then the expression-conditioned heads.
    const pa = normalizeToBox(moved, c.appearanceBox);
    const featA = this.sampleStrides(k, p.appearance, d.appearanceShape, pa, S);
    const encA = encode(featA, S, d.featA, F);
    // The heads' constant inputs (coefficients per frame, view per ray) enter as biases.
    const coeff = frame.coefficients.map((x) => x / 3);
    const densW = splitWeights(p.densityW0, c.densityHidden, d.encA, 0, E);
    const hD = k.dense(encA, densW.wA, frameBias(densW, p.densityB0, frame.coefficients), { n: S, inFeatures: d.encA, outFeatures: c.densityHidden }, 'relu').y;
    const sigma = k.dense(hD, p.densityW1, p.densityB1, { n: S, inFeatures: c.densityHidden, outFeatures: 1 }, 'none').y;

    const encV = encode(v, R, 3, F);
    const colW = splitWeights(p.colorW0, c.colorHidden, d.encA, d.encV, E);
    const rayBias = k.dense(encV, colW.wV, frameBias(colW, p.colorB0, frame.coefficients), { n: R, inFeatures: d.encV, outFeatures: c.colorHidden }, 'none').y;
    const hC = colourHidden(k, colW, encA, rayBias, off, S);
    const rgb = k.dense(hC, p.colorW1, p.colorB1, { n: S, inFeatures: c.colorHidden, outFeatures: 3 }, 'sigmoid').y;

    const deltas = march.deltas.map((x) => x * c.densityScale);
    const background = opts.background ?? WHITE;
    const composite = k.composite(sigma, rgb, deltas, off, background, opts.tEps ?? 0);
    return {
      color: composite.color,
      offsetMeanSquare: S > 0 ? k.meanSquare(raw) : 0,
      samples: S,
      cache: { coefficients: frame.coefficients, coeff, motion, pm, encM, featM, h1, raw, pa, featA, encA, encV, densW, colW, hD, sigma, hC, rgb, deltas, rayOffsets: off, background, composite, positions: pos, rayDirs: v },
    };
  }

  /**
   * Gradients of sum(dColor * color) + weights.offset * mean(raw^2) + weights.distortion *
   * the rays' mean distortion (over the samples composited before termination) with respect to every
   * parameter (fresh buffers, same names). With `dCoefficients` ([E]), also adds the
   * gradient with respect to the frame's coefficients there (the motion blend's and the
   * heads' coefficient columns): the expression encoder trains through it.
   */
  backward(k: Kernels, cache: ForwardCache, dColor: Float32Array, weights: RegulariserWeights, dCoefficients?: Float32Array): AvatarParams {
    const c = this.config, p = this.params, d = modelDims(c), F = c.frequencies, q = cache;
    const S = q.sigma.length;
    const g = {} as AvatarParams;
    if (S === 0) {
      for (const name of PARAM_NAMES) g[name] = new Float32Array(p[name].length);
      return g;
    }
    // Every other gradient comes back from a kernel: zeroing a fresh copy of each (15 MB of
    // motion bases) only to replace it cost ~4 ms a step.
    g.appearance = new Float32Array(p.appearance.length);
    const cb = k.compositeBackward(q.sigma, q.rgb, q.deltas, q.rayOffsets, q.background, q.composite, dColor);
    if ((weights.distortion ?? 0) > 0) distortionLoss(distortionInputs(q, d.step), weights.distortion!, cb.dSigma);

    // Heads -> d(encoded appearance).
    const shC1 = { n: S, inFeatures: c.colorHidden, outFeatures: 3 };
    const c1 = k.denseBackward(q.hC, p.colorW1, q.rgb, cb.dRgb, shC1, 'sigmoid');
    const c0 = colourHiddenBackward(k, q.colW, q.encA, q.encV, q.hC, c1.dX!, q.rayOffsets, q.coeff, S);
    const shD1 = { n: S, inFeatures: c.densityHidden, outFeatures: 1 };
    const d1 = k.denseBackward(q.hD, p.densityW1, q.sigma, cb.dSigma, shD1, 'none');
    const d0 = densityHiddenBackward(k, q.densW, q.encA, q.hD, d1.dX!, q.coeff, S);
    const dEncA = d0.dEncA;
    for (let i = 0; i < dEncA.length; i++) dEncA[i]! += c0.dEncA[i]!;
    if (dCoefficients) {
      addCoefficientGradient(q.densW, d0.dB, dCoefficients);
      addCoefficientGradient(q.colW, c0.dB, dCoefficients);
    }
    g.colorW1 = c1.dW; g.colorB1 = c1.dB; g.colorW0 = c0.dW; g.colorB0 = c0.dB;
    g.densityW1 = d1.dW; g.densityB1 = d1.dB; g.densityW0 = d0.dW; g.densityB0 = d0.dB;

    // Appearance grid and the moved point.
    const dFeatA = encodeBackward(q.featA, dEncA, S, d.featA, F);
    const dPa = this.sampleStridesBackward(k, p.appearance, d.appearanceShape, q.pa, dFeatA, S, g.appearance);
    const dRaw = weights.offset !== 0 ? k.meanSquareBackward(q.raw, weights.offset) : new Float32Array(3 * S);
    const sa = [0, 1, 2].map((i) => 0.1 * 2 / (c.appearanceBox.max[i]! - c.appearanceBox.min[i]!));
    for (let i = 0; i < dRaw.length; i++) dRaw[i]! += dPa[i]! * sa[i % 3]!;

    // Deformation MLP -> motion volume -> mean and bases.
    const sh1 = { n: S, inFeatures: c.deformHidden, outFeatures: 3 }, sh0 = { n: S, inFeatures: d.encM, outFeatures: c.deformHidden };
    const m1 = k.denseBackward(q.h1, p.deformW1, q.raw, dRaw, sh1, 'none');
    const m0 = k.denseBackward(q.encM, p.deformW0, q.h1, m1.dX!, sh0, 'leakyRelu');
    g.deformW1 = m1.dW; g.deformB1 = m1.dB; g.deformW0 = m0.dW; g.deformB0 = m0.dB;
    const dFeatM = encodeBackward(q.featM, m0.dX!, S, d.featM, F);
    const dMotion = new Float32Array(q.motion.length);
    this.sampleStridesBackward(k, q.motion, d.motionShape, q.pm, dFeatM, S, dMotion);
    const bb = k.blendVolumesBackward(p.motionBases, q.coefficients, dMotion);
    if (dCoefficients) for (let e = 0; e < dCoefficients.length; e++) dCoefficients[e]! += bb.dCoeff[e]!;
    g.motionMean = bb.dMean;
    g.motionBases = bb.dBases;
    return g;
  }

  /** Density (before relu) at canonical points [N,3] under the given coefficients. */
  density(k: Kernels, coefficients: Float32Array, points: Float32Array): Float32Array {
    const c = this.config, p = this.params, d = modelDims(c), F = c.frequencies, S = points.length / 3;
    const motion = k.blendVolumes(p.motionMean, p.motionBases, coefficients).out;
    const featM = this.sampleStrides(k, motion, d.motionShape, normalizeToBox(points, c.motionBox), S);
    const h1 = k.dense(encode(featM, S, d.featM, F), p.deformW0, p.deformB0, { n: S, inFeatures: d.encM, outFeatures: c.deformHidden }, 'leakyRelu').y;
    const raw = k.dense(h1, p.deformW1, p.deformB1, { n: S, inFeatures: c.deformHidden, outFeatures: 3 }, 'none').y;
    for (let i = 0; i < raw.length; i++) raw[i] = points[i]! + 0.1 * raw[i]!;
    const featA = this.sampleStrides(k, p.appearance, d.appearanceShape, normalizeToBox(raw, c.appearanceBox), S);
    const densW = splitWeights(p.densityW0, c.densityHidden, d.encA, 0, c.expressionCount);
    const bias = frameBias(densW, p.densityB0, coefficients);
    const hD = k.dense(encode(featA, S, d.featA, F), densW.wA, bias, { n: S, inFeatures: d.encA, outFeatures: c.densityHidden }, 'relu').y;
    return k.dense(hD, p.densityW1, p.densityB1, { n: S, inFeatures: c.densityHidden, outFeatures: 1 }, 'none').y;
  }

  /** [S, 3C]: the grid sampled at strides 1, 2, 4, concatenated per point. */
  sampleStrides(k: Kernels, grid: Float32Array, shape: GridShape, pts: Float32Array, S: number): Float32Array {
    const C = shape.c, W = STRIDES.length * C, feat = new Float32Array(S * W);
    STRIDES.forEach((s, j) => copyCols(k.gridSample3d(grid, shape, pts, s as GridStride).out, C, 0, feat, W, j * C, C, S));
    return feat;
  }

  /** Accumulates dGrid into `dGrid`; returns dPoints [S,3] summed over strides. */
  private sampleStridesBackward(
    k: Kernels, grid: Float32Array, shape: GridShape, pts: Float32Array, dFeat: Float32Array, S: number, dGrid: Float32Array,
  ): Float32Array {
    const C = shape.c, W = STRIDES.length * C, dPts = new Float32Array(3 * S), dOut = new Float32Array(S * C);
    STRIDES.forEach((s, j) => {
      copyCols(dFeat, W, j * C, dOut, C, 0, C, S);
      const r = k.gridSample3dBackward(grid, shape, pts, s as GridStride, dOut, dGrid);
      for (let i = 0; i < dPts.length; i++) dPts[i]! += r.dPoints[i]!;
    });
    return dPts;
  }
}
