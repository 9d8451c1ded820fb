// The WGSL backend's inference ops behind the shared interface (InferenceKernels): each
// call uploads its inputs, runs, and reads its outputs back. The shared kernel suite runs
// against it; a call's render keeps its avatar resident instead (see the ops' encode*).
import type { InferenceKernels } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { bakeMotionOnGpu } from './bakeMotion';
import { blendVolumesOnGpu } from './blendVolumes';
import { densityAtOnGpu, renderRaysOnGpu } from './renderRays';

export function createWgslKernels(ctx: GpuContext): InferenceKernels {
  return {
    name: 'wgsl',
    blendVolumes: (mean, bases, coeff) => blendVolumesOnGpu(ctx, mean, bases, coeff),
    bakeMotion: (motion, shape, bakeRes, deform, offsets) => bakeMotionOnGpu(ctx, motion, shape, bakeRes, deform, offsets),
    renderRays: (origins, dirs, scene, color, transmittance) => renderRaysOnGpu(ctx, origins, dirs, scene, color, transmittance),
    densityAt: (points, scene, sigma) => densityAtOnGpu(ctx, points, scene, sigma),
  };
}
