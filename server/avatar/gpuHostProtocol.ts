/**
 * The wire between the server (GpuRenderHost) and a GPU render host process
 * (gpuHostProcess.ts), which renders every GPU avatar session of the server on one device.
 *
 * In (the host's stdin): one JSON line per request, checked with zod on arrival
 * (hostRequest): open a session (its avatar file, size, background), render a session's
 * face, close a session, ask for the host's stats, or (tests) destroy the device.
 * Out (the host's fd 3, a socket pair): messages of a 24-byte header [type u8, backend u8,
 * 2 bytes zero, payload length u32 LE, session u32 LE, 4 bytes zero, render ms f64 LE]
 * then the payload: ready (JSON, session 0), opened (JSON), frame (width*height*4 RGBA,
 * read straight into the session's reused buffer), error (UTF-8; session 0: the host's
 * own), stats (JSON) or lost (UTF-8: the device is lost or failed; every session moves to
 * the CPU and the host exits).
 */
import { z } from 'zod';
import { backgroundImageId, blurChoice, colourChoice, roomChoice } from '../../shared/signaling/background';
import type { RenderBackendChoice } from './renderBackend';

/** What shows behind the person, as the server resolved it (an uploaded image by its stored file). */
const renderBackground = z.discriminatedUnion('kind', [
  blurChoice, roomChoice, colourChoice,
  z.object({ kind: z.literal('image'), id: backgroundImageId, path: z.string().min(1).max(4096) }).strict(),
]);

/** The host's command line (argv[2], JSON). */
export interface GpuHostInit {
  backend: Exclude<RenderBackendChoice, 'cpu'>;
  allowSoftwareGpu?: boolean;
}

const sessionId = z.number().int().min(1).max(0xffff_ffff);
const finite = z.number().finite();

export const hostRequest = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('open'), session: sessionId, avatarPath: z.string().min(1).max(4096),
    width: z.number().int().min(1).max(8192), height: z.number().int().min(1).max(8192),
    renderScale: z.number().gt(0).max(1).optional(), background: renderBackground.optional(),
  }).strict(),
  z.object({
    type: z.literal('render'), session: sessionId,
    face: z.object({
      blendshapes: z.array(finite).max(256), rotation: z.tuple([finite, finite, finite, finite]), translationCm: z.tuple([finite, finite, finite]),
      code: z.array(finite).min(1).max(64).optional(),
    }).strict(),
  }).strict(),
  z.object({ type: z.literal('close'), session: sessionId }).strict(),
  z.object({ type: z.literal('stats') }).strict(),
  z.object({ type: z.literal('loseDevice') }).strict(),
]);
export type GpuHostRequest = z.infer<typeof hostRequest>;

export const hostReady = z.object({
  backend: z.enum(['cpu', 'gpu']), backendReason: z.string().max(4096),
}).strict();
export type GpuHostReady = z.infer<typeof hostReady>;

/** One tick as the host counted it: the sessions whose frames it drew, the device queue's submissions (a wrapper on queue.submit). */
export const hostTick = z.object({ sessions: z.number().int().min(0), submissions: z.number().int().min(0) }).strict();

export const hostStats = z.object({
  sessions: z.number().int().min(0),
  ticks: z.number().int().min(0),
  frames: z.number().int().min(0),
  /** Every submission the device's queue took since the host started (a tick under way's included; sessions' warm-ups are ticks). */
  submissions: z.number().int().min(0),
  maxSubmissionsPerTick: z.number().int().min(0),
  maxSessionsPerTick: z.number().int().min(0),
  /** The last ticks, oldest first (at most 32). */
  recentTicks: z.array(hostTick).max(32),
}).strict();
export type GpuHostStats = z.infer<typeof hostStats>;

export const HOST_MESSAGE = { ready: 1, opened: 2, frame: 3, error: 4, stats: 5, lost: 6 } as const;
export type HostMessageType = (typeof HOST_MESSAGE)[keyof typeof HOST_MESSAGE];
export const HOST_HEADER_BYTES = 24;
/** Non-frame payloads are short; a longer one means a corrupt stream. */
const MAX_TEXT_PAYLOAD = 64 * 1024;

