import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  BLENDSHAPE_MAX_ERROR,
  CAPTURE_TIME_MAX_ERROR_MS,
  COEFFICIENT_PACKET_BYTES,
  COEFFICIENT_PACKET_MAGIC,
  COEFFICIENT_PACKET_VERSION,
  CONFIDENCE_MAX_ERROR,
  DECODE_FAILURES,
  MAX_CAPTURE_TIME_MS,
  ROTATION_MAX_ERROR_RAD,
  TRANSLATION_MAX_ERROR_CM,
  decodeCoefficientPacket,
  encodeCoefficientFrame,
  rotationMaxErrorRad,
  type CoefficientFrame,
  type DecodeFailure,
} from './CoefficientPacket';
import { BLENDSHAPE_COUNT } from './blendshapes';
import {
  BLENDSHAPES,
  CAPTURE_TIME,
  FLAGS,
  ROTATION,
  TRANSLATION,
  decodeOrFail,
  forge,
  randomFrame,
} from './packetTestHelpers';
import { quaternionAngleRad, type Quaternion } from './pose';
import { randomUnitQuaternion, seededRandom } from './seededRandom';

const DAY_MS = 86_400_000;
const TWO_32 = 2 ** 32;

function maxRotationErrorOver(rotations: Quaternion[], random: () => number): number {
  let worst = 0;
  for (const rotation of rotations) {
    const frame = { ...randomFrame(random), rotation };
    const decoded = decodeOrFail(encodeCoefficientFrame(frame));
    worst = Math.max(worst, quaternionAngleRad(decoded.rotation, rotation));
  }
  return worst;
}

function axisAngle(random: () => number, angleRad: number): Quaternion {
  const axis = randomUnitQuaternion(random).slice(0, 3);
  const length = Math.hypot(...axis);
  const s = Math.sin(angleRad / 2) / length;
  return [(axis[0] ?? 0) * s, (axis[1] ?? 0) * s, (axis[2] ?? 0) * s, Math.cos(angleRad / 2)];
}

function assertRejected(bytes: Uint8Array, reason: DecodeFailure): void {
  const result = decodeCoefficientPacket(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.reason, reason, result.message);
    assert.ok(result.message.length > 0);
  }
}

