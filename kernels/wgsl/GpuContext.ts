// One WebGPU device (Dawn, through the `webgpu` npm package) and what every WGSL op
// needs from it: labelled buffers, uploads, readback, and compute pipelines created once
// per shader source. Ops encode into a caller's command encoder (so a frame's ops go out
// in one submission); `dispatch` is the one-op convenience the adapters and tests use.
/// <reference types="@webgpu/types" />
import { GpuPassTimes } from './GpuPassTimes';

/** The adapter as the server logs it. */
export interface GpuAdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A software adapter (SwiftShader): right for correctness tests, never for serving. */
  readonly software: boolean;
}

export interface GpuContextOptions {
  /** Accept a software (fallback) adapter; default false. Tests on SwiftShader set it. */
  readonly allowSoftware?: boolean;
  /** Prefix of every GPU object's label (default 'voxface'). */
  readonly label?: string;
  /**
   * Time every pass on the device (timestamp queries; `passTimes` is null where the
   * adapter lacks them). For benchmarks: a serving device never asks for it.
   */
  readonly passTimes?: boolean;
}

// Dawn (dawn.node, 21 MB) is loaded on first use, not on import: a CPU render process
// imports this module's users and must not pay for a GPU it will not touch. The globals
// (GPUBufferUsage, GPUMapMode...) are installed then, once.
let gpu: Promise<GPU> | undefined;
function navigatorGpu(): Promise<GPU> {
  gpu ??= import('webgpu').then(({ create, globals }) => {
    Object.assign(globalThis, globals);
    // Dawn rounds timestamps down to 2^16 ns (65.5 us, seen on SwiftShader) unless told
    // not to: a browser's guard against timing attacks, and a pass of an H200's frame
    // is shorter than that. Only GpuPassTimes reads timestamps.
    return create(['disable-dawn-features=timestamp_quantization']);
  });
  return gpu;
}

