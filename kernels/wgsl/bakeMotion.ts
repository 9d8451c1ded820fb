// bakeMotion on the GPU (bakeMotion.wgsl): the frame's deformation offsets from the
// motion volume that blendVolumes wrote, into the offsets buffer that renderRays reads,
// all in the frame's one submission.
import { readFileSync } from 'node:fs';
import type { DeformMlp, GridShape } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';
import { checkBindingSizes } from './sizeChecks';

const source = readFileSync(new URL('./bakeMotion.wgsl', import.meta.url), 'utf8');

/**
 * The sizes the op accepts. channels, frequencies and bakeRes are the CPU op's limits;
 * hidden is the GPU's own: the hidden units are one thread's accumulators (the model's
 * deformation MLP is 64 wide).
 */
export const bakeMotionLimits = { channels: 64, frequencies: 16, bakeRes: 1024, hidden: 64 } as const;

export interface BakeMotionBuffers {
  /** [M,M,M,C], the blended motion volume. */
  readonly motion: GPUBuffer;
  /** [hidden, 3C(1+2F)]. */
  readonly W0: GPUBuffer;
  /** [hidden]. */
  readonly b0: GPUBuffer;
  /** [3, hidden]. */
  readonly W1: GPUBuffer;
  /** [3]. */
  readonly b1: GPUBuffer;
  /** [m^3, 3], written. */
  readonly offsets: GPUBuffer;
}

export interface BakeMotionDims {
  /** M: the motion volume's points per axis. */
  readonly motionRes: number;
  /** C. */
  readonly channels: number;
  /** m: the bake grid's points per axis. */
  readonly bakeRes: number;
  /** F. */
  readonly frequencies: number;
  readonly hidden: number;
}

function checkDims(d: BakeMotionDims): void {
  const range = (name: keyof BakeMotionDims, lo: number, hi: number, why = '') => {
    const v = d[name];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`bakeMotion: ${name} must be an integer in [${lo}, ${hi}]${why}, got ${v}`);
  };
  if (!Number.isInteger(d.motionRes) || d.motionRes < 1) throw new RangeError(`bakeMotion: motionRes must be a positive integer, got ${d.motionRes}`);
  range('channels', 1, bakeMotionLimits.channels);
  range('frequencies', 0, bakeMotionLimits.frequencies);
  range('bakeRes', 1, bakeMotionLimits.bakeRes);
  range('hidden', 1, bakeMotionLimits.hidden, ' (the hidden units are one thread\'s accumulators)');
}

/** Bytes each buffer must hold for `d`. */
function neededBytes(d: BakeMotionDims): Record<keyof BakeMotionBuffers, number> {
  const { motionRes: M, channels: C, bakeRes: m, frequencies: F, hidden: H } = d;
  return { motion: 4 * M ** 3 * C, W0: 4 * H * 3 * C * (1 + 2 * F), b0: 4 * H, W1: 4 * 3 * H, b1: 4 * 3, offsets: 4 * 3 * m ** 3 };
}

/** The sizes in range, and every buffer within what one binding may hold on this device. */
function checkSizes(ctx: GpuContext, d: BakeMotionDims): Record<keyof BakeMotionBuffers, number> {
  checkDims(d);
  const needed = neededBytes(d);
  checkBindingSizes(ctx, 'bakeMotion', needed);
  return needed;
}

/** The shader for one hidden width (the accumulators' count is a constant). */
function shader(hidden: number): string {
  return `const HIDDEN: u32 = ${hidden}u;\n${source}`;
}

/**
 * Encodes the bake into `encoder`: reads motion (written earlier in the same submission,
 * e.g. by encodeBlendVolumes) and writes offsets [m^3, 3] for a later op to read.
 */
export function encodeBakeMotion(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: BakeMotionBuffers, dims: BakeMotionDims): void {
  for (const [name, bytes] of Object.entries(checkSizes(ctx, dims)) as [keyof BakeMotionBuffers, number][])
    if (buffers[name].size < bytes) throw new RangeError(`bakeMotion: the ${name} buffer holds ${buffers[name].size} bytes, the bake needs ${bytes}`);
  const { motionRes: M, channels: C, bakeRes: m, frequencies: F, hidden: H } = dims;
  const pipeline = ctx.pipeline(`bakeMotion hidden=${H}`, shader(H));
  const params = ctx.constants('bakeMotion params', Uint32Array.of(M, C, m, F));
  const group = ctx.bindGroup('bakeMotion', pipeline, [params, buffers.motion, buffers.W0, buffers.b0, buffers.W1, buffers.b1, buffers.offsets]);
  ctx.encode(encoder, 'bakeMotion', pipeline, group, grid2d(m ** 3, 64));
}

/** The Kernels-shaped op: uploads, runs and reads back into `offsets` (for the shared suite and one-off calls). */
export async function bakeMotionOnGpu(ctx: GpuContext, motion: Float32Array, shape: GridShape, bakeRes: number, deform: DeformMlp, offsets: Float32Array): Promise<void> {
  if (shape.d !== shape.h || shape.d !== shape.w) throw new RangeError(`bakeMotion: the motion volume must be a cube, got ${shape.d}x${shape.h}x${shape.w}`);
  const dims: BakeMotionDims = { motionRes: shape.d, channels: shape.c, bakeRes, frequencies: deform.frequencies, hidden: deform.hidden };
  checkSizes(ctx, dims);
  const { motionRes: M, channels: C, bakeRes: m, frequencies: F, hidden: H } = dims;
  const lengths: [string, ArrayLike<number>, number, string][] = [
    ['motion', motion, M ** 3 * C, 'M^3*C'], ['W0', deform.W0, H * 3 * C * (1 + 2 * F), 'H*3C(1+2F)'], ['b0', deform.b0, H, 'H'],
    ['W1', deform.W1, 3 * H, '3*H'], ['b1', deform.b1, 3, '3'], ['offsets', offsets, 3 * m ** 3, 'm^3*3'],
  ];
  for (const [name, a, n, formula] of lengths)
    if (a.length !== n) throw new RangeError(`bakeMotion: ${name} has length ${a.length}, expected ${n} (${formula})`);
  const buffers: BakeMotionBuffers = {
    motion: ctx.upload('bakeMotion motion', motion), W0: ctx.upload('bakeMotion W0', deform.W0), b0: ctx.upload('bakeMotion b0', deform.b0),
    W1: ctx.upload('bakeMotion W1', deform.W1), b1: ctx.upload('bakeMotion b1', deform.b1), offsets: ctx.storage('bakeMotion offsets', offsets.byteLength),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} bakeMotion encoder` });
    encodeBakeMotion(ctx, encoder, buffers, dims);
    ctx.device.queue.submit([encoder.finish()]);
    offsets.set(new Float32Array(await ctx.read(buffers.offsets, offsets.byteLength)));
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}
