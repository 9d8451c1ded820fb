// marchRays on the GPU (softDouble.wgsl + marchRays.wgsl, then scan.wgsl): a count pass,
// the counts scanned into int32 rayOffsets, a fill pass, all on the device. The samples
// are the CPU op's bit for bit (its float64 arithmetic, in integers). encodeMarchCount and
// encodeMarchFill work on resident buffers; the fill writes at most `capacity` samples, so
// a caller sizes positions from rayOffsets[R] (the adapter reads it back between the two)
// or gives a bound it can check afterwards.
import { readFileSync } from 'node:fs';
import type { MarchBox, MarchResult } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { bindAt } from './bindings';
import { grid2d } from './dispatch';
import { encodeCountsToOffsets, scanOverflowed, scanScratchWords } from './scan';
import { f64Words, softDoubleSource } from './softDouble';
import { checkBindingSizes } from './sizeChecks';

const source = `${softDoubleSource}\n${readFileSync(new URL('./marchRays.wgsl', import.meta.url), 'utf8')}`;
const workgroupSize = 64;

/**
 * maxSamples and the step bound are the CPU op's (a unit-speed ray crosses the box in at
 * most 2^24 steps); stepsPerRay is what a ray may take on the GPU before the op refuses
 * (a direction shorter than unit length), where the CPU op would go on.
 */
export const marchRaysLimits = { maxSamples: 65536, boxStepsPerStep: 16777216, stepsPerRay: 16777218 } as const;

export interface MarchRaysBuffers {
  /** [R,3]. */
  readonly origins: GPUBuffer;
  /** [R,3], unit length. */
  readonly dirs: GPUBuffer;
  /** [G,G,G] bytes (the buffer padded to 4 bytes). */
  readonly occupancy: GPUBuffer;
  /** [R+1] int32, written by the count pass. */
  readonly rayOffsets: GPUBuffer;
  /** marchScratchBytes(R): the count pass's status word, counts and the scan's sums. */
  readonly scratch: GPUBuffer;
}

export interface MarchFillBuffers extends MarchRaysBuffers {
  /** [capacity,3], written. */
  readonly positions: GPUBuffer;
  /** [capacity], written. */
  readonly deltas: GPUBuffer;
}

export interface MarchRaysDims {
  readonly rays: number;
  readonly box: MarchBox;
  readonly gridRes: number;
  readonly step: number;
  readonly maxSamples: number;
  /** Steps a ray may take before the op is refused (default and at most marchRaysLimits.stepsPerRay): lower on a GPU with a watchdog. */
  readonly stepsPerRay?: number;
}

export function marchScratchBytes(rays: number): number {
  return 4 * (1 + rays + scanScratchWords(rays));
}

const f32Bits = (a: ArrayLike<number>) => new Uint32Array(Float32Array.from(a).buffer);

/** The CPU op's checks (kernels/src/binding_render.cpp MarchRays), and what one binding holds. */
function checkDims(ctx: GpuContext, d: MarchRaysDims): void {
  const op = 'marchRays';
  if (!Number.isInteger(d.rays) || d.rays < 0) throw new RangeError(`${op}: R must be a non-negative integer, got ${d.rays}`);
  if (!Number.isInteger(d.gridRes) || d.gridRes < 1) throw new RangeError(`${op}: G must be a positive integer, got ${d.gridRes}`);
  if (typeof d.step !== 'number' || !Number.isFinite(d.step)) throw new RangeError(`${op}: step must be finite, got ${d.step}`);
  if (!(d.step > 0)) throw new RangeError(`${op}: step must be positive, got ${d.step}`);
  if (!Number.isInteger(d.maxSamples) || d.maxSamples < 0) throw new RangeError(`${op}: maxSamples must be a non-negative integer, got ${d.maxSamples}`);
  if (d.maxSamples > marchRaysLimits.maxSamples) throw new RangeError(`${op}: maxSamples must be at most ${marchRaysLimits.maxSamples}, got ${d.maxSamples}`);
  const steps = d.stepsPerRay ?? marchRaysLimits.stepsPerRay;
  if (!Number.isInteger(steps) || steps < 1 || steps > marchRaysLimits.stepsPerRay)
    throw new RangeError(`${op}: stepsPerRay must be an integer in [1, ${marchRaysLimits.stepsPerRay}], got ${steps}`);
  if (d.box.min.length !== 3) throw new RangeError(`${op}: boxMin has length ${d.box.min.length}, expected 3 (3)`);
  if (d.box.max.length !== 3) throw new RangeError(`${op}: boxMax has length ${d.box.max.length}, expected 3 (3)`);
  let diag2 = 0;
  for (let k = 0; k < 3; k++) {
    if (!(d.box.min[k]! < d.box.max[k]!)) throw new RangeError(`${op}: boxMin must be below boxMax on every axis`);
    const side = Math.fround(d.box.max[k]! - d.box.min[k]!);
    diag2 += side * side;
  }
  if (Math.sqrt(diag2) / d.step > marchRaysLimits.boxStepsPerStep) throw new RangeError(`${op}: step is too small for the box, got ${d.step}`);
  checkBindingSizes(ctx, op, { origins: 12 * d.rays, occupancy: d.gridRes ** 3, scratch: marchScratchBytes(d.rays) });
}

