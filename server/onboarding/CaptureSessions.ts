/**
 * Upload sessions on disk: `<dir>/<sessionId>/session.json` and one file per
 * frame, `frames/NNNNN.bin`, holding the frame's validated upload body as
 * received, and one per plate sample, `plates/NNNNN.bin` (the whole frame for
 * the dataset's plates, shared/dataset/plateSample.ts; up to 48 a session). Each frame file is written atomically and durably, so a frame is either wholly
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

/** What a stored upload is: a frame (every captured frame) or a plate sample (a few whole frames). */
export type UploadKind = 'frames' | 'plates';

interface Entry {
  session: CaptureSession;
  indices: Set<number>;
  /** Plate samples stored (their bytes count in `bytes` too). */
  plates: Set<number>;
  /** Counting frames still being written (their bytes are reserved so limits hold meanwhile). */
  bytes: number;
  /** Frames and plate samples being written ('frames/3', 'plates/3'). */
  writing: Set<string>;
  /** Bumped when the frames are dropped (finish, removal): a write that started before must not count. */
  epoch: number;
}

const logger = new Logger('onboarding');
const SESSION_FILE = 'session.json';
const FRAME_DIR = 'frames';
const PLATE_DIR = 'plates';
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
      const entry: Entry = { session, indices: new Set(), plates: new Set(), bytes: 0, writing: new Set(), epoch: 0 };
      for (const [folder, indices] of [[FRAME_DIR, entry.indices], [PLATE_DIR, entry.plates]] as const) {
        const files = join(dir, name, folder);
        if (!existsSync(files)) continue;
        for (const file of readdirSync(files)) {
          const match = FRAME_PATTERN.exec(file);
          if (!match) continue; // e.g. a .partial of a write in progress in a live process
          indices.add(Number(match[1]));
          entry.bytes += statSync(join(files, file)).size;
        }
      }
      // Sessions opened before plate samples existed have no plates folder: uploads need it there.
      if (session.state === 'open') makeFolderDurable(join(dir, name, PLATE_DIR));
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
    makeFolderDurable(join(this.dir, session.id, PLATE_DIR));
    this.#save(session);
    this.#entries.set(session.id, { session, indices: new Set(), plates: new Set(), bytes: 0, writing: new Set(), epoch: 0 });
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

  /** Plate sample indices stored, ascending. */
  plateIndices(owner: string, id: string): number[] {
    return [...this.#entry(owner, id).plates].sort((a, b) => a - b);
  }

  hasPlate(owner: string, id: string, index: number): boolean {
    return this.#entry(owner, id).plates.has(index);
  }

  /** Plate samples stored and being written: what a limit on their number must count. */
  plateCount(owner: string, id: string): number {
    const entry = this.#entry(owner, id);
    return entry.plates.size + [...entry.writing].filter((key) => key.startsWith(`${PLATE_DIR}/`)).length;
  }

  /**
   * Stores a frame body durably, off the event loop (writeFileAtomicAsync);
   * false when that index was already stored or is being written (the upload is
   * then ignored). Its bytes count from the start, so concurrent uploads cannot
   * overrun the limits together.
   */
  putFrame(owner: string, id: string, index: number, body: Uint8Array): Promise<boolean> {
    return this.#put('frames', owner, id, index, body);
  }

  /** Stores a plate sample body, as putFrame does a frame. */
  putPlate(owner: string, id: string, index: number, body: Uint8Array): Promise<boolean> {
    return this.#put('plates', owner, id, index, body);
  }

  async #put(kind: UploadKind, owner: string, id: string, index: number, body: Uint8Array): Promise<boolean> {
    const entry = this.#entry(owner, id);
    const stored = kind === 'frames' ? entry.indices : entry.plates;
    const key = `${kind}/${index}`;
    if (stored.has(index) || entry.writing.has(key)) return false;
    const { epoch } = entry;
    entry.writing.add(key);
    entry.bytes += body.length;
    this.#totalBytes += body.length;
    const path = kind === 'frames' ? this.framePath(id, index) : this.platePath(id, index);
    try {
      await writeFileAtomicAsync(path, body);
    } catch (error) {
      if (entry.epoch === epoch) {
        entry.bytes -= body.length;
        this.#totalBytes -= body.length;
      }
      throw error;
    } finally {
      if (entry.epoch === epoch) entry.writing.delete(key);
    }
    if (entry.epoch !== epoch) {
      // Finished or deleted while this upload was being written: it is not wanted.
      rmSync(path, { force: true });
      return false;
    }
    stored.add(index);
    return true;
  }

  platePath(id: string, index: number): string {
    return join(this.dir, id, PLATE_DIR, `${frameFileStem(index)}.bin`);
  }

  framePath(id: string, index: number): string {
    return join(this.dir, id, FRAME_DIR, `${frameFileStem(index)}.bin`);
  }

  /** Marks the session finished and drops its frame and plate files (the dataset now holds them). */
  markFinished(owner: string, id: string, avatarId: string, jobId: string): CaptureSession {
    const entry = this.#entry(owner, id);
    entry.session = { ...entry.session, state: 'finished', avatarId, jobId };
    this.#save(entry.session);
    rmSync(join(this.dir, id, FRAME_DIR), { recursive: true, force: true });
    rmSync(join(this.dir, id, PLATE_DIR), { recursive: true, force: true });
    this.#totalBytes -= entry.bytes;
    entry.bytes = 0;
    entry.indices.clear();
    entry.plates.clear();
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
