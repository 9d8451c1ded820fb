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
//   meets no occupied cell composites to the background).
// Output framing: the renderer draws through a PixelCamera (Framing.ts). Calls use the
// call framing (framingCamera: a 16:9 frame, the face 45% of its height); render,
// renderExact and comparisons at training sizes keep the model's square view
// (modelPixelCamera, the default). The head is composited onto an under-layer
// (Compositing.ts): a flat colour goes to renderRays as its background (white by
// default, as before); an image (background + body plates) gets the head's
// premultiplied colour and transmittance, upscaled, then out = C + T * under.
// The presets add approximations, each measured in the tests and the bench:
// - renderScale < 1: fewer rays, bilinear upscale to the output size;
// - bakeRes / bakeFactor: the motion bake's grid;
// - weightEps: the colour head skips samples with compositing weight below it;
// - occupancySlices: the per-frame occupancy probes are refreshed 1/n of the grid per
//   frame (round robin, so occupancy lags expression changes by up to n frames);
// - stepScale: longer ray steps (a coarser quadrature of the same volume integral).
// Buffers owned by the renderer are reused across frames.
import { cpuKernels } from '../../kernels/cpu';
import type { DeformMlp, Kernels, RenderRaysScene } from '../../kernels/KernelsTypes';
import { type AvatarModel, modelDims } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { copyCols } from './Columns';
import { compositeOver, type UnderLayer, underRgba, WHITE_UNDER } from './Compositing';
import { modelPixelCamera, type PixelCamera, pixelRays } from './Framing';
import { dilateOccupancy, occupancyProbes } from './Occupancy';
import { cameraRays, raysToCanonical } from './Pose';
import { type UpscalePlan, upscalePlan, upscaleRgb } from './FastUpscale';
import { occupiedBox, type PixelRect, projectedRect } from './ScreenBounds';

export interface RenderSize {
  readonly width: number;
  readonly height: number;
}

export interface RendererOptions extends RenderSize {
  readonly kernels?: Kernels;
  /** The output camera, of width x height (default: the model's square view, modelPixelCamera). */
  readonly camera?: PixelCamera;
  /** What the head is composited onto (default: white). */
  readonly under?: UnderLayer;
  /** Early termination threshold on transmittance. */
  readonly tEps?: number;
  readonly alphaThreshold?: number;
  /**
   * The motion field is baked on a grid of bakeFactor x motionRes + 1 points per axis
   * over the motion box (default 2; 1 is the motion grid's own points). Finer bakes track the
   * exact model more closely at bakeFactor^3 times the per-frame MLP cost.
   */
  readonly bakeFactor?: number;
  /** Skip the occupancy grid (every cell occupied, every ray cast): isolates the motion-bake error in tests. */
  readonly noOccupancy?: boolean;
  /** Rays per axis relative to the output (<= 1); the image is upscaled bilinearly. */
  readonly renderScale?: number;
  /** Bake grid points per axis (overrides bakeFactor). */
  readonly bakeRes?: number;
  /** Colour head only where the compositing weight T*alpha >= weightEps. */
  readonly weightEps?: number;
  /** Occupancy probes refreshed in this many round-robin slices (1 = every frame). */
  readonly occupancySlices?: number;
  /**
   * Ray steps this many times the model's (>= 1). Alpha stays
   * 1 - exp(-sigma * step * densityScale), so this is a coarser quadrature of the same
   * volume integral: fewer density evaluations through the avatar's soft layer.
   */
  readonly stepScale?: number;
}

type Preset = Pick<RendererOptions, 'renderScale' | 'bakeFactor' | 'weightEps' | 'occupancySlices' | 'tEps' | 'stepScale'>;

/**
 * The realtime preset (`npm run bench:render`: 256 px in about 25 ms on this 2-core
 * machine with the fast config): half-resolution rays upscaled, motion baked at the
 * motion grid's own resolution, colour skipped below weight 2e-3, occupancy refreshed
 * over 4 frames, ray steps 1.5x the model's (-0.16 dB against the exact model; against
 * held-out ground truth -0.01 dB on KatieHill, -0.04 on selfie, +0.01 on expressions).
 */
