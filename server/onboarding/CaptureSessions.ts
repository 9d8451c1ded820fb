/**
 * Upload sessions on disk: `<dir>/<sessionId>/session.json` and one file per
 * frame, `frames/NNNNN.bin`, holding the frame's validated upload body as
 * received. Each frame file is written atomically and durably, so a frame is either wholly
 * there or absent: a client whose connection dropped asks which indices are
 * stored and re-sends the rest, and re-sending a stored index changes nothing.
 * Byte counts are kept in memory (rebuilt from the files at start) so limits
 * are checked without touching the disk. At start, what a crash left behind is
 * removed: temporary files of frame and session writes (a half-written upload)
 * and session folders without a session.json (a crash inside create()).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { frameFileStem, type CropWindow } from '../../shared/dataset/format';
import { makeFolderDurable, sweepStalePartials, writeFileAtomic, writeFileAtomicAsync } from '../atomicFile';
import { Logger } from '../Logger';
import { OnboardingError } from './OnboardingError';

export interface CaptureSource {
  /** The camera frame the crop was taken from, pixels, and the capture rate. */
  width: number;
  height: number;
  fps: number;
}

export interface CaptureSession {
  id: string;
  owner: string;
  createdAt: string;
  source: CaptureSource;
  /** Square crop in source pixels, the same for every frame (it fixes the camera intrinsics). */
  crop: CropWindow;
  state: 'open' | 'finished';
  avatarId?: string;
  jobId?: string;
}

interface Entry {
  session: CaptureSession;
  indices: Set<number>;
  /** Counting frames still being written (their bytes are reserved so limits hold meanwhile). */
  bytes: number;
  /** Frames being written. */
  writing: Set<number>;
  /** Bumped when the frames are dropped (finish, removal): a write that started before must not count. */
  epoch: number;
}

const logger = new Logger('onboarding');
const SESSION_FILE = 'session.json';
const FRAME_DIR = 'frames';
const FRAME_PATTERN = /^(\d{5})\.bin$/;

export class CaptureSessions {
  readonly dir: string;
  readonly #entries = new Map<string, Entry>();
  #totalBytes = 0;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    // <dir>/<session>/session.json's and <dir>/<session>/frames/*.bin's temporaries.
    const swept = sweepStalePartials(dir, 3);
    for (const name of readdirSync(dir)) {
      const file = join(dir, name, SESSION_FILE);
      if (!existsSync(file)) {
        // create() makes the folder, then writes session.json: a crash in between leaves a folder nothing refers to.
        if (name.startsWith('cap-')) {
          rmSync(join(dir, name), { recursive: true, force: true });
          swept.push(join(dir, name));
        }
        continue;
      }
      let session: CaptureSession;
      try {
        session = JSON.parse(readFileSync(file, 'utf8')) as CaptureSession;
      } catch {
        continue; // a damaged record: its frames still count nowhere and the folder is left for inspection
      }
      const entry: Entry = { session, indices: new Set(), bytes: 0, writing: new Set(), epoch: 0 };
      const frames = join(dir, name, FRAME_DIR);
      if (existsSync(frames)) {
        for (const frame of readdirSync(frames)) {
          const match = FRAME_PATTERN.exec(frame);
          if (!match) continue; // e.g. a .partial of a write in progress in a live process
          entry.indices.add(Number(match[1]));
          entry.bytes += statSync(join(frames, frame)).size;
        }
      }
      this.#totalBytes += entry.bytes;
      this.#entries.set(session.id, entry);
    }
    if (swept.length) logger.warn(`removed ${swept.length} leftover(s) of interrupted uploads: ${swept.slice(0, 10).join(', ')}${swept.length > 10 ? ', …' : ''}`);
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  create(owner: string, source: CaptureSource, crop: CropWindow): CaptureSession {
    const session: CaptureSession = {
      id: `cap-${randomBytes(12).toString('base64url')}`, owner, createdAt: new Date().toISOString(), source, crop, state: 'open',
    };
    makeFolderDurable(join(this.dir, session.id, FRAME_DIR));
    this.#save(session);
    this.#entries.set(session.id, { session, indices: new Set(), bytes: 0, writing: new Set(), epoch: 0 });
    return structuredClone(session);
  }

