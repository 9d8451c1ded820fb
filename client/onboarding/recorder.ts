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
    try {
      frame = capture.capture(bitmap, crop);
    } finally {
      bitmap.close();
    }
    const index = count;
    count += 1;
    options.onCaptured(index, frame.face.facePresent);
    const encoding = encodeCapturedFrame(index, frame).then(({ body, faceFound }) => options.onEncoded(index, body, faceFound));
    encodings.add(encoding);
    encoding.then(() => encodings.delete(encoding), (error: unknown) => {
      encodeError ??= error;
      encodings.delete(encoding);
    });
    if (encodeError) break;
    while (encodings.size >= MAX_ENCODING) await Promise.race(encodings).catch(() => undefined);
  }
  await Promise.allSettled([...encodings]);
  if (encodeError) throw new Error(`could not encode a frame: ${encodeError instanceof Error ? encodeError.message : String(encodeError)}`);
  return count;
}
