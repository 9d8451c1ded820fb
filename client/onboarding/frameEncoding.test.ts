import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TrackedFace } from '../tracking/FaceTrackerTypes';
import { BLENDSHAPE_COUNT, LANDMARK_COUNT } from '../../shared/dataset/format';
import { decodeFrameBody, encodeFrameBody } from '../../shared/onboarding/frameBody';
import { frameHeader } from './frameEncoding';

function face(over: Partial<TrackedFace> = {}): TrackedFace {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT).fill(0.5);
  blendshapes[3] = 1.0000001;
  blendshapes[4] = -0.0000001;
  blendshapes[5] = Number.NaN;
  const transform = new Float32Array(16);
  [0, 5, 10, 15].forEach((i) => { transform[i] = 1; });
  transform[14] = -40;
  return {
    captureTimeMs: 0, facePresent: true, blendshapes, transform, landmarks: new Float32Array(LANDMARK_COUNT * 3),
    frameWidth: 640, frameHeight: 480, trackerMs: 10, ...over,
  };
}

const landmarksPx = new Float32Array(LANDMARK_COUNT * 2).fill(256);
const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
const mask = new Uint8Array([0x78, 0x9c]);

test('a face frame header has 52 blendshapes clamped to [0, 1] and the 16-number pose, and the server accepts it', () => {
  const header = frameHeader(4, face(), landmarksPx);
  assert.equal(header.faceFound, true);
  assert.equal(header.blendshapes.length, BLENDSHAPE_COUNT);
  assert.ok(header.blendshapes.every((v) => v >= 0 && v <= 1));
  assert.deepEqual(header.blendshapes.slice(2, 6), [0.5, 1, 0, 0]);
  assert.equal(header.pose?.length, 16);
  assert.equal(header.pose?.[14], -40);
  const decoded = decodeFrameBody(encodeFrameBody(header, jpeg, mask, landmarksPx), 4);
  assert.equal(decoded.header.faceFound, true);
  assert.equal(decoded.landmarks?.length, LANDMARK_COUNT * 2);
});

test('a frame without a face, or without its pose, is sent as a no-face frame the server accepts', () => {
  for (const [tracked, marks] of [[face({ facePresent: false, transform: null, landmarks: null }), null], [face({ transform: null }), landmarksPx]] as const) {
    const header = frameHeader(0, tracked, marks);
    assert.equal(header.faceFound, false);
    assert.equal(header.pose, null);
    assert.ok(header.blendshapes.every((v) => v === 0));
    const decoded = decodeFrameBody(encodeFrameBody(header, jpeg, mask, null), 0);
    assert.equal(decoded.header.faceFound, false);
  }
});
