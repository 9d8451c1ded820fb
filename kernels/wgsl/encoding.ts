// The model's per-point glue on the GPU (encoding.wgsl): positional encoding and its
// backward (server/engine/Encoding.ts on the CPU), and points into a grid's [-1,1]^3,
// optionally moved by the deformation MLP's output first (AvatarModel.normalizeToBox and
// `pos + 0.1 raw`). Resident buffers; test/engine/GpuTrainGlue.test.ts checks each against
// the CPU's.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { bindAt } from './bindings';
import { grid2d } from './dispatch';
import { checkBindingSizes } from './sizeChecks';

const source = readFileSync(new URL('./encoding.wgsl', import.meta.url), 'utf8');

/** A box as the config gives it (canonical units). */
export interface PointBox {
  readonly min: ArrayLike<number>;
  readonly max: ArrayLike<number>;
}

function need(op: string, name: string, buffer: GPUBuffer, bytes: number): void {
  if (buffer.size < bytes) throw new RangeError(`${op}: the ${name} buffer holds ${buffer.size} bytes, ${bytes} needed`);
}

function checkEncodeDims(ctx: GpuContext, op: string, n: number, c: number, f: number): { scalars: number; width: number } {
  for (const [name, v] of [['n', n], ['c', c], ['f', f]] as const)
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${v}`);
  if (f > 16) throw new RangeError(`${op}: f must be at most 16 (2^f x leaves float32's useful range), got ${f}`);
  const scalars = n * c, width = c * (1 + 2 * f);
  checkBindingSizes(ctx, op, { x: 4 * scalars, out: 4 * n * width });
  return { scalars, width };
}

/** Encodes out [N, C(1+2F)] = the positional encoding of x [N, C]. */
export function encodePositionalEncoding(
  ctx: GpuContext, encoder: GPUCommandEncoder, buffers: { readonly x: GPUBuffer; readonly out: GPUBuffer }, n: number, c: number, f: number,
): void {
  const op = 'positionalEncoding', { scalars, width } = checkEncodeDims(ctx, op, n, c, f);
  need(op, 'x', buffers.x, 4 * scalars);
  need(op, 'out', buffers.out, 4 * n * width);
  if (scalars === 0) return;
  const pipeline = ctx.pipeline(op, source, 'encode');
  const group = bindAt(ctx, op, pipeline, { 0: ctx.constants('encoding params', Uint32Array.of(scalars, f)), 1: buffers.x, 2: buffers.out });
  ctx.encode(encoder, op, pipeline, group, grid2d(scalars, 64));
}

/** Encodes dx [N, C] from x [N, C] and dOut [N, C(1+2F)]. */
export function encodePositionalEncodingBackward(
  ctx: GpuContext, encoder: GPUCommandEncoder, buffers: { readonly x: GPUBuffer; readonly dOut: GPUBuffer; readonly dx: GPUBuffer }, n: number, c: number, f: number,
): void {
  const op = 'positionalEncodingBackward', { scalars, width } = checkEncodeDims(ctx, op, n, c, f);
  need(op, 'x', buffers.x, 4 * scalars);
  need(op, 'dOut', buffers.dOut, 4 * n * width);
  need(op, 'dx', buffers.dx, 4 * scalars);
  if (scalars === 0) return;
  const pipeline = ctx.pipeline(op, source, 'encodeBackward');
  const group = bindAt(ctx, op, pipeline, { 0: ctx.constants('encoding params', Uint32Array.of(scalars, f)), 1: buffers.x, 3: buffers.dOut, 4: buffers.dx });
  ctx.encode(encoder, op, pipeline, group, grid2d(scalars, 64));
}

/**
 * Encodes out [N,3] = (points + alpha * raw - box.min) * 2 / (box.max - box.min) - 1.
 * Without `raw` (alpha 0) the points alone are mapped.
 */
export function encodeToBox(
  ctx: GpuContext, encoder: GPUCommandEncoder, buffers: { readonly points: GPUBuffer; readonly raw?: GPUBuffer; readonly out: GPUBuffer },
  n: number, box: PointBox, alpha = 0,
): void {
  const op = 'toBox';
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${n}`);
  if (!Number.isFinite(alpha)) throw new RangeError(`${op}: alpha must be finite, got ${alpha}`);
  if (box.min.length !== 3 || box.max.length !== 3) throw new RangeError(`${op}: the box needs 3 min and 3 max values`);
  for (let k = 0; k < 3; k++) if (!(box.max[k]! > box.min[k]!)) throw new RangeError(`${op}: box max must exceed min on every axis`);
  checkBindingSizes(ctx, op, { points: 12 * n });
  need(op, 'points', buffers.points, 12 * n);
  need(op, 'out', buffers.out, 12 * n);
  if (buffers.raw) need(op, 'raw', buffers.raw, 12 * n);
  if (n === 0) return;
  const block = new ArrayBuffer(48), words = new Uint32Array(block), floats = new Float32Array(block);
  words[0] = n;
  floats[1] = buffers.raw ? alpha : 0;
  for (let k = 0; k < 3; k++) {
    floats[4 + k] = box.min[k]!;
    // As the CPU: 2 / extent in float64, then rounded.
    floats[8 + k] = 2 / (box.max[k]! - box.min[k]!);
  }
  const pipeline = ctx.pipeline(op, source, 'toBox');
  const group = bindAt(ctx, op, pipeline, { 1: buffers.points, 2: buffers.out, 5: ctx.constants('toBox params', words), 6: buffers.raw ?? buffers.points });
  ctx.encode(encoder, op, pipeline, group, grid2d(3 * n, 64));
}
