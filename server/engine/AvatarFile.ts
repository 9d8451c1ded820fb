// The avatar file: a self-describing, checksummed container for a trained model.
//
//   0   4 bytes  magic "VXAV"
//   4   u32 LE   format version (AVATAR_FILE_VERSION)
//   8   u32 LE   header length H (bytes of UTF-8 JSON)
//   12  H bytes  header JSON: { config, tensors: [{ name, dtype, shape, offset, byteLength }], payloadBytes,
//                plates? (version 2): { camera, background: { offset, byteLength }, body: { offset, byteLength } } }
//       padding to a multiple of 8
//   P   payload  tensors little-endian at header offsets (relative to P)
//   end 32 bytes SHA-256 of every byte before it
//
// Grids are stored as fp16 (their values are O(1) and render PSNR fp32 vs fp16 is
// measured by the tests); MLP weights stay fp32 (small, and errors there spread to
// every sample). Written to a temp file and renamed, so readers never see a partial file.
//
// Version 2 adds optional plates, the static layers behind the head (AvatarPlates.ts):
// `background` u8 [H, W, 3] (the clean plate of the capture) and `body` u8 [H, W, 4]
// (neck, shoulders, clothes; straight alpha), both seen by the header's plate camera
// (a PixelCamera with the model camera's centre and orientation, e.g. the call framing
// at 1280x720), in the payload after the tensors and under the same checksum. Version-1
// files (no plates) still load.
//
// An optional `encoder` header entry (server/encoder/encoderSection.ts) holds the avatar's
// expression encoder (issue 16): its input spec and sizes in the header, its float32
// tensors in the payload after the plates. No version bump: a file without it is a
// blendshape avatar as before, and a build that predates it reads an encoder avatar as the
// blendshape avatar it also is (the encoder's code only adds to the blendshapes).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomicFile';
import { AvatarModel, paramShapes } from './AvatarModel';
import { type AvatarConfig, GRID_PARAMS, PARAM_NAMES, type ParamName, type AvatarParams, validateConfig } from './AvatarModelTypes';
import type { PixelCamera } from './Framing';
import { fromHalf, toHalf } from './Half';
import type { ExpressionEncoder } from '../encoder/ExpressionEncoder';
import { type EncoderDescriptor, layoutEncoder, readEncoderSection, writeEncoderTensors } from '../encoder/encoderSection';

export const AVATAR_MAGIC = 'VXAV';
export const AVATAR_FILE_VERSION = 2;
/** Oldest version this build still reads (version 1: no plates). */
const OLDEST_READABLE_VERSION = 1;
/** Largest plate side we accept, pixels (a 4K frame's long side). */
const MAX_PLATE_SIDE = 4096;

/** The static layers behind the head, seen by `camera` (see the file comment). */
export interface AvatarPlates {
  readonly camera: PixelCamera;
  /** RGB8 [height, width, 3]: the clean plate (the room without the person). */
  readonly background: Uint8Array;
  /** RGBA8 [height, width, 4], straight alpha: the body below the head. */
  readonly body: Uint8Array;
}

export interface AvatarFileContents {
  readonly model: AvatarModel;
  readonly plates: AvatarPlates | null;
  /** The avatar's expression encoder, null when it was trained without one. */
  readonly encoder: ExpressionEncoder | null;
}

interface PlateEntry {
  readonly offset: number;
  readonly byteLength: number;
}
const CHECKSUM_BYTES = 32;

export type TensorDtype = 'f32' | 'f16';

export interface TensorEntry {
  readonly name: ParamName;
  readonly dtype: TensorDtype;
  readonly shape: number[];
  readonly offset: number;
  readonly byteLength: number;
}

export interface AvatarHeader {
  readonly config: AvatarConfig;
  readonly tensors: TensorEntry[];
  readonly payloadBytes: number;
  readonly plates?: { readonly camera: PixelCamera; readonly background: PlateEntry; readonly body: PlateEntry };
  readonly encoder?: EncoderDescriptor;
}

export interface EncodeOptions {
  /** Store grids as fp16 (default true). */
  readonly halfGrids?: boolean;
  /** Plates to store with the model (version 2). */
  readonly plates?: AvatarPlates | null;
  /** The avatar's expression encoder (its expressionCount must be the model's). */
  readonly encoder?: ExpressionEncoder | null;
}

