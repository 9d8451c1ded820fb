/**
 * What stands by on the SFU node while another process hosts a peer's avatar
 * (AvatarService's `hosting`), so that a fallback after the host's loss shows the avatar
 * within seconds (docs/cluster.md, "Render nodes").
 */
import type { types } from 'mediasoup';
import type { CoefficientStream } from '../coefficients/CoefficientStream';
import { Logger } from '../Logger';
import type { AvatarSessionOptions } from './AvatarSession';
import { DrivenFace } from './DrivenFace';
import type { FrameRenderer } from './FrameRendererTypes';
import { VideoInjector } from './VideoInjector';

const logger = new Logger('AvatarService');

export interface StandbyTarget {
  router: types.Router;
  peerId: string;
  renderer: FrameRenderer;
  /** The peer's coefficient stream (the warm frame is drawn from it). */
  stream: CoefficientStream | undefined;
  /** Whether one more encoder is within the server's cap. */
  encoderAllowed: boolean;
}

/**
 * Warms the standing-by renderer with one frame, unused: a render process's first frame
 * takes 2-3x a later one (155 ms against 66 ms idle; 1.7 s on a loaded 2-core machine),
 * and a fallback's first frame waits on it. Starts an encoder to stand by too, its
 * producer not announced (an idle ffmpeg: memory, no CPU): ffmpeg's start to its first
 * packet took 0.7 s, and 3.4 s beside two browsers, of a fallback's pause. Resolves with
 * that encoder (undefined when none could start or the cap leaves no room).
 */
export function standBy(target: StandbyTarget, options: AvatarSessionOptions): Promise<VideoInjector | undefined> | undefined {
  const { renderer, stream } = target;
  if (stream) renderer.render(new DrivenFace(stream, { stallMs: options.stallMs ?? 2000 }).at(Date.now())).catch(() => undefined);
  if (!target.encoderAllowed) return undefined;
  return VideoInjector.create({
    router: target.router, width: renderer.width, height: renderer.height, fps: options.fps,
    codec: options.codec, bitrateKbps: options.bitrateKbps, appData: { peerId: target.peerId, source: 'avatar' },
  }).catch((error: unknown) => {
    logger.warn(`no encoder stands by for ${target.peerId}'s hosted avatar: ${String(error)}`);
    return undefined;
  });
}
