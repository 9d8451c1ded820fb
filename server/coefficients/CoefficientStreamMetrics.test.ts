import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoefficientStream } from './CoefficientStream';
import { encodeCoefficientFrame, type CoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { quaternionAngleRad, type Quaternion } from '../../shared/coefficients/pose';
import { seededRandom } from '../../shared/coefficients/seededRandom';

const JAW_OPEN = blendshapeIndex('jawOpen');
const CAPTURE_EPOCH_MS = 1.7e12;

function packet(sequence: number, captureTimeMs: number, overrides: Partial<CoefficientFrame> = {}): Uint8Array {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT).fill(0.25);
  return encodeCoefficientFrame({
    sequence,
    captureTimeMs,
    facePresent: true,
    keepAlive: false,
    confidence: 0.9,
    blendshapes,
    rotation: [0, 0.1, 0, Math.sqrt(1 - 0.01)],
    translationCm: [1, 2, -40],
    ...overrides,
  });
}

function variance(values: number[]): number {
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length;
}

describe('CoefficientStream rates and jitter', () => {
  test('packet rate, accepted rate and bitrate follow the synthetic receive schedule', () => {
    const rateHz = 20;
    const periodMs = 1000 / rateHz;
    const garbageBytes = 40;
    const stream = new CoefficientStream({ rateWindowMs: 1000 });
    let validBytes = 0;
    let lastMs = 0;
    for (let i = 0; i < 3 * rateHz; i++) {
      lastMs = i * periodMs;
      const bytes = packet(i, CAPTURE_EPOCH_MS + lastMs);
      validBytes = bytes.length;
      stream.push(bytes, lastMs);
      stream.push(new Uint8Array(garbageBytes), lastMs);
    }
    const stats = stream.stats(lastMs);
    assert.ok(Math.abs(stats.acceptedRateHz - rateHz) < 1e-9, `accepted ${stats.acceptedRateHz}`);
    assert.ok(Math.abs(stats.packetRateHz - 2 * rateHz) < 1e-9, `received ${stats.packetRateHz}`);
    const expectedKbps = (rateHz * (validBytes + garbageBytes) * 8) / 1000;
    assert.ok(Math.abs(stats.bitrateKbps - expectedKbps) < 1e-9, `bitrate ${stats.bitrateKbps}`);
  });

  test('rates are measured over the elapsed time before a full window and fall to zero after silence', () => {
    const stream = new CoefficientStream({ rateWindowMs: 1000 });
    const periodMs = 1000 / 30;
    for (let i = 0; i < 10; i++) stream.push(packet(i, CAPTURE_EPOCH_MS + i * periodMs), i * periodMs);
    assert.ok(Math.abs(stream.stats(9 * periodMs).acceptedRateHz - 30) < 1e-9);
    assert.equal(stream.stats(9 * periodMs + 1500).acceptedRateHz, 0);
    assert.equal(stream.stats(9 * periodMs + 1500).bitrateKbps, 0);
  });

  test('jitter is zero for a constant delay whatever the offset between the two clocks', () => {
    const stream = new CoefficientStream();
    for (let i = 0; i < 50; i++) stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33), 5_000 + i * 33 + 42);
    assert.equal(stream.stats(10_000).jitterMs, 0);
  });

  test('jitter follows the RFC 3550 estimator for delays alternating by 10 ms', () => {
    const stream = new CoefficientStream();
    const swingMs = 10;
    const packets = 40;
    for (let i = 0; i < packets; i++) {
      const delayMs = i % 2 === 0 ? 20 : 20 + swingMs;
      stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33), i * 33 + delayMs);
    }
    // Every transit difference is swingMs, so J_n = swing · (1 - (15/16)^(n-1)).
    const expected = swingMs * (1 - (15 / 16) ** (packets - 1));
    assert.ok(Math.abs(stream.stats(5000).jitterMs - expected) < 1e-9);
  });
});

describe('CoefficientStream smoothing', () => {
  test('a steady face comes out of the smoother as it went in', () => {
    const stream = new CoefficientStream();
    for (let i = 0; i < 30; i++) stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33), i * 33);
    const newest = stream.newest();
    const smoothed = stream.smoothed(29 * 33 + 7);
    assert.ok(newest && smoothed);
    assert.deepEqual(Array.from(smoothed.blendshapes), Array.from(newest.blendshapes));
    assert.deepEqual(smoothed.translationCm, newest.translationCm);
    assert.ok(quaternionAngleRad(smoothed.rotation, newest.rotation) < 1e-12);
    assert.equal(smoothed.sequence, newest.sequence);
    assert.equal(smoothed.ageMs, 7);
  });

  test('tracker noise on a still face is substantially reduced', () => {
    const stream = new CoefficientStream();
    const random = seededRandom(11);
    const raw: number[] = [];
    const smoothed: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
      blendshapes[JAW_OPEN] = 0.5 + (random() - 0.5) * 0.1;
      const outcome = stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33, { blendshapes }), i * 33);
      assert.ok(outcome.accepted);
      raw.push(outcome.frame.blendshapes[JAW_OPEN] ?? NaN);
      smoothed.push(stream.smoothed(i * 33)?.blendshapes[JAW_OPEN] ?? NaN);
    }
    const ratio = variance(smoothed.slice(30)) / variance(raw.slice(30));
    assert.ok(ratio < 0.5, `variance ratio ${ratio}`);
  });

  test('no face means no smoothed output, and keep-alives leave the smoothed face alone', () => {
    const stream = new CoefficientStream();
    stream.push(packet(1, CAPTURE_EPOCH_MS), 0);
    const before = stream.smoothed(0);
    stream.push(packet(2, CAPTURE_EPOCH_MS + 33, { keepAlive: true, facePresent: false }), 33);
    assert.deepEqual(stream.smoothed(100), before && { ...before, ageMs: 100 });
    stream.push(packet(3, CAPTURE_EPOCH_MS + 66, { facePresent: false }), 66);
    assert.equal(stream.smoothed(100), null);
    stream.push(packet(4, CAPTURE_EPOCH_MS + 99), 99);
    assert.equal(stream.smoothed(100)?.sequence, 4);
  });

  test('after a long capture gap the smoother restarts at the new frame instead of gliding', () => {
    const stream = new CoefficientStream();
    for (let i = 0; i < 30; i++) stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33), i * 33);
    const blendshapes = new Float32Array(BLENDSHAPE_COUNT).fill(1);
    stream.push(packet(30, CAPTURE_EPOCH_MS + 29 * 33 + 2000, { blendshapes }), 3000);
    assert.equal(stream.smoothed(3000)?.blendshapes[JAW_OPEN], 1);
  });

  test('rotations either side of a half-turn are averaged as the same rotation, not cancelled', () => {
    const stream = new CoefficientStream();
    const halfTurn: Quaternion = [1, 0, 0, 0];
    for (let i = 0; i < 60; i++) {
      // Alternating ±0.02 rad about a half-turn about x: after canonicalizing
      // w >= 0 the sent quaternions flip between near +q and near -q.
      const angle = Math.PI + (i % 2 === 0 ? 0.02 : -0.02);
      const rotation: Quaternion = [Math.sin(angle / 2), 0, 0, Math.cos(angle / 2)];
      stream.push(packet(i, CAPTURE_EPOCH_MS + i * 33, { rotation }), i * 33);
    }
    const smoothed = stream.smoothed(2000);
    assert.ok(smoothed);
    assert.ok(quaternionAngleRad(smoothed.rotation, halfTurn) < 0.02);
    assert.ok(smoothed.rotation[3] >= 0);
  });
});
