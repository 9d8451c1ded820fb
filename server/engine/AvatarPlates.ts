// The static layers behind the head: from a dataset's plates (the capture's clean
// background and body, whole source frames) to the avatar file's plate view, and from
// there to a call's under-layer (background, blurred or not, with the body over it).
//
// Every camera involved shares the model camera's centre and orientation (Framing.ts),
// so each step is a per-pixel mapping of intrinsics: dataset plate -> plate view through
// the reference's look-at rotation (plateSourcePositions), plate view -> output frame by
// u_plate = cx_p + f_p (u - cx_o) / f_o (same for v). Pixels outside a source image
// take its nearest edge pixel (clamped), so any output size and aspect works.
//
// The under-layer is built once per session and size (a 640x360 blur takes a few ms),
// never per frame.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Intrinsics } from '../../shared/dataset/format';
import type { BackgroundChoice } from '../../shared/signaling/background';
import { decodePng } from '../dataset/png';
import type { AvatarPlates } from './AvatarFile';
import type { CameraConfig } from './AvatarModelTypes';
import type { UnderLayer } from './Compositing';
import { framingCamera, type PixelCamera, plateSourcePositions } from './Framing';
import type { PoseReference } from './PoseMapping';

/** The plate view stored in avatar files: the call framing at 1280x720 (sharp down to any call size). */
export const PLATE_VIEW = { width: 1280, height: 720 } as const;

/** What a dataset's dataset.json says about its plates (docs/dataset.md, version 2). */
export interface DatasetPlatesMeta {
  readonly width: number;
  readonly height: number;
  readonly intrinsics: Intrinsics;
  readonly background: string;
  readonly body: string;
}

/** Neutral grey for avatars without plates when the room (blurred or not) is asked for. */
export const NEUTRAL_RGB: readonly [number, number, number] = [0x80 / 255, 0x84 / 255, 0x8a / 255];

/** Bilinear sample of a [h, w, c] u8 image at continuous (u, v) (pixel centres at +0.5), clamped to its edges. */
function sample(img: Uint8Array, w: number, h: number, c: number, u: number, v: number, out: Float64Array): void {
  const x = Math.min(Math.max(u - 0.5, 0), w - 1), y = Math.min(Math.max(v - 0.5, 0), h - 1);
  const x0 = Math.floor(x), y0 = Math.floor(y), x1 = Math.min(x0 + 1, w - 1), y1 = Math.min(y0 + 1, h - 1), fx = x - x0, fy = y - y0;
  for (let ch = 0; ch < c; ch++) {
    const a = img[(y0 * w + x0) * c + ch]!, b = img[(y0 * w + x1) * c + ch]!, cc = img[(y1 * w + x0) * c + ch]!, d = img[(y1 * w + x1) * c + ch]!;
    out[ch] = (a * (1 - fx) + b * fx) * (1 - fy) + (cc * (1 - fx) + d * fx) * fy;
  }
}

/**
 * Resamples a background (RGB) and body (RGBA, straight alpha) pair at `positions`
 * ((u, v) per output pixel; NaN: nearest edge) into new images. The body is blended
 * premultiplied so its edges do not pick up the colour of transparent pixels.
 */
function resamplePair(
  background: Uint8Array, body: Uint8Array, w: number, h: number, count: number, position: (i: number, uv: Float64Array) => void,
): { background: Uint8Array; body: Uint8Array } {
  const premul = new Uint8Array(body.length);
  for (let i = 0; i < body.length; i += 4) {
    const a = body[i + 3]! / 255;
    premul[i] = Math.round(body[i]! * a); premul[i + 1] = Math.round(body[i + 1]! * a); premul[i + 2] = Math.round(body[i + 2]! * a); premul[i + 3] = body[i + 3]!;
  }
  const bg = new Uint8Array(count * 3), bd = new Uint8Array(count * 4), uv = new Float64Array(2), px = new Float64Array(4);
  for (let i = 0; i < count; i++) {
    position(i, uv);
    const u = Number.isNaN(uv[0]!) ? 0 : uv[0]!, v = Number.isNaN(uv[1]!) ? 0 : uv[1]!;
    sample(background, w, h, 3, u, v, px);
    for (let ch = 0; ch < 3; ch++) bg[3 * i + ch] = Math.round(px[ch]!);
    sample(premul, w, h, 4, u, v, px);
    const a = px[3]!;
    for (let ch = 0; ch < 3; ch++) bd[4 * i + ch] = a > 0 ? Math.min(255, Math.round((px[ch]! * 255) / a)) : 0;
    bd[4 * i + 3] = Math.round(a);
  }
  return { background: bg, body: bd };
}

/**
 * The avatar file's plates from a dataset's: `reference` and `camera` are the training
 * reference (RealDataset.datasetReference) and the model camera. Null when the dataset
 * has no plates (version 1). Plate images are read from `dir`.
 */
