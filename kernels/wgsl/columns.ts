// Column blocks on the GPU (columns.wgsl): the copies, fills and per-ray broadcasts
// between the trainer's ops, on resident buffers (server/engine/Columns.ts does them on the
// CPU; test/engine/GpuTrainGlue.test.ts checks one against the other).
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { bindAt } from './bindings';
import { grid2d } from './dispatch';
import { checkBindingSizes } from './sizeChecks';

const source = readFileSync(new URL('./columns.wgsl', import.meta.url), 'utf8');

/** Columns [start, start + count) of a row-major matrix `width` wide. */
export interface ColumnBlock {
  readonly buffer: GPUBuffer;
  readonly width: number;
  readonly start: number;
}

export interface CopyColsOptions {
  /** dst += scale * src instead of dst = scale * src. */
  readonly accumulate?: boolean;
  /** Default 1 (an exact copy). */
  readonly scale?: number;
}

function checkBlock(ctx: GpuContext, op: string, name: string, b: ColumnBlock, count: number, rows: number): void {
  for (const [what, v] of [['width', b.width], ['start', b.start]] as const)
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${name}.${what} must be a non-negative integer, got ${v}`);
  if (b.start + count > b.width) throw new RangeError(`${op}: ${name} columns ${b.start}..${b.start + count} exceed its width ${b.width}`);
  const bytes = 4 * rows * b.width;
  checkBindingSizes(ctx, op, { [name]: bytes });
  if (b.buffer.size < bytes) throw new RangeError(`${op}: the ${name} buffer holds ${b.buffer.size} bytes, ${bytes} needed`);
}

function checkCounts(op: string, count: number, rows: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`${op}: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${op}: rows must be a non-negative integer, got ${rows}`);
  if (rows * count > 0xffffffff) throw new RangeError(`${op}: rows * count must fit u32, got ${rows * count}`);
}

function params(ctx: GpuContext, rows: number, count: number, src: { width: number; start: number }, dst: ColumnBlock, accumulate: boolean, scale: number): GPUBuffer {
  const words = Uint32Array.of(rows, count, src.width, src.start, dst.width, dst.start, accumulate ? 1 : 0, 0);
  new Float32Array(words.buffer)[7] = scale;
  return ctx.constants('columns params', words);
}

/** Encodes dst[:, block] (+)= scale * src[:, block] over `rows` rows of `count` columns. */
export function encodeCopyCols(ctx: GpuContext, encoder: GPUCommandEncoder, src: ColumnBlock, dst: ColumnBlock, count: number, rows: number, o: CopyColsOptions = {}): void {
  const op = 'copyCols', scale = o.scale ?? 1;
  checkCounts(op, count, rows);
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale must be finite, got ${scale}`);
  checkBlock(ctx, op, 'src', src, count, rows);
  checkBlock(ctx, op, 'dst', dst, count, rows);
  if (src.buffer === dst.buffer) throw new RangeError(`${op}: src and dst must be different buffers`);
  if (rows === 0) return;
  const pipeline = ctx.pipeline(op, source, 'copyCols');
  const group = bindAt(ctx, op, pipeline, { 0: params(ctx, rows, count, src, dst, o.accumulate ?? false, scale), 1: src.buffer, 2: dst.buffer });
  ctx.encode(encoder, op, pipeline, group, grid2d(rows * count, 64));
}

/** Encodes every row of dst[:, block] = the row vector `v` [count]. */
export function encodeFillCols(ctx: GpuContext, encoder: GPUCommandEncoder, v: GPUBuffer, dst: ColumnBlock, count: number, rows: number): void {
  const op = 'fillCols';
  checkCounts(op, count, rows);
  checkBlock(ctx, op, 'dst', dst, count, rows);
  if (v.size < 4 * count) throw new RangeError(`${op}: the v buffer holds ${v.size} bytes, ${4 * count} needed`);
  if (rows === 0) return;
  const pipeline = ctx.pipeline(op, source, 'fillCols');
  const group = bindAt(ctx, op, pipeline, { 0: params(ctx, rows, count, { width: count, start: 0 }, dst, false, 1), 1: v, 2: dst.buffer });
  ctx.encode(encoder, op, pipeline, group, grid2d(rows * count, 64));
}

/**
 * Encodes, for each of `rays` rays and each sample s of it (rayOffsets [R+1], int32, as
 * the march wrote them; S samples in all), dst[s, block] = src[ray, block]: the per-ray
 * view-direction encoding repeated on its samples' rows.
 */
export function encodeBroadcastRays(
  ctx: GpuContext, encoder: GPUCommandEncoder, src: ColumnBlock, rayOffsets: GPUBuffer, dst: ColumnBlock, count: number, rays: number, samples: number,
): void {
  const op = 'broadcastRays';
  checkCounts(op, count, rays);
  if (!Number.isInteger(samples) || samples < 0) throw new RangeError(`${op}: samples must be a non-negative integer, got ${samples}`);
  checkBlock(ctx, op, 'src', src, count, rays);
  checkBlock(ctx, op, 'dst', dst, count, samples);
  if (rayOffsets.size < 4 * (rays + 1)) throw new RangeError(`${op}: the rayOffsets buffer holds ${rayOffsets.size} bytes, ${4 * (rays + 1)} needed`);
  if (rays === 0 || samples === 0) return;
  const pipeline = ctx.pipeline(op, source, 'broadcastRays');
  const group = bindAt(ctx, op, pipeline, { 0: params(ctx, rays, count, src, dst, false, 1), 1: src.buffer, 2: dst.buffer, 3: rayOffsets });
  ctx.encode(encoder, op, pipeline, group, grid2d(rays, 64));
}