describe('CoefficientPacket capture time reconstruction', () => {
  test('a reference up to 20 days before or after the capture time reconstructs it', () => {
    const random = seededRandom(14);
    let worst = 0;
    for (let n = 0; n < 20000; n++) {
      const frame = randomFrame(random);
      const reference = frame.captureTimeMs + (random() * 2 - 1) * 20 * DAY_MS;
      const decoded = decodeOrFail(encodeCoefficientFrame(frame), reference);
      assert.ok(Number.isInteger(decoded.captureTimeMs));
      worst = Math.max(worst, Math.abs(decoded.captureTimeMs - frame.captureTimeMs));
    }
    assert.ok(worst <= CAPTURE_TIME_MAX_ERROR_MS, `capture time error ${worst}`);
    assert.ok(worst > CAPTURE_TIME_MAX_ERROR_MS / 2, `capture time bound is loose: ${worst}`);
  });

  test('captures and references on opposite sides of a 2^32 ms boundary', () => {
    const random = seededRandom(15);
    const boundary = 412 * TWO_32; // January 2026 on the Unix clock
    for (const captureOffset of [-20 * DAY_MS, -1000, -1, 0, 1, 33.3, 20 * DAY_MS]) {
      for (const referenceOffset of [-20 * DAY_MS, -1, 0, 1, 20 * DAY_MS]) {
        const captureTimeMs = boundary + captureOffset;
        if (Math.abs(referenceOffset - captureOffset) > 24 * DAY_MS) continue;
        const frame = { ...randomFrame(random), captureTimeMs };
        const decoded = decodeOrFail(encodeCoefficientFrame(frame), boundary + referenceOffset);
        assert.equal(decoded.captureTimeMs, Math.round(captureTimeMs), `${captureOffset} vs ${referenceOffset}`);
      }
    }
  });

  test('clocks more than 2^31 ms apart are off by exactly 2^32 ms', () => {
    const frame = { ...randomFrame(seededRandom(16)), captureTimeMs: 1.7e12 + 0.25 };
    const bytes = encodeCoefficientFrame(frame);
    assert.equal(decodeOrFail(bytes, 1.7e12 + 2 ** 31 - 1).captureTimeMs, 1.7e12);
    assert.equal(decodeOrFail(bytes, 1.7e12 + 2 ** 31 + 1).captureTimeMs, 1.7e12 + TWO_32);
    assert.equal(decodeOrFail(bytes, 1.7e12 - 2 ** 31 - 1).captureTimeMs, 1.7e12 - TWO_32);
  });

  test('without a usable reference, decode uses Date.now()', () => {
    const frame = { ...randomFrame(seededRandom(17)), captureTimeMs: Date.now() - 5 * DAY_MS };
    const bytes = encodeCoefficientFrame(frame);
    for (const reference of [undefined, NaN, Infinity, -Infinity]) {
      const decoded = decodeOrFail(bytes, reference);
      assert.ok(Math.abs(decoded.captureTimeMs - frame.captureTimeMs) <= CAPTURE_TIME_MAX_ERROR_MS, String(reference));
    }
  });

  test('any field value and any finite reference yield a valid capture time', () => {
    for (const field of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
      const bytes = forge((view) => view.setUint32(CAPTURE_TIME, field));
      for (const reference of [-1e300, -1, 0, 0.5, 1e12, MAX_CAPTURE_TIME_MS - 1, MAX_CAPTURE_TIME_MS, 1e300]) {
        const { captureTimeMs } = decodeOrFail(bytes, reference);
        const where = `${field} at ${reference}: ${captureTimeMs}`;
        assert.ok(captureTimeMs > 0 && captureTimeMs < MAX_CAPTURE_TIME_MS, where);
        assert.equal(captureTimeMs % TWO_32, field, `${field} at ${reference}`);
        const clamped = Math.min(MAX_CAPTURE_TIME_MS, Math.max(0, reference));
        // Nearest valid congruent time: the neighbours on either side are no closer.
        for (const neighbour of [captureTimeMs - TWO_32, captureTimeMs + TWO_32]) {
          if (neighbour > 0 && neighbour < MAX_CAPTURE_TIME_MS) {
            assert.ok(Math.abs(neighbour - clamped) >= Math.abs(captureTimeMs - clamped));
          }
        }
      }
    }
  });
});

