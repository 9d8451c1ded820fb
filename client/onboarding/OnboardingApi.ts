/**
 * The onboarding server as the capture page sees it (docs/onboarding.md): the
 * REST calls under /api/onboarding with the onboarding token as a bearer token, and
 * the `/onboarding` socket.io namespace that pushes training progress and
 * preview renders to the avatar's owner.
 */
import { io, type Socket } from 'socket.io-client';
import type { QualityPoint, TrainingJob } from '../../shared/onboarding/TrainingJobTypes';
import type { CropWindow } from '../../shared/dataset/format';
import { fetchDevTokens } from '../sdk/devTokens';
import { ApiError, refusalOf } from './ApiError';
import { classifyUploadResponse, parseRetryAfter, type SendResult } from './FrameUploader';

export type { QualityPoint };

/** The "usable early" fields: optional, so a job recorded before they existed (or an older server) still reads. */
type UsableFields = 'usable' | 'installedPsnr' | 'installs' | 'usablePsnr' | 'baselinePsnr' | 'quality';

/**
 * A training job as the server shows it to its owner (no server paths, pid or
 * trainer stderr). Without `usable`, an avatar becomes usable when its job is done.
 */
export type OnboardingJob =
  Omit<TrainingJob, 'dataset' | 'workDir' | 'pid' | 'stderrTail' | UsableFields> & Partial<Pick<TrainingJob, UsableFields>>;

/** A render of a held-out frame beside its ground truth. */
export interface PreviewEvent {
  jobId: string;
  avatarId: string;
  step: number;
  psnr: number | null;
  elapsedMs: number;
  png: ArrayBuffer | ArrayBufferView | Blob;
}

export interface CaptureSource {
  width: number;
  height: number;
  fps: number;
}

/** What the page reads of the server's limits (the server sends more). */
export interface SessionLimits {
  minFaceFrames?: number;
  maxFramesPerSession?: number;
}


export type ProgressConnection = 'connected' | 'disconnected' | 'unauthorized' | 'unavailable';

export interface ProgressHandlers {
  jobs: (jobs: OnboardingJob[]) => void;
  progress: (job: OnboardingJob) => void;
  preview: (preview: PreviewEvent) => void;
  connection: (state: ProgressConnection, detail: string) => void;
}

/** Tries of a JSON call on network errors, 5xx and 429 (the calls are idempotent or answer the same when repeated). */
const JSON_ATTEMPTS = 4;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const isJob = (value: unknown): value is OnboardingJob =>
  typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string'
  && typeof (value as { avatarId?: unknown }).avatarId === 'string' && typeof (value as { progress?: unknown }).progress === 'object';

/**
 * The page's tokens: the link's (`token`: onboarding; `callToken`: joining `room`, for the
 * link to the call, optional), else (dev mode only) both minted for this browser's user.
 */
export async function fetchPageTokens(room: string, given: { onboarding: string | null; call: string | null }): Promise<{ onboarding: string; call: string | null }> {
  if (given.onboarding) return { onboarding: given.onboarding, call: given.call };
  const tokens = await fetchDevTokens(room);
  return { onboarding: tokens.onboardingToken, call: tokens.callToken };
}

export class OnboardingApi {
  readonly token: string;
  readonly #base: string;

  constructor(token: string, base = '/api/onboarding') {
    this.token = token;
    this.#base = base;
  }

  createSession(source: CaptureSource, crop: CropWindow): Promise<{ session: { id: string }; limits: SessionLimits }> {
    return this.#json('POST', '/sessions', { source, crop });
  }

  /** The frame indices the server has stored for the session. */
  async storedFrames(sessionId: string): Promise<number[]> {
    const reply = await this.#json<{ frames: number[] }>('GET', `/sessions/${encodeURIComponent(sessionId)}`);
    return reply.frames;
  }

