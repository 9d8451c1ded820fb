import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CoefficientStream } from './CoefficientStream';
import { DROP_REASONS } from './CoefficientStreamTypes';
import {
  COEFFICIENT_PACKET_BYTES,
  encodeCoefficientFrame,
  type CoefficientFrame,
} from '../../shared/coefficients/CoefficientPacket';
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { seededRandom } from '../../shared/coefficients/seededRandom';

const JAW_OPEN = blendshapeIndex('jawOpen');
const FRAME_MS = 1000 / 30;
const START_MS = 1.7e12;

function frame(sequence: number, overrides: Partial<CoefficientFrame> = {}): CoefficientFrame {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  // Each sequence gets a recognizable jawOpen so tests can tell frames apart.
  blendshapes[JAW_OPEN] = (sequence % 256) / 255;
  return {
    sequence,
    captureTimeMs: START_MS + (sequence % 1e6) * FRAME_MS,
    facePresent: true,
    keepAlive: false,
    confidence: 1,
    blendshapes,
    rotation: [0, 0, 0, 1],
    translationCm: [0, 0, -50],
    ...overrides,
  };
}

const packet = (sequence: number, overrides?: Partial<CoefficientFrame>): Uint8Array =>
  encodeCoefficientFrame(frame(sequence, overrides));

/** Pushes `sequences` one frame interval apart starting at receive time `startMs`; returns accepted flags. */
function pushAll(stream: CoefficientStream, sequences: number[], startMs = 0): boolean[] {
  return sequences.map((s, i) => stream.push(packet(s), startMs + i * FRAME_MS).accepted);
}

describe('CoefficientStream sequencing', () => {
  test('an in-order stream is accepted whole with no loss and the last frame is newest', () => {
    const stream = new CoefficientStream();
    const sequences = Array.from({ length: 90 }, (_, i) => i + 5);
    assert.ok(pushAll(stream, sequences).every(Boolean));
    const stats = stream.stats(89 * FRAME_MS);
    assert.equal(stats.packetsReceived, 90);
    assert.equal(stats.packetsAccepted, 90);
    assert.equal(stats.packetsDropped, 0);
    assert.equal(stats.packetsLost, 0);
    assert.equal(stats.newestSequence, 94);
    assert.equal(stream.newest()?.sequence, 94);
    assert.equal(stream.ageMs(89 * FRAME_MS + 20), 20);
  });

  test('a reordered packet that arrives after a newer one is dropped as stale', () => {
    const stream = new CoefficientStream();
    assert.deepEqual(pushAll(stream, [1, 2, 4, 3, 5]), [true, true, true, false, true]);
    const stats = stream.stats(1000);
    assert.equal(stats.droppedByReason.stale, 1);
    // Sequence 3 was never used, so it counts as lost even though it arrived.
    assert.equal(stats.packetsLost, 1);
    assert.equal(stream.newest()?.sequence, 5);
  });

  test('duplicates and replays of old packets never replace the newest frame', () => {
    const stream = new CoefficientStream();
    assert.deepEqual(pushAll(stream, [10, 11, 11, 11, 3, 12]), [true, true, false, false, false, true]);
    assert.equal(stream.stats(1000).droppedByReason.stale, 3);
    assert.equal(stream.newest()?.sequence, 12);
  });

  test('sequence numbers wrap from 2^32 - 1 to 0 without loss or stale drops', () => {
    const stream = new CoefficientStream();
    const top = 2 ** 32 - 1;
    assert.ok(pushAll(stream, [top - 2, top - 1, top, 0, 1, 2]).every(Boolean));
    assert.equal(stream.stats(1000).packetsLost, 0);
    assert.equal(stream.push(packet(top), 1000).accepted, false, 'pre-wrap packet is now stale');
    assert.equal(stream.newest()?.sequence, 2);
  });

  test('a gap across the wrap-around is counted as loss', () => {
    const stream = new CoefficientStream();
    pushAll(stream, [2 ** 32 - 2, 1]);
    assert.equal(stream.stats(1000).packetsLost, 2);
  });

  test('gaps in the sequence are counted as loss and give the loss fraction', () => {
    const stream = new CoefficientStream();
    const sequences = Array.from({ length: 100 }, (_, i) => i).filter((s) => s % 10 !== 5);
    const outcomes = sequences.map((s, i) => stream.push(packet(s), i * FRAME_MS));
    const lostPerPush = outcomes.map((o) => (o.accepted ? o.lost : NaN));
    assert.equal(lostPerPush.filter((n) => n === 1).length, 10);
    const stats = stream.stats(4000);
    assert.equal(stats.packetsLost, 10);
    assert.equal(stats.lossFraction, 10 / (sequences.length + 10));
  });

  test('after enough consecutive stale packets a restarted sender is resynchronised', () => {
    const stream = new CoefficientStream({ resyncAfterStalePackets: 5 });
    pushAll(stream, [1000, 1001]);
    const restarted = pushAll(stream, [0, 1, 2, 3, 4, 5, 6, 7], 100);
    assert.deepEqual(restarted, [false, false, false, false, false, true, true, true]);
    const stats = stream.stats(1000);
    assert.equal(stats.resyncs, 1);
    assert.equal(stats.droppedByReason.stale, 5);
    assert.equal(stats.packetsLost, 0);
    assert.equal(stream.newest()?.sequence, 7);
  });

  test('a forward jump beyond maxCountedGap is a resync, not loss', () => {
    const stream = new CoefficientStream({ maxCountedGap: 100 });
    pushAll(stream, [1, 2, 103, 104, 500_000]);
    const stats = stream.stats(1000);
    assert.equal(stats.packetsLost, 100);
    assert.equal(stats.resyncs, 1);
    assert.equal(stream.newest()?.sequence, 500_000);
  });
});

