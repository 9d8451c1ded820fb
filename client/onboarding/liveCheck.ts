/**
 * The live check before recording: tracks the camera about ten times a
 * second, shows whether the face is found, lit and placed well, and returns
 * the crop for the recording (decided from the last second of face boxes)
 * once the newcomer presses Start, or at once with `autostart`.
 */
import type { FrameCapture } from '../capture/FrameCapture';
import { landmarkBox, type Box } from '../../shared/dataset/cropWindow';
import type { CropWindow } from '../../shared/dataset/format';
import { CheckWindow, meanLuma, type CheckSample, type LiveVerdict } from './captureGuide';

/** Tracking rate of the check: enough for a one-second window, light on a 2-core machine. */
const CHECK_INTERVAL_MS = 100;
/** Width the frame is scaled to for the light check (the mean needs no detail). */
const LUMA_WIDTH = 160;
/** Autostart waits this long for perfect light and framing before starting with a visible face anyway. */
const AUTOSTART_GRACE_MS = 3000;

const LIGHT_TEXT = { ok: 'Light: OK', dark: 'Light: too dark', bright: 'Light: too bright' } as const;
const FRAMING_TEXT = {
  ok: 'Position: OK',
  'off-centre': 'Position: move to the middle of the oval',
  'too-small': 'Position: come a little closer',
  'too-close': 'Position: move back a little',
} as const;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface LiveCheckElements {
  face: HTMLElement;
  light: HTMLElement;
  framing: HTMLElement;
  oval: HTMLElement;
  start: HTMLButtonElement;
}

export interface LiveCheckResult {
  crop: CropWindow;
  source: { width: number; height: number };
}

/** Mean luma of the face box, or of the frame's central half without a face. */
function lumaOf(frame: ImageBitmap, box: Box | null, canvas: OffscreenCanvas): number {
  const scale = LUMA_WIDTH / frame.width;
  canvas.width = LUMA_WIDTH;
  canvas.height = Math.max(1, Math.round(frame.height * scale));
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('2D canvas unavailable');
  context.drawImage(frame, 0, 0, canvas.width, canvas.height);
  const picture = context.getImageData(0, 0, canvas.width, canvas.height);
  const rect = box
    ? { x: box.minX * scale, y: box.minY * scale, width: (box.maxX - box.minX) * scale, height: (box.maxY - box.minY) * scale }
    : { x: canvas.width / 4, y: canvas.height / 4, width: canvas.width / 2, height: canvas.height / 2 };
  return meanLuma(picture, rect, 1);
}

function show(elements: LiveCheckElements, verdict: LiveVerdict): void {
  const mark = (element: HTMLElement, ok: boolean, text: string) => {
    element.dataset.ok = String(ok);
    element.textContent = text;
  };
  mark(elements.face, verdict.faceFound, verdict.faceFound ? 'Face: found' : 'Face: not found');
  mark(elements.light, verdict.light === 'ok', verdict.light ? LIGHT_TEXT[verdict.light] : 'Light: –');
  mark(elements.framing, verdict.framing === 'ok', verdict.framing ? FRAMING_TEXT[verdict.framing] : 'Position: –');
  elements.oval.dataset.ok = String(verdict.good);
  elements.start.disabled = !verdict.ready;
}

export class LiveCheck {
  readonly #capture: FrameCapture;
  readonly #video: HTMLVideoElement;
  readonly #elements: LiveCheckElements;
  readonly #canvas = new OffscreenCanvas(LUMA_WIDTH, LUMA_WIDTH);
  #startRequested = false;
  #stopped = false;

  constructor(capture: FrameCapture, video: HTMLVideoElement, elements: LiveCheckElements) {
    this.#capture = capture;
    this.#video = video;
    this.#elements = elements;
    elements.start.addEventListener('click', () => { this.#startRequested = true; });
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Checks until the newcomer (or autostart) starts; `onVerdict` sees every tracked frame's verdict. */
  async run(autostart: boolean, onVerdict: (verdict: LiveVerdict) => void): Promise<LiveCheckResult> {
    this.#startRequested = false;
    this.#stopped = false;
    let checks: CheckWindow | null = null;
    let readySince: number | null = null;
    for (let next = performance.now(); !this.#stopped; next += CHECK_INTERVAL_MS) {
      await sleep(Math.max(0, next - performance.now()));
      next = Math.max(next, performance.now() - CHECK_INTERVAL_MS); // after a stall, no burst of catch-up ticks
      if (this.#video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) continue;
      const frame = await createImageBitmap(this.#video);
      let sample: CheckSample;
      try {
        if (!checks || frame.width !== checks.frameWidth || frame.height !== checks.frameHeight) {
          // First frame, or the camera changed resolution: boxes of another size cannot share a crop.
          checks = new CheckWindow(frame.width, frame.height);
        }
        const face = this.#capture.track(frame);
        const box = face.facePresent && face.landmarks ? landmarkBox(face.landmarks, frame.width, frame.height) : null;
        sample = { timeMs: performance.now(), box, luma: lumaOf(frame, box, this.#canvas) };
      } finally {
        frame.close();
      }
      checks.add(sample);
      const verdict = checks.verdict;
      show(this.#elements, verdict);
      onVerdict(verdict);
      readySince = verdict.ready ? readySince ?? sample.timeMs : null;
      const autoGo = autostart && readySince !== null && (verdict.good || sample.timeMs - readySince >= AUTOSTART_GRACE_MS);
      // A click stays requested while the face is briefly lost: recording starts when it is back.
      if (verdict.ready && (this.#startRequested || autoGo)) {
        this.#elements.start.disabled = true;
        return { crop: checks.crop(), source: { width: checks.frameWidth, height: checks.frameHeight } };
      }
    }
    throw new Error('live check stopped');
  }
}
