/**
 * The demo page: join a room with camera and microphone and see everyone else.
 * URL parameters: room, name, token (a call token for the room; else, in dev mode, one is fetched),
 * onboardingToken (lists the user's own avatars when token is given), avatar,
 * background (blur | room | #rrggbb: what shows behind the avatar), autojoin=1. `window.voxfaceDemo` exposes the live room for tests and debugging.
 */
import { readMarker } from '../../shared/avatar/frameMarker';
import { type BackgroundChoice, backgroundFromParam, backgroundParam, DEFAULT_BACKGROUND } from '../../shared/signaling/background';
import { uploadBackground } from '../sdk/backgrounds';
import { ID_PATTERN } from '../../shared/signaling/limits';
import { CoefficientStreaming } from '../sdk/CoefficientStreaming';
import { fetchDevTokens } from '../sdk/devTokens';
import { startExpressionEncoder, type EncoderOutcome } from '../sdk/expressionEncoder';
import { joinRoom, type RemoteTrack, type VoxfaceRoom } from '../sdk/VoxfaceRoom';

declare global {
  interface Window {
    voxfaceDemo: {
      room?: VoxfaceRoom;
      /** Present while "send my face as coefficients" is on. */
      coefficients?: CoefficientStreaming;
      setSendCoefficients: (on: boolean) => Promise<void>;
      /** publish: false opens the camera for the face tracker without sending its video. */
      join: (options?: JoinChoice) => Promise<void>;
      leave: () => Promise<void>;
      /** Changes what shows behind this peer's avatar (re-renders it when live). */
      setBackground: (choice: BackgroundChoice) => Promise<void>;
      /** Uploads a picture (PNG or JPEG) as this user's background and shows it; resolves with its id. */
      useBackgroundPicture: (picture: Blob) => Promise<string>;
      events: string[];
      /** How the avatar's expression travels: code packets, or blendshapes and why (undefined until decided). */
      encoder?: EncoderOutcome;
      /** Reads the latency marker of avatar frames (benchmarks). */
      readMarker: typeof readMarker;
      /** performance.now() marks: join started, joined (publishing), first remote video frame shown. */
      timings: { joinStartedAt?: number; joinedAt?: number; firstRemoteFrameAt?: number };
    };
  }
}

