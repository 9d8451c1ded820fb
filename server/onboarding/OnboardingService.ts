/**
 * Onboarding on the server: capture sessions and their frame uploads (with
 * every limit), turning a finished session into a dataset (docs/dataset.md, via
 * DatasetWriter) and a training job, and the owner-only view of avatars and jobs.
 * HTTP lives in onboardingRouter.ts; identity (the owner) is decided there.
 *
 * Storage: a dataset is fsynced before its job is recorded; at start, dataset
 * folders left half-written by a crash (`.partial-*`) and datasets no job refers
 * to are removed. A failed job's dataset and uploads are removed when the queue
 * forgets the job (`expired`, after the retention period); until then they count
 * against the owner's avatar quota, like a training or finished avatar.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { cropIntrinsics, MEDIAPIPE_VERTICAL_FOV_DEG } from '../../shared/dataset/camera';
import {
  CROP_SIZE, DATASET_VERSION, FILES, testStartIndex, type CropWindow, type DatasetMeta,
} from '../../shared/dataset/format';
import { fsyncTree } from '../atomicFile';
import type { AvatarEntry, AvatarStorage } from '../avatar/AvatarStorage';
import { DatasetWriter } from '../dataset/DatasetWriter';
import { Logger } from '../Logger';
import { CaptureSessions, type CaptureSession, type CaptureSource } from './CaptureSessions';
import { decodeFrameBody as decodeFrameBodyOrThrow, FrameBodyError, type FrameBody } from '../../shared/onboarding/frameBody';
import { parseJpeg } from './jpegInfo';
import { PLATE_MAX_SAMPLES, PlateSampleError, plateSize } from '../../shared/dataset/plateSample';
import { PlateEstimator, type Plates } from '../dataset/plates/PlateEstimator';
import { readPlateSampleBody } from '../dataset/plates/plateSampleBody';
import { writePlates } from '../dataset/plates/writePlates';
import { OnboardingError } from './OnboardingError';
import { sweepLeftovers } from './sweepLeftovers';
import type { TrainingJob, TrainingOptions } from './TrainingJobTypes';
import type { TrainingJobQueue } from './TrainingJobQueue';

export interface OnboardingLimits {
  /** Bytes of one frame upload (header, JPEG, mask, landmarks). */
  maxFrameBytes: number;
  /** Bytes of one plate sample upload (header, deflated RGB and person mask at plate size, landmarks); PLATE_MAX_SAMPLES a session. */
  maxPlateBytes: number;
  maxFramesPerSession: number;
  /** Open (unfinished) capture sessions per user. */
  maxSessionsPerUser: number;
  maxSessionBytes: number;
  /** All stored uploads of all users together: protects the server's disk. */
  maxTotalBytes: number;
  /** Onboarding HTTP requests per second per user, and the burst above it. */
  requestsPerSecond: number;
  requestBurst: number;
  /** Frames with a face needed to finish a session. */
  minFaceFrames: number;
  /** Avatars per user, counting those still training and failed ones whose data is still kept. */
  maxAvatarsPerUser: number;
}

export const DEFAULT_ONBOARDING_LIMITS: OnboardingLimits = {
  maxFrameBytes: 256 * 1024,
  // Measured: 0.49 MB mean, 0.52 MB max on Katie Hill's 512x512 frames, 0.30 MB on the 512x480 pinkwall clip; 640x640 of incompressible noise would be 1.6 MB.
  maxPlateBytes: 2 * 1024 * 1024,
  maxFramesPerSession: 1800,
  maxSessionsPerUser: 2,
  maxSessionBytes: 200 * 1024 * 1024,
  maxTotalBytes: 2048 * 1024 * 1024,
  requestsPerSecond: 40,
  requestBurst: 80,
  minFaceFrames: 150,
  maxAvatarsPerUser: 3,
};

export interface OnboardingServiceOptions {
  /** uploads/ and datasets/ go here. */
  dir: string;
  store: AvatarStorage;
  queue: TrainingJobQueue;
  limits: OnboardingLimits;
  training: TrainingOptions;
}

export interface AvatarView extends Partial<AvatarEntry> {
  id: string;
  /** True once the avatar file is in the store (joinable). */
  ready: boolean;
  job?: TrainingJob;
}

