// A dataset's plates (dataset.json `plates`: the capture's clean background and body,
// whole source frames) brought into the avatar file's plate view through the training
// reference (Framing.plateSourcePositions), for `voxface train` to store.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Intrinsics } from '../../shared/dataset/format';
import { decodePng } from '../dataset/png';
import { pullPush } from '../dataset/plates/imageOps';
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
  fillBeyondSource(out, positions, w, h, cam.width, cam.height);
  return { camera: cam, ...out };
}

/**
 * The call framing often reaches past the capture (tight clips: the shared ones are 512 px
 * squares around the face). Clamping the source's edge pixels there drew streaks (hair
 * strands stretched down a third of the frame, a dark block beside the room); instead both
 * plates are filled beyond the source by pull-push from what the source saw: the room fades
 * into its own soft colours and the body continues below the frame edge as a smooth
 * garment (premultiplied, so its alpha and colour fill together).
 */
function fillBeyondSource(plates: { background: Uint8Array; body: Uint8Array }, positions: Float32Array, sw: number, sh: number, width: number, height: number): void {
  const n = width * height, weight = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = positions[2 * i]!, v = positions[2 * i + 1]!;
    weight[i] = u >= 0.5 && v >= 0.5 && u <= sw - 0.5 && v <= sh - 0.5 ? 1 : 0;
  }
  const bg = Float32Array.from(plates.background), filledBg = pullPush(bg, weight, width, height, 3);
  for (let i = 0; i < 3 * n; i++) plates.background[i] = Math.round(filledBg[i]!);
  const body = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const a = plates.body[4 * i + 3]! / 255;
    for (let ch = 0; ch < 3; ch++) body[4 * i + ch] = plates.body[4 * i + ch]! * a;
    body[4 * i + 3] = a;
  }
  const filled = pullPush(body, weight, width, height, 4);
  for (let i = 0; i < n; i++) {
    if (weight[i]) continue;
    const a = Math.min(1, Math.max(0, filled[4 * i + 3]!));
    for (let ch = 0; ch < 3; ch++) plates.body[4 * i + ch] = a > 1e-3 ? Math.min(255, Math.round(filled[4 * i + ch]! / a)) : 0;
    plates.body[4 * i + 3] = Math.round(a * 255);
  }
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