describe('CoefficientPacket round trip', () => {
  test('payload at 30 packets/s stays within the 16 kbps budget', () => {
    assert.ok((COEFFICIENT_PACKET_BYTES * 8 * 30) / 1000 <= 16, `${COEFFICIENT_PACKET_BYTES} bytes`);
    assert.equal(COEFFICIENT_PACKET_BYTES, TRANSLATION + 6);
    assert.equal(ROTATION - BLENDSHAPES, Math.ceil((BLENDSHAPE_COUNT * 6) / 8));
  });

  test('encode returns exactly the packet bytes, starting with magic and version', () => {
    const bytes = encodeCoefficientFrame(randomFrame(seededRandom(1)));
    assert.equal(bytes.length, COEFFICIENT_PACKET_BYTES);
    assert.equal(bytes[0], COEFFICIENT_PACKET_MAGIC);
    assert.equal(bytes[1], COEFFICIENT_PACKET_VERSION);
  });

  test('random frames decode within the documented error bounds, and the bounds are nearly reached', () => {
    const random = seededRandom(2);
    let worstBlendshape = 0;
    let worstConfidence = 0;
    let worstTranslation = 0;
    let worstRotation = 0;
    for (let n = 0; n < 20000; n++) {
      const frame = randomFrame(random);
      const decoded = decodeOrFail(encodeCoefficientFrame(frame), frame.captureTimeMs + 40);
      assert.equal(decoded.sequence, frame.sequence);
      assert.equal(decoded.captureTimeMs, Math.round(frame.captureTimeMs));
      assert.equal(decoded.facePresent, frame.facePresent);
      assert.equal(decoded.keepAlive, frame.keepAlive);
      assert.ok(decoded.rotation[3] >= 0);
      frame.blendshapes.forEach((value, i) => {
        worstBlendshape = Math.max(worstBlendshape, Math.abs((decoded.blendshapes[i] ?? NaN) - value));
      });
      worstConfidence = Math.max(worstConfidence, Math.abs(decoded.confidence - frame.confidence));
      frame.translationCm.forEach((value, i) => {
        worstTranslation = Math.max(worstTranslation, Math.abs((decoded.translationCm[i] ?? NaN) - value));
      });
      worstRotation = Math.max(worstRotation, quaternionAngleRad(decoded.rotation, frame.rotation));
    }
    assert.ok(worstBlendshape <= BLENDSHAPE_MAX_ERROR, `blendshape error ${worstBlendshape}`);
    assert.ok(worstConfidence <= CONFIDENCE_MAX_ERROR, `confidence error ${worstConfidence}`);
    assert.ok(worstTranslation <= TRANSLATION_MAX_ERROR_CM, `translation error ${worstTranslation}`);
    assert.ok(worstRotation <= ROTATION_MAX_ERROR_RAD, `rotation error ${worstRotation}`);
    assert.ok(worstBlendshape > BLENDSHAPE_MAX_ERROR / 2, `blendshape bound is loose: ${worstBlendshape}`);
    assert.ok(worstConfidence > CONFIDENCE_MAX_ERROR / 2, `confidence bound is loose: ${worstConfidence}`);
    assert.ok(worstTranslation > TRANSLATION_MAX_ERROR_CM / 2, `translation bound is loose: ${worstTranslation}`);
  });

  test('half-turn rotations stay within the worst-case rotation bound and come close to it', () => {
    const random = seededRandom(3);
    const halfTurns = Array.from({ length: 5000 }, () => axisAngle(random, Math.PI));
    const worst = maxRotationErrorOver(halfTurns, random);
    assert.ok(worst <= ROTATION_MAX_ERROR_RAD, `rotation error ${worst}`);
    assert.ok(worst > ROTATION_MAX_ERROR_RAD / 2, `rotation bound is loose: ${worst}`);
  });

  test('rotations within 90 degrees obey the much smaller rotationMaxErrorRad bound', () => {
    const random = seededRandom(4);
    const bound = rotationMaxErrorRad(Math.PI / 2);
    assert.ok(bound < ROTATION_MAX_ERROR_RAD / 100);
    const anyUpTo90 = Array.from({ length: 5000 }, () => axisAngle(random, (random() * Math.PI) / 2));
    assert.ok(maxRotationErrorOver(anyUpTo90, random) <= bound);
    const exactly90 = Array.from({ length: 5000 }, () => axisAngle(random, Math.PI / 2));
    const worst = maxRotationErrorOver(exactly90, random);
    assert.ok(worst <= bound, `rotation error ${worst}`);
    assert.ok(worst > bound / 2, `rotation bound is loose: ${worst}`);
  });

  test('finite blendshape scores outside [0, 1] are clamped rather than rejected', () => {
    const frame = randomFrame(seededRandom(5));
    frame.blendshapes[0] = -0.25;
    frame.blendshapes[1] = 1.75;
    const decoded = decodeOrFail(encodeCoefficientFrame(frame));
    assert.equal(decoded.blendshapes[0], 0);
    assert.equal(decoded.blendshapes[1], 1);
  });

  test('encode writes into a caller buffer view and decode reads a view at a non-zero offset', () => {
    const frame = randomFrame(seededRandom(6));
    const backing = new Uint8Array(COEFFICIENT_PACKET_BYTES + 20).fill(0xee);
    const window = backing.subarray(7);
    const bytes = encodeCoefficientFrame(frame, window);
    assert.equal(bytes.byteOffset, 7);
    assert.equal(bytes.length, COEFFICIENT_PACKET_BYTES);
    assert.equal(backing[6], 0xee, 'bytes before the view are untouched');
    assert.equal(backing[7 + COEFFICIENT_PACKET_BYTES], 0xee, 'bytes after the packet are untouched');
    assert.deepEqual(decodeOrFail(bytes), decodeOrFail(encodeCoefficientFrame(frame)));
  });
});

