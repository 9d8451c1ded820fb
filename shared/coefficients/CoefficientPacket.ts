/**
 * Wire format for one tracked frame of face coefficients: version 1 (blendshapes and
 * pose) and version 2 (the same plus the avatar's expression code, issue 16; layout
 * after version 1's).
 *
 * Fixed size: 63 bytes, multi-byte fields big-endian (network order).
 *
 *   offset size field
 *        0    1 magic 0x56 ('V')
 *        1    1 version (1)
 *        2    1 flags: bit0 facePresent, bit1 keepAlive, bits 2..7 reserved (must be 0)
 *        3    1 confidence u8, value = q / 255
 *        4    4 sequence u32, +1 per packet, wraps 2^32 - 1 -> 0
 *        8    4 capture time u32: the low 32 bits of the sender's clock in whole
 *               milliseconds since the Unix epoch, Math.round(captureTimeMs) mod 2^32
 *               (captureTimeMs from Date.now() or performance.timeOrigin + now())
 *       12   39 blendshape scores, 52 × 6 bits (312 bits, no padding) in
 *               BLENDSHAPE_NAMES order, packed MSB-first: score 0 is the top 6
 *               bits of byte 12. Value = q / 63, q = round(clamp(score, 0, 1) · 63)
 *       51    6 rotation x, y, z int16, value = q / 32767, of the unit quaternion
 *               with w >= 0, so w = sqrt(1 - x² - y² - z²) is not sent
 *       57    6 translation x, y, z int16 in 0.01 cm (range ±327.67 cm)
 *
 * At 30 frames/s that is 63 * 8 * 30 = 15.12 kbps of payload (before SCTP/DTLS/
 * UDP/IP overhead), under the 16 kbps budget; the 2 Hz keep-alive sent while
 * no face is tracked costs 63 * 8 * 2 ≈ 1 kbps.
 *
 * Capture time: the receiver rebuilds the full time as the value ≡ the u32
 * (mod 2^32) nearest to a reference time it supplies, normally its own receive
 * time on the Unix-epoch clock (see decodeCoefficientPacket). That is exact
 * whenever the two clocks (plus the transit delay) differ by less than
 * 2^31 ms ≈ 24.86 days; beyond that the result is off by a multiple of 2^32 ms
 * (~49.7 days) but still moves in step with the sender's clock.
 *
 * The uniform scale of MediaPipe's transformation matrix is not sent: it
 * describes how the canonical face model was fitted, not anything the avatar
 * needs, and apparent size is already carried by the translation's z.
 *
 * Worst-case quantization error (exported below so tests and consumers share them):
 *  - capture time: 0.5 ms (rounding to whole milliseconds).
 *  - blendshapes: half a 6-bit step, 1/126 ≈ 0.0079 (plus 2^-25 from storing
 *    the decoded score as float32). Finite scores outside [0, 1] are clamped
 *    first: MediaPipe does not promise the range, and one overshooting score
 *    should not cost the whole frame.
 *  - confidence: half an 8-bit step, 1/510 ≈ 0.00196.
 *  - translation: 0.005 cm.
 *  - rotation: each of x, y, z is off by at most 0.5/32767, so the vector part
 *    by d = √3 · 0.5/32767. Rebuilding w = sqrt(1 - |v|²) amplifies that as
 *    w -> 0, so the worst case is a half-turn: 2·acos(1 - d) ≈ 0.01454 rad
 *    (0.83°). For rotations within ±90° of the model's rest pose (the usual
 *    camera-facing head) it is below 7.5e-5 rad (0.0043°); see
 *    rotationMaxErrorRad.
 *
 * Version 2, the code packet (a sender whose avatar has an expression encoder,
 * docs/fidelity.md): 50 + K bytes, K = 1..16, the same header, then
 *
 *       12   26 blendshape scores, 52 × 4 bits, MSB-first. Value = q / 15
 *       38    6 rotation, as version 1
 *       44    6 translation, as version 1
 *       50    K the expression code, int8 each in [-127, 127], value = q / 127
 *               (shared/expression/codeQuantization.ts; -128 is never sent)
 *
 * K is not sent: it is the packet's length minus 50, and the server checks it
 * against the avatar's encoder. Why 4-bit blendshapes: version 1 already uses 63
 * of the 66 bytes that 16 kbps allows at 30 Hz, and the avatar's coefficients are
 * blendshapes + projection · code (server/encoder/ExpressionEncoder.ts), so the
 * code, trained on the landmarks, carries the fine shape of the lips the coarser
 * scores lose. A K = 12 packet is 62 bytes, 14.88 kbps at 30 Hz; K = 16 (the
 * most) is 66 bytes, 15.84 kbps. Scores err by at most 1/30 (BLENDSHAPE_V2_MAX_ERROR).
 *
 * Decoding never throws: any input, including random bytes, yields either a
 * frame or a typed failure reason.
 */
