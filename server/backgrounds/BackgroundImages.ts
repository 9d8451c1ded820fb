/**
 * Background images users upload for their avatar's video (BackgroundChoice 'image').
 * An upload is checked before anything decodes it (PNG or JPEG by its own bytes, never
 * the Content-Type; sides read from its header and bounded, so a small file cannot
 * claim a huge picture), then ffmpeg scales and crops it to cover STORED_WIDTH x
 * STORED_HEIGHT and it is stored as raw RGB (the render process reads it without an
 * image decoder), written atomically under a folder per user. Ids are random; another
 * user's id answers exactly as a missing one.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BACKGROUND_IMAGE_ID_PATTERN } from '../../shared/signaling/background';
import { writeFileAtomicAsync } from '../atomicFile';
import { STORED_BYTES, STORED_HEIGHT, STORED_WIDTH } from './storedBackground';

export interface BackgroundLimits {
  /** Largest upload, bytes. */
  maxBytes: number;
  /** Largest side the image may claim, pixels. */
  maxSide: number;
  /** Backgrounds one user may keep. */
  maxPerUser: number;
}

export const DEFAULT_BACKGROUND_LIMITS: BackgroundLimits = { maxBytes: 8 * 1024 * 1024, maxSide: 8192, maxPerUser: 8 };

/** A refusal for people: an HTTP status and a code. */
export class BackgroundError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'BackgroundError';
  }
}

/** The image's format and sides from its header; throws BackgroundError for anything else. */
export function imageHeader(bytes: Uint8Array): { format: 'png' | 'jpeg'; width: number; height: number } {
  const notImage = (why: string) => new BackgroundError(415, 'not_an_image', `the upload is not a PNG or JPEG image: ${why}`);
  if (bytes.length >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw notImage('no IHDR chunk first');
    return { format: 'png', width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // Walk the segments to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC).
    let at = 2;
    while (at + 9 <= bytes.length) {
      if (bytes[at] !== 0xff) throw notImage(`no JPEG marker at byte ${at}`);
      const marker = bytes[at + 1]!;
      if (marker === 0xff) { at += 1; continue; }
      const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { format: 'jpeg', height: (bytes[at + 5]! << 8) | bytes[at + 6]!, width: (bytes[at + 7]! << 8) | bytes[at + 8]! };
      if (marker === 0xda || length < 2) break;
      at += 2 + length;
    }
    throw notImage('no JPEG frame header');
  }
  throw notImage('neither a PNG nor a JPEG signature');
}

/** Scales and crops an image to cover STORED_WIDTH x STORED_HEIGHT with ffmpeg: raw RGB. */
function coverRgb(bytes: Uint8Array, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', [
      '-hide_banner', '-v', 'error', '-i', 'pipe:0', '-frames:v', '1',
      '-vf', `scale=${STORED_WIDTH}:${STORED_HEIGHT}:force_original_aspect_ratio=increase:flags=area,crop=${STORED_WIDTH}:${STORED_HEIGHT}`,
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => { size += chunk.length; if (size <= STORED_BYTES) out.push(chunk); });
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && size === STORED_BYTES) resolve(Buffer.concat(out));
      else reject(new BackgroundError(415, 'not_an_image', `the image could not be decoded (${signal ? `ffmpeg ${signal}` : Buffer.concat(err).toString('utf8').trim().split('\n')[0] || `ffmpeg exited with ${code}`})`));
    });
    child.stdin.end(bytes);
  });
}

export class BackgroundImages {
  readonly dir: string;
  readonly limits: BackgroundLimits;
  /** Uploads being converted, per user folder: they count against the cap before they land. */
  readonly #converting = new Map<string, number>();

  constructor(dir: string, limits: BackgroundLimits = DEFAULT_BACKGROUND_LIMITS) {
    this.dir = dir;
    this.limits = limits;
  }

  /** A user's folder: a hash of the id (user ids are not file names). */
  #userDir(user: string): string {
    return join(this.dir, createHash('sha256').update(user).digest('hex').slice(0, 24));
  }

  /** The user's background ids, oldest first. */
  list(user: string): string[] {
    const dir = this.#userDir(user);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((name) => name.endsWith('.rgb') && BACKGROUND_IMAGE_ID_PATTERN.test(name.slice(0, -4)))
      .map((name) => ({ id: name.slice(0, -4), at: statSync(join(dir, name)).mtimeMs })).sort((a, b) => a.at - b.at).map((e) => e.id);
  }

  /** Checks, converts and stores an upload; resolves with its id. */
  async add(user: string, bytes: Uint8Array): Promise<{ id: string; width: number; height: number }> {
    const { maxBytes, maxSide, maxPerUser } = this.limits;
    if (bytes.length > maxBytes) throw new BackgroundError(413, 'too_large', `the upload is ${bytes.length} bytes, over the limit of ${maxBytes}`);
    const header = imageHeader(bytes);
    if (!(header.width >= 1 && header.height >= 1 && header.width <= maxSide && header.height <= maxSide))
      throw new BackgroundError(415, 'bad_size', `the image claims ${header.width}x${header.height} pixels; each side must be 1 to ${maxSide}`);
    const dir = this.#userDir(user), converting = this.#converting.get(dir) ?? 0;
    if (this.list(user).length + converting >= maxPerUser)
      throw new BackgroundError(409, 'too_many', `you keep ${maxPerUser} backgrounds already: delete one first`);
    this.#converting.set(dir, converting + 1);
    try {
      const rgb = await coverRgb(bytes);
      const id = randomBytes(8).toString('hex');
      mkdirSync(dir, { recursive: true });
      await writeFileAtomicAsync(join(dir, `${id}.rgb`), rgb);
      return { id, width: STORED_WIDTH, height: STORED_HEIGHT };
    } finally {
      const left = (this.#converting.get(dir) ?? 1) - 1;
      if (left > 0) this.#converting.set(dir, left);
      else this.#converting.delete(dir);
    }
  }

  /** The stored file of the user's background `id`, or undefined (unknown, or another user's). */
  pathOf(user: string, id: string): string | undefined {
    if (!BACKGROUND_IMAGE_ID_PATTERN.test(id)) return undefined;
    const path = join(this.#userDir(user), `${id}.rgb`);
    return existsSync(path) && statSync(path).size === STORED_BYTES ? path : undefined;
  }

  /** Deletes the user's background `id`; false when there is none. */
  remove(user: string, id: string): boolean {
    const path = this.pathOf(user, id);
    if (!path) return false;
    rmSync(path, { force: true });
    return true;
  }
}
