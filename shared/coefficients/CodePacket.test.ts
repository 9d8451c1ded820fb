import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  BLENDSHAPE_V2_MAX_ERROR,
  CODE_PACKET_FIXED_BYTES,
  CODE_PACKET_MAX_BYTES,
  CODE_PACKET_VERSION,
  COEFFICIENT_PACKET_BYTES,
  MAX_PACKET_CODE_SIZE,
  decodeCoefficientPacket,
  encodeCoefficientFrame,
  type CoefficientFrame,
  type DecodeFailure,
} from './CoefficientPacket';
import { decodeOrFail, randomFrame } from './packetTestHelpers';
import { quaternionAngleRad } from './pose';
import { seededRandom } from './seededRandom';
import { quantizeCode } from '../expression/codeQuantization';

const ROTATION_V2 = 38;
const TRANSLATION_V2 = 44;

function codeFrame(seed: number, codeSize = 12): CoefficientFrame {
  const random = seededRandom(seed);
  const code = quantizeCode(Array.from({ length: codeSize }, () => 2 * random() - 1));
  return { ...randomFrame(random), code };
}

function rejected(bytes: Uint8Array): { reason: DecodeFailure; message: string } {
  const result = decodeCoefficientPacket(bytes);
  assert.equal(result.ok, false, 'the packet was accepted');
  if (result.ok) throw new Error('unreachable');
  return { reason: result.reason, message: result.message };
}

