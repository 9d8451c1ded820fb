// composite and compositeBackward on the GPU (composite.wgsl): one thread per ray over
// resident buffers (a training step's march, heads and compositing in one submission),
// and the Kernels-shaped adapters that upload, run and read back.
import { readFileSync } from 'node:fs';
import type { CompositeResult } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';
import { checkBindingSizes } from './sizeChecks';

const source = readFileSync(new URL('./composite.wgsl', import.meta.url), 'utf8');
const workgroupSize = 64;

export interface CompositeBuffers {
  /** [S]. */
  readonly sigma: GPUBuffer;
  /** [S,3]. */
  readonly rgb: GPUBuffer;
  /** [S]. */
  readonly delta: GPUBuffer;
  /** [R+1] int32. */
  readonly rayOffsets: GPUBuffer;
  /** [3]. */
  readonly background: GPUBuffer;
  /** [R,3], written. */
  readonly color: GPUBuffer;
  /** [R], written. */
  readonly transmittance: GPUBuffer;
  /** [R] int32, written. */
  readonly samplesUsed: GPUBuffer;
}

export interface CompositeBackwardBuffers {
  readonly sigma: GPUBuffer;
  readonly rgb: GPUBuffer;
  readonly delta: GPUBuffer;
  readonly rayOffsets: GPUBuffer;
  /** [R,3], the forward's colour. */
  readonly color: GPUBuffer;
  /** [R] int32, the forward's samplesUsed. */
  readonly samplesUsed: GPUBuffer;
  /** [R,3]. */
  readonly dColor: GPUBuffer;
  /** [S], written (0 for unused samples). */
  readonly dSigma: GPUBuffer;
  /** [S,3], written (0 for unused samples). */
  readonly dRgb: GPUBuffer;
}

export interface CompositeDims {
  /** R. */
  readonly rays: number;
  /** S. */
  readonly samples: number;
}

const maxInt32 = 2147483647;

function checkDims(op: string, ctx: GpuContext, d: CompositeDims): void {
  if (!Number.isInteger(d.rays) || d.rays < 0) throw new RangeError(`${op}: rays must be a non-negative integer, got ${d.rays}`);
  if (!Number.isInteger(d.samples) || d.samples < 0 || d.samples > maxInt32)
    throw new RangeError(`${op}: samples must be an integer in [0, ${maxInt32}] (int32 rayOffsets), got ${d.samples}`);
  checkBindingSizes(ctx, op, { rgb: 12 * d.samples, color: 12 * d.rays });
}

function checkBuffers(op: string, buffers: object, bytes: Record<string, number>): void {
  for (const [name, n] of Object.entries(bytes)) {
    const b = (buffers as Record<string, GPUBuffer>)[name]!;
    if (b.size < n) throw new RangeError(`${op}: the ${name} buffer holds ${b.size} bytes, ${n} needed`);
  }
}

/**
 * Encodes the forward for R rays over S samples: color, transmittance and samplesUsed.
 * rayOffsets is trusted to be a valid partition of [0, S) (the adapter checks it; a
 * resident caller's march wrote it), though the shader clamps every ray into [0, S).
 */
export function encodeComposite(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: CompositeBuffers, dims: CompositeDims & { readonly tEps: number }): void {
  const op = 'composite';
  checkDims(op, ctx, dims);
  if (!(dims.tEps >= 0 && dims.tEps <= 1)) throw new RangeError(`${op}: tEps must be in [0, 1], got ${dims.tEps}`);
  const { rays: R, samples: S } = dims;
  checkBuffers(op, buffers, { sigma: 4 * S, rgb: 12 * S, delta: 4 * S, rayOffsets: 4 * (R + 1), background: 12, color: 12 * R, transmittance: 4 * R, samplesUsed: 4 * R });
  if (R === 0) return;
  const pipeline = ctx.pipeline('composite', source, 'forward');
  const words = Uint32Array.of(R, S, 0, 0);
  new Float32Array(words.buffer)[2] = dims.tEps;
  const params = ctx.constants('composite params', words);
  const b = buffers;
  const group = ctx.bindGroup('composite', pipeline, [params, b.sigma, b.rgb, b.delta, b.rayOffsets, b.background, b.color, b.transmittance, b.samplesUsed]);
  ctx.encode(encoder, 'composite', pipeline, group, grid2d(R, workgroupSize));
}

/** Encodes the backward: dSigma [S] and dRgb [S,3] from the forward's color and samplesUsed. */
export function encodeCompositeBackward(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: CompositeBackwardBuffers, dims: CompositeDims): void {
  const op = 'compositeBackward';
  checkDims(op, ctx, dims);
  const { rays: R, samples: S } = dims;
  checkBuffers(op, buffers, {
    sigma: 4 * S, rgb: 12 * S, delta: 4 * S, rayOffsets: 4 * (R + 1), color: 12 * R, samplesUsed: 4 * R, dColor: 12 * R, dSigma: 4 * S, dRgb: 12 * S,
  });
  if (R === 0) return;
  const pipeline = ctx.pipeline('compositeBackward', source, 'backward');
  const params = ctx.constants('compositeBackward params', Uint32Array.of(R, S, 0, 0));
  const b = buffers;
  const group = ctx.bindGroup('compositeBackward', pipeline, [params, b.sigma, b.rgb, b.delta, b.rayOffsets, b.dColor, b.color, b.dSigma, b.samplesUsed, b.dRgb]);
  ctx.encode(encoder, 'compositeBackward', pipeline, group, grid2d(R, workgroupSize));
}

