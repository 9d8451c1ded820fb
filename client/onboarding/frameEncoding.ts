/**
 * One CapturedFrame (client/capture/FrameCapture) as the upload body of
 * shared/onboarding/frameBody.ts: JPEG image, deflated mask, header, landmarks.
 * frameHeader() is pure; the encoders use browser APIs that run off the main
 * thread (convertToBlob, CompressionStream), so capture goes on meanwhile.
 */
import type { CapturedFrame } from '../capture/FrameCapture';
import type { TrackedFace } from '../tracking/FaceTrackerTypes';
import { BLENDSHAPE_COUNT, CROP_SIZE, POSE_LENGTH } from '../../shared/dataset/format';
import { encodeFrameBody, type FrameHeader } from '../../shared/onboarding/frameBody';

/** The JPEG quality of uploaded crops: ~60-100 KB a frame, well under the server's 256 KB limit. */
const JPEG_QUALITY = 0.9;

/**
 * The frame's header. The server refuses a face frame without a full pose and
 * landmarks, so a frame counts as a face only when the tracker gave both; its
 * blendshapes are clamped to [0, 1] (the model's scores can stray by rounding).
 */
export function frameHeader(index: number, face: TrackedFace, landmarksPx: Float32Array | null): FrameHeader {
  const pose = face.transform && face.transform.length === POSE_LENGTH && face.transform.every(Number.isFinite) ? Array.from(face.transform) : null;
  const faceFound = face.facePresent && pose !== null && landmarksPx !== null;
  const blendshapes = Array.from({ length: BLENDSHAPE_COUNT }, (_, i) => {
    const score = faceFound ? face.blendshapes[i] ?? 0 : 0;
    return Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
  });
  return { index, faceFound, blendshapes, pose: faceFound ? pose : null };
}

export async function encodeJpeg(image: ImageData): Promise<Uint8Array> {
  // A canvas per frame: encodings overlap, and a shared canvas could change under one.
  const canvas = new OffscreenCanvas(CROP_SIZE, CROP_SIZE);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('2D canvas unavailable');
  context.putImageData(image, 0, 0);
  const blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
  return new Uint8Array(await blob.arrayBuffer());
}

/** zlib (RFC 1950) deflate; a mask is mostly flat and shrinks about twentyfold. */
export async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The upload body of frame `index`, and whether it counts as a face frame. */
export async function encodeCapturedFrame(index: number, frame: CapturedFrame): Promise<{ body: Uint8Array; faceFound: boolean }> {
  const header = frameHeader(index, frame.face, frame.landmarksPx);
  const [jpeg, mask] = await Promise.all([encodeJpeg(frame.image), deflate(frame.mask)]);
  return { body: encodeFrameBody(header, jpeg, mask, header.faceFound ? frame.landmarksPx : null), faceFound: header.faceFound };
}
