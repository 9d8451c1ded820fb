/**
 * The capture side of the plates (shared/dataset/plateSample.ts): the whole
 * decoded frame at plate size, and one plate sample body from it, its person
 * mask (FrameCapture.segment on the same image) and the frame's landmarks.
 * The page sends one for each of up to PLATE_MAX_SAMPLES face frames spread
 * over the clip; the server estimates the clean plate and the body plate.
 */
import { encodePlateSampleBody } from '../../shared/dataset/plateSample';
import { LANDMARK_COUNT } from '../../shared/dataset/format';

/** `frame` drawn whole at width x height (call before the frame is handed to the tracker worker). */
export function drawPlate(frame: ImageBitmap, width: number, height: number): ImageData {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('2D canvas unavailable');
  context.imageSmoothingQuality = 'high';
  context.drawImage(frame, 0, 0, width, height);
  return context.getImageData(0, 0, width, height);
}

async function deflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The POST body of one plate sample: `image` (drawPlate), `person` (confidence
 * in [0, 1] per pixel of it) and `landmarks` (MediaPipe's normalized x, y, z
 * triples over the frame).
 */
export async function encodePlateSample(index: number, image: ImageData, person: Float32Array, landmarks: ArrayLike<number>): Promise<Uint8Array<ArrayBuffer>> {
  const { width, height } = image;
  const pixels = width * height;
  const rgb = new Uint8Array(pixels * 3);
  const mask = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i += 1) {
    rgb[i * 3] = image.data[i * 4]!; rgb[i * 3 + 1] = image.data[i * 4 + 1]!; rgb[i * 3 + 2] = image.data[i * 4 + 2]!;
    mask[i] = Math.round(Math.min(1, Math.max(0, person[i] ?? 0)) * 255);
  }
  const points = new Float32Array(LANDMARK_COUNT * 2);
  for (let k = 0; k < LANDMARK_COUNT; k += 1) {
    points[k * 2] = (landmarks[k * 3] ?? Number.NaN) * width;
    points[k * 2 + 1] = (landmarks[k * 3 + 1] ?? Number.NaN) * height;
  }
  const [deflatedRgb, deflatedPerson] = await Promise.all([deflate(rgb), deflate(mask)]);
  return encodePlateSampleBody({ index, width, height }, deflatedRgb, deflatedPerson, points);
}
