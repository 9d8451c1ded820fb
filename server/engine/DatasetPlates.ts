// A dataset's plates (dataset.json `plates`: the capture's clean background and body,
// whole source frames) brought into the avatar file's plate view through the training
// reference (Framing.plateSourcePositions), for `voxface train` to store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Intrinsics } from '../../shared/dataset/format';
import { decodePng } from '../dataset/png';
import type { AvatarPlates } from './AvatarFile';
import type { CameraConfig } from './AvatarModelTypes';
import { resamplePair } from './AvatarPlates';
import { framingCamera, plateSourcePositions } from './Framing';
import type { PoseReference } from './PoseMapping';

/** The plate view stored in avatar files: the call framing at 1280x720 (sharp down to any call size). */
export const PLATE_VIEW = { width: 1280, height: 720 } as const;

/** What a dataset's dataset.json says about its plates (docs/dataset.md, version 2). */
export interface DatasetPlatesMeta {
  readonly width: number;
  readonly height: number;
  readonly intrinsics: Intrinsics;
  readonly background: string;
  readonly body: string;
}

/**
 * The avatar file's plates from a dataset's: `reference` and `camera` are the training
 * reference (RealDataset.datasetReference) and the model camera. Null when the dataset
 * has no plates (version 1). Plate images are read from `dir`.
 */
export function platesFromDataset(
  dir: string, plates: DatasetPlatesMeta | undefined, reference: PoseReference, camera: CameraConfig,
  view: { width: number; height: number } = PLATE_VIEW,
): AvatarPlates | null {
  if (!plates) return null;
  const bgPng = decodePng(readFileSync(join(dir, plates.background))), bodyPng = decodePng(readFileSync(join(dir, plates.body)));
  const { width: w, height: h } = bgPng;
  if (bodyPng.width !== w || bodyPng.height !== h || w !== plates.width || h !== plates.height)
    throw new RangeError(`plates: background ${w}x${h} and body ${bodyPng.width}x${bodyPng.height} must both be ${plates.width}x${plates.height}`);
  const rgb = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) for (let ch = 0; ch < 3; ch++) rgb[3 * p + ch] = bgPng.data[4 * p + ch]!;
  const cam = framingCamera(camera, view.width, view.height);
  const positions = plateSourcePositions(cam, reference, plates.intrinsics);
  const out = resamplePair(rgb, new Uint8Array(bodyPng.data), w, h, cam.width * cam.height, (i, uv) => {
    uv[0] = positions[2 * i]!; uv[1] = positions[2 * i + 1]!;
  });
  return { camera: cam, ...out };
}

const datasetPlatesCache = new WeakMap<object, AvatarPlates | null>();

/**
 * The avatar file's plates for a loaded training dataset (null when it has none):
 * built once per dataset object (train saves snapshots and the final file with them).
 */
export function datasetPlates(ds: { readonly dir: string; readonly meta: object; readonly reference: PoseReference; readonly camera: CameraConfig }): AvatarPlates | null {
  if (!datasetPlatesCache.has(ds)) {
    const meta = (ds.meta as { plates?: DatasetPlatesMeta }).plates;
    datasetPlatesCache.set(ds, platesFromDataset(ds.dir, meta, ds.reference, ds.camera));
  }
  return datasetPlatesCache.get(ds)!;
}
