/**
 * One Euro filter (Casiez, Roussel & Vogel, CHI 2012) over a fixed number of
 * channels sharing one timestamp per sample.
 *
 * A first-order low-pass whose cutoff rises with the signal's speed: slow
 * movements get a low cutoff (little jitter), fast ones a high cutoff (little
 * lag). Per channel:
 *   dx̂  = lowpass((x - x̂_prev) / dt, alpha(dCutoff))
 *   fc  = minCutoff + beta · |dx̂|
 *   x̂   = lowpass(x, alpha(fc)),   alpha(f) = 1 / (1 + 1 / (2π f dt))
 */
export interface OneEuroParams {
  /** Cutoff in Hz when the signal is still; lower means smoother but laggier. */
  minCutoff: number;
  /** How fast the cutoff rises with speed (Hz per unit/s); higher means less lag on fast motion. */
  beta: number;
  /** Cutoff in Hz for the speed estimate itself. */
  dCutoff: number;
}

function smoothingFactor(cutoffHz: number, dtSec: number): number {
  const timeConstant = 1 / (2 * Math.PI * cutoffHz);
  return 1 / (1 + timeConstant / dtSec);
}

export class OneEuroFilter {
  readonly channels: number;
  private readonly params: OneEuroParams;
  private readonly value: Float64Array;
  private readonly derivative: Float64Array;
  private lastTimestampSec: number | null = null;

  constructor(channels: number, params: OneEuroParams) {
    if (!Number.isInteger(channels) || channels < 1) {
      throw new RangeError(`channels must be a positive integer; got ${channels}`);
    }
    const { minCutoff, beta, dCutoff } = params;
    if (!(Number.isFinite(minCutoff) && minCutoff > 0)) {
      throw new RangeError(`minCutoff must be a positive finite number of Hz; got ${minCutoff}`);
    }
    if (!(Number.isFinite(beta) && beta >= 0)) {
      throw new RangeError(`beta must be a non-negative finite number; got ${beta}`);
    }
    if (!(Number.isFinite(dCutoff) && dCutoff > 0)) {
      throw new RangeError(`dCutoff must be a positive finite number of Hz; got ${dCutoff}`);
    }
    this.channels = channels;
    this.params = { minCutoff, beta, dCutoff };
    this.value = new Float64Array(channels);
    this.derivative = new Float64Array(channels);
  }

  /** True until the first sample, and again after reset(). */
  get isEmpty(): boolean {
    return this.lastTimestampSec === null;
  }

  /**
   * Filters one sample taken at `timestampSec` and returns a copy of the
   * filtered values. The first sample passes through unchanged. A sample whose
   * timestamp does not advance carries no timing information, so it leaves
   * the state alone and the previous output is returned.
   */
  filter(values: ArrayLike<number>, timestampSec: number): Float64Array {
    if (values.length !== this.channels) {
      throw new RangeError(`expected ${this.channels} values; got ${values.length}`);
    }
    if (!Number.isFinite(timestampSec)) {
      throw new TypeError(`timestampSec must be a finite number; got ${timestampSec}`);
    }
    if (this.lastTimestampSec === null) {
      for (let i = 0; i < this.channels; i++) this.value[i] = values[i] ?? 0;
      this.derivative.fill(0);
      this.lastTimestampSec = timestampSec;
      return this.value.slice();
    }
    const dtSec = timestampSec - this.lastTimestampSec;
    if (dtSec <= 0) return this.value.slice();
    this.lastTimestampSec = timestampSec;

    const { minCutoff, beta, dCutoff } = this.params;
    const derivativeAlpha = smoothingFactor(dCutoff, dtSec);
    for (let i = 0; i < this.channels; i++) {
      const previous = this.value[i] ?? 0;
      const raw = values[i] ?? 0;
      const speed = (raw - previous) / dtSec;
      const smoothedSpeed = (this.derivative[i] ?? 0) + derivativeAlpha * (speed - (this.derivative[i] ?? 0));
      this.derivative[i] = smoothedSpeed;
      const alpha = smoothingFactor(minCutoff + beta * Math.abs(smoothedSpeed), dtSec);
      this.value[i] = previous + alpha * (raw - previous);
    }
    return this.value.slice();
  }

  /** Forgets all state; the next sample passes through unchanged. */
  reset(): void {
    this.lastTimestampSec = null;
    this.value.fill(0);
    this.derivative.fill(0);
  }
}
