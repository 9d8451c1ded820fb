/**
 * A background image a user uploads (PUT /api/backgrounds, with the call token the page
 * joined with) shows behind that user's avatar, and only theirs: a real server, real
 * ffmpeg converting the upload, a real render process drawing the avatar over it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling, waitUntil } from '../helpers/avatarPeers';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
before(async () => {
  const avatarFile = syntheticAvatarFile();
  server = await startTestServer({ avatarWidth: 160, avatarHeight: 90, avatarFps: 10 });
  copyFileSync(avatarFile, server.avatarStore.pathOf('synthetic'));
});
after(async () => { await server?.close(); });

/** A 16:9 PNG: red on the left half, blue on the right. */
function halves(): Buffer {
  const w = 64, h = 36, png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(x < w / 2 ? [220, 30, 30, 255] : [30, 30, 220, 255], 4 * (y * w + x));
  return PNG.sync.write(png);
}

function upload(room: string, token: string | undefined, bytes: Uint8Array) {
  const body = new Blob([bytes as Uint8Array<ArrayBuffer>]);
  return fetch(`${server.url}/api/backgrounds?room=${room}`, {
    method: 'PUT', body, headers: { 'content-type': 'image/png', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

test('a user\'s uploaded image shows behind their avatar; nobody else can use it, and unauthenticated uploads are refused', async () => {
  assert.equal((await upload('bg', undefined, halves())).status, 401);
  assert.equal((await upload('bg', server.tokens.mintCall('elsewhere', 'ada'), halves())).status, 401, 'a token for another room');
  const bad = await upload('bg', server.tokens.mintCall('bg', 'ada'), Buffer.from('not a picture'));
  assert.equal(bad.status, 415);
  assert.deepEqual((await bad.json() as { error: { code: string } }).error.code, 'not_an_image');

  const put = await upload('bg', server.tokens.mintCall('bg', 'ada'), halves());
  assert.equal(put.status, 201);
  const { id } = await put.json() as { id: string };
  const listed = await fetch(`${server.url}/api/backgrounds?room=bg`, { headers: { authorization: `Bearer ${server.tokens.mintCall('bg', 'ada')}` } });
  assert.deepEqual(await listed.json(), { backgrounds: [id] });

  const ada = await joinOverSignaling(server, 'bg', 'ada');
  const bob = await joinOverSignaling(server, 'bg', 'bob');
  const stop = await feedCoefficients(server, 'bg', 'ada');
  try {
    const refused = await bob.request('enableAvatar', { avatarId: 'synthetic', background: { kind: 'image', id } });
    assert.equal(refused.ok, false);
    assert.match(JSON.stringify(refused), /not-found.*is not one of yours/);
    assert.deepEqual(await ada.request('enableAvatar', { avatarId: 'synthetic', background: { kind: 'image', id } }), { ok: true, data: {} });
    const session = await waitUntil(() => server.avatars.sessions().find((s) => s.peer.id === 'ada'), (s) => s !== undefined, 10_000, 'ada\'s avatar session');
    const frame = await session!.renderer.render({
      status: 'live', blendshapes: new Float32Array(BLENDSHAPE_COUNT), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40], ageMs: 0, sequence: 1,
    });
    const at = (x: number, y: number) => [...frame.subarray(4 * (y * 160 + x), 4 * (y * 160 + x) + 3)];
    // The synthetic avatar has no body plate: the image alone is behind the head.
    for (const y of [2, 45, 87]) {
      assert.ok(at(3, y)[0]! > 180 && at(3, y)[2]! < 70, `the left edge shows the image's red: ${at(3, y)}`);
      assert.ok(at(156, y)[2]! > 180 && at(156, y)[0]! < 70, `the right edge shows the image's blue: ${at(156, y)}`);
    }
  } finally {
    stop();
    ada.close();
    bob.close();
  }
  const removed = await fetch(`${server.url}/api/backgrounds/${id}?room=bg`, { method: 'DELETE', headers: { authorization: `Bearer ${server.tokens.mintCall('bg', 'ada')}` } });
  assert.equal(removed.status, 204);
});