export function platesFromDataset(
  dir: string, plates: DatasetPlatesMeta | undefined, reference: PoseReference, camera: CameraConfig,
  view: { width: number; height: number } = PLATE_VIEW,
): AvatarPlates | null {
  if (!plates) return null;
  const bgPng = decodePng(readFileSync(join(dir, plates.background))), bodyPng = decodePng(readFileSync(join(dir, plates.body)));
  const { width: w, height: h } = bgPng;
  if (bodyPng.width !== w || bodyPng.height !== h || w !== plates.width || h !== plates.height)
    throw new RangeError(`plates: background ${w}x${h} and body ${bodyPng.width}x${bodyPng.height} must both be ${plates.width}x${plates.height}`);
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) for (let ch = 0; ch < 3; ch++) rgb[3 * p + ch] = bgPng.data[4 * p + ch]!;
  const cam = framingCamera(camera, view.width, view.height);
  const positions = plateSourcePositions(cam, reference, plates.intrinsics);
  const out = resamplePair(rgb, new Uint8Array(bodyPng.data), w, h, cam.width * cam.height, (i, uv) => {
    uv[0] = positions[2 * i]!; uv[1] = positions[2 * i + 1]!;
  });
  return { camera: cam, ...out };
}

/** The plates seen by the output camera `out` (same centre and orientation as the plate camera). */
export function platesInView(plates: AvatarPlates, out: PixelCamera): { background: Uint8Array; body: Uint8Array } {
  const p = plates.camera, k = p.focalPx / out.focalPx;
  return resamplePair(plates.background, plates.body, p.width, p.height, out.width * out.height, (i, uv) => {
    const x = i % out.width, y = (i - x) / out.width;
    uv[0] = p.cx + (x + 0.5 - out.cx) * k;
    uv[1] = p.cy + (y + 0.5 - out.cy) * k;
  });
}

/** Box blur of radius r along rows (step 1) or columns (step w), edges clamped; in place via `tmp`. */
function boxPass(img: Float32Array, w: number, h: number, r: number, horizontal: boolean, tmp: Float32Array): void {
  const n = horizontal ? w : h, lines = horizontal ? h : w, inv = 1 / (2 * r + 1);
  for (let line = 0; line < lines; line++) {
    const at = (i: number) => (horizontal ? line * w + Math.min(Math.max(i, 0), n - 1) : Math.min(Math.max(i, 0), n - 1) * w + line);
    for (let ch = 0; ch < 3; ch++) {
      let sum = 0;
      for (let i = -r; i <= r; i++) sum += img[3 * at(i) + ch]!;
      for (let i = 0; i < n; i++) {
        tmp[i] = sum * inv;
        sum += img[3 * at(i + r + 1) + ch]! - img[3 * at(i - r) + ch]!;
      }
      for (let i = 0; i < n; i++) img[3 * at(i) + ch] = tmp[i]!;
    }
  }
}

/**
 * The blur call apps put on a background: three box passes per axis (close to a gaussian
 * of sigma ~ 1.7 r), r = 1/36 of the frame height (10 px at 360: sigma ~ 10 px, enough
 * to lose every edge of the room but its largest shapes).
 */
export function blurRgb(rgb: Uint8Array, w: number, h: number, radius = Math.max(2, Math.round(h / 36))): Uint8Array {
  const img = Float32Array.from(rgb), tmp = new Float32Array(Math.max(w, h));
  for (let pass = 0; pass < 3; pass++) {
    boxPass(img, w, h, radius, true, tmp);
    boxPass(img, w, h, radius, false, tmp);
  }
  return Uint8Array.from(img, (v) => Math.round(v));
}

/** #rrggbb -> RGB in [0, 1]. */
export function parseHexColour(hex: string): [number, number, number] {
  if (!/^#[0-9a-fA-F]{6}$/.test(hex)) throw new TypeError(`background colour must be #rrggbb, got ${JSON.stringify(hex)}`);
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255) as [number, number, number];
}

/**
 * The under-layer of a call frame seen by `out`: the chosen background with the body
 * plate over it (body.a * body + (1 - body.a) * background), so the head never floats,
 * whatever is behind it. Avatars without plates get the colour alone, and NEUTRAL_RGB
 * for the room and its blur.
 */
export function buildUnderLayer(choice: BackgroundChoice, plates: AvatarPlates | null, out: PixelCamera): UnderLayer {
  const n = out.width * out.height;
  if (!plates) return { kind: 'colour', rgb: choice.kind === 'colour' ? parseHexColour(choice.rgb) : NEUTRAL_RGB };
  const view = platesInView(plates, out);
  let background: Uint8Array;
  if (choice.kind === 'colour') {
    const px = parseHexColour(choice.rgb).map((v) => Math.round(v * 255));
    background = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) background.set(px, 3 * p);
  } else background = choice.kind === 'blur' ? blurRgb(view.background, out.width, out.height) : view.background;
  const rgb = new Uint8Array(n * 3), body = view.body;
  for (let p = 0; p < n; p++) {
    const a = body[4 * p + 3]! / 255;
    for (let ch = 0; ch < 3; ch++) rgb[3 * p + ch] = Math.round(a * body[4 * p + ch]! + (1 - a) * background[3 * p + ch]!);
  }
  return { kind: 'image', width: out.width, height: out.height, rgb };
}

const datasetPlatesCache = new WeakMap<object, AvatarPlates | null>();

/**
 * The avatar file's plates for a loaded training dataset (null when it has none):
 * built once per dataset object (train saves snapshots and the final file with them).
 */
export function datasetPlates(ds: { readonly dir: string; readonly meta: object; readonly reference: PoseReference; readonly camera: CameraConfig }): AvatarPlates | null {
  if (!datasetPlatesCache.has(ds)) {
    const meta = (ds.meta as { plates?: DatasetPlatesMeta }).plates;
    datasetPlatesCache.set(ds, platesFromDataset(ds.dir, meta, ds.reference, ds.camera));
  }
  return datasetPlatesCache.get(ds)!;
}
