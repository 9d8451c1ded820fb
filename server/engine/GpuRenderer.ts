// The live renderer on the GPU (the WGSL backend, kernels/wgsl/): the same frame as
// StreamingRenderer (LiveFrame prepares both: cameras, rays' rectangle, folded biases,
// occupancy slices), with the avatar resident on the device. A frame is two phases,
// which GpuFrameBatch runs for many sessions at once (one submission per phase for all
// of a tick's sessions, one readback of all their probes, one of all their frames):
//   1. encodeMotion: blend the motion volume, bake the offsets into the scene, and the
//      density at this frame's slice of occupancy probes, whose values come back (a few
//      KB) to update the occupancy map and the rectangle of rays, as on the CPU
//      (mergeProbes);
//   2. encodeRays: renderRays over the rectangle (premultiplied colour and
//      transmittance), then the upscale and composite onto the session's under-layer,
//      resident since the session began; the RGBA frame and the stats come back
//      (copyFrame, finishFrame).
// Nothing else crosses the bus: the pose (96 bytes: the rays are posed on the device from
// the camera's, resident, poseRays.wgsl), the folded biases and the coefficients go up;
// the frame comes down.
import { encodeBakeMotion } from '../../kernels/wgsl/bakeMotion';
import { encodeBlendVolumes } from '../../kernels/wgsl/blendVolumes';
import { encodeCompositeFrame } from '../../kernels/wgsl/compositeFrame';
import type { GpuContext } from '../../kernels/wgsl/GpuContext';
import { GpuScene } from '../../kernels/wgsl/GpuScene';
import { encodePoseRays, POSE_RAYS_PARAMS_BYTES, writePoseRays } from '../../kernels/wgsl/poseRays';
import { encodeDensityAt, encodeRenderRays } from '../../kernels/wgsl/renderRays';
import type { AvatarModel } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { GpuFrameBatch } from './GpuFrameBatch';
import { LiveFrame } from './LiveFrame';
import { rotationMatrix } from './Pose';
import type { FrameStats, RendererOptions, RenderSize } from './RendererTypes';
import type { PixelRect } from './ScreenBounds';

/** The under-layer as RGBA8 words: the image (background + plates), or the flat colour everywhere. */
function underWords(frame: LiveFrame): Uint32Array {
  if (frame.under) return new Uint32Array(frame.under.buffer, frame.under.byteOffset, frame.under.length / 4);
  const [r, g, b] = frame.fill.map((v) => Math.round(Math.min(Math.max(v, 0), 1) * 255)) as [number, number, number];
  const rgba = new Uint8Array(4 * frame.width * frame.height);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = r; rgba[i + 1] = g; rgba[i + 2] = b; rgba[i + 3] = 255;
  }
  return new Uint32Array(rgba.buffer);
}

/** Bytes of renderRays' stats (samples, density, shaded: u32 each) in a frame's readback, after its RGBA. */
const STATS_BYTES = 12;

export class GpuStreamingRenderer {
  readonly model: AvatarModel;
  readonly width: number;
  readonly height: number;
  readonly ctx: GpuContext;
  private readonly frame: LiveFrame;
  private readonly scene: GpuScene;
  private readonly buffers: Record<string, GPUBuffer>;
  /** Probe points per slice start, uploaded on first use. */
  private readonly probeBuffers = new Map<number, GPUBuffer>();
  private readonly rgba: Uint8Array;
  private readonly black = new Float32Array(3);
  private frameNo = 0;
  private closed = false;
  /** The frame between its phases: the probes read back, the rectangle and rays cast. */
  private slice: readonly [number, number] = [0, 0];
  private rect: PixelRect | null = null;
  private rays = 0;
  /** The batch render() uses (this session alone), made on first use. */
  private ownBatch?: GpuFrameBatch;
  /** Set while a batch has this session's frame in flight (a second frame must wait; a close waits for it to land). */
  private flying = false;
  lastStats: FrameStats = { samples: 0, shadedSamples: 0, rays: 0, pixels: 0, rect: null, stageMs: { bake: 0, occupancy: 0, rays: 0, upscale: 0 } };

