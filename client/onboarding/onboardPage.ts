/**
 * The guided capture page (onboard.html): camera check, a 30-60 s recording
 * with prompts, frames uploaded while they are captured, then training
 * progress until the avatar can be joined (docs/onboarding.md).
 *
 * URL parameters: room (default demo), token (an onboarding token) and callToken (a
 * call token for the room, put in the link to the call; else dev tokens are fetched),
 * seconds (8..60, default 40), fps (4..30, default 12), autostart=1 (start
 * recording as soon as the live check passes). `window.voxfaceOnboarding`
 * (onboardingStatus.ts) exposes the state for tests.
 */
import { uploadBackground } from '../sdk/backgrounds';
import { FrameCapture } from '../capture/FrameCapture';
import type { CropWindow } from '../../shared/dataset/format';
import { promptAt, promptSchedule } from './captureGuide';
import { FrameUploader } from './FrameUploader';
import { LiveCheck } from './liveCheck';
import { ApiError } from './ApiError';
import { fetchPageTokens, OnboardingApi } from './OnboardingApi';
import { createStatus, logEvent, resetRecording, setState } from './onboardingStatus';
import { ProgressView } from './progressView';
import { record } from './recorder';
import { TrainingFollower } from './TrainingFollower';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const clampParam = (name: string, fallback: number, min: number, max: number) => {
  const value = Number(params.get(name) ?? fallback);
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
};
const room = params.get('room') || 'demo';
const seconds = clampParam('seconds', 40, 8, 60);
const fps = clampParam('fps', 12, 4, 30);
const autostart = params.get('autostart') === '1';

/** Without a face for this long during recording, the page warns. */
const FACE_LOST_MS = 700;
/** drain → ask the server what it holds → re-send: rounds before giving up (the button can try again). */
const RESUME_ROUNDS = 3;

const status = createStatus();
// Background pictures go up with the onboarding token (the user's), for the join link.
const view = new ProgressView((picture) => uploadBackground({ token: api.token }, picture));
const video = $<HTMLVideoElement>('camera');
const stage = $<HTMLElement>('stage');
const cropBox = $<HTMLElement>('crop-box');
const promptLine = $<HTMLElement>('prompt');
const statusLine = $<HTMLElement>('status-line');
const recordingBar = $<HTMLElement>('recording-bar');
const recordProgress = $<HTMLProgressElement>('record-progress');
const secondsLeft = $<HTMLElement>('seconds-left');
const warning = $<HTMLElement>('warning');
const errorLine = $<HTMLElement>('error');
const againButton = $<HTMLButtonElement>('again');
const retryUploadButton = $<HTMLButtonElement>('retry-upload');

let api: OnboardingApi;
let capture: FrameCapture;
/** Set once the camera and tracker are up (boot); until then "Record again" boots again. */
let liveCheck: LiveCheck | undefined;
let camera: MediaStream | null = null;
let uploader: FrameUploader | null = null;
/** Plate sample uploads in flight or done (best effort: plates are optional, a lost one is one sample fewer). */
let plateUploads: Promise<void>[] = [];
let frameCount = 0;
let minFaceFrames: number | null = null;
let follower: TrainingFollower | undefined;

function say(text: string): void {
  statusLine.textContent = text;
}

function showWarning(text: string | null): void {
  warning.hidden = text === null;
  warning.textContent = text ?? '';
}

async function openCamera(): Promise<void> {
  if (camera) return;
  camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  video.srcObject = camera;
  document.body.classList.remove('camera-off');
  await video.play();
  if (video.videoWidth && video.videoHeight) stage.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
}

/** Frees the camera once the recording is in (the call, in another tab, will want it). */
function closeCamera(): void {
  camera?.getTracks().forEach((track) => track.stop());
  camera = null;
  video.srcObject = null;
  document.body.classList.add('camera-off');
}

function showCrop(crop: CropWindow | null, source: { width: number; height: number }): void {
  cropBox.hidden = crop === null;
  if (!crop) return;
  Object.assign(cropBox.style, {
    left: `${(crop.x / source.width) * 100}%`, top: `${(crop.y / source.height) * 100}%`,
    width: `${(crop.size / source.width) * 100}%`, height: `${(crop.size / source.height) * 100}%`,
  });
}