import { packFields, packedByteLength, unpackFields } from './bitPacking';
import { BLENDSHAPE_COUNT } from './blendshapes';
import { normalizeQuaternion, type Quaternion, type Vec3 } from './pose';

export const COEFFICIENT_PACKET_MAGIC = 0x56;
export const COEFFICIENT_PACKET_VERSION = 1;
/** The code packet's version (see the layout above). */
export const CODE_PACKET_VERSION = 2;

const OFFSET_FLAGS = 2;
const OFFSET_CONFIDENCE = 3;
const OFFSET_SEQUENCE = 4;
const OFFSET_CAPTURE_TIME = 8;
const OFFSET_BLENDSHAPES = 12;

/** Where a version's fields lie (the header is common). */
interface PacketLayout {
  readonly version: number;
  readonly blendshapeBits: number;
  readonly rotation: number;
  readonly translation: number;
  /** Bytes before the code: the whole packet for version 1. */
  readonly fixedBytes: number;
}

function layoutOf(version: number, blendshapeBits: number): PacketLayout {
  const rotation = OFFSET_BLENDSHAPES + packedByteLength(BLENDSHAPE_COUNT, blendshapeBits);
  return { version, blendshapeBits, rotation, translation: rotation + 6, fixedBytes: rotation + 12 };
}

const LAYOUT_V1 = layoutOf(COEFFICIENT_PACKET_VERSION, 6);
const LAYOUT_V2 = layoutOf(CODE_PACKET_VERSION, 4);
export const COEFFICIENT_PACKET_BYTES = LAYOUT_V1.fixedBytes;
/** A code packet's bytes before its code (50). */
export const CODE_PACKET_FIXED_BYTES = LAYOUT_V2.fixedBytes;
/** The longest code a packet carries: 16 values keep it within 16 kbps at 30 Hz (66 bytes). */
export const MAX_PACKET_CODE_SIZE = 16;
export const CODE_PACKET_MAX_BYTES = CODE_PACKET_FIXED_BYTES + MAX_PACKET_CODE_SIZE;
const CODE_STEPS = 127;

const FLAG_FACE_PRESENT = 0b01;
const FLAG_KEEP_ALIVE = 0b10;
const RESERVED_FLAGS = 0xff & ~(FLAG_FACE_PRESENT | FLAG_KEEP_ALIVE);

const UNIT_STEPS = 255;
const BLENDSHAPE_STEPS = 2 ** LAYOUT_V1.blendshapeBits - 1;
const CAPTURE_TIME_MODULUS = 2 ** 32;
const ROTATION_STEPS = 32767;
const TRANSLATION_STEPS_PER_CM = 100;
const INT16_MAX = 32767;

/** Capture times must lie strictly between 0 and this (1e14 ms is the year 5138). */
export const MAX_CAPTURE_TIME_MS = 1e14;
/** Largest |translation| component that fits the int16 centimetre field. */
export const TRANSLATION_LIMIT_CM = INT16_MAX / TRANSLATION_STEPS_PER_CM;
/** Encoders accept rotations whose norm is within this of 1 and normalize them. */
export const ROTATION_NORM_TOLERANCE = 1e-3;