  constructor(ctx: GpuContext, model: AvatarModel, o: RendererOptions) {
    const f = new LiveFrame(model, o), p = model.params;
    this.ctx = ctx;
    this.frame = f;
    this.model = model;
    this.width = o.width;
    this.height = o.height;
    // The head layer is composited on the GPU as out = C + T * under, so the rays'
    // background is black (C premultiplied) whatever the under-layer is.
    this.scene = GpuScene.create(ctx, {
      ...f.sceneBase, background: this.black, offsets: new Float32Array(3 * f.bakeRes ** 3), occupancy: f.occ,
      densB0: f.densB, colorB0: f.colorB,
    }, 'avatar scene');
    const pixels = f.iw * f.ih, d = f.deform;
    this.buffers = {
      motionMean: ctx.upload('motion mean', p.motionMean),
      motionBases: ctx.upload('motion bases', p.motionBases),
      coefficients: ctx.storage('coefficients', 4 * model.config.expressionCount),
      motion: ctx.storage('motion volume', 4 * p.motionMean.length),
      deformW0: ctx.upload('deform W0', d.W0), deformB0: ctx.upload('deform b0', d.b0),
      deformW1: ctx.upload('deform W1', d.W1), deformB1: ctx.upload('deform b1', d.b1),
      probeSigma: ctx.storage('probe density', 4 * (f.probes.length / 3)),
      worldOrigins: ctx.upload('camera ray origins', f.worldRays.origins), worldDirs: ctx.upload('camera ray directions', f.worldRays.dirs),
      pose: ctx.uniform('pose', new Uint8Array(POSE_RAYS_PARAMS_BYTES)),
      origins: ctx.storage('ray origins', 12 * pixels), dirs: ctx.storage('ray directions', 12 * pixels),
      color: ctx.storage('head colour', 12 * pixels), transmittance: ctx.storage('head transmittance', 4 * pixels),
      stats: ctx.storage('render stats', STATS_BYTES),
      under: ctx.upload('under-layer', underWords(f)),
      out: ctx.storage('frame', 4 * o.width * o.height),
    };
    this.rgba = new Uint8Array(4 * o.width * o.height);
  }

