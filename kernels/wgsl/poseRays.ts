// The frame's canonical rays made on the device (poseRays.wgsl) from the camera's rays,
// resident since the session began: the GPU renderer's per-frame upload is a 96-byte
// pose block instead of the rectangle's rays (24 bytes a ray: ~0.55 MB a frame for a
// head filling 40% of 320x180), and the host process no longer poses every ray in
// JavaScript for every session of the device.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';
import { checkBindingSizes, checkBufferSizes } from './sizeChecks';

const source = readFileSync(new URL('./poseRays.wgsl', import.meta.url), 'utf8');

/** Bytes of the pose block (the uniform each session writes per frame). */
export const POSE_RAYS_PARAMS_BYTES = 96;

export interface PoseRaysBuffers {
  /** The pose block (POSE_RAYS_PARAMS_BYTES, uniform | copy-dst), written by writePoseRays. */
  readonly params: GPUBuffer;
  /** [imageHeight * imageWidth, 3] the camera's rays, row-major. */
  readonly worldOrigins: GPUBuffer;
  readonly worldDirs: GPUBuffer;
  /** [count, 3] written: the rectangle's rays, row by row, in canonical space. */
  readonly origins: GPUBuffer;
  readonly dirs: GPUBuffer;
}

export interface PoseRaysFrame {
  /** The head pose's translation and scale > 0 (its rotation goes to writePoseRays as a matrix). */
  readonly translation: ArrayLike<number>;
  readonly scale: number;
  /** The rectangle [x0, x1) x [y0, y1) of the internal image. */
  readonly rect: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** The rays the frame's rectangle holds, after checking it lies in the image. */
function rectCount(op: string, f: PoseRaysFrame): number {
  const r = f.rect;
  if (![f.imageWidth, f.imageHeight].every((v) => Number.isInteger(v) && v >= 1))
    throw new RangeError(`${op}: the image must have positive integer sides, got ${f.imageWidth}x${f.imageHeight}`);
  if (![r.x0, r.y0, r.x1, r.y1].every(Number.isInteger) || r.x0 < 0 || r.y0 < 0 || r.x1 > f.imageWidth || r.y1 > f.imageHeight || r.x1 <= r.x0 || r.y1 <= r.y0)
    throw new RangeError(`${op}: rect must be a non-empty integer rectangle within the ${f.imageWidth}x${f.imageHeight} image, got ${JSON.stringify(r)}`);
  if (!(f.scale > 0)) throw new RangeError(`${op}: scale must be > 0, got ${f.scale}`);
  return (r.x1 - r.x0) * (r.y1 - r.y0);
}

/**
 * Queues the frame's pose block into `params` (its rotation matrix `R`, row-major, made
 * by the caller: Pose.rotationMatrix) and returns the rectangle's ray count.
 */
export function writePoseRays(ctx: GpuContext, params: GPUBuffer, frame: PoseRaysFrame, R: ArrayLike<number>): number {
  const count = rectCount('poseRays', frame);
  const block = new ArrayBuffer(POSE_RAYS_PARAMS_BYTES), f = new Float32Array(block), u = new Uint32Array(block);
  for (let row = 0; row < 3; row++) for (let k = 0; k < 3; k++) f[4 * row + k] = R[3 * row + k]!;
  f.set([frame.translation[0]!, frame.translation[1]!, frame.translation[2]!, 1 / frame.scale], 12);
  u.set([frame.rect.x0, frame.rect.y0, frame.rect.x1 - frame.rect.x0, count, frame.imageWidth], 16);
  ctx.write(params, 0, f);
  return count;
}

/** Encodes the rectangle's `count` posed rays (writePoseRays's count) into origins and dirs. */
export function encodePoseRays(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: PoseRaysBuffers, count: number, imagePixels: number): void {
  const needed = { worldOrigins: 12 * imagePixels, worldDirs: 12 * imagePixels, origins: 12 * count, dirs: 12 * count };
  checkBindingSizes(ctx, 'poseRays', needed);
  checkBufferSizes<keyof typeof needed>('poseRays', buffers, needed);
  const pipeline = ctx.pipeline('poseRays', source);
  const group = ctx.bindGroup('poseRays', pipeline, [buffers.params, buffers.worldOrigins, buffers.worldDirs, buffers.origins, buffers.dirs]);
  ctx.encode(encoder, 'poseRays', pipeline, group, grid2d(count, 64));
}
