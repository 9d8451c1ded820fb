// blendVolumes on the GPU (blendVolumes.wgsl): the frame's motion volume from the
// expression coefficients, written into a buffer that bakeMotion reads in place; and its
// backward, the trainer's gradients w.r.t. the mean, the bases and the coefficients.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { bindGroupAt } from './bindings';
import { grid2d } from './dispatch';
import { checkBindingSizes } from './sizeChecks';

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

export interface BlendVolumesBackwardBuffers {
  /** [E, V]. */
  readonly bases: GPUBuffer;
  /** [E]. */
  readonly coeff: GPUBuffer;
  /** [V]. */
  readonly dOut: GPUBuffer;
  /** [V], written (a copy of dOut). */
  readonly dMean: GPUBuffer;
  /** [E, V], written. */
  readonly dBases: GPUBuffer;
  /** [E], written. */
  readonly dCoeff: GPUBuffer;
}

/** Encodes dMean = dOut, dBases[e] = coeff[e] * dOut, dCoeff[e] = dot(bases[e], dOut) for E bases of V values. */
export function encodeBlendVolumesBackward(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: BlendVolumesBackwardBuffers, E: number, V: number): void {
  const op = 'blendVolumesBackward';
  if (!Number.isInteger(E) || E < 0 || E > 1024) throw new RangeError(`${op}: E must be an integer in [0, 1024], got ${E}`);
  if (!Number.isInteger(V) || V < 0) throw new RangeError(`${op}: V must be a non-negative integer, got ${V}`);
  const needed = { bases: 4 * E * V, coeff: 4 * E, dOut: 4 * V, dMean: 4 * V, dBases: 4 * E * V, dCoeff: 4 * E };
  checkBindingSizes(ctx, op, needed);
  for (const [name, bytes] of Object.entries(needed) as [keyof BlendVolumesBackwardBuffers, number][])
    if (buffers[name].size < bytes) throw new RangeError(`${op}: the ${name} buffer holds ${buffers[name].size} bytes, the op needs ${bytes}`);
  const params = ctx.constants('blendVolumes params', Uint32Array.of(E, V));
  if (V > 0 && E > 0) {
    const pipeline = ctx.pipeline('blendVolumesBackward basesGrad', source, 'basesGrad');
    const group = bindGroupAt(ctx, 'blendVolumesBackward basesGrad', pipeline, {
      0: [params, params.size], 3: [buffers.coeff, needed.coeff], 5: [buffers.dOut, needed.dOut], 6: [buffers.dMean, needed.dMean], 7: [buffers.dBases, needed.dBases],
    });
    ctx.encode(encoder, 'blendVolumesBackward basesGrad', pipeline, group, grid2d(V, 64));
  } else if (V > 0) {
    // No bases: dMean alone (the shader's E loop would be empty; its coeff binding cannot be).
    encoder.copyBufferToBuffer(buffers.dOut, 0, buffers.dMean, 0, needed.dMean);
  }
  if (E > 0) {
    const pipeline = ctx.pipeline('blendVolumesBackward coeffGrad', source, 'coeffGrad');
    const group = bindGroupAt(ctx, 'blendVolumesBackward coeffGrad', pipeline, {
      0: [params, params.size], 2: [buffers.bases, needed.bases], 5: [buffers.dOut, needed.dOut], 8: [buffers.dCoeff, needed.dCoeff],
    });
    ctx.encode(encoder, 'blendVolumesBackward coeffGrad', pipeline, group, [E]);
  }
}

/** The Kernels-shaped backward: uploads, runs and reads back (the CPU op's argument checks). */
export async function blendVolumesBackwardOnGpu(
  ctx: GpuContext, bases: Float32Array, coeff: Float32Array, dOut: Float32Array,
): Promise<{ dMean: Float32Array; dBases: Float32Array; dCoeff: Float32Array }> {
  const op = 'blendVolumesBackward', E = coeff.length, V = dOut.length;
  if (bases.length !== E * V) throw new RangeError(`${op}: bases has length ${bases.length}, expected ${E * V} (E*V)`);
  const buffers = {
    bases: ctx.upload(`${op} bases`, bases), coeff: ctx.upload(`${op} coeff`, coeff), dOut: ctx.upload(`${op} dOut`, dOut),
    dMean: ctx.storage(`${op} dMean`, 4 * V), dBases: ctx.storage(`${op} dBases`, 4 * E * V), dCoeff: ctx.storage(`${op} dCoeff`, 4 * E),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${op} encoder` });
    encodeBlendVolumesBackward(ctx, encoder, buffers, E, V);
    ctx.device.queue.submit([encoder.finish()]);
    const read = async (buffer: GPUBuffer, bytes: number) => (bytes ? new Float32Array(await ctx.read(buffer, bytes)) : new Float32Array(0));
    const [dMean, dBases, dCoeff] = await Promise.all([read(buffers.dMean, 4 * V), read(buffers.dBases, 4 * E * V), read(buffers.dCoeff, 4 * E)]);
    return { dMean, dBases, dCoeff };
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}
