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
// The under-layer is built once per session and size, never per frame. Reading a
// dataset's plate images is DatasetPlates.ts (kept apart: the render process loads
// this file and should not load a PNG decoder).
import type { BackgroundChoice } from '../../shared/signaling/background';
import { readStoredBackground, STORED_HEIGHT, STORED_WIDTH } from '../backgrounds/storedBackground';
import type { AvatarPlates } from './AvatarFile';
import type { UnderLayer } from './Compositing';
import type { PixelCamera } from './Framing';


/**
 * A background as the render process gets it: the signaling choice, with an uploaded
 * image resolved (by the server, for its owner) to its stored file.
 */
export type RenderBackground = Exclude<BackgroundChoice, { kind: 'image' }> | { readonly kind: 'image'; readonly id: string; readonly path: string };

/** An RGB image [h, w, 3] scaled to cover w2 x h2 (centred, the overflow cropped), bilinear. */
export function coverImage(rgb: Uint8Array, w: number, h: number, w2: number, h2: number): Uint8Array {
  const scale = Math.max(w2 / w, h2 / h), out = new Uint8Array(w2 * h2 * 3), px = new Float64Array(3);
  for (let y = 0; y < h2; y++)
    for (let x = 0; x < w2; x++) {
      sample(rgb, w, h, 3, (x + 0.5 - w2 / 2) / scale + w / 2, (y + 0.5 - h2 / 2) / scale + h / 2, px);
      const o = 3 * (y * w2 + x);
      out[o] = Math.round(px[0]!); out[o + 1] = Math.round(px[1]!); out[o + 2] = Math.round(px[2]!);
    }
  return out;
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
export function resamplePair(
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
export function buildUnderLayer(choice: RenderBackground, plates: AvatarPlates | null, out: PixelCamera): UnderLayer {
  const n = out.width * out.height;
  const image = choice.kind === 'image' ? coverImage(readStoredBackground(choice.path), STORED_WIDTH, STORED_HEIGHT, out.width, out.height) : null;
  if (!plates) {
    if (image) return { kind: 'image', width: out.width, height: out.height, rgb: image };
    return { kind: 'colour', rgb: choice.kind === 'colour' ? parseHexColour(choice.rgb) : NEUTRAL_RGB };
  }
  const view = platesInView(plates, out);
  let background: Uint8Array;
  if (image) background = image;
  else if (choice.kind === 'colour') {
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