/** One recording, from the live check to a queued training job. */
async function runSession(): Promise<void> {
  resetRecording(status);
  view.reset();
  errorLine.hidden = true;
  againButton.hidden = true;
  retryUploadButton.hidden = true;
  if (!liveCheck) throw new Error('the face tracker is not running');
  await openCamera();
  setState(status, 'checking');
  say('Checking your camera picture');
  promptLine.textContent = 'Put your face in the oval, in even light.';
  const { crop, source } = await liveCheck.run(autostart, (verdict) => {
    status.live = { faceFound: verdict.faceFound, light: verdict.light, framing: verdict.framing, ready: verdict.ready };
  });
  status.crop = crop;
  status.source = source;
  showCrop(crop, source);
  // The session comes first: a refusal (e.g. too many open sessions) then costs no recording.
  const { session, limits } = await api.createSession({ ...source, fps }, crop);
  status.sessionId = session.id;
  minFaceFrames = limits.minFaceFrames ?? null;
  logEvent(status, `session:${session.id}`);
  uploader = new FrameUploader({
    send: (index, body) => api.putFrame(session.id, index, body),
    onChange: (stats) => { status.framesUploaded = stats.acknowledged; },
    onRetry: (index, reason) => {
      status.uploadRetries += 1;
      logEvent(status, `retry:${index}:${reason}`);
    },
  });
  plateUploads = [];
  setState(status, 'recording');
  frameCount = await recordWithGuide(crop, source, uploader);
  logEvent(status, `recorded:${frameCount}`);
  await uploadAndFinish();
}

async function recordWithGuide(crop: CropWindow, source: { width: number; height: number }, queue: FrameUploader): Promise<number> {
  const schedule = promptSchedule(seconds);
  const startedAt = performance.now();
  let lastFaceAt = startedAt;
  recordingBar.hidden = false;
  const tick = () => {
    const t = (performance.now() - startedAt) / 1000;
    promptLine.textContent = promptAt(schedule, t).text;
    recordProgress.value = Math.min(1, t / seconds);
    secondsLeft.textContent = `${Math.max(0, Math.ceil(seconds - t))} s left`;
    showWarning(performance.now() - lastFaceAt > FACE_LOST_MS ? 'We cannot see your face: look at the camera, inside the oval.' : null);
    const need = minFaceFrames === null ? '' : ` (at least ${minFaceFrames} needed)`;
    say(`Recording: ${status.framesWithFace} frames with your face${need}, ${status.framesUploaded} uploaded`);
  };
  tick();
  const timer = setInterval(tick, 200);
  try {
    return await record({
      capture, video, crop, source, seconds, fps,
      // A refused frame ends the recording early: the server will not take the rest either.
      shouldStop: () => status.state !== 'recording' || queue.failure !== null,
      onCaptured: (index, facePresent) => {
        status.framesCaptured = index + 1;
        if (facePresent) lastFaceAt = performance.now();
      },
      onEncoded: (index, body, faceFound) => {
        if (faceFound) status.framesWithFace += 1;
        queue.add(index, body);
      },
      onSkipped: (reason) => logEvent(status, `skipped:${reason}`),
      onPlate: (index, body) => { plateUploads.push(sendPlate(index, body)); },
    });
  } finally {
    clearInterval(timer);
    showWarning(null);
    recordingBar.hidden = true;
  }
}