describe('code packets (version 2)', () => {
  test('a K = 12 code packet is 62 bytes, 14.88 kbps at 30 Hz, and the largest stays within 16 kbps', () => {
    const bytes = encodeCoefficientFrame(codeFrame(1));
    assert.equal(bytes.length, 62);
    assert.equal(bytes[1], CODE_PACKET_VERSION);
    assert.equal((bytes.length * 8 * 30) / 1000, 14.88);
    assert.equal(CODE_PACKET_MAX_BYTES, CODE_PACKET_FIXED_BYTES + MAX_PACKET_CODE_SIZE);
    assert.ok((CODE_PACKET_MAX_BYTES * 8 * 30) / 1000 <= 16, `${CODE_PACKET_MAX_BYTES} bytes`);
    // A frame without a code is still a version 1 packet.
    const { code: _omit, ...plain } = codeFrame(1);
    assert.equal(encodeCoefficientFrame(plain).length, COEFFICIENT_PACKET_BYTES);
  });

  test('every field round-trips: the code exactly, scores within half a 4-bit step, pose as version 1', () => {
    const random = seededRandom(5);
    let worstScore = 0;
    for (let n = 0; n < 2000; n++) {
      const frame = codeFrame(1000 + n, 1 + Math.floor(random() * MAX_PACKET_CODE_SIZE));
      const decoded = decodeOrFail(encodeCoefficientFrame(frame), frame.captureTimeMs);
      assert.deepEqual([...decoded.code!], [...frame.code!]);
      assert.equal(decoded.sequence, frame.sequence);
      assert.equal(decoded.facePresent, frame.facePresent);
      assert.equal(decoded.keepAlive, frame.keepAlive);
      assert.ok(quaternionAngleRad(decoded.rotation, frame.rotation) < 0.015);
      decoded.translationCm.forEach((t, i) => assert.ok(Math.abs(t - frame.translationCm[i]!) <= 0.0050001));
      frame.blendshapes.forEach((s, i) => { worstScore = Math.max(worstScore, Math.abs(decoded.blendshapes[i]! - s)); });
    }
    assert.ok(worstScore <= BLENDSHAPE_V2_MAX_ERROR, `score error ${worstScore}`);
    assert.ok(worstScore > BLENDSHAPE_V2_MAX_ERROR * 0.9, `score bound is loose: ${worstScore}`);
  });

  test('rotation and translation sit at bytes 38 and 44, the code from byte 50', () => {
    const frame: CoefficientFrame = { ...codeFrame(2, 3), rotation: [0, 0, 0, 1], translationCm: [-1, 2.56, 0], code: Int8Array.of(-127, 0, 127) };
    const bytes = encodeCoefficientFrame(frame);
    assert.deepEqual([...bytes.subarray(ROTATION_V2, ROTATION_V2 + 6)], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...bytes.subarray(TRANSLATION_V2, TRANSLATION_V2 + 6)], [0xff, 0x9c, 0x01, 0x00, 0, 0]);
    assert.deepEqual([...bytes.subarray(CODE_PACKET_FIXED_BYTES)], [0x81, 0, 0x7f]);
  });

  test('a packet cut before its first code byte is truncated, one past 16 code bytes oversized, each with the sizes', () => {
    const bytes = encodeCoefficientFrame(codeFrame(3, MAX_PACKET_CODE_SIZE));
    for (const cut of [2, 12, CODE_PACKET_FIXED_BYTES - 1, CODE_PACKET_FIXED_BYTES]) {
      const r = rejected(bytes.slice(0, cut));
      assert.equal(r.reason, 'truncated');
      assert.equal(r.message, `packet is ${cut} bytes; expected 51..66 for version 2`);
    }
    const long = new Uint8Array(CODE_PACKET_MAX_BYTES + 1);
    long.set(bytes);
    const r = rejected(long);
    assert.deepEqual(r, { reason: 'oversized', message: 'packet is 67 bytes; expected 51..66 for version 2' });
    // Version 1 keeps its exact size: a blendshape packet with a code byte appended is oversized.
    const { code: _omit, ...plain } = codeFrame(3);
    const v1 = new Uint8Array(COEFFICIENT_PACKET_BYTES + 1);
    v1.set(encodeCoefficientFrame(plain));
    assert.deepEqual(rejected(v1), { reason: 'oversized', message: 'packet is 64 bytes; expected 63 for version 1' });
  });

  test('a code byte of -128, a rotation longer than a unit quaternion, a bad translation and reserved flags are refused', () => {
    const base = encodeCoefficientFrame(codeFrame(4));
    const forged = (mutate: (v: DataView) => void) => {
      const b = base.slice();
      mutate(new DataView(b.buffer));
      return b;
    };
    assert.deepEqual(rejected(forged((v) => v.setInt8(CODE_PACKET_FIXED_BYTES + 5, -128))), {
      reason: 'out-of-range', message: 'code value 5 is -128; codes are int8 in [-127, 127]',
    });
    assert.equal(rejected(forged((v) => { v.setInt16(ROTATION_V2, 30000); v.setInt16(ROTATION_V2 + 2, 30000); })).reason, 'out-of-range');
    assert.equal(rejected(forged((v) => v.setInt16(TRANSLATION_V2 + 4, -32768))).reason, 'out-of-range');
    assert.equal(rejected(forged((v) => v.setUint8(2, 0b100))).reason, 'bad-flags');
  });

  test('versions other than 1 and 2 are refused whatever their length', () => {
    const bytes = encodeCoefficientFrame(codeFrame(5));
    for (const version of [0, 3, 255]) {
      const b = bytes.slice();
      b[1] = version;
      assert.deepEqual(rejected(b), { reason: 'unsupported-version', message: `version is ${version}; expected 1 or 2` });
    }
  });

  test('the encoder refuses codes it cannot send, before writing a byte', () => {
    const out = new Uint8Array(80).fill(7);
    assert.throws(() => encodeCoefficientFrame({ ...codeFrame(6), code: new Int8Array(0) }, out), { name: 'RangeError', message: 'code must be an Int8Array of 1..16 values; got 0 values' });
    assert.throws(() => encodeCoefficientFrame({ ...codeFrame(6), code: new Int8Array(17) }, out), { name: 'RangeError', message: 'code must be an Int8Array of 1..16 values; got 17 values' });
    assert.throws(() => encodeCoefficientFrame({ ...codeFrame(6), code: Int8Array.of(1, -128) }, out), { name: 'RangeError', message: 'code[1] must be in [-127, 127]; got -128' });
    assert.throws(() => encodeCoefficientFrame({ ...codeFrame(6), code: [1, 2] as unknown as Int8Array }, out), RangeError);
    assert.throws(() => encodeCoefficientFrame(codeFrame(6), new Uint8Array(61)), { name: 'RangeError', message: 'output buffer must hold 62 bytes; got 61' });
    assert.ok(out.every((b) => b === 7));
  });

  test('random bytes with a version 2 header never throw and never decode to a code out of range', () => {
    const random = seededRandom(8);
    let accepted = 0;
    for (let n = 0; n < 20000; n++) {
      const b = Uint8Array.from({ length: Math.floor(random() * 70) }, () => Math.floor(random() * 256));
      if (b.length > 1) { b[0] = 0x56; b[1] = 2; b[2] = b[2]! & 3; }
      const r = decodeCoefficientPacket(b);
      if (r.ok) {
        accepted++;
        assert.ok(r.frame.code!.length >= 1 && r.frame.code!.length <= 16);
        assert.ok(r.frame.code!.every((q) => q >= -127 && q <= 127));
      }
    }
    assert.ok(accepted > 0);
  });
});
