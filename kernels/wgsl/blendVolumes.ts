// blendVolumes on the GPU (blendVolumes.wgsl): the frame's motion volume from the
// expression coefficients, written into a buffer that bakeMotion reads in place.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';

const source = readFileSync(new URL('./blendVolumes.wgsl', import.meta.url), 'utf8');

export interface BlendVolumesBuffers {
  /** [V]. */
  readonly mean: GPUBuffer;
  /** [E, V]. */
  readonly bases: GPUBuffer;
  /** [E]. */
  readonly coeff: GPUBuffer;
  /** [V], written. */
  readonly out: GPUBuffer;
}

/** Encodes out = mean + sum_e coeff[e] * bases[e] for E bases of V values. */
export function encodeBlendVolumes(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: BlendVolumesBuffers, E: number, V: number): void {
  if (!Number.isInteger(E) || E < 0 || E > 1024) throw new RangeError(`blendVolumes: E must be an integer in [0, 1024], got ${E}`);
  if (!Number.isInteger(V) || V < 1) throw new RangeError(`blendVolumes: V must be a positive integer, got ${V}`);
  const pipeline = ctx.pipeline('blendVolumes', source);
  const params = ctx.constants('blendVolumes params', Uint32Array.of(E, V));
  const group = ctx.bindGroup('blendVolumes', pipeline, [params, buffers.mean, buffers.bases, buffers.coeff, buffers.out]);
  ctx.encode(encoder, 'blendVolumes', pipeline, group, grid2d(V, 64));
}

/** The Kernels-shaped op: uploads, runs and reads back (for the shared suite and one-off calls). */
export async function blendVolumesOnGpu(ctx: GpuContext, mean: Float32Array, bases: Float32Array, coeff: Float32Array): Promise<{ out: Float32Array }> {
  const E = coeff.length, V = mean.length;
  if (bases.length !== E * V) throw new RangeError(`blendVolumes: bases must have E*V = ${E * V} values, got ${bases.length}`);
  const buffers = {
    mean: ctx.upload('blendVolumes mean', mean), bases: ctx.upload('blendVolumes bases', bases),
    coeff: ctx.upload('blendVolumes coeff', coeff), out: ctx.storage('blendVolumes out', 4 * V),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} blendVolumes encoder` });
    encodeBlendVolumes(ctx, encoder, buffers, E, V);
    ctx.device.queue.submit([encoder.finish()]);
    return { out: new Float32Array(await ctx.read(buffers.out, 4 * V)) };
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}