const logger = new Logger('onboarding');
const MASK_BYTES = CROP_SIZE * CROP_SIZE;
const MAX_SOURCE_SIDE = 8192;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The session request body: `{ source: { width, height, fps }, crop: { x, y, size } }`. */
function parseSessionRequest(body: unknown): { source: CaptureSource; crop: CropWindow } {
  const bad = (message: string) => new OnboardingError(400, 'bad_session', message);
  if (!isObject(body) || !isObject(body.source) || !isObject(body.crop)) throw bad('body must be { source: { width, height, fps }, crop: { x, y, size } }');
  const { width, height, fps } = body.source;
  const { x, y, size } = body.crop;
  const int = (v: unknown, min: number, max: number) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
  if (!int(width, 16, MAX_SOURCE_SIDE) || !int(height, 16, MAX_SOURCE_SIDE)) throw bad(`source width and height must be integers in [16, ${MAX_SOURCE_SIDE}]`);
  if (typeof fps !== 'number' || !(fps >= 1 && fps <= 120)) throw bad('source fps must be a number in [1, 120]');
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!num(x) || !num(y) || !num(size) || (size as number) < 16) throw bad('crop needs finite x, y and size >= 16');
  const c = { x: x as number, y: y as number, size: size as number };
  const w = width as number, h = height as number;
  if (c.x < 0 || c.y < 0 || c.x + c.size > w || c.y + c.size > h) throw bad(`crop ${JSON.stringify(c)} lies outside the ${w}x${h} source`);
  return { source: { width: w, height: h, fps }, crop: c };
}

/** decodeFrameBody with its format errors as 400 `bad_frame`. */
function decodeFrameBody(body: Uint8Array, index: number): FrameBody {
  try {
    return decodeFrameBodyOrThrow(body, index);
  } catch (error) {
    if (error instanceof FrameBodyError) throw new OnboardingError(400, 'bad_frame', error.message);
    throw error;
  }
}

export class OnboardingService {
  readonly limits: OnboardingLimits;
  readonly sessions: CaptureSessions;
  readonly datasetsDir: string;
  readonly #store: AvatarStorage;
  readonly #queue: TrainingJobQueue;
  readonly #training: TrainingOptions;
  /** Sessions being turned into datasets (a second finish meanwhile is refused). */
  readonly #finishing = new Set<string>();
  /**
   * Avatars being made (owner -> count), taken synchronously with the quota check
   * and held until the job is queued or the finish fails: two finishes at once
   * cannot both pass a check made before either has queued its job.
   */
  readonly #reserved = new Map<string, number>();