/** PLATE_TRIES tries of one plate sample; a refusal or a last failure is logged, never fatal. */
const PLATE_TRIES = 3;
async function sendPlate(index: number, body: Uint8Array): Promise<void> {
  const sessionId = status.sessionId;
  if (!sessionId) return;
  for (let attempt = 1; attempt <= PLATE_TRIES; attempt += 1) {
    const result = await api.putPlate(sessionId, index, body);
    if (result.kind === 'stored') return;
    if (result.kind === 'fatal' || attempt === PLATE_TRIES) {
      logEvent(status, `plate:${index}:${result.kind === 'fatal' ? result.code : result.reason}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, result.retryAfterMs ?? 500 * attempt));
  }
}

/** Waits for the uploads, re-sends what the server lacks, and finishes the session (again after a failure). */
async function uploadAndFinish(): Promise<void> {
  const sessionId = status.sessionId;
  const queue = uploader;
  if (!sessionId || !queue) throw new Error('no capture session');
  errorLine.hidden = true;
  retryUploadButton.hidden = true;
  againButton.hidden = true;
  setState(status, 'uploading');
  promptLine.textContent = 'Thank you! Uploading your recording…';
  const showUpload = () => view.showUpload(status.framesUploaded, frameCount, status.uploadRetries ? `${status.uploadRetries} retries` : '');
  showUpload();
  const timer = setInterval(showUpload, 250);
  try {
    for (let round = 1; ; round += 1) {
      await queue.drain();
      // The server's list is the truth: frames whose answers were lost are released, missing ones re-sent.
      const again = queue.resume(await api.storedFrames(sessionId));
      if (again.length === 0) break;
      logEvent(status, `resend:${again.length}`);
      if (round >= RESUME_ROUNDS) {
        await queue.drain();
        throw new ApiError(0, 'network', `${queue.stats.held} frames could not be uploaded; check your connection`);
      }
    }
  } finally {
    clearInterval(timer);
    showUpload();
  }
  // Plates are estimated at finish from what is stored by then.
  await Promise.allSettled(plateUploads);
  setState(status, 'finishing');
  say('Preparing your recording for training');
  const { avatarId, job } = await api.finish(sessionId, frameCount);
  status.avatarId = avatarId;
  status.jobId = job.id;
  logEvent(status, `finished:${avatarId}`);
  closeCamera();
  follower = new TrainingFollower(api, status, view, room, {
    onState: showTrainingState,
    onFailed: (message) => fail(new Error(message), false),
  });
  follower.follow(job);
}

const TRAINING_TEXT = {
  training: ['Training your avatar', 'Your avatar is training. You can keep this page open to watch it improve.'],
  usable: ['Your avatar is usable; training goes on to improve it', 'You can join the call as your avatar now. Keep this page open to watch it improve.'],
  done: ['Your avatar is ready', 'Your avatar is ready: join the call as it.'],
} as const;

function showTrainingState(state: keyof typeof TRAINING_TEXT): void {
  const [line, prompt] = TRAINING_TEXT[state];
  say(line);
  promptLine.textContent = prompt;
}

/** Shows `error`; `canRetryUpload`: the recording is intact and only the network failed. */
function fail(error: unknown, canRetryUpload: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  status.error = message;
  logEvent(status, `error:${error instanceof ApiError ? `${error.code}:` : ''}${message}`);
  setState(status, 'failed');
  say('Something went wrong');
  promptLine.textContent = '';
  errorLine.textContent = message;
  errorLine.hidden = false;
  retryUploadButton.hidden = !canRetryUpload;
  againButton.hidden = false;
}

/** Network trouble (not a refusal) after the recording: its frames are still held, so the upload can resume. */
function uploadCanResume(error: unknown): boolean {
  const transient = error instanceof ApiError && (error.code === 'network' || error.status >= 500 || error.status === 429);
  return transient && uploader !== null && !uploader.failure && frameCount > 0;
}

function runAndReport(session: () => Promise<void>): void {
  session().catch((error: unknown) => fail(error, uploadCanResume(error)));
}

againButton.addEventListener('click', () => {
  uploader?.abort();
  uploader = null;
  follower?.stop();
  // An unfinished session would count against the open-session limit.
  const stale = status.sessionId && !status.jobId ? status.sessionId : null;
  if (stale) api.deleteSession(stale).catch(() => undefined);
  logEvent(status, 'record-again');
  runAndReport(liveCheck ? runSession : boot);
});
retryUploadButton.addEventListener('click', () => runAndReport(uploadAndFinish));
window.addEventListener('beforeunload', (event) => {
  // Leaving mid-recording or mid-upload loses frames that are only in this page's memory.
  if (status.state === 'recording' || status.state === 'uploading') event.preventDefault();
});

async function boot(): Promise<void> {
  setState(status, 'starting');
  say('Starting the camera');
  const tokens = await fetchPageTokens(room, { onboarding: params.get('token'), call: params.get('callToken') });
  status.callToken = tokens.call;
  api = new OnboardingApi(tokens.onboarding);
  await openCamera();
  say('Starting the face tracker');
  capture = await FrameCapture.create({
    wasmBaseUrl: '/mediapipe/wasm', faceModelUrl: '/models/face_landmarker.task', segmenterModelUrl: '/models/selfie_segmenter.tflite',
  });
  logEvent(status, `tracker:${capture.delegate}`);
  liveCheck = new LiveCheck(capture, video, {
    face: $('check-face'), light: $('check-light'), framing: $('check-framing'), oval: $('oval'), start: $<HTMLButtonElement>('start'),
  });
  await runSession();
}

runAndReport(boot);
