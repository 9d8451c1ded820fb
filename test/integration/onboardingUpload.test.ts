/**
 * Onboarding uploads over real HTTP (express on 127.0.0.1): the happy path with a
 * resumed upload, and every refusal: identity, other users' sessions and avatars,
 * non-JPEG and malformed frames, frames without a face, and each limit.
 * No trainer runs here (the queue is never started); see onboardingQueue.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import express from 'express';
import { CROP_SIZE, LANDMARK_COUNT } from '../../shared/dataset/format';
import { mintAccessToken } from '../../server/auth/AccessToken';
import { TokenAuthority } from '../../server/auth/TokenAuthority';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { loadDataset } from '../../server/dataset/loadDataset';
import { encodeFrameBody } from '../../shared/onboarding/frameBody';
import { encodePlateSampleBody } from '../../shared/dataset/plateSample';
import { personAt, syntheticPlateSample } from '../helpers/syntheticPlates';
import { onboardingRouter } from '../../server/onboarding/onboardingRouter';
import { DEFAULT_ONBOARDING_LIMITS, OnboardingService, type OnboardingLimits } from '../../server/onboarding/OnboardingService';
import { TrainingQueue } from '../../server/onboarding/TrainingQueue';

const SECRET = Buffer.from('onboarding-test-secret-0123456789');
const root = mkdtempSync(join(tmpdir(), 'voxface-onboarding-upload-'));
const apps: { server: Server; queue: TrainingQueue }[] = [];
let jpegs: Buffer[] = [];
let smallJpeg: Buffer;

const token = (user: string, ttl = 600) => new TokenAuthority(SECRET, 'voxface', 600).mintOnboarding(user, ttl);
const POSE = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -40, 1];
const MASK = (() => {
  const m = new Uint8Array(CROP_SIZE * CROP_SIZE);
  for (let y = 0; y < CROP_SIZE; y++) for (let x = 0; x < CROP_SIZE; x++) m[y * CROP_SIZE + x] = ((x - 256) / 180) ** 2 + ((y - 256) / 230) ** 2 < 1 ? 255 : 0;
  return deflateSync(m);
})();

/** One frame body as the capture page sends it; `face` false gives a frame where tracking lost the face. */
function frame(index: number, face = true, jpeg = jpegs[index % jpegs.length]!): Uint8Array {
  const blendshapes = Array.from({ length: 52 }, (_, i) => (i === 0 ? 0 : ((index * 7 + i) % 10) / 20));
  return encodeFrameBody({ index, faceFound: face, blendshapes, pose: face ? POSE : null }, jpeg, MASK,
    face ? new Float32Array(LANDMARK_COUNT * 2).fill(256) : null);
}

/** A plate sample body as the capture page sends it, for SESSION's 640x480 camera (plates at full size). */
function plate(index: number, width = 640, height = 480): Uint8Array {
  const sample = syntheticPlateSample(index, personAt(index, 10), width, height);
  return encodePlateSampleBody({ index, width, height }, deflateSync(sample.rgb), deflateSync(sample.person), sample.landmarks);
}

interface App { url: string; dir: string; store: AvatarStore; queue: TrainingQueue }