/** Worst-case |decoded - original| capture time in ms, when reconstruction is exact (see decode). */
export const CAPTURE_TIME_MAX_ERROR_MS = 0.5;
/** Worst-case |decoded - original| for a score in [0, 1]: half a 6-bit step plus float32 storage. */
export const BLENDSHAPE_MAX_ERROR = 0.5 / BLENDSHAPE_STEPS + 2 ** -25;
/** The same for a code packet's 4-bit scores. */
export const BLENDSHAPE_V2_MAX_ERROR = 0.5 / (2 ** LAYOUT_V2.blendshapeBits - 1) + 2 ** -25;
/** Worst-case |decoded - original| confidence: half a step (decoded as float64). */
export const CONFIDENCE_MAX_ERROR = 0.5 / UNIT_STEPS + 1e-12;
/** Worst-case per-axis translation error in cm: half a 0.01 cm step (+ float64 rounding). */
export const TRANSLATION_MAX_ERROR_CM = 0.5 / TRANSLATION_STEPS_PER_CM + 1e-9;

const ROTATION_VECTOR_MAX_ERROR = (Math.sqrt(3) * 0.5) / ROTATION_STEPS;

/**
 * Worst-case rotation error (radians) for rotations of at most
 * `maxRotationAngleRad` away from identity. |v| = sin(angle/2); the error is
 * largest when quantization moves v radially outward by the full
 * ROTATION_VECTOR_MAX_ERROR, where w = sqrt(1 - |v|²) is steepest.
 */
export function rotationMaxErrorRad(maxRotationAngleRad: number): number {
  const d = ROTATION_VECTOR_MAX_ERROR;
  const radius = Math.min(Math.sin(Math.min(Math.PI, Math.abs(maxRotationAngleRad)) / 2), 1 - d);
  // 1e-9 covers float64 rounding in the encoder's normalization and the decoder's sqrt.
  return 2 * (Math.asin(Math.min(1, radius + d)) - Math.asin(radius)) + 1e-9;
}

/** Worst-case rotation error over all rotations (reached near half-turns), in radians. */
export const ROTATION_MAX_ERROR_RAD = rotationMaxErrorRad(Math.PI);

export interface CoefficientFrame {
  /** u32, wrapping; the sender increments it once per packet. */
  sequence: number;
  /** Sender-clock milliseconds since the Unix epoch. */
  captureTimeMs: number;
  facePresent: boolean;
  /** Sent to keep the stream alive when there is no new tracking data. */
  keepAlive: boolean;
  /** 0..1 */
  confidence: number;
  /** BLENDSHAPE_COUNT scores in BLENDSHAPE_NAMES order, each 0..1. */
  blendshapes: Float32Array;
  /** Unit quaternion [x, y, z, w]. */
  rotation: Quaternion;
  translationCm: Vec3;
  /**
   * The expression code as sent, int8 steps (value = q / 127), in a code packet
   * (version 2) only; absent in version 1. 1..MAX_PACKET_CODE_SIZE values in [-127, 127].
   */
  code?: Int8Array;
}

/**
 * Why a packet was rejected. 'non-finite' is never produced by this version of
 * the format (it has no floating-point field since capture time became a u32)
 * but stays in the list so that per-reason counters keep a stable shape.
 * 'out-of-range' is a rotation vector or translation no encoder can produce.
 */
export type DecodeFailure =
  | 'truncated'
  | 'oversized'
  | 'bad-magic'
  | 'unsupported-version'
  | 'bad-flags'
  | 'non-finite'
  | 'out-of-range';

export const DECODE_FAILURES: readonly DecodeFailure[] = [
  'truncated',
  'oversized',
  'bad-magic',
  'unsupported-version',
  'bad-flags',
  'non-finite',
  'out-of-range',
];

export type DecodeResult =
  | { ok: true; frame: CoefficientFrame }
  | { ok: false; reason: DecodeFailure; message: string };

function requireFinite(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${field} must be a finite number; got ${String(value)}`);
  }
  return value;
}

function requireBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${field} must be a boolean; got ${String(value)}`);
  }
  return value;
}