/** publish: false opens the camera without sending it; avatarId joins as that avatar. */
interface JoinChoice {
  publish?: boolean;
  avatarId?: string;
  background?: BackgroundChoice;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const roomInput = $<HTMLInputElement>('room');
const nameInput = $<HTMLInputElement>('name');
const joinButton = $<HTMLButtonElement>('join');
const leaveButton = $<HTMLButtonElement>('leave');
const statusLabel = $<HTMLSpanElement>('status');
const notice = $<HTMLParagraphElement>('notice');
const tiles = $<HTMLElement>('tiles');
const coefficientSwitch = $<HTMLInputElement>('send-coefficients');
const avatarSelect = $<HTMLSelectElement>('avatar');
const coefficientReadout = $<HTMLOutputElement>('coefficient-readout');
const backgroundSelect = $<HTMLSelectElement>('background');
const backgroundColour = $<HTMLInputElement>('background-colour');
const backgroundImage = $<HTMLInputElement>('background-image');
/** The last picture this page uploaded as a background (its server id). */
let backgroundImageId: string | undefined;
/** The avatar this page drives, while it does (a background change re-enables it). */
let drivenAvatar: string | undefined;
let localStream: MediaStream | undefined;
let readoutTimer: ReturnType<typeof setInterval> | undefined;
/** The room in which the camera replaced the avatar (a failed enable and a later stop fall back once). */
let cameraFallback: VoxfaceRoom | undefined;
const events: string[] = [];

roomInput.value = params.get('room') ?? 'demo';
const createAvatarLink = $<HTMLAnchorElement>('create-avatar');
const linkCreateAvatar = () => { createAvatarLink.href = `onboard.html?room=${encodeURIComponent(roomInput.value.trim() || 'demo')}`; };
linkCreateAvatar();
roomInput.addEventListener('input', linkCreateAvatar);
nameInput.value = params.get('name') ?? `Guest ${Math.floor(Math.random() * 900 + 100)}`;

function setStatus(text: string, state: 'idle' | 'joining' | 'joined' | 'error'): void {
  statusLabel.textContent = text;
  statusLabel.dataset.state = state;
}

function showNotice(text: string | null): void {
  notice.hidden = text === null;
  notice.textContent = text ?? '';
}

/** The background the controls show. */
function chosenBackground(): BackgroundChoice {
  if (backgroundSelect.value === 'colour') return { kind: 'colour', rgb: backgroundColour.value };
  if (backgroundSelect.value === 'image') return backgroundImageId ? { kind: 'image', id: backgroundImageId } : DEFAULT_BACKGROUND;
  return backgroundFromParam(backgroundSelect.value) ?? DEFAULT_BACKGROUND;
}

function showBackground(choice: BackgroundChoice): void {
  backgroundSelect.value = choice.kind;
  if (choice.kind === 'colour') backgroundColour.value = choice.rgb;
  if (choice.kind === 'image') backgroundImageId = choice.id;
  backgroundColour.hidden = choice.kind !== 'colour';
  backgroundImage.hidden = choice.kind !== 'image';
}
showBackground(backgroundFromParam(params.get('background')) ?? DEFAULT_BACKGROUND);

async function setBackground(choice: BackgroundChoice): Promise<void> {
  showBackground(choice);
  const room = window.voxfaceDemo.room;
  if (room && drivenAvatar) {
    await room.enableAvatar(drivenAvatar, { background: choice });
    log(`background:${backgroundParam(choice)}`);
  }
}

function log(event: string): void {
  events.push(event);
}

/** The call token for `room`: the link's, else (dev mode) one for this browser's user. */
async function fetchToken(room: string): Promise<string> {
  const given = params.get('token');
  if (given) return given;
  return (await fetchDevTokens(room)).callToken;
}

function peerTile(peerId: string, displayName: string): HTMLElement {
  let tile = document.querySelector<HTMLElement>(`.tile[data-peer-id="${CSS.escape(peerId)}"]`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.className = 'tile remote';
    tile.dataset.peerId = peerId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    caption.textContent = displayName || peerId;
    tile.append(video, caption);
    tiles.append(tile);
  }
  return tile;
}

function attachTrack(remote: RemoteTrack): void {
  const room = window.voxfaceDemo.room;
  if (remote.peerId === room?.peerId) {
    // Our own avatar, as the others see it: the self-view.
    $<HTMLVideoElement>('local-video').srcObject = new MediaStream([remote.track]);
    $<HTMLElement>('local-tile').classList.add('avatar');
    $<HTMLElement>('local-tile').querySelector('figcaption')!.textContent = 'You (avatar, as others see you)';
    return;
  }
  const tile = peerTile(remote.peerId, room?.peers.get(remote.peerId)?.displayName ?? '');
  const video = tile.querySelector('video')!;
  const stream = (video.srcObject as MediaStream | null) ?? new MediaStream();
  stream.addTrack(remote.track);
  video.srcObject = stream;
  video.play().catch(() => undefined);
  if (remote.kind === 'video') {
    video.requestVideoFrameCallback(() => {
      window.voxfaceDemo.timings.firstRemoteFrameAt ??= performance.now();
    });
  }
}

function detachTrack(remote: RemoteTrack): void {
  const tile = document.querySelector<HTMLElement>(`.tile[data-peer-id="${CSS.escape(remote.peerId)}"]`);
  const stream = tile?.querySelector('video')?.srcObject as MediaStream | null | undefined;
  stream?.removeTrack(remote.track);
}

function removePeerTile(peerId: string): void {
  document.querySelector(`.tile[data-peer-id="${CSS.escape(peerId)}"]`)?.remove();
}

async function setSendCoefficients(on: boolean): Promise<void> {
  const demo = window.voxfaceDemo;
  coefficientSwitch.checked = on;
  if (!on) {
    const streaming = demo.coefficients;
    demo.coefficients = undefined;
    await streaming?.stop().catch(() => undefined);
    clearInterval(readoutTimer);
    coefficientReadout.textContent = '';
    return;
  }
  const camera = localStream?.getVideoTracks()[0];
  if (!demo.room || !camera) throw new Error('join with a camera first');
  coefficientReadout.textContent = 'starting the face tracker…';
  try {
    demo.coefficients = await CoefficientStreaming.start(demo.room, camera);
  } catch (error) {
    coefficientSwitch.checked = false;
    coefficientReadout.textContent = '';
    showNotice(`Face tracking unavailable: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
  demo.coefficients.tracker.on('error', (error) => showNotice(`Face tracker: ${error.message}`));
  readoutTimer = setInterval(() => {
    const readout = demo.coefficients?.readout();
    if (!readout) return;
    const shapes = readout.strongest.map((b) => `${b.name} ${b.score.toFixed(2)}`).join(', ');
    coefficientReadout.textContent = `${readout.tracker.fps} fps (${readout.tracker.delegate}) · ` +
      `${readout.sender.payloadKbps.toFixed(1)} kbps · ${readout.facePresent ? shapes : 'no face'}`;
  }, 500);
}

function resetUi(): void {
  drivenAvatar = undefined;
  if (window.voxfaceDemo.coefficients) setSendCoefficients(false).catch(() => undefined);
  coefficientSwitch.disabled = true;
  document.querySelectorAll('.tile.remote').forEach((tile) => tile.remove());
  $<HTMLElement>('local-tile').hidden = true;
  $<HTMLElement>('local-tile').classList.remove('avatar');
  $<HTMLElement>('local-tile').querySelector('figcaption')!.textContent = 'You';
  joinButton.disabled = false;
  leaveButton.disabled = true;
}

/**
 * The ready avatars the user trained on the capture page (onboard.html): the link's
 * `onboardingToken` says who, when the link gives a call token; else, in dev mode, this browser's user.
 */
async function loadOwnAvatars(): Promise<string[]> {
  const token = params.get('token')
    ? params.get('onboardingToken')
    : await fetchDevTokens(roomInput.value.trim() || 'demo').then((t) => t.onboardingToken, () => null);
  if (!token) return [];
  ownerToken = token;
  const reply = await fetch('/api/onboarding/avatars', { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
  if (!reply?.ok) return [];
  const { avatars } = (await reply.json()) as { avatars: { id: string; ready: boolean }[] };
  return avatars.filter((a) => a.ready === true).map((a) => a.id);
}

async function loadAvatarChoices(): Promise<void> {
  const [reply, own] = await Promise.all([fetch('/api/avatars').catch(() => undefined), loadOwnAvatars()]);
  const avatars = reply?.ok ? ((await reply.json()) as { id: string }[]) : [];
  for (const id of own) avatarSelect.append(new Option(`my avatar: ${id}`, id));
  for (const avatar of avatars) avatarSelect.append(new Option(`avatar: ${avatar.id}`, avatar.id));
  const wanted = params.get('avatar');
  // An avatar the link names but no list shows (the link's user is not this page's): the server decides when driving it.
  if (wanted && ID_PATTERN.test(wanted) && !own.includes(wanted) && !avatars.some((a) => a.id === wanted)) avatarSelect.append(new Option(`avatar: ${wanted}`, wanted));
  if (wanted && [...avatarSelect.options].some((o) => o.value === wanted)) avatarSelect.value = wanted;
}

/** The onboarding token the avatar list was fetched with: it also fetches the user's avatars' encoders. */
let ownerToken: string | null = null;

/**
 * Code packets when the avatar has an expression encoder (sdk/expressionEncoder.ts); any
 * failure stays on blendshape packets, logged as `encoder:fallback:<reason>`.
 */
async function useExpressionEncoder(avatarId: string): Promise<void> {
  const streaming = window.voxfaceDemo.coefficients;
  if (!streaming) return;
  const outcome: EncoderOutcome = ownerToken
    ? await startExpressionEncoder(streaming, { avatarId, onboardingToken: ownerToken })
    : { mode: 'blendshapes', reason: 'no-encoder', message: 'no onboarding token: only its owner may fetch an encoder' };
  window.voxfaceDemo.encoder = outcome;
  if (outcome.mode === 'code') log(`encoder:code:${outcome.fromCache ? 'cached' : 'downloaded'}`);
  else {
    log(`encoder:fallback:${outcome.reason}`);
    if (outcome.reason !== 'no-encoder') console.warn(`expression encoder not used, sending blendshapes: ${outcome.message}`);
  }
}

/** Sends the camera instead of the avatar (once per join), saying why. */
async function fallBackToCamera(room: VoxfaceRoom, stream: MediaStream, notice: string): Promise<void> {
  if (cameraFallback === room) return;
  cameraFallback = room;
  drivenAvatar = undefined;
  showNotice(notice);
  log('avatar-fallback');
  await setSendCoefficients(false);
  $<HTMLVideoElement>('local-video').srcObject = stream;
  $<HTMLElement>('local-tile').classList.remove('avatar');
  $<HTMLElement>('local-tile').querySelector('figcaption')!.textContent = 'You';
  await room.publishTrack(stream.getVideoTracks()[0]!, { source: 'camera' });
}

/** Joins as an avatar: microphone published, camera only tracked; falls back to the camera if the avatar fails or stops. */
async function startAvatar(room: VoxfaceRoom, avatarId: string, stream: MediaStream, background: BackgroundChoice): Promise<void> {
  const [audio] = stream.getAudioTracks();
  if (audio) await room.publishTrack(audio, { source: 'mic' });
  room.on('avatarStopped', ({ reason, message }) => {
    log(`avatarStopped:${reason}`);
    fallBackToCamera(room, stream, `Your avatar stopped (${message}): sending your camera instead.`).catch((error: Error) => showNotice(error.message));
  });
  await setSendCoefficients(true);
  try {
    await room.enableAvatar(avatarId, { background });
    drivenAvatar = avatarId;
    log(`avatar:${avatarId}`);
    void useExpressionEncoder(avatarId);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    await fallBackToCamera(room, stream, `Your avatar could not be used (${reason}): sending your camera instead.`);
  }
}

async function join(options: JoinChoice = {}): Promise<void> {
  const avatarId = options.avatarId ?? (avatarSelect.value || undefined);
  showNotice(null);
  joinButton.disabled = true;
  window.voxfaceDemo.timings = { joinStartedAt: performance.now() };
  setStatus('Joining…', 'joining');
  try {
    const roomId = roomInput.value.trim();
    const token = await fetchToken(roomId);
    const room = await joinRoom({ url: location.origin, room: roomId, name: nameInput.value.trim(), token });
    window.voxfaceDemo.room = room;
    room.on('peerJoined', (peer) => { log(`peerJoined:${peer.id}`); peerTile(peer.id, peer.displayName); });
    room.on('peerLeft', (peer) => { log(`peerLeft:${peer.id}`); removePeerTile(peer.id); });
    room.on('trackAdded', (remote) => { log(`trackAdded:${remote.peerId}:${remote.kind}`); attachTrack(remote); });
    room.on('trackRemoved', (remote) => { log(`trackRemoved:${remote.peerId}:${remote.kind}`); detachTrack(remote); });
    room.on('roomClosed', ({ reason }) => {
      log(`roomClosed:${reason}`);
      showNotice(reason === 'worker-died' ? 'The media server restarted: rejoin to continue.' : `The room was closed (${reason}).`);
      setStatus('Room closed', 'error');
      resetUi();
    });
    room.on('disconnected', ({ reason }) => {
      log(`disconnected:${reason}`);
      setStatus(`Disconnected (${reason})`, 'error');
      resetUi();
    });
    room.on('error', (error) => showNotice(error.message));
    for (const peer of room.peers.values()) peerTile(peer.id, peer.displayName);
    for (const remote of room.remoteTracks.values()) attachTrack(remote);
    room.on('avatarStatus', ({ peerId, status }) => {
      log(`avatarStatus:${peerId}:${status}`);
      const tile = peerId === room.peerId ? $<HTMLElement>('local-tile') : peerTile(peerId, room.peers.get(peerId)?.displayName ?? '');
      tile.dataset.avatarStatus = status;
    });
    let stream: MediaStream;
    if (avatarId) stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
    else if (options.publish === false) stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    else stream = await room.publishCameraAndMicrophone();
    localStream = stream;
    coefficientSwitch.disabled = false;
    $<HTMLVideoElement>('local-video').srcObject = stream;
    $<HTMLElement>('local-tile').hidden = false;
    if (avatarId) await startAvatar(room, avatarId, stream, options.background ?? chosenBackground());
    leaveButton.disabled = false;
    window.voxfaceDemo.timings.joinedAt = performance.now();
    setStatus(`In room ${room.roomId} as ${nameInput.value}`, 'joined');
    log('joined');
  } catch (error) {
    setStatus('Could not join', 'error');
    showNotice(error instanceof Error ? error.message : String(error));
    joinButton.disabled = false;
    throw error;
  }
}

async function leave(): Promise<void> {
  drivenAvatar = undefined;
  await setSendCoefficients(false);
  await window.voxfaceDemo.room?.leave();
  window.voxfaceDemo.room = undefined;
  resetUi();
  setStatus('Left the room', 'idle');
  log('left');
}

/** Uploads a picture as this user's background and shows it behind the avatar; resolves with its id. */
async function useBackgroundPicture(picture: Blob): Promise<string> {
  const room = roomInput.value.trim() || 'demo';
  const id = await uploadBackground({ room, token: await fetchToken(room) }, picture);
  log(`backgroundUploaded:${id}`);
  await setBackground({ kind: 'image', id });
  return id;
}

window.voxfaceDemo = { join, leave, setBackground, useBackgroundPicture, events, timings: {}, setSendCoefficients, readMarker };
for (const control of [backgroundSelect, backgroundColour]) {
  control.addEventListener('change', () => {
    // A picture is applied once one is chosen (the file input's change).
    if (backgroundSelect.value === 'image' && !backgroundImageId) {
      backgroundImage.hidden = false;
      backgroundColour.hidden = true;
      backgroundImage.click();
      return;
    }
    setBackground(chosenBackground()).catch((error: Error) => showNotice(error.message));
  });
}
backgroundImage.addEventListener('change', () => {
  const picture = backgroundImage.files?.[0];
  if (picture) useBackgroundPicture(picture).catch((error: Error) => showNotice(error.message));
});
coefficientSwitch.addEventListener('change', () => {
  setSendCoefficients(coefficientSwitch.checked).catch(() => undefined);
});
$<HTMLFormElement>('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  join().catch(() => undefined);
});
leaveButton.addEventListener('click', () => { leave().catch(() => undefined); });
loadAvatarChoices().finally(() => {
  if (params.get('autojoin') === '1') join().catch(() => undefined);
});
