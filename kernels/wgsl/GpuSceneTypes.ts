// Types of GpuScene (an avatar's renderRays/densityAt scene resident on the GPU).

/** The scene's sizes, fixed for its life. */
export interface GpuSceneDims {
  /** Occupancy grid: G^3 cells over the appearance box. */
  readonly G: number;
  /** Baked offsets: [B,B,B,3] over the motion box. */
  readonly B: number;
  /** Appearance: [A,A,A,C]. */
  readonly A: number;
  readonly C: number;
  /** Encoding frequencies. */
  readonly F: number;
  /** Density and colour heads' hidden widths. */
  readonly Hd: number;
  readonly Hc: number;
}

/** What a frame changes besides the offsets and occupancy (written with queue.writeBuffer). */
export interface GpuSceneFrame {
  /** [Hd], the expression folded in. */
  readonly densB0: Float32Array;
  /** [Hc], the expression folded in. */
  readonly colorB0: Float32Array;
  /** [3]: what a ray leaves to what is behind the head composites to. */
  readonly background: Float32Array;
}

/** Rays resident on the GPU: origins and dirs [count,3] (canonical space; buffers may be longer). */
export interface GpuRays {
  readonly origins: GPUBuffer;
  readonly dirs: GPUBuffer;
  readonly count: number;
}

/** renderRays' outputs on the GPU (each at least as long as the rays need). */
export interface GpuRenderOutputs {
  /** [count,3], written. */
  readonly color: GPUBuffer;
  /** [count], written when given: the weight each ray leaves to the background. */
  readonly transmittance?: GPUBuffer;
  /**
   * Three u32 (samples marched up to termination, density evaluations, colour evaluations), cleared and then
   * counted by this dispatch (u32: at most 4G per dispatch; R * maxSamples bounds each).
   */
  readonly stats?: GPUBuffer;
}

/** Canonical points resident on the GPU: [count,3]. */
export interface GpuPoints {
  readonly points: GPUBuffer;
  readonly count: number;
}
