/**
 * Turns one video frame into one dataset sample: FaceLandmarker tracking (the
 * live tracker's own createLandmarker/detect, so training and driving share one
 * coefficient space), MediaPipe's selfie segmenter on the crop, the head cut
 * below the jaw, and the crop composited on white.
 *
 * Browser onboarding and the `voxface prepare` page both call this class.
 *
 *   const capture = await FrameCapture.create({ wasmBaseUrl, faceModelUrl, segmenterModelUrl });
 *   const face = capture.track(bitmap);                 // first pass: where is the face?
 *   const sample = await capture.capture(bitmap, crop); // second pass, fixed crop
 */
import { FilesetResolver, ImageSegmenter, type FaceLandmarker } from '@mediapipe/tasks-vision';
import { createLandmarker, detect } from '../tracking/landmarkerRunner';
import { blockMediaPipeTelemetry } from '../tracking/noTelemetry';
import type { TrackedFace, TrackerDelegate } from '../tracking/FaceTrackerTypes';
import { landmarksToCropPixels } from '../../shared/dataset/camera';
import { CROP_SIZE, type CropWindow } from '../../shared/dataset/format';
import { headCut, maskAndComposite } from './headMask';

export interface FrameCaptureOptions {
  wasmBaseUrl: string;
  faceModelUrl: string;
  segmenterModelUrl: string;
  /** As for FaceTracker: 'auto' picks GPU only where WebGL runs on a real GPU. */
  delegate?: TrackerDelegate | 'auto';
}

export interface CapturedFrame {
  /** Tracking on the full frame (normalized landmarks over the full frame). */
  face: TrackedFace;
  /** The 478 landmarks in crop pixels (u, v pairs), null without a face. */
  landmarksPx: Float32Array | null;
  /** CROP_SIZE² soft head mask, 0..255 (all zero without a face). */
  mask: Uint8Array;
  /** The crop composited on white by the mask (the raw crop when no face was found). */
  image: ImageData;
  /** The crop before compositing (for previews and contact sheets), when asked for. */
  raw: ImageData | null;
  segmenterMs: number;
}

export class FrameCapture {
  readonly delegate: TrackerDelegate;
  #landmarker: FaceLandmarker;
  readonly #segmenter: ImageSegmenter;
  readonly #options: FrameCaptureOptions;
  readonly #canvas = new OffscreenCanvas(CROP_SIZE, CROP_SIZE);
  readonly #context: OffscreenCanvasRenderingContext2D;
  #timestamp = 0;

  private constructor(landmarker: FaceLandmarker, segmenter: ImageSegmenter, delegate: TrackerDelegate, options: FrameCaptureOptions) {
    this.#landmarker = landmarker;
    this.#segmenter = segmenter;
    this.delegate = delegate;
    this.#options = options;
    // Read back every frame: a CPU-backed canvas avoids a GPU round trip per getImageData.
    const context = this.#canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('2D canvas unavailable');
    this.#context = context;
    this.#context.imageSmoothingQuality = 'high';
  }

