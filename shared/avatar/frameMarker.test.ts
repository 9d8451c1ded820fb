import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readMarker, stampMarker } from './frameMarker';

test('a stamped sequence number reads back, low 16 bits', () => {
  const width = 128;
  const height = 128;
  const frame = new Uint8Array(width * height * 4).fill(90);
  for (const sequence of [0, 1, 0x1234, 0xffff, 0x12345, 4_000_000_000]) {
    stampMarker(frame, width, height, sequence);
    assert.equal(readMarker(frame, width, height), sequence & 0xffff);
  }
});

test('a frame without a marker, or with a flipped bit, reads as null', () => {
  const width = 256;
  const height = 64;
  const frame = new Uint8Array(width * height * 4).fill(40);
  assert.equal(readMarker(frame, width, height), null);
  stampMarker(frame, width, height, 0x00ff);
  const size = Math.floor(width / 18);
  const i = ((size >> 1) * width + (size >> 1)) * 4; // the first (most significant) bit, a 0
  frame[i] = frame[i + 1] = frame[i + 2] = 255;
  assert.equal(readMarker(frame, width, height), null);
});