function quantizeUnit(value: number, steps: number): number {
  return Math.round(Math.min(1, Math.max(0, value)) * steps);
}

/**
 * Serializes `frame` into `out` (at least COEFFICIENT_PACKET_BYTES long) or a
 * new array, returning exactly the packet's bytes. Everything is validated
 * before the first byte is written, so a rejected frame leaves `out` untouched.
 */
export function encodeCoefficientFrame(frame: CoefficientFrame, out?: Uint8Array): Uint8Array {
  const sequence = requireFinite(frame.sequence, 'sequence');
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffffffff) {
    throw new RangeError(`sequence must be an integer in [0, 4294967295]; got ${sequence}`);
  }
  const captureTimeMs = requireFinite(frame.captureTimeMs, 'captureTimeMs');
  if (!(captureTimeMs > 0 && captureTimeMs < MAX_CAPTURE_TIME_MS)) {
    throw new RangeError(`captureTimeMs must be in (0, ${MAX_CAPTURE_TIME_MS}); got ${captureTimeMs}`);
  }
  const facePresent = requireBoolean(frame.facePresent, 'facePresent');
  const keepAlive = requireBoolean(frame.keepAlive, 'keepAlive');
  const confidence = requireFinite(frame.confidence, 'confidence');
  if (confidence < 0 || confidence > 1) {
    throw new RangeError(`confidence must be in [0, 1]; got ${confidence}`);
  }

  const blendshapes = frame.blendshapes;
  if (blendshapes?.length !== BLENDSHAPE_COUNT) {
    throw new RangeError(
      `blendshapes must have ${BLENDSHAPE_COUNT} entries; got ${String(blendshapes?.length)}`,
    );
  }
  for (let i = 0; i < BLENDSHAPE_COUNT; i++) {
    requireFinite(blendshapes[i], `blendshapes[${i}]`);
  }

  if (frame.rotation?.length !== 4) {
    throw new RangeError(`rotation must have 4 entries [x, y, z, w]; got ${String(frame.rotation?.length)}`);
  }
  const rawRotation = frame.rotation.map((c, i) => requireFinite(c, `rotation[${i}]`));
  const norm = Math.hypot(...rawRotation);
  if (Math.abs(norm - 1) > ROTATION_NORM_TOLERANCE) {
    throw new RangeError(`rotation must be a unit quaternion; got norm ${norm}`);
  }
  const [x, y, z] = normalizeQuaternion(rawRotation as Quaternion);

  if (frame.translationCm?.length !== 3) {
    throw new RangeError(`translationCm must have 3 entries; got ${String(frame.translationCm?.length)}`);
  }
  const translation = frame.translationCm.map((c, i) => {
    const value = requireFinite(c, `translationCm[${i}]`);
    if (Math.abs(value) > TRANSLATION_LIMIT_CM) {
      throw new RangeError(`translationCm[${i}] must be within ±${TRANSLATION_LIMIT_CM} cm; got ${value}`);
    }
    return value;
  });

  const code = frame.code;
  if (code !== undefined) {
    if (!(code instanceof Int8Array) || code.length < 1 || code.length > MAX_PACKET_CODE_SIZE) {
      throw new RangeError(`code must be an Int8Array of 1..${MAX_PACKET_CODE_SIZE} values; got ${code instanceof Int8Array ? `${code.length} values` : String(code)}`);
    }
    const bad = code.findIndex((q) => q < -CODE_STEPS);
    if (bad >= 0) throw new RangeError(`code[${bad}] must be in [-${CODE_STEPS}, ${CODE_STEPS}]; got ${code[bad]}`);
  }
  const layout = code ? LAYOUT_V2 : LAYOUT_V1;
  const size = layout.fixedBytes + (code?.length ?? 0);
  const bytes = out ?? new Uint8Array(size);
  if (bytes.length < size) {
    throw new RangeError(`output buffer must hold ${size} bytes; got ${bytes.length}`);
  }

  const steps = 2 ** layout.blendshapeBits - 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  view.setUint8(0, COEFFICIENT_PACKET_MAGIC);
  view.setUint8(1, layout.version);
  view.setUint8(OFFSET_FLAGS, (facePresent ? FLAG_FACE_PRESENT : 0) | (keepAlive ? FLAG_KEEP_ALIVE : 0));
  view.setUint8(OFFSET_CONFIDENCE, quantizeUnit(confidence, UNIT_STEPS));
  view.setUint32(OFFSET_SEQUENCE, sequence);
  view.setUint32(OFFSET_CAPTURE_TIME, Math.round(captureTimeMs) % CAPTURE_TIME_MODULUS);
  packFields(bytes, OFFSET_BLENDSHAPES, BLENDSHAPE_COUNT, layout.blendshapeBits, (i) =>
    quantizeUnit(blendshapes[i] ?? 0, steps),
  );
  [x, y, z].forEach((c, i) => view.setInt16(layout.rotation + 2 * i, Math.round(c * ROTATION_STEPS)));
  translation.forEach((c, i) =>
    view.setInt16(layout.translation + 2 * i, Math.round(c * TRANSLATION_STEPS_PER_CM)),
  );
  if (code) for (let i = 0; i < code.length; i++) view.setInt8(layout.fixedBytes + i, code[i]!);
  return bytes.subarray(0, size);
}

