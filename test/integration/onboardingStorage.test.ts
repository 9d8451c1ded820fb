/**
 * Crash-safe onboarding storage and a fair training queue, on real files with
 * real trainers (`voxface train` child processes; their datasets are made
 * unreadable so each refuses its input at once, exit 2, instead of training):
 * an unreadable jobs.json is moved aside and the server starts; what a crash
 * left half-written is swept at start (and only that); a failed job's data is
 * removed after its retention period and counts against the avatar quota
 * until then; two finishes at once cannot both pass the quota; one user's many
 * jobs do not keep another user's waiting. About 30 s, mostly trainer starts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { CROP_SIZE, LANDMARK_COUNT } from '../../shared/dataset/format';
import { encodeFrameBody } from '../../shared/onboarding/frameBody';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { OnboardingError } from '../../server/onboarding/OnboardingError';
import { DEFAULT_ONBOARDING_LIMITS, OnboardingService, type OnboardingLimits } from '../../server/onboarding/OnboardingService';
import type { TrainingJob } from '../../server/onboarding/TrainingJobTypes';
import { JOBS_FILE, TrainingQueue, type TrainingQueueOptions } from '../../server/onboarding/TrainingQueue';

process.env.VOXFACE_QUIET ??= '1';
const root = mkdtempSync(join(tmpdir(), 'voxface-onboarding-storage-'));
const queues: TrainingQueue[] = [];
const OPTIONS = { minutes: 0.1, res: 32, model: 'small' as const };
const SESSION = { source: { width: 640, height: 480, fps: 10 }, crop: { x: 80, y: 0, size: 480 } };
const POSE = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, -40, 1];
const MASK = deflateSync(new Uint8Array(CROP_SIZE * CROP_SIZE).fill(255));
let jpeg: Buffer;
let deadPid: number;
const live = spawn('sleep', ['300']);

/** One upload body as the capture page sends it. */
function frame(index: number, face = true): Uint8Array {
  return encodeFrameBody({ index, faceFound: face, blendshapes: new Array(52).fill(0.1), pose: face ? POSE : null }, jpeg, MASK,
    face ? new Float32Array(LANDMARK_COUNT * 2).fill(256) : null);
}

interface Setup { dir: string; store: AvatarStore; queue: TrainingQueue; service: OnboardingService }

function setup(dir: string, queueOptions: Partial<TrainingQueueOptions> = {}, limits: Partial<OnboardingLimits> = {}): Setup {
  const store = new AvatarStore(join(dir, 'avatars'));
  const queue = new TrainingQueue({ dir: join(dir, 'onboarding'), store, maxAttempts: 1, niceness: 0, ...queueOptions });
  queues.push(queue);
  const service = new OnboardingService({
    dir: join(dir, 'onboarding'), store, queue, training: OPTIONS,
    limits: { ...DEFAULT_ONBOARDING_LIMITS, maxFramesPerSession: 12, minFaceFrames: 6, maxSessionsPerUser: 10, ...limits },
  });
  return { dir, store, queue, service };
}

/** A capture session of `owner` with 8 uploaded frames (all with a face unless `faces` is false). */
async function uploaded(s: Setup, owner: string, faces = true): Promise<string> {
  const { id } = s.service.createSession(owner, SESSION);
  for (let i = 0; i < 8; i++) assert.equal((await s.service.putFrame(owner, id, i, frame(i, faces))).stored, true);
  return id;
}

/** A dataset the trainer refuses at once (exit 2): its dataset.json is not JSON. */
function unreadableDataset(path: string): string {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'dataset.json'), '{ "version": ');
  return path;
}

const leftover = (path: string, pid = deadPid) => `${path}.${pid}.${Date.now()}.partial`;

