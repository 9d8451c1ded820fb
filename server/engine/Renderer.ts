// The inference form of the avatar, for streaming frames: one pipeline, one native
// renderRays call per frame (march, offsets, appearance, encoding, heads, compositing),
// and the exact model (renderExact) for comparisons. Differences from the exact model
// (AvatarModel.forward), each measured against it by test/engine/Renderer.test.ts:
// - motion field baked once per frame: the deformation MLP runs on a grid of sample
//   points and per-sample offsets are trilinear in those (an approximation: the MLP is
//   not linear between grid points);
// - the coefficient columns of the density and colour heads' first layers are folded
//   into their biases once per frame (exact);
// - occupancy from the frame's density at cell centres (dilated) + early termination,
//   and the colour head runs only on samples before termination (exact up to tEps and
//   the occupancy probe spacing);
// - rays only inside the occupied cells' projection (ScreenBounds.ts; exact: a ray that
//   meets no occupied cell composites to the background);
// - floaters (occupied blobs apart from the person, under 2% of its cells) are left out
//   of the occupancy, so not drawn (Floaters.ts; the exact model draws them).
// The frame's preparation (cameras, rays, folded biases, occupancy, the rays' rectangle)
// lives in LiveFrame.ts, shared with the GPU renderer (GpuRenderer.ts).
// Output framing: the renderer draws through a PixelCamera (Framing.ts). Calls use the
// call framing (framingCamera: a 16:9 frame, the face 45% of its height); render,
// renderExact and comparisons at training sizes keep the model's square view
// (modelPixelCamera, the default). The head is composited onto an under-layer
// (Compositing.ts): a flat colour goes to renderRays as its background (white by
// default, as before); an image (background + body plates) gets the head's
// premultiplied colour and transmittance, upscaled, then out = C + T * under.
// The presets add approximations, each measured in the tests and the bench:
// - renderScale < 1: fewer rays, cubic upscale (FastUpscale.ts, a = -0.75) to the output size;
// - bakeRes / bakeFactor: the motion bake's grid;
// - weightEps: the colour head skips samples with compositing weight below it;
// - occupancySlices: the per-frame occupancy probes are refreshed 1/n of the grid per
//   frame (round robin, so occupancy lags expression changes by up to n frames);
// - stepScale: longer ray steps (a coarser quadrature of the same volume integral).
// Buffers owned by the renderer are reused across frames.
import { cpuKernels } from '../../kernels/cpu';
import type { Kernels, RenderRaysScene } from '../../kernels/KernelsTypes';
import type { AvatarModel } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { compositeOver } from './Compositing';
import { LiveFrame } from './LiveFrame';
import { cameraRays } from './Pose';
import { type UpscalePlan, upscalePlan, upscaleRgb } from './FastUpscale';
import type { FrameStats, RendererOptions, RenderSize } from './RendererTypes';

export { LIVE, REALTIME, type FrameStats, type Preset, type RendererOptions, type RenderSize } from './RendererTypes';

export class StreamingRenderer {
  readonly model: AvatarModel;
  readonly width: number;
  readonly height: number;
  private readonly k: Kernels;
  private readonly frame: LiveFrame;
  private readonly rectColor: Float32Array;
  private readonly colorBuf: Float32Array;
  /** Set when compositing onto an image: the head's transmittance, full image and the rectangle's. */
  private readonly transBuf: Float32Array | null;
  private readonly rectTrans: Float32Array | null;
  private readonly plan: UpscalePlan | null;
  private readonly compositePlan: UpscalePlan | null;
  private readonly rgba: Uint8Array;
  private readonly offsets: Float32Array;
  private readonly probeSigma: Float32Array;
  private frameNo = 0;
  lastStats: FrameStats = { samples: 0, shadedSamples: 0, rays: 0, pixels: 0, rect: null, stageMs: { bake: 0, occupancy: 0, rays: 0, upscale: 0 } };

  constructor(model: AvatarModel, o: RendererOptions) {
    const f = new LiveFrame(model, o);
    this.frame = f;
    this.model = model;
    this.width = o.width;
    this.height = o.height;
    this.k = o.kernels ?? cpuKernels;
    this.plan = f.iw === o.width && f.ih === o.height ? null : upscalePlan(f.iw, f.ih, o.width, o.height);
    this.colorBuf = new Float32Array(3 * f.iw * f.ih);
    this.rectColor = new Float32Array(3 * f.iw * f.ih);
    this.transBuf = f.under ? new Float32Array(f.iw * f.ih) : null;
    this.rectTrans = f.under ? new Float32Array(f.iw * f.ih) : null;
    this.compositePlan = f.under ? (this.plan ?? upscalePlan(f.iw, f.ih, o.width, o.height)) : null;
    this.rgba = new Uint8Array(o.width * o.height * 4);
    this.offsets = new Float32Array(3 * f.bakeRes ** 3);
    this.probeSigma = new Float32Array(f.probes.length / 3);
  }

  /** The output camera, and the internal image's. */
  get camera() {
    return this.frame.camera;
  }
  get internalCamera() {
    return this.frame.internalCamera;
  }

  /** Internal (shaded) resolution. */
  get renderSize(): RenderSize {
    return { width: this.frame.iw, height: this.frame.ih };
  }

