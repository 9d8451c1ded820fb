// Held-out evaluation of what people see: the avatar rendered by the live path that calls
// use (Renderer's LIVE preset, one StreamingRenderer through the held-out frames in time
// order, as a call drives it), scored against the dataset's frames in three regions
// (server/engine/FaceRegion.ts): the face oval, the person mask and the whole frame, with
// a sharpness ratio in the face (server/engine/Sharpness.ts). Two baselines get the same
// measures in the same run: the mean training image, and the training frame whose
// coefficients and pose are nearest (does the model do better than looking up the
// closest frame it saw?).
//
// The dataset's images are the crop composited on white with its head mask, and that is
// what the model learns to draw, so the whole-frame scores compare with that composite;
// inside the face oval and the person mask the composite is the video's own pixels (the
// mask is ~1 there), so the face and person scores compare with the camera's picture.
import type { AvatarModel } from './AvatarModel';
import type { HeadPose } from './AvatarModelTypes';
import { type Region, personRegion, regionArea } from './FaceRegion';
import { meanImage, meanSsim, psnr, regionPsnr, ssimMap } from './Metrics';
import { throughRenderScale } from './RenderScaleCeiling';
import { LIVE, type RendererOptions, StreamingRenderer } from './Renderer';
import { laplacianEnergy } from './Sharpness';
import type { TrainingFrame } from './TrainerTypes';

export { ssim } from './Metrics';

/** Distance used to pick the nearest training frame: coefficients (in [0,1]) and pose (radians, model units) in one Euclidean space. */
export function frameDistance(a: { coefficients: Float32Array; pose: HeadPose }, b: { coefficients: Float32Array; pose: HeadPose }): number {
  let s = 0;
  for (let i = 0; i < a.coefficients.length; i++) s += (a.coefficients[i]! - b.coefficients[i]!) ** 2;
  for (let k = 0; k < 3; k++) s += (a.pose.rotation[k]! - b.pose.rotation[k]!) ** 2 + (a.pose.translation[k]! - b.pose.translation[k]!) ** 2;
  return Math.sqrt(s + (a.pose.scale - b.pose.scale) ** 2);
}

export function nearestFrame<T extends { coefficients: Float32Array; pose: HeadPose }>(query: { coefficients: Float32Array; pose: HeadPose }, pool: readonly T[]): T {
  let best = pool[0]!, bestD = Infinity;
  for (const f of pool) {
    const d = frameDistance(query, f);
    if (d < bestD) { bestD = d; best = f; }
  }
  return best;
}

/** RGBA bytes -> RGB float [0,1]. */
export function rgbaToRgb(rgba: Uint8Array): Float32Array {
  const n = rgba.length / 4, out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[3 * i + c] = rgba[4 * i + c]! / 255;
  return out;
}

/** A held-out frame with what the regions need: its mask and, when it has a face, its face-oval region. */
export interface EvalFrame extends TrainingFrame {
  /** [width*height] person mask in [0,1]. */
  readonly mask: Float32Array;
  readonly face: Region | undefined;
  /** Pixels with a ground truth (the framed eval: inside the video); every pixel when absent. */
  readonly frame?: Region;
}

export interface RegionScores { readonly psnr: number; readonly ssim: number }

/** psnr/ssim: the whole frame (the fields older evals printed); face and person: inside those regions. */
export interface Scores extends RegionScores {
  readonly face: RegionScores & {
    /** Laplacian energy of luma over the video's, pooled over the frames (1: as sharp as the camera). */
    readonly sharpness: number;
  };
  readonly person: RegionScores;
}

export interface EvalResult {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  /** Rays per output pixel per axis of the renderer evaluated (LIVE's unless set). */
  readonly renderScale: number;
  readonly model: Scores;
  readonly meanImage: Scores;
  readonly nearestFrame: Scores;
  /**
   * The held-out frames themselves through the renderer's ray grid and upscale
   * (RenderScaleCeiling.ts): what a perfect avatar would score at this renderScale.
   */
  readonly renderScaleCeiling: Scores;
  /** Held-out frames with a face region (the face scores average over these). */
  readonly faceFrames: number;
  /** Mean share of the frame's pixels inside the face oval. */
  readonly faceShare: number;
  readonly renderMsPerFrame: number;
}

export interface EvalOptions {
  readonly width: number;
  readonly height: number;
  /** Renderer options over LIVE (e.g. another renderScale). */
  readonly renderer?: Partial<Omit<RendererOptions, 'width' | 'height'>>;
  /** Each held-out frame's render (RGB float) as soon as it is scored. */
  readonly onFrame?: (i: number, rendered: Float32Array, frame: EvalFrame) => void;
}

