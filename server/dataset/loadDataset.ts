/**
 * Loads a dataset folder written by `voxface prepare` and validates it
 * (shared/dataset/validate.ts), including that every image and mask exists,
 * and the plates where dataset.json lists them (version 2; version 1 has none).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FILES, type DatasetMeta, type FrameRecord } from '../../shared/dataset/format';
import { DatasetValidationError, validateDataset } from '../../shared/dataset/validate';

export interface LoadedDataset {
  dir: string;
  meta: DatasetMeta;
  frames: FrameRecord[];
  blendshapes: Float32Array;
  poses: Float32Array;
  landmarks: Float32Array;
}

function readJson(dir: string, name: string): unknown {
  const path = join(dir, name);
  if (!existsSync(path)) throw new DatasetValidationError([`${name} missing in ${dir}`]);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new DatasetValidationError([`${name} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`]);
  }
}

function readFloats(dir: string, name: string): Float32Array {
  const path = join(dir, name);
  if (!existsSync(path)) throw new DatasetValidationError([`${name} missing in ${dir}`]);
  const bytes = readFileSync(path);
  if (bytes.length % 4 !== 0) throw new DatasetValidationError([`${name} is ${bytes.length} bytes, not whole float32s`]);
  // Copy into an aligned buffer (a Buffer may sit at any offset in Node's pool).
  return new Float32Array(new Uint8Array(bytes).buffer);
}

export function loadDataset(dir: string): LoadedDataset {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new DatasetValidationError([`${dir} is not a folder`]);
  const blendshapes = readFloats(dir, FILES.blendshapes);
  const poses = readFloats(dir, FILES.poses);
  const landmarks = readFloats(dir, FILES.landmarks);
  const { meta, frames } = validateDataset(readJson(dir, FILES.meta), readJson(dir, FILES.frames), {
    blendshapes: blendshapes.length, poses: poses.length, landmarks: landmarks.length,
  });
  const missing = frames.flatMap((f) => [f.image, f.mask]).filter((path) => !existsSync(join(dir, path)));
  if (missing.length) throw new DatasetValidationError([`${missing.length} image/mask files missing, e.g. ${missing.slice(0, 3).join(', ')}`]);
  const plates = meta.plates ? [meta.plates.background, meta.plates.body].filter((path) => !existsSync(join(dir, path))) : [];
  if (plates.length) throw new DatasetValidationError([`${FILES.meta} lists plates but ${plates.join(' and ')} ${plates.length > 1 ? 'are' : 'is'} missing`]);
  return { dir, meta, frames, blendshapes, poses, landmarks };
}
