// renderRays and densityAt on the GPU (renderRays.wgsl, densityAt.wgsl, each after the
// shared scene.wgsl) against a GpuScene resident on the device. encode* put the op into a
// caller's command encoder (a frame's bake, occupancy and render go out in one
// submission); the *OnGpu adapters are the Kernels-shaped ops for the shared suite and
// one-off calls (upload the scene, run, read back, free).
import { readFileSync } from 'node:fs';
import type { RenderRaysScene, RenderRaysStats } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { GpuScene } from './GpuScene';
import type { GpuPoints, GpuRays, GpuRenderOutputs } from './GpuSceneTypes';
import { grid2d } from './dispatch';

// Literal reads (no helper): the GPU check's bundler inlines exactly this form.
const sceneSource = readFileSync(new URL('./scene.wgsl', import.meta.url), 'utf8');
const renderBody = `${sceneSource}\n${readFileSync(new URL('./renderRays.wgsl', import.meta.url), 'utf8')}`;
const densityBody = `${sceneSource}\n${readFileSync(new URL('./densityAt.wgsl', import.meta.url), 'utf8')}`;
const workgroupSize = 64;

function needBytes(op: string, name: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) throw new RangeError(`${op}: ${name} holds ${buffer.size} bytes, ${bytes} needed`);
}

function sceneArg(op: string, ctx: GpuContext, scene: GpuScene): void {
  scene.assertOpen();
  if (scene.ctx !== ctx) throw new Error(`${op}: scene ${scene.label} lives on another GpuContext`);
}

function countArg(op: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${n}`);
}

/** A bind group of the scene's bindings 0-3 then `rest` (bindings 4, 5, ...), each bound at its given size. */
function sceneBindGroup(ctx: GpuContext, label: string, pipeline: GPUComputePipeline, scene: GpuScene, rest: readonly GPUBufferBinding[]): GPUBindGroup {
  const bindings: GPUBufferBinding[] = [{ buffer: scene.params }, { buffer: scene.frame }, { buffer: scene.tensors }, { buffer: scene.offsets }, ...rest];
  return ctx.device.createBindGroup({
    label: `${ctx.label} ${label} bind group`,
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((resource, binding) => ({ binding, resource })),
  });
}

/**
 * Encodes renderRays for `rays` against the scene's current frame: color [count,3] and,
 * when given, transmittance [count] and stats (cleared, then counted). Buffers are bound
 * at exactly the rays' size, which is how the shader knows the count.
 */
export function encodeRenderRays(ctx: GpuContext, encoder: GPUCommandEncoder, scene: GpuScene, rays: GpuRays, out: GpuRenderOutputs): void {
  const op = 'encodeRenderRays';
  sceneArg(op, ctx, scene);
  const R = rays.count;
  countArg(op, 'rays.count', R);
  needBytes(op, 'rays.origins', rays.origins, 12 * R);
  needBytes(op, 'rays.dirs', rays.dirs, 12 * R);
  needBytes(op, 'out.color', out.color, 12 * R);
  if (out.transmittance) needBytes(op, 'out.transmittance', out.transmittance, 4 * R);
  if (out.stats) {
    needBytes(op, 'out.stats', out.stats, 12);
    encoder.clearBuffer(out.stats, 0, 12);
  }
  if (R === 0) return;
  const pipeline = ctx.pipeline('renderRays', scene.shapeWgsl + renderBody);
  const group = sceneBindGroup(ctx, 'renderRays', pipeline, scene, [
    { buffer: scene.occupancy },
    { buffer: rays.origins, size: 12 * R },
    { buffer: rays.dirs, size: 12 * R },
    { buffer: out.color, size: 12 * R },
    out.transmittance ? { buffer: out.transmittance, size: 4 * R } : { buffer: scene.unusedTransmittance, size: 4 },
    { buffer: out.stats ?? scene.unusedStats, size: 12 },
  ]);
  ctx.encode(encoder, 'renderRays', pipeline, group, grid2d(R, workgroupSize));
}

/** Encodes densityAt: sigma [count] (the density head's linear output) at the points. */
export function encodeDensityAt(ctx: GpuContext, encoder: GPUCommandEncoder, scene: GpuScene, points: GpuPoints, sigma: GPUBuffer): void {
  const op = 'encodeDensityAt';
  sceneArg(op, ctx, scene);
  const P = points.count;
  countArg(op, 'points.count', P);
  needBytes(op, 'points.points', points.points, 12 * P);
  needBytes(op, 'sigma', sigma, 4 * P);
  if (P === 0) return;
  const pipeline = ctx.pipeline('densityAt', scene.shapeWgsl + densityBody);
  const group = sceneBindGroup(ctx, 'densityAt', pipeline, scene, [{ buffer: points.points, size: 12 * P }, { buffer: sigma, size: 4 * P }]);
  ctx.encode(encoder, 'densityAt', pipeline, group, grid2d(P, workgroupSize));
}

/** Reads a stats buffer encodeRenderRays wrote (after the work that wrote it is submitted). */
export async function readRenderRaysStats(ctx: GpuContext, stats: GPUBuffer): Promise<RenderRaysStats> {
  const [samples, density, shaded] = new Uint32Array(await ctx.read(stats, 12));
  return { samples: samples!, density: density!, shaded: shaded! };
}

function checkLength(op: string, name: string, a: ArrayLike<number>, expected: number, what: string): void {
  if (a.length !== expected) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${expected} (${what})`);
}

