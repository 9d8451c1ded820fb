import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockMediaPipeTelemetry, isMediaPipeTelemetry } from './noTelemetry';

test('only MediaPipe\'s telemetry host is recognised', () => {
  assert.equal(isMediaPipeTelemetry('https://odml.pa.googleapis.com/v1/log'), true);
  assert.equal(isMediaPipeTelemetry(new URL('https://odml.pa.googleapis.com/v1/log?x=1')), true);
  assert.equal(isMediaPipeTelemetry('/models/face_landmarker.task'), false);
  assert.equal(isMediaPipeTelemetry('https://storage.googleapis.com/mediapipe-models/x.task'), false);
  assert.equal(isMediaPipeTelemetry('https://odml.pa.googleapis.com.evil.example/v1/log'), false);
});

test('telemetry posts are answered locally with 204 while other requests reach the real fetch', async () => {
  const seen: string[] = [];
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: RequestInfo | URL) => {
    seen.push(String(input));
    return new Response('real', { status: 200 });
  }) as typeof fetch;
  try {
    blockMediaPipeTelemetry();
    blockMediaPipeTelemetry(); // idempotent: one wrapper
    const telemetry = await fetch('https://odml.pa.googleapis.com/v1/log', { method: 'POST', body: 'x' });
    assert.equal(telemetry.status, 204);
    const other = await fetch('http://localhost/health');
    assert.equal(await other.text(), 'real');
    assert.deepEqual(seen, ['http://localhost/health']);
  } finally {
    globalThis.fetch = original;
  }
});