class Accumulator {
  private readonly sums = { psnr: 0, ssim: 0, facePsnr: 0, faceSsim: 0, personPsnr: 0, personSsim: 0, sharpRender: 0, sharpTruth: 0 };
  private frames = 0;
  private faceFrames = 0;
  private personFrames = 0;

  add(image: Float32Array, f: EvalFrame, width: number, height: number): void {
    const map = ssimMap(image, f.image, width, height), person = personRegion(f.mask), s = this.sums;
    s.psnr += f.frame ? regionPsnr(image, f.image, f.frame) : psnr(image, f.image);
    s.ssim += meanSsim(map, width, height, f.frame);
    this.frames++;
    if (regionArea(person) > 0) {
      s.personPsnr += regionPsnr(image, f.image, person);
      s.personSsim += meanSsim(map, width, height, person);
      this.personFrames++;
    }
    if (f.face && regionArea(f.face) > 0) {
      s.facePsnr += regionPsnr(image, f.image, f.face);
      s.faceSsim += meanSsim(map, width, height, f.face);
      s.sharpRender += laplacianEnergy(image, width, height, f.face).sum;
      s.sharpTruth += laplacianEnergy(f.image, width, height, f.face).sum;
      this.faceFrames++;
    }
  }

  scores(): Scores {
    const s = this.sums, avg = (v: number, n: number) => (n > 0 ? v / n : Number.NaN);
    return {
      psnr: avg(s.psnr, this.frames), ssim: avg(s.ssim, this.frames),
      face: { psnr: avg(s.facePsnr, this.faceFrames), ssim: avg(s.faceSsim, this.faceFrames), sharpness: s.sharpTruth > 0 ? s.sharpRender / s.sharpTruth : Number.NaN },
      person: { psnr: avg(s.personPsnr, this.personFrames), ssim: avg(s.personSsim, this.personFrames) },
    };
  }
}

/** What each held-out frame is compared with besides the avatar: the mean training image and the nearest training frame's image. */
export interface Baselines {
  readonly mean: Float32Array;
  nearest(frame: EvalFrame): Float32Array;
}

/** The baselines from training frames held in memory (the square model view). */
export function baselinesFrom(train: readonly TrainingFrame[]): Baselines {
  if (train.length === 0) throw new RangeError('evaluate: the dataset has no training frames (needed for the baselines)');
  return { mean: meanImage(train.map((f) => f.image)), nearest: (f) => nearestFrame(f, train).image };
}

/**
 * Scores `render` (RGB float of one held-out frame, called in time order as a call drives
 * it) and both baselines on `test`, in every region. A frame's `frame` region, when it has
 * one, limits the whole-frame scores to the pixels that have a ground truth.
 */
export function evaluateFrames(
  render: (frame: EvalFrame) => Float32Array, test: readonly EvalFrame[], baselines: Baselines,
  o: Pick<EvalOptions, 'width' | 'height' | 'onFrame'> & { renderScale: number },
): EvalResult {
  if (test.length === 0) throw new RangeError('evaluate: the dataset has no held-out (test) frames');
  const { width, height } = o, acc = { m: new Accumulator(), a: new Accumulator(), n: new Accumulator(), c: new Accumulator() };
  let ms = 0, faceFrames = 0, faceShare = 0;
  test.forEach((f, i) => {
    const t0 = performance.now();
    const img = render(f);
    ms += performance.now() - t0;
    acc.m.add(img, f, width, height);
    acc.a.add(baselines.mean, f, width, height);
    acc.n.add(baselines.nearest(f), f, width, height);
    acc.c.add(rgbaToRgb(throughRenderScale(f.image, width, height, o.renderScale)), f, width, height);
    if (f.face) { faceFrames++; faceShare += regionArea(f.face) / (width * height); }
    o.onFrame?.(i, img, f);
  });
  return {
    frames: test.length, width, height, renderScale: o.renderScale,
    model: acc.m.scores(), meanImage: acc.a.scores(), nearestFrame: acc.n.scores(), renderScaleCeiling: acc.c.scores(),
    faceFrames, faceShare: faceFrames > 0 ? faceShare / faceFrames : 0, renderMsPerFrame: ms / test.length,
  };
}

/** The avatar through the live renderer on `test` (in order) in the model's square view, and both baselines from `train`. */
export function evaluateAvatar(model: AvatarModel, train: readonly TrainingFrame[], test: readonly EvalFrame[], o: EvalOptions): EvalResult {
  if (test.length === 0) throw new RangeError('evaluate: the dataset has no held-out (test) frames');
  const { width, height } = o, options = { ...LIVE, ...o.renderer };
  const renderer = new StreamingRenderer(model, { ...options, width, height });
  return evaluateFrames((f) => rgbaToRgb(renderer.render(f.coefficients, f.pose)), test, baselinesFrom(train), {
    width, height, onFrame: o.onFrame, renderScale: options.renderScale ?? 1,
  });
}