function checkLength(op: string, name: string, a: ArrayLike<number>, expected: number, formula: string): void {
  if (a.length !== expected) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${expected} (${formula})`);
}

/** The CPU op's checks of rayOffsets (kernels/src/binding_args.h check_offsets). */
function checkOffsets(op: string, offsets: Int32Array, S: number): number {
  if (offsets.length < 1) throw new RangeError(`${op}: rayOffsets has length 0, expected R+1 >= 1`);
  const R = offsets.length - 1;
  if (offsets[0] !== 0) throw new RangeError(`${op}: rayOffsets[0] must be 0, got ${offsets[0]}`);
  for (let r = 0; r < R; r++)
    if (offsets[r + 1]! < offsets[r]!) throw new RangeError(`${op}: rayOffsets must be non-decreasing (at index ${r + 1})`);
  if (offsets[R] !== S) throw new RangeError(`${op}: rayOffsets[R] must equal S = ${S}, got ${offsets[R]}`);
  return R;
}

/** Runs `encode` on buffers uploaded for the call, reads back, and frees them all. */
async function runOnce<T>(ctx: GpuContext, op: string, owned: GPUBuffer[], encode: (encoder: GPUCommandEncoder) => void, readBack: () => Promise<T>): Promise<T> {
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${op} encoder` });
    encode(encoder);
    ctx.device.queue.submit([encoder.finish()]);
    return await readBack();
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** The Kernels-shaped composite: uploads, runs and reads back. */
export async function compositeOnGpu(
  ctx: GpuContext, sigma: Float32Array, rgb: Float32Array, delta: Float32Array, rayOffsets: Int32Array, background: Float32Array, tEps: number,
): Promise<CompositeResult> {
  const op = 'composite', S = sigma.length;
  checkLength(op, 'rgb', rgb, 3 * S, 'S*3');
  checkLength(op, 'delta', delta, S, 'S');
  checkLength(op, 'background', background, 3, '3');
  const R = checkOffsets(op, rayOffsets, S);
  const dims = { rays: R, samples: S, tEps };
  checkDims(op, ctx, dims);
  const b: CompositeBuffers = {
    sigma: ctx.upload('composite sigma', sigma), rgb: ctx.upload('composite rgb', rgb), delta: ctx.upload('composite delta', delta),
    rayOffsets: ctx.upload('composite rayOffsets', rayOffsets), background: ctx.upload('composite background', background),
    color: ctx.storage('composite color', 12 * R), transmittance: ctx.storage('composite transmittance', 4 * R), samplesUsed: ctx.storage('composite samplesUsed', 4 * R),
  };
  return runOnce(ctx, op, Object.values(b), (encoder) => encodeComposite(ctx, encoder, b, dims), async () => {
    const [color, T, used] = await Promise.all([ctx.read(b.color, 12 * R), ctx.read(b.transmittance, 4 * R), ctx.read(b.samplesUsed, 4 * R)]);
    return { color: new Float32Array(color), transmittance: new Float32Array(T), samplesUsed: new Int32Array(used) };
  });
}

/** The Kernels-shaped compositeBackward (background is unused: the light behind each sample comes from forward.color). */
export async function compositeBackwardOnGpu(
  ctx: GpuContext, sigma: Float32Array, rgb: Float32Array, delta: Float32Array, rayOffsets: Int32Array, _background: Float32Array,
  forward: CompositeResult, dColor: Float32Array,
): Promise<{ dSigma: Float32Array; dRgb: Float32Array }> {
  const op = 'compositeBackward', S = sigma.length;
  checkLength(op, 'rgb', rgb, 3 * S, 'S*3');
  checkLength(op, 'delta', delta, S, 'S');
  const R = checkOffsets(op, rayOffsets, S);
  checkLength(op, 'color', forward.color, 3 * R, 'R*3');
  checkLength(op, 'samplesUsed', forward.samplesUsed, R, 'R');
  checkLength(op, 'dColor', dColor, 3 * R, 'R*3');
  for (let r = 0; r < R; r++) {
    const u = forward.samplesUsed[r]!;
    if (u < 0 || u > rayOffsets[r + 1]! - rayOffsets[r]!) throw new RangeError(`${op}: samplesUsed[${r}] = ${u} is outside [0, samples of the ray]`);
  }
  const dims = { rays: R, samples: S };
  checkDims(op, ctx, dims);
  const b: CompositeBackwardBuffers = {
    sigma: ctx.upload(`${op} sigma`, sigma), rgb: ctx.upload(`${op} rgb`, rgb), delta: ctx.upload(`${op} delta`, delta),
    rayOffsets: ctx.upload(`${op} rayOffsets`, rayOffsets), color: ctx.upload(`${op} color`, forward.color),
    samplesUsed: ctx.upload(`${op} samplesUsed`, forward.samplesUsed), dColor: ctx.upload(`${op} dColor`, dColor),
    dSigma: ctx.storage(`${op} dSigma`, 4 * S), dRgb: ctx.storage(`${op} dRgb`, 12 * S),
  };
  return runOnce(ctx, op, Object.values(b), (encoder) => encodeCompositeBackward(ctx, encoder, b, dims), async () => {
    const [dSigma, dRgb] = await Promise.all([ctx.read(b.dSigma, 4 * S), ctx.read(b.dRgb, 12 * S)]);
    return { dSigma: new Float32Array(dSigma), dRgb: new Float32Array(dRgb) };
  });
}
