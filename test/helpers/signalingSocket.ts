/** A bare socket.io signaling client for integration tests: requests, replies and notifications, as a browser sends them. */
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import type { NotificationMap, NotificationMethod, SignalingReply, TransportReply } from '../../shared/signaling/messages';
import type { VoxfaceServer } from '../../server/VoxfaceServer';

export interface TestSocket {
  readonly socket: Socket;
  request(method: string, data: unknown): Promise<SignalingReply<any>>;
  /** Resolves with the next notification of this method (within `timeoutMs`). */
  nextNotification<M extends NotificationMethod>(method: M, timeoutMs?: number): Promise<NotificationMap[M]>;
  close(): void;
}

/** Sockets opened here; close them all in `after`. */
export class TestSockets {
  readonly #server: VoxfaceServer;
  readonly #open: Socket[] = [];

  constructor(server: VoxfaceServer) {
    this.#server = server;
  }

  async connect(): Promise<TestSocket> {
    const socket = io(this.#server.url, { transports: ['websocket'], reconnection: false });
    this.#open.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return {
      socket,
      request: (method, data) => socket.timeout(10_000).emitWithAck('request', { method, data }),
      nextNotification: (method, timeoutMs = 10_000) => new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.off('notification', listener);
          reject(new Error(`no '${method}' notification within ${timeoutMs} ms`));
        }, timeoutMs);
        const listener = (message: { method: string; data: never }) => {
          if (message.method !== method) return;
          clearTimeout(timer);
          socket.off('notification', listener);
          resolve(message.data);
        };
        socket.on('notification', listener);
      }),
      close: () => socket.close(),
    };
  }

  /** A socket joined to `room` as `peerId` (asserts the join succeeded). */
  async joined(room: string, peerId: string): Promise<TestSocket> {
    const client = await this.connect();
    const reply = await client.request('join', { token: this.#server.tokens.mintCall(room, peerId, { peer: peerId }), room, displayName: peerId });
    assert.equal(reply.ok, true, JSON.stringify(reply));
    return client;
  }

  closeAll(): void {
    for (const socket of this.#open) socket.close();
    this.#open.length = 0;
  }
}

export function assertRefused(reply: SignalingReply, code: string, pattern: RegExp): void {
  assert.equal(reply.ok, false, `expected ${code}, got ok`);
  if (reply.ok) return;
  assert.equal(reply.error.code, code, reply.error.message);
  assert.match(reply.error.message, pattern);
}

export async function createTransport(client: TestSocket, direction: 'send' | 'recv'): Promise<TransportReply> {
  const reply = await client.request('createWebRtcTransport', { direction, sctpCapabilities: { numStreams: { OS: 16, MIS: 16 } } });
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return reply.ok ? reply.data as TransportReply : (undefined as never);
}

export const OPUS_RTP_PARAMETERS = {
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 11111111 }],
  rtcp: { cname: 'test' },
};

/** A well-formed DTLS fingerprint no browser will ever answer to. */
export const UNANSWERED_DTLS = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:'.repeat(31) + 'AA' }] };

/** A Prometheus sample's value from `/metrics` text, or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