function needBytes(name: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) throw new RangeError(`marchRays: the ${name} buffer holds ${buffer.size} bytes, ${bytes} needed`);
}

function params(ctx: GpuContext, d: MarchRaysDims, capacity: number): GPUBuffer {
  const words = new Uint32Array(16), step = f64Words(d.step);
  words.set(f32Bits(d.box.min), 0);
  words[3] = d.gridRes;
  words.set(f32Bits(d.box.max), 4);
  words[7] = d.maxSamples;
  words.set([step.lo, step.hi, step.e >>> 0, d.rays, capacity, f32Bits([d.step])[0]!, d.stepsPerRay ?? marchRaysLimits.stepsPerRay], 8);
  return ctx.constants('marchRays params', words);
}

function checkBuffers(ctx: GpuContext, b: MarchRaysBuffers, d: MarchRaysDims): void {
  checkDims(ctx, d);
  needBytes('origins', b.origins, 12 * d.rays);
  needBytes('dirs', b.dirs, 12 * d.rays);
  needBytes('occupancy', b.occupancy, d.gridRes ** 3);
  needBytes('rayOffsets', b.rayOffsets, 4 * (d.rays + 1));
  needBytes('scratch', b.scratch, marchScratchBytes(d.rays));
}

/**
 * Encodes the count pass and the scan: rayOffsets [R+1] (int32; a sum past int32 reads
 * back negative, see scanOverflowed) and word 0 of scratch, non-zero when a ray took more
 * than stepsPerRay steps (its count is then short: the op is refused).
 */
export function encodeMarchCount(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: MarchRaysBuffers, dims: MarchRaysDims): void {
  checkBuffers(ctx, buffers, dims);
  const R = dims.rays;
  encoder.clearBuffer(buffers.scratch, 0, 4);
  if (R > 0) {
    const pipeline = ctx.pipeline('marchRays count', source, 'countSamples');
    const group = bindAt(ctx, 'marchRays count', pipeline, { 0: params(ctx, dims, 0), 1: buffers.origins, 2: buffers.dirs, 3: buffers.occupancy, 4: buffers.scratch });
    ctx.encode(encoder, 'marchRays count', pipeline, group, grid2d(R, workgroupSize));
  }
  encodeCountsToOffsets(ctx, encoder, buffers.scratch, 1, 1 + R, R, buffers.rayOffsets);
}