function failure(reason: DecodeFailure, message: string): DecodeResult {
  return { ok: false, reason, message };
}

// Largest |(qx, qy, qz)| an encoder can produce from a unit quaternion: each
// component rounds by at most half a step. Anything longer was not made by us.
const MAX_ROTATION_VECTOR_STEPS = ROTATION_STEPS + Math.sqrt(3) * 0.5;

/**
 * The valid capture time (in (0, MAX_CAPTURE_TIME_MS)) ≡ `low32` mod 2^32 that
 * is nearest to the reference; a tie goes to the later one. A non-finite
 * reference is replaced by Date.now().
 */
function reconstructCaptureTime(low32: number, referenceTimeMs: number): number {
  const finite = Number.isFinite(referenceTimeMs) ? referenceTimeMs : Date.now();
  // Clamping keeps the arithmetic exact and does not change which valid time is nearest.
  const reference = Math.min(MAX_CAPTURE_TIME_MS, Math.max(0, finite));
  let time = low32 + Math.round((reference - low32) / CAPTURE_TIME_MODULUS) * CAPTURE_TIME_MODULUS;
  if (time <= 0) time += CAPTURE_TIME_MODULUS;
  if (time >= MAX_CAPTURE_TIME_MS) time -= CAPTURE_TIME_MODULUS;
  return time;
}

/**
 * Parses and fully validates one packet. Never throws. `referenceTimeMs`
 * anchors the 32-bit capture time: pass the receive time on the Unix-epoch ms
 * clock; the capture time is exact (±0.5 ms) when within 2^31 ms of it.
 */
