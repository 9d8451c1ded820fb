/**
 * The two plates of a dataset (docs/dataset.md, "Plates"), from up to
 * PLATE_MAX_SAMPLES whole frames with their person masks and landmarks:
 *
 *   background  the room: per pixel, the median colour over the samples where
 *               the person (dilated, so soft edges and hair fringe do not
 *               bleed in) is absent; pixels never seen (always behind the
 *               person) are filled along their rows from the room on either
 *               side (fillRows; pull-push where a row shows no room), so a
 *               blur over it looks like the room, not a silhouette ghost.
 *   body        the person minus the head layer: alpha = median over samples
 *               of what the head leaves of the person (underHeadEdge: 1 under
 *               the head's soft edge where the person is solid, so head and
 *               body together are opaque there), the head's keep weight being the
 *               training masks' own head cut (shared/dataset/headCut.ts) at
 *               plate size, so the body plate's top edge and the head layer's
 *               bottom edge are one line; colour = median where the sample's
 *               body weight is over one half. Under the chin the head covers
 *               most samples, so the median leaves a hole there that a turning
 *               head or a closing mouth would uncover: the neck fill closes it
 *               (alpha 1, the neck's colour carried up column by column) over
 *               the neck's width of the face oval below the mouth where at
 *               least half the samples have it, and down to where the body is
 *               solid. (The union of all ovals, tried first, was wider than
 *               the face on Katie Hill's clip and carried hair-coloured
 *               streaks up beside it; the whole oval below the eyes, tried
 *               next, is a static skin-coloured block as wide as the cheeks,
 *               and on pinkwall it stuck out beside the jaw as a hard diagonal
 *               edge wherever the held-out head sat a little off the median.)
 *               Hair beside the face is head territory (the cut keeps it
 *               down to chin level) and stays out.
 *
 * "Median colour" is the colour of the sample whose luminance is the median
 * one, not a per-channel median: it never mixes two samples into a colour
 * neither had.
 */
import { FACE_OVAL } from '../../../shared/dataset/faceOval';
import { headCut } from '../../../shared/dataset/headCut';
import { LANDMARK_COUNT } from '../../../shared/dataset/format';
import { PLATE_MAX_SAMPLES } from '../../../shared/dataset/plateSample';
import { dilateAbove, fillPolygon, fillRows, pullPush, selectKth } from './imageOps';

export interface PlateSample {
  index: number;
  /** width x height x 3 bytes. */
  rgb: Uint8Array;
  /** width x height person confidence, 0..255. */
  person: Uint8Array;
  /** LANDMARK_COUNT (u, v) pairs in plate pixels. */
  landmarks: Float32Array;
}

export interface Plates {
  width: number;
  height: number;
  samples: number;
  /** width x height x 4 (alpha 255): PNG-ready. */
  background: Uint8Array;
  /** width x height x 4, straight alpha. */
  body: Uint8Array;
}

/** Fewer samples than this give no plates (one frame's background is mostly person). */
export const PLATE_MIN_SAMPLES = 3;
/** A pixel counts as background in a sample when the dilated person confidence is below this (of 255). */
const BACKGROUND_BELOW = 64;
/** Dilation of the person mask before it decides background, as a fraction of the plate's long side (6 px at 640). */
const PERSON_DILATION = 0.01;
/** The row fill behind the person is smoothed over +- this fraction of the plate's height (7 rows at 360). */
const ROW_FILL_SMOOTHING = 0.02;
/** A sample's colour counts for the body where its body weight is over this (of 255). */
const BODY_COLOUR_ABOVE = 128;
/** Over this much head alpha (1 minus it), the body plate keeps the head cut's share (underHeadEdge). */
const HEAD_EDGE_OPAQUE = 0.02;
/** Body alpha at or above this is solid: the neck fill stops there and takes its colour from there. */
const SOLID_BODY = 0.98;
/** How far below the face ovals the neck fill may reach to meet the solid body, in face heights. */
const NECK_REACH = 0.6;
/** The neck colour is averaged across +- this many face heights of columns. */
const NECK_COLOUR_SMOOTHING = 0.12;
/**
 * The neck fill's half-width, as a fraction of the jaw's width at its angles
 * (landmarks 172 to 397). A neck is about 0.7 of that jaw width (pinkwall's
 * capture: 130 of 186 px); the fill only has to close the hole under the chin,
 * and a fill narrower than the jaw stays hidden under a head that sits up to
 * 15% of a jaw width off the samples' median.
 */