export const REALTIME: Preset = {
  renderScale: 0.5, bakeFactor: 1, weightEps: 2e-3, occupancySlices: 4, stepScale: 1.5,
};

/**
 * What live calls render with (the render process; VOXFACE_AVATAR_RENDER_SCALE overrides
 * the scale): REALTIME (half-resolution rays: in the 640x360 call framing the face gets
 * one ray per two output pixels per axis, about 80 rays from forehead to chin, and only
 * the head's projected bounds are cast) with early termination at transmittance 1e-2.
 * (Until the call framing, LIVE cast 0.35 rays per pixel on a 256 square: 90x90 rays,
 * about 45 across the face.) Its cost per 640x360 frame: `npm run bench:render` (docs/engine.md).
 */
export const LIVE: Preset = { ...REALTIME, tEps: 1e-2 };

export interface FrameStats {
  readonly samples: number;
  readonly shadedSamples: number;
  /** Rays cast this frame (those inside the avatar's projected bounds) and the internal image's pixel count. */
  readonly rays: number;
  readonly pixels: number;
  /** The internal image's rectangle the rays were cast in (null: none). */
  readonly rect: PixelRect | null;
  /** Wall ms of the frame's stages (bake: fold + blend + bake; the rest in order). */
  readonly stageMs: { readonly bake: number; readonly occupancy: number; readonly rays: number; readonly upscale: number };
}

/** Slices columns [start, start+count) of a row-major [rows, cols] matrix. */
function sliceCols(w: Float32Array, rows: number, cols: number, start: number, count: number): Float32Array {
  const out = new Float32Array(rows * count);
  copyCols(w, cols, start, out, count, 0, count, rows);
  return out;
}

export class StreamingRenderer {
  readonly model: AvatarModel;
  readonly width: number;
  readonly height: number;
  private readonly k: Kernels;
  private readonly alphaThreshold: number;
  private readonly noOccupancy: boolean;
  private readonly d: ReturnType<typeof modelDims>;
  private readonly worldRays: { origins: Float32Array; dirs: Float32Array };
  /** The rays of this frame's rectangle, compacted row by row (a prefix is in use). */
  private readonly origins: Float32Array;
  private readonly dirs: Float32Array;
  private readonly rectColor: Float32Array;
  /** The output camera, and the internal image's (same view, scaled intrinsics). */
  readonly camera: PixelCamera;
  readonly internalCamera: PixelCamera;
  /** Set when compositing onto an image: the under-layer as RGBA8, the head's transmittance. */
  private readonly under: Uint8Array | null;
  private readonly transBuf: Float32Array | null;
  private readonly rectTrans: Float32Array | null;
  private readonly compositePlan: UpscalePlan | null;
  private readonly fill: readonly [number, number, number];
  private readonly rgba: Uint8Array;
  private readonly offsets: Float32Array;
  private readonly deform: DeformMlp;
  private readonly probeSigma: Float32Array;
  private readonly bakeRes: number;
  private readonly probes: Float32Array;
  private readonly densW0: Float32Array;
  private readonly colorW0: Float32Array;
  private readonly densB: Float32Array;
  private readonly colorB: Float32Array;
  private readonly slices: number;
  private readonly iw: number;
  private readonly ih: number;
  private readonly plan: UpscalePlan | null;
  private readonly colorBuf: Float32Array;
  private readonly rawOcc: Uint8Array;
  private readonly occ: Uint8Array;
  private frameNo = 0;
  private readonly sceneBase: Omit<RenderRaysScene, 'offsets' | 'occupancy' | 'densB0' | 'colorB0'>;
  lastStats: FrameStats = { samples: 0, shadedSamples: 0, rays: 0, pixels: 0, rect: null, stageMs: { bake: 0, occupancy: 0, rays: 0, upscale: 0 } };