  /**
   * The owner's session; another user's session answers exactly like a missing
   * one (404), so ids cannot be probed.
   */
  get(owner: string, id: string): CaptureSession {
    return structuredClone(this.#entry(owner, id).session);
  }

  list(owner: string): CaptureSession[] {
    return [...this.#entries.values()].filter((e) => e.session.owner === owner).map((e) => structuredClone(e.session));
  }

  openCount(owner: string): number {
    return [...this.#entries.values()].filter((e) => e.session.owner === owner && e.session.state === 'open').length;
  }

  indices(owner: string, id: string): number[] {
    return [...this.#entry(owner, id).indices].sort((a, b) => a - b);
  }

  bytes(owner: string, id: string): number {
    return this.#entry(owner, id).bytes;
  }

  has(owner: string, id: string, index: number): boolean {
    return this.#entry(owner, id).indices.has(index);
  }

  /**
   * Stores a frame body durably, off the event loop (writeFileAtomicAsync);
   * false when that index was already stored or is being written (the upload is
   * then ignored). Its bytes count from the start, so concurrent uploads cannot
   * overrun the limits together.
   */
  async putFrame(owner: string, id: string, index: number, body: Uint8Array): Promise<boolean> {
    const entry = this.#entry(owner, id);
    if (entry.indices.has(index) || entry.writing.has(index)) return false;
    const { epoch } = entry;
    entry.writing.add(index);
    entry.bytes += body.length;
    this.#totalBytes += body.length;
    const path = this.framePath(id, index);
    try {
      await writeFileAtomicAsync(path, body);
    } catch (error) {
      if (entry.epoch === epoch) {
        entry.bytes -= body.length;
        this.#totalBytes -= body.length;
      }
      throw error;
    } finally {
      if (entry.epoch === epoch) entry.writing.delete(index);
    }
    if (entry.epoch !== epoch) {
      // Finished or deleted while this frame was being written: the frame is not wanted.
      rmSync(path, { force: true });
      return false;
    }
    entry.indices.add(index);
    return true;
  }

  framePath(id: string, index: number): string {
    return join(this.dir, id, FRAME_DIR, `${frameFileStem(index)}.bin`);
  }

  /** Marks the session finished and drops its frame files (the dataset now holds them). */
  markFinished(owner: string, id: string, avatarId: string, jobId: string): CaptureSession {
    const entry = this.#entry(owner, id);
    entry.session = { ...entry.session, state: 'finished', avatarId, jobId };
    this.#save(entry.session);
    rmSync(join(this.dir, id, FRAME_DIR), { recursive: true, force: true });
    this.#totalBytes -= entry.bytes;
    entry.bytes = 0;
    entry.indices.clear();
    entry.writing.clear();
    entry.epoch += 1;
    return structuredClone(entry.session);
  }

  remove(owner: string, id: string): void {
    const entry = this.#entry(owner, id);
    rmSync(join(this.dir, id), { recursive: true, force: true });
    this.#totalBytes -= entry.bytes;
    entry.epoch += 1;
    this.#entries.delete(id);
  }

  /** Sessions of `owner` that made avatar `avatarId`. */
  forAvatar(owner: string, avatarId: string): CaptureSession[] {
    return this.list(owner).filter((s) => s.avatarId === avatarId);
  }

  #entry(owner: string, id: string): Entry {
    const entry = this.#entries.get(id);
    if (!entry || entry.session.owner !== owner) throw new OnboardingError(404, 'no_session', `no capture session '${id.slice(0, 64)}'`);
    return entry;
  }

  #save(session: CaptureSession): void {
    writeFileAtomic(join(this.dir, session.id, SESSION_FILE), Buffer.from(`${JSON.stringify(session, null, 1)}\n`));
  }
}
