/**
 * `window.voxfaceOnboarding`: the page's state as one plain, serialisable
 * object, so tests (page.evaluate) and people (the console) can follow a
 * capture from the camera check to a joinable avatar.
 */
import type { CropWindow } from '../../shared/dataset/format';
import type { FramingVerdict, LightVerdict } from './captureGuide';
import type { OnboardingJob } from './OnboardingApi';

export type OnboardingState =
  | 'starting' | 'checking' | 'recording' | 'uploading' | 'finishing' | 'training' | 'usable' | 'done' | 'failed';

export interface OnboardingStatus {
  state: OnboardingState;
  /** Frames captured in this recording (indices 0..framesCaptured-1). */
  framesCaptured: number;
  framesWithFace: number;
  /** Frames the server acknowledged. */
  framesUploaded: number;
  uploadRetries: number;
  sessionId: string | null;
  avatarId: string | null;
  jobId: string | null;
  /** The newest state of our training job. */
  job: OnboardingJob | null;
  /** Preview renders received. */
  previews: number;
  /** Where to join the call as the avatar, once it is usable. */
  joinUrl: string | null;
  /** Joins the room as this user (the link to the call carries it); null: the call page gets its own. */
  callToken: string | null;
  error: string | null;
  /** The live check's newest verdict. */
  live: { faceFound: boolean; light: LightVerdict | null; framing: FramingVerdict | null; ready: boolean };
  /** The fixed crop of the recording (camera pixels). */
  crop: CropWindow | null;
  /** Camera frame size. */
  source: { width: number; height: number } | null;
  /** How progress arrives: the socket, or polling while it is unavailable. */
  progressVia: 'socket' | 'polling' | null;
  /** A log: `state:<state>`, `session:<id>`, `retry:<index>`, `finished:<avatarId>`, `stage:<stage>`, `preview`, `error:<message>`, … */
  events: string[];
}

declare global {
  interface Window {
    voxfaceOnboarding: OnboardingStatus;
  }
}

/** Older entries are dropped so a long training run cannot grow the log without bound. */
const MAX_EVENTS = 500;

export function createStatus(): OnboardingStatus {
  const status: OnboardingStatus = {
    state: 'starting', framesCaptured: 0, framesWithFace: 0, framesUploaded: 0, uploadRetries: 0,
    sessionId: null, avatarId: null, jobId: null, job: null, previews: 0, joinUrl: null, callToken: null, error: null,
    live: { faceFound: false, light: null, framing: null, ready: false }, crop: null, source: null, progressVia: null,
    events: [],
  };
  window.voxfaceOnboarding = status;
  return status;
}

export function logEvent(status: OnboardingStatus, event: string): void {
  status.events.push(event);
  if (status.events.length > MAX_EVENTS) status.events.splice(0, status.events.length - MAX_EVENTS);
}

export function setState(status: OnboardingStatus, state: OnboardingState): void {
  if (status.state === state) return;
  status.state = state;
  logEvent(status, `state:${state}`);
  document.body.dataset.state = state;
}

/** Counters of one recording, cleared for "Record again". */
export function resetRecording(status: OnboardingStatus): void {
  Object.assign(status, {
    framesCaptured: 0, framesWithFace: 0, framesUploaded: 0, uploadRetries: 0, sessionId: null, avatarId: null,
    jobId: null, job: null, previews: 0, joinUrl: null, error: null, crop: null,
  });
}
