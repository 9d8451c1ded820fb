/**
 * The training queue with real trainers (`voxface train` child processes, small
 * model at 32 px on an 8-frame synthetic dataset): a trainer that crashes is
 * retried then failed with its stderr while the next job runs; progress events
 * arrive; a queue stopped mid-job (a server stop: the trainer saves its
 * checkpoint) and recreated on the same folder resumes from the checkpoint and
 * installs the avatar in the store under its owner. About 20 s of training.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cropIntrinsics, MEDIAPIPE_VERTICAL_FOV_DEG } from '../../shared/dataset/camera';
import { CROP_SIZE, DATASET_VERSION, FILES, LANDMARK_COUNT, testStartIndex, type DatasetMeta } from '../../shared/dataset/format';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import { DatasetWriter } from '../../server/dataset/DatasetWriter';
import { readAvatarFile } from '../../server/engine/AvatarFile';
import type { JobsFile, TrainingJob, TrainingProgress } from '../../server/onboarding/TrainingJobTypes';
import { checkpointElapsedMs } from '../../server/onboarding/TrainerProcess';
import { JOBS_FILE, TrainingQueue, type TrainingQueueOptions } from '../../server/onboarding/TrainingQueue';

process.env.VOXFACE_QUIET ??= '1';
const root = mkdtempSync(join(tmpdir(), 'voxface-onboarding-queue-'));
const store = new AvatarStore(join(root, 'avatars'));
const queueDir = join(root, 'onboarding');
const OPTIONS = { minutes: 0.2, res: 32, model: 'small' as const };
const queues: TrainingQueue[] = [];
let good: TrainingJob;
let broken: TrainingJob;
const events: { id: string; progress: TrainingProgress }[] = [];

/** By default no snapshot is installed early (threshold out of reach), so installs happen at the end only. */
function newQueue(options: Partial<TrainingQueueOptions> = {}, dir = queueDir): TrainingQueue {
  const queue = new TrainingQueue({ dir, store, maxAttempts: 2, niceness: 0, reportSeconds: 2, snapshotSeconds: 60, usablePsnr: 99, ...options });
  queue.on('progress', ({ job, progress }) => events.push({ id: job.id, progress }));
  queues.push(queue);
  return queue;
}