/** Encodes the fill pass from rayOffsets: positions [S,3] and deltas [S], the first `capacity` samples. */
export function encodeMarchFill(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: MarchFillBuffers, dims: MarchRaysDims, capacity: number): void {
  checkBuffers(ctx, buffers, dims);
  if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`marchRays: capacity must be a non-negative integer, got ${capacity}`);
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  if (12 * capacity > limit) throw new RangeError(`marchRays: positions needs ${12 * capacity} bytes, over the device's maxStorageBufferBindingSize (${limit})`);
  needBytes('positions', buffers.positions, 12 * capacity);
  needBytes('deltas', buffers.deltas, 4 * capacity);
  if (dims.rays === 0 || capacity === 0) return;
  const pipeline = ctx.pipeline('marchRays fill', source, 'fillSamples');
  const group = bindAt(ctx, 'marchRays fill', pipeline, {
    0: params(ctx, dims, capacity), 1: buffers.origins, 2: buffers.dirs, 3: buffers.occupancy, 5: buffers.rayOffsets, 6: buffers.positions, 7: buffers.deltas,
  });
  ctx.encode(encoder, 'marchRays fill', pipeline, group, grid2d(dims.rays, workgroupSize));
}

/** Reads what encodeMarchCount wrote and refuses what the CPU op refuses (or would not finish). */
export async function readMarchOffsets(ctx: GpuContext, buffers: MarchRaysBuffers, dims: MarchRaysDims): Promise<Int32Array> {
  const rays = dims.rays;
  const [status, offsets] = await Promise.all([ctx.read(buffers.scratch, 4), ctx.read(buffers.rayOffsets, 4 * (rays + 1))]);
  if (new Uint32Array(status)[0] !== 0)
    throw new RangeError(`marchRays: a ray takes more than ${dims.stepsPerRay ?? marchRaysLimits.stepsPerRay} steps (stepsPerRay) through the box (is its direction unit length?)`);
  const rayOffsets = new Int32Array(offsets);
  if (scanOverflowed(rayOffsets[rays]!)) throw new RangeError('marchRays: too many samples for int32 offsets');
  return rayOffsets;
}

/** The Kernels-shaped marchRays: count and scan, read rayOffsets back, fill exactly S samples, read back. */
export async function marchRaysOnGpu(
  ctx: GpuContext, origins: Float32Array, dirs: Float32Array, box: MarchBox, occupancy: Uint8Array, gridRes: number, step: number, maxSamples: number,
): Promise<MarchResult> {
  const R = origins.length / 3;
  if (!Number.isInteger(R)) throw new RangeError(`marchRays: origins has length ${origins.length}, not a multiple of 3`);
  const dims: MarchRaysDims = { rays: R, box, gridRes, step, maxSamples };
  checkDims(ctx, dims);
  if (dirs.length !== 3 * R) throw new RangeError(`marchRays: dirs has length ${dirs.length}, expected ${3 * R} (R*3)`);
  if (occupancy.length !== gridRes ** 3) throw new RangeError(`marchRays: occupancy has length ${occupancy.length}, expected ${gridRes ** 3} (G*G*G)`);
  const owned: GPUBuffer[] = [];
  const keep = (b: GPUBuffer) => (owned.push(b), b);
  try {
    const buffers: MarchRaysBuffers = {
      origins: keep(ctx.upload('marchRays origins', origins)), dirs: keep(ctx.upload('marchRays dirs', dirs)),
      occupancy: keep(ctx.upload('marchRays occupancy', occupancy)), rayOffsets: keep(ctx.storage('marchRays rayOffsets', 4 * (R + 1))),
      scratch: keep(ctx.storage('marchRays scratch', marchScratchBytes(R))),
    };
    let encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} marchRays count encoder` });
    encodeMarchCount(ctx, encoder, buffers, dims);
    ctx.device.queue.submit([encoder.finish()]);
    const rayOffsets = await readMarchOffsets(ctx, buffers, dims);
    const S = rayOffsets[R]!;
    const fill = { ...buffers, positions: keep(ctx.storage('marchRays positions', 12 * S)), deltas: keep(ctx.storage('marchRays deltas', 4 * S)) };
    encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} marchRays fill encoder` });
    encodeMarchFill(ctx, encoder, fill, dims, S);
    ctx.device.queue.submit([encoder.finish()]);
    const [positions, deltas] = await Promise.all([ctx.read(fill.positions, 12 * S), ctx.read(fill.deltas, 4 * S)]);
    return { positions: new Float32Array(positions), deltas: new Float32Array(deltas), rayOffsets };
  } finally {
    for (const b of owned) b.destroy();
  }
}
