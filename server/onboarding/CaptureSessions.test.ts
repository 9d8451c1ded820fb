/**
 * CaptureSessions' plate samples on a real folder: stored once each, counted
 * with the frames' bytes, found again by a new instance (a restart), and
 * dropped with the frames when the session is finished.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CaptureSessions } from './CaptureSessions';

const dir = mkdtempSync(join(tmpdir(), 'voxface-capture-sessions-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('plate samples are stored once, counted, found again after a restart and dropped at finish', async () => {
  const sessions = new CaptureSessions(dir);
  const session = sessions.create('alice', { width: 640, height: 480, fps: 10 }, { x: 80, y: 0, size: 480 });
  assert.equal(await sessions.putFrame('alice', session.id, 0, new Uint8Array(100)), true);
  assert.equal(await sessions.putPlate('alice', session.id, 0, new Uint8Array(1000)), true);
  assert.equal(await sessions.putPlate('alice', session.id, 0, new Uint8Array(1000)), false, 'a repeated plate index is ignored');
  assert.equal(await sessions.putPlate('alice', session.id, 4, new Uint8Array(500)), true);
  assert.deepEqual([sessions.plateIndices('alice', session.id), sessions.indices('alice', session.id)], [[0, 4], [0]]);
  assert.equal(sessions.plateCount('alice', session.id), 2);
  assert.equal(sessions.bytes('alice', session.id), 1600);

  const restarted = new CaptureSessions(dir);
  assert.deepEqual(restarted.plateIndices('alice', session.id), [0, 4]);
  assert.equal(restarted.bytes('alice', session.id), 1600);
  assert.equal(restarted.totalBytes, 1600);

  restarted.markFinished('alice', session.id, 'av-1', 'job-1');
  assert.deepEqual(restarted.plateIndices('alice', session.id), []);
  assert.equal(restarted.totalBytes, 0);
  assert.equal(existsSync(restarted.platePath(session.id, 0)), false);
});
