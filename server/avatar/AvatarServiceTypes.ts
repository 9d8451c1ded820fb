/** The AvatarService's options, events, caps and figures. */
import type { BackgroundChoice } from '../../shared/signaling/background';
import type { RenderBackground } from '../engine/AvatarPlates';
import type { Peer } from '../rooms/Peer';
import type { Room } from '../rooms/Room';
import type { AvatarSession, AvatarSessionOptions } from './AvatarSession';
import type { FrameRenderer } from './FrameRendererTypes';

/** The picture a renderer makes: its size and what shows behind the person. */
export interface RenderView {
  width: number;
  height: number;
  background: RenderBackground;
}

/**
 * Loads an avatar and returns a renderer for it (throws a clear error for a bad file).
 * Aborting `signal` abandons the load (a later request replaced it): the renderer's
 * process is ended and the promise rejects.
 */
export type RendererFactory = (avatarId: string, view: RenderView, signal?: AbortSignal) => Promise<FrameRenderer>;

/** What one server may run at once; each refusal is a signaling error of its own code. */
export interface AvatarLimits {
  /** Avatar sessions (peers with an avatar, started or waiting for their stream): 'avatar-session-limit'. */
  maxSessions: number;
  /** Avatar sessions of one peer id across rooms (a peer has one per room): 'avatar-peer-limit'. */
  maxSessionsPerPeer: number;
  /** Render processes (loading, rendering, or a new version loading): 'render-process-limit'. */
  maxRenderProcesses: number;
  /** Video encoder (ffmpeg) processes: 'encoder-limit'. */
  maxEncoders: number;
}

export interface AvatarUsage {
  sessions: number;
  /** Sessions whose frames the CPU or a GPU draws now, and the median of their render ms p50s (0 with none). */
  byBackend: { readonly [B in 'cpu' | 'gpu']: { sessions: number; renderMsP50: number } };
  renderProcesses: number;
  encoders: number;
  limits: AvatarLimits;
}

/**
 * An avatar session hosted by another process (a render node, server/cluster/render/):
 * its video comes into the room as the peer's avatar producer, as a local session's does.
 */
export interface HostedAvatarSession {
  /** Ends it on its host (idempotent); its video producer here closes. */
  close(reason: string): void;
  /** Asks the host to load the stored version of the avatar anew (train-on-join installed one). */
  reload(): Promise<boolean>;
  /** Called once if it ends without close() (its host died or failed it): the service renders it here then. */
  onEnded(listener: (reason: string) => void): void;
}

/** Places avatar sessions elsewhere; undefined (or a throw): the service renders here. */
export interface AvatarHosting {
  host(wish: { room: Room; peer: Peer; avatarId: string; background: RenderBackground }): Promise<HostedAvatarSession | undefined>;
}

export interface AvatarServiceOptions extends AvatarSessionOptions {
  /**
   * Where sessions may render instead of here (a cluster's render nodes). The service
   * still loads its own renderer for each avatar: a session whose host is lost falls
   * back to it at once.
   */
  hosting?: AvatarHosting;
  /** Throws (a SignalingError) when the peer's user may not drive `avatarId`. */
  authorize?: (userId: string, avatarId: string) => void;
  /**
   * An uploaded background image's stored file for its owner; throws (a SignalingError)
   * when `id` is not one of the user's. Without it, image backgrounds are refused.
   */
  backgroundImage?: (userId: string, id: string) => string;
  /**
   * The code length of `avatarId`'s expression encoder, null when it has none (or the
   * file cannot say): whether the peer's code packets can drive it (CoefficientStream.setCodeSize).
   * Without it every code packet is dropped as 'no-encoder'.
   */
  codeSizeOf?: (avatarId: string) => number | null;
  width: number;
  height: number;
  /** Busy render processes all sessions may use together (each session renders in its own); default 0.6 per core. */
  renderBudget?: number;
  /** The share of each frame interval a GPU tick (all of a device's sessions) may take; default 0.8. */
  gpuRenderBudget?: number;
  minFps?: number;
  /** Unset caps are unbounded. */
  limits?: Partial<AvatarLimits>;
}

export interface AvatarServiceEvents {
  [key: string]: unknown;
  sessionStarted: AvatarSession;
  sessionEnded: { roomId: string; peerId: string; reason: string };
  /** The scheduler changed the rendered-frame rate of every session on one backend (overload or recovery). */
  rateChanged: { backend: 'cpu' | 'gpu'; targetFps: number; load: number };
  /** A newer version of the avatar now renders for this peer. */
  avatarReloaded: { roomId: string; peerId: string; avatarId: string };
}