  constructor(model: AvatarModel, o: RendererOptions) {
    if (!(Number.isInteger(o.width) && o.width > 0 && Number.isInteger(o.height) && o.height > 0))
      throw new RangeError(`renderer: width and height must be positive integers, got ${o.width}x${o.height}`);
    const c = model.config, d = modelDims(c);
    this.model = model;
    this.width = o.width;
    this.height = o.height;
    this.k = o.kernels ?? cpuKernels;
    this.alphaThreshold = o.alphaThreshold ?? 0.01;
    this.noOccupancy = o.noOccupancy ?? false;
    this.d = d;
    const scale = o.renderScale ?? 1;
    if (!(scale > 0 && scale <= 1)) throw new RangeError(`renderer: renderScale must be in (0, 1], got ${scale}`);
    this.iw = Math.max(1, Math.round(o.width * scale));
    this.ih = Math.max(1, Math.round(o.height * scale));
    this.plan = this.iw === o.width && this.ih === o.height ? null : upscalePlan(this.iw, this.ih, o.width, o.height);
    this.colorBuf = new Float32Array(3 * this.iw * this.ih);
    this.rectColor = new Float32Array(3 * this.iw * this.ih);
    this.slices = o.occupancySlices ?? 1;
    if (!(Number.isInteger(this.slices) && this.slices >= 1)) throw new RangeError(`renderer: occupancySlices must be a positive integer, got ${this.slices}`);
    const cam = o.camera ?? modelPixelCamera(c.camera, o.width, o.height);
    if (cam.width !== o.width || cam.height !== o.height)
      throw new RangeError(`renderer: the camera is ${cam.width}x${cam.height}, the output ${o.width}x${o.height}`);
    this.camera = cam;
    // The internal image covers the same view: pixel centres map by the upscale's
    // pixel-centre alignment, so the principal point scales with the width and height
    // (the focal length with the height, as Pose.cameraRays' square view does).
    // The model's view keeps today's arithmetic bit for bit (cameraRays).
    this.internalCamera = o.camera ? {
      width: this.iw, height: this.ih, distance: cam.distance, focalPx: (cam.focalPx * this.ih) / o.height,
      cx: (cam.cx * this.iw) / o.width, cy: (cam.cy * this.ih) / o.height,
    } : modelPixelCamera(c.camera, this.iw, this.ih);
    this.worldRays = o.camera ? pixelRays(this.internalCamera) : cameraRays(c.camera, this.iw, this.ih);
    const under = o.under ?? WHITE_UNDER;
    this.fill = under.kind === 'colour' ? under.rgb : [0, 0, 0];
    this.under = under.kind === 'image' ? underRgba(under, o.width, o.height) : null;
    this.transBuf = this.under ? new Float32Array(this.iw * this.ih) : null;
    this.rectTrans = this.under ? new Float32Array(this.iw * this.ih) : null;
    this.compositePlan = this.under ? (this.plan ?? upscalePlan(this.iw, this.ih, o.width, o.height)) : null;
    this.origins = new Float32Array(this.worldRays.origins.length);
    this.dirs = new Float32Array(this.worldRays.dirs.length);
    this.rgba = new Uint8Array(o.width * o.height * 4);
    const bakeFactor = o.bakeFactor ?? 2;
    if (!(Number.isInteger(bakeFactor) && bakeFactor >= 1)) throw new RangeError(`renderer: bakeFactor must be a positive integer, got ${bakeFactor}`);
    const m = o.bakeRes ?? bakeFactor * c.motionRes + 1;
    if (!(Number.isInteger(m) && m >= 2)) throw new RangeError(`renderer: bakeRes must be an integer >= 2, got ${m}`);
    this.bakeRes = m;
    this.offsets = new Float32Array(3 * m * m * m);
    this.probes = occupancyProbes(model);
    const p = model.params;
    this.deform = { frequencies: c.frequencies, hidden: c.deformHidden, W0: p.deformW0, b0: p.deformB0, W1: p.deformW1, b1: p.deformB1 };
    this.probeSigma = new Float32Array(this.probes.length / 3);
    this.densW0 = sliceCols(p.densityW0, c.densityHidden, d.densIn, 0, d.encA);
    this.colorW0 = sliceCols(p.colorW0, c.colorHidden, d.colorIn, 0, d.encA + d.encV);
    this.densB = new Float32Array(c.densityHidden);
    this.colorB = new Float32Array(c.colorHidden);
    const stepScale = o.stepScale ?? 1;
    if (!(stepScale >= 1 && stepScale <= 8)) throw new RangeError(`renderer: stepScale must be in [1, 8], got ${stepScale}`);
    const step = d.step * stepScale;
    const G = c.occupancyRes;
    this.rawOcc = new Uint8Array(G * G * G);
    this.occ = new Uint8Array(G * G * G);
    const tEps = o.tEps ?? 1e-3;
    this.sceneBase = {
      gridRes: G, offsetRes: m, appearance: p.appearance, appearanceRes: c.appearanceRes + 1, channels: c.appearanceChannels,
      frequencies: c.frequencies, densW0: this.densW0, densW1: p.densityW1, densB1: p.densityB1[0]!, colorW0: this.colorW0,
      colorW1: p.colorW1, colorB1: p.colorB1, densityHidden: c.densityHidden, colorHidden: c.colorHidden,
      motionBox: { min: Float32Array.from(c.motionBox.min), max: Float32Array.from(c.motionBox.max) },
      appearanceBox: { min: Float32Array.from(c.appearanceBox.min), max: Float32Array.from(c.appearanceBox.max) },
      step, maxSamples: stepScale === 1 ? d.maxSamples : Math.ceil(d.maxSamples / stepScale) + 1, stepDensity: step * c.densityScale,
      tEps, weightEps: o.weightEps ?? 0, background: Float32Array.from(this.fill),
    };
  }