describe('CoefficientStream capture time', () => {
  test('the 32-bit capture time is rebuilt against the receive time, across a 2^32 ms boundary', () => {
    // Far from Date.now(), so only the receive time can anchor the reconstruction.
    const boundaryMs = 233 * 2 ** 32;
    const stream = new CoefficientStream();
    for (let i = 0; i < 6; i++) {
      const captureTimeMs = boundaryMs + (i - 3) * FRAME_MS;
      const outcome = stream.push(packet(i, { captureTimeMs }), captureTimeMs + 40);
      assert.ok(outcome.accepted);
      assert.equal(outcome.frame.captureTimeMs, Math.round(captureTimeMs));
    }
  });

  test('jitter stays zero for a constant delay when clocks far apart put a wrap mid-stream', () => {
    const stream = new CoefficientStream();
    // The receive clock starts at 0; the sender's low 32 bits wrap after packet 3.
    const captureStartMs = 400 * 2 ** 32 - 3 * 33;
    for (let i = 0; i < 8; i++) {
      assert.ok(stream.push(packet(i, { captureTimeMs: captureStartMs + i * 33 }), 1000 + i * 33 + 42).accepted);
    }
    assert.equal(stream.stats(2000).jitterMs, 0);
  });
});

describe('CoefficientStream invalid input', () => {
  test('garbage is counted by reason and never replaces the newest frame', () => {
    const stream = new CoefficientStream();
    stream.push(packet(7), 0);
    const newest = stream.newest();
    const valid = packet(8);
    const badFlags = valid.slice();
    badFlags[2] = 0x80;
    const badVersion = valid.slice();
    badVersion[1] = 9;
    // The rotation vector sits 12 bytes from the end; int16 -32768 is never encoded.
    const badRotation = valid.slice();
    new DataView(badRotation.buffer).setInt16(COEFFICIENT_PACKET_BYTES - 12, -32768);
    const garbage: Array<[Uint8Array, string]> = [
      [new Uint8Array(0), 'truncated'],
      [valid.subarray(0, 40), 'truncated'],
      [new Uint8Array(COEFFICIENT_PACKET_BYTES + 1).fill(0x56).fill(1, 1, 2), 'oversized'],
      [new Uint8Array([1, 2, 3]), 'bad-magic'],
      [badVersion, 'unsupported-version'],
      [badFlags, 'bad-flags'],
      [badRotation, 'out-of-range'],
    ];
    for (const [bytes, reason] of garbage) {
      const outcome = stream.push(bytes, 10);
      assert.equal(outcome.accepted, false);
      if (!outcome.accepted) assert.equal(outcome.reason, reason);
      assert.equal(stream.newest(), newest);
    }
    const random = seededRandom(5);
    for (let n = 0; n < 500; n++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 120) }, () => Math.floor(random() * 256));
      stream.push(bytes, 20);
    }
    assert.equal(stream.newest(), newest);
    const stats = stream.stats(100);
    assert.equal(stats.packetsReceived, 1 + garbage.length + 500);
    assert.equal(stats.packetsAccepted, 1);
    assert.equal(stats.packetsDropped, garbage.length + 500);
    const sumByReason = DROP_REASONS.reduce((sum, r) => sum + stats.droppedByReason[r], 0);
    assert.equal(sumByReason, stats.packetsDropped);
    for (const [, reason] of garbage) {
      assert.ok(stats.droppedByReason[reason as keyof typeof stats.droppedByReason] >= 1, reason);
    }
  });

  test('close is idempotent and later pushes are ignored and counted', () => {
    const stream = new CoefficientStream();
    pushAll(stream, [1, 2]);
    stream.close();
    stream.close();
    const outcome = stream.push(packet(3), 500);
    assert.deepEqual(outcome, { accepted: false, reason: 'closed', message: 'stream is closed' });
    const stats = stream.stats(600);
    assert.equal(stats.closed, true);
    assert.equal(stats.ignoredAfterClose, 1);
    assert.equal(stats.packetsReceived, 2);
    assert.equal(stream.newest(), null);
    assert.equal(stream.smoothed(600), null);
    assert.equal(stream.ageMs(600), null);
  });

  test('a non-finite receive time is a programming error', () => {
    assert.throws(() => new CoefficientStream().push(packet(1), NaN), {
      name: 'TypeError',
      message: 'receivedAtMs must be a finite number; got NaN',
    });
  });
});

