// The dense layer and its backward on the GPU (dense.wgsl): the trainer's MLP heads.
// encode* work on resident buffers (a step's layers, forward and backward, go out in one
// submission, each reading what the previous wrote); the *OnGpu adapters are the
// Kernels-shaped ops (upload, run, read back).
import { readFileSync } from 'node:fs';
import type { Activation, DenseShape } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { bindGroupAt } from './bindings';
import { checkBindingSizes, checkBufferSizes } from './sizeChecks';

const source = readFileSync(new URL('./dense.wgsl', import.meta.url), 'utf8');

const activations: readonly Activation[] = ['none', 'relu', 'leakyRelu', 'sigmoid'];
const tile = 16, maxPerDimension = 65535;

/**
 * The sizes the op accepts besides what one binding holds: a product's columns
 * (outFeatures forward, inFeatures backward) are 16-wide tiles along one dispatch
 * dimension of at most 65535 workgroups, and so are dB's columns (one workgroup each).
 */
export const denseLimits = { features: tile * maxPerDimension } as const;

export interface DenseDims extends DenseShape {
  readonly act: Activation;
}

export interface DenseBuffers {
  /** [N,In]. */
  readonly x: GPUBuffer;
  /** [Out,In]. */
  readonly w: GPUBuffer;
  /** [Out]. */
  readonly b: GPUBuffer;
  /** [N,Out], written. */
  readonly y: GPUBuffer;
}

export interface DenseBackwardBuffers {
  readonly x: GPUBuffer;
  readonly w: GPUBuffer;
  /** [N,Out], the forward's output. */
  readonly y: GPUBuffer;
  /** [N,Out]. */
  readonly dY: GPUBuffer;
  /** [N,In], written; omitted (the first layer): not computed. */
  readonly dX?: GPUBuffer;
  /** [Out,In], written. */
  readonly dW: GPUBuffer;
  /** [Out], written. */
  readonly dB: GPUBuffer;
}

type BufferName = keyof DenseBuffers | keyof DenseBackwardBuffers;

function checkSizes(ctx: GpuContext, op: string, d: DenseDims): Record<BufferName, number> {
  if (!Number.isInteger(d.n) || d.n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${d.n}`);
  for (const name of ['inFeatures', 'outFeatures'] as const) {
    const v = d[name];
    if (!Number.isInteger(v) || v < 1 || v > denseLimits.features)
      throw new RangeError(`${op}: ${name} must be an integer in [1, ${denseLimits.features}] (16-wide tiles, 65535 workgroups per dispatch dimension), got ${v}`);
  }
  if (!activations.includes(d.act)) throw new RangeError(`${op}: activation must be one of ${activations.join(', ')}, got '${d.act}'`);
  const { n: N, inFeatures: I, outFeatures: O } = d;
  const needed = { x: 4 * N * I, w: 4 * O * I, b: 4 * O, y: 4 * N * O, dY: 4 * N * O, dX: 4 * N * I, dW: 4 * O * I, dB: 4 * O };
  checkBindingSizes(ctx, op, needed);
  return needed;
}


function params(ctx: GpuContext, d: DenseDims): GPUBuffer {
  return ctx.constants('dense params', Uint32Array.of(d.n, d.inFeatures, d.outFeatures, activations.indexOf(d.act)));
}

/** Workgroups of 16x16 output tiles over rows x cols: row tiles beyond 65535 go on in z. */
export function denseWorkgroups(rows: number, cols: number): [number, number, number] {
  const rowTiles = Math.max(1, Math.ceil(rows / tile)), y = Math.min(rowTiles, maxPerDimension);
  return [Math.ceil(cols / tile), y, Math.ceil(rowTiles / y)];
}

/** Encodes y [N,Out] = act(x W^T + b). */
export function encodeDense(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: DenseBuffers, dims: DenseDims): void {
  const needed = checkSizes(ctx, 'dense', dims);
  checkBufferSizes('dense', buffers, needed);
  if (dims.n === 0) return;
  const pipeline = ctx.pipeline('dense forward', source, 'forward');
  const p = params(ctx, dims);
  const group = bindGroupAt(ctx, 'dense forward', pipeline, {
    0: [p, p.size], 1: [buffers.x, needed.x], 2: [buffers.w, needed.w], 3: [buffers.b, needed.b], 6: [buffers.y, needed.y],
  });
  ctx.encode(encoder, 'dense forward', pipeline, group, denseWorkgroups(dims.n, dims.outFeatures));
}

/** Encodes dX (when given), dW and dB from x, W, the forward's y and dY (dz = dY * act'(y)). */
export function encodeDenseBackward(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: DenseBackwardBuffers, dims: DenseDims): void {
  const needed = checkSizes(ctx, 'denseBackward', dims);
  checkBufferSizes('denseBackward', buffers, needed);
  const { n: N, inFeatures: I, outFeatures: O } = dims;
  const p = params(ctx, dims);
  const dz = { 0: [p, p.size], 4: [buffers.y, needed.y], 5: [buffers.dY, needed.dY] } as const;
  const pass = (entry: string, bindings: Record<number, readonly [GPUBuffer, number]>, workgroups: [number, number?, number?]) => {
    const label = `denseBackward ${entry}`, pipeline = ctx.pipeline(label, source, entry);
    ctx.encode(encoder, label, pipeline, bindGroupAt(ctx, label, pipeline, { ...dz, ...bindings }), workgroups);
  };
  if (buffers.dX && N > 0) pass('inputGrad', { 2: [buffers.w, needed.w], 6: [buffers.dX, needed.dX] }, denseWorkgroups(N, I));
  // With N = 0 these still run: dW and dB are written as zeros.
  pass('weightGrad', { 1: [buffers.x, needed.x], 6: [buffers.dW, needed.dW] }, denseWorkgroups(O, I));
  pass('biasGrad', { 6: [buffers.dB, needed.dB] }, O <= maxPerDimension ? [O, 1] : [maxPerDimension, Math.ceil(O / maxPerDimension)]);
}

function checkLength(op: string, name: string, a: ArrayLike<number>, expected: number, what: string): void {
  if (a.length !== expected) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${expected} (${what})`);
}

