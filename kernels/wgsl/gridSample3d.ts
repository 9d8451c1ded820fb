// gridSample3d and its backward on the GPU (gridSample3d.wgsl): the trainer's lookups of
// the appearance and motion grids at strides 1/2/4. encode* work on resident buffers (a
// training step's ops go out in one submission, the three strides' backward accumulating
// into one dGrid); the *OnGpu adapters are the Kernels-shaped ops (upload, run, read back).
import { readFileSync } from 'node:fs';
import type { GridShape, GridStride } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { bindGroupAt } from './bindings';
import { grid2d } from './dispatch';
import { checkBindingSizes, checkBufferSizes } from './sizeChecks';

const source = readFileSync(new URL('./gridSample3d.wgsl', import.meta.url), 'utf8');

export interface GridSampleDims {
  readonly shape: GridShape;
  readonly stride: GridStride;
  /** N: points sampled. */
  readonly count: number;
}

export interface GridSample3dBuffers {
  /** [D,H,W,C]. */
  readonly grid: GPUBuffer;
  /** [N,3]. */
  readonly points: GPUBuffer;
  /** [N,C], written. */
  readonly out: GPUBuffer;
}

export interface GridSample3dBackwardBuffers {
  readonly grid: GPUBuffer;
  readonly points: GPUBuffer;
  /** [N,C]. */
  readonly dOut: GPUBuffer;
  /**
   * [D,H,W,C], ADDED into (as the CPU op's `accumulate`): clear it for a fresh gradient,
   * or let the strides of one step accumulate into one grid. Omitted: not computed.
   */
  readonly dGrid?: GPUBuffer;
  /** [N,3], written. Omitted: not computed. */
  readonly dPoints?: GPUBuffer;
}

type BufferName = keyof GridSample3dBuffers | keyof GridSample3dBackwardBuffers;

function checkDims(op: string, d: GridSampleDims): void {
  for (const axis of ['d', 'h', 'w', 'c'] as const) {
    const v = d.shape[axis];
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${op}: shape.${axis} must be a positive integer, got ${v}`);
  }
  if (d.stride !== 1 && d.stride !== 2 && d.stride !== 4) throw new RangeError(`${op}: stride must be 1, 2 or 4, got ${d.stride}`);
  if (!Number.isInteger(d.count) || d.count < 0) throw new RangeError(`${op}: count must be a non-negative integer, got ${d.count}`);
}

/**
 * Bytes each buffer needs, each within what one binding may hold on this device (which
 * also keeps every element index inside the shader's u32).
 */
function checkSizes(ctx: GpuContext, op: string, d: GridSampleDims): Record<BufferName, number> {
  checkDims(op, d);
  const { d: D, h: H, w: W, c: C } = d.shape, N = d.count;
  const gridBytes = 4 * D * H * W * C;
  const needed = { grid: gridBytes, points: 12 * N, out: 4 * N * C, dOut: 4 * N * C, dGrid: gridBytes, dPoints: 12 * N };
  checkBindingSizes(ctx, op, needed);
  return needed;
}


/** The strided view's sizes and steps (grid_sample.cpp make_view), as the shader's Params. */
function params(ctx: GpuContext, d: GridSampleDims): GPUBuffer {
  const { d: D, h: H, w: W, c: C } = d.shape, s = d.stride;
  const size = (n: number) => Math.floor((n - 1) / s) + 1;
  return ctx.constants('gridSample3d params', Uint32Array.of(d.count, C, size(W), size(H), size(D), s * C, s * W * C, s * H * W * C));
}

/** Encodes out [N,C] = the grid's strided sub-grid sampled at the points. */
export function encodeGridSample3d(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: GridSample3dBuffers, dims: GridSampleDims): void {
  const op = 'gridSample3d', needed = checkSizes(ctx, op, dims);
  checkBufferSizes(op, buffers, needed);
  if (dims.count === 0) return;
  const pipeline = ctx.pipeline('gridSample3d sample', source, 'sample');
  const p = params(ctx, dims);
  const group = bindGroupAt(ctx, 'gridSample3d sample', pipeline, {
    0: [p, p.size], 1: [buffers.grid, needed.grid], 2: [buffers.points, needed.points], 3: [buffers.out, needed.out],
  });
  ctx.encode(encoder, 'gridSample3d sample', pipeline, group, grid2d(dims.count, 64));
}

/**
 * Encodes the backward: dGrid += the scatter of w * dOut onto each point's corners (an
 * atomic float add per corner and channel), dPoints = dOut's gradient w.r.t. the points.
 */
export function encodeGridSample3dBackward(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: GridSample3dBackwardBuffers, dims: GridSampleDims): void {
  const op = 'gridSample3dBackward', needed = checkSizes(ctx, op, dims);
  checkBufferSizes(op, buffers, needed);
  if (dims.count === 0) return;
  const p = params(ctx, dims), workgroups = grid2d(dims.count, 64);
  const common = { 0: [p, p.size], 2: [buffers.points, needed.points], 4: [buffers.dOut, needed.dOut] } as const;
  if (buffers.dGrid) {
    const pipeline = ctx.pipeline('gridSample3dBackward scatterGrid', source, 'scatterGrid');
    const group = bindGroupAt(ctx, 'gridSample3dBackward scatterGrid', pipeline, { ...common, 5: [buffers.dGrid, needed.dGrid] });
    ctx.encode(encoder, 'gridSample3dBackward scatterGrid', pipeline, group, workgroups);
  }
  if (buffers.dPoints) {
    const pipeline = ctx.pipeline('gridSample3dBackward pointGrad', source, 'pointGrad');
    const group = bindGroupAt(ctx, 'gridSample3dBackward pointGrad', pipeline, { ...common, 1: [buffers.grid, needed.grid], 6: [buffers.dPoints, needed.dPoints] });
    ctx.encode(encoder, 'gridSample3dBackward pointGrad', pipeline, group, workgroups);
  }
}

function checkLength(op: string, name: string, a: ArrayLike<number>, expected: number, what: string): void {
  if (a.length !== expected) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${expected} (${what})`);
}

