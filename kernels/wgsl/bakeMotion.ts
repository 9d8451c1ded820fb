// Placeholder until bakeMotion.wgsl lands (issue 13).
import type { DeformMlp, GridShape } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';

export async function bakeMotionOnGpu(_ctx: GpuContext, _motion: Float32Array, _shape: GridShape, _bakeRes: number, _deform: DeformMlp, _offsets: Float32Array): Promise<void> {
  throw new Error('bakeMotion: not yet on the WGSL backend');
}
