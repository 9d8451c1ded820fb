/**
 * MediaPipe's canonical face mesh, read from the face_landmarker.task bundle we
 * already ship, so reprojection checks use exactly the model the pose was
 * fitted to.
 *
 * The .task file is a zip with its members stored (not compressed); the mesh is
 * in geometry_pipeline_metadata_landmarks.binarypb, a GeometryPipelineMetadata
 * protobuf (mediapipe/modules/face_geometry/protos/geometry_pipeline_metadata.proto):
 * field 1 canonical_mesh (Mesh3d: 1 vertex_type, 2 primitive_type,
 * 3 vertex_buffer floats, 4 index_buffer), with VERTEX_PT layout = 5 floats a
 * vertex (x, y, z in cm, then u, v texture coordinates). The wire format is
 * simple enough to walk by hand instead of adding a protobuf dependency.
 */
import { readFileSync } from 'node:fs';
import { MESH_VERTEX_COUNT } from '../../shared/dataset/format';

const MEMBER = 'geometry_pipeline_metadata_landmarks.binarypb';

/**
 * The bytes of a stored (method 0) member of a zip file, found through the
 * central directory (the .task bundle has padding before its first local
 * header, so walking local headers from offset 0 does not work).
 */
export function readStoredZipMember(zip: Uint8Array, name: string): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let end = zip.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end -= 1;
  if (end < 0) throw new Error('model bundle is not a zip (no end of central directory)');
  const entries = view.getUint16(end + 10, true);
  let offset = view.getUint32(end + 16, true);
  const decoder = new TextDecoder();
  for (let i = 0; i < entries; i += 1) {
    if (view.getUint32(offset, true) !== 0x02014b50) throw new Error('model bundle has a damaged zip directory');
    const method = view.getUint16(offset + 10, true);
    const size = view.getUint32(offset + 20, true);
    const nameLength = view.getUint16(offset + 28, true);
    const extraLength = view.getUint16(offset + 30, true);
    const commentLength = view.getUint16(offset + 32, true);
    const localOffset = view.getUint32(offset + 42, true);
    if (decoder.decode(zip.subarray(offset + 46, offset + 46 + nameLength)) === name) {
      if (method !== 0) throw new Error(`${name} is compressed (method ${method}); expected a stored member`);
      const dataStart = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
      return zip.subarray(dataStart, dataStart + size);
    }
    offset += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} not found in the model bundle`);
}

export interface Field { number: number; wireType: number; value: number; bytes?: Uint8Array }

export function* protobufFields(bytes: Uint8Array): Generator<Field> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  const varint = (): number => {
    let result = 0; let shift = 0;
    for (;;) {
      if (offset >= bytes.length) throw new Error('protobuf truncated');
      const byte = bytes[offset++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (offset < bytes.length) {
    const key = varint();
    const number = Math.floor(key / 8); const wireType = key & 7;
    if (wireType === 0) yield { number, wireType, value: varint() };
    else if (wireType === 1) { yield { number, wireType, value: view.getFloat64(offset, true) }; offset += 8; }
    else if (wireType === 5) { yield { number, wireType, value: view.getFloat32(offset, true) }; offset += 4; }
    else if (wireType === 2) {
      const length = varint();
      yield { number, wireType, value: length, bytes: bytes.subarray(offset, offset + length) };
      offset += length;
    } else throw new Error(`unsupported protobuf wire type ${wireType}`);
  }
}

/** The canonical mesh's vertex positions (x, y, z triples, cm), MESH_VERTEX_COUNT of them. */
export function parseCanonicalMesh(metadata: Uint8Array): Float32Array {
  const floats: number[] = [];
  for (const field of protobufFields(metadata)) {
    if (field.number !== 1 || !field.bytes) continue;
    for (const inner of protobufFields(field.bytes)) {
      if (inner.number !== 3) continue;
      if (inner.wireType === 5) floats.push(inner.value);
      else if (inner.bytes) { // packed encoding
        const view = new DataView(inner.bytes.buffer, inner.bytes.byteOffset, inner.bytes.byteLength);
        for (let i = 0; i + 4 <= inner.bytes.length; i += 4) floats.push(view.getFloat32(i, true));
      }
    }
  }
  if (floats.length !== MESH_VERTEX_COUNT * 5) {
    throw new Error(`canonical mesh has ${floats.length} vertex floats, expected ${MESH_VERTEX_COUNT * 5} (5 per vertex)`);
  }
  const positions = new Float32Array(MESH_VERTEX_COUNT * 3);
  for (let i = 0; i < MESH_VERTEX_COUNT; i += 1) positions.set(floats.slice(i * 5, i * 5 + 3), i * 3);
  return positions;
}

export function loadCanonicalMesh(faceModelPath: string): Float32Array {
  return parseCanonicalMesh(readStoredZipMember(readFileSync(faceModelPath), MEMBER));
}