  /** Internal (shaded) resolution. */
  get renderSize(): RenderSize {
    return { width: this.frame.iw, height: this.frame.ih };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inFlight(): boolean {
    return this.flying;
  }

  /**
   * GpuFrameBatch marks the frame in flight, and landed (or failed). A session closed in
   * flight keeps its buffers until then: a destroyed buffer in a tick's command buffer
   * would fail the whole submission, every other session's frame with it.
   */
  setInFlight(flying: boolean): void {
    this.flying = flying;
    if (!flying && this.closed) this.release();
  }

  /** The next frame starts afresh (all probes, as a session's first frame). */
  restart(): void {
    this.frameNo = 0;
  }

  private probesFrom(b: number, e: number): GPUBuffer {
    let buffer = this.probeBuffers.get(b);
    if (!buffer) {
      buffer = this.ctx.upload(`occupancy probes ${b}..${e}`, this.frame.probes.subarray(3 * b, 3 * e));
      this.probeBuffers.set(b, buffer);
    }
    return buffer;
  }

  /**
   * Phase 1 into `encoder`: this frame's biases and coefficients go up (queued writes),
   * the motion volume is blended and baked into the scene, and this frame's probes'
   * density is evaluated. Returns the bytes of probe density copyProbes will copy (0: none).
   */
  encodeMotion(encoder: GPUCommandEncoder, coefficients: Float32Array): number {
    const f = this.frame, ctx = this.ctx, B = this.buffers, c = this.model.config;
    f.checkCoefficients(coefficients);
    f.foldBiases(coefficients);
    this.scene.writeFrame({ densB0: f.densB, colorB0: f.colorB, background: this.black });
    ctx.write(B.coefficients!, 0, coefficients);
    encodeBlendVolumes(ctx, encoder, { mean: B.motionMean!, bases: B.motionBases!, coeff: B.coefficients!, out: B.motion! }, c.expressionCount, this.model.params.motionMean.length);
    encodeBakeMotion(ctx, encoder, {
      motion: B.motion!, W0: B.deformW0!, b0: B.deformB0!, W1: B.deformW1!, b1: B.deformB1!, offsets: this.scene.offsets,
    }, { motionRes: f.motionShape.d, channels: f.motionShape.c, bakeRes: f.bakeRes, frequencies: f.deform.frequencies, hidden: f.deform.hidden });
    const [b, e] = this.slice = f.noOccupancy ? [0, 0] : f.probeSlice(this.frameNo);
    if (e > b) encodeDensityAt(ctx, encoder, this.scene, { points: this.probesFrom(b, e), count: e - b }, B.probeSigma!);
    return 4 * (e - b);
  }

  /** Copies this frame's probe density (encodeMotion's byte count) into `staging` at `offset`. */
  copyProbes(encoder: GPUCommandEncoder, staging: GPUBuffer, offset: number): void {
    const [b, e] = this.slice;
    if (e > b) encoder.copyBufferToBuffer(this.buffers.probeSigma!, 0, staging, offset, 4 * (e - b));
  }

  /** Merges the probes' density read back (phase 1 done) into the occupancy the rays see. */
  mergeProbes(sigma: Float32Array | null): void {
    const [b, e] = this.slice;
    if (e > b) {
      this.frame.mergeOccupancy(sigma!, b, e);
      this.scene.writeOccupancy(this.frame.occ);
    }
    this.frameNo++;
  }

  /**
   * Phase 2 into `encoder`: the pose goes up (a queued write), the rectangle's rays are
   * posed from the camera's, renderRays over them, then the upscale and composite onto
   * the under-layer into the frame buffer.
   */
  encodeRays(encoder: GPUCommandEncoder, pose: HeadPose): void {
    const f = this.frame, ctx = this.ctx, B = this.buffers;
    const rect = this.rect = f.raysRect(pose);
    this.rays = 0;
    if (rect) {
      const count = writePoseRays(ctx, B.pose!, { ...pose, rect, imageWidth: f.iw, imageHeight: f.ih }, rotationMatrix(pose.rotation));
      this.rays = count;
      encodePoseRays(ctx, encoder, {
        params: B.pose!, worldOrigins: B.worldOrigins!, worldDirs: B.worldDirs!, origins: B.origins!, dirs: B.dirs!,
      }, count, f.iw * f.ih);
      encodeRenderRays(ctx, encoder, this.scene, { origins: B.origins!, dirs: B.dirs!, count }, { color: B.color!, transmittance: B.transmittance!, stats: B.stats! });
    }
    encodeCompositeFrame(ctx, encoder, { color: B.color!, transmittance: B.transmittance!, under: B.under!, out: B.out! }, {
      sw: f.iw, sh: f.ih, width: this.width, height: this.height, rect: rect ?? { x0: 0, y0: 0, x1: 0, y1: 0 },
    });
  }

  /** Bytes of this session's frame readback: the RGBA frame, then the stats. */
  get frameReadbackBytes(): number {
    return this.rgba.length + STATS_BYTES;
  }

  /** Copies the frame and its stats into `staging` at `offset` (a multiple of 4). */
  copyFrame(encoder: GPUCommandEncoder, staging: GPUBuffer, offset: number): void {
    encoder.copyBufferToBuffer(this.buffers.out!, 0, staging, offset, this.rgba.length);
    encoder.copyBufferToBuffer(this.buffers.stats!, 0, staging, offset + this.rgba.length, STATS_BYTES);
  }

  /**
   * Takes the frame from the mapped readback (its one copy: the mapped range is gone
   * once unmapped) into this session's reused buffer; valid until its next frame.
   */
  finishFrame(mapped: ArrayBuffer, offset: number, stageMs: FrameStats['stageMs']): Uint8Array {
    this.rgba.set(new Uint8Array(mapped, offset, this.rgba.length));
    const [samples, , shaded] = this.rect ? new Uint32Array(mapped, offset + this.rgba.length, 3) : [0, 0, 0];
    this.lastStats = { samples: samples!, shadedSamples: shaded!, rays: this.rays, pixels: this.frame.iw * this.frame.ih, rect: this.rect, stageMs };
    return this.rgba;
  }

  /** Renders one frame on its own (a batch of one); the RGBA bytes stay valid until the next call. */
  async render(coefficients: Float32Array, pose: HeadPose): Promise<Uint8Array> {
    if (this.closed) throw new Error('renderer closed');
    this.ownBatch ??= new GpuFrameBatch(this.ctx, `${this.ctx.label} session`);
    const [frame] = await this.ownBatch.render([{ renderer: this, coefficients, pose }]);
    return frame!;
  }

  /**
   * Renders one frame and forgets it: the device compiles the ops' pipelines on first use
   * (seconds on SwiftShader, a fraction of one on a GPU), which belongs to loading the
   * avatar, not to the call's first frames. The next frame starts afresh (full occupancy).
   */
  async warmUp(pose: HeadPose): Promise<void> {
    await this.render(new Float32Array(this.model.config.expressionCount), pose);
    this.restart();
  }

  /** Frees the session's GPU buffers (the device is the context's; a frame in flight lands first); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.flying) this.release();
  }

  private release(): void {
    this.ownBatch?.close();
    this.scene.close();
    for (const buffer of [...Object.values(this.buffers), ...this.probeBuffers.values()]) buffer.destroy();
    this.probeBuffers.clear();
  }
}
