// l1Loss, meanSquare and their backward on the GPU (losses.wgsl). The forward is a
// two-pass reduction into a compensated float32 pair (the CPU op sums in double); the
// mean is (hi + lo) / N in double on the host. encode* work on resident buffers; the
// *OnGpu adapters are the Kernels-shaped ops.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { bindAt } from './bindings';
import { grid2d } from './dispatch';

const source = readFileSync(new URL('./losses.wgsl', import.meta.url), 'utf8');
/** Elements per workgroup of the first pass (losses.wgsl `chunk`). */
const chunk = 4096;

export type LossKind = 'l1Loss' | 'meanSquare';

export interface LossBuffers {
  /** [N] (x for meanSquare). */
  readonly a: GPUBuffer;
  /** [N] (l1Loss only). */
  readonly b?: GPUBuffer;
  /** Scratch of lossPartialsBytes(N). */
  readonly partials: GPUBuffer;
  /** 8 bytes, written: the sum as a float32 pair (hi, lo); the mean is (hi + lo) / N. */
  readonly total: GPUBuffer;
}

/** Bytes of the partial sums' scratch for N elements (a pair per workgroup of the first pass). */
export function lossPartialsBytes(n: number): number {
  return 8 * Math.max(1, Math.ceil(n / chunk));
}

function checkN(op: string, ctx: GpuContext, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${n}`);
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  if (4 * n > limit) throw new RangeError(`${op}: the inputs need ${4 * n} bytes, over the device's maxStorageBufferBindingSize (${limit})`);
}

function needBytes(op: string, name: string, buffer: GPUBuffer | undefined, bytes: number): GPUBuffer {
  if (!buffer) throw new TypeError(`${op}: the ${name} buffer is missing`);
  if (buffer.size < bytes) throw new RangeError(`${op}: the ${name} buffer holds ${buffer.size} bytes, ${bytes} needed`);
  return buffer;
}

/** Encodes the sum of |a - b| (l1Loss) or a^2 (meanSquare) over N elements into `total`. */
export function encodeLoss(ctx: GpuContext, encoder: GPUCommandEncoder, kind: LossKind, buffers: LossBuffers, n: number): void {
  checkN(kind, ctx, n);
  const a = needBytes(kind, 'a', buffers.a, 4 * n);
  const b = kind === 'l1Loss' ? needBytes(kind, 'b', buffers.b, 4 * n) : undefined;
  const partials = needBytes(kind, 'partials', buffers.partials, lossPartialsBytes(n));
  const total = needBytes(kind, 'total', buffers.total, 8);
  if (n === 0) {
    encoder.clearBuffer(total, 0, 8);
    return;
  }
  const groups = Math.ceil(n / chunk);
  const params = ctx.constants('loss params', Uint32Array.of(n, groups, 0, 0));
  const first = ctx.pipeline(`${kind} partials`, source, kind === 'l1Loss' ? 'l1Partials' : 'squarePartials');
  const inputs: Record<number, GPUBuffer> = b ? { 1: a, 2: b } : { 1: a };
  ctx.encode(encoder, `${kind} partials`, first, bindAt(ctx, `${kind} partials`, first, { 0: params, ...inputs, 3: partials }), grid2d(groups, 1));
  const second = ctx.pipeline('loss sum', source, 'sumPartials');
  ctx.encode(encoder, `${kind} sum`, second, bindAt(ctx, `${kind} sum`, second, { 0: params, 3: partials, 4: total }), [1]);
}

/** The mean from a `total` that encodeLoss wrote (after its work is submitted). */
export async function readLossMean(ctx: GpuContext, total: GPUBuffer, n: number): Promise<number> {
  if (n === 0) return 0;
  const [hi, lo] = new Float32Array(await ctx.read(total, 8));
  return (hi! + lo!) / n;
}

