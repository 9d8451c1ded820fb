// Bind groups at explicit binding numbers. GpuContext.bindGroup binds whole buffers at 0,
// 1, 2...; a shader whose entry points each use a subset of one module's bindings (a
// forward and its backward passes in one .wgsl, layout 'auto', which holds only what its
// entry point uses) needs the numbers given, and a resident buffer larger than the call
// (reused across calls) is bound at the call's size.
import { paddedSize, type GpuContext } from './GpuContext';

/** Whole buffers, or { buffer, offset?, size? } bindings, by binding number. */
export function bindAt(ctx: GpuContext, label: string, pipeline: GPUComputePipeline, bindings: Readonly<Record<number, GPUBuffer | GPUBufferBinding>>): GPUBindGroup {
  return ctx.bindEntries(label, pipeline, Object.entries(bindings).map(([binding, b]) => ({ binding: Number(binding), resource: 'buffer' in b ? b : { buffer: b } })));
}

/** Buffers bound at the first `bytes` (padded to 4) of each, by binding number. */
export function bindGroupAt(
  ctx: GpuContext, label: string, pipeline: GPUComputePipeline, entries: Readonly<Record<number, readonly [GPUBuffer, number]>>,
): GPUBindGroup {
  const bindings: Record<number, GPUBufferBinding> = {};
  for (const [binding, [buffer, bytes]] of Object.entries(entries)) bindings[Number(binding)] = { buffer, size: paddedSize(bytes) };
  return bindAt(ctx, label, pipeline, bindings);
}
