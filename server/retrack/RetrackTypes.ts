/** Types of the expression-fidelity measure by re-tracking (docs/fidelity.md). */

/**
 * An image's pixels, row by row from the top left: RGB or RGBA (told apart by
 * length: width*height*3 or *4), float in [0, 1] (what the renderer and the
 * eval produce; clamped) or 8-bit.
 */
export type RetrackPixels = Float32Array | Uint8Array | Uint8ClampedArray;

export interface RetrackImage {
  pixels: RetrackPixels;
  width: number;
  height: number;
}

/** One frame to score: the avatar's render and the original frame it should match, both width x height. */
export interface RetrackPair {
  render: RetrackPixels;
  original: RetrackPixels;
  width: number;
  height: number;
}

/** One image's face, as re-tracked. */
export interface RetrackedFace {
  /** 478 (x, y, z): x, y in the image's pixels (y down); z MediaPipe's relative depth in the same pixels (larger is farther). */
  imagePoints: Float32Array;
  /**
   * 478 (x, y, z) with the head's rigid pose removed: MediaPipe's canonical face frame
   * (x to the subject's left, y up, z towards the viewer), in px at 512 px face scale
   * (FACE_HEIGHT_PX: a pixel of the dataset's 512 px crop, where the face is ~250 px from brow to chin).
   */
  facePoints: Float32Array;
  /** Weighted RMS distance of the rigid points from the canonical mesh after the fit, px (how far the face is from a rigid head: expression and fit error). */
  fitResidualPx: number;
}

/** Distances between two faces (render and original), pose removed, px at 512 px face scale, in the face's frontal plane. */
export interface FrameFidelity {
  /** Mean distance over the 40 lip points. */
  mouthPx: number;
  /** Mean distance over the 32 eyelid points. */
  eyesPx: number;
  /** Mean distance over the 468 mesh points. */
  facePx: number;
  /** |opening(render) - opening(original)|, the inner-lip vertical distance. */
  lipOpeningPx: number;
  renderLipOpeningPx: number;
  originalLipOpeningPx: number;
}

export interface FrameRetrack {
  /** Position in the input sequence. */
  index: number;
  render: RetrackedFace | null;
  original: RetrackedFace | null;
  /** Null when either side has no face. */
  fidelity: FrameFidelity | null;
}

/** Means over the frames where both sides have a face (NaN when there is none). */
export interface FidelitySummary {
  frames: number;
  facesFound: { render: number; original: number };
  /** Frames with a face on both sides: the means are over these. */
  comparedFrames: number;
  mouthPx: number;
  eyesPx: number;
  facePx: number;
  lipOpeningPx: number;
}

export interface FidelityResult extends FidelitySummary {
  perFrame: FrameRetrack[];
  /** FaceLandmarker's delegate in the page ('CPU' unless asked otherwise). */
  delegate: string;
  /** Mean FaceLandmarker time per image in the page, ms. */
  trackerMsPerImage: number;
}

export interface RetrackerOptions {
  /** face_landmarker.task (the CLI's VOXFACE_FACE_MODEL). */
  faceModelPath: string;
  /** Default VOXFACE_CHROMIUM or /usr/bin/chromium. */
  chromiumPath?: string;
  /** 'CPU' (default): the same figures on every machine. */
  delegate?: 'CPU' | 'GPU';
  signal?: AbortSignal;
}

/** retrackFidelity's own options, beside a Retracker's (or an open `retracker`). */
export interface RetrackBatchOptions {
  /** Pairs sent to the page at once (default 8, at most RETRACK_MAX_BATCH / 2). */
  batchPairs?: number;
  /** Called after each batch with the frames done so far. */
  onProgress?: (done: number) => void;
}