before(async () => {
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${CROP_SIZE}x${CROP_SIZE}:rate=10`, '-frames:v', '1', '-q:v', '8', join(root, 'f.jpg')]);
  jpeg = readFileSync(join(root, 'f.jpg'));
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  deadPid = child.pid!;
});

after(async () => {
  live.kill();
  for (const queue of queues) await queue.close();
  rmSync(root, { recursive: true, force: true });
});

test('a truncated jobs.json is moved aside with a warning and the queue starts with no jobs; the lost jobs\' folders are kept', async (t) => {
  const dir = join(root, 'corrupt');
  const first = setup(dir);
  const job = first.queue.enqueue({ owner: 'ann', avatarId: 'av-ann', dataset: unreadableDataset(join(dir, 'onboarding', 'datasets', 'av-ann')), options: OPTIONS });
  await first.queue.close();
  const path = join(dir, 'onboarding', JOBS_FILE);
  const whole = readFileSync(path);
  writeFileSync(path, whole.subarray(0, whole.length >> 1)); // a torn write (a disk without fsync, a crash)

  const warnings: string[] = [];
  t.mock.method(console, 'warn', (...args: unknown[]) => { warnings.push(args.join(' ')); });
  const second = setup(dir);
  assert.deepEqual(second.queue.list(), []);
  const aside = second.queue.jobsFileMovedAside!;
  assert.match(aside, /jobs\.json\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
  assert.deepEqual(readFileSync(aside), whole.subarray(0, whole.length >> 1), 'kept as it was, for the operator');
  assert.ok(warnings.some((w) => w.includes('unreadable') && w.includes(aside)), warnings.join('\n'));
  await second.queue.start();
  assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { version: 1, jobs: [] }, 'a fresh jobs.json');
  assert.ok(existsSync(job.workDir), 'the lost job\'s folder is not swept as an orphan');
  assert.ok(existsSync(join(dir, 'onboarding', 'datasets', 'av-ann')), 'nor its dataset');
  await second.queue.close();

  // A readable file with one damaged record keeps the others.
  const good = JSON.parse(whole.toString('utf8')) as { jobs: TrainingJob[] };
  writeFileSync(path, JSON.stringify({ version: 1, jobs: [{ id: 'job-damaged', state: 'queued' }, ...good.jobs] }));
  assert.deepEqual(setup(dir).queue.list().map((j) => j.id), [job.id]);
  // A newer server's file is refused, not moved aside: that server could still run its jobs.
  writeFileSync(path, JSON.stringify({ version: 2, jobs: [] }));
  assert.throws(() => setup(dir), /a version 2 jobs file/);
  assert.ok(existsSync(path));
});

test('at start, temporary files of dead writers, half-created sessions and folders no job refers to are removed; live writes and referenced data are kept', async () => {
  const dir = join(root, 'sweep');
  const first = setup(dir);
  const session = await uploaded(first, 'bea');
  const kept = first.queue.enqueue({ owner: 'bea', avatarId: 'av-kept', dataset: unreadableDataset(join(dir, 'onboarding', 'datasets', 'av-kept')), options: OPTIONS });
  await first.queue.close();

  const onboarding = join(dir, 'onboarding');
  const stale = [
    leftover(join(onboarding, JOBS_FILE)),
    leftover(join(kept.workDir, 'avatar.vxa.ckpt')),
    join(onboarding, 'jobs', 'job-orphan'),
    leftover(join(onboarding, 'uploads', session, 'frames', '00008.bin')),
    leftover(join(onboarding, 'uploads', session, 'session.json')),
    join(onboarding, 'uploads', 'cap-half-created'),
    join(onboarding, 'datasets', `.av-half.partial-${deadPid}-${Date.now()}`),
    join(onboarding, 'datasets', 'av-orphan'),
    leftover(join(dir, 'avatars', 'av-z.vxa')),
  ];
  const fresh = [
    leftover(join(kept.workDir, 'avatar.vxa.ckpt'), live.pid), // another live process is writing it
    leftover(join(dir, 'avatars', 'av-y.vxa'), live.pid),
    join(onboarding, 'datasets', `.av-busy.partial-${live.pid}-${Date.now()}`),
  ];
  for (const path of [...stale, ...fresh]) {
    if (/partial$/.test(path)) writeFileSync(path, 'half');
    else mkdirSync(join(path, 'frames'), { recursive: true });
  }

  const second = setup(dir);
  await second.queue.start();
  for (const path of stale) assert.equal(existsSync(path), false, `${path} removed`);
  for (const path of fresh) assert.equal(existsSync(path), true, `${path} kept`);
  assert.ok(existsSync(kept.workDir) && existsSync(kept.dataset), 'a job\'s folder and dataset are kept');
  assert.deepEqual(second.service.sessions.indices('bea', session), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(second.queue.get(kept.id)?.owner, 'bea');
});

test('a failed job\'s data counts against the quota, then is removed after the retention period', async () => {
  const RETENTION_MS = 3600_000;
  const s = setup(join(root, 'retention'), { failedRetentionMs: RETENTION_MS }, { maxAvatarsPerUser: 1 });
  const first = await uploaded(s, 'cid');
  const second = await uploaded(s, 'cid');
  const { avatarId, job } = await s.service.finish('cid', first, { frameCount: 8 });
  unreadableDataset(job.dataset); // the trainer refuses it: the job fails at once
  const failed = s.queue.waitFor('finished', 60_000, (e) => e.job.id === job.id);
  await s.queue.start();
  const { job: ended } = await failed;
  assert.equal(ended.state, 'failed');
  assert.match(ended.error ?? '', /refused its input/);

  // Kept for the retention period (the owner sees why it failed), and counted.
  assert.deepEqual(s.service.avatars('cid').map((a) => [a.id, a.job?.state]), [[avatarId, 'failed']]);
  await assert.rejects(s.service.finish('cid', second, { frameCount: 8 }), (e) => e instanceof OnboardingError && e.code === 'too_many_avatars');
  assert.deepEqual(s.queue.expire(Date.now() + RETENTION_MS / 2), [], 'not before the retention period');
  assert.ok(existsSync(job.dataset));

  const expired = s.queue.expire(Date.parse(ended.finishedAt!) + RETENTION_MS);
  assert.deepEqual(expired.map((j) => j.id), [job.id]);
  assert.equal(existsSync(job.dataset), false, 'dataset removed');
  assert.equal(existsSync(job.workDir), false, 'job folder removed');
  assert.equal(existsSync(join(s.dir, 'onboarding', 'uploads', first)), false, 'upload session removed');
  assert.equal(s.queue.get(job.id), undefined);
  assert.deepEqual(s.service.avatars('cid'), []);
  const again = await s.service.finish('cid', second, { frameCount: 8 });
  assert.ok(['queued', 'running'].includes(again.job.state), `the quota is free again: ${again.job.state}`);
  await s.queue.remove(again.job.id); // no need to train it
});

test('two finishes at once for a user one avatar below the quota: one is queued, the other refused; a failed finish gives its reservation back', async () => {
  const s = setup(join(root, 'concurrent'), {}, { maxAvatarsPerUser: 2 });
  const [a, b, c] = [await uploaded(s, 'dot'), await uploaded(s, 'dot'), await uploaded(s, 'dot')];
  const noFaces = await uploaded(s, 'dot', false);
  const existing = await s.service.finish('dot', a, { frameCount: 8 });
  const results = await Promise.allSettled([s.service.finish('dot', b, { frameCount: 8 }), s.service.finish('dot', c, { frameCount: 8 })]);
  const queued = results.filter((r) => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(queued.length, 1, JSON.stringify(results.map((r) => r.status === 'rejected' ? String(r.reason) : 'queued')));
  assert.ok(refused[0]!.reason instanceof OnboardingError && refused[0]!.reason.code === 'too_many_avatars', String(refused[0]!.reason));
  assert.equal(s.queue.list('dot').length, 2);
  assert.equal(readdirSync(s.service.datasetsDir).length, 2, 'the refused finish wrote no dataset');

  // Two uploads of one frame at once (a client retry racing its first try): stored once, counted once.
  const { id: racing } = s.service.createSession('dot', SESSION);
  const twice = await Promise.all([s.service.putFrame('dot', racing, 0, frame(0)), s.service.putFrame('dot', racing, 0, frame(0))]);
  assert.deepEqual(twice.map((r) => r.stored).sort(), [false, true]);
  assert.equal(s.service.sessions.bytes('dot', racing), frame(0).length);

  await s.service.deleteAvatar('dot', existing.avatarId);
  await assert.rejects(s.service.finish('dot', noFaces, { frameCount: 8 }), (e) => e instanceof OnboardingError && e.code === 'too_few_faces');
  const late = results[0]!.status === 'rejected' ? b : c;
  const retried = await s.service.finish('dot', late, { frameCount: 8 });
  assert.equal(retried.job.state, 'queued', 'the failed finish released its place');
});

test('one user queuing many jobs does not starve another: trainers start round-robin over users', async () => {
  const dir = join(root, 'fair');
  const s = setup(dir);
  const dataset = unreadableDataset(join(dir, 'unreadable'));
  const jobs = ['eve', 'eve', 'eve', 'fay'].map((owner, i) => s.queue.enqueue({ owner, avatarId: `av-${owner}-${i}`, dataset, options: OPTIONS }));
  const starts: string[] = [];
  s.queue.on('progress', ({ job, progress }) => { if (progress.stage === 'loading') starts.push(job.avatarId); });
  const allDone = Promise.all(jobs.map((job) => s.queue.waitFor('finished', 120_000, (e) => e.job.id === job.id)));
  await s.queue.start();
  await allDone;
  // fay's job was queued last but starts second; eve's run in the order she queued them.
  assert.deepEqual(starts, ['av-eve-0', 'av-fay-3', 'av-eve-1', 'av-eve-2']);
});
