/**
 * What the capture page asks of the newcomer and how it judges the camera
 * picture, as pure functions (no DOM): the prompt timeline over the recording,
 * the lighting check, the framing check, and the one-second live check that
 * fixes the crop before recording starts.
 */
import { decideCropWindow, type Box } from '../../shared/dataset/cropWindow';
import type { CropWindow } from '../../shared/dataset/format';

export interface Prompt {
  text: string;
  startSec: number;
  endSec: number;
}

/**
 * Prompts in order, each with a share of the recording. The dataset holds out
 * the last 15% of frames as its test set, so the last prompt (over 15% of the
 * time) returns to what the start covered (neutral face, talking): the held-out
 * quality then measures how well the avatar reproduces what it was trained on,
 * not an expression it never saw.
 */
const PROMPT_WEIGHTS: readonly { text: string; weight: number }[] = [
  { text: 'Look at the camera', weight: 1 },
  { text: 'Turn your head a little left', weight: 1 },
  { text: 'Turn your head a little right', weight: 1 },
  { text: 'Tilt your head a little up', weight: 0.75 },
  { text: 'Tilt your head a little down', weight: 0.75 },
  { text: 'Say a few sentences', weight: 2 },
  { text: 'Smile', weight: 1 },
  { text: 'Raise your eyebrows', weight: 1 },
  { text: 'Open your mouth wide', weight: 1 },
  { text: 'Back to neutral: keep talking naturally', weight: 2 },
];

/** The prompts laid end to end over `totalSec` seconds, in proportion to their weights. */
export function promptSchedule(totalSec: number): Prompt[] {
  if (!(totalSec > 0)) throw new Error(`recording length must be positive, got ${totalSec}`);
  const totalWeight = PROMPT_WEIGHTS.reduce((sum, p) => sum + p.weight, 0);
  const schedule: Prompt[] = [];
  let weightSoFar = 0;
  for (const { text, weight } of PROMPT_WEIGHTS) {
    const startSec = (weightSoFar / totalWeight) * totalSec;
    weightSoFar += weight;
    // The last prompt ends exactly at totalSec (no rounding gap at the end).
    const endSec = schedule.length === PROMPT_WEIGHTS.length - 1 ? totalSec : (weightSoFar / totalWeight) * totalSec;
    schedule.push({ text, startSec, endSec });
  }
  return schedule;
}

/** The prompt shown at `tSec` into the recording (the last one after the end, the first before the start). */
export function promptAt(schedule: readonly Prompt[], tSec: number): Prompt {
  const last = schedule[schedule.length - 1];
  if (!last) throw new Error('empty prompt schedule');
  return schedule.find((p) => tSec < p.endSec) ?? last;
}

export type LightVerdict = 'ok' | 'dark' | 'bright';
export type FramingVerdict = 'ok' | 'off-centre' | 'too-small' | 'too-close';

/** Mean luma thresholds on 0..255: below, the tracker and the avatar lose detail in shadows; above, in highlights. */
export const LIGHT_RANGE = { min: 50, max: 220 } as const;

