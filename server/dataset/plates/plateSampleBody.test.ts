/**
 * Plate sample bodies as the capture server receives them: a good one reads
 * back exactly; oversize, mis-sized and garbage ones are refused with errors
 * that say what is wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import { packParts } from '../../../shared/binary/lengthPrefixedParts';
import { LANDMARK_COUNT } from '../../../shared/dataset/format';
import { encodePlateSampleBody, PLATE_MAX_SIDE, PlateSampleError, plateSize } from '../../../shared/dataset/plateSample';
import { readPlateSampleBody } from './plateSampleBody';

const W = 64;
const H = 36;
const landmarks = Float32Array.from({ length: LANDMARK_COUNT * 2 }, (_, i) => (i % 2 ? 18 : 32) + (i % 7) / 8);
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 7) % 256);
const person = Uint8Array.from({ length: W * H }, (_, i) => (i % W > 20 && i % W < 40 ? 255 : 0));
const good = () => encodePlateSampleBody({ index: 12, width: W, height: H }, deflateSync(rgb), deflateSync(person), landmarks);

function refused(body: Uint8Array, message: string | RegExp, width = W, height = H): void {
  assert.throws(() => readPlateSampleBody(body, width, height), (error: unknown) => {
    assert.ok(error instanceof PlateSampleError, `not a PlateSampleError: ${String(error)}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

test('a plate sample body reads back exactly', () => {
  const sample = readPlateSampleBody(good(), W, H);
  assert.equal(sample.index, 12);
  assert.deepEqual(sample.rgb, rgb);
  assert.deepEqual(sample.person, person);
  assert.deepEqual(sample.landmarks, landmarks);
});

test('a plate sample body that is a view into a larger Node buffer (as HTTP bodies are) reads back exactly', () => {
  const body = good();
  const pool = Buffer.alloc(body.length + 3);
  pool.set(body, 3);
  const sample = readPlateSampleBody(pool.subarray(3), W, H);
  assert.deepEqual(sample.landmarks, landmarks);
});

test('the plate size keeps the aspect, caps the long side at 640 and never upscales', () => {
  assert.deepEqual(plateSize(1280, 720), { width: 640, height: 360 });
  assert.deepEqual(plateSize(720, 1280), { width: 360, height: 640 });
  assert.deepEqual(plateSize(512, 512), { width: 512, height: 512 });
  assert.deepEqual(plateSize(3840, 2160), { width: 640, height: 360 });
});

test('oversize plate samples are refused with the field and the limit', () => {
  const big = encodePlateSampleBody({ index: 0, width: PLATE_MAX_SIDE + 1, height: H }, deflateSync(rgb), deflateSync(person), landmarks);
  refused(big, 'plate sample header: width: Number must be less than or equal to 640');
  // Images that inflate past the plate (a small body must not become a large buffer).
  const bomb = encodePlateSampleBody({ index: 0, width: W, height: H }, deflateSync(new Uint8Array(50 * 1024 * 1024)), deflateSync(person), landmarks);
  refused(bomb, `plate sample rgb (${W}x${H}x3) inflates to more than ${W * H * 3} bytes`);
  const header = new TextEncoder().encode(JSON.stringify({ index: 0, width: W, height: H, pad: 'x'.repeat(2000) }));
  refused(packParts([header, deflateSync(rgb), deflateSync(person), new Uint8Array(landmarks.buffer)]), `plate sample header is ${header.length} bytes, over 1024`);
});

test('mis-sized plate samples are refused', () => {
  refused(good(), `plate sample 12 is ${W}x${H}; this capture's plates are 640x360`, 640, 360);
  const short = encodePlateSampleBody({ index: 0, width: W, height: H }, deflateSync(rgb.subarray(1)), deflateSync(person), landmarks);
  refused(short, `plate sample rgb (${W}x${H}x3) inflates to ${W * H * 3 - 1} bytes, expected ${W * H * 3}`);
  const mask = encodePlateSampleBody({ index: 0, width: W, height: H }, deflateSync(rgb), deflateSync(person.subarray(0, 10)), landmarks);
  refused(mask, `plate sample person mask (${W}x${H}) inflates to 10 bytes, expected ${W * H}`);
  const marks = encodePlateSampleBody({ index: 0, width: W, height: H }, deflateSync(rgb), deflateSync(person), landmarks.subarray(0, 10));
  refused(marks, `plate sample landmarks are 40 bytes, expected ${LANDMARK_COUNT * 8} (${LANDMARK_COUNT} x 2 float32)`);
});

test('garbage plate samples are refused', () => {
  refused(new Uint8Array([1, 2, 3]), 'plate sample body truncated: part 1 of 4 missing');
  refused(new Uint8Array([...good(), 0]), 'plate sample body 1 bytes after its 4 parts');
  refused(packParts([new TextEncoder().encode('{"index": 1'), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]), 'plate sample header is not UTF-8 JSON');
  refused(packParts([new TextEncoder().encode('{"index": -1, "width": 64, "height": 36}'), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]),
    'plate sample header: index: Number must be greater than or equal to 0');
  refused(packParts([new TextEncoder().encode('{"index": 1, "width": 64, "height": 36, "extra": 1}'), new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)]),
    /plate sample header: \(root\): Unrecognized key\(s\) in object: 'extra'/);
  const notDeflate = encodePlateSampleBody({ index: 0, width: W, height: H }, rgb, deflateSync(person), landmarks);
  refused(notDeflate, `plate sample rgb (${W}x${H}x3) is not zlib-deflated data`);
  const nan = landmarks.slice(); nan[5] = Number.NaN;
  refused(encodePlateSampleBody({ index: 0, width: W, height: H }, deflateSync(rgb), deflateSync(person), nan), 'plate sample landmarks must be finite');
});