/** An 8-frame dataset in the project's format: test-pattern crops, a head-sized mask, a head 40 cm ahead. */
function writeDataset(dir: string): void {
  const n = 8;
  const frames = join(root, 'frames');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${CROP_SIZE}x${CROP_SIZE}:rate=10`, '-frames:v', String(n), '-q:v', '8', join(frames + '%02d.jpg')]);
  const mask = new Uint8Array(CROP_SIZE * CROP_SIZE);
  for (let y = 0; y < CROP_SIZE; y++) for (let x = 0; x < CROP_SIZE; x++) mask[y * CROP_SIZE + x] = ((x - 256) / 150) ** 2 + ((y - 256) / 200) ** 2 < 1 ? 255 : 0;
  const writer = new DatasetWriter(dir, n);
  for (let i = 0; i < n; i++) {
    const blendshapes = Array.from({ length: 52 }, (_, k) => (k === 25 ? i / n : 0));
    const pose = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.3 * i, 0, -40, 1];
    writer.addFrame(i, { faceFound: true, blendshapes, pose, landmarksPx: new Float32Array(LANDMARK_COUNT * 2).fill(256) },
      readFileSync(`${frames}${String(i + 1).padStart(2, '0')}.jpg`), mask);
  }
  const source = { width: 640, height: 480 }, crop = { x: 80, y: 0, size: 480 };
  const records = writer.frameRecords(10);
  const meta: DatasetMeta = {
    version: DATASET_VERSION, createdAt: new Date().toISOString(),
    source: { file: 'synthetic', sha256: 'synthetic-onboarding-test', codec: 'mjpeg', ...source, fps: 10, durationSec: 0.8, startSec: 0, decodedWidth: 640, decodedHeight: 480 },
    crop, imageSize: CROP_SIZE, intrinsics: cropIntrinsics(source.width, source.height, crop),
    camera: { verticalFovDeg: MEDIAPIPE_VERTICAL_FOV_DEG, convention: 'mediapipe-gl' },
    frameCount: n, faceFoundCount: n,
    split: { testFraction: 0.15, testStartIndex: testStartIndex(n), train: records.filter((r) => r.split === 'train').length, test: records.filter((r) => r.split === 'test').length, excluded: 0 },
    reprojectionErrorPx: -1, files: FILES,
  };
  writer.finish(meta, records, false);
}

before(() => {
  writeDataset(join(root, 'good'));
  // A dataset that passes validation but whose mask 3 is garbage: the trainer dies decoding it (exit 1, not an input refusal).
  cpSync(join(root, 'good'), join(root, 'broken'), { recursive: true });
  writeFileSync(join(root, 'broken', 'masks', '00003.png'), 'not a png at all');
});

after(async () => {
  for (const queue of queues) await queue.close();
  rmSync(root, { recursive: true, force: true });
});

test('a crashing trainer is retried, then failed with its stderr; the next job trains and reports progress', async () => {
  const queue = newQueue();
  // Both alice's, so they run in the order queued: the broken one's retry before the good one (another
  // user's job would go between them: jobs alternate over users, onboardingStorage.test.ts).
  broken = queue.enqueue({ owner: 'alice', avatarId: 'av-bob', dataset: join(root, 'broken'), options: OPTIONS });
  good = queue.enqueue({ owner: 'alice', avatarId: 'av-alice', dataset: join(root, 'good'), options: OPTIONS });
  const failed = queue.waitFor('finished', 60_000, ({ job }) => job.id === broken.id);
  const training = queue.waitFor('progress', 60_000, ({ job, progress }) => job.id === good.id && progress.stage === 'training');
  await queue.start();
  const { job } = await failed;
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 2);
  assert.match(job.error ?? '', /crashed 2 times/);
  assert.match(job.stderrTail ?? '', /unrecognised content at end of stream/);
  const { progress } = await training;
  assert.ok(progress.step > 0, JSON.stringify(progress));
  assert.equal(typeof progress.psnr, 'number');
  assert.ok(progress.elapsedMs > 0 && progress.etaMs < OPTIONS.minutes * 60_000, JSON.stringify(progress));
  const stages = events.filter((e) => e.id === good.id).map((e) => e.progress.stage);
  assert.deepEqual(stages.slice(0, 3), ['queued', 'loading', 'training']);
});

test('stopping the queue mid-job keeps the job with a checkpoint; a new queue resumes it and installs the avatar', async () => {
  await queues[0]!.close();
  const checkpoint = join(queueDir, 'jobs', good.id, 'avatar.vxa.ckpt');
  const trainedMs = checkpointElapsedMs(checkpoint);
  assert.ok(trainedMs !== undefined && trainedMs > 0, 'the stopped trainer saved a checkpoint');
  const file = JSON.parse(readFileSync(join(queueDir, JOBS_FILE), 'utf8')) as JobsFile;
  assert.equal(file.jobs.find((j) => j.id === good.id)?.state, 'queued');
  assert.equal(file.jobs.find((j) => j.id === broken.id)?.state, 'failed');
  assert.equal(store.listFor('alice').length, 0, 'not installed before it finished');

  const queue = newQueue();
  const done = queue.waitFor('finished', 60_000, ({ job }) => job.id === good.id);
  const from = events.length;
  await queue.start();
  const { job } = await done;
  assert.equal(job.state, 'done', job.error);
  const resumed = events.slice(from).filter((e) => e.id === good.id);
  assert.equal(resumed.find((e) => e.progress.stage === 'loading')?.progress.elapsedMs, Math.round(trainedMs!), 'resumed from the checkpoint');
  assert.ok(job.progress.elapsedMs >= OPTIONS.minutes * 60_000 * 0.9, `trained ${job.progress.elapsedMs} ms in all`);
  assert.deepEqual(resumed.map((e) => e.progress.stage).slice(-2), ['installing', 'done']);
  assert.deepEqual(store.listFor('alice').map((a) => a.id), ['av-alice']);
  assert.equal(store.ownerOf('av-alice'), 'alice');
  assert.deepEqual(store.listFor('bob'), []);
  assert.equal(readAvatarFile(store.existing('av-alice')).config.appearanceRes, 32, 'a readable small-model avatar');
  assert.equal(queue.get(broken.id)?.state, 'failed', 'the failed job is not run again');
  assert.equal(existsSync(join(queueDir, 'jobs', broken.id)), true);
});

test('a snapshot that passes the threshold is installed while training goes on, with a preview; better ones replace it', async () => {
  const queue = newQueue({ snapshotSeconds: 5, usablePsnr: 0, usableMarginDb: -100, usableFaceSsimMargin: -2 }, join(root, 'onboarding-snapshots'));
  const installs: { psnr: number; final: boolean; state: string; usable: boolean }[] = [];
  const previews: Buffer[] = [];
  queue.on('installed', ({ job, psnr, final }) => installs.push({ psnr, final, state: job.state, usable: job.usable }));
  queue.on('preview', ({ png }) => previews.push(png));
  const job = queue.enqueue({ owner: 'carol', avatarId: 'av-carol', dataset: join(root, 'good'), options: OPTIONS });
  const done = queue.waitFor('finished', 60_000, (e) => e.job.id === job.id);
  await queue.start();
  const { job: finished } = await done;
  assert.equal(finished.state, 'done', finished.error);
  const early = installs.filter((i) => !i.final);
  assert.ok(early.length >= 1, `installs: ${JSON.stringify(installs)}`);
  assert.equal(early[0]!.state, 'running', 'installed while the trainer was still running');
  assert.equal(early[0]!.usable, true);
  for (let i = 1; i < installs.length; i++) assert.ok(installs[i]!.psnr >= installs[i - 1]!.psnr, `each install is better: ${JSON.stringify(installs)}`);
  assert.equal(finished.installs, installs.length);
  assert.ok(finished.quality.length >= 2, JSON.stringify(finished.quality));
  assert.ok(previews.length >= 1);
  assert.deepEqual([...previews[0]!.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
  assert.deepEqual(pngSize(previews[0]!), [2 * OPTIONS.res, OPTIONS.res], 'render | ground truth');
  assert.equal(store.ownerOf('av-carol'), 'carol');
  assert.equal(readAvatarFile(store.existing('av-carol')).config.appearanceRes, 32);
});

test('a snapshot below the threshold is not installed; the final avatar is, at the end', async () => {
  const queue = newQueue({ snapshotSeconds: 5, usablePsnr: 99 }, join(root, 'onboarding-high-bar'));
  const installs: boolean[] = [];
  queue.on('installed', ({ final }) => installs.push(final));
  const job = queue.enqueue({ owner: 'dave', avatarId: 'av-dave', dataset: join(root, 'good'), options: OPTIONS });
  const done = queue.waitFor('finished', 60_000, (e) => e.job.id === job.id);
  await queue.start();
  const { job: finished } = await done;
  assert.equal(finished.state, 'done', finished.error);
  assert.deepEqual(installs, [true]);
  assert.equal(finished.usablePsnr, 99);
  assert.ok(finished.quality.length >= 2);
});

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): [number, number] {
  return [png.readUInt32BE(16), png.readUInt32BE(20)];
}
