/**
 * Writes a dataset atomically: everything goes into a hidden temporary folder
 * beside the target (same filesystem, so the final rename is atomic), which is
 * renamed to the target only when complete. A failure or interruption removes
 * the temporary folder, so no partial dataset is ever left under the target name.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  BLENDSHAPE_COUNT, CROP_SIZE, FILES, LANDMARK_COUNT, POSE_LENGTH,
  frameFileStem, splitOf, type DatasetMeta, type FrameRecord,
} from '../../shared/dataset/format';
import { encodeGrayPng } from './png';
import { PrepareError } from './PrepareError';

export interface FrameData {
  faceFound: boolean;
  blendshapes: ArrayLike<number>;
  /** Column-major 4x4 or null without a face (stored as identity). */
  pose: ArrayLike<number> | null;
  /** 478 (u, v) crop pixels or null without a face (stored as NaN). */
  landmarksPx: ArrayLike<number> | null;
}

const IDENTITY = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** Refuses early (before any work) when the target exists and may not be replaced. */
export function checkOutputDir(outDir: string, force: boolean): void {
  if (!existsSync(outDir)) return;
  if (force) return;
  if (readdirSync(outDir).length > 0) throw new PrepareError(`output folder ${outDir} exists and is not empty (pass --force to replace it)`);
}

export class DatasetWriter {
  readonly outDir: string;
  readonly tempDir: string;
  readonly frameCount: number;
  readonly blendshapes: Float32Array;
  readonly poses: Float32Array;
  readonly landmarks: Float32Array;
  readonly faceFound: boolean[];
  #received = 0;
  #done = false;

  constructor(outDir: string, frameCount: number) {
    this.outDir = resolve(outDir);
    this.frameCount = frameCount;
    this.tempDir = join(dirname(this.outDir), `.${basename(this.outDir)}.partial-${process.pid}-${Date.now()}`);
    mkdirSync(join(this.tempDir, FILES.images), { recursive: true });
    mkdirSync(join(this.tempDir, FILES.masks), { recursive: true });
    this.blendshapes = new Float32Array(frameCount * BLENDSHAPE_COUNT);
    this.poses = new Float32Array(frameCount * POSE_LENGTH);
    this.landmarks = new Float32Array(frameCount * LANDMARK_COUNT * 2).fill(Number.NaN);
    this.faceFound = new Array<boolean>(frameCount).fill(false);
  }

  get received(): number {
    return this.#received;
  }

  addFrame(index: number, data: FrameData, jpeg: Uint8Array, mask: Uint8Array): void {
    if (!(index >= 0 && index < this.frameCount)) throw new Error(`frame index ${index} out of range`);
    if (mask.length !== CROP_SIZE * CROP_SIZE) throw new Error(`mask of frame ${index} is ${mask.length} bytes`);
    const stem = frameFileStem(index);
    writeFileSync(join(this.tempDir, FILES.images, `${stem}.jpg`), jpeg);
    writeFileSync(join(this.tempDir, FILES.masks, `${stem}.png`), encodeGrayPng(mask, CROP_SIZE, CROP_SIZE));
    this.faceFound[index] = data.faceFound;
    this.blendshapes.set(Array.from(data.blendshapes).slice(0, BLENDSHAPE_COUNT), index * BLENDSHAPE_COUNT);
    this.poses.set(data.pose ? Array.from(data.pose) : IDENTITY, index * POSE_LENGTH);
    if (data.landmarksPx) this.landmarks.set(Array.from(data.landmarksPx).slice(0, LANDMARK_COUNT * 2), index * LANDMARK_COUNT * 2);
    this.#received += 1;
  }

  frameRecords(fps: number): FrameRecord[] {
    return this.faceFound.map((faceFound, index) => {
      const stem = frameFileStem(index);
      return {
        index,
        timeSec: Number((index / fps).toFixed(6)),
        faceFound,
        split: splitOf(index, this.frameCount, faceFound),
        image: `${FILES.images}/${stem}.jpg`,
        mask: `${FILES.masks}/${stem}.png`,
      };
    });
  }

  /** Writes an extra file (e.g. the contact sheet, a plate) into the dataset being built; `name` may hold a folder. */
  writeExtra(name: string, bytes: Uint8Array): void {
    mkdirSync(dirname(join(this.tempDir, name)), { recursive: true });
    writeFileSync(join(this.tempDir, name), bytes);
  }

  /** Writes the metadata and arrays, then moves the finished folder into place. */
  finish(meta: DatasetMeta, frames: FrameRecord[], force: boolean): void {
    if (this.#received !== this.frameCount) throw new Error(`only ${this.#received} of ${this.frameCount} frames were captured`);
    const bytes = (array: Float32Array) => new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
    writeFileSync(join(this.tempDir, FILES.blendshapes), bytes(this.blendshapes));
    writeFileSync(join(this.tempDir, FILES.poses), bytes(this.poses));
    writeFileSync(join(this.tempDir, FILES.landmarks), bytes(this.landmarks));
    writeFileSync(join(this.tempDir, FILES.frames), `${JSON.stringify(frames)}\n`);
    // dataset.json last: its presence marks a complete dataset even inside the temporary folder.
    writeFileSync(join(this.tempDir, FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
    if (existsSync(this.outDir)) {
      if (!force && readdirSync(this.outDir).length > 0) throw new PrepareError(`output folder ${this.outDir} appeared while preparing; not replaced`);
      // Swap: the old folder moves aside first, so the target name never holds a mix of both.
      const old = `${this.tempDir}.old`;
      renameSync(this.outDir, old);
      renameSync(this.tempDir, this.outDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(this.tempDir, this.outDir);
    }
    this.#done = true;
  }

  /** Removes the temporary folder (no-op after finish). */
  abort(): void {
    if (!this.#done) rmSync(this.tempDir, { recursive: true, force: true });
  }
}
