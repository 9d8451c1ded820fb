import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  BLENDSHAPE_MAX_ERROR,
  COEFFICIENT_PACKET_BYTES,
  COEFFICIENT_PACKET_MAGIC,
  COEFFICIENT_PACKET_VERSION,
  CONFIDENCE_MAX_ERROR,
  DECODE_FAILURES,
  ROTATION_MAX_ERROR_RAD,
  TRANSLATION_LIMIT_CM,
  TRANSLATION_MAX_ERROR_CM,
  decodeCoefficientPacket,
  encodeCoefficientFrame,
  rotationMaxErrorRad,
  type CoefficientFrame,
  type DecodeFailure,
} from './CoefficientPacket';
import { BLENDSHAPE_COUNT } from './blendshapes';
import { quaternionAngleRad, type Quaternion } from './pose';
import { randomUnitQuaternion, seededRandom } from './seededRandom';

// Byte offsets from the layout table in CoefficientPacket.ts, used to forge packets.
const FLAGS = 2;
const CAPTURE_TIME = 8;
const ROTATION = 16 + BLENDSHAPE_COUNT;
const TRANSLATION = ROTATION + 6;

function randomFrame(random: () => number): CoefficientFrame {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  for (let i = 0; i < BLENDSHAPE_COUNT; i++) blendshapes[i] = random();
  const rotation = randomUnitQuaternion(random);
  return {
    sequence: Math.floor(random() * 2 ** 32),
    captureTimeMs: 1.7e12 + random() * 1e11,
    facePresent: random() < 0.5,
    keepAlive: random() < 0.5,
    confidence: random(),
    blendshapes,
    // Both signs of q, so the encoder's w >= 0 canonicalization is exercised.
    rotation: random() < 0.5 ? rotation : (rotation.map((c) => -c) as Quaternion),
    translationCm: [0, 1, 2].map(() => (random() * 2 - 1) * TRANSLATION_LIMIT_CM) as CoefficientFrame['translationCm'],
  };
}

function decodeOrFail(bytes: Uint8Array): CoefficientFrame {
  const result = decodeCoefficientPacket(bytes);
  if (!result.ok) assert.fail(`decode failed: ${result.reason}: ${result.message}`);
  return result.frame;
}

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

function forge(mutate: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = encodeCoefficientFrame(randomFrame(seededRandom(99)));
  mutate(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes);
  return bytes;
}

function assertRejected(bytes: Uint8Array, reason: DecodeFailure): void {
  const result = decodeCoefficientPacket(bytes);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.reason, reason, result.message);
    assert.ok(result.message.length > 0);
  }
}

describe('CoefficientPacket round trip', () => {
  test('a packet fits the 100-byte budget and encode returns exactly its bytes', () => {
    assert.ok(COEFFICIENT_PACKET_BYTES <= 100);
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
      const decoded = decodeOrFail(encodeCoefficientFrame(frame));
      assert.equal(decoded.sequence, frame.sequence);
      assert.equal(decoded.captureTimeMs, frame.captureTimeMs);
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
    assertRejected(forge((view) => view.setUint8(1, 2)), 'unsupported-version');
    assertRejected(new Uint8Array([COEFFICIENT_PACKET_MAGIC, 2, 0, 0, 0]), 'unsupported-version');
  });

  test('every reserved flag bit is rejected', () => {
    for (let bit = 2; bit < 8; bit++) {
      assertRejected(forge((view) => view.setUint8(FLAGS, 1 << bit)), 'bad-flags');
    }
  });

  test('a NaN or infinite capture time is non-finite, and one outside (0, 1e14) is out of range', () => {
    for (const time of [NaN, Infinity, -Infinity]) {
      assertRejected(forge((view) => view.setFloat64(CAPTURE_TIME, time)), 'non-finite');
    }
    for (const time of [0, -1, 1e14, 1e300]) {
      assertRejected(forge((view) => view.setFloat64(CAPTURE_TIME, time)), 'out-of-range');
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
    const check = (bytes: Uint8Array): void => {
      const result = decodeCoefficientPacket(bytes);
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
    // Special float64 values spliced in at random offsets reach the
    // capture-time checks, which random bits almost never do.
    const specialDoubles = [NaN, Infinity, -Infinity, 0, -1, 1e300];
    for (let n = 0; n < 10000; n++) {
      const bytes = encodeCoefficientFrame(randomFrame(random));
      const view = new DataView(bytes.buffer);
      if (random() < 0.5) {
        const value = specialDoubles[Math.floor(random() * specialDoubles.length)] ?? NaN;
        view.setFloat64(Math.floor(random() * (bytes.length - 7)), value);
      } else {
        const flips = 1 + Math.floor(random() * 3);
        for (let f = 0; f < flips; f++) {
          const index = Math.floor(random() * bytes.length);
          bytes[index] = (bytes[index] ?? 0) ^ (1 << Math.floor(random() * 8));
        }
      }
      check(bytes);
    }
    for (const outcome of ['ok', ...DECODE_FAILURES]) {
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
