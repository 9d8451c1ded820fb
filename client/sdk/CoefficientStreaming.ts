/**
 * "Send my face as coefficients": tracks the camera with FaceTracker and streams
 * each tracked frame to the server over an unordered, no-retransmit data channel.
 */
import { BLENDSHAPE_NAMES } from '../../shared/coefficients/blendshapes';
import { CoefficientSender, type CoefficientSenderStats } from '../tracking/CoefficientSender';
import { FaceTracker, type FaceTrackerStats } from '../tracking/FaceTracker';
import type { FaceTrackerOptions, TrackedFace } from '../tracking/FaceTrackerTypes';
import type { VoxfaceRoom } from './VoxfaceRoom';

/** appData.source that tells the server this data producer carries coefficients. */
export const COEFFICIENT_SOURCE = 'coefficients';

export interface CoefficientStreamingOptions extends Partial<FaceTrackerOptions> {
  /** Server origin the model and wasm are served from; defaults to the page's origin. */
  serverUrl?: string;
}

export interface StreamingReadout {
  tracker: FaceTrackerStats;
  sender: CoefficientSenderStats;
  facePresent: boolean;
  /** The strongest blendshapes of the newest frame, name and score. */
  strongest: { name: string; score: number }[];
}

export class CoefficientStreaming {
  readonly tracker: FaceTracker;
  readonly sender: CoefficientSender;
  #lastFace?: TrackedFace;
  #closed = false;
  readonly #close: () => Promise<void>;

  private constructor(tracker: FaceTracker, sender: CoefficientSender, close: () => Promise<void>) {
    this.tracker = tracker;
    this.sender = sender;
    this.#close = close;
    tracker.on('face', (face) => {
      this.#lastFace = face;
      sender.onFace(face);
    });
  }

  static async start(room: VoxfaceRoom, cameraTrack: MediaStreamTrack, options: CoefficientStreamingOptions = {}): Promise<CoefficientStreaming> {
    const origin = options.serverUrl ?? location.origin;
    const tracker = await FaceTracker.create({
      wasmBaseUrl: `${origin}/mediapipe/wasm`,
      modelUrl: `${origin}/models/face_landmarker.task`,
      ...options,
    });
    // Track no faster than the avatar renders (the server says its rate, and lowers it under
    // load); without an avatar, at the rate asked for.
    const ownMaxFps = tracker.stats().maxFps;
    const followAvatar = ({ fps }: { fps: number | null }) => {
      tracker.setMaxFps(fps === null || !(fps > 0) ? ownMaxFps : Math.min(ownMaxFps, fps));
    };
    room.on('avatarFrameRate', followAvatar);
    let dataProducer;
    try {
      dataProducer = await room.produceData({
        ordered: false,
        maxRetransmits: 0,
        label: 'voxface-coefficients',
        protocol: 'voxface-coefficients/1',
        appData: { source: COEFFICIENT_SOURCE },
      });
    } catch (error) {
      room.off('avatarFrameRate', followAvatar);
      tracker.close();
      throw error;
    }
    const sender = new CoefficientSender(dataProducer);
    const streaming = new CoefficientStreaming(tracker, sender, async () => {
      room.off('avatarFrameRate', followAvatar);
      tracker.close();
      sender.close();
      await room.closeDataProducer(dataProducer);
    });
    tracker.start(cameraTrack);
    return streaming;
  }

  readout(count = 3): StreamingReadout {
    const face = this.#lastFace;
    const strongest = face?.facePresent
      ? [...face.blendshapes].map((score, i) => ({ name: BLENDSHAPE_NAMES[i] ?? String(i), score }))
        .filter((b) => b.name !== '_neutral').sort((a, b) => b.score - a.score).slice(0, count)
      : [];
    return { tracker: this.tracker.stats(), sender: this.sender.stats(), facePresent: face?.facePresent ?? false, strongest };
  }

  /** Stops tracking and closes the stream here and on the server. */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#close();
  }
}