/** Encodes dA = scale * sign(a - b) (l1Loss) or dX = scale * x (meanSquare) over N elements. */
export function encodeLossBackward(ctx: GpuContext, encoder: GPUCommandEncoder, kind: LossKind, buffers: { readonly a: GPUBuffer; readonly b?: GPUBuffer; readonly grad: GPUBuffer }, n: number, scale: number): void {
  const op = `${kind}Backward`;
  checkN(op, ctx, n);
  const a = needBytes(op, 'a', buffers.a, 4 * n);
  const b = kind === 'l1Loss' ? needBytes(op, 'b', buffers.b, 4 * n) : undefined;
  const grad = needBytes(op, 'grad', buffers.grad, 4 * n);
  if (n === 0) return;
  const words = Uint32Array.of(n, 0, 0, 0);
  new Float32Array(words.buffer)[2] = scale;
  const params = ctx.constants(`${op} params`, words);
  const pipeline = ctx.pipeline(op, source, kind === 'l1Loss' ? 'l1Backward' : 'squareBackward');
  const inputs: Record<number, GPUBuffer> = b ? { 1: a, 2: b } : { 1: a };
  ctx.encode(encoder, op, pipeline, bindAt(ctx, op, pipeline, { 0: params, ...inputs, 5: grad }), grid2d(n, 64));
}

function finite(op: string, name: string, x: number): void {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`${op}: ${name} must be finite, got ${x}`);
}

function sameLength(op: string, a: Float32Array, b: Float32Array): void {
  if (b.length !== a.length) throw new RangeError(`${op}: b has length ${b.length}, expected ${a.length} (length of a)`);
}

async function lossOnGpu(ctx: GpuContext, kind: LossKind, a: Float32Array, b?: Float32Array): Promise<number> {
  const n = a.length;
  checkN(kind, ctx, n);
  if (n === 0) return 0;
  const buffers = {
    a: ctx.upload(`${kind} a`, a), ...(b ? { b: ctx.upload(`${kind} b`, b) } : {}),
    partials: ctx.storage(`${kind} partials`, lossPartialsBytes(n)), total: ctx.storage(`${kind} total`, 8),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${kind} encoder` });
    encodeLoss(ctx, encoder, kind, buffers, n);
    ctx.device.queue.submit([encoder.finish()]);
    return await readLossMean(ctx, buffers.total, n);
  } finally {
    for (const x of Object.values(buffers)) x.destroy();
  }
}

async function lossBackwardOnGpu(ctx: GpuContext, kind: LossKind, scale: number, a: Float32Array, b?: Float32Array): Promise<Float32Array> {
  const op = `${kind}Backward`, n = a.length;
  checkN(op, ctx, n);
  if (n === 0) return new Float32Array(0);
  const buffers = { a: ctx.upload(`${op} a`, a), ...(b ? { b: ctx.upload(`${op} b`, b) } : {}), grad: ctx.storage(`${op} grad`, 4 * n) };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${op} encoder` });
    encodeLossBackward(ctx, encoder, kind, buffers, n, scale);
    ctx.device.queue.submit([encoder.finish()]);
    return new Float32Array(await ctx.read(buffers.grad, 4 * n));
  } finally {
    for (const x of Object.values(buffers)) x.destroy();
  }
}

/** The Kernels-shaped l1Loss: mean |a - b|. */
export async function l1LossOnGpu(ctx: GpuContext, a: Float32Array, b: Float32Array): Promise<number> {
  sameLength('l1Loss', a, b);
  return lossOnGpu(ctx, 'l1Loss', a, b);
}

/** The Kernels-shaped l1LossBackward: dLoss * sign(a - b) / N, 0 at exact ties. */
export async function l1LossBackwardOnGpu(ctx: GpuContext, a: Float32Array, b: Float32Array, dLoss: number): Promise<Float32Array> {
  sameLength('l1LossBackward', a, b);
  finite('l1LossBackward', 'dLoss', dLoss);
  // As the CPU op: float(double(dLoss) / N).
  return lossBackwardOnGpu(ctx, 'l1Loss', a.length === 0 ? 0 : Math.fround(Math.fround(dLoss) / a.length), a, b);
}

/** The Kernels-shaped meanSquare: mean x^2. */
export async function meanSquareOnGpu(ctx: GpuContext, x: Float32Array): Promise<number> {
  return lossOnGpu(ctx, 'meanSquare', x);
}

/** The Kernels-shaped meanSquareBackward: dValue * 2x / N. */
export async function meanSquareBackwardOnGpu(ctx: GpuContext, x: Float32Array, dValue: number): Promise<Float32Array> {
  finite('meanSquareBackward', 'dValue', dValue);
  // As the CPU op: float(2 * double(dValue) / N).
  return lossBackwardOnGpu(ctx, 'meanSquare', x.length === 0 ? 0 : Math.fround((2 * Math.fround(dValue)) / x.length), x);
}
