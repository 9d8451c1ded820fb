// What a live frame needs besides the kernels that shade it, shared by the CPU renderer
// (Renderer.ts) and the GPU one (GpuRenderer.ts) so both draw the same picture: the
// output and internal cameras and their rays, the avatar's inference-form scene (first
// layers' coefficient columns folded into biases once per frame), the occupancy
// bookkeeping (probe slices, merged and dilated), and the rectangle of rays that can meet
// an occupied cell, compacted row by row in canonical space. Buffers are reused across frames.
import type { DeformMlp, GridShape, RenderRaysScene } from '../../kernels/KernelsTypes';
import { type AvatarModel, modelDims } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { sliceCols } from './Columns';
import { underRgba, WHITE_UNDER } from './Compositing';
import { FloaterFilter, FLOATER_SHARE } from './Floaters';
import { foldCoefficientColumns } from './FoldedHeads';
import { modelPixelCamera, type PixelCamera, pixelRays } from './Framing';
import { dilateOccupancy, occupancyProbes } from './Occupancy';
import { cameraRays, raysToCanonical } from './Pose';
import type { RendererOptions } from './RendererTypes';
import { occupiedBox, type PixelRect, projectedRect } from './ScreenBounds';

/** The scene without the parts that change every frame. */
export type SceneBase = Omit<RenderRaysScene, 'offsets' | 'occupancy' | 'densB0' | 'colorB0'>;

export class LiveFrame {
  readonly model: AvatarModel;
  readonly width: number;
  readonly height: number;
  /** Internal (shaded) resolution. */
  readonly iw: number;
  readonly ih: number;
  /** The output camera, and the internal image's (same view, scaled intrinsics). */
  readonly camera: PixelCamera;
  readonly internalCamera: PixelCamera;
  /** A flat under-layer's colour (what a missed ray shows); black under an image. */
  readonly fill: readonly [number, number, number];
  /** The under-layer as RGBA8 when it is an image (background + plates), else null. */
  readonly under: Uint8Array | null;
  readonly bakeRes: number;
  /** The blended motion volume's shape (bakeMotion's input). */
  readonly motionShape: GridShape;
  readonly deform: DeformMlp;
  /** Occupancy probe points [G^3, 3] (cell centres, canonical). */
  readonly probes: Float32Array;
  readonly slices: number;
  readonly noOccupancy: boolean;
  readonly sceneBase: SceneBase;
  /** This frame's folded first-layer biases (foldBiases). */
  readonly densB: Float32Array;
  readonly colorB: Float32Array;
  /** This frame's occupancy (dilated), and the raw map the probe slices merge into. */
  readonly occ: Uint8Array;
  private readonly rawOcc: Uint8Array;
  /** Clears floaters from the merged map before it is dilated (null: every component is drawn). */
  private readonly floaters: FloaterFilter | null;
  private readonly minSigma: number;
  /** The internal image's camera rays, row-major (the GPU renderer keeps them resident). */
  readonly worldRays: { readonly origins: Float32Array; readonly dirs: Float32Array };
  /** The rays of this frame's rectangle, compacted row by row (a prefix is in use). */
  private readonly origins: Float32Array;
  private readonly dirs: Float32Array;