export function decodeCoefficientPacket(bytes: Uint8Array, referenceTimeMs: number = Date.now()): DecodeResult {
  // Untyped callers (e.g. a socket handler handing over an ArrayBuffer) must
  // get a failure, not an exception; there is no byte to read, hence 'truncated'.
  if (!(bytes instanceof Uint8Array)) {
    return failure('truncated', `input is not a Uint8Array: ${Object.prototype.toString.call(bytes)}`);
  }
  const length = bytes.length;
  // Magic and version are checked before the length so that foreign traffic
  // and packets from a newer protocol get the more useful reason.
  if (length < 1) return failure('truncated', 'packet is empty');
  if (bytes[0] !== COEFFICIENT_PACKET_MAGIC) {
    return failure('bad-magic', `magic byte is 0x${(bytes[0] ?? 0).toString(16)}; expected 0x56`);
  }
  if (length < 2) return failure('truncated', `packet is ${length} bytes; expected ${COEFFICIENT_PACKET_BYTES}`);
  if (bytes[1] !== COEFFICIENT_PACKET_VERSION && bytes[1] !== CODE_PACKET_VERSION) {
    return failure('unsupported-version', `version is ${bytes[1]}; expected ${COEFFICIENT_PACKET_VERSION} or ${CODE_PACKET_VERSION}`);
  }
  const layout = bytes[1] === CODE_PACKET_VERSION ? LAYOUT_V2 : LAYOUT_V1;
  const [minBytes, maxBytes] = layout === LAYOUT_V2 ? [CODE_PACKET_FIXED_BYTES + 1, CODE_PACKET_MAX_BYTES] : [COEFFICIENT_PACKET_BYTES, COEFFICIENT_PACKET_BYTES];
  const expected = minBytes === maxBytes ? `${minBytes}` : `${minBytes}..${maxBytes}`;
  if (length < minBytes) {
    return failure('truncated', `packet is ${length} bytes; expected ${expected} for version ${layout.version}`);
  }
  if (length > maxBytes) {
    return failure('oversized', `packet is ${length} bytes; expected ${expected} for version ${layout.version}`);
  }

  // Respect byteOffset: Node Buffers are often views into a shared pool.
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const flags = view.getUint8(OFFSET_FLAGS);
  if ((flags & RESERVED_FLAGS) !== 0) {
    return failure('bad-flags', `reserved flag bits are set: 0x${flags.toString(16)}`);
  }

  const rotationSteps = [0, 1, 2].map((i) => view.getInt16(layout.rotation + 2 * i));
  const vectorSteps = Math.hypot(...rotationSteps);
  if (rotationSteps.some((q) => q < -ROTATION_STEPS) || vectorSteps > MAX_ROTATION_VECTOR_STEPS) {
    return failure('out-of-range', `rotation vector (${rotationSteps.join(', ')}) is longer than a unit quaternion`);
  }
  const translationSteps = [0, 1, 2].map((i) => view.getInt16(layout.translation + 2 * i));
  if (translationSteps.some((q) => q < -INT16_MAX)) {
    return failure('out-of-range', `translation (${translationSteps.join(', ')}) is outside ±${INT16_MAX} steps`);
  }
  let code: Int8Array | undefined;
  if (layout === LAYOUT_V2) {
    code = Int8Array.from(bytes.subarray(layout.fixedBytes, length), (b) => (b << 24) >> 24);
    const bad = code.findIndex((q) => q < -CODE_STEPS);
    if (bad >= 0) return failure('out-of-range', `code value ${bad} is ${code[bad]}; codes are int8 in [-${CODE_STEPS}, ${CODE_STEPS}]`);
  }

  const steps = 2 ** layout.blendshapeBits - 1;
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  unpackFields(bytes, OFFSET_BLENDSHAPES, BLENDSHAPE_COUNT, layout.blendshapeBits, (i, q) => {
    blendshapes[i] = q / steps;
  });
  return {
    ok: true,
    frame: {
      sequence: view.getUint32(OFFSET_SEQUENCE),
      captureTimeMs: reconstructCaptureTime(view.getUint32(OFFSET_CAPTURE_TIME), referenceTimeMs),
      facePresent: (flags & FLAG_FACE_PRESENT) !== 0,
      keepAlive: (flags & FLAG_KEEP_ALIVE) !== 0,
      confidence: view.getUint8(OFFSET_CONFIDENCE) / UNIT_STEPS,
      blendshapes,
      rotation: rotationFromSteps(rotationSteps, vectorSteps),
      translationCm: translationSteps.map((q) => q / TRANSLATION_STEPS_PER_CM) as Vec3,
      ...(code ? { code } : {}),
    },
  };
}

function rotationFromSteps(steps: number[], stepsNorm: number): Quaternion {
  const [qx = 0, qy = 0, qz = 0] = steps;
  if (stepsNorm >= ROTATION_STEPS) {
    // Rounding pushed a half-turn slightly outside the unit ball: project back, w = 0.
    return [qx / stepsNorm, qy / stepsNorm, qz / stepsNorm, 0];
  }
  const x = qx / ROTATION_STEPS;
  const y = qy / ROTATION_STEPS;
  const z = qz / ROTATION_STEPS;
  return [x, y, z, Math.sqrt(Math.max(0, 1 - x * x - y * y - z * z))];
}
