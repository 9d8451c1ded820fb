// A bind group at explicit binding numbers: for shaders whose entry points use different
// subsets of one module's bindings (a 'auto' layout holds only what its entry point uses).
import type { GpuContext } from './GpuContext';

export function bindAt(ctx: GpuContext, label: string, pipeline: GPUComputePipeline, bindings: Readonly<Record<number, GPUBuffer | GPUBufferBinding>>): GPUBindGroup {
  return ctx.device.createBindGroup({
    label: `${ctx.label} ${label} bind group`,
    layout: pipeline.getBindGroupLayout(0),
    entries: Object.entries(bindings).map(([binding, b]) => ({ binding: Number(binding), resource: 'buffer' in b ? b : { buffer: b } })),
  });
}
