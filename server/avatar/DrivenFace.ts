/**
 * What the avatar should show now, from a peer's coefficient stream, with the
 * graceful behaviour a call needs:
 * - `waiting`: no coefficients yet: a neutral face, facing the camera.
 * - `live`: the newest smoothed frame.
 * - `lost`: the sender says no face is found: hold the last pose and relax the
 *   expression to neutral (exponentially, time constant `relaxMs`).
 * - `stalled`: nothing at all arrived for `stallMs`: freeze (the renderer may keep
 *   sending its last frame) and flag it, so the UI can say so.
 */
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import type { Quaternion, Vec3 } from '../../shared/coefficients/pose';
import type { CoefficientStream } from '../coefficients/CoefficientStream';

export type DrivenFaceStatus = 'waiting' | 'live' | 'lost' | 'stalled';

export interface FaceState {
  status: DrivenFaceStatus;
  blendshapes: Float32Array;
  rotation: Quaternion;
  translationCm: Vec3;
  /** ms since the newest packet arrived (null before any). */
  ageMs: number | null;
  /** Sequence number of the newest packet the face reflects (null before any). */
  sequence: number | null;
  /** The smoothed expression code of code packets (values in [-1, 1]); null or absent: blendshapes alone. */
  code?: Float32Array | null;
}

export interface DrivenFaceOptions {
  stallMs?: number;
  relaxMs?: number;
  /** Where a face that never arrived sits: in front of the camera, cm. */
  neutralTranslationCm?: Vec3;
}

export class DrivenFace {
  readonly #stream: CoefficientStream;
  readonly #stallMs: number;
  readonly #relaxMs: number;
  readonly #state: FaceState;
  #lostSinceMs: number | null = null;
  readonly #lostFrom = new Float32Array(BLENDSHAPE_COUNT);

  constructor(stream: CoefficientStream, options: DrivenFaceOptions = {}) {
    this.#stream = stream;
    this.#stallMs = options.stallMs ?? 2000;
    this.#relaxMs = options.relaxMs ?? 400;
    if (!(this.#stallMs > 0) || !(this.#relaxMs > 0)) throw new RangeError('stallMs and relaxMs must be positive');
    this.#state = {
      status: 'waiting',
      blendshapes: new Float32Array(BLENDSHAPE_COUNT),
      rotation: [0, 0, 0, 1],
      translationCm: options.neutralTranslationCm ?? [0, 0, -40],
      ageMs: null,
      sequence: null,
      code: null,
    };
  }

  /** The face to render at `nowMs` (the same object, updated in place: no allocation per frame). */
  at(nowMs: number): Readonly<FaceState> {
    const state = this.#state;
    const newest = this.#stream.newest();
    const age = this.#stream.ageMs(nowMs);
    state.ageMs = age;
    if (!newest || age === null) return state;
    state.sequence = newest.sequence;
    if (age > this.#stallMs) {
      state.status = 'stalled';
      return state;
    }
    const smoothed = newest.facePresent ? this.#stream.smoothed(nowMs) : null;
    if (smoothed) {
      state.status = 'live';
      this.#lostSinceMs = null;
      state.blendshapes.set(smoothed.blendshapes);
      state.rotation = smoothed.rotation;
      state.translationCm = smoothed.translationCm;
      state.code = smoothed.code;
      return state;
    }
    if (this.#lostSinceMs === null) {
      this.#lostSinceMs = nowMs;
      this.#lostFrom.set(state.blendshapes);
    }
    state.status = 'lost';
    // A code of 0 is the blendshape avatar: the expression relaxes with the scores.
    state.code = null;
    const keep = Math.exp(-(nowMs - this.#lostSinceMs) / this.#relaxMs);
    for (let i = 0; i < BLENDSHAPE_COUNT; i++) state.blendshapes[i] = this.#lostFrom[i]! * keep;
    return state;
  }
}
