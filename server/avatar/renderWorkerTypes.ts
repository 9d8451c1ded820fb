/** Messages between an AvatarSession's WorkerFrameRenderer and its render thread. */
import type { FaceState } from './DrivenFace';

export interface RenderWorkerInit {
  avatarPath: string;
  width: number;
  height: number;
  /** width*height*4 bytes the thread renders into. */
  output: SharedArrayBuffer;
  /** Rays per output pixel per axis (LIVE's unless set). */
  renderScale?: number;
}

export interface RenderWorkerRequest {
  face: Pick<FaceState, 'blendshapes' | 'rotation' | 'translationCm'>;
}

export type RenderWorkerReply =
  | { type: 'ready'; expressionCount: number }
  | { type: 'frame'; renderMs: number }
  | { type: 'error'; message: string };