describe('CoefficientStream code packets (version 2)', () => {
  const codePacket = (sequence: number, code: number[]): Uint8Array => packet(sequence, { code: Int8Array.from(code) });

  test('without an encoder a code packet is dropped as no-encoder and blendshape packets go on', () => {
    const stream = new CoefficientStream();
    assert.deepEqual(stream.push(codePacket(1, [1, 2, 3]), START_MS), {
      accepted: false, reason: 'no-encoder', message: 'a code packet (3 values) for an avatar without an expression encoder',
    });
    assert.equal(stream.push(packet(2), START_MS + FRAME_MS).accepted, true);
    const stats = stream.stats(START_MS + 100);
    assert.equal(stats.droppedByReason['no-encoder'], 1);
    assert.equal(stats.packetsAccepted, 1);
    assert.equal(stream.smoothed(START_MS + 100)?.code, null);
  });

  test('a code of another length than the encoder reads is dropped as code-size', () => {
    const stream = new CoefficientStream();
    stream.setCodeSize(12);
    assert.deepEqual(stream.push(codePacket(1, [1, 2, 3]), START_MS), {
      accepted: false, reason: 'code-size', message: "a code of 3 values; the avatar's encoder reads 12",
    });
    assert.equal(stream.stats(START_MS).droppedByReason['code-size'], 1);
  });

  test('with the encoder the code is accepted and smoothed, and a blendshape packet after it clears the code', () => {
    const stream = new CoefficientStream();
    stream.setCodeSize(3);
    assert.equal(stream.expressionCodeSize, 3);
    assert.equal(stream.push(codePacket(1, [127, -127, 0]), START_MS).accepted, true);
    const first = stream.smoothed(START_MS)!.code!;
    assert.deepEqual([...first], [1, -1, 0]);
    // One Euro: a step is followed only part of the way.
    assert.equal(stream.push(codePacket(2, [0, 0, 0]), START_MS + FRAME_MS).accepted, true);
    const second = stream.smoothed(START_MS + FRAME_MS)!.code!;
    assert.ok(second[0]! > 0 && second[0]! < 1, `smoothed ${second[0]}`);
    assert.equal(stream.push(packet(3), START_MS + 2 * FRAME_MS).accepted, true);
    assert.equal(stream.smoothed(START_MS + 2 * FRAME_MS)!.code, null);
    assert.throws(() => stream.setCodeSize(0), { name: 'RangeError', message: 'codeSize must be a positive integer or null; got 0' });
  });
});