describe('CoefficientPacket decode rejections', () => {
  test('short packets are truncated and long ones oversized', () => {
    const valid = encodeCoefficientFrame(randomFrame(seededRandom(7)));
    for (const length of [0, 1, 2, COEFFICIENT_PACKET_BYTES - 1]) {
      assertRejected(valid.slice(0, length), 'truncated');
    }
    const long = new Uint8Array(COEFFICIENT_PACKET_BYTES + 1);
    long.set(valid);
    assertRejected(long, 'oversized');
  });

  test('a wrong magic byte or version is reported before the length', () => {
    assertRejected(forge((view) => view.setUint8(0, 0x57)), 'bad-magic');
    assertRejected(new Uint8Array([0x00]), 'bad-magic');
    assertRejected(forge((view) => view.setUint8(1, 0)), 'unsupported-version');
    // Version 2 is the code packet (CodePacket.test.ts); 3 is from a newer protocol.
    assertRejected(forge((view) => view.setUint8(1, 3)), 'unsupported-version');
    assertRejected(new Uint8Array([COEFFICIENT_PACKET_MAGIC, 3, 0, 0, 0]), 'unsupported-version');
  });

  test('every reserved flag bit is rejected', () => {
    for (let bit = 2; bit < 8; bit++) {
      assertRejected(forge((view) => view.setUint8(FLAGS, 1 << bit)), 'bad-flags');
    }
  });

  test('rotation vectors longer than any encoder output and int16 minimums are out of range', () => {
    assertRejected(forge((view) => [0, 2, 4].forEach((o) => view.setInt16(ROTATION + o, 20000))), 'out-of-range');
    assertRejected(forge((view) => view.setInt16(ROTATION, -32768)), 'out-of-range');
    assertRejected(forge((view) => view.setInt16(TRANSLATION + 4, -32768)), 'out-of-range');
  });

  test('decode reports non-Uint8Array input instead of throwing', () => {
    assertRejected(new ArrayBuffer(COEFFICIENT_PACKET_BYTES) as unknown as Uint8Array, 'truncated');
    assertRejected(null as unknown as Uint8Array, 'truncated');
  });

  test('10,000 random byte arrays and 10,000 mutated packets never make decode throw', () => {
    const random = seededRandom(8);
    const seen = new Set<string>();
    // Reference times from absurd to ordinary, so every reconstruction path runs.
    const references = [NaN, -1e300, 0, 1e12, 1.75e12, MAX_CAPTURE_TIME_MS, 1e300];
    const check = (bytes: Uint8Array): void => {
      const reference = references[Math.floor(random() * references.length)];
      const result = decodeCoefficientPacket(bytes, reference);
      if (result.ok) {
        seen.add('ok');
        // Whatever decode accepts must be a frame the encoder accepts too.
        encodeCoefficientFrame(result.frame);
      } else {
        assert.ok(DECODE_FAILURES.includes(result.reason), `unknown reason ${result.reason}`);
        assert.equal(typeof result.message, 'string');
        seen.add(result.reason);
      }
    };
    for (let n = 0; n < 10000; n++) {
      const bytes = new Uint8Array(Math.floor(random() * 201));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      // Give half the arrays a valid header so the checks behind it get reached.
      if (random() < 0.5 && bytes.length >= 2) bytes.set([COEFFICIENT_PACKET_MAGIC, COEFFICIENT_PACKET_VERSION]);
      check(bytes);
    }
    // Extreme int16 values spliced in at random offsets reach the rotation and
    // translation range checks, which single bit flips reach less often.
    const specialInt16s = [-32768, -32767, 32767, 0];
    for (let n = 0; n < 10000; n++) {
      const bytes = encodeCoefficientFrame(randomFrame(random));
      const view = new DataView(bytes.buffer);
      if (random() < 0.5) {
        const value = specialInt16s[Math.floor(random() * specialInt16s.length)] ?? 0;
        view.setInt16(Math.floor(random() * (bytes.length - 1)), value);
      } else {
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++) {
          const index = Math.floor(random() * bytes.length);
          bytes[index] = (bytes[index] ?? 0) ^ (1 << Math.floor(random() * 8));
        }
      }
      check(bytes);
    }
    // 'non-finite' is kept in DECODE_FAILURES for stable counters, but this
    // format has no floating-point field, so nothing can produce it.
    assert.ok(!seen.has('non-finite'));
    for (const outcome of ['ok', ...DECODE_FAILURES.filter((reason) => reason !== 'non-finite')]) {
      assert.ok(seen.has(outcome), `fuzzing never produced ${outcome}`);
    }
  });
});