  static async create(options: FrameCaptureOptions): Promise<FrameCapture> {
    const inWorker = typeof document === 'undefined';
    blockMediaPipeTelemetry();
    const { landmarker, delegate } = await createLandmarker(options.wasmBaseUrl, options.faceModelUrl, options.delegate ?? 'auto', inWorker);
    try {
      const fileset = await FilesetResolver.forVisionTasks(options.wasmBaseUrl, inWorker);
      const segmenter = await ImageSegmenter.createFromOptions(fileset, {
        baseOptions: { modelAssetPath: options.segmenterModelUrl, delegate },
        runningMode: 'VIDEO',
        outputConfidenceMasks: true,
        outputCategoryMask: false,
      });
      return new FrameCapture(landmarker, segmenter, delegate, options);
    } catch (error) {
      landmarker.close();
      throw new Error(`selfie segmenter could not start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Starts a new tracking sequence (VIDEO mode carries the face's position from
   * frame to frame; after a jump in time it would look in the wrong place first).
   */
  async restartTracking(): Promise<void> {
    const { landmarker } = await createLandmarker(this.#options.wasmBaseUrl, this.#options.faceModelUrl, this.delegate, typeof document === 'undefined');
    this.#landmarker.close();
    this.#landmarker = landmarker;
  }

  /** Face tracking only, landmarks included. */
  track(frame: ImageBitmap): TrackedFace {
    return detect(this.#landmarker, frame, performance.timeOrigin + performance.now(), this.#nextTimestamp(), frame.width, frame.height, true);
  }

  /**
   * The full sample for `crop` (a square in `frame`'s pixels; it may be
   * fractional). `keepRaw` also returns the crop before compositing (a copy:
   * most frames do not need one).
   */
  capture(frame: ImageBitmap, crop: CropWindow, keepRaw = false): CapturedFrame {
    const face = this.track(frame);
    const image = this.cropImage(frame, crop);
    const raw = keepRaw ? new ImageData(new Uint8ClampedArray(image.data), CROP_SIZE, CROP_SIZE) : null;
    const person = face.facePresent && face.landmarks ? this.segment(image) : null;
    return this.finish(face, image, raw, person, crop);
  }

  /** The crop of `frame` (CROP_SIZE², on white), as capture() makes it. */
  cropImage(frame: ImageBitmap, crop: CropWindow): ImageData {
    const context = this.#context;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, CROP_SIZE, CROP_SIZE);
    context.drawImage(frame, crop.x, crop.y, crop.size, crop.size, 0, 0, CROP_SIZE, CROP_SIZE);
    return context.getImageData(0, 0, CROP_SIZE, CROP_SIZE);
  }

  /**
   * The rest of capture() once tracking (possibly elsewhere, e.g. in a worker)
   * and segmentation are done: the head cut, the mask and the composite (in
   * place in `image`). `person` (from segment()) is needed only with a face.
   */
  finish(face: TrackedFace, image: ImageData, raw: ImageData | null, person: { mask: Float32Array; ms: number } | null, crop: CropWindow): CapturedFrame {
    let mask: Uint8Array = new Uint8Array(CROP_SIZE * CROP_SIZE);
    let landmarksPx: Float32Array | null = null;
    let segmenterMs = 0;
    if (face.facePresent && face.landmarks) {
      if (!person) throw new Error('a face was found but the crop was not segmented');
      landmarksPx = landmarksToCropPixels(face.landmarks, face.frameWidth, face.frameHeight, crop);
      segmenterMs = person.ms;
      mask = maskAndComposite(person.mask, headCut(landmarksPx, CROP_SIZE, CROP_SIZE), image.data);
    }
    return { face, landmarksPx, mask, image, raw, segmenterMs };
  }

  /** Person confidence in [0, 1] per pixel of `image` (a crop, or a whole frame for the plates), and the time it took. */
  segment(image: ImageData): { mask: Float32Array; ms: number } {
    const started = performance.now();
    const mask = this.#segment(image);
    return { mask, ms: performance.now() - started };
  }

  close(): void {
    this.#landmarker.close();
    this.#segmenter.close();
  }

  /** Person confidence in [0, 1] per pixel of `image`. */
  #segment(image: ImageData): Float32Array {
    let person: Float32Array | undefined;
    this.#segmenter.segmentForVideo(image, this.#nextTimestamp(), (result) => {
      const masks = result.confidenceMasks ?? [];
      // selfie_segmenter has one channel (person); two-channel models list background first.
      const mask = masks[masks.length - 1];
      if (mask) person = mask.getAsFloat32Array().slice();
    });
    if (!person || person.length !== image.width * image.height) throw new Error(`segmenter returned no ${image.width}x${image.height} mask`);
    return person;
  }

  #nextTimestamp(): number {
    // Both tasks run in VIDEO mode and need strictly increasing timestamps.
    this.#timestamp = Math.max(this.#timestamp + 1, Math.round(performance.now()));
    return this.#timestamp;
  }
}
