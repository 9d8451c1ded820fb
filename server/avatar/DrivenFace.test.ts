import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { encodeCoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { CoefficientStream } from '../coefficients/CoefficientStream';
import { DrivenFace } from './DrivenFace';

const JAW = blendshapeIndex('jawOpen');
const T0 = 1_800_000_000_000;

function packet(sequence: number, atMs: number, facePresent: boolean, jaw: number, keepAlive = false): Uint8Array {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  blendshapes[JAW] = jaw;
  return encodeCoefficientFrame({
    sequence, captureTimeMs: atMs, facePresent, keepAlive, confidence: facePresent ? 1 : 0,
    blendshapes, rotation: [0, 0.2, 0, Math.sqrt(1 - 0.04)], translationCm: [1, 2, -45],
  });
}

test('before any coefficients the face waits, neutral and facing the camera', () => {
  const face = new DrivenFace(new CoefficientStream());
  const state = face.at(T0);
  assert.equal(state.status, 'waiting');
  assert.equal(state.blendshapes.every((b) => b === 0), true);
  assert.deepEqual(state.rotation, [0, 0, 0, 1]);
});

test('a live stream drives the face with its smoothed coefficients and pose', () => {
  const stream = new CoefficientStream();
  const face = new DrivenFace(stream);
  for (let i = 0; i < 30; i++) stream.push(packet(i, T0 + i * 33, true, 0.8), T0 + i * 33 + 5);
  const state = face.at(T0 + 29 * 33 + 10);
  assert.equal(state.status, 'live');
  assert.ok(Math.abs(state.blendshapes[JAW]! - 0.8) < 0.02, `jaw ${state.blendshapes[JAW]}`);
  assert.ok(Math.abs(state.translationCm[2] + 45) < 0.1);
});

test('a lost face holds its pose and relaxes to neutral', () => {
  const stream = new CoefficientStream();
  const face = new DrivenFace(stream, { relaxMs: 400 });
  for (let i = 0; i < 30; i++) stream.push(packet(i, T0 + i * 33, true, 0.8), T0 + i * 33);
  const liveAt = T0 + 29 * 33;
  const live = face.at(liveAt);
  const rotation = live.rotation;
  stream.push(packet(30, liveAt + 33, false, 0, true), liveAt + 33);
  const justLost = face.at(liveAt + 33);
  assert.equal(justLost.status, 'lost');
  const jawAtLoss = justLost.blendshapes[JAW]!;
  stream.push(packet(31, liveAt + 400, false, 0, true), liveAt + 400);
  const later = face.at(liveAt + 433);
  assert.ok(Math.abs(later.blendshapes[JAW]! - jawAtLoss * Math.exp(-1)) < 0.01, `relaxed to ${later.blendshapes[JAW]}`);
  assert.deepEqual(later.rotation, rotation, 'the pose is held');
  stream.push(packet(32, liveAt + 1033, false, 0, true), liveAt + 1033);
  assert.ok(face.at(liveAt + 1800).blendshapes[JAW]! < 0.01, 'almost neutral after 4 time constants');
});

test('a stream silent for longer than the stall time is flagged as stalled', () => {
  const stream = new CoefficientStream();
  const face = new DrivenFace(stream, { stallMs: 2000 });
  stream.push(packet(0, T0, true, 0.5), T0);
  assert.equal(face.at(T0 + 1999).status, 'live');
  const stalled = face.at(T0 + 2001);
  assert.equal(stalled.status, 'stalled');
  assert.equal(stalled.ageMs, 2001);
  stream.push(packet(1, T0 + 2500, true, 0.5), T0 + 2500);
  assert.equal(face.at(T0 + 2510).status, 'live', 'it recovers when packets come back');
});
