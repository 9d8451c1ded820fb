// The upscale and composite of the call's frame on the GPU (compositeFrame.wgsl): the
// head layer renderRays left at the internal resolution, upscaled (FastUpscale's cubic) and put over
// the session's resident under-layer, into the RGBA8 frame the encoder reads back.
import { readFileSync } from 'node:fs';
import { CUBIC_A } from '../upscaleCubic';
import type { GpuContext } from './GpuContext';
import { checkBindingSizes } from './sizeChecks';

// The cubic's parameter comes from the one constant the CPU's upscale also reads.
const source = `const CUBIC_A: f32 = ${CUBIC_A};\n${readFileSync(new URL('./compositeFrame.wgsl', import.meta.url), 'utf8')}`;

/** Largest side, source or output: keeps the shader's tap arithmetic exact in i32 and f32. */
export const compositeFrameMaxSide = 8192;

export interface CompositeFrameBuffers {
  /** [rh, rw, 3] premultiplied head colour over the rays' rectangle (the whole head layer without one). */
  readonly color: GPUBuffer;
  /** [rh, rw] what the head leaves to the under-layer. */
  readonly transmittance: GPUBuffer;
  /** [height * width] RGBA8 packed as u32 (R in the low byte): the session's under-layer. */
  readonly under: GPUBuffer;
  /** [height * width] RGBA8 packed as u32, written. */
  readonly out: GPUBuffer;
}

export interface CompositeFrameDims {
  /** The head layer's (internal) width and height. */
  readonly sw: number;
  readonly sh: number;
  /** The output frame's. */
  readonly width: number;
  readonly height: number;
  /**
   * The rays' rectangle of the head layer, [x0, x1) x [y0, y1) (default: all of it): the
   * colour and transmittance buffers hold it compacted row by row; outside it C = 0, T = 1.
   * An empty rectangle draws the under-layer alone.
   */
  readonly rect?: { readonly x0: number; readonly y0: number; readonly x1: number; readonly y1: number };
}

function rectOf(d: CompositeFrameDims): { x0: number; y0: number; rw: number; rh: number } {
  const r = d.rect ?? { x0: 0, y0: 0, x1: d.sw, y1: d.sh };
  if (![r.x0, r.y0, r.x1, r.y1].every(Number.isInteger) || r.x0 < 0 || r.y0 < 0 || r.x1 > d.sw || r.y1 > d.sh || r.x1 < r.x0 || r.y1 < r.y0)
    throw new RangeError(`compositeFrame: rect must be integers within the ${d.sw}x${d.sh} head layer, got ${JSON.stringify(r)}`);
  return { x0: r.x0, y0: r.y0, rw: r.x1 - r.x0, rh: r.y1 - r.y0 };
}

/** Bytes each buffer must hold, after checking the sizes and this device's binding limit. */
function checkSizes(ctx: GpuContext, d: CompositeFrameDims): Record<keyof CompositeFrameBuffers, number> {
  for (const name of ['sw', 'sh', 'width', 'height'] as const) {
    const v = d[name];
    if (!Number.isInteger(v) || v < 1 || v > compositeFrameMaxSide)
      throw new RangeError(`compositeFrame: ${name} must be an integer in [1, ${compositeFrameMaxSide}], got ${v}`);
  }
  const r = rectOf(d), pixels = r.rw * r.rh, frame = d.width * d.height;
  const needed = { color: 12 * pixels, transmittance: 4 * pixels, under: 4 * frame, out: 4 * frame };
  checkBindingSizes(ctx, 'compositeFrame', needed);
  return needed;
}

/** Encodes out = C + T * under (upscaled C and T) for the whole frame into `encoder`. */
export function encodeCompositeFrame(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: CompositeFrameBuffers, dims: CompositeFrameDims): void {
  for (const [name, bytes] of Object.entries(checkSizes(ctx, dims)) as [keyof CompositeFrameBuffers, number][])
    if (buffers[name].size < bytes) throw new RangeError(`compositeFrame: the ${name} buffer holds ${buffers[name].size} bytes, the frame needs ${bytes}`);
  const pipeline = ctx.pipeline('compositeFrame', source);
  const r = rectOf(dims);
  const params = ctx.constants('compositeFrame params', Uint32Array.of(dims.sw, dims.sh, dims.width, dims.height, r.x0, r.y0, r.rw, r.rh));
  const group = ctx.bindGroup('compositeFrame', pipeline, [params, buffers.color, buffers.transmittance, buffers.under, buffers.out]);
  ctx.encode(encoder, 'compositeFrame', pipeline, group, [Math.ceil(dims.width / 8), Math.ceil(dims.height / 8)]);
}

/**
 * One-off: uploads the head layer (color [sh*sw*3], transmittance [sh*sw]) and the
 * under-layer (RGBA8 [height*width*4]), runs, and returns the frame as RGBA8.
 */
export async function compositeFrameOnGpu(
  ctx: GpuContext, color: Float32Array, transmittance: Float32Array, under: Uint8Array, dims: CompositeFrameDims,
): Promise<Uint8Array> {
  const needed = checkSizes(ctx, dims);
  const lengths: [string, ArrayLike<number>, number, string][] = [
    ['color', color, 3 * rectOf(dims).rw * rectOf(dims).rh, 'rh*rw*3'], ['transmittance', transmittance, rectOf(dims).rw * rectOf(dims).rh, 'rh*rw'],
    ['under', under, 4 * dims.width * dims.height, 'height*width*4'],
  ];
  for (const [name, a, n, formula] of lengths)
    if (a.length !== n) throw new RangeError(`compositeFrame: ${name} has length ${a.length}, expected ${n} (${formula})`);
  const buffers: CompositeFrameBuffers = {
    color: ctx.upload('compositeFrame color', color), transmittance: ctx.upload('compositeFrame transmittance', transmittance),
    under: ctx.upload('compositeFrame under', under), out: ctx.storage('compositeFrame out', needed.out),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} compositeFrame encoder` });
    encodeCompositeFrame(ctx, encoder, buffers, dims);
    ctx.device.queue.submit([encoder.finish()]);
    return new Uint8Array(await ctx.read(buffers.out, needed.out));
  } finally {
    for (const b of Object.values(buffers)) b.destroy();
  }
}