function submit(ctx: GpuContext, label: string, encode: (encoder: GPUCommandEncoder) => void): void {
  const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${label} encoder` });
  encode(encoder);
  ctx.device.queue.submit([encoder.finish()]);
}

async function readF32(ctx: GpuContext, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  return bytes ? new Float32Array(await ctx.read(buffer, bytes)) : new Float32Array(0);
}

/** The Kernels-shaped dense: uploads, runs and reads back (the CPU op's argument checks). */
export async function denseOnGpu(ctx: GpuContext, x: Float32Array, w: Float32Array, b: Float32Array, shape: DenseShape, act: Activation): Promise<{ y: Float32Array }> {
  const dims = { n: shape.n, inFeatures: shape.inFeatures, outFeatures: shape.outFeatures, act }, needed = checkSizes(ctx, 'dense', dims);
  checkLength('dense', 'x', x, dims.n * dims.inFeatures, 'N*In');
  checkLength('dense', 'W', w, dims.outFeatures * dims.inFeatures, 'Out*In');
  checkLength('dense', 'b', b, dims.outFeatures, 'Out');
  const buffers = { x: ctx.upload('dense x', x), w: ctx.upload('dense W', w), b: ctx.upload('dense b', b), y: ctx.storage('dense y', needed.y) };
  try {
    submit(ctx, 'dense', (encoder) => encodeDense(ctx, encoder, buffers, dims));
    return { y: await readF32(ctx, buffers.y, needed.y) };
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

/** The Kernels-shaped denseBackward: dX is null when needDX is false (and not computed). */
export async function denseBackwardOnGpu(
  ctx: GpuContext, x: Float32Array, w: Float32Array, y: Float32Array, dY: Float32Array, shape: DenseShape, act: Activation, needDX = true,
): Promise<{ dX: Float32Array | null; dW: Float32Array; dB: Float32Array }> {
  const op = 'denseBackward', dims = { n: shape.n, inFeatures: shape.inFeatures, outFeatures: shape.outFeatures, act };
  const needed = checkSizes(ctx, op, dims);
  checkLength(op, 'x', x, dims.n * dims.inFeatures, 'N*In');
  checkLength(op, 'W', w, dims.outFeatures * dims.inFeatures, 'Out*In');
  checkLength(op, 'y', y, dims.n * dims.outFeatures, 'N*Out');
  checkLength(op, 'dY', dY, dims.n * dims.outFeatures, 'N*Out');
  const buffers = {
    x: ctx.upload(`${op} x`, x), w: ctx.upload(`${op} W`, w), y: ctx.upload(`${op} y`, y), dY: ctx.upload(`${op} dY`, dY),
    dW: ctx.storage(`${op} dW`, needed.dW), dB: ctx.storage(`${op} dB`, needed.dB),
    ...(needDX ? { dX: ctx.storage(`${op} dX`, needed.dX) } : {}),
  };
  try {
    submit(ctx, op, (encoder) => encodeDenseBackward(ctx, encoder, buffers, dims));
    const [dX, dW, dB] = await Promise.all([
      buffers.dX ? readF32(ctx, buffers.dX, needed.dX) : null, readF32(ctx, buffers.dW, needed.dW), readF32(ctx, buffers.dB, needed.dB),
    ]);
    return { dX, dW, dB };
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}
