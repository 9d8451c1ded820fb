import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FACE_LANDMARKER_MODEL, ensureModelAsset } from './ModelAsset';

// The real model, served by a local HTTP server standing in for Google's storage.
const REAL_MODEL = join(process.cwd(), '..', 'shared', 'data', 'models', 'face_landmarker.task');
let server: Server;
let base: string;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'voxface-model-'));
  server = createServer((req, res) => {
    if (req.url === '/model') res.end(readFileSync(REAL_MODEL));
    else if (req.url === '/tampered') res.end(Buffer.concat([readFileSync(REAL_MODEL), Buffer.from('x')]));
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a missing model is fetched, verified and saved', async () => {
  const path = join(dir, 'fetched', 'face_landmarker.task');
  const result = await ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path, url: `${base}/model` });
  assert.equal(result, path);
  assert.deepEqual(readFileSync(path), readFileSync(REAL_MODEL));
  assert.deepEqual(readdirSync(join(dir, 'fetched')), ['face_landmarker.task'], 'no temporary file left');
});

test('a download with the wrong checksum is refused and nothing is written', async () => {
  const path = join(dir, 'tampered', 'face_landmarker.task');
  await assert.rejects(ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path, url: `${base}/tampered` }), /SHA-256 [0-9a-f]{64}, expected 64184e22.*not saved/);
  assert.equal(existsSync(path), false);
});

test('an unreachable or failing source gives a clear error', async () => {
  const path = join(dir, 'absent', 'face_landmarker.task');
  await assert.rejects(ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path, url: `${base}/nothing` }), /HTTP 404/);
  await assert.rejects(ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path, url: 'http://127.0.0.1:1/model' }), /cannot fetch face_landmarker.task/);
});

test('a corrupt file already in place is reported, not overwritten', async () => {
  const path = join(dir, 'corrupt.task');
  writeFileSync(path, 'not a model');
  await assert.rejects(ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path, url: `${base}/model` }), /has SHA-256/);
  assert.equal(readFileSync(path, 'utf8'), 'not a model');
});

test('the shared copy verifies in place without a download', async () => {
  const result = await ensureModelAsset({ ...FACE_LANDMARKER_MODEL, path: REAL_MODEL, url: 'http://127.0.0.1:1/never' });
  assert.equal(result, REAL_MODEL);
});
