// One tick of many avatar sessions on one GPU device, in as few submissions as there are
// phases: every session's phase 1 (motion blend, bake, occupancy probes) in ONE command
// buffer with the copy of every session's probe density into one staging buffer, one
// map of it; then every session's phase 2 (rays, upscale, composite) in ONE command
// buffer with the copy of every frame and its stats into one staging buffer, one map of
// it. Two submissions and two readbacks a tick, whatever the number of sessions (a
// session alone costs the same two). The frames' readback is left in flight when
// submit() resolves, so the caller can start the next tick's phase 1 while the previous
// tick's frames come back (GpuTick.frames).
//
// Staging buffers are kept and reused (MAP_READ buffers are created and destroyed per
// read otherwise); a frame is copied once, from the mapped range into its session's
// reused buffer, because the mapped range is detached when unmapped.
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import type { HeadPose } from './AvatarModelTypes';
import type { GpuStreamingRenderer } from './GpuRenderer';
import type { FrameStats } from './RendererTypes';

export interface GpuFrameJob {
  readonly renderer: GpuStreamingRenderer;
  readonly coefficients: Float32Array;
  readonly pose: HeadPose;
}

/** A tick whose work is submitted; its frames (in the jobs' order) arrive when the readback does. */
export interface GpuTick {
  readonly frames: Promise<Uint8Array[]>;
  /** Queue submissions this tick made (2, or 1 when no session had probes to read back). */
  readonly submissions: number;
  readonly sessions: number;
}

/** Free staging buffers kept for reuse, at most. */
const KEEP_FREE = 4;

class StagingPool {
  readonly #free: GPUBuffer[] = [];
  #closed = false;
  constructor(private readonly ctx: GpuContext, private readonly label: string) {}

  /** A MAP_READ | COPY_DST buffer of at least `bytes` (sizes round up to a power of two, so a tick's mix reuses them). */
  acquire(bytes: number): GPUBuffer {
    const at = this.#free.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes);
    if (at >= 0) return this.#free.splice(at, 1)[0]!;
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    return this.ctx.device.createBuffer({ label: `${this.ctx.label} ${this.label} staging ${size}`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  release(buffer: GPUBuffer): void {
    if (this.#closed || buffer.mapState !== 'unmapped') {
      buffer.destroy();
      return;
    }
    this.#free.push(buffer);
    if (this.#free.length > KEEP_FREE) this.#free.shift()!.destroy();
  }

  close(): void {
    this.#closed = true;
    for (const b of this.#free.splice(0)) b.destroy();
  }
}

export class GpuFrameBatch {
  readonly ctx: GpuContext;
  readonly label: string;
  /** Ticks submitted, and the queue submissions they made (both counted here, by this class's own submits). */
  ticks = 0;
  submissions = 0;
  readonly #staging: StagingPool;
  #closed = false;

  constructor(ctx: GpuContext, label = `${ctx.label} batch`) {
    this.ctx = ctx;
    this.label = label;
    this.#staging = new StagingPool(ctx, label);
  }

  /** Renders one frame of each job; resolves with the frames once they are back. */
  async render(jobs: readonly GpuFrameJob[]): Promise<Uint8Array[]> {
    return (await this.submit(jobs)).frames;
  }

  /**
   * Runs the tick up to its frames' readback: resolves once both phases are submitted
   * (phase 1's probes read back in between), with the frames still coming back.
   * Each renderer must be of this batch's context and have no frame in flight.
   */
  async submit(jobs: readonly GpuFrameJob[]): Promise<GpuTick> {
    if (this.#closed) throw new DOMException('GpuFrameBatch is closed', 'InvalidStateError');
    if (jobs.length === 0) return { frames: Promise.resolve([]), submissions: 0, sessions: 0 };
    for (const { renderer } of jobs) {
      if (renderer.ctx !== this.ctx) throw new TypeError('GpuFrameBatch: a renderer of another GPU context');
      if (renderer.inFlight) throw new DOMException('GpuFrameBatch: a renderer already has a frame in flight', 'InvalidStateError');
      if (renderer.isClosed) throw new Error('renderer closed');
    }
    for (const { renderer } of jobs) renderer.setInFlight(true);
    const tick = this.ticks++, device = this.ctx.device;
    let submissions = 0, probeStaging: GPUBuffer | undefined, frameStaging: GPUBuffer | undefined;
    const submit = (encoder: GPUCommandEncoder) => {
      device.queue.submit([encoder.finish()]);
      submissions++;
      this.submissions++;
    };
    try {
      const t0 = performance.now();
      const first = device.createCommandEncoder({ label: `${this.label} tick ${tick} motion` });
      const probeAt: number[] = [];
      let probeBytes = 0;
      for (const job of jobs) {
        probeAt.push(probeBytes);
        probeBytes += job.renderer.encodeMotion(first, job.coefficients);
      }
      if (probeBytes > 0) {
        probeStaging = this.#staging.acquire(probeBytes);
        for (const [i, job] of jobs.entries()) job.renderer.copyProbes(first, probeStaging, probeAt[i]!);
      }
      submit(first);
      const t1 = performance.now();
      if (probeStaging) {
        await probeStaging.mapAsync(GPUMapMode.READ, 0, probeBytes);
        const mapped = probeStaging.getMappedRange(0, probeBytes);
        for (const [i, job] of jobs.entries()) {
          const end = i + 1 < jobs.length ? probeAt[i + 1]! : probeBytes;
          job.renderer.mergeProbes(end > probeAt[i]! ? new Float32Array(mapped, probeAt[i]!, (end - probeAt[i]!) / 4) : null);
        }
        probeStaging.unmap();
        this.#staging.release(probeStaging);
        probeStaging = undefined;
      } else {
        for (const job of jobs) job.renderer.mergeProbes(null);
      }
      const t2 = performance.now();
      const second = device.createCommandEncoder({ label: `${this.label} tick ${tick} rays` });
      const frameAt: number[] = [];
      let frameBytes = 0;
      for (const job of jobs) {
        job.renderer.encodeRays(second, job.pose);
        frameAt.push(frameBytes);
        frameBytes += job.renderer.frameReadbackBytes;
      }
      frameStaging = this.#staging.acquire(frameBytes);
      for (const [i, job] of jobs.entries()) job.renderer.copyFrame(second, frameStaging, frameAt[i]!);
      submit(second);
      const t3 = performance.now();
      const staging = frameStaging;
      frameStaging = undefined;
      const frames = (async () => {
        try {
          await staging.mapAsync(GPUMapMode.READ, 0, frameBytes);
          const mapped = staging.getMappedRange(0, frameBytes);
          const stageMs: FrameStats['stageMs'] = { bake: t1 - t0, occupancy: t2 - t1, rays: t3 - t2, upscale: performance.now() - t3 };
          const out = jobs.map((job, i) => job.renderer.finishFrame(mapped, frameAt[i]!, stageMs));
          staging.unmap();
          this.#staging.release(staging);
          return out;
        } catch (error) {
          staging.destroy();
          throw error;
        } finally {
          for (const { renderer } of jobs) renderer.setInFlight(false);
        }
      })();
      return { frames, submissions, sessions: jobs.length };
    } catch (error) {
      probeStaging?.destroy();
      frameStaging?.destroy();
      for (const { renderer } of jobs) renderer.setInFlight(false);
      throw error;
    }
  }

  /** Frees the staging buffers (the renderers are their owners'); idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#staging.close();
  }
}