const NECK_HALF_WIDTH = 0.35;
const MOUTH_RIGHT = 61;
const MOUTH_LEFT = 291;
const JAW_RIGHT = 172;
const JAW_LEFT = 397;
const CHIN = 152;
const FOREHEAD = 10;

/** The median passes yield to the event loop every this many pixels (about 15 ms of work). */
const YIELD_PIXELS = 16384;
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

const luminance = (r: number, g: number, b: number) => (299 * r + 587 * g + 114 * b) / 1000;

/**
 * A sample's body alpha at a pixel where the person's confidence is `person` and the head cut
 * keeps `keep`. The head layer there is trained to alpha person x keep, and a call draws it
 * over the body plate: the pair covers head + (1 - head) x body, so a body of person x
 * (1 - keep), the share the cut left, covers only 0.75 of a solid person where the cut's
 * feather crosses it at one half, and the room showed through as a light streak (longhair's
 * cheek against her hair). The body alpha is what the head leaves of the person,
 * (person - head) / (1 - head): 1 wherever the person is solid and the head not quite, 0
 * where there is no person. Where the head is nearly opaque (over 1 - HEAD_EDGE_OPAQUE) the
 * body keeps the cut's share: the ratio there is 0/0 and whatever the body holds shows at
 * most that much.
 */
export function underHeadEdge(person: number, keep: number): number {
  const head = person * keep;
  if (1 - head <= HEAD_EDGE_OPAQUE) return person * (1 - keep);
  return Math.min(1, Math.max(0, (person - head) / (1 - head)));
}

export class PlateEstimator {
  readonly width: number;
  readonly height: number;
  readonly #samples: PlateSample[] = [];