export function hostMessageHeader(type: HostMessageType, session: number, payloadBytes: number, renderMs = 0, backend: 'cpu' | 'gpu' = 'gpu'): Buffer {
  const header = Buffer.alloc(HOST_HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt8(backend === 'gpu' ? 1 : 0, 1);
  header.writeUInt32LE(payloadBytes, 4);
  header.writeUInt32LE(session, 8);
  header.writeDoubleLE(renderMs, 16);
  return header;
}

export type GpuHostMessage =
  | { type: 'ready'; session: 0; text: string }
  | { type: 'opened' | 'error' | 'stats' | 'lost'; session: number; text: string }
  | { type: 'frame'; session: number; renderMs: number };

const NAMES: Record<number, GpuHostMessage['type']> = { 1: 'ready', 2: 'opened', 3: 'frame', 4: 'error', 5: 'stats', 6: 'lost' };

/**
 * Reassembles the host's messages from socket chunks. A frame's payload is written
 * straight into the buffer `frameOf(session)` gives (one copy from the socket's chunks,
 * none more); a frame for a session with no buffer (closed meanwhile) is skipped.
 */
export class GpuHostMessageReader {
  readonly #frameOf: (session: number) => Uint8Array | undefined;
  readonly #header = Buffer.alloc(HOST_HEADER_BYTES);
  #headerFill = 0;
  #type = 0;
  #session = 0;
  #renderMs = 0;
  /** The payload's destination (null: skipped), its length and how much arrived. */
  #payload: Uint8Array | null = null;
  #length = -1;
  #fill = 0;

  constructor(frameOf: (session: number) => Uint8Array | undefined) {
    this.#frameOf = frameOf;
  }

  /** Feeds one chunk; calls `onMessage` for each message it completes; throws on a corrupt stream. */
  push(chunk: Buffer, onMessage: (message: GpuHostMessage) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#length < 0) {
        const n = Math.min(HOST_HEADER_BYTES - this.#headerFill, chunk.length - at);
        chunk.copy(this.#header, this.#headerFill, at, at + n);
        this.#headerFill += n;
        at += n;
        if (this.#headerFill < HOST_HEADER_BYTES) return;
        this.#headerFill = 0;
        this.#begin();
        if (this.#length > 0) continue;
      } else {
        const n = Math.min(this.#length - this.#fill, chunk.length - at);
        this.#payload?.set(chunk.subarray(at, at + n), this.#fill);
        this.#fill += n;
        at += n;
        if (this.#fill < this.#length) return;
      }
      onMessage(this.#finish());
    }
  }

  #begin(): void {
    const h = this.#header, type = h.readUInt8(0), length = h.readUInt32LE(4);
    if (!NAMES[type]) throw new Error(`GPU render host sent an unknown message type ${type}`);
    this.#type = type;
    this.#session = h.readUInt32LE(8);
    this.#renderMs = h.readDoubleLE(16);
    if (type === HOST_MESSAGE.frame) {
      const frame = this.#frameOf(this.#session);
      if (frame && length !== frame.length) throw new Error(`GPU render host sent a ${length}-byte frame for session ${this.#session}, expected ${frame.length}`);
      this.#payload = frame ?? null;
    } else {
      if (length > MAX_TEXT_PAYLOAD) throw new Error(`GPU render host sent a ${length}-byte message`);
      this.#payload = new Uint8Array(length);
    }
    this.#length = length;
    this.#fill = 0;
  }

  #finish(): GpuHostMessage {
    const payload = this.#payload, type = NAMES[this.#type]!, session = this.#session;
    this.#payload = null;
    this.#length = -1;
    if (type === 'frame') return { type, session, renderMs: this.#renderMs };
    const text = Buffer.from(payload!.buffer, payload!.byteOffset, payload!.length).toString('utf8');
    return type === 'ready' ? { type, session: 0, text } : { type, session, text };
  }
}
