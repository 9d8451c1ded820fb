import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyUploadResponse, FrameUploader, parseRetryAfter, UploadError, type SendResult } from './FrameUploader';

const body = (index: number) => new Uint8Array([index]);
const stored: SendResult = { kind: 'stored' };
const network: SendResult = { kind: 'retry', reason: 'network: failed to fetch', retryAfterMs: null };

/** An uploader whose sleeps are recorded and return at once, with no jitter. */
function uploader(send: (index: number, attempt: number) => Promise<SendResult>, maxAttempts?: number) {
  const sleeps: number[] = [];
  const sent: number[] = [];
  const attempts = new Map<number, number>();
  const queue = new FrameUploader({
    send: (index) => {
      sent.push(index);
      const attempt = (attempts.get(index) ?? 0) + 1;
      attempts.set(index, attempt);
      return send(index, attempt);
    },
    sleep: async (ms) => { sleeps.push(ms); },
    random: () => 1,
    maxAttempts,
  });
  return { queue, sleeps, sent };
}

test('at most three frames are in flight at once, and every one is acknowledged', async () => {
  let inFlight = 0;
  let most = 0;
  const { queue } = uploader(async () => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 2));
    inFlight -= 1;
    return stored;
  });
  for (let i = 0; i < 10; i += 1) queue.add(i, body(i));
  assert.equal(queue.stats.inFlight, 3);
  await queue.drain();
  assert.equal(most, 3);
  assert.deepEqual(queue.stats, { held: 0, inFlight: 0, acknowledged: 10, retries: 0, parked: 0 });
});

test('network errors and 5xx are retried with exponential backoff until the frame is stored', async () => {
  const { queue, sleeps, sent } = uploader(async (_index, attempt) => {
    if (attempt === 1) throw new TypeError('Failed to fetch');
    if (attempt === 2) return { kind: 'retry', reason: 'internal: internal error', retryAfterMs: null };
    if (attempt === 3) return network;
    return stored;
  });
  queue.add(7, body(7));
  await queue.drain();
  assert.deepEqual(sent, [7, 7, 7, 7]);
  assert.deepEqual(sleeps, [500, 1000, 2000]);
  assert.equal(queue.stats.retries, 3);
  assert.equal(queue.stats.acknowledged, 1);
  assert.equal(queue.stats.held, 0);
});

test('Retry-After is honoured when it asks for longer than the backoff', async () => {
  const { queue, sleeps } = uploader(async (_index, attempt) => (attempt === 1
    ? { kind: 'retry', reason: 'rate_limited', retryAfterMs: 3000 }
    : stored));
  queue.add(0, body(0));
  await queue.drain();
  assert.deepEqual(sleeps, [3000]);
});

test('a 4xx other than 429 stops the whole upload with the server\'s message', async () => {
  const { queue, sent } = uploader(async (index) => (index === 1
    ? { kind: 'fatal', status: 422, code: 'bad_image_size', message: 'frame image is 256x256' }
    : stored));
  queue.add(0, body(0));
  queue.add(1, body(1));
  await assert.rejects(queue.drain(), (error: unknown) => {
    assert.ok(error instanceof UploadError);
    assert.equal(error.code, 'bad_image_size');
    assert.equal(error.status, 422);
    assert.match(error.message, /frame 1 refused: frame image is 256x256/);
    return true;
  });
  queue.add(2, body(2));
  assert.ok(!sent.includes(2), 'nothing is sent after a refusal');
  assert.equal(queue.failure?.code, 'bad_image_size');
});

test('a frame whose attempts run out is kept and re-sent once the server says it lacks it', async () => {
  let online = false;
  const { queue, sleeps } = uploader(async (index) => (index === 1 && !online ? network : stored), 3);
  for (let i = 0; i < 3; i += 1) queue.add(i, body(i));
  await queue.drain();
  assert.deepEqual(queue.stats, { held: 1, inFlight: 0, acknowledged: 2, retries: 2, parked: 1 });
  assert.deepEqual(sleeps, [500, 1000]);
  online = true;
  assert.deepEqual(queue.resume([0, 2]), [1]);
  await queue.drain();
  assert.deepEqual(queue.stats, { held: 0, inFlight: 0, acknowledged: 3, retries: 2, parked: 0 });
});

test('a frame the server stored but whose answer was lost is released by resume, not sent again', async () => {
  const server = new Set<number>();
  const { queue, sent } = uploader(async (index) => {
    server.add(index);
    return index === 0 ? network : stored; // frame 0 arrives, its answer never does
  }, 2);
  queue.add(0, body(0));
  queue.add(1, body(1));
  await queue.drain();
  assert.equal(queue.stats.parked, 1);
  const sentBefore = sent.length;
  assert.deepEqual(queue.resume(server), []);
  await queue.drain();
  assert.equal(sent.length, sentBefore);
  assert.deepEqual(queue.stats, { held: 0, inFlight: 0, acknowledged: 2, retries: 1, parked: 0 });
});

test('abort drops every held frame and ends the upload', async () => {
  let release: (() => void) | undefined;
  const { queue } = uploader(() => new Promise((resolve) => { release = () => resolve(stored); }));
  queue.add(0, body(0));
  queue.add(1, body(1));
  queue.abort();
  await assert.rejects(queue.drain(), /aborted/);
  release?.();
  assert.equal(queue.stats.held, 0);
  assert.equal(queue.stats.acknowledged, 0);
});

test('answers are classified: stored, retried (5xx, 429 with Retry-After) or refused (other 4xx)', () => {
  assert.deepEqual(classifyUploadResponse(201, null, { index: 3, stored: true }), stored);
  assert.deepEqual(classifyUploadResponse(200, null, { index: 3, stored: false }), stored);
  assert.deepEqual(classifyUploadResponse(503, null, undefined), { kind: 'retry', reason: 'http_503: HTTP 503', retryAfterMs: null });
  assert.deepEqual(
    classifyUploadResponse(429, '2', { error: { code: 'rate_limited', message: 'slow down' } }),
    { kind: 'retry', reason: 'rate_limited: slow down', retryAfterMs: 2000 },
  );
  assert.deepEqual(
    classifyUploadResponse(409, null, { error: { code: 'session_finished', message: "capture session 'x' is finished" } }),
    { kind: 'fatal', status: 409, code: 'session_finished', message: "capture session 'x' is finished" },
  );
  assert.deepEqual(classifyUploadResponse(401, null, 'not json'), { kind: 'fatal', status: 401, code: 'http_401', message: 'HTTP 401' });
});

test('Retry-After is read as seconds or as an HTTP date', () => {
  const now = Date.parse('2025-11-25T12:00:00Z');
  assert.equal(parseRetryAfter('5', now), 5000);
  assert.equal(parseRetryAfter('Tue, 25 Nov 2025 12:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfter('Tue, 25 Nov 2025 11:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter(null, now), null);
  assert.equal(parseRetryAfter('soon', now), null);
});
