/**
 * Checks a parsed dataset (dataset.json, frames.json and the sizes of the bulk
 * arrays) and throws one error listing every problem found, each naming the
 * file and field, so a damaged or hand-edited dataset is refused with a
 * message a person can act on instead of failing deep inside training.
 */
import {
  BLENDSHAPE_COUNT, CROP_SIZE, FILES, LANDMARK_COUNT, POSE_LENGTH, READABLE_DATASET_VERSIONS,
  splitOf, testStartIndex, type DatasetMeta, type FrameRecord,
} from './format';

export class DatasetValidationError extends Error {
  override name = 'DatasetValidationError';
  constructor(readonly problems: string[]) {
    super(`invalid dataset: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? `; and ${problems.length - 10} more` : ''}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

export interface BulkSizes {
  blendshapes: number;
  poses: number;
  landmarks: number;
}

/** Validates and returns the typed meta and frames; `bulk` gives the float counts of the .f32 files. */
export function validateDataset(meta: unknown, frames: unknown, bulk: BulkSizes): { meta: DatasetMeta; frames: FrameRecord[] } {
  const problems: string[] = [];
  const need = (ok: boolean, message: string) => { if (!ok) problems.push(message); };
  if (!isObject(meta)) throw new DatasetValidationError([`${FILES.meta} is not a JSON object`]);
  need(READABLE_DATASET_VERSIONS.includes(meta.version as number),
    `${FILES.meta}: version ${String(meta.version)} is not one this program reads (${READABLE_DATASET_VERSIONS.join(', ')}); prepare the video again`);
  need(meta.imageSize === CROP_SIZE, `${FILES.meta}: imageSize ${String(meta.imageSize)} is not ${CROP_SIZE}`);
  const source = meta.source;
  need(isObject(source) && finite(source.width) && finite(source.height) && finite(source.fps) && source.fps > 0,
    `${FILES.meta}: source needs width, height and fps`);
  const crop = meta.crop;
  const cropOk = isObject(crop) && finite(crop.x) && finite(crop.y) && finite(crop.size) && crop.size > 0;
  need(cropOk, `${FILES.meta}: crop needs x, y and a positive size`);
  if (cropOk && isObject(source) && finite(source.width) && finite(source.height)) {
    const c = crop as { x: number; y: number; size: number };
    need(c.x >= 0 && c.y >= 0 && c.x + c.size <= source.width + 1e-6 && c.y + c.size <= source.height + 1e-6,
      `${FILES.meta}: crop ${JSON.stringify(crop)} lies outside the ${source.width}x${source.height} source`);
  }
  const k = meta.intrinsics;
  need(isObject(k) && finite(k.fx) && k.fx > 0 && finite(k.fy) && k.fy > 0 && finite(k.cx) && finite(k.cy)
    && k.width === CROP_SIZE && k.height === CROP_SIZE, `${FILES.meta}: intrinsics need positive fx, fy, finite cx, cy and ${CROP_SIZE}x${CROP_SIZE}`);
  const count = meta.frameCount;
  const countOk = Number.isInteger(count) && (count as number) > 0;
  need(countOk, `${FILES.meta}: frameCount must be a positive integer`);
  const n = countOk ? (count as number) : 0;
  const split = meta.split;
  need(isObject(split) && split.testStartIndex === testStartIndex(n),
    `${FILES.meta}: split.testStartIndex must be ${testStartIndex(n)} for ${n} frames (last 15% by time)`);
  need(finite(meta.reprojectionErrorPx), `${FILES.meta}: reprojectionErrorPx must be a number`);
  if (meta.plates !== undefined) {
    const p = meta.plates;
    if (meta.version === 1) problems.push(`${FILES.meta}: plates came with dataset version 2; this says version 1`);
    else if (!isObject(p)) problems.push(`${FILES.meta}: plates must be an object`);
    else {
      const sizeOk = Number.isInteger(p.width) && (p.width as number) > 0 && Number.isInteger(p.height) && (p.height as number) > 0;
      need(sizeOk, `${FILES.meta}: plates need a positive whole width and height`);
      const pk = p.intrinsics;
      need(isObject(pk) && finite(pk.fx) && pk.fx > 0 && finite(pk.fy) && pk.fy > 0 && finite(pk.cx) && finite(pk.cy)
        && pk.width === p.width && pk.height === p.height, `${FILES.meta}: plates.intrinsics need positive fx, fy, finite cx, cy and the plates' size`);
      need(Number.isInteger(p.samples) && (p.samples as number) > 0, `${FILES.meta}: plates.samples must be a positive integer`);
      need(p.background === FILES.backgroundPlate && p.body === FILES.bodyPlate,
        `${FILES.meta}: plates.background and plates.body must be '${FILES.backgroundPlate}' and '${FILES.bodyPlate}'`);
    }
  }

  if (!Array.isArray(frames)) {
    problems.push(`${FILES.frames} is not a JSON array`);
    throw new DatasetValidationError(problems);
  }
  need(frames.length === n, `${FILES.frames} has ${frames.length} records, ${FILES.meta} says ${n}`);
  let faces = 0;
  const counts = { train: 0, test: 0, excluded: 0 };
  frames.forEach((frame: unknown, i) => {
    if (problems.length > 50) return;
    if (!isObject(frame)) { problems.push(`${FILES.frames}[${i}] is not an object`); return; }
    need(frame.index === i, `${FILES.frames}[${i}].index is ${String(frame.index)}`);
    need(finite(frame.timeSec), `${FILES.frames}[${i}].timeSec must be a number`);
    need(typeof frame.faceFound === 'boolean', `${FILES.frames}[${i}].faceFound must be a boolean`);
    const expected = splitOf(i, n, frame.faceFound === true);
    need(frame.split === expected, `${FILES.frames}[${i}].split is ${String(frame.split)}, expected ${expected}`);
    need(typeof frame.image === 'string' && typeof frame.mask === 'string', `${FILES.frames}[${i}] needs image and mask paths`);
    if (frame.faceFound === true) faces += 1;
    if (expected in counts) counts[expected] += 1;
  });
  need(meta.faceFoundCount === faces, `${FILES.meta}: faceFoundCount ${String(meta.faceFoundCount)} but ${faces} frames have a face`);
  if (isObject(split)) {
    need(split.train === counts.train && split.test === counts.test && split.excluded === counts.excluded,
      `${FILES.meta}: split counts ${JSON.stringify({ train: split.train, test: split.test, excluded: split.excluded })} do not match frames (${JSON.stringify(counts)})`);
  }
  need(bulk.blendshapes === n * BLENDSHAPE_COUNT, `${FILES.blendshapes} holds ${bulk.blendshapes} floats, expected ${n} x ${BLENDSHAPE_COUNT}`);
  need(bulk.poses === n * POSE_LENGTH, `${FILES.poses} holds ${bulk.poses} floats, expected ${n} x ${POSE_LENGTH}`);
  need(bulk.landmarks === n * LANDMARK_COUNT * 2, `${FILES.landmarks} holds ${bulk.landmarks} floats, expected ${n} x ${LANDMARK_COUNT} x 2`);
  if (problems.length) throw new DatasetValidationError(problems);
  return { meta: meta as unknown as DatasetMeta, frames: frames as FrameRecord[] };
}