/** Throws RangeError unless `camera` is a sane plate camera and the images fit it. */
function checkPlates(camera: PixelCamera, backgroundBytes: number, bodyBytes: number): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (typeof camera !== 'object' || camera === null || ![camera.width, camera.height, camera.distance, camera.focalPx, camera.cx, camera.cy].every(ok))
    throw new RangeError('avatar file: plates camera must have finite width, height, distance, focalPx, cx and cy');
  const { width, height } = camera;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 && width <= MAX_PLATE_SIDE && height <= MAX_PLATE_SIDE && camera.focalPx > 0))
    throw new RangeError(`avatar file: plates of ${width}x${height} (focal ${camera.focalPx} px) are not 1..${MAX_PLATE_SIDE} px a side with a positive focal length`);
  if (backgroundBytes !== width * height * 3 || bodyBytes !== width * height * 4)
    throw new RangeError(`avatar file: plates of ${width}x${height} need ${width * height * 3} background and ${width * height * 4} body bytes, got ${backgroundBytes} and ${bodyBytes}`);
}

export function encodeAvatar(model: AvatarModel, o: EncodeOptions = {}): Buffer {
  const shapes = paramShapes(model.config), tensors: TensorEntry[] = [];
  let offset = 0;
  for (const name of PARAM_NAMES) {
    const dtype: TensorDtype = (o.halfGrids ?? true) && GRID_PARAMS.includes(name) ? 'f16' : 'f32';
    const byteLength = model.params[name].length * (dtype === 'f16' ? 2 : 4);
    tensors.push({ name, dtype, shape: shapes[name], offset, byteLength });
    offset += (byteLength + 7) & ~7;
  }
  let plates: AvatarHeader['plates'];
  if (o.plates) {
    const p = o.plates;
    checkPlates(p.camera, p.background.length, p.body.length);
    const background = { offset, byteLength: p.background.length };
    offset += (p.background.length + 7) & ~7;
    const body = { offset, byteLength: p.body.length };
    offset += (p.body.length + 7) & ~7;
    const { width, height, distance, focalPx, cx, cy } = p.camera;
    plates = { camera: { width, height, distance, focalPx, cx, cy }, background, body };
  }
  let encoder: EncoderDescriptor | undefined;
  if (o.encoder) {
    if (o.encoder.expressionCount !== model.config.expressionCount)
      throw new RangeError(`avatar file: the encoder writes ${o.encoder.expressionCount} coefficients, the model has ${model.config.expressionCount}`);
    ({ descriptor: encoder, end: offset } = layoutEncoder(o.encoder, offset));
  }
  const header = Buffer.from(JSON.stringify({ config: model.config, tensors, payloadBytes: offset, ...(plates ? { plates } : {}), ...(encoder ? { encoder } : {}) } satisfies AvatarHeader), 'utf8');
  const payloadStart = (12 + header.length + 7) & ~7;
  const buf = Buffer.alloc(payloadStart + offset + CHECKSUM_BYTES);
  buf.write(AVATAR_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(AVATAR_FILE_VERSION, 4);
  buf.writeUInt32LE(header.length, 8);
  header.copy(buf, 12);
  for (const t of tensors) {
    const src = model.params[t.name], at = payloadStart + t.offset;
    if (t.dtype === 'f16') for (let i = 0; i < src.length; i++) buf.writeUInt16LE(toHalf(src[i]!), at + 2 * i);
    else for (let i = 0; i < src.length; i++) buf.writeFloatLE(src[i]!, at + 4 * i);
  }
  if (plates && o.plates) {
    buf.set(o.plates.background, payloadStart + plates.background.offset);
    buf.set(o.plates.body, payloadStart + plates.body.offset);
  }
  if (encoder && o.encoder) writeEncoderTensors(buf, payloadStart, o.encoder, encoder);
  createHash('sha256').update(buf.subarray(0, buf.length - CHECKSUM_BYTES)).digest().copy(buf, buf.length - CHECKSUM_BYTES);
  return buf;
}

/** Parses and validates everything; throws TypeError (not an avatar) or RangeError (damaged/inconsistent). */
export function decodeAvatar(buf: Uint8Array): AvatarModel {
  return decodeAvatarFile(buf).model;
}

/** The model and, when the file has them (version 2), its plates (copies). */
export function decodeAvatarFile(buf: Uint8Array): AvatarFileContents {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12) throw new RangeError(`avatar file: truncated (${b.length} bytes, the fixed header needs 12)`);
  if (b.toString('latin1', 0, 4) !== AVATAR_MAGIC) throw new TypeError('avatar file: bad magic (not a Voxface avatar)');
  const version = b.readUInt32LE(4);
  if (version < OLDEST_READABLE_VERSION || version > AVATAR_FILE_VERSION)
    throw new RangeError(`avatar file: unsupported version ${version} (this build reads ${OLDEST_READABLE_VERSION} to ${AVATAR_FILE_VERSION})`);
  const headerLength = b.readUInt32LE(8), payloadStart = (12 + headerLength + 7) & ~7;
  if (payloadStart + CHECKSUM_BYTES > b.length) throw new RangeError(`avatar file: truncated (header of ${headerLength} bytes does not fit in ${b.length})`);
  let header: AvatarHeader;
  try {
    header = JSON.parse(b.toString('utf8', 12, 12 + headerLength)) as AvatarHeader;
  } catch {
    throw new RangeError('avatar file: header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.tensors) || typeof header.payloadBytes !== 'number')
    throw new RangeError('avatar file: header lacks config, tensors or payloadBytes');
  const expected = payloadStart + header.payloadBytes + CHECKSUM_BYTES;
  if (b.length !== expected) throw new RangeError(`avatar file: ${b.length < expected ? 'truncated' : 'trailing bytes'} (${b.length} bytes, header says ${expected})`);
  const digest = createHash('sha256').update(b.subarray(0, b.length - CHECKSUM_BYTES)).digest();
  if (!digest.equals(b.subarray(b.length - CHECKSUM_BYTES))) throw new RangeError('avatar file: checksum mismatch (file is corrupt)');
  validateConfig(header.config);
  const shapes = paramShapes(header.config), params = {} as AvatarParams;
  for (const name of PARAM_NAMES) {
    const t = header.tensors.find((x) => x.name === name);
    if (!t) throw new RangeError(`avatar file: tensor ${name} missing`);
    const want = shapes[name];
    if (!Array.isArray(t.shape) || t.shape.join('x') !== want.join('x'))
      throw new RangeError(`avatar file: tensor ${name} has shape [${String(t.shape)}], config implies [${want}]`);
    if (t.dtype !== 'f32' && t.dtype !== 'f16') throw new RangeError(`avatar file: tensor ${name} has unknown dtype ${String(t.dtype)}`);
    const n = want.reduce((x, y) => x * y, 1), size = t.dtype === 'f16' ? 2 : 4;
    if (t.byteLength !== n * size || !Number.isInteger(t.offset) || t.offset < 0 || t.offset + t.byteLength > header.payloadBytes)
      throw new RangeError(`avatar file: tensor ${name} bytes [${t.offset}, +${t.byteLength}) do not fit ${n} ${t.dtype} values in the payload`);
    const at = payloadStart + t.offset, out = new Float32Array(n);
    if (size === 2) for (let i = 0; i < n; i++) out[i] = fromHalf(b.readUInt16LE(at + 2 * i));
    else for (let i = 0; i < n; i++) out[i] = b.readFloatLE(at + 4 * i);
    params[name] = out;
  }
  let plates: AvatarPlates | null = null;
  if (version >= 2 && header.plates !== undefined) {
    const h = header.plates;
    if (typeof h !== 'object' || h === null || typeof h.background !== 'object' || typeof h.body !== 'object' || h.background === null || h.body === null)
      throw new RangeError('avatar file: plates lack camera, background or body');
    checkPlates(h.camera, h.background.byteLength, h.body.byteLength);
    const slice = (e: PlateEntry, what: string) => {
      if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset + e.byteLength > header.payloadBytes)
        throw new RangeError(`avatar file: the ${what} plate's bytes [${e.offset}, +${e.byteLength}) are outside the payload`);
      return Uint8Array.from(b.subarray(payloadStart + e.offset, payloadStart + e.offset + e.byteLength));
    };
    const { width, height, distance, focalPx, cx, cy } = h.camera;
    plates = { camera: { width, height, distance, focalPx, cx, cy }, background: slice(h.background, 'background'), body: slice(h.body, 'body') };
  }
  let encoder: ExpressionEncoder | null = null;
  if (header.encoder !== undefined) {
    encoder = readEncoderSection(header.encoder, b, payloadStart, header.payloadBytes);
    if (encoder.expressionCount !== header.config.expressionCount)
      throw new RangeError(`avatar file: the encoder writes ${encoder.expressionCount} coefficients, the model has ${header.config.expressionCount}`);
  }
  return { model: new AvatarModel(header.config, params), plates, encoder };
}

export function writeAvatarFile(path: string, model: AvatarModel, o: EncodeOptions = {}): void {
  writeFileAtomic(path, encodeAvatar(model, o));
}

export function readAvatarFile(path: string): AvatarModel {
  return decodeAvatar(readFileSync(path));
}

/** The model and its plates (null for a version-1 file or one saved without plates). */
export function readAvatarFileContents(path: string): AvatarFileContents {
  return decodeAvatarFile(readFileSync(path));
}