export function summarizeAdapter(adapter: GPUAdapter): GpuAdapterSummary {
  const i = adapter.info;
  return {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    software: i.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${i.architecture} ${i.description}`),
  };
}

/** Bytes a buffer of `byteLength` takes: WebGPU wants sizes in multiples of 4 and not 0. */
export function paddedSize(byteLength: number): number {
  return Math.max(4, Math.ceil(byteLength / 4) * 4);
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: GpuAdapterSummary;
  readonly label: string;
  /** Resolves when the device is lost (destroyed by us or by the driver), with the reason. */
  readonly lost: Promise<GPUDeviceLostInfo>;
  /** Per-pass GPU times, when opened with `passTimes` and the adapter has timestamp queries. */
  readonly passTimes: GpuPassTimes | null;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Ops' small parameter blocks by content (constants): a frame's ops reuse them instead of allocating per call. */
  private readonly constantBlocks = new Map<string, GPUBuffer>();
  private closed = false;

  /** The first hardware adapter, or a software one when allowed; null when there is none. */
  static async create(options: GpuContextOptions = {}): Promise<GpuContext | null> {
    const adapter = await (await navigatorGpu()).requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    const summary = summarizeAdapter(adapter);
    if (summary.software && !options.allowSoftware) return null;
    // Storage buffers per stage: renderRays binds its scene's tensors separately.
    const timed = options.passTimes === true && adapter.features.has('timestamp-query');
    const label = options.label ?? 'voxface';
    const device = await adapter.requestDevice({
      label: `${label} device`,
      requiredFeatures: timed ? ['timestamp-query'] : [],
      requiredLimits: { maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, 16) },
    });
    return new GpuContext(device, summary, label, timed ? new GpuPassTimes(device, label) : null);
  }

  private constructor(device: GPUDevice, adapter: GpuAdapterSummary, label: string, passTimes: GpuPassTimes | null) {
    this.device = device;
    this.adapter = adapter;
    this.label = label;
    this.lost = device.lost;
    this.passTimes = passTimes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A compute pipeline for this source and entry point, created on first use and cached. */
  pipeline(label: string, code: string, entryPoint = 'main'): GPUComputePipeline {
    const key = `${entryPoint}\u0000${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ label: `${this.label} ${label} module`, code });
      p = this.device.createComputePipeline({ label: `${this.label} ${label} pipeline`, layout: 'auto', compute: { module, entryPoint } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** A storage buffer holding `data` (padded to 4 bytes). */
  upload(label: string, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
    const buffer = this.device.createBuffer({
      label: `${this.label} ${label}`,
      size: paddedSize(data.byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage,
      mappedAtCreation: true,
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  /** An uninitialised (zeroed) storage buffer the ops write, readable back. */
  storage(label: string, byteLength: number): GPUBuffer {
    return this.device.createBuffer({
      label: `${this.label} ${label}`,
      size: paddedSize(byteLength),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
  }

  /** A uniform buffer holding `data` (16-byte aligned as WGSL's uniform layout wants). */
  uniform(label: string, data: ArrayBufferView): GPUBuffer {
    const buffer = this.device.createBuffer({
      label: `${this.label} ${label}`,
      size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /**
   * A uniform buffer holding these u32 words, shared by every call with the same words
   * (op parameters repeat frame after frame; one buffer per distinct block, at most
   * 4096 kept: past that the oldest is dropped, and destroyed once the queue is idle).
   */
  constants(label: string, words: Uint32Array): GPUBuffer {
    const key = `${label}:${words.join(',')}`;
    let buffer = this.constantBlocks.get(key);
    if (!buffer) {
      if (this.constantBlocks.size >= 4096) {
        const [oldestKey, oldest] = this.constantBlocks.entries().next().value as [string, GPUBuffer];
        this.constantBlocks.delete(oldestKey);
        void this.device.queue.onSubmittedWorkDone().then(() => oldest.destroy(), () => undefined);
      }
      buffer = this.uniform(label, words);
      this.constantBlocks.set(key, buffer);
    }
    return buffer;
  }

  /** Queues a write of `data` into `buffer` at `byteOffset` (typed arrays of any backing store). */
  write(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  /** A bind group of whole buffers at bindings 0, 1, 2... of the pipeline's group 0. */
  bindGroup(label: string, pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[]): GPUBindGroup {
    return this.bindEntries(label, pipeline, buffers.map((buffer, binding) => ({ binding, resource: { buffer } })));
  }

  /** A labelled bind group of the pipeline's group 0 from explicit entries (bindings.ts builds them). */
  bindEntries(label: string, pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    return this.device.createBindGroup({ label: `${this.label} ${label} bind group`, layout: pipeline.getBindGroupLayout(0), entries });
  }

  /** Encodes one dispatch into `encoder`. */
  encode(encoder: GPUCommandEncoder, label: string, pipeline: GPUComputePipeline, group: GPUBindGroup, workgroups: readonly [number, number?, number?]): void {
    const passLabel = `${this.label} ${label} pass`;
    const pass = encoder.beginComputePass({ label: passLabel, timestampWrites: this.passTimes?.writesFor(passLabel) });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    pass.end();
  }

  /** Submits one dispatch on its own. */
  dispatch(label: string, pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], workgroups: readonly [number, number?, number?]): void {
    const encoder = this.device.createCommandEncoder({ label: `${this.label} ${label} encoder` });
    this.encode(encoder, label, pipeline, this.bindGroup(label, pipeline, buffers), workgroups);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Copies `byteLength` bytes of `buffer` back to the CPU (after all submitted work). */
  async read(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({
      label: `${this.label} readback of ${buffer.label}`,
      size: paddedSize(byteLength),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder({ label: `${this.label} readback encoder` });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, paddedSize(byteLength));
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return staging.getMappedRange().slice(0, byteLength);
    } finally {
      staging.destroy();
    }
  }

  /** Destroys the device; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipelines.clear();
    this.constantBlocks.clear();
    this.passTimes?.close();
    this.device.destroy();
  }
}
