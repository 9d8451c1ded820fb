/**
 * Removes a face's rigid head pose from its landmarks, so that what is left is
 * expression (and identity).
 *
 * How: a weighted similarity fit (rotation, scale, translation; Horn's closed
 * form, shared/retrack/similarityFit.ts) of the frame's landmarks onto MediaPipe's canonical
 * face mesh, with the weights MediaPipe itself uses to estimate the head pose:
 * the `procrustes_landmark_basis` of the face_landmarker.task bundle (33 points
 * on the forehead, nose bridge, cheekbones and eye corners, which expressions
 * barely move). That is how MediaPipe computes its facial transformation
 * matrix, done on the landmarks we compare.
 *
 * Why not the matrix itself: it lives in MediaPipe's metric camera space, which
 * it reaches by unprojecting the landmarks through its own perspective camera
 * and depth-scale estimate; the JS API does not return those metric
 * landmarks, and applying the matrix to the normalized ones mixes two spaces.
 * Why not an unweighted fit of all 468 points: the jaw and lips then pull the
 * fit, so an open mouth tilts the whole frame and shows up as error at the eyes
 * (measured: docs/fidelity.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseCanonicalMesh, readStoredZipMember } from '../dataset/canonicalMesh';
import { CROP_MARGINS } from '../../shared/dataset/cropWindow';
import { CROP_SIZE } from '../../shared/dataset/format';
import { RETRACK_LANDMARK_COUNT } from '../../shared/retrack/retrackProtocol';
import { MESH_POINT_COUNT } from './faceRegions';
import { RetrackError } from './RetrackError';
import type { RetrackedFace } from './RetrackTypes';
import { applySimilarity, fitSimilarity } from '../../shared/retrack/similarityFit';

const METADATA_MEMBER = 'geometry_pipeline_metadata_landmarks.binarypb';

/**
 * Face height (brow to chin, the landmarks' box) in px at 512 px face scale:
 * as the dataset's 512 px crop draws a face (cropWindow adds 0.75 of the face
 * height above and 0.3 below, so 512 / 2.05 = 250 px).
 */
export const FACE_HEIGHT_PX = CROP_SIZE / (1 + CROP_MARGINS.top + CROP_MARGINS.bottom);

export interface ProcrustesBasis {
  ids: Uint16Array;
  weights: Float64Array;
}