  constructor(width: number, height: number) {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) throw new TypeError(`plate size ${width}x${height} is not a positive whole size`);
    this.width = width;
    this.height = height;
  }

  get count(): number {
    return this.#samples.length;
  }

  /** Adds a sample (sizes checked); a repeated index or a sample over PLATE_MAX_SAMPLES is refused. */
  add(sample: PlateSample): void {
    const pixels = this.width * this.height;
    if (sample.rgb.length !== pixels * 3) throw new TypeError(`plate sample ${sample.index}: rgb is ${sample.rgb.length} bytes, expected ${pixels * 3} (${this.width}x${this.height}x3)`);
    if (sample.person.length !== pixels) throw new TypeError(`plate sample ${sample.index}: person mask is ${sample.person.length} bytes, expected ${pixels} (${this.width}x${this.height})`);
    if (sample.landmarks.length !== LANDMARK_COUNT * 2) throw new TypeError(`plate sample ${sample.index}: ${sample.landmarks.length} landmark floats, expected ${LANDMARK_COUNT * 2}`);
    if (this.#samples.some((s) => s.index === sample.index)) throw new TypeError(`plate sample ${sample.index} was already added`);
    if (this.#samples.length >= PLATE_MAX_SAMPLES) throw new TypeError(`more than ${PLATE_MAX_SAMPLES} plate samples`);
    this.#samples.push(sample);
  }

  /**
   * The two plates, or null with fewer than PLATE_MIN_SAMPLES samples. About
   * 1.5-1.8 s of CPU for 48 samples (measured at 512x512 and 512x480, process.cpuUsage);
   * it yields to the event loop between samples and every few rows, so a
   * server finishing an onboarding session keeps its calls flowing meanwhile.
   */
  async estimate(): Promise<Plates | null> {
    if (this.#samples.length < PLATE_MIN_SAMPLES) return null;
    const samples = [...this.#samples].sort((a, b) => a.index - b.index);
    const background = await this.#background(samples);
    const body = await this.#body(samples);
    return { width: this.width, height: this.height, samples: samples.length, background, body };
  }

  /**
   * Per pixel, the colour of the median-luminance sample among those whose
   * `use` mask is set there; the weight (0 or 1) says whether any sample was used.
   */
  async #medianColour(samples: readonly PlateSample[], use: readonly Uint8Array[]): Promise<{ colour: Float32Array; weight: Float32Array }> {
    const pixels = this.width * this.height;
    const colour = new Float32Array(pixels * 3);
    const weight = new Float32Array(pixels);
    // Key = luminance (x10, whole) x 64 + sample: selecting the median key finds the sample.
    const keys = new Int32Array(samples.length);
    for (let i = 0; i < pixels; i += 1) {
      if (i % YIELD_PIXELS === 0) await breathe();
      let n = 0;
      for (let s = 0; s < samples.length; s += 1) {
        if (!use[s]![i]) continue;
        const rgb = samples[s]!.rgb;
        keys[n] = Math.round(luminance(rgb[i * 3]!, rgb[i * 3 + 1]!, rgb[i * 3 + 2]!) * 10) * 64 + s;
        n += 1;
      }
      if (n === 0) continue;
      const s = selectKth(keys, n, n >> 1) & 63;
      const rgb = samples[s]!.rgb;
      colour[i * 3] = rgb[i * 3]!; colour[i * 3 + 1] = rgb[i * 3 + 1]!; colour[i * 3 + 2] = rgb[i * 3 + 2]!;
      weight[i] = 1;
    }
    return { colour, weight };
  }

  async #background(samples: readonly PlateSample[]): Promise<Uint8Array> {
    const { width, height } = this;
    const radius = Math.max(1, Math.round(PERSON_DILATION * Math.max(width, height)));
    const clear: Uint8Array[] = [];
    for (const s of samples) {
      const covered = dilateAbove(s.person, width, height, BACKGROUND_BELOW, radius);
      for (let i = 0; i < covered.length; i += 1) covered[i] = 1 - covered[i]!;
      clear.push(covered);
      await breathe();
    }
    const { colour, weight } = await this.#medianColour(samples, clear);
    const rowWeight = fillRows(colour, weight, width, height, 3, Math.round(ROW_FILL_SMOOTHING * height));
    return toRgba(pullPush(colour, rowWeight, width, height, 3), null);
  }

  async #body(samples: readonly PlateSample[]): Promise<Uint8Array> {
    const { width, height } = this;
    const pixels = width * height;
    const bodyWeights: Uint8Array[] = [];
    const colourMasks: Uint8Array[] = [];
    for (const s of samples) {
      const keep = headCut(s.landmarks, width, height);
      const weight = new Uint8Array(pixels);
      const colourMask = new Uint8Array(pixels);
      for (let i = 0; i < pixels; i += 1) {
        weight[i] = Math.round(255 * underHeadEdge(s.person[i]! / 255, keep[i]!));
        colourMask[i] = weight[i]! > BODY_COLOUR_ABOVE ? 1 : 0;
      }
      bodyWeights.push(weight);
      colourMasks.push(colourMask);
      await breathe();
    }
    const alpha = new Float32Array(pixels);
    const values = new Int32Array(samples.length);
    for (let i = 0; i < pixels; i += 1) {
      if (i % YIELD_PIXELS === 0) await breathe();
      for (let s = 0; s < samples.length; s += 1) values[s] = bodyWeights[s]![i]!;
      alpha[i] = selectKth(values, samples.length, samples.length >> 1) / 255;
    }
    const { colour, weight } = await this.#medianColour(samples, colourMasks);
    // Colour everywhere (pull-push): soft edges and a bilinear lookup then never fetch black.
    const filled = pullPush(colour, weight, width, height, 3);
    await breathe();
    await this.#fillNeck(samples, alpha, filled);
    return toRgba(filled, alpha);
  }

  /** The neck fill (see the file comment), in place. */
  async #fillNeck(samples: readonly PlateSample[], alpha: Float32Array, colour: Float32Array): Promise<void> {
    const { width, height } = this;
    // Head territory: inside the face oval, below the mouth and within the neck's width of the face's
    // centre line, in at least half the samples (where the median body has its hole).
    const covered = new Uint8Array(width * height);
    const one = new Uint8Array(width * height);
    const personUnion = new Uint8Array(width * height);
    const oval = new Float32Array(FACE_OVAL.length * 2);
    const faceHeights: number[] = [];
    for (const s of samples) {
      const at = (k: number, axis: number) => s.landmarks[k * 2 + axis]!;
      FACE_OVAL.forEach((k, j) => { oval[j * 2] = at(k, 0); oval[j * 2 + 1] = at(k, 1); });
      one.fill(0);
      fillPolygon(oval, width, height, one, (at(MOUTH_RIGHT, 1) + at(MOUTH_LEFT, 1)) / 2);
      const faceHeight = Math.hypot(at(CHIN, 0) - at(FOREHEAD, 0), at(CHIN, 1) - at(FOREHEAD, 1));
      faceHeights.push(faceHeight);
      // The face's right axis (perpendicular to forehead-to-chin), so a tilted head's neck band tilts with it.
      const rightX = -(at(CHIN, 1) - at(FOREHEAD, 1)) / faceHeight; const rightY = (at(CHIN, 0) - at(FOREHEAD, 0)) / faceHeight;
      const halfWidth = NECK_HALF_WIDTH * Math.hypot(at(JAW_LEFT, 0) - at(JAW_RIGHT, 0), at(JAW_LEFT, 1) - at(JAW_RIGHT, 1));
      for (let i = 0; i < one.length; i += 1) {
        if (!one[i]) continue;
        const u = (i % width + 0.5 - at(CHIN, 0)) * rightX + (Math.floor(i / width) + 0.5 - at(CHIN, 1)) * rightY;
        if (Math.abs(u) <= halfWidth) covered[i]! += 1;
      }
      for (let i = 0; i < personUnion.length; i += 1) if (s.person[i]! >= 128) personUnion[i] = 1;
      await breathe();
    }
    const head = covered.map((n) => (2 * n >= samples.length ? 1 : 0));
    faceHeights.sort((a, b) => a - b);
    const reach = Math.round(NECK_REACH * faceHeights[faceHeights.length >> 1]!);
    // Per column: the rows to fill (from the top of the face region down to the solid body) and the neck's colour there.
    const top = new Int32Array(width).fill(-1);
    const bottom = new Int32Array(width).fill(-1);
    const neck = new Float32Array(width * 3);
    const hasNeck = new Uint8Array(width);
    for (let x = 0; x < width; x += 1) {
      let last = -1;
      for (let y = 0; y < height; y += 1) {
        if (!head[y * width + x]) continue;
        if (top[x]! < 0) top[x] = y;
        last = y;
      }
      if (last < 0) continue;
      let y = last + 1;
      while (y < height && y <= last + reach && alpha[y * width + x]! < SOLID_BODY && personUnion[y * width + x]) y += 1;
      bottom[x] = y - 1;
      if (y < height && alpha[y * width + x]! >= SOLID_BODY) {
        hasNeck[x] = 1;
        for (let c = 0; c < 3; c += 1) neck[x * 3 + c] = colour[(y * width + x) * 3 + c]!;
      }
    }
    // Columns without solid body below (a beard, a collar of hair) take the mean neck colour; then a box blur
    // across columns so the fill has no vertical streaks.
    const mean = [0, 0, 0]; let found = 0;
    for (let x = 0; x < width; x += 1) if (hasNeck[x]) { found += 1; for (let c = 0; c < 3; c += 1) mean[c]! += neck[x * 3 + c]!; }
    if (found === 0) return; // no solid body anywhere below the face: nothing to carry up
    for (let x = 0; x < width; x += 1) if (!hasNeck[x] && top[x]! >= 0) for (let c = 0; c < 3; c += 1) neck[x * 3 + c] = mean[c]! / found;
    const half = Math.max(1, Math.round(faceHeights[faceHeights.length >> 1]! * NECK_COLOUR_SMOOTHING));
    const smooth = new Float32Array(width * 3);
    for (let x = 0; x < width; x += 1) {
      if (top[x]! < 0) continue;
      let n = 0;
      for (let d = Math.max(0, x - half); d <= Math.min(width - 1, x + half); d += 1) {
        if (top[d]! < 0) continue;
        n += 1;
        for (let c = 0; c < 3; c += 1) smooth[x * 3 + c]! += neck[d * 3 + c]!;
      }
      for (let c = 0; c < 3; c += 1) smooth[x * 3 + c]! /= n;
    }
    for (let x = 0; x < width; x += 1) {
      if (top[x]! < 0) continue;
      for (let y = top[x]!; y <= bottom[x]!; y += 1) {
        const i = y * width + x;
        const a = alpha[i]!;
        for (let c = 0; c < 3; c += 1) colour[i * 3 + c] = a * colour[i * 3 + c]! + (1 - a) * smooth[x * 3 + c]!;
        alpha[i] = 1;
      }
    }
  }
}

function toRgba(rgb: Float32Array, alpha: Float32Array | null): Uint8Array {
  const pixels = rgb.length / 3;
  const out = new Uint8Array(pixels * 4);
  for (let i = 0; i < pixels; i += 1) {
    out[i * 4] = Math.round(rgb[i * 3]!);
    out[i * 4 + 1] = Math.round(rgb[i * 3 + 1]!);
    out[i * 4 + 2] = Math.round(rgb[i * 3 + 2]!);
    out[i * 4 + 3] = alpha ? Math.round(Math.min(1, Math.max(0, alpha[i]!)) * 255) : 255;
  }
  return out;
}