describe('CoefficientPacket encode validation', () => {
  const cases: Array<[string, (frame: CoefficientFrame) => void, ErrorConstructor, string]> = [
    ['NaN sequence', (f) => { f.sequence = NaN; }, TypeError, 'sequence must be a finite number; got NaN'],
    ['negative sequence', (f) => { f.sequence = -1; }, RangeError, 'sequence must be an integer in [0, 4294967295]; got -1'],
    ['sequence past u32', (f) => { f.sequence = 2 ** 32; }, RangeError, 'sequence must be an integer in [0, 4294967295]; got 4294967296'],
    ['fractional sequence', (f) => { f.sequence = 1.5; }, RangeError, 'sequence must be an integer in [0, 4294967295]; got 1.5'],
    ['infinite capture time', (f) => { f.captureTimeMs = Infinity; }, TypeError, 'captureTimeMs must be a finite number; got Infinity'],
    ['zero capture time', (f) => { f.captureTimeMs = 0; }, RangeError, 'captureTimeMs must be in (0, 100000000000000); got 0'],
    ['non-boolean flag', (f) => { (f as { facePresent: unknown }).facePresent = 1; }, TypeError, 'facePresent must be a boolean; got 1'],
    ['NaN confidence', (f) => { f.confidence = NaN; }, TypeError, 'confidence must be a finite number; got NaN'],
    ['confidence above 1', (f) => { f.confidence = 1.5; }, RangeError, 'confidence must be in [0, 1]; got 1.5'],
    ['51 blendshapes', (f) => { f.blendshapes = new Float32Array(51); }, RangeError, 'blendshapes must have 52 entries; got 51'],
    ['NaN blendshape', (f) => { f.blendshapes[3] = NaN; }, TypeError, 'blendshapes[3] must be a finite number; got NaN'],
    ['infinite blendshape', (f) => { f.blendshapes[4] = -Infinity; }, TypeError, 'blendshapes[4] must be a finite number; got -Infinity'],
    ['non-unit rotation', (f) => { f.rotation = [0, 0, 0, 0.5]; }, RangeError, 'rotation must be a unit quaternion; got norm 0.5'],
    ['NaN rotation', (f) => { f.rotation = [NaN, 0, 0, 1]; }, TypeError, 'rotation[0] must be a finite number; got NaN'],
    ['three-element rotation', (f) => { f.rotation = [0, 0, 1] as unknown as Quaternion; }, RangeError, 'rotation must have 4 entries [x, y, z, w]; got 3'],
    ['translation out of range', (f) => { f.translationCm = [0, 400, 0]; }, RangeError, 'translationCm[1] must be within ±327.67 cm; got 400'],
    ['infinite translation', (f) => { f.translationCm = [0, 0, Infinity]; }, TypeError, 'translationCm[2] must be a finite number; got Infinity'],
  ];
  for (const [name, mutate, errorType, message] of cases) {
    test(`encode rejects a frame with ${name} and leaves the output buffer untouched`, () => {
      const frame = randomFrame(seededRandom(9));
      mutate(frame);
      const out = new Uint8Array(COEFFICIENT_PACKET_BYTES).fill(0xaa);
      assert.throws(() => encodeCoefficientFrame(frame, out), { name: errorType.name, message });
      assert.ok(out.every((b) => b === 0xaa));
    });
  }

  test('encode rejects an output buffer shorter than a packet', () => {
    assert.throws(() => encodeCoefficientFrame(randomFrame(seededRandom(10)), new Uint8Array(10)), {
      name: 'RangeError',
      message: `output buffer must hold ${COEFFICIENT_PACKET_BYTES} bytes; got 10`,
    });
  });
});