  /** Internal (shaded) resolution. */
  get renderSize(): RenderSize {
    return { width: this.iw, height: this.ih };
  }

  /**
   * Occupancy for this frame, into this.occ (the scene's occupancy): density at the probes
   * of 1/slices of the grid (all of it on the first frame), merged into the kept raw map,
   * then dilated.
   */
  private frameOccupancy(scene: RenderRaysScene): void {
    const c = this.model.config, G = c.occupancyRes, n = G * G * G;
    if (this.noOccupancy) {
      this.occ.fill(1);
      return;
    }
    const parts = this.frameNo === 0 ? 1 : this.slices, j = this.frameNo === 0 ? 0 : this.frameNo % parts;
    const b = Math.floor((j * n) / parts), e = Math.floor(((j + 1) * n) / parts);
    const sigma = this.probeSigma.subarray(0, e - b);
    this.k.densityAt(this.probes.subarray(3 * b, 3 * e), scene, sigma);
    // At the model's step, whatever the rays' stepScale: occupancy is a property of the volume.
    const minSigma = -Math.log(1 - this.alphaThreshold) / (this.d.step * c.densityScale);
    for (let i = b; i < e; i++) this.rawOcc[i] = sigma[i - b]! > minSigma ? 1 : 0;
    dilateOccupancy(this.rawOcc, G, this.occ);
  }

  /** The internal image's pixels whose rays can meet an occupied cell this frame (null: none). */
  private raysRect(pose: HeadPose): PixelRect | null {
    const c = this.model.config;
    if (this.noOccupancy) return { x0: 0, y0: 0, x1: this.iw, y1: this.ih };
    const box = occupiedBox(this.occ, c.occupancyRes, c.appearanceBox);
    return box && projectedRect(box, pose, this.internalCamera);
  }