  /** This frame's occupancy: density at its slice of the probes, merged and dilated. */
  private frameOccupancy(scene: RenderRaysScene): void {
    if (this.frame.noOccupancy) return;
    const [b, e] = this.frame.probeSlice(this.frameNo);
    const sigma = this.probeSigma.subarray(0, e - b);
    this.k.densityAt(this.frame.probes.subarray(3 * b, 3 * e), scene, sigma);
    this.frame.mergeOccupancy(sigma, b, e);
  }

  /** Renders one frame into the renderer's RGBA buffer (valid until the next call). */
  render(coefficients: Float32Array, pose: HeadPose): Uint8Array {
    const f = this.frame;
    f.checkCoefficients(coefficients);
    const t0 = performance.now();
    f.foldBiases(coefficients);
    const offsets = this.bakeMotion(coefficients);
    const scene: RenderRaysScene = { ...f.sceneBase, offsets, occupancy: f.occ, densB0: f.densB, colorB0: f.colorB };
    const t1 = performance.now();
    this.frameOccupancy(scene);
    this.frameNo++;
    const t2 = performance.now();
    const rect = f.raysRect(pose);
    let stats = { samples: 0, shaded: 0 }, rays = 0;
    // What a ray that meets nothing composites to: the flat under-layer's colour, or for
    // an image nothing of the head (C = 0) and all of what is behind (T = 1).
    for (let i = 0; i < this.colorBuf.length; i += 3) {
      this.colorBuf[i] = f.fill[0]; this.colorBuf[i + 1] = f.fill[1]; this.colorBuf[i + 2] = f.fill[2];
    }
    this.transBuf?.fill(1);
    if (rect) {
      const rw = rect.x1 - rect.x0, { origins, dirs, count } = f.rectRays(rect, pose);
      rays = count;
      const rectTrans = this.rectTrans?.subarray(0, rays);
      stats = this.k.renderRays(origins, dirs, scene, this.rectColor.subarray(0, 3 * rays), rectTrans);
      for (let y = rect.y0, i = 0; y < rect.y1; y++, i += 3 * rw) {
        this.colorBuf.set(this.rectColor.subarray(i, i + 3 * rw), 3 * (y * f.iw + rect.x0));
        if (rectTrans) this.transBuf!.set(rectTrans.subarray(i / 3, i / 3 + rw), y * f.iw + rect.x0);
      }
    }
    const t3 = performance.now();
    if (f.under) compositeOver(this.colorBuf, this.transBuf!, f.iw, this.compositePlan!, rect, f.under, this.rgba);
    else this.writeRgba(this.colorBuf);
    const stageMs = { bake: t1 - t0, occupancy: t2 - t1, rays: t3 - t2, upscale: performance.now() - t3 };
    this.lastStats = { samples: stats.samples, shadedSamples: stats.shaded, rays, pixels: f.iw * f.ih, rect, stageMs };
    return this.rgba;
  }

  private writeRgba(color: Float32Array): void {
    if (this.plan) {
      upscaleRgb(color, this.frame.iw, this.plan, this.rgba);
      return;
    }
    for (let r = 0; r < this.frame.iw * this.frame.ih; r++) {
      for (let ch = 0; ch < 3; ch++) this.rgba[4 * r + ch] = Math.round(Math.min(Math.max(color[3 * r + ch]!, 0), 1) * 255);
      this.rgba[4 * r + 3] = 255;
    }
  }

  /**
   * Offset grid [m^3, 3] (already x0.1): the deformation MLP at the bake grid's points
   * (one native op; the returned buffer is the renderer's, overwritten by the next frame).
   */
  bakeMotion(coefficients: Float32Array): Float32Array {
    const p = this.model.params, k = this.k;
    const motion = k.blendVolumes(p.motionMean, p.motionBases, coefficients).out;
    k.bakeMotion(motion, this.frame.motionShape, this.frame.bakeRes, this.frame.deform, this.offsets);
    return this.offsets;
  }
}

/** One-off render: RGBA [height*width*4] (a fresh copy). */
export function render(avatar: AvatarModel, coefficients: Float32Array, pose: HeadPose, size: RenderSize, kernels?: Kernels): Uint8Array {
  return new StreamingRenderer(avatar, { ...size, ...(kernels ? { kernels } : {}) }).render(coefficients, pose).slice();
}

/** The exact model's render as RGBA, for comparisons (no occupancy, no early termination). */
export function renderExact(avatar: AvatarModel, coefficients: Float32Array, pose: HeadPose, size: RenderSize, kernels: Kernels = cpuKernels): Uint8Array {
  const rays = cameraRays(avatar.config.camera, size.width, size.height), R = size.width * size.height, out = new Uint8Array(4 * R);
  const color = new Float32Array(3 * R);
  for (let s = 0; s < R; s += 16384) {
    const e = Math.min(R, s + 16384);
    color.set(avatar.forward(kernels, { coefficients, pose }, rays.origins.subarray(3 * s, 3 * e), rays.dirs.subarray(3 * s, 3 * e)).color, 3 * s);
  }
  for (let r = 0; r < R; r++) {
    for (let ch = 0; ch < 3; ch++) out[4 * r + ch] = Math.round(Math.min(Math.max(color[3 * r + ch]!, 0), 1) * 255);
    out[4 * r + 3] = 255;
  }
  return out;
}
