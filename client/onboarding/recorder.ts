/**
 * The recording: for `seconds`, at most `fps` times a second, the newest
 * camera frame goes through FrameCapture with the session's fixed crop and
 * becomes an upload body. When capture is slower than the target rate the
 * recording just has fewer frames: bitmaps are never queued (each is closed
 * right after capture), so memory stays flat and frames stay current.
 */
import type { CapturedFrame, FrameCapture } from '../capture/FrameCapture';
import type { CropWindow } from '../../shared/dataset/format';
import { encodeCapturedFrame } from './frameEncoding';
import { drawPlate, encodePlateSample } from '../capture/plateCapture';
import { PLATE_MAX_SAMPLES, plateSize } from '../../shared/dataset/plateSample';

/** Encodings (off-thread JPEG + deflate) allowed to overlap capture; each holds a 1 MB ImageData. */
const MAX_ENCODING = 4;

export interface RecordingOptions {
  capture: FrameCapture;
  video: HTMLVideoElement;
  crop: CropWindow;
  /** The camera frame size the crop was decided in. */
  source: { width: number; height: number };
  seconds: number;
  fps: number;
  /** Each captured frame, right after tracking (before encoding). */
  onCaptured: (index: number, facePresent: boolean) => void;
  /** Each encoded frame, ready to upload. */
  onEncoded: (index: number, body: Uint8Array, faceFound: boolean) => void;
  /** A camera frame that could not be used (its size differs from the source). */
  onSkipped?: (reason: string) => void;
  /**
   * Each plate sample (shared/dataset/plateSample.ts): the whole frame of up to
   * PLATE_MAX_SAMPLES face frames spread over the recording, for the dataset's plates.
   */
  onPlate?: (index: number, body: Uint8Array) => void;
  shouldStop: () => boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Records; resolves with the number of frames once every one is encoded (indices 0..n-1). */
export async function record(options: RecordingOptions): Promise<number> {
  const { capture, video, crop, source } = options;
  const intervalMs = 1000 / options.fps;
  const startedAt = performance.now();
  const endAt = startedAt + options.seconds * 1000;
  const encodings = new Set<Promise<void>>();
  let encodeError: unknown = null;
  let count = 0;
  // One plate sample every `plateEvery` frames (with a face), so PLATE_MAX_SAMPLES spread over the whole recording.
  const plate = plateSize(source.width, source.height);
  const plateEvery = Math.max(1, Math.floor((options.seconds * options.fps) / PLATE_MAX_SAMPLES));
  let plates = 0;
  const pendingPlates: { index: number; image: ImageData; landmarks: NonNullable<CapturedFrame['face']['landmarks']> }[] = [];
  for (let due = startedAt; !options.shouldStop(); ) {
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (performance.now() >= endAt || options.shouldStop()) break;
    // The next frame is due one interval later, or at once if this capture ran late: no catch-up burst.
    due = Math.max(due + intervalMs, performance.now());
    const bitmap = await createImageBitmap(video);
    if (bitmap.width !== source.width || bitmap.height !== source.height) {
      // The crop and the session's intrinsics belong to the source size; another size would corrupt the dataset.
      bitmap.close();
      options.onSkipped?.(`camera frame ${bitmap.width}x${bitmap.height}, expected ${source.width}x${source.height}`);
      continue;
    }
    let frame: CapturedFrame;
    let plateImage: ImageData | null = null;
    try {
      frame = capture.capture(bitmap, crop);
      if (options.onPlate && count % plateEvery === 0 && plates < PLATE_MAX_SAMPLES && frame.face.facePresent && frame.face.landmarks) {
        plateImage = drawPlate(bitmap, plate.width, plate.height);
      }
    } finally {
      bitmap.close();
    }
    const index = count;
    count += 1;
    options.onCaptured(index, frame.face.facePresent);
    const track = (encoding: Promise<void>) => {
      encodings.add(encoding);
      encoding.then(() => encodings.delete(encoding), (error: unknown) => {
        encodeError ??= error;
        encodings.delete(encoding);
      });
    };
    track(encodeCapturedFrame(index, frame).then(({ body, faceFound }) => options.onEncoded(index, body, faceFound)));
    if (plateImage && frame.face.landmarks) {
      plates += 1;
      pendingPlates.push({ index, image: plateImage, landmarks: frame.face.landmarks });
    }
    if (encodeError) break;
    while (encodings.size >= MAX_ENCODING) await Promise.race(encodings).catch(() => undefined);
  }
  await Promise.allSettled([...encodings]);
  if (encodeError) throw new Error(`could not encode a frame: ${encodeError instanceof Error ? encodeError.message : String(encodeError)}`);
  // Plates are segmented, encoded and sent after the recording, one at a time: done inside the
  // loop (a segmentation and a deflate of a whole frame every other frame) they took the
  // recording's frame budget (a 12 s, 10 fps recording kept 33 frames on 2 cores, not 120).
  for (const p of pendingPlates.splice(0)) {
    const person = capture.segment(p.image);
    await options.onPlate!(p.index, await encodePlateSample(p.index, p.image, person.mask, p.landmarks));
  }
  return count;
}