  /** Renders one frame into the renderer's RGBA buffer (valid until the next call). */
  render(coefficients: Float32Array, pose: HeadPose): Uint8Array {
    const E = this.model.config.expressionCount;
    if (coefficients.length !== E) throw new RangeError(`render: expected ${E} coefficients, got ${coefficients.length}`);
    const t0 = performance.now();
    this.foldBiases(coefficients);
    const offsets = this.bakeMotion(coefficients);
    const scene: RenderRaysScene = { ...this.sceneBase, offsets, occupancy: this.occ, densB0: this.densB, colorB0: this.colorB };
    const t1 = performance.now();
    this.frameOccupancy(scene);
    this.frameNo++;
    const t2 = performance.now();
    const rect = this.raysRect(pose);
    let stats = { samples: 0, shaded: 0 }, rays = 0;
    // What a ray that meets nothing composites to: the flat under-layer's colour, or for
    // an image nothing of the head (C = 0) and all of what is behind (T = 1).
    for (let i = 0; i < this.colorBuf.length; i += 3) {
      this.colorBuf[i] = this.fill[0]; this.colorBuf[i + 1] = this.fill[1]; this.colorBuf[i + 2] = this.fill[2];
    }
    this.transBuf?.fill(1);
    if (rect) {
      const rw = rect.x1 - rect.x0;
      rays = rw * (rect.y1 - rect.y0);
      for (let y = rect.y0, i = 0; y < rect.y1; y++, i += 3 * rw) {
        const from = 3 * (y * this.iw + rect.x0);
        this.origins.set(this.worldRays.origins.subarray(from, from + 3 * rw), i);
        this.dirs.set(this.worldRays.dirs.subarray(from, from + 3 * rw), i);
      }
      const origins = this.origins.subarray(0, 3 * rays), dirs = this.dirs.subarray(0, 3 * rays);
      raysToCanonical(pose, origins, dirs);
      const rectTrans = this.rectTrans?.subarray(0, rays);
      stats = this.k.renderRays(origins, dirs, scene, this.rectColor.subarray(0, 3 * rays), rectTrans);
      for (let y = rect.y0, i = 0; y < rect.y1; y++, i += 3 * rw) {
        this.colorBuf.set(this.rectColor.subarray(i, i + 3 * rw), 3 * (y * this.iw + rect.x0));
        if (rectTrans) this.transBuf!.set(rectTrans.subarray(i / 3, i / 3 + rw), y * this.iw + rect.x0);
      }
    }
    const t3 = performance.now();
    if (this.under) compositeOver(this.colorBuf, this.transBuf!, this.iw, this.compositePlan!, rect, this.under, this.rgba);
    else this.writeRgba(this.colorBuf);
    const stageMs = { bake: t1 - t0, occupancy: t2 - t1, rays: t3 - t2, upscale: performance.now() - t3 };
    this.lastStats = { samples: stats.samples, shadedSamples: stats.shaded, rays, pixels: this.iw * this.ih, rect, stageMs };
    return this.rgba;
  }

  private writeRgba(color: Float32Array): void {
    if (this.plan) {
      upscaleRgb(color, this.iw, this.plan, this.rgba);
      return;
    }
    for (let r = 0; r < this.iw * this.ih; r++) {
      for (let ch = 0; ch < 3; ch++) this.rgba[4 * r + ch] = Math.round(Math.min(Math.max(color[3 * r + ch]!, 0), 1) * 255);
      this.rgba[4 * r + 3] = 255;
    }
  }

  /** b' = b + W[:, coefficient columns] (coefficients / 3): exact, once per frame. */
  private foldBiases(coefficients: Float32Array): void {
    const c = this.model.config, p = this.model.params, d = this.d, E = c.expressionCount;
    const fold = (w: Float32Array, b: Float32Array, rows: number, cols: number, start: number, out: Float32Array) => {
      for (let o = 0; o < rows; o++) {
        let s = b[o]!;
        for (let e = 0; e < E; e++) s += w[o * cols + start + e]! * (coefficients[e]! / 3);
        out[o] = s;
      }
    };
    fold(p.densityW0, p.densityB0, c.densityHidden, d.densIn, d.encA, this.densB);
    fold(p.colorW0, p.colorB0, c.colorHidden, d.colorIn, d.encA + d.encV, this.colorB);
  }

  /**
   * Offset grid [m^3, 3] (already x0.1): the deformation MLP at the bake grid's points
   * (one native op; the returned buffer is the renderer's, overwritten by the next frame).
   */
  bakeMotion(coefficients: Float32Array): Float32Array {
    const p = this.model.params, k = this.k;
    const motion = k.blendVolumes(p.motionMean, p.motionBases, coefficients).out;
    k.bakeMotion(motion, this.d.motionShape, this.bakeRes, this.deform, this.offsets);
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