  constructor(options: OnboardingServiceOptions) {
    this.limits = options.limits;
    this.sessions = new CaptureSessions(join(options.dir, 'uploads'));
    this.datasetsDir = join(options.dir, 'datasets');
    this.#store = options.store;
    this.#queue = options.queue;
    this.#training = options.training;
    this.#sweepDatasets();
    // A failed job past its retention: its dataset and uploads go with it.
    this.#queue.on('expired', ({ job }) => {
      try {
        this.#removeData(job.owner, job.avatarId);
      } catch (error) {
        logger.warn(`removing the data of expired job ${job.id} failed: ${String(error)}`);
      }
    });
  }

  createSession(owner: string, body: unknown): CaptureSession {
    const { source, crop } = parseSessionRequest(body);
    if (this.sessions.openCount(owner) >= this.limits.maxSessionsPerUser) {
      throw new OnboardingError(429, 'too_many_sessions', `at most ${this.limits.maxSessionsPerUser} open capture sessions per user; finish or delete one`);
    }
    return this.sessions.create(owner, source, crop);
  }

  /**
   * Every check that needs no body, so an upload that cannot be accepted is
   * refused before its bytes are read. Returns whether the index is already
   * stored (a retry: answered without reading the body).
   */
  admitFrame(owner: string, id: string, index: number, contentLength: number | undefined): { duplicate: boolean } {
    const session = this.sessions.get(owner, id);
    if (session.state !== 'open') throw new OnboardingError(409, 'session_finished', `capture session '${id}' is finished`);
    if (!Number.isInteger(index) || index < 0) throw new OnboardingError(400, 'bad_index', 'frame index must be an integer >= 0');
    if (index >= this.limits.maxFramesPerSession) {
      throw new OnboardingError(413, 'too_many_frames', `frame index ${index} over the limit of ${this.limits.maxFramesPerSession} frames per session`);
    }
    if (this.sessions.has(owner, id, index)) return { duplicate: true };
    const length = contentLength ?? 0;
    if (length > this.limits.maxFrameBytes) {
      throw new OnboardingError(413, 'frame_too_large', `frame upload is ${length} bytes, over the limit of ${this.limits.maxFrameBytes}`);
    }
    if (this.sessions.bytes(owner, id) + length > this.limits.maxSessionBytes) {
      throw new OnboardingError(413, 'session_too_large', `capture session would exceed ${this.limits.maxSessionBytes} bytes`);
    }
    if (this.sessions.totalBytes + length > this.limits.maxTotalBytes) {
      throw new OnboardingError(507, 'storage_full', 'the server has no room for more uploads now; try again later');
    }
    return { duplicate: false };
  }

  /** Validates one frame body fully (structure, tracking data, JPEG markers, mask) and stores it (durably). */
  async putFrame(owner: string, id: string, index: number, body: Uint8Array): Promise<{ index: number; stored: boolean }> {
    // Again with the real size: a chunked body has no Content-Length to check beforehand.
    if (this.admitFrame(owner, id, index, body.length).duplicate) return { index, stored: false };
    const frame = decodeFrameBody(body, index);
    this.#checkImages(frame);
    return { index, stored: await this.sessions.putFrame(owner, id, index, body) };
  }

  /**
   * As admitFrame, for a plate sample (the whole frame at plate size for the
   * dataset's plates): at most PLATE_MAX_SAMPLES a session, each at most maxPlateBytes.
   */
  admitPlate(owner: string, id: string, index: number, contentLength: number | undefined): { duplicate: boolean } {
    const session = this.sessions.get(owner, id);
    if (session.state !== 'open') throw new OnboardingError(409, 'session_finished', `capture session '${id}' is finished`);
    if (!Number.isInteger(index) || index < 0) throw new OnboardingError(400, 'bad_index', 'plate sample index must be an integer >= 0');
    if (index >= this.limits.maxFramesPerSession) {
      throw new OnboardingError(413, 'too_many_frames', `plate sample index ${index} over the limit of ${this.limits.maxFramesPerSession} frames per session`);
    }
    if (this.sessions.hasPlate(owner, id, index)) return { duplicate: true };
    if (this.sessions.plateCount(owner, id) >= PLATE_MAX_SAMPLES) {
      throw new OnboardingError(413, 'too_many_plates', `at most ${PLATE_MAX_SAMPLES} plate samples per session`);
    }
    const length = contentLength ?? 0;
    if (length > this.limits.maxPlateBytes) {
      throw new OnboardingError(413, 'plate_too_large', `plate sample upload is ${length} bytes, over the limit of ${this.limits.maxPlateBytes}`);
    }
    if (this.sessions.bytes(owner, id) + length > this.limits.maxSessionBytes) {
      throw new OnboardingError(413, 'session_too_large', `capture session would exceed ${this.limits.maxSessionBytes} bytes`);
    }
    if (this.sessions.totalBytes + length > this.limits.maxTotalBytes) {
      throw new OnboardingError(507, 'storage_full', 'the server has no room for more uploads now; try again later');
    }
    return { duplicate: false };
  }

  /** Validates one plate sample body fully (header, image sizes for this session's camera, landmarks) and stores it. */
  async putPlate(owner: string, id: string, index: number, body: Uint8Array): Promise<{ index: number; stored: boolean }> {
    if (this.admitPlate(owner, id, index, body.length).duplicate) return { index, stored: false };
    const { source } = this.sessions.get(owner, id);
    const size = plateSize(source.width, source.height);
    try {
      const sample = readPlateSampleBody(body, size.width, size.height);
      if (sample.index !== index) throw new PlateSampleError(`plate sample header index ${sample.index} is not the URL's ${index}`);
    } catch (error) {
      if (error instanceof PlateSampleError) throw new OnboardingError(400, 'bad_plate', error.message);
      throw error;
    }
    return { index, stored: await this.sessions.putPlate(owner, id, index, body) };
  }

  frames(owner: string, id: string): { session: CaptureSession; indices: number[]; bytes: number } {
    return { session: this.sessions.get(owner, id), indices: this.sessions.indices(owner, id), bytes: this.sessions.bytes(owner, id) };
  }

  /**
   * Turns the session into a dataset and queues its training. Needs frames
   * 0..frameCount-1 all stored, at least `minFaceFrames` of them with a face,
   * and faces in both the train and held-out parts. Idempotent: finishing a
   * finished session answers its avatar and job again (a retry after a lost reply).
   */
  async finish(owner: string, id: string, body: unknown): Promise<{ avatarId: string; job: TrainingJob }> {
    const session = this.sessions.get(owner, id);
    if (session.state === 'finished' && session.avatarId && session.jobId) {
      const job = this.#queue.get(session.jobId);
      if (job) return { avatarId: session.avatarId, job };
      throw new OnboardingError(409, 'session_finished', `capture session '${id}' is finished and its job is gone`);
    }
    if (this.#finishing.has(id)) throw new OnboardingError(409, 'finishing', `capture session '${id}' is being finished`);
    const frameCount = isObject(body) ? body.frameCount : undefined;
    if (!Number.isInteger(frameCount) || (frameCount as number) < 1) throw new OnboardingError(400, 'bad_finish', 'body must be { frameCount } (a positive integer: how many frames were captured)');
    const n = frameCount as number;
    if (n > this.limits.maxFramesPerSession) throw new OnboardingError(413, 'too_many_frames', `frameCount ${n} over the limit of ${this.limits.maxFramesPerSession}`);
    const stored = new Set(this.sessions.indices(owner, id));
    const missing: number[] = [];
    for (let i = 0; i < n && missing.length < 20; i += 1) if (!stored.has(i)) missing.push(i);
    if (missing.length) throw new OnboardingError(409, 'missing_frames', `frames not uploaded yet: ${missing.join(', ')}${missing.length === 20 ? ', …' : ''}`);
    if (stored.size > n) throw new OnboardingError(409, 'extra_frames', `${stored.size} frames are stored but frameCount is ${n}`);
    // Check and reservation together, before the first await.
    const reserved = this.#reserved.get(owner) ?? 0;
    if (this.#avatarCount(owner) + reserved >= this.limits.maxAvatarsPerUser) {
      throw new OnboardingError(429, 'too_many_avatars', `at most ${this.limits.maxAvatarsPerUser} avatars per user (counting those training and failed ones kept for a while); delete one first`);
    }
    this.#reserved.set(owner, reserved + 1);
    this.#finishing.add(id);
    try {
      const avatarId = `av-${randomBytes(9).toString('base64url')}`;
      const dataset = join(this.datasetsDir, avatarId);
      await this.#writeDataset(session, n, dataset);
      // On disk before the job that needs it is recorded (and before the uploads are dropped).
      await fsyncTree(dataset);
      const job = this.#queue.enqueue({ owner, avatarId, dataset, options: this.#training });
      this.sessions.markFinished(owner, id, avatarId, job.id);
      return { avatarId, job };
    } finally {
      this.#finishing.delete(id);
      // The queued job now counts itself (or the finish failed): the reservation is released either way.
      const left = (this.#reserved.get(owner) ?? 1) - 1;
      if (left > 0) this.#reserved.set(owner, left);
      else this.#reserved.delete(owner);
    }
  }

  deleteSession(owner: string, id: string): void {
    if (this.#finishing.has(id)) throw new OnboardingError(409, 'finishing', `capture session '${id}' is being finished`);
    this.sessions.remove(owner, id);
  }

  /** The owner's avatars: those in the store and those still training (or failed). */
  avatars(owner: string): AvatarView[] {
    const views = new Map<string, AvatarView>();
    for (const entry of this.#store.listFor(owner)) views.set(entry.id, { ...entry, ready: true });
    for (const job of this.#queue.list(owner)) {
      const view = views.get(job.avatarId) ?? { id: job.avatarId, ready: false };
      views.set(job.avatarId, { ...view, job });
    }
    return [...views.values()];
  }

  avatar(owner: string, id: string): AvatarView {
    const view = this.avatars(owner).find((a) => a.id === id);
    if (!view) throw new OnboardingError(404, 'no_avatar', `no avatar '${id.slice(0, 64)}'`);
    return view;
  }

  /**
   * The stored file of an avatar `user` may drive: their own once ready, or the operator's (no
   * owner). 404 for anyone else's, one still training or none: the same answer, so ids of
   * other users' avatars are not revealed.
   */
  drivableAvatarFile(user: string, id: string): string {
    const operators = this.#store.listPublic().some((entry) => entry.id === id);
    return operators ? this.#store.existing(id) : this.avatarFile(user, id);
  }

  /** The stored file of the owner's avatar (404 for anyone else's, or one still training). */
  avatarFile(owner: string, id: string): string {
    const view = this.avatar(owner, id);
    if (!view.ready) throw new OnboardingError(404, 'no_avatar', `avatar '${view.id}' is still training`);
    return this.#store.existing(view.id);
  }

  job(owner: string, id: string): TrainingJob {
    const job = this.#queue.get(id);
    if (!job || job.owner !== owner) throw new OnboardingError(404, 'no_job', `no training job '${id.slice(0, 64)}'`);
    return job;
  }

  /** Deletes the avatar, its training job (stopping the trainer), its dataset and its uploads. */
  async deleteAvatar(owner: string, id: string): Promise<void> {
    const view = this.avatar(owner, id); // 404 unless it is the owner's
    for (const job of this.#queue.list(owner)) if (job.avatarId === view.id) await this.#queue.remove(job.id);
    for (const session of this.sessions.forAvatar(owner, view.id)) this.sessions.remove(owner, session.id);
    const dataset = join(this.datasetsDir, view.id);
    if (!this.#store.deleteFor(owner, view.id, [dataset])) {
      // Still training (not in the store yet): the dataset is ours to remove.
      rmSync(dataset, { recursive: true, force: true });
    }
  }

  /**
   * Every avatar the owner has data for: in the store, queued, training, or
   * failed and kept until its retention ends (the dataset is still on disk).
   */
  #avatarCount(owner: string): number {
    return this.avatars(owner).length;
  }

  /** The dataset and upload sessions of an avatar whose job was forgotten; an avatar in the store keeps its file. */
  #removeData(owner: string, avatarId: string): void {
    for (const session of this.sessions.forAvatar(owner, avatarId)) this.sessions.remove(owner, session.id);
    rmSync(join(this.datasetsDir, avatarId), { recursive: true, force: true });
  }

  /**
   * At start: dataset folders a crash left half-written (DatasetWriter's
   * `.partial-*` temporaries of a dead writer) and datasets no job refers to (a
   * crash after the dataset was written but before its job was recorded: the
   * session still has its uploads and can be finished again). Orphans are kept
   * when jobs.json was unreadable: they are the lost jobs' data. Nothing is swept
   * when the folder is shared with other nodes (a cluster queue).
   */
  #sweepDatasets(): void {
    // Other nodes write here too (a cluster): their half-written datasets name pids this node cannot see.
    if (this.#queue.sharedFolders) return;
    const keep = new Set(this.#queue.list().map((job) => job.dataset));
    sweepLeftovers(this.datasetsDir, {
      depth: 1, what: 'dataset folder(s)', orphans: this.#queue.jobsFileMovedAside === undefined ? { prefix: 'av-', keep } : undefined,
    });
  }

  #checkImages(frame: FrameBody): void {
    const info = parseJpeg(frame.jpeg);
    if (info.width !== CROP_SIZE || info.height !== CROP_SIZE) {
      throw new OnboardingError(422, 'bad_image_size', `frame image is ${info.width}x${info.height}; the capture page sends ${CROP_SIZE}x${CROP_SIZE} crops`);
    }
    this.#inflateMask(frame.deflatedMask);
  }

  #inflateMask(deflated: Uint8Array): Uint8Array {
    let mask: Buffer;
    try {
      // maxOutputLength bounds the memory a hostile "zip bomb" mask can take.
      mask = inflateSync(deflated, { maxOutputLength: MASK_BYTES });
    } catch {
      throw new OnboardingError(400, 'bad_mask', `frame mask must be ${MASK_BYTES} bytes (${CROP_SIZE}x${CROP_SIZE}, 8 bit), zlib-deflated`);
    }
    if (mask.length !== MASK_BYTES) throw new OnboardingError(400, 'bad_mask', `frame mask inflates to ${mask.length} bytes, expected ${MASK_BYTES}`);
    return mask;
  }

  /**
   * The plates from the session's plate samples of frames 0..n-1 (null with too
   * few: plates are optional, a recording without them still trains). Each was
   * validated on upload; one damaged on disk since is skipped, not fatal.
   */
  async #estimatePlates(session: CaptureSession, n: number): Promise<Plates | null> {
    const size = plateSize(session.source.width, session.source.height);
    const estimator = new PlateEstimator(size.width, size.height);
    for (const index of this.sessions.plateIndices(session.owner, session.id)) {
      if (index >= n) continue;
      try {
        estimator.add(readPlateSampleBody(new Uint8Array(readFileSync(this.sessions.platePath(session.id, index))), size.width, size.height));
      } catch (error) {
        logger.warn(`plate sample ${index} of ${session.id} skipped: ${error instanceof Error ? error.message : String(error)}`);
      }
      await new Promise((r) => setImmediate(r));
    }
    return estimator.estimate();
  }

  async #writeDataset(session: CaptureSession, n: number, outDir: string): Promise<void> {
    const writer = new DatasetWriter(outDir, n);
    try {
      const hash = createHash('sha256').update(session.id);
      for (let i = 0; i < n; i += 1) {
        const body = new Uint8Array(readFileSync(this.sessions.framePath(session.id, i)));
        hash.update(body);
        const frame = decodeFrameBody(body, i);
        const { header } = frame;
        writer.addFrame(i, { faceFound: header.faceFound, blendshapes: header.blendshapes, pose: header.pose, landmarksPx: frame.landmarks },
          frame.jpeg, this.#inflateMask(frame.deflatedMask));
        // Mask PNG encoding takes a few ms a frame: yield so signaling and media keep flowing meanwhile.
        await new Promise((r) => setImmediate(r));
      }
      const faces = writer.faceFound.filter(Boolean).length;
      if (faces < this.limits.minFaceFrames) {
        throw new OnboardingError(422, 'too_few_faces', `a face was tracked in ${faces} of ${n} frames; at least ${this.limits.minFaceFrames} are needed (record again, facing the camera in good light)`);
      }
      const records = writer.frameRecords(session.source.fps);
      const count = (split: string) => records.filter((r) => r.split === split).length;
      if (count('train') === 0 || count('test') === 0) {
        throw new OnboardingError(422, 'too_few_faces', 'faces are needed both early and late in the recording (the last 15% is held out to measure quality)');
      }
      const { source, crop } = session;
      const intrinsics = cropIntrinsics(source.width, source.height, crop);
      const plates = await this.#estimatePlates(session, n);
      const platesMeta = plates ? writePlates(writer, plates, intrinsics, crop, source.width, source.height) : undefined;
      const meta: DatasetMeta = {
        version: DATASET_VERSION,
        createdAt: new Date().toISOString(),
        source: {
          file: `onboarding:${session.id}`, sha256: hash.digest('hex'), codec: 'jpeg-upload',
          width: source.width, height: source.height, fps: source.fps, durationSec: n / source.fps,
          startSec: 0, decodedWidth: source.width, decodedHeight: source.height,
        },
        crop,
        imageSize: CROP_SIZE,
        intrinsics,
        camera: { verticalFovDeg: MEDIAPIPE_VERTICAL_FOV_DEG, convention: 'mediapipe-gl' },
        frameCount: n,
        faceFoundCount: faces,
        split: { testFraction: 0.15, testStartIndex: testStartIndex(n), train: count('train'), test: count('test'), excluded: count('excluded') },
        // Not measured for uploads yet (it needs the canonical mesh from the face model): -1 says so.
        reprojectionErrorPx: -1,
        files: FILES,
        ...(platesMeta ? { plates: platesMeta } : {}),
      };
      writer.finish(meta, records, false);
    } catch (error) {
      writer.abort();
      throw error;
    }
  }
}
