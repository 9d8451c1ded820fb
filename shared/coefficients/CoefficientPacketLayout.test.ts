import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCoefficientFrame, type CoefficientFrame } from './CoefficientPacket';
import { packFields, packedByteLength, unpackFields } from './bitPacking';
import { BLENDSHAPE_COUNT } from './blendshapes';
import { BLENDSHAPES, CAPTURE_TIME, ROTATION, TRANSLATION, decodeOrFail, randomFrame } from './packetTestHelpers';
import { seededRandom } from './seededRandom';

const TWO_32 = 2 ** 32;

/** A frame whose scores sit exactly on the 6-bit grid, q_i = qAt(i). */
function gridFrame(qAt: (i: number) => number): CoefficientFrame {
  const frame = randomFrame(seededRandom(12));
  for (let i = 0; i < BLENDSHAPE_COUNT; i++) frame.blendshapes[i] = qAt(i) / 63;
  return frame;
}

describe('CoefficientPacket byte layout', () => {
  test('header, sequence, rotation and translation sit at their documented offsets, big-endian', () => {
    const frame: CoefficientFrame = {
      ...gridFrame(() => 0),
      sequence: 0xa1b2c3d4,
      facePresent: true,
      keepAlive: true,
      confidence: 128 / 255,
      rotation: [0, 0, Math.sin(0.25), Math.cos(0.25)],
      translationCm: [-1, 2.56, -327.67],
    };
    const bytes = encodeCoefficientFrame(frame);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x56, 1, 0b11, 128, 0xa1, 0xb2, 0xc3, 0xd4]);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.deepEqual([0, 2, 4].map((o) => view.getInt16(ROTATION + o)), [0, 0, Math.round(Math.sin(0.25) * 32767)]);
    assert.deepEqual([...bytes.subarray(TRANSLATION, TRANSLATION + 6)], [0xff, 0x9c, 0x01, 0x00, 0x80, 0x01]);
  });

  test('blendshapes are 6-bit fields packed MSB-first from byte 12', () => {
    const first = encodeCoefficientFrame(gridFrame((i) => (i === 0 ? 63 : 0)));
    assert.deepEqual([...first.subarray(BLENDSHAPES, BLENDSHAPES + 2)], [0b11111100, 0]);
    const second = encodeCoefficientFrame(gridFrame((i) => (i === 1 ? 0b100001 : 0)));
    assert.deepEqual([...second.subarray(BLENDSHAPES, BLENDSHAPES + 3)], [0b00000010, 0b00010000, 0]);
    const last = encodeCoefficientFrame(gridFrame((i) => (i === BLENDSHAPE_COUNT - 1 ? 63 : 0)));
    assert.equal(last[ROTATION - 1], 0b00111111);
    assert.ok(last.subarray(BLENDSHAPES, ROTATION - 1).every((b) => b === 0));
  });

  test('every 6-bit value in every slot decodes exactly, with no crosstalk between slots', () => {
    for (let shift = 0; shift < 64; shift++) {
      const qAt = (i: number): number => (i * 37 + shift) % 64;
      const decoded = decodeOrFail(encodeCoefficientFrame(gridFrame(qAt)));
      decoded.blendshapes.forEach((value, i) => assert.equal(value, Math.fround(qAt(i) / 63), `slot ${i}`));
    }
  });

  test('the capture time field is the big-endian low 32 bits of the rounded milliseconds', () => {
    const frame = { ...randomFrame(seededRandom(13)), captureTimeMs: 400 * TWO_32 + 0x01020304 + 0.4 };
    assert.deepEqual([...encodeCoefficientFrame(frame).subarray(CAPTURE_TIME, CAPTURE_TIME + 4)], [1, 2, 3, 4]);
    frame.captureTimeMs = 400 * TWO_32 - 0.5;
    assert.deepEqual([...encodeCoefficientFrame(frame).subarray(CAPTURE_TIME, CAPTURE_TIME + 4)], [0, 0, 0, 0]);
  });
});

describe('bitPacking', () => {
  test('fields of any width from 1 to 24 bits round-trip and fill exactly ceil(count·bits/8) bytes', () => {
    const random = seededRandom(21);
    for (let bits = 1; bits <= 24; bits++) {
      for (const count of [1, 2, 3, 7, 52]) {
        const values = Array.from({ length: count }, () => Math.floor(random() * 2 ** bits));
        const length = packedByteLength(count, bits);
        const out = new Uint8Array(length + 2).fill(0xaa);
        packFields(out, 1, count, bits, (i) => values[i] ?? 0);
        assert.equal(out[0], 0xaa, 'byte before the fields is untouched');
        assert.equal(out[length + 1], 0xaa, 'byte after the fields is untouched');
        const read: number[] = [];
        unpackFields(out, 1, count, bits, (i, value) => (read[i] = value));
        assert.deepEqual(read, values, `${count} × ${bits} bits`);
        const padding = length * 8 - count * bits;
        assert.equal((out[length] ?? 0) & ((1 << padding) - 1), 0, 'padding bits are zero');
      }
    }
  });

  test('5-bit fields straddle bytes MSB-first', () => {
    const out = new Uint8Array(2);
    packFields(out, 0, 3, 5, (i) => [0b10001, 0b00011, 0b11111][i] ?? 0);
    assert.deepEqual([...out], [0b10001000, 0b11111110]);
  });
});