/** The Kernels-shaped renderRays: uploads the scene and rays, renders, reads back. */
export async function renderRaysOnGpu(
  ctx: GpuContext, origins: Float32Array, dirs: Float32Array, scene: RenderRaysScene, color: Float32Array, transmittance?: Float32Array,
): Promise<RenderRaysStats> {
  const R = origins.length / 3;
  if (!Number.isInteger(R)) throw new RangeError(`renderRays: origins has length ${origins.length}, not a multiple of 3`);
  checkLength('renderRays', 'dirs', dirs, 3 * R, 'R*3');
  checkLength('renderRays', 'color', color, 3 * R, 'R*3');
  if (transmittance) checkLength('renderRays', 'transmittance', transmittance, R, 'R');
  const gpuScene = GpuScene.create(ctx, scene, 'renderRays scene');
  const buffers: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (buffers.push(b), b);
  try {
    const rays = { origins: keep(ctx.upload('renderRays origins', origins)), dirs: keep(ctx.upload('renderRays dirs', dirs)), count: R };
    const out = {
      color: keep(ctx.storage('renderRays color', 12 * R)),
      stats: keep(ctx.storage('renderRays stats', 12)),
      ...(transmittance ? { transmittance: keep(ctx.storage('renderRays transmittance', 4 * R)) } : {}),
    };
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} renderRays encoder` });
    encodeRenderRays(ctx, encoder, gpuScene, rays, out);
    ctx.device.queue.submit([encoder.finish()]);
    const [c, t, stats] = await Promise.all([
      ctx.read(out.color, 12 * R), out.transmittance ? ctx.read(out.transmittance, 4 * R) : null, readRenderRaysStats(ctx, out.stats),
    ]);
    color.set(new Float32Array(c));
    if (transmittance && t) transmittance.set(new Float32Array(t));
    return stats;
  } finally {
    for (const b of buffers) b.destroy();
    gpuScene.close();
  }
}

/** The Kernels-shaped densityAt: uploads the scene and points, runs, reads sigma back. */
export async function densityAtOnGpu(ctx: GpuContext, points: Float32Array, scene: RenderRaysScene, sigma: Float32Array): Promise<void> {
  const P = points.length / 3;
  if (!Number.isInteger(P)) throw new RangeError(`densityAt: points has length ${points.length}, not a multiple of 3`);
  checkLength('densityAt', 'sigma', sigma, P, 'P');
  const gpuScene = GpuScene.create(ctx, scene, 'densityAt scene');
  const pointsBuffer = ctx.upload('densityAt points', points), sigmaBuffer = ctx.storage('densityAt sigma', 4 * P);
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} densityAt encoder` });
    encodeDensityAt(ctx, encoder, gpuScene, { points: pointsBuffer, count: P }, sigmaBuffer);
    ctx.device.queue.submit([encoder.finish()]);
    if (P > 0) sigma.set(new Float32Array(await ctx.read(sigmaBuffer, 4 * P)));
  } finally {
    pointsBuffer.destroy();
    sigmaBuffer.destroy();
    gpuScene.close();
  }
}
