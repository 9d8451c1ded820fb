/**
 * Follows one training job after the session is finished: progress and
 * previews pushed over the `/onboarding` socket, with polling of
 * GET /jobs/:id while the socket is not connected (a server without the
 * namespace, or the gaps while socket.io reconnects). Keeps
 * `window.voxfaceOnboarding` (job, previews, joinUrl, state) up to date.
 */
import type { Socket } from 'socket.io-client';
import type { OnboardingApi, OnboardingJob } from './OnboardingApi';
import { logEvent, setState, type OnboardingStatus } from './onboardingStatus';
import { isUsable, type ProgressView } from './progressView';

/** How often the job is fetched while the progress socket is unavailable. */
const POLL_MS = 4000;

export interface FollowerHooks {
  /** The page's state changed to one of these (the hook updates the texts for people). */
  onState: (state: 'training' | 'usable' | 'done') => void;
  /** The job failed or was cancelled, with its reason. */
  onFailed: (message: string) => void;
}

export class TrainingFollower {
  readonly #api: OnboardingApi;
  readonly #status: OnboardingStatus;
  readonly #view: ProgressView;
  readonly #room: string;
  readonly #hooks: FollowerHooks;
  #socket: Socket | null = null;
  #pollTimer: ReturnType<typeof setInterval> | undefined;

  constructor(api: OnboardingApi, status: OnboardingStatus, view: ProgressView, room: string, hooks: FollowerHooks) {
    this.#api = api;
    this.#status = status;
    this.#view = view;
    this.#room = room;
    this.#hooks = hooks;
  }

  /** Shows `job` (the finish answer) and follows it until it ends. */
  follow(job: OnboardingJob): void {
    this.stop();
    const status = this.#status;
    const jobId = job.id;
    status.progressVia = 'polling';
    this.#onJob(job);
    if (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled') return;
    this.#socket = this.#api.connectProgress({
      jobs: (jobs) => { const mine = jobs.find((j) => j.id === jobId); if (mine) this.#onJob(mine); },
      progress: (update) => { if (update.id === jobId) this.#onJob(update); },
      preview: (preview) => {
        if (preview.jobId !== jobId) return;
        status.previews += 1;
        logEvent(status, `preview:${preview.step}`);
        this.#view.showPreview(preview);
      },
      connection: (state, detail) => {
        logEvent(status, `socket:${state}${detail ? `:${detail}` : ''}`);
        status.progressVia = state === 'connected' ? 'socket' : 'polling';
      },
    });
    this.#pollTimer = setInterval(() => {
      if (status.progressVia !== 'polling') return;
      this.#api.job(jobId).then(
        (update) => this.#onJob(update),
        (error: unknown) => logEvent(status, `poll-failed:${error instanceof Error ? error.message : String(error)}`),
      );
    }, POLL_MS);
  }

  stop(): void {
    // Our own close is not a lost connection: no handler should report it.
    this.#socket?.removeAllListeners();
    this.#socket?.close();
    this.#socket = null;
    clearInterval(this.#pollTimer);
    this.#status.progressVia = null;
  }

  #onJob(job: OnboardingJob): void {
    const status = this.#status;
    if (job.id !== status.jobId) return;
    // Socket pushes and poll answers may cross: never step back to an older record.
    if (status.job && job.updatedAt < status.job.updatedAt) return;
    if (status.job?.progress.stage !== job.progress.stage) logEvent(status, `stage:${job.progress.stage}`);
    status.job = job;
    this.#view.showJob(job);
    if (isUsable(job) && status.avatarId && !status.joinUrl) {
      const query = new URLSearchParams({ room: this.#room, ...(status.callToken ? { token: status.callToken } : {}), avatar: status.avatarId, autojoin: '1' });
      status.joinUrl = `/?${query.toString()}`;
      this.#view.showJoin(status.joinUrl);
      logEvent(status, 'usable');
    }
    if (job.state === 'failed' || job.state === 'cancelled') {
      this.stop();
      this.#hooks.onFailed(job.error ?? `training ${job.state}`);
      return;
    }
    const state = job.state === 'done' ? 'done' : isUsable(job) ? 'usable' : 'training';
    if (state === 'done') this.stop();
    if (status.state !== state) {
      setState(status, state);
      this.#hooks.onState(state);
    }
  }
}
