// The op boundary of the avatar engine. The model and trainer are written against
// `Kernels`; backends: `cpuKernels` (native C++, kernels/cpu.ts) and
// `referenceKernels` (plain TS, kernels/reference/). Conventions for every backend:
// - float32 buffers, channel-last, row-major; shapes are explicit, and buffers must
//   have exactly the length the shape implies;
// - forward ops return fresh output buffers plus whatever their backward needs;
// - backward ops take dLoss/dOutput and return fresh gradient buffers (except
//   gridSample3dBackward, which can accumulate into a caller's dGrid).

/** Stride of the sub-grid grid[::s, ::s, ::s] (AvatarMAV's multi-distance lookup). */
export type GridStride = 1 | 2 | 4;

/** Grid of D*H*W cells with C channels, stored [D][H][W][C]; x->W, y->H, z->D. */
export interface GridShape {
  readonly d: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
}

export type Activation = 'none' | 'relu' | 'leakyRelu' | 'sigmoid';

export interface DenseShape {
  /** Rows (points) in the batch. */
  readonly n: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

export interface CompositeResult {
  /** [R,3] composited colour including the background term. */
  readonly color: Float32Array;
  /** [R] transmittance after the last used sample (weight of the background). */
  readonly transmittance: Float32Array;
  /** [R] samples composited before early termination (T < tEps). */
  readonly samplesUsed: Int32Array;
}

export interface MarchBox {
  /** [3] lower corner. */
  readonly min: Float32Array;
  /** [3] upper corner. */
  readonly max: Float32Array;
}

export interface MarchResult {
  /** [S,3] sample positions, rays packed one after another. */
  readonly positions: Float32Array;
  /** [S] sample spacing (the step, in units of t). */
  readonly deltas: Float32Array;
  /** [R+1] samples of ray r are rayOffsets[r] .. rayOffsets[r+1]-1. */
  readonly rayOffsets: Int32Array;
}

export interface AdamOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Step number t >= 1 (integer), for bias correction. */
  readonly step: number;
}

/**
 * Everything renderRays needs besides the rays: the avatar's inference form for one frame
 * (motion already baked into `offsets`, expression folded into the first-layer biases).
 * Grids are cubes: offsets [B,B,B,3] over the motion box (already x0.1), appearance
 * [A,A,A,C] over the appearance box, which is also the clipping box of the march.
 */
export interface RenderRaysScene {
  readonly occupancy: Uint8Array;
  readonly gridRes: number;
  readonly offsets: Float32Array;
  readonly offsetRes: number;
  readonly appearance: Float32Array;
  readonly appearanceRes: number;
  readonly channels: number;
  readonly frequencies: number;
  /** [Hd, encA] with encA = 3C(1+2F); densB0 [Hd] includes the folded coefficients. */
  readonly densW0: Float32Array;
  readonly densB0: Float32Array;
  /** [Hd]. */
  readonly densW1: Float32Array;
  readonly densB1: number;
  /** [Hc, encA + encV] (encV = 3(1+2F)); colorB0 [Hc] includes the folded coefficients. */
  readonly colorW0: Float32Array;
  readonly colorB0: Float32Array;
  /** [3, Hc]. */
  readonly colorW1: Float32Array;
  readonly colorB1: Float32Array;
  readonly densityHidden: number;
  readonly colorHidden: number;
  readonly motionBox: MarchBox;
  readonly appearanceBox: MarchBox;
  readonly step: number;
  readonly maxSamples: number;
  /** alpha = 1 - exp(-relu(sigma) * stepDensity). */
  readonly stepDensity: number;
  /** Early termination on transmittance (a ray stops before a sample when T < tEps). */
  readonly tEps: number;
  /**
   * The colour head runs only where T * alpha >= weightEps; a skipped sample's weight
   * goes to the next shaded sample's colour, or to the background at the ray's end.
   */
  readonly weightEps: number;
  readonly background: Float32Array;
}

/** The deformation MLP: W0 [hidden, 3C(1+2F)], b0 [hidden], W1 [3, hidden], b1 [3]. */
export interface DeformMlp {
  readonly frequencies: number;
  readonly hidden: number;
  readonly W0: Float32Array;
  readonly b0: Float32Array;
  readonly W1: Float32Array;
  readonly b1: Float32Array;
}

export interface RenderRaysStats {
  /**
   * Samples the march kept (occupied cells) before the ray terminated: the march stops
   * with the shading, so this equals `density`.
   */
  readonly samples: number;
  /** Density head evaluations (up to termination; the native op rounds up to chunks of 4). */
  readonly density: number;
  /** Colour head evaluations. */
  readonly shaded: number;
}

export interface Kernels {
  readonly name: string;

  /**
   * Trilinear sample of the strided sub-grid at N points in [-1,1]^3 (points [N,3], xyz),
   * PyTorch grid_sample semantics: align_corners=false, zero padding. Output [N,C].
   */
  gridSample3d(grid: Float32Array, shape: GridShape, points: Float32Array, stride: GridStride): { out: Float32Array };
  /**
   * dGrid (full grid layout, non-zero only at strided positions) and dPoints [N,3].
   * When `accumulate` is given, dGrid is added into it and it is returned as dGrid.
   */
  gridSample3dBackward(
    grid: Float32Array,
    shape: GridShape,
    points: Float32Array,
    stride: GridStride,
    dOut: Float32Array,
    accumulate?: Float32Array,
  ): { dGrid: Float32Array; dPoints: Float32Array };

