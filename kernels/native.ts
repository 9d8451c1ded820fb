// Loads the native addon built by scripts/build-kernels.sh and types its raw surface
// (positional arguments, explicit sizes; see kernels/src/binding.cpp), except the scene of
// renderRays and densityAt: the backends' shared RenderRaysScene, read by field name
// (kernels/src/binding_render.cpp, read_scene).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { RenderRaysScene } from './KernelsTypes';

export interface NativeKernels {
  gridSample3d(grid: Float32Array, d: number, h: number, w: number, c: number, points: Float32Array, n: number, stride: number): { out: Float32Array };
  gridSample3dBackward(
    grid: Float32Array, d: number, h: number, w: number, c: number, points: Float32Array, n: number, stride: number,
    dOut: Float32Array, dGrid?: Float32Array,
  ): { dGrid: Float32Array; dPoints: Float32Array };
  dense(x: Float32Array, w: Float32Array, b: Float32Array, n: number, inF: number, outF: number, act: string): { y: Float32Array };
  denseBackward(
    x: Float32Array, w: Float32Array, y: Float32Array, dY: Float32Array, n: number, inF: number, outF: number, act: string, needDX: boolean,
  ): { dX: Float32Array | null; dW: Float32Array; dB: Float32Array };
  composite(
    sigma: Float32Array, rgb: Float32Array, delta: Float32Array, rayOffsets: Int32Array, background: Float32Array, r: number, s: number, tEps: number,
  ): { color: Float32Array; transmittance: Float32Array; samplesUsed: Int32Array };
  compositeBackward(
    sigma: Float32Array, rgb: Float32Array, delta: Float32Array, rayOffsets: Int32Array, color: Float32Array, samplesUsed: Int32Array,
    dColor: Float32Array, r: number, s: number,
  ): { dSigma: Float32Array; dRgb: Float32Array };
  blendVolumes(mean: Float32Array, bases: Float32Array, coeff: Float32Array, e: number, v: number): { out: Float32Array };
  blendVolumesBackward(bases: Float32Array, coeff: Float32Array, dOut: Float32Array, e: number, v: number): { dMean: Float32Array; dBases: Float32Array; dCoeff: Float32Array };
  marchRays(
    origins: Float32Array, dirs: Float32Array, r: number, boxMin: Float32Array, boxMax: Float32Array, occupancy: Uint8Array, g: number, step: number, maxSamples: number,
  ): { positions: Float32Array; deltas: Float32Array; rayOffsets: Int32Array };
  renderRays(
    origins: Float32Array, dirs: Float32Array, r: number, scene: RenderRaysScene, color: Float32Array, transmittance?: Float32Array,
  ): { samples: number; density: number; shaded: number };
  densityAt(points: Float32Array, p: number, scene: RenderRaysScene, sigma: Float32Array): void;
  bakeMotion(
    motion: Float32Array, mRes: number, c: number, bakeRes: number, f: number,
    w0: Float32Array, b0: Float32Array, w1: Float32Array, b1: Float32Array, h: number, offsets: Float32Array,
  ): void;
  l1Loss(a: Float32Array, b: Float32Array): number;
  l1LossBackward(a: Float32Array, b: Float32Array, dLoss: number): Float32Array;
  meanSquare(x: Float32Array): number;
  meanSquareBackward(x: Float32Array, dValue: number): Float32Array;
  adamStep(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number, beta2: number, eps: number, t: number, masked: boolean,
  ): void;
  numThreads(): number;
  simd(): string;
}

/**
 * The addon: kernels/build's, or VOXFACE_KERNELS_ADDON (a build elsewhere, e.g. a git
 * worktree whose kernels/build is shared with another checkout).
 */
export const nativePath = process.env['VOXFACE_KERNELS_ADDON'] || fileURLToPath(new URL('./build/Release/voxface_kernels.node', import.meta.url));

let cached: NativeKernels | undefined;

/** The addon, loaded on first use; throws a clear error when it has not been built. */
export function loadNative(): NativeKernels {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)(nativePath) as NativeKernels;
  } catch (err) {
    throw new Error(`voxface kernels: cannot load ${nativePath} (build it with: bash scripts/build-kernels.sh): ${String(err)}`);
  }
  return cached;
}
