// Configuration and inputs of the motion-aware voxel avatar (after AvatarMAV). Every size
// is configuration so tests run tiny models and the product can trade quality for speed.

import { BLENDSHAPE_COUNT, isBlendshapeName } from '../../shared/coefficients/blendshapes';

export type Vec3 = readonly [number, number, number];

export interface Box3 {
  readonly min: Vec3;
  readonly max: Vec3;
}

export interface CameraConfig {
  /** Camera centre at (0, 0, distance), looking down -z. */
  readonly distance: number;
  /** Focal length in image heights (fx = fy = focal * height, square pixels). */
  readonly focal: number;
}

export interface AvatarConfig {
  /** E: expression coefficients, one motion basis each. */
  readonly expressionCount: number;
  /**
   * Names of the MediaPipe blendshapes driving the E bases, in basis order (length E,
   * distinct, non-neutral). Absent: the first E non-neutral names in MediaPipe order
   * (server/engine/PoseMapping.ts expressionCoefficients).
   */
  readonly expressionNames?: readonly string[];
  /** Motion grid cells per axis R_m; the grid holds (R_m+1)^3 samples. */
  readonly motionRes: number;
  readonly motionChannels: number;
  /** Appearance grid cells per axis R_a; (R_a+1)^3 samples. */
  readonly appearanceRes: number;
  readonly appearanceChannels: number;
  /** Sin/cos octaves of the positional encoding (the raw value is always kept). */
  readonly frequencies: number;
  readonly deformHidden: number;
  readonly densityHidden: number;
  readonly colorHidden: number;
  /** Canonical box of the motion grid. */
  readonly motionBox: Box3;
  /** Canonical box of the appearance grid; also the ray-clipping box. */
  readonly appearanceBox: Box3;
  readonly camera: CameraConfig;
  /** Samples across the box's longest edge; the march step is that edge / this. */
  readonly samplesPerRay: number;
  /** Density is per (canonical unit / densityScale): alpha = 1 - exp(-relu(sigma) step densityScale). */
  readonly densityScale: number;
  /** Occupancy cells per axis over the appearance box. */
  readonly occupancyRes: number;
}

/** Per-frame head pose: x_c = R^T (x - T) / S, R from axis-angle. */
export interface HeadPose {
  readonly rotation: ArrayLike<number>;
  readonly translation: ArrayLike<number>;
  readonly scale: number;
}

/** Names of the learnable tensors, in file order. */
export const PARAM_NAMES = [
  'motionMean', 'motionBases', 'appearance',
  'deformW0', 'deformB0', 'deformW1', 'deformB1',
  'densityW0', 'densityB0', 'densityW1', 'densityB1',
  'colorW0', 'colorB0', 'colorW1', 'colorB1',
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type AvatarParams = Record<ParamName, Float32Array>;

/** Voxel grids: trained with sparse (masked) Adam at the grid learning rate. */
export const GRID_PARAMS: readonly ParamName[] = ['motionMean', 'motionBases', 'appearance'];

/** Grid strides of the multi-distance lookup. */
export const STRIDES = [1, 2, 4] as const;

/**
 * Product default. E = 51: every non-neutral MediaPipe blendshape. The bases cost
 * 2 x 33^3 floats = 287 KB fp32 each (14.7 MB for 51, 7.3 MB fp16 on disk; 32 would save
 * 5.5 MB) and blending them is 3.7 M multiply-adds per frame (about 1 ms on one core),
 * while dropping a blendshape loses that motion for good (eye look, cheek puff, jaw
 * left/right all drive visible change) and a basis whose coefficient stays near zero
 * only gets a near-zero gradient, so unused ones cost memory but not quality.
 * MLPs are 64 wide instead of the reference's 128: the per-sample cost is dominated by
 * the colour and density heads, which scale linearly with width, and CPU rendering is
 * the bottleneck.
 */
export const DEFAULT_CONFIG: AvatarConfig = {
  expressionCount: 51,
  motionRes: 32,
  motionChannels: 2,
  appearanceRes: 64,
  appearanceChannels: 4,
  frequencies: 4,
  deformHidden: 64,
  densityHidden: 64,
  colorHidden: 64,
  motionBox: { min: [-1.1, -1.1, -1.0], max: [1.1, 1.4, 0.9] },
  appearanceBox: { min: [-1.2, -1.1, -1.8], max: [1.2, 1.6, 0.9] },
  camera: { distance: 4, focal: 1.6 },
  samplesPerRay: 64,
  densityScale: 10,
  occupancyRes: 32,
};

/**
 * Live-speed preset: DEFAULT_CONFIG with 32-wide density and colour heads (same grids, same
 * E, same 64-wide deformation MLP). In the REALTIME renderer the deformation MLP runs once
 * per frame on the 33^3 motion grid (~0.14 G multiply-adds at 64 wide) while the heads run
 * per sample (~7-9 k multiply-adds each at 64 wide, ~2-3 G per 256 px frame), so the heads
 * are the lever and halving them roughly halves the per-sample cost. Quality/speed
 * measured in docs/engine.md ("Fast preset").
 */
export const FAST_CONFIG: AvatarConfig = { ...DEFAULT_CONFIG, densityHidden: 32, colorHidden: 32 };

/** Throws RangeError with the field's name when a size is not a positive integer etc. */
export function validateConfig(c: AvatarConfig): void {
  const ints: (keyof AvatarConfig)[] = [
    'expressionCount', 'motionRes', 'motionChannels', 'appearanceRes', 'appearanceChannels', 'frequencies',
    'deformHidden', 'densityHidden', 'colorHidden', 'samplesPerRay', 'occupancyRes',
  ];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (k === 'frequencies' || k === 'expressionCount' ? 0 : 1))
      throw new RangeError(`config.${k} must be a ${k === 'frequencies' || k === 'expressionCount' ? 'non-negative' : 'positive'} integer, got ${String(v)}`);
  }
  for (const k of ['densityScale'] as const)
    if (!(c[k] > 0)) throw new RangeError(`config.${k} must be > 0, got ${c[k]}`);
  for (const k of ['motionBox', 'appearanceBox'] as const)
    for (let a = 0; a < 3; a++)
      if (!(c[k].max[a]! > c[k].min[a]!)) throw new RangeError(`config.${k}: max must exceed min on every axis`);
  if (!(c.camera.distance > 0 && c.camera.focal > 0)) throw new RangeError('config.camera: distance and focal must be > 0');
  if (c.expressionNames !== undefined) {
    const names = c.expressionNames;
    if (!Array.isArray(names) || names.length !== c.expressionCount)
      throw new RangeError(`config.expressionNames must list ${c.expressionCount} names (one per expression basis), got ${Array.isArray(names) ? names.length : typeof names}`);
    const seen = new Set<string>();
    for (const n of names) {
      if (typeof n !== 'string' || !isBlendshapeName(n) || n === '_neutral')
        throw new RangeError(`config.expressionNames: '${String(n)}' is not a non-neutral MediaPipe blendshape`);
      if (seen.has(n)) throw new RangeError(`config.expressionNames: '${n}' appears twice`);
      seen.add(n);
    }
  } else if (c.expressionCount > BLENDSHAPE_COUNT - 1) {
    throw new RangeError(`config.expressionCount ${c.expressionCount} exceeds the ${BLENDSHAPE_COUNT - 1} non-neutral blendshapes (give config.expressionNames)`);
  }
}
