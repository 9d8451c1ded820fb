/**
 * What the rooms and media unit tests share: a real mediasoup worker and router,
 * RTP parameters mediasoup accepts, a notify that records, and a way to kill a
 * worker as a crash would.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from '../../server/media/codecs';
import { loadMediasoup } from '../../server/media/loadMediasoup';
import type { NotificationMap, NotificationMethod } from '../../shared/signaling/messages';

export const LISTEN = { listenIp: '127.0.0.1' } as const;

export async function startWorker(): Promise<types.Worker> {
  const mediasoup = await loadMediasoup();
  return mediasoup.createWorker({ logLevel: 'error', rtcMinPort: 40000, rtcMaxPort: 49999 });
}

export function createRouter(worker: types.Worker): Promise<types.Router> {
  return worker.createRouter({ mediaCodecs: MEDIA_CODECS });
}

let nextSsrc = 1_000_000;

/** Opus RTP parameters for one producer; each call gets its own SSRC, as a browser's tracks do. */
export function opusRtpParameters(): types.RtpParameters {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
    headerExtensions: [],
    encodings: [{ ssrc: nextSsrc++ }],
    rtcp: { cname: 'fixture' },
  };
}

/** A receiver that decodes nothing the router sends. */
export const DEAF_CAPABILITIES: types.RtpCapabilities = {
  codecs: [{ kind: 'audio', mimeType: 'audio/PCMU', preferredPayloadType: 0, clockRate: 8000, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
};

export interface Notification {
  method: NotificationMethod;
  data: unknown;
}

/** A Peer's notify that keeps every notification in order. */
export function recordingNotify(): {
  notify: <M extends NotificationMethod>(method: M, data: NotificationMap[M]) => void;
  received: Notification[];
  methods: () => NotificationMethod[];
} {
  const received: Notification[] = [];
  return {
    notify: (method, data) => { received.push({ method, data }); },
    received,
    methods: () => received.map((n) => n.method),
  };
}

/** Kills the worker's process with SIGKILL (a crash, not a close) and waits for mediasoup to notice. */
export async function killWorker(worker: types.Worker): Promise<Error> {
  const died = new Promise<Error>((resolve) => worker.once('died', resolve));
  process.kill(worker.pid, 'SIGKILL');
  return died;
}

/**
 * Pids of this process's mediasoup worker children that are still running (from
 * /proc: mediasoup spawns each worker as a child; the kernel truncates its name to
 * 15 characters). A worker closed with SIGTERM leaves within a few ms.
 */
export function workerProcesses(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try { stat = readFileSync(`/proc/${name}/stat`, 'utf8'); } catch { continue; }
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (comm.startsWith('mediasoup-worke') && Number(ppid) === process.pid && state !== 'Z') pids.push(Number(name));
  }
  return pids;
}

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** Resolves after `ms`; for "nothing more happens" checks only, never to wait for an event. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
