// Placeholder until renderRays.wgsl lands (issue 13).
import type { RenderRaysScene, RenderRaysStats } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';

export async function renderRaysOnGpu(
  _ctx: GpuContext, _origins: Float32Array, _dirs: Float32Array, _scene: RenderRaysScene, _color: Float32Array, _transmittance?: Float32Array,
): Promise<RenderRaysStats> {
  throw new Error('renderRays: not yet on the WGSL backend');
}

export async function densityAtOnGpu(_ctx: GpuContext, _points: Float32Array, _scene: RenderRaysScene, _sigma: Float32Array): Promise<void> {
  throw new Error('densityAt: not yet on the WGSL backend');
}