  /** out[V] = mean + sum_e coeff[e] * bases[e]; bases [E,V], E = coeff.length, V = mean.length. */
  blendVolumes(mean: Float32Array, bases: Float32Array, coeff: Float32Array): { out: Float32Array };
  blendVolumesBackward(
    bases: Float32Array,
    coeff: Float32Array,
    dOut: Float32Array,
  ): { dMean: Float32Array; dBases: Float32Array; dCoeff: Float32Array };

  /** y[N,Out] = act(x[N,In] W[Out,In]^T + b[Out]). */
  dense(x: Float32Array, w: Float32Array, b: Float32Array, shape: DenseShape, act: Activation): { y: Float32Array };
  /** From x, the forward output y and dY. dX is null when needDX is false (first layer). */
  denseBackward(
    x: Float32Array,
    w: Float32Array,
    y: Float32Array,
    dY: Float32Array,
    shape: DenseShape,
    act: Activation,
    needDX?: boolean,
  ): { dX: Float32Array | null; dW: Float32Array; dB: Float32Array };

  /**
   * Alpha compositing: alpha = 1 - exp(-relu(sigma) * delta), color = sum T_i alpha_i rgb_i
   * + T_final * background; a ray stops before a sample when T < tEps.
   */
  composite(
    sigma: Float32Array,
    rgb: Float32Array,
    delta: Float32Array,
    rayOffsets: Int32Array,
    background: Float32Array,
    tEps: number,
  ): CompositeResult;
  /**
   * Gradients w.r.t. sigma [S] and rgb [S,3]; unused (terminated) samples get 0.
   * `forward` is composite's result for the same inputs (the native kernel derives the
   * light behind each sample from forward.color; the reference uses background).
   */
  compositeBackward(
    sigma: Float32Array,
    rgb: Float32Array,
    delta: Float32Array,
    rayOffsets: Int32Array,
    background: Float32Array,
    forward: CompositeResult,
    dColor: Float32Array,
  ): { dSigma: Float32Array; dRgb: Float32Array };

  /**
   * Slab test against the box, then samples at t = tNear + (k + 0.5) * step (k = 0, 1, ...)
   * while t < tFar, keeping those whose occupancy cell ([G,G,G], index (z*G+y)*G+x over the
   * box) is non-zero, at most maxSamples per ray. Rays start at t = 0 (origin inside
   * the box samples from the origin). Directions are expected to be unit length.
   */
  marchRays(
    origins: Float32Array,
    dirs: Float32Array,
    box: MarchBox,
    occupancy: Uint8Array,
    gridRes: number,
    step: number,
    maxSamples: number,
  ): MarchResult;

  /**
   * The avatar's inference form fused per ray: march (as marchRays), baked offset lookup,
   * appearance at strides 1/2/4 at the moved point, sin/cos encoding, density head,
   * compositing with early termination, colour head (view columns folded per ray) only
   * on samples with weight >= weightEps. Canonical rays [R,3]; writes color [R,3] and,
   * when given, transmittance [R]: the weight each ray leaves to the background (so
   * color - transmittance * background is the premultiplied head layer, to composite
   * onto any under-layer: out = C + T * under).
   */
  renderRays(origins: Float32Array, dirs: Float32Array, scene: RenderRaysScene, color: Float32Array, transmittance?: Float32Array): RenderRaysStats;

  /**
   * The density head's output (linear, before compositing's ReLU) at canonical points
   * [P,3], through the same offset, appearance and encoding steps as renderRays' samples:
   * the occupancy probes. Writes sigma [P].
   */
  densityAt(points: Float32Array, scene: RenderRaysScene, sigma: Float32Array): void;

  /**
   * The frame's deformation offsets on a bake grid of m^3 points (align_corners=false
   * centres of the motion box, x fastest): the blended motion volume at strides 1/2/4,
   * sin/cos encoding, leaky-ReLU hidden layer, linear 3-vector, x0.1. Writes offsets [m^3,3].
   */
  bakeMotion(motion: Float32Array, shape: GridShape, bakeRes: number, deform: DeformMlp, offsets: Float32Array): void;

  /** mean |a - b| (computed in double). */
  l1Loss(a: Float32Array, b: Float32Array): number;
  /** dLoss * sign(a - b) / N, 0 at exact ties. */
  l1LossBackward(a: Float32Array, b: Float32Array, dLoss: number): Float32Array;
  /** mean x^2 (computed in double). */
  meanSquare(x: Float32Array): number;
  /** dValue * 2x / N. */
  meanSquareBackward(x: Float32Array, dValue: number): Float32Array;

  /** In-place Adam with bias correction on param, m, v. */
  adamStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): void;
  /**
   * Sparse Adam: elements whose grad is exactly 0 are skipped entirely (param, m and v
   * unchanged, no momentum decay), for voxel grids where most cells get no gradient in a
   * step. Bias correction still uses the global step t.
   */
  adamStepMasked(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): void;
}

/** The ops a call's render uses; a GPU backend serves these first (issue 13). */
export type InferenceOpName = 'blendVolumes' | 'bakeMotion' | 'renderRays' | 'densityAt';

/** Every op of `Kernels` (all but its name). */
export type OpName = Exclude<keyof Kernels, 'name'>;

/**
 * A backend whose ops are synchronous (the CPU backends) or asynchronous (WGSL: results
 * come back through a mapped buffer). Output buffers passed in (renderRays' colour, Adam's
 * parameters...) are written before the returned promise resolves. Every `Kernels` is one.
 */
export type SuiteKernels = { readonly name: string } & {
  readonly [K in OpName]: (...args: Parameters<Kernels[K]>) => ReturnType<Kernels[K]> | Promise<ReturnType<Kernels[K]>>;
};

/** The inference ops of a backend, synchronous or not. */
export type InferenceKernels = { readonly name: string } & Pick<SuiteKernels, InferenceOpName>;
