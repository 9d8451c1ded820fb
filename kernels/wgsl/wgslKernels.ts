// The WGSL backend behind the shared interface: every op of `Kernels`, asynchronous
// (SuiteKernels). Each call uploads its inputs, runs, and reads its outputs back; the
// shared kernel suite runs against it (kernels/wgsl.test.ts). A call's render keeps its
// avatar resident instead (the ops' encode* functions; server/engine/GpuRenderer.ts).
import type { InferenceKernels, SuiteKernels } from '../KernelsTypes';
import { adamStepMaskedOnGpu, adamStepOnGpu } from './adam';
import { bakeMotionOnGpu } from './bakeMotion';
import { blendVolumesBackwardOnGpu, blendVolumesOnGpu } from './blendVolumes';
import { compositeBackwardOnGpu, compositeOnGpu } from './composite';
import { denseBackwardOnGpu, denseOnGpu } from './dense';
import type { GpuContext } from './GpuContext';
import { gridSample3dBackwardOnGpu, gridSample3dOnGpu } from './gridSample3d';
import { l1LossBackwardOnGpu, l1LossOnGpu, meanSquareBackwardOnGpu, meanSquareOnGpu } from './losses';
import { marchRaysOnGpu } from './marchRays';
import { densityAtOnGpu, renderRaysOnGpu } from './renderRays';

export function createWgslKernels(ctx: GpuContext): SuiteKernels & InferenceKernels {
  return {
    name: 'wgsl',
    gridSample3d: (...a) => gridSample3dOnGpu(ctx, ...a),
    gridSample3dBackward: (...a) => gridSample3dBackwardOnGpu(ctx, ...a),
    blendVolumes: (...a) => blendVolumesOnGpu(ctx, ...a),
    blendVolumesBackward: (...a) => blendVolumesBackwardOnGpu(ctx, ...a),
    dense: (...a) => denseOnGpu(ctx, ...a),
    denseBackward: (...a) => denseBackwardOnGpu(ctx, ...a),
    composite: (...a) => compositeOnGpu(ctx, ...a),
    compositeBackward: (...a) => compositeBackwardOnGpu(ctx, ...a),
    marchRays: (...a) => marchRaysOnGpu(ctx, ...a),
    renderRays: (...a) => renderRaysOnGpu(ctx, ...a),
    densityAt: (...a) => densityAtOnGpu(ctx, ...a),
    bakeMotion: (...a) => bakeMotionOnGpu(ctx, ...a),
    l1Loss: (...a) => l1LossOnGpu(ctx, ...a),
    l1LossBackward: (...a) => l1LossBackwardOnGpu(ctx, ...a),
    meanSquare: (...a) => meanSquareOnGpu(ctx, ...a),
    meanSquareBackward: (...a) => meanSquareBackwardOnGpu(ctx, ...a),
    adamStep: (...a) => adamStepOnGpu(ctx, ...a),
    adamStepMasked: (...a) => adamStepMaskedOnGpu(ctx, ...a),
  };
}
