// Pictures of an eval for people: a side-by-side video (original | avatar) encoded by
// ffmpeg (libx264, yuv420p, what browsers and players open) and a PNG strip of a few
// frames (original over avatar). Both appear only when complete: the video is encoded
// into a hidden temporary file beside its path and renamed when ffmpeg has finished.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../atomicFile';

const toByte = (v: number) => Math.round(Math.min(Math.max(v, 0), 1) * 255);

/** `count` frame positions spread evenly over `total` frames (first and last included), without repeats. */
export function evenlySpaced(total: number, count: number): number[] {
  if (total <= 0 || count <= 0) return [];
  if (count === 1) return [Math.floor((total - 1) / 2)];
  return [...new Set(Array.from({ length: Math.min(count, total) }, (_, k) => Math.round((k * (total - 1)) / (Math.min(count, total) - 1))))];
}

/** Writes columns of RGB float images (each column: original over avatar, all width x height) as one PNG. */
export function writeStripPng(path: string, columns: readonly (readonly Float32Array[])[], width: number, height: number): void {
  const rows = Math.max(...columns.map((c) => c.length)), png = new PNG({ width: width * columns.length, height: height * rows });
  png.data.fill(255);
  columns.forEach((column, cx) => column.forEach((img, ry) => {
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const s = 3 * (y * width + x), d = 4 * ((ry * height + y) * png.width + cx * width + x);
        for (let k = 0; k < 3; k++) png.data[d + k] = toByte(img[s + k]!);
      }
  }));
  writeFileAtomic(path, PNG.sync.write(png));
}

/** An mp4 of frames shown side by side (left | right), fed one pair at a time. */
export class SideBySideVideo {
  readonly path: string;
  private readonly width: number;
  private readonly height: number;
  private readonly temporary: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private readonly row: Uint8Array;
  private stderr = '';
  private spawnError: Error | undefined;
  private state: 'open' | 'finishing' | 'closed' = 'open';

  /** `width` x `height` is one side; the video is 2*width wide (padded to even sizes, as yuv420p needs). */
  constructor(path: string, width: number, height: number, fps: number) {
    if (!(fps > 0 && fps <= 240)) throw new RangeError(`SideBySideVideo: fps must be in (0, 240], got ${fps}`);
    mkdirSync(dirname(path), { recursive: true });
    this.path = path;
    this.width = width;
    this.height = height;
    this.temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.partial`);
    this.row = new Uint8Array(2 * width * height * 3);
    this.child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${2 * width}x${height}`,
      '-r', fps.toFixed(3), '-i', 'pipe:0', '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18',
      '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4', this.temporary], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr!.on('data', (b: Buffer) => { if (this.stderr.length < 4096) this.stderr += b.toString(); });
    // A write after ffmpeg died is reported by finish(), not thrown from the stream.
    this.child.stdin!.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => { this.spawnError = new Error(`cannot run ffmpeg to encode ${path}: ${e.message}`); resolve(null); });
      this.child.on('close', resolve);
    });
  }

  /** Appends one frame: `left` and `right` are RGB float [0,1] images of one side's size. */
  push(left: Float32Array, right: Float32Array): void {
    if (this.state !== 'open') throw new Error(`InvalidStateError: SideBySideVideo ${this.path} is ${this.state}`);
    const w = this.width, n = w * this.height * 3;
    if (left.length !== n || right.length !== n) throw new RangeError(`SideBySideVideo: frames must have ${n} values, got ${left.length} and ${right.length}`);
    for (let y = 0; y < this.height; y++)
      for (let x = 0; x < 3 * w; x++) {
        this.row[y * 6 * w + x] = toByte(left[y * 3 * w + x]!);
        this.row[y * 6 * w + 3 * w + x] = toByte(right[y * 3 * w + x]!);
      }
    this.child.stdin!.write(this.row.slice());
  }

  /** Ends the stream, waits for ffmpeg and moves the file into place. */
  async finish(): Promise<string> {
    if (this.state !== 'open') throw new Error(`InvalidStateError: SideBySideVideo ${this.path} is ${this.state}`);
    this.state = 'finishing';
    this.child.stdin!.end();
    const code = await this.exited;
    try {
      if (this.spawnError) throw this.spawnError;
      if (code !== 0) throw new Error(`ffmpeg could not encode ${this.path}: ${this.stderr.trim().split('\n').pop() ?? `exit ${code}`}`);
      renameSync(this.temporary, this.path);
      return this.path;
    } finally {
      this.close();
    }
  }

  /** Stops ffmpeg if still running and removes the partial file. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    if (existsSync(this.temporary)) unlinkSync(this.temporary);
  }
}