function readVarint(bytes: Uint8Array, at: { offset: number }): number {
  let result = 0, shift = 0;
  for (;;) {
    if (at.offset >= bytes.length) throw new Error('protobuf truncated');
    const byte = bytes[at.offset++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return result;
    shift += 7;
  }
}

/** Fields of one protobuf message: number, wire type, and the varint/float value or the bytes. */
function* fields(bytes: Uint8Array): Generator<{ number: number; value: number; bytes?: Uint8Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = { offset: 0 };
  while (at.offset < bytes.length) {
    const key = readVarint(bytes, at), number = Math.floor(key / 8), wire = key & 7;
    if (wire === 0) yield { number, value: readVarint(bytes, at) };
    else if (wire === 5) { yield { number, value: view.getFloat32(at.offset, true) }; at.offset += 4; }
    else if (wire === 1) { yield { number, value: view.getFloat64(at.offset, true) }; at.offset += 8; }
    else if (wire === 2) {
      const length = readVarint(bytes, at);
      yield { number, value: length, bytes: bytes.subarray(at.offset, at.offset + length) };
      at.offset += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

/**
 * GeometryPipelineMetadata field 2, `repeated WeightedLandmarkRef procrustes_landmark_basis`
 * (mediapipe/modules/face_geometry/protos/geometry_pipeline_metadata.proto), each
 * { uint32 landmark_id = 1; float weight = 2; }.
 */
export function parseProcrustesBasis(metadata: Uint8Array): ProcrustesBasis {
  const ids: number[] = [], weights: number[] = [];
  for (const field of fields(metadata)) {
    if (field.number !== 2 || !field.bytes) continue;
    let id = 0, weight = 0;
    for (const inner of fields(field.bytes)) {
      if (inner.number === 1) id = inner.value;
      else if (inner.number === 2) weight = inner.value;
    }
    if (id >= MESH_POINT_COUNT || !(weight >= 0)) throw new Error(`procrustes basis point ${id} (weight ${weight}) is out of range`);
    ids.push(id);
    weights.push(weight);
  }
  if (ids.length < 3) throw new Error(`the procrustes basis has ${ids.length} points, expected at least 3`);
  return { ids: Uint16Array.from(ids), weights: Float64Array.from(weights) };
}

export class FaceNormalizer {
  /** Canonical mesh, cm (x to the subject's left, y up, z towards the viewer). */
  readonly mesh: Float32Array;
  readonly basis: ProcrustesBasis;
  /** px at 512 px face scale per canonical cm. */
  readonly pxPerCm: number;

  constructor(mesh: Float32Array, basis: ProcrustesBasis) {
    if (mesh.length !== MESH_POINT_COUNT * 3) throw new TypeError(`FaceNormalizer: mesh has ${mesh.length} values, expected ${MESH_POINT_COUNT * 3}`);
    this.mesh = mesh;
    this.basis = basis;
    let top = -Infinity, bottom = Infinity;
    for (let i = 0; i < MESH_POINT_COUNT; i++) { top = Math.max(top, mesh[i * 3 + 1]!); bottom = Math.min(bottom, mesh[i * 3 + 1]!); }
    this.pxPerCm = FACE_HEIGHT_PX / (top - bottom);
  }

  /** The canonical mesh and MediaPipe's pose-fit weights from a face_landmarker.task bundle. */
  static fromModel(faceModelPath: string): FaceNormalizer {
    if (!existsSync(faceModelPath)) throw new RetrackError(`face model not found at ${faceModelPath} (set VOXFACE_FACE_MODEL)`);
    try {
      const metadata = readStoredZipMember(readFileSync(faceModelPath), METADATA_MEMBER);
      return new FaceNormalizer(parseCanonicalMesh(metadata), parseProcrustesBasis(metadata));
    } catch (error) {
      throw new RetrackError(`${faceModelPath} is not a FaceLandmarker model bundle: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * One image's face from MediaPipe's normalized landmarks (x, y over the image's
   * width and height, z on the scale of x) of a width x height image.
   */
  normalize(landmarks: ArrayLike<number>, width: number, height: number): RetrackedFace {
    if (landmarks.length !== RETRACK_LANDMARK_COUNT * 3) throw new TypeError(`FaceNormalizer: ${landmarks.length} landmark values, expected ${RETRACK_LANDMARK_COUNT * 3}`);
    const imagePoints = new Float32Array(landmarks.length);
    // Image axes (x right, y down, z away) to the canonical mesh's (y up, z towards the viewer): two flips, still a rotation.
    const source = new Float64Array(landmarks.length);
    for (let i = 0; i < landmarks.length; i += 3) {
      imagePoints[i] = landmarks[i]! * width;
      imagePoints[i + 1] = landmarks[i + 1]! * height;
      imagePoints[i + 2] = landmarks[i + 2]! * width;
      source[i] = imagePoints[i]!;
      source[i + 1] = -imagePoints[i + 1]!;
      source[i + 2] = -imagePoints[i + 2]!;
    }
    const { ids, weights } = this.basis;
    const fit = fitSimilarity(source, this.mesh, ids, weights);
    const facePoints = applySimilarity(fit, source);
    let squared = 0, total = 0;
    for (let k = 0; k < ids.length; k++) {
      const i = ids[k]! * 3;
      for (let c = 0; c < 3; c++) squared += weights[k]! * (facePoints[i + c]! - this.mesh[i + c]!) ** 2;
      total += weights[k]!;
    }
    for (let i = 0; i < facePoints.length; i++) facePoints[i]! *= this.pxPerCm;
    return { imagePoints, facePoints, fitResidualPx: Math.sqrt(squared / total) * this.pxPerCm };
  }
}