  constructor(model: AvatarModel, o: RendererOptions) {
    if (!(Number.isInteger(o.width) && o.width > 0 && Number.isInteger(o.height) && o.height > 0))
      throw new RangeError(`renderer: width and height must be positive integers, got ${o.width}x${o.height}`);
    const c = model.config, d = modelDims(c);
    this.model = model;
    this.width = o.width;
    this.height = o.height;
    this.noOccupancy = o.noOccupancy ?? false;
    const scale = o.renderScale ?? 1;
    if (!(scale > 0 && scale <= 1)) throw new RangeError(`renderer: renderScale must be in (0, 1], got ${scale}`);
    this.iw = Math.max(1, Math.round(o.width * scale));
    this.ih = Math.max(1, Math.round(o.height * scale));
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
    this.origins = new Float32Array(this.worldRays.origins.length);
    this.dirs = new Float32Array(this.worldRays.dirs.length);
    const under = o.under ?? WHITE_UNDER;
    this.fill = under.kind === 'colour' ? under.rgb : [0, 0, 0];
    this.under = under.kind === 'image' ? underRgba(under, o.width, o.height) : null;
    const bakeFactor = o.bakeFactor ?? 2;
    if (!(Number.isInteger(bakeFactor) && bakeFactor >= 1)) throw new RangeError(`renderer: bakeFactor must be a positive integer, got ${bakeFactor}`);
    const m = o.bakeRes ?? bakeFactor * c.motionRes + 1;
    if (!(Number.isInteger(m) && m >= 2)) throw new RangeError(`renderer: bakeRes must be an integer >= 2, got ${m}`);
    this.bakeRes = m;
    this.motionShape = d.motionShape;
    this.probes = occupancyProbes(model);
    const p = model.params;
    this.deform = { frequencies: c.frequencies, hidden: c.deformHidden, W0: p.deformW0, b0: p.deformB0, W1: p.deformW1, b1: p.deformB1 };
    this.densB = new Float32Array(c.densityHidden);
    this.colorB = new Float32Array(c.colorHidden);
    const stepScale = o.stepScale ?? 1;
    if (!(stepScale >= 1 && stepScale <= 8)) throw new RangeError(`renderer: stepScale must be in [1, 8], got ${stepScale}`);
    const step = d.step * stepScale;
    const G = c.occupancyRes;
    this.rawOcc = new Uint8Array(G * G * G);
    this.occ = new Uint8Array(G * G * G);
    if (this.noOccupancy) this.occ.fill(1);
    const floaterShare = o.floaterShare ?? FLOATER_SHARE;
    if (!(floaterShare >= 0 && floaterShare <= 1)) throw new RangeError(`renderer: floaterShare must be in [0, 1], got ${floaterShare}`);
    this.floaters = this.noOccupancy || floaterShare === 0 ? null : new FloaterFilter(G, floaterShare);
    // At the model's step, whatever the rays' stepScale: occupancy is a property of the volume.
    this.minSigma = -Math.log(1 - (o.alphaThreshold ?? 0.01)) / (d.step * c.densityScale);
    this.sceneBase = {
      gridRes: G, offsetRes: m, appearance: p.appearance, appearanceRes: c.appearanceRes + 1, channels: c.appearanceChannels,
      frequencies: c.frequencies, densW0: sliceCols(p.densityW0, c.densityHidden, d.densIn, 0, d.encA), densW1: p.densityW1,
      densB1: p.densityB1[0]!, colorW0: sliceCols(p.colorW0, c.colorHidden, d.colorIn, 0, d.encA + d.encV),
      colorW1: p.colorW1, colorB1: p.colorB1, densityHidden: c.densityHidden, colorHidden: c.colorHidden,
      motionBox: { min: Float32Array.from(c.motionBox.min), max: Float32Array.from(c.motionBox.max) },
      appearanceBox: { min: Float32Array.from(c.appearanceBox.min), max: Float32Array.from(c.appearanceBox.max) },
      step, maxSamples: stepScale === 1 ? d.maxSamples : Math.ceil(d.maxSamples / stepScale) + 1, stepDensity: step * c.densityScale,
      tEps: o.tEps ?? 1e-3, weightEps: o.weightEps ?? 0, background: Float32Array.from(this.fill),
    };
  }

  /** Checks the coefficients' count (a RangeError names both). */
  checkCoefficients(coefficients: Float32Array): void {
    const E = this.model.config.expressionCount;
    if (coefficients.length !== E) throw new RangeError(`render: expected ${E} coefficients, got ${coefficients.length}`);
  }

  /** b' = b + W[:, coefficient columns] (coefficients / 3) into densB and colorB: exact, once per frame. */
  foldBiases(coefficients: Float32Array): void {
    const c = this.model.config, p = this.model.params, d = modelDims(c);
    foldCoefficientColumns(p.densityW0, d.densIn, d.encA, p.densityB0, coefficients, this.densB);
    foldCoefficientColumns(p.colorW0, d.colorIn, d.encA + d.encV, p.colorB0, coefficients, this.colorB);
  }

  /** The probes [b, e) frame `frameNo` refreshes: all of them on the first frame, then 1/slices round robin. */
  probeSlice(frameNo: number): readonly [number, number] {
    const G = this.model.config.occupancyRes, n = G * G * G;
    const parts = frameNo === 0 ? 1 : this.slices, j = frameNo === 0 ? 0 : frameNo % parts;
    return [Math.floor((j * n) / parts), Math.floor(((j + 1) * n) / parts)];
  }

  /** Merges the density at probes [b, e) into the raw map, clears floaters and dilates it into `occ`. */
  mergeOccupancy(sigma: Float32Array, b: number, e: number): void {
    const G = this.model.config.occupancyRes;
    for (let i = b; i < e; i++) this.rawOcc[i] = sigma[i - b]! > this.minSigma ? 1 : 0;
    this.floaters?.filter(this.rawOcc);
    dilateOccupancy(this.rawOcc, G, this.occ);
  }

  /** The internal image's pixels whose rays can meet an occupied cell this frame (null: none). */
  raysRect(pose: HeadPose): PixelRect | null {
    const c = this.model.config;
    if (this.noOccupancy) return { x0: 0, y0: 0, x1: this.iw, y1: this.ih };
    const box = occupiedBox(this.occ, c.occupancyRes, c.appearanceBox);
    return box && projectedRect(box, pose, this.internalCamera);
  }

  /** The rectangle's rays, row by row, in the avatar's canonical space (views of reused buffers). */
  rectRays(rect: PixelRect, pose: HeadPose): { origins: Float32Array; dirs: Float32Array; count: number } {
    const rw = rect.x1 - rect.x0, count = rw * (rect.y1 - rect.y0);
    for (let y = rect.y0, i = 0; y < rect.y1; y++, i += 3 * rw) {
      const from = 3 * (y * this.iw + rect.x0);
      this.origins.set(this.worldRays.origins.subarray(from, from + 3 * rw), i);
      this.dirs.set(this.worldRays.dirs.subarray(from, from + 3 * rw), i);
    }
    const origins = this.origins.subarray(0, 3 * count), dirs = this.dirs.subarray(0, 3 * count);
    raysToCanonical(pose, origins, dirs);
    return { origins, dirs, count };
  }
}
