// The live renderers' options, presets and per-frame statistics (shared by the CPU
// renderer, Renderer.ts, and the GPU one, GpuRenderer.ts).
import type { Kernels } from '../../kernels/KernelsTypes';
import type { UnderLayer } from './Compositing';
import type { PixelCamera } from './Framing';
import type { PixelRect } from './ScreenBounds';

export interface RenderSize {
  readonly width: number;
  readonly height: number;
}

export interface RendererOptions extends RenderSize {
  readonly kernels?: Kernels;
  /** The output camera, of width x height (default: the model's square view, modelPixelCamera). */
  readonly camera?: PixelCamera;
  /** What the head is composited onto (default: white). */
  readonly under?: UnderLayer;
  /** Early termination threshold on transmittance. */
  readonly tEps?: number;
  readonly alphaThreshold?: number;
  /**
   * The motion field is baked on a grid of bakeFactor x motionRes + 1 points per axis
   * over the motion box (default 2; 1 is the motion grid's own points). Finer bakes track the
   * exact model more closely at bakeFactor^3 times the per-frame MLP cost.
   */
  readonly bakeFactor?: number;
  /** Skip the occupancy grid (every cell occupied, every ray cast): isolates the motion-bake error in tests. */
  readonly noOccupancy?: boolean;
  /**
   * Occupied components under this share of the largest are floaters and are not drawn
   * (Floaters.ts; default FLOATER_SHARE, 0 draws every component).
   */
  readonly floaterShare?: number;
  /** Rays per axis relative to the output (<= 1); the image is upscaled (a cubic, FastUpscale.ts). */
  readonly renderScale?: number;
  /** Bake grid points per axis (overrides bakeFactor). */
  readonly bakeRes?: number;
  /** Colour head only where the compositing weight T*alpha >= weightEps. */
  readonly weightEps?: number;
  /** Occupancy probes refreshed in this many round-robin slices (1 = every frame). */
  readonly occupancySlices?: number;
  /**
   * Ray steps this many times the model's (>= 1). Alpha stays
   * 1 - exp(-sigma * step * densityScale), so this is a coarser quadrature of the same
   * volume integral: fewer density evaluations through the avatar's soft layer.
   */
  readonly stepScale?: number;
}

export type Preset = Pick<RendererOptions, 'renderScale' | 'bakeFactor' | 'weightEps' | 'occupancySlices' | 'tEps' | 'stepScale'>;

/**
 * The realtime preset (`npm run bench:render`: 256 px in about 25 ms on this 2-core
 * machine with the fast config): half-resolution rays upscaled, motion baked at the
 * motion grid's own resolution, colour skipped below weight 2e-3, occupancy refreshed
 * over 4 frames, ray steps 1.5x the model's (-0.16 dB against the exact model; against
 * held-out ground truth -0.01 dB on KatieHill, -0.04 on selfie, +0.01 on expressions).
 */
export const REALTIME: Preset = {
  renderScale: 0.5, bakeFactor: 1, weightEps: 2e-3, occupancySlices: 4, stepScale: 1.5,
};

/**
 * What live calls render with (the render process; VOXFACE_AVATAR_RENDER_SCALE overrides
 * the scale): REALTIME (half-resolution rays: in the 640x360 call framing the face gets
 * one ray per two output pixels per axis, about 80 rays from forehead to chin, and only
 * the head's projected bounds are cast) with early termination at transmittance 1e-2.
 * (Until the call framing, LIVE cast 0.35 rays per pixel on a 256 square: 90x90 rays,
 * about 45 across the face.) Its cost per 640x360 frame: `npm run bench:render` (docs/engine.md).
 */
export const LIVE: Preset = { ...REALTIME, tEps: 1e-2 };

export interface FrameStats {
  /** Samples the rays marched (kept by the occupancy grid, up to each ray's termination). */
  readonly samples: number;
  readonly shadedSamples: number;
  /** Rays cast this frame (those inside the avatar's projected bounds) and the internal image's pixel count. */
  readonly rays: number;
  readonly pixels: number;
  /** The internal image's rectangle the rays were cast in (null: none). */
  readonly rect: PixelRect | null;
  /** Wall ms of the frame's stages (bake: fold + blend + bake; the rest in order). */
  readonly stageMs: { readonly bake: number; readonly occupancy: number; readonly rays: number; readonly upscale: number };
}