  async putFrame(sessionId: string, index: number, body: Uint8Array): Promise<SendResult> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/sessions/${encodeURIComponent(sessionId)}/frames/${index}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream' },
        body: body as Uint8Array<ArrayBuffer>,
      });
    } catch (error) {
      return { kind: 'retry', reason: `network: ${error instanceof Error ? error.message : String(error)}`, retryAfterMs: null };
    }
    const json: unknown = await response.json().catch(() => undefined);
    return classifyUploadResponse(response.status, response.headers.get('retry-after'), json);
  }

  /** One plate sample (PUT /sessions/:id/plates/:index), answered like a frame upload. */
  async putPlate(sessionId: string, index: number, body: Uint8Array): Promise<SendResult> {
    let response: Response;
    try {
      response = await fetch(`${this.#base}/sessions/${encodeURIComponent(sessionId)}/plates/${index}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream' },
        body: body as Uint8Array<ArrayBuffer>,
      });
    } catch (error) {
      return { kind: 'retry', reason: `network: ${error instanceof Error ? error.message : String(error)}`, retryAfterMs: null };
    }
    const json: unknown = await response.json().catch(() => undefined);
    return classifyUploadResponse(response.status, response.headers.get('retry-after'), json);
  }

  finish(sessionId: string, frameCount: number): Promise<{ avatarId: string; job: OnboardingJob }> {
    // 409 `finishing`: an earlier try whose answer was lost is still writing the dataset; the next answers it.
    return this.#json('POST', `/sessions/${encodeURIComponent(sessionId)}/finish`, { frameCount }, (e) => e.code === 'finishing');
  }

  async deleteSession(sessionId: string): Promise<void> {
    await this.#json('DELETE', `/sessions/${encodeURIComponent(sessionId)}`);
  }

  async job(jobId: string): Promise<OnboardingJob> {
    return (await this.#json<{ job: OnboardingJob }>('GET', `/jobs/${encodeURIComponent(jobId)}`)).job;
  }

  /** Progress pushed by the server; socket.io reconnects by itself after a drop (not after a refusal). */
  connectProgress(handlers: ProgressHandlers): Socket {
    const socket = io(`${location.origin}/onboarding`, { auth: { token: this.token }, transports: ['websocket'] });
    socket.on('connect', () => handlers.connection('connected', ''));
    socket.on('disconnect', (reason: string) => {
      handlers.connection('disconnected', reason);
      // A server that ends the session on purpose is not retried by socket.io; a restarting one comes back.
      if (reason === 'io server disconnect') setTimeout(() => { if (!socket.connected) socket.connect(); }, 2000);
    });
    socket.on('connect_error', (error: Error) => {
      if (error.message.startsWith('unauthorized')) {
        socket.close();
        handlers.connection('unauthorized', error.message);
      } else {
        // e.g. "Invalid namespace" from a server without the progress namespace: the page polls instead.
        handlers.connection('unavailable', error.message);
      }
    });
    // The token ran out: the server disconnects next, and reconnecting would be refused.
    socket.on('expired', (message: { message?: unknown } | undefined) => {
      socket.close();
      handlers.connection('unauthorized', typeof message?.message === 'string' ? message.message : 'onboarding token expired');
    });
    socket.on('jobs', (message: { jobs?: unknown }) => {
      if (Array.isArray(message?.jobs)) handlers.jobs(message.jobs.filter(isJob));
    });
    socket.on('progress', (message: { job?: unknown }) => {
      if (isJob(message?.job)) handlers.progress(message.job);
    });
    socket.on('preview', (message: Partial<PreviewEvent> | undefined) => {
      if (message && typeof message.jobId === 'string' && message.png) handlers.preview(message as PreviewEvent);
    });
    return socket;
  }

  async #json<T>(method: string, path: string, body?: unknown, retryAlso?: (error: ApiError) => boolean): Promise<T> {
    let last: ApiError = new ApiError(0, 'network', 'no attempt made');
    for (let attempt = 1; attempt <= JSON_ATTEMPTS; attempt += 1) {
      let retryAfterMs: number | null = null;
      try {
        const response = await fetch(`${this.#base}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (response.status === 204) return undefined as T;
        const json: unknown = await response.json().catch(() => undefined);
        if (response.ok) return json as T;
        const refusal = refusalOf(response.status, json);
        last = new ApiError(response.status, refusal.code, refusal.message);
        const transient = (response.status === 429 && last.code === 'rate_limited') || response.status >= 500 || (retryAlso?.(last) ?? false);
        if (!transient) throw last;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      } catch (error) {
        if (error instanceof ApiError) throw error;
        last = new ApiError(0, 'network', `cannot reach the server: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (attempt < JSON_ATTEMPTS) await sleep(Math.max(retryAfterMs ?? 0, 1000 * 2 ** (attempt - 1)));
    }
    throw last;
  }
}
