/**
 * Which camera frames the tracker takes under a rate cap. Frames are due on a grid of
 * 1000 / maxFps ms, and the camera frame nearest each grid point is taken (half a camera
 * frame of slack either side), not "the first frame that long after the last one". Camera
 * frames come early or late (Chromium's fake 30 fps camera: by 5-10 ms), and with frames up
 * to 8 ms off that spacing takes 10 frames/s at a cap of 12, 16.9 at 25 and 20.6 at 30,
 * where the grid takes 12, 25 and 30 (CaptureGrid.test.ts). More than one interval behind
 * (the tracker was stopped, the tab hidden), the grid restarts at the frame taken instead
 * of bursting to catch up.
 */
export class CaptureGrid {
  #maxFps: number;
  #nextDueAt = -Infinity;
  #lastFrameAt = -Infinity;
  /** The camera's frame interval, a running mean (ms); 30 fps until measured. */
  #frameGapMs = 1000 / 30;

  constructor(maxFps: number) {
    this.#maxFps = checkMaxFps(maxFps);
  }

  get maxFps(): number {
    return this.#maxFps;
  }

  set maxFps(fps: number) {
    this.#maxFps = checkMaxFps(fps);
  }

  /** Called with every camera frame's arrival time (ms, monotonic): whether to track it. */
  take(nowMs: number): boolean {
    const gap = nowMs - this.#lastFrameAt;
    this.#lastFrameAt = nowMs;
    if (gap > 0 && gap < 1000) this.#frameGapMs += 0.1 * (gap - this.#frameGapMs);
    const interval = 1000 / this.#maxFps;
    if (nowMs < this.#nextDueAt - Math.min(interval, this.#frameGapMs) / 2) return false;
    this.#nextDueAt = (nowMs - this.#nextDueAt > interval ? nowMs : this.#nextDueAt) + interval;
    return true;
  }
}

function checkMaxFps(fps: number): number {
  if (!(fps > 0 && fps <= 60)) throw new RangeError(`maxFps must be in (0, 60], not ${fps}`);
  return fps;
}
