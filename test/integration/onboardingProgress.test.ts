/**
 * The `/onboarding` progress channel on a real server: tokens are checked at the
 * handshake, each user hears only about their own jobs, and jobs are sent without
 * server paths. The job here is refused by a real trainer (its dataset does not
 * exist), which takes a second and runs every stage the channel relays.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { ONBOARDING_NAMESPACE } from '../../server/onboarding/OnboardingProgress';
import type { TrainingJob } from '../../server/onboarding/TrainingJobTypes';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
const sockets: Socket[] = [];

before(async () => { server = await startTestServer(); });
after(async () => {
  for (const socket of sockets) socket.close();
  await server?.close();
});

function connect(token: string): Socket {
  const socket = io(`${server.url}${ONBOARDING_NAMESPACE}`, { auth: { token }, transports: ['websocket'], reconnection: false });
  sockets.push(socket);
  return socket;
}

function connectError(token: string): Promise<string> {
  const socket = connect(token);
  return new Promise((resolve, reject) => {
    socket.on('connect', () => reject(new Error('connected with a bad token')));
    socket.on('connect_error', (error) => resolve(error.message));
  });
}

test('a missing, forged or expired token is refused at the handshake', async () => {
  assert.match(await connectError(''), /^unauthorized: token refused \(malformed\)/);
  // Flip a character inside the signature (the last one only holds base64 padding bits).
  const real = server.tokens.mintOnboarding('alice'), at = real.length - 10;
  const forged = real.slice(0, at) + (real[at] === 'A' ? 'B' : 'A') + real.slice(at + 1);
  assert.match(await connectError(forged), /^unauthorized: token refused \(bad-signature\)/);
  assert.match(await connectError(server.tokens.mintOnboarding('alice', -10)), /^unauthorized: token refused \(expired\)/);
});

test('a socket is told and disconnected when its token expires', async () => {
  const socket = connect(server.tokens.mintOnboarding('carol', 2));
  const started = Date.now();
  const expired = new Promise<string>((resolve) => socket.once('expired', ({ message }: { message: string }) => resolve(message)));
  const reason = await new Promise<string>((resolve) => socket.once('disconnect', resolve));
  assert.match(await expired, /token expired/);
  assert.equal(reason, 'io server disconnect');
  assert.ok(Date.now() - started >= 900 && Date.now() - started < 4000, `disconnected after ${Date.now() - started} ms`);
});

test('each user receives their own jobs and progress only, without server paths', async () => {
  const alice = connect(server.tokens.mintOnboarding('alice'));
  const bob = connect(server.tokens.mintOnboarding('bob'));
  const aliceEvents: TrainingJob[] = [], bobEvents: TrainingJob[] = [];
  alice.on('progress', ({ job }: { job: TrainingJob }) => aliceEvents.push(job));
  bob.on('progress', ({ job }: { job: TrainingJob }) => bobEvents.push(job));
  const [aliceJobs] = await Promise.all([
    new Promise<TrainingJob[]>((resolve) => alice.once('jobs', ({ jobs }: { jobs: TrainingJob[] }) => resolve(jobs))),
    new Promise((resolve) => bob.once('jobs', resolve)),
  ]);
  assert.deepEqual(aliceJobs, []);

  const job = server.trainingQueue.enqueue({
    owner: 'alice', avatarId: 'av-alice', dataset: '/nonexistent/dataset', options: { minutes: 0.1, res: 32, model: 'small' },
  });
  const deadline = Date.now() + 30_000;
  while (!aliceEvents.some((j) => j.state === 'failed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(aliceEvents.map((j) => j.progress.stage), ['queued', 'loading', 'failed']);
  assert.ok(aliceEvents.every((j) => j.id === job.id));
  assert.match(aliceEvents.at(-1)!.error ?? '', /refused its input/);
  for (const key of ['dataset', 'workDir', 'pid', 'stderrTail']) assert.equal(key in aliceEvents.at(-1)!, false, `${key} is not sent`);
  assert.deepEqual(bobEvents, [], 'bob hears nothing of alice\'s job');

  // A reconnecting page gets the current state at once.
  const again = connect(server.tokens.mintOnboarding('alice'));
  const jobs = await new Promise<TrainingJob[]>((resolve) => again.once('jobs', ({ jobs: list }: { jobs: TrainingJob[] }) => resolve(list)));
  assert.deepEqual(jobs.map((j) => [j.id, j.state]), [[job.id, 'failed']]);
});
