// A bind group at explicit binding numbers, each bound at the bytes the op uses.
// GpuContext.bindGroup binds whole buffers at 0, 1, 2...; a shader whose entry points each
// use a subset of one module's bindings (a forward and its backward passes in one .wgsl,
// layout 'auto') needs the numbers given, and a resident buffer larger than the call
// (reused across calls) is bound at the call's size.
import { paddedSize, type GpuContext } from './GpuContext';

export function bindGroupAt(
  ctx: GpuContext, label: string, pipeline: GPUComputePipeline, entries: Readonly<Record<number, readonly [GPUBuffer, number]>>,
): GPUBindGroup {
  return ctx.device.createBindGroup({
    label: `${ctx.label} ${label} bind group`,
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(entries).map(([binding, [buffer, bytes]]) => ({ binding: Number(binding), resource: { buffer, size: paddedSize(bytes) } })),
  });
}
