/**
 * Meters that run inside benchmark pages: which coefficient packet each decoded
 * avatar frame shows (the frame marker), and when beeps of the fake microphone are
 * heard, locally and remotely. Times are page wall clock, ms since the epoch.
 *
 * The page code is plain JavaScript text: functions written here would be
 * rewritten by the TypeScript loader with helpers that do not exist in the page.
 */
import type { Page } from 'playwright-core';

const MARKER_RECORDER = `(id) => {
  const read = window.voxfaceDemo.readMarker;
  const video = document.querySelector('.tile[data-peer-id="' + id + '"] video');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const seen = [];
  window.markers = seen;
  function onFrame(now, metadata) {
    const at = performance.timeOrigin + performance.now();
    // When the frame's last packet arrived (WebRTC sources say; null where they do not).
    const receivedAt = metadata && metadata.receiveTime ? performance.timeOrigin + metadata.receiveTime : null;
    if (video.videoWidth) {
      // Only the band the marker lies in (its blocks are width / 18 tall): a whole frame
      // drawn and read back every frame would weigh on the machine the bench measures.
      const band = Math.min(video.videoHeight, Math.max(4, Math.floor(video.videoWidth / 18)));
      if (canvas.width !== video.videoWidth || canvas.height !== band) {
        canvas.width = video.videoWidth;
        canvas.height = band;
      }
      ctx.drawImage(video, 0, 0, canvas.width, band, 0, 0, canvas.width, band);
      const value = read(ctx.getImageData(0, 0, canvas.width, band).data, canvas.width, band);
      if (value !== null && (seen.length === 0 || seen[seen.length - 1].value !== value)) seen.push({ value, at, receivedAt });
    }
    video.requestVideoFrameCallback(onFrame);
  }
  video.requestVideoFrameCallback(onFrame);
}`;

// Polled every 5 ms: the analyser holds the newest 256 samples (5.3 ms at 48 kHz).
const BEEP_RECORDER = `(id) => {
  const room = window.voxfaceDemo.room;
  const remote = [...room.remoteTracks.values()].find((t) => t.peerId === id && t.kind === 'audio');
  const track = id === null ? room.localAudioTrack() : remote && remote.track;
  if (!track) throw new Error('no audio track to listen to');
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 256;
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const onsets = [];
  window.beeps = onsets;
  let loud = false;
  setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let energy = 0;
    for (const s of samples) energy += s * s;
    const rms = Math.sqrt(energy / samples.length);
    if (!loud && rms > 0.05) onsets.push(performance.timeOrigin + performance.now());
    loud = rms > 0.02 ? (loud || rms > 0.05) : false;
  }, 5);
}`;

/** Starts recording the marker of every decoded frame of `peerId`'s video tile. */
export async function recordMarkers(page: Page, peerId: string): Promise<void> {
  await page.evaluate(`(${MARKER_RECORDER})(${JSON.stringify(peerId)})`);
}

export interface SeenMarker {
  value: number;
  /** When the page was handed the frame to show, ms since the epoch. */
  at: number;
  /** When its last packet arrived (null where the browser does not say). */
  receivedAt: number | null;
}

export function markers(page: Page): Promise<SeenMarker[]> {
  return page.evaluate('window.markers.slice()') as Promise<SeenMarker[]>;
}

/** Starts detecting beep onsets in an audio track: the local mic (peerId null) or a remote peer's audio. */
export async function recordBeeps(page: Page, peerId: string | null): Promise<void> {
  await page.evaluate(`(${BEEP_RECORDER})(${JSON.stringify(peerId)})`);
}

export function beeps(page: Page): Promise<number[]> {
  return page.evaluate('window.beeps.slice()') as Promise<number[]>;
}