/** The Kernels-shaped adapters' argument checks (the CPU op's messages); returns the dims. */
function adapterDims(op: string, ctx: GpuContext, grid: Float32Array, shape: GridShape, points: Float32Array, stride: GridStride): GridSampleDims {
  const count = points.length / 3;
  if (!Number.isInteger(count)) throw new RangeError(`${op}: points has length ${points.length}, not a multiple of 3`);
  const dims = { shape, stride, count };
  checkSizes(ctx, op, dims);
  checkLength(op, 'grid', grid, shape.d * shape.h * shape.w * shape.c, 'D*H*W*C');
  return dims;
}

function submit(ctx: GpuContext, label: string, encode: (encoder: GPUCommandEncoder) => void): void {
  const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${label} encoder` });
  encode(encoder);
  ctx.device.queue.submit([encoder.finish()]);
}

/** The Kernels-shaped gridSample3d: uploads, runs and reads back. */
export async function gridSample3dOnGpu(ctx: GpuContext, grid: Float32Array, shape: GridShape, points: Float32Array, stride: GridStride): Promise<{ out: Float32Array }> {
  const dims = adapterDims('gridSample3d', ctx, grid, shape, points, stride);
  const outBytes = 4 * dims.count * shape.c;
  const buffers = {
    grid: ctx.upload('gridSample3d grid', grid), points: ctx.upload('gridSample3d points', points), out: ctx.storage('gridSample3d out', outBytes),
  };
  try {
    submit(ctx, 'gridSample3d', (encoder) => encodeGridSample3d(ctx, encoder, buffers, dims));
    return { out: dims.count ? new Float32Array(await ctx.read(buffers.out, outBytes)) : new Float32Array(0) };
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}

/**
 * The Kernels-shaped gridSample3dBackward: dGrid is a fresh buffer, or `accumulate` with
 * the gradient added in (uploaded as the GPU's starting dGrid, read back into it).
 */
export async function gridSample3dBackwardOnGpu(
  ctx: GpuContext, grid: Float32Array, shape: GridShape, points: Float32Array, stride: GridStride, dOut: Float32Array, accumulate?: Float32Array,
): Promise<{ dGrid: Float32Array; dPoints: Float32Array }> {
  const op = 'gridSample3dBackward', dims = adapterDims(op, ctx, grid, shape, points, stride);
  checkLength(op, 'dOut', dOut, dims.count * shape.c, 'N*C');
  if (accumulate) checkLength(op, 'dGrid', accumulate, grid.length, 'D*H*W*C');
  const buffers = {
    grid: ctx.upload(`${op} grid`, grid), points: ctx.upload(`${op} points`, points), dOut: ctx.upload(`${op} dOut`, dOut),
    dGrid: accumulate ? ctx.upload(`${op} dGrid`, accumulate) : ctx.storage(`${op} dGrid`, grid.byteLength),
    dPoints: ctx.storage(`${op} dPoints`, 12 * dims.count),
  };
  try {
    submit(ctx, op, (encoder) => encodeGridSample3dBackward(ctx, encoder, buffers, dims));
    const [dGridBytes, dPointsBytes] = await Promise.all([ctx.read(buffers.dGrid, grid.byteLength), ctx.read(buffers.dPoints, 12 * dims.count)]);
    const dGrid = accumulate ?? new Float32Array(grid.length);
    dGrid.set(new Float32Array(dGridBytes));
    return { dGrid, dPoints: new Float32Array(dPointsBytes) };
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}
