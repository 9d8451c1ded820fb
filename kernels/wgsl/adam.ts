// adamStep and adamStepMasked on the GPU (adam.wgsl): in place on resident parameter,
// moment and gradient buffers (a training step's update without a readback), and the
// Kernels-shaped adapters that upload, run and write the results back into the caller's
// arrays before their promise resolves.
import { readFileSync } from 'node:fs';
import type { AdamOptions } from '../KernelsTypes';
import type { GpuContext } from './GpuContext';
import { grid2d } from './dispatch';

const source = readFileSync(new URL('./adam.wgsl', import.meta.url), 'utf8');

export interface AdamBuffers {
  /** [N], updated in place. */
  readonly param: GPUBuffer;
  /** [N]. */
  readonly grad: GPUBuffer;
  /** [N] first moment, updated in place. */
  readonly m: GPUBuffer;
  /** [N] second moment, updated in place. */
  readonly v: GPUBuffer;
}

export interface AdamDims {
  /** N: elements. */
  readonly n: number;
  /** Skip elements whose grad is exactly 0 (adamStepMasked). */
  readonly masked: boolean;
}

/** The CPU op's checks of the options (kernels/src/binding.cpp AdamStep). */
function checkOptions(op: string, o: AdamOptions): void {
  for (const name of ['lr', 'beta1', 'beta2', 'eps', 'step'] as const)
    if (typeof o[name] !== 'number' || !Number.isFinite(o[name])) throw new RangeError(`${op}: ${name} must be finite, got ${o[name]}`);
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw new RangeError(`${op}: beta1 must be in [0, 1), got ${o.beta1}`);
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw new RangeError(`${op}: beta2 must be in [0, 1), got ${o.beta2}`);
  if (!(o.eps > 0)) throw new RangeError(`${op}: eps must be positive, got ${o.eps}`);
  if (!(o.step >= 1 && Number.isInteger(o.step))) throw new RangeError(`${op}: t must be an integer >= 1, got ${o.step}`);
}

/** Encodes one Adam step over N elements of the resident buffers. */
export function encodeAdamStep(ctx: GpuContext, encoder: GPUCommandEncoder, buffers: AdamBuffers, dims: AdamDims, o: AdamOptions): void {
  const op = dims.masked ? 'adamStepMasked' : 'adamStep';
  checkOptions(op, o);
  const N = dims.n;
  if (!Number.isInteger(N) || N < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${N}`);
  const limit = ctx.device.limits.maxStorageBufferBindingSize;
  if (4 * N > limit) throw new RangeError(`${op}: param needs ${4 * N} bytes, over the device's maxStorageBufferBindingSize (${limit})`);
  for (const name of ['param', 'grad', 'm', 'v'] as const)
    if (buffers[name].size < 4 * N) throw new RangeError(`${op}: the ${name} buffer holds ${buffers[name].size} bytes, ${4 * N} needed`);
  if (N === 0) return;
  const words = new Uint32Array(12), f = new Float32Array(words.buffer);
  words[0] = N;
  words[1] = dims.masked ? 1 : 0;
  // As the CPU op: 1 - beta and the bias corrections in double, then rounded (1.f - 0.999f is off by 1.3e-5 relative).
  f.set([o.beta1, o.beta2, 1 - o.beta1, 1 - o.beta2, o.lr, o.eps, 1 - Math.pow(o.beta1, o.step), 1 - Math.pow(o.beta2, o.step)], 2);
  const pipeline = ctx.pipeline('adamStep', source);
  const params = ctx.constants(`${op} params`, words);
  const group = ctx.bindGroup(op, pipeline, [params, buffers.param, buffers.grad, buffers.m, buffers.v]);
  ctx.encode(encoder, op, pipeline, group, grid2d(N, 64));
}

async function adamOnGpu(ctx: GpuContext, masked: boolean, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, o: AdamOptions): Promise<void> {
  const op = masked ? 'adamStepMasked' : 'adamStep', N = param.length;
  for (const [name, a] of [['grad', grad], ['m', m], ['v', v]] as const)
    if (a.length !== N) throw new RangeError(`${op}: ${name} has length ${a.length}, expected ${N} (length of param)`);
  checkOptions(op, o);
  const b: AdamBuffers = {
    param: ctx.upload(`${op} param`, param), grad: ctx.upload(`${op} grad`, grad), m: ctx.upload(`${op} m`, m), v: ctx.upload(`${op} v`, v),
  };
  try {
    const encoder = ctx.device.createCommandEncoder({ label: `${ctx.label} ${op} encoder` });
    encodeAdamStep(ctx, encoder, b, { n: N, masked }, o);
    ctx.device.queue.submit([encoder.finish()]);
    const [p, mm, vv] = await Promise.all([ctx.read(b.param, 4 * N), ctx.read(b.m, 4 * N), ctx.read(b.v, 4 * N)]);
    param.set(new Float32Array(p));
    m.set(new Float32Array(mm));
    v.set(new Float32Array(vv));
  } finally {
    for (const x of Object.values(b)) x.destroy();
  }
}

/** The Kernels-shaped adamStep: param, m and v are written before the promise resolves. */
export function adamStepOnGpu(ctx: GpuContext, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): Promise<void> {
  return adamOnGpu(ctx, false, param, grad, m, v, opts);
}

/** The Kernels-shaped adamStepMasked (elements whose grad is exactly 0 are untouched). */
export function adamStepMaskedOnGpu(ctx: GpuContext, param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, opts: AdamOptions): Promise<void> {
  return adamOnGpu(ctx, true, param, grad, m, v, opts);
}
