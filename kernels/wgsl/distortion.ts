// The distortion loss's gradient on the GPU (distortion.wgsl): one thread per ray over a
// training step's resident buffers, added into the dSigma compositeBackward wrote. The CPU
// trainer's version (and this one's reference) is server/engine/DistortionLoss.ts.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';
import { checkBindingSizes, checkBufferSizes } from './sizeChecks';

const source = readFileSync(new URL('./distortion.wgsl', import.meta.url), 'utf8');
const workgroupSize = 64;

export interface DistortionBackwardBuffers {
  /** [S] density before relu. */
  readonly sigma: GPUBuffer;
  /** [S] what relu(sigma) multiplies in the compositing exponent (the march's step x densityScale). */
  readonly delta: GPUBuffer;
  /** [S,3] the samples' positions (on their rays). */
  readonly positions: GPUBuffer;
  /** [R,3] the rays' directions, in the positions' space. */
  readonly dirs: GPUBuffer;
  /** [R+1] int32. */
  readonly rayOffsets: GPUBuffer;
  /** [R] int32, the forward's samplesUsed. */
  readonly samplesUsed: GPUBuffer;
  /** [S], added into. */
  readonly dSigma: GPUBuffer;
}

export interface DistortionDims {
  /** R. */
  readonly rays: number;
  /** S. */
  readonly samples: number;
  /** The loss's weight beside L1 (the mean over the rays is taken here). */
  readonly weight: number;
  /** The march's step, in the positions' unit: t is counted in steps, as on the CPU. */
  readonly step: number;
}

const maxInt32 = 2147483647;

/** Encodes dSigma += weight x d(mean distortion over the R rays)/dSigma. */
export function encodeDistortionBackward(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: DistortionBackwardBuffers, dims: DistortionDims): void {
  const op = 'distortionBackward', { rays: R, samples: S, weight, step } = dims;
  if (!Number.isInteger(R) || R < 0) throw new RangeError(`${op}: rays must be a non-negative integer, got ${R}`);
  if (!Number.isInteger(S) || S < 0 || S > maxInt32) throw new RangeError(`${op}: samples must be an integer in [0, ${maxInt32}] (int32 rayOffsets), got ${S}`);
  if (!(weight >= 0 && Number.isFinite(weight))) throw new RangeError(`${op}: weight must be a finite number >= 0, got ${weight}`);
  if (!(step > 0 && Number.isFinite(step))) throw new RangeError(`${op}: step must be a finite number > 0, got ${step}`);
  checkBindingSizes(ctx, op, { positions: 12 * S, dirs: 12 * R });
  checkBufferSizes<keyof DistortionBackwardBuffers>(op, buffers, {
    sigma: 4 * S, delta: 4 * S, positions: 12 * S, dirs: 12 * R, rayOffsets: 4 * (R + 1), samplesUsed: 4 * R, dSigma: 4 * S,
  });
  if (R === 0 || weight === 0) return;
  const pipeline = ctx.pipeline(op, source, 'backward');
  const words = Uint32Array.of(R, S, 0, 0), floats = new Float32Array(words.buffer);
  floats[2] = weight / R;
  floats[3] = 1 / step;
  const params = ctx.constants(`${op} params`, words);
  const b = buffers;
  const group = ctx.bindGroup(op, pipeline, [params, b.sigma, b.delta, b.positions, b.dirs, b.rayOffsets, b.samplesUsed, b.dSigma]);
  ctx.encode(encoder, op, pipeline, group, grid2d(R, workgroupSize));
}
