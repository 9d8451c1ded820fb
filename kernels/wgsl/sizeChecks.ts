// The size checks every op makes before encoding: each binding within the device's
// limit (else WebGPU would fail later, as a validation error far from the cause), and each
// caller's buffer at least as large as the op's dims need. RangeErrors name the limit.
import type { GpuContext } from './GpuContext';

/** Throws when a binding of `bytes` exceeds this device's maxStorageBufferBindingSize. */
export function checkBindingSizes(ctx: GpuContext, op: string, needed: Readonly<Record<string, number>>): void {
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  for (const [name, bytes] of Object.entries(needed))
    if (bytes > limit) throw new RangeError(`${op}: ${name} needs ${bytes} bytes, over the device's maxStorageBufferBindingSize (${limit})`);
}

/** Throws when a given buffer holds fewer bytes than `needed` says for its name. */
export function checkBufferSizes<N extends string>(op: string, buffers: Partial<Record<N, GPUBuffer>>, needed: Readonly<Record<N, number>>): void {
  for (const [name, buffer] of Object.entries(buffers) as [N, GPUBuffer | undefined][])
    if (buffer && buffer.size < needed[name]) throw new RangeError(`${op}: the ${name} buffer holds ${buffer.size} bytes, the op needs ${needed[name]}`);
}