async function startApp(limits: Partial<OnboardingLimits> = {}): Promise<App> {
  const dir = mkdtempSync(join(root, 'app-'));
  const store = new AvatarStore(join(dir, 'avatars'));
  const queue = new TrainingQueue({ dir: join(dir, 'onboarding'), store });
  const service = new OnboardingService({
    dir: join(dir, 'onboarding'), store, queue,
    limits: { ...DEFAULT_ONBOARDING_LIMITS, maxFramesPerSession: 12, minFaceFrames: 6, requestsPerSecond: 200, requestBurst: 200, ...limits },
    training: { minutes: 0.1, res: 32, model: 'small' },
  });
  const app = express();
  app.use('/api/onboarding', onboardingRouter(service, new TokenAuthority(SECRET, 'voxface', 600)));
  const server = await new Promise<Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  apps.push({ server, queue });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/onboarding`, dir, store, queue };
}

async function call(app: App, user: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (user) headers.authorization = `Bearer ${user.includes('.') ? user : token(user)}`;
  let payload: BodyInit | undefined;
  if (body instanceof Uint8Array) { headers['content-type'] = 'application/octet-stream'; payload = new Uint8Array(body); }
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(`${app.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const SESSION = { source: { width: 640, height: 480, fps: 10 }, crop: { x: 80, y: 0, size: 480 } };

async function newSession(app: App, user: string): Promise<string> {
  const r = await call(app, user, 'POST', '/sessions', SESSION);
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return r.json.session.id as string;
}

function expectError(r: { status: number; json: any }, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, 'string');
}

before(() => {
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${CROP_SIZE}x${CROP_SIZE}:rate=10`, '-frames:v', '4', '-q:v', '8', join(root, 'f%02d.jpg')]);
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=256x256:rate=10', '-frames:v', '1', join(root, 'small.jpg')]);
  jpegs = [1, 2, 3, 4].map((i) => readFileSync(join(root, `f0${i}.jpg`)));
  smallJpeg = readFileSync(join(root, 'small.jpg'));
});

after(async () => {
  for (const { server, queue } of apps) {
    await queue.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  rmSync(root, { recursive: true, force: true });
});

let shared: App;
let aliceAvatar = '';
let aliceJob = '';
let aliceSession = '';

test('upload, resume after a drop, finish: a valid dataset and a queued job', async () => {
  shared = await startApp();
  const app = shared;
  const id = aliceSession = await newSession(app, 'alice');
  for (let i = 0; i < 6; i++) {
    const r = await call(app, 'alice', 'PUT', `/sessions/${id}/frames/${i}`, frame(i, i !== 2));
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.deepEqual(r.json, { index: i, stored: true });
  }
  // "Connection dropped": the client asks what arrived and re-sends from there, overlapping one frame.
  const state = await call(app, 'alice', 'GET', `/sessions/${id}`);
  assert.deepEqual(state.json.frames, [0, 1, 2, 3, 4, 5]);
  const again = await call(app, 'alice', 'PUT', `/sessions/${id}/frames/5`, frame(5));
  assert.deepEqual([again.status, again.json], [200, { index: 5, stored: false }]);
  for (let i = 6; i < 10; i++) assert.equal((await call(app, 'alice', 'PUT', `/sessions/${id}/frames/${i}`, frame(i))).status, 201);
  // Plate samples (the whole frame of a few face frames): stored once each, like frames.
  for (const i of [0, 3, 6, 9]) assert.deepEqual((await call(app, 'alice', 'PUT', `/sessions/${id}/plates/${i}`, plate(i))).json, { index: i, stored: true });
  assert.deepEqual((await call(app, 'alice', 'PUT', `/sessions/${id}/plates/3`, plate(3))).json, { index: 3, stored: false });

  expectError(await call(app, 'alice', 'POST', `/sessions/${id}/finish`, { frameCount: 12 }), 409, 'missing_frames');
  const done = await call(app, 'alice', 'POST', `/sessions/${id}/finish`, { frameCount: 10 });
  assert.equal(done.status, 202, JSON.stringify(done.json));
  aliceAvatar = done.json.avatarId;
  aliceJob = done.json.job.id;
  assert.equal(done.json.job.state, 'queued');
  assert.equal(done.json.job.owner, 'alice');

  const dataset = loadDataset(join(app.dir, 'onboarding', 'datasets', aliceAvatar));
  assert.equal(dataset.meta.frameCount, 10);
  assert.equal(dataset.meta.faceFoundCount, 9);
  assert.equal(dataset.frames[2]!.split, 'excluded');
  assert.deepEqual(readFileSync(join(dataset.dir, 'images', '00007.jpg')), jpegs[7 % 4]);
  assert.equal(dataset.poses[16 * 1 + 14], -40);
  assert.ok(Number.isNaN(dataset.landmarks[2 * 478 * 2]!), 'no landmarks where no face');
  // The plates, from the four samples, at the camera's size (640x480: long side 640).
  assert.equal(dataset.meta.version, 2);
  assert.deepEqual([dataset.meta.plates?.width, dataset.meta.plates?.height, dataset.meta.plates?.samples], [640, 480, 4]);
  assert.ok(existsSync(join(dataset.dir, 'plates', 'background.png')) && existsSync(join(dataset.dir, 'plates', 'body.png')));

  // A retried finish (reply lost) answers the same avatar; the uploads are gone from disk.
  const retry = await call(app, 'alice', 'POST', `/sessions/${id}/finish`, { frameCount: 10 });
  assert.equal(retry.json.avatarId, aliceAvatar);
  assert.equal(existsSync(join(app.dir, 'onboarding', 'uploads', id, 'frames')), false);
  assert.equal(existsSync(join(app.dir, 'onboarding', 'uploads', id, 'plates')), false);
  expectError(await call(app, 'alice', 'PUT', `/sessions/${id}/frames/10`, frame(10)), 409, 'session_finished');
  const avatars = await call(app, 'alice', 'GET', '/avatars');
  assert.equal(avatars.json.avatars.length, 1);
  assert.equal(avatars.json.avatars[0].ready, false);
  assert.equal(avatars.json.avatars[0].job.id, aliceJob);
});

test('no token, a forged or expired token: 401', async () => {
  expectError(await call(shared, null, 'GET', '/sessions'), 401, 'unauthorized');
  const forged = mintAccessToken(Buffer.from('another-secret-0123456789abcdef'), { scope: 'onboarding', aud: 'voxface', sub: 'alice', exp: Math.floor(Date.now() / 1000) + 60 });
  expectError(await call(shared, forged, 'GET', '/avatars'), 401, 'unauthorized');
  expectError(await call(shared, token('alice', -10), 'GET', '/avatars'), 401, 'unauthorized');
});

test("another user can neither read, upload to, finish nor delete alice's things", async () => {
  const open = await newSession(shared, 'alice');
  for (const [method, path, body] of [
    ['GET', `/sessions/${open}`], ['PUT', `/sessions/${open}/frames/0`, frame(0)], ['POST', `/sessions/${open}/finish`, { frameCount: 1 }],
    ['DELETE', `/sessions/${open}`], ['GET', `/avatars/${aliceAvatar}`], ['DELETE', `/avatars/${aliceAvatar}`], ['GET', `/jobs/${aliceJob}`],
  ] as const) {
    const r = await call(shared, 'mallory', method, path, body);
    assert.equal(r.status, 404, `${method} ${path}: ${JSON.stringify(r.json)}`);
  }
  assert.deepEqual((await call(shared, 'mallory', 'GET', '/avatars')).json.avatars, []);
  assert.deepEqual((await call(shared, 'mallory', 'GET', '/sessions')).json.sessions, []);
  // Nothing of alice's was touched...
  assert.equal((await call(shared, 'alice', 'GET', `/jobs/${aliceJob}`)).json.job.state, 'queued');
  assert.equal((await call(shared, 'alice', 'GET', `/sessions/${open}`)).status, 200);
  // ...and alice herself deletes her avatar: job, dataset and uploads go with it.
  assert.equal((await call(shared, 'alice', 'DELETE', `/avatars/${aliceAvatar}`)).status, 204);
  expectError(await call(shared, 'alice', 'GET', `/jobs/${aliceJob}`), 404, 'no_job');
  assert.equal(existsSync(join(shared.dir, 'onboarding', 'datasets', aliceAvatar)), false);
  assert.equal(existsSync(join(shared.dir, 'onboarding', 'uploads', aliceSession)), false);
  assert.deepEqual((await call(shared, 'alice', 'GET', '/avatars')).json.avatars, []);
});

test('non-JPEG, truncated, wrongly sized and malformed frames are refused and not stored', async () => {
  const id = await newSession(shared, 'bob');
  const png = readFileSync(new URL('../../node_modules/pngjs/package.json', import.meta.url)); // any non-JPEG bytes
  const truncated = jpegs[0]!.subarray(0, jpegs[0]!.length - 100);
  const markersOnly = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xd9])]);
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, frame(0, true, png)), 415, 'not_jpeg');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, frame(0, true, truncated)), 415, 'not_jpeg');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, frame(0, true, markersOnly)), 415, 'not_jpeg');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, frame(0, true, smallJpeg)), 422, 'bad_image_size');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, new Uint8Array([1, 2, 3, 4, 5])), 400, 'bad_frame');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/1`, frame(0)), 400, 'bad_frame'); // index mismatch
  const noLandmarks = encodeFrameBody({ index: 0, faceFound: true, blendshapes: new Array(52).fill(0), pose: POSE }, jpegs[0]!, MASK, null);
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, noLandmarks), 400, 'bad_frame');
  const bomb = encodeFrameBody({ index: 0, faceFound: false, blendshapes: new Array(52).fill(0), pose: null }, jpegs[0]!, deflateSync(new Uint8Array(16 * 1024 * 1024)), null);
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/0`, bomb), 400, 'bad_mask');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/frames/abc`, frame(0)), 400, 'bad_index');
  // Plate samples of another size than the session's camera, garbage, or another index than the URL's.
  const wrongSize = await call(shared, 'bob', 'PUT', `/sessions/${id}/plates/0`, plate(0, 320, 240));
  expectError(wrongSize, 400, 'bad_plate');
  assert.equal(wrongSize.json.error.message, "plate sample 0 is 320x240; this capture's plates are 640x480");
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/plates/0`, new Uint8Array([1, 2, 3])), 400, 'bad_plate');
  expectError(await call(shared, 'bob', 'PUT', `/sessions/${id}/plates/1`, plate(0)), 400, 'bad_plate');
  assert.deepEqual((await call(shared, 'bob', 'GET', `/sessions/${id}`)).json.frames, []);
  expectError(await call(shared, 'bob', 'POST', '/sessions', { source: { width: 640, height: 480, fps: 10 }, crop: { x: 400, y: 0, size: 480 } }), 400, 'bad_session');
});

test('too few frames with a face: finish refuses with the count, and the session stays open', async () => {
  const app = await startApp();
  const id = await newSession(app, 'carol');
  for (let i = 0; i < 8; i++) assert.equal((await call(app, 'carol', 'PUT', `/sessions/${id}/frames/${i}`, frame(i, i < 3))).status, 201);
  const r = await call(app, 'carol', 'POST', `/sessions/${id}/finish`, { frameCount: 8 });
  expectError(r, 422, 'too_few_faces');
  assert.match(r.json.error.message, /3 of 8 frames/);
  assert.deepEqual(app.queue.list(), []);
  assert.equal((await call(app, 'carol', 'GET', `/sessions/${id}`)).json.session.state, 'open');
  // No half-written dataset is left behind.
  assert.deepEqual(execFileSync('ls', ['-A', join(app.dir, 'onboarding', 'datasets')]).toString(), '');
});

test('limits: bytes per frame, frames, sessions, session and total bytes, request rate, JSON size', async () => {
  const one = frame(0).length;
  const app = await startApp({ maxFrameBytes: one + 10, maxFramesPerSession: 3, maxSessionsPerUser: 2, maxSessionBytes: 2 * one + 10, maxTotalBytes: 3 * one + 10 });
  const id = await newSession(app, 'dave');
  const big = frame(0, true, Buffer.concat([jpegs[0]!.subarray(0, 2), Buffer.alloc(200), jpegs[0]!.subarray(2)]));
  expectError(await call(app, 'dave', 'PUT', `/sessions/${id}/frames/0`, big), 413, 'frame_too_large');
  expectError(await call(app, 'dave', 'PUT', `/sessions/${id}/frames/3`, frame(3)), 413, 'too_many_frames');
  // Without a Content-Length (chunked), the size is enforced while reading.
  const chunked = await fetch(`${app.url}/sessions/${id}/frames/0`, {
    method: 'PUT', headers: { authorization: `Bearer ${token('dave')}`, 'content-type': 'application/octet-stream' },
    body: new Blob([new Uint8Array(big)]).stream(), duplex: 'half',
  } as RequestInit);
  expectError({ status: chunked.status, json: await chunked.json() }, 413, 'frame_too_large');
  assert.equal((await call(app, 'dave', 'PUT', `/sessions/${id}/frames/0`, frame(0))).status, 201);
  assert.equal((await call(app, 'dave', 'PUT', `/sessions/${id}/frames/1`, frame(1))).status, 201);
  expectError(await call(app, 'dave', 'PUT', `/sessions/${id}/frames/2`, frame(2)), 413, 'session_too_large');
  const second = await newSession(app, 'dave');
  expectError(await call(app, 'dave', 'POST', '/sessions', SESSION), 429, 'too_many_sessions');
  assert.equal((await call(app, 'dave', 'PUT', `/sessions/${second}/frames/0`, frame(0))).status, 201);
  // Total bytes over all users: erin is refused because dave filled the server's upload space.
  const erin = await newSession(app, 'erin');
  expectError(await call(app, 'erin', 'PUT', `/sessions/${erin}/frames/0`, frame(0)), 507, 'storage_full');
  expectError(await call(app, 'erin', 'POST', '/sessions', { ...SESSION, pad: 'x'.repeat(20_000) }), 413, 'body_too_large');
  // Deleting a session frees its space.
  assert.equal((await call(app, 'dave', 'DELETE', `/sessions/${second}`)).status, 204);
  assert.equal((await call(app, 'erin', 'PUT', `/sessions/${erin}/frames/0`, frame(0))).status, 201);

  const rated = await startApp({ requestsPerSecond: 5, requestBurst: 10 });
  const replies = await Promise.all(Array.from({ length: 30 }, () => call(rated, 'frank', 'GET', '/sessions')));
  const limited = replies.filter((r) => r.status === 429);
  assert.ok(limited.length >= 15, `${limited.length} of 30 limited`);
  expectError(limited[0]!, 429, 'rate_limited');
  assert.equal((await call(rated, 'grace', 'GET', '/sessions')).status, 200, 'other users are not slowed');
});