/** An ImageData-like picture: RGBA bytes, row by row. */
export interface Picture {
  data: ArrayLike<number>;
  width: number;
  height: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Mean Rec. 601 luma (0..255) over `rect` (clamped to the picture; the whole
 * picture when omitted), sampling every `step`-th pixel in both directions.
 */
export function meanLuma(picture: Picture, rect?: Rect, step = 2): number {
  const x0 = Math.max(0, Math.floor(rect?.x ?? 0));
  const y0 = Math.max(0, Math.floor(rect?.y ?? 0));
  const x1 = Math.min(picture.width, Math.ceil(rect ? rect.x + rect.width : picture.width));
  const y1 = Math.min(picture.height, Math.ceil(rect ? rect.y + rect.height : picture.height));
  let sum = 0;
  let count = 0;
  for (let y = y0; y < y1; y += step) {
    for (let x = x0; x < x1; x += step) {
      const i = (y * picture.width + x) * 4;
      sum += 0.299 * (picture.data[i] ?? 0) + 0.587 * (picture.data[i + 1] ?? 0) + 0.114 * (picture.data[i + 2] ?? 0);
      count += 1;
    }
  }
  if (count === 0) throw new Error('meanLuma: the area lies outside the picture');
  return sum / count;
}

export function lightVerdict(luma: number): LightVerdict {
  if (luma < LIGHT_RANGE.min) return 'dark';
  if (luma > LIGHT_RANGE.max) return 'bright';
  return 'ok';
}

/**
 * Limits on the landmark box (brow to chin) relative to the frame height. The
 * crop adds 0.75 of the face height above and 0.3 below (shared/dataset/cropWindow),
 * about 2x the face: a face over half the frame height would have its hair or
 * chin cut. A face under a fifth of it gives a crop of under 0.4 of the frame,
 * upscaled to 512 px with little detail. The centre may be off by a sixth of the frame.
 */
export const FRAMING = { minFaceHeight: 0.2, maxFaceHeight: 0.5, maxCentreOffset: 1 / 6 } as const;

export function framingVerdict(box: Box, frameWidth: number, frameHeight: number): FramingVerdict {
  const faceHeight = (box.maxY - box.minY) / frameHeight;
  if (faceHeight > FRAMING.maxFaceHeight) return 'too-close';
  if (faceHeight < FRAMING.minFaceHeight) return 'too-small';
  const dx = (box.minX + box.maxX) / 2 / frameWidth - 0.5;
  const dy = (box.minY + box.maxY) / 2 / frameHeight - 0.5;
  if (Math.abs(dx) > FRAMING.maxCentreOffset || Math.abs(dy) > FRAMING.maxCentreOffset) return 'off-centre';
  return 'ok';
}

/** One tracked frame of the live check. */
export interface CheckSample {
  timeMs: number;
  /** The landmark box in frame pixels, null without a face. */
  box: Box | null;
  /** Mean luma of the face area (or the frame's centre without a face). */
  luma: number;
}

export interface LiveVerdict {
  /** In the newest frame. */
  faceFound: boolean;
  light: LightVerdict | null;
  framing: FramingVerdict | null;
  /** Enough history, the face found in most of it: a crop can be decided. */
  ready: boolean;
  /** Ready, and the newest frame's light and framing are fine too. */
  good: boolean;
}

export interface CheckWindowOptions {
  windowMs: number;
  /** Fraction of the window's frames that must have a face. */
  minFoundFraction: number;
  /** At least this many frames in the window (a slow machine tracks few a second). */
  minSamples: number;
}

const DEFAULT_CHECK: CheckWindowOptions = { windowMs: 1000, minFoundFraction: 0.8, minSamples: 4 };

/**
 * The last second of the live check. The crop is decided from its face boxes,
 * as `voxface prepare` decides it from a pass over the whole clip.
 */
export class CheckWindow {
  readonly #options: CheckWindowOptions;
  readonly frameWidth: number;
  readonly frameHeight: number;
  #samples: CheckSample[] = [];
  /** The first sample's time since the last reset: ready needs about a window of history, not just enough samples. */
  #firstTimeMs: number | null = null;

  constructor(frameWidth: number, frameHeight: number, options: Partial<CheckWindowOptions> = {}) {
    this.frameWidth = frameWidth;
    this.frameHeight = frameHeight;
    this.#options = { ...DEFAULT_CHECK, ...options };
  }

  add(sample: CheckSample): void {
    this.#firstTimeMs ??= sample.timeMs;
    this.#samples.push(sample);
    const oldest = sample.timeMs - this.#options.windowMs;
    this.#samples = this.#samples.filter((s) => s.timeMs > oldest);
  }

  reset(): void {
    this.#samples = [];
    this.#firstTimeMs = null;
  }

  get verdict(): LiveVerdict {
    const newest = this.#samples[this.#samples.length - 1];
    if (!newest) return { faceFound: false, light: null, framing: null, ready: false, good: false };
    const found = this.#samples.filter((s) => s.box !== null).length;
    const spansWindow = this.#firstTimeMs !== null && newest.timeMs - this.#firstTimeMs >= this.#options.windowMs * 0.8;
    const ready = spansWindow && this.#samples.length >= this.#options.minSamples
      && found >= this.#options.minFoundFraction * this.#samples.length;
    const light = lightVerdict(newest.luma);
    const framing = newest.box ? framingVerdict(newest.box, this.frameWidth, this.frameHeight) : null;
    return { faceFound: newest.box !== null, light, framing, ready, good: ready && light === 'ok' && framing === 'ok' };
  }

  /** The fixed crop for the recording, from the window's face boxes. */
  crop(): CropWindow {
    const boxes = this.#samples.flatMap((s) => (s.box ? [s.box] : []));
    return decideCropWindow(boxes, this.frameWidth, this.frameHeight);
  }
}
