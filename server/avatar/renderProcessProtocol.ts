/**
 * The wire between a ProcessFrameRenderer and its render process.
 *
 * In (the child's stdin): one JSON line per request, `{ face }` (a few hundred bytes).
 * Out (the child's fd 3, a socket pair): messages of a 16-byte header
 * [type u8, 3 bytes zero, payload length u32 LE, render ms f64 LE] then the payload:
 * ready (JSON { expressionCount }), frame (width*height*4 RGBA bytes) or error (UTF-8).
 * A render process renders on the CPU only (GPU avatars render in the GPU render host).
 * Frames go over the pipe rather than shared memory: Node has no cross-process shared
 * memory without a native addon, and the copy costs well under a millisecond per
 * frame (figures in ProcessFrameRenderer's header).
 */
import type { RenderBackground } from '../engine/AvatarPlates';
import type { FaceState } from './DrivenFace';

export interface RenderProcessInit {
  avatarPath: string;
  width: number;
  height: number;
  /** Rays per output pixel per axis (LIVE's unless set). */
  renderScale?: number;
  /** What shows behind the person (the default background unless set). */
  background?: RenderBackground;
}

/** The face as JSON (a typed array would serialize as an object). */
export interface RenderProcessRequest {
  face: { blendshapes: number[]; rotation: FaceState['rotation']; translationCm: FaceState['translationCm']; code?: number[] };
}

export const MESSAGE_TYPE = { ready: 1, frame: 2, error: 3 } as const;
export type MessageType = (typeof MESSAGE_TYPE)[keyof typeof MESSAGE_TYPE];
export const HEADER_BYTES = 16;
/** Non-frame payloads (ready, error) are short; a longer one means a corrupt stream. */
const MAX_TEXT_PAYLOAD = 64 * 1024;

export function messageHeader(type: MessageType, payloadBytes: number, renderMs = 0): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt32LE(payloadBytes, 4);
  header.writeDoubleLE(renderMs, 8);
  return header;
}

export type RenderProcessMessage =
  | { type: 'ready'; expressionCount: number }
  | { type: 'frame'; renderMs: number }
  | { type: 'error'; message: string };

/**
 * Reassembles the child's messages from socket chunks. Frame payloads are written
 * straight into `frame` (one copy from the socket's chunks, none more).
 */
export class RenderMessageReader {
  readonly #frame: Uint8Array;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #type = 0;
  #renderMs = 0;
  #payload?: Uint8Array;
  #payloadFill = 0;

  constructor(frame: Uint8Array) {
    this.#frame = frame;
  }

  /** Feeds one chunk; calls `onMessage` for each message it completes; throws on a corrupt stream. */
  push(chunk: Buffer, onMessage: (message: RenderProcessMessage) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.#payload) {
        const n = Math.min(HEADER_BYTES - this.#headerFill, chunk.length - at);
        chunk.copy(this.#header, this.#headerFill, at, at + n);
        this.#headerFill += n;
        at += n;
        if (this.#headerFill < HEADER_BYTES) return;
        this.#headerFill = 0;
        this.#begin(this.#header.readUInt8(0), this.#header.readUInt32LE(4), this.#header.readDoubleLE(8));
        if (this.#payload!.length > 0) continue;
      } else {
        const n = Math.min(this.#payload.length - this.#payloadFill, chunk.length - at);
        this.#payload.set(chunk.subarray(at, at + n), this.#payloadFill);
        this.#payloadFill += n;
        at += n;
        if (this.#payloadFill < this.#payload.length) return;
      }
      onMessage(this.#finish());
    }
  }

  #begin(type: number, length: number, renderMs: number): void {
    if (type === MESSAGE_TYPE.frame) {
      if (length !== this.#frame.length) throw new Error(`render process sent a ${length}-byte frame, expected ${this.#frame.length}`);
      this.#payload = this.#frame;
    } else if (type === MESSAGE_TYPE.ready || type === MESSAGE_TYPE.error) {
      if (length > MAX_TEXT_PAYLOAD) throw new Error(`render process sent a ${length}-byte message`);
      this.#payload = new Uint8Array(length);
    } else {
      throw new Error(`render process sent an unknown message type ${type}`);
    }
    this.#type = type;
    this.#renderMs = renderMs;
    this.#payloadFill = 0;
  }

  #finish(): RenderProcessMessage {
    const payload = this.#payload!;
    this.#payload = undefined;
    if (this.#type === MESSAGE_TYPE.frame) return { type: 'frame', renderMs: this.#renderMs };
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8');
    if (this.#type === MESSAGE_TYPE.error) return { type: 'error', message: text };
    const ready = JSON.parse(text) as { expressionCount: number };
    return { type: 'ready', expressionCount: ready.expressionCount };
  }
}
