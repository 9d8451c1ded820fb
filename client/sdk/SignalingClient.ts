/**
 * The browser side of signaling: requests with acknowledgements and a timeout,
 * and typed notifications. The app owns signaling; mediasoup-client never sees it.
 */
import { io, type Socket } from 'socket.io-client';
import type {
  NotificationMap, RequestData, RequestMethod, SignalingErrorCode, SignalingReply,
} from '../../shared/signaling/messages';
import { TypedEmitter } from '../../shared/TypedEmitter';

export class SignalingRequestError extends Error {
  readonly code: SignalingErrorCode | 'timeout' | 'disconnected';

  constructor(code: SignalingRequestError['code'], message: string) {
    super(message);
    this.name = 'SignalingRequestError';
    this.code = code;
  }
}

export type SignalingEvents = NotificationMap & {
  [key: string]: unknown;
  disconnected: { reason: string };
};

export class SignalingClient extends TypedEmitter<SignalingEvents> {
  readonly #socket: Socket;
  readonly #timeoutMs: number;

  private constructor(socket: Socket, timeoutMs: number) {
    super();
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('notification', (message: { method: keyof NotificationMap; data: never }) => {
      if (message && typeof message.method === 'string') this.emit(message.method, message.data);
    });
    socket.on('disconnect', (reason: string) => this.emit('disconnected', { reason }));
  }

  static connect(url: string, timeoutMs = 10_000): Promise<SignalingClient> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, timeout: timeoutMs });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(new SignalingClient(socket, timeoutMs)));
      socket.once('connect_error', (error: Error) => {
        socket.close();
        reject(new SignalingRequestError('disconnected', `cannot reach ${url}: ${error.message}`));
      });
    });
  }

  get connected(): boolean {
    return this.#socket.connected;
  }

  /** `timeoutMs`: this request's wait, for one that does slow work (the connection's by default). */
  request<M extends RequestMethod, R = unknown>(method: M, data: RequestData<M>, timeoutMs = this.#timeoutMs): Promise<R> {
    if (!this.#socket.connected) return Promise.reject(new SignalingRequestError('disconnected', 'signaling is disconnected'));
    return new Promise((resolve, reject) => {
      this.#socket.timeout(timeoutMs).emit('request', { method, data }, (error: Error | null, reply: SignalingReply<R>) => {
        if (error) reject(new SignalingRequestError('timeout', `${method} timed out after ${timeoutMs} ms`));
        else if (reply.ok) resolve(reply.data);
        else reject(new SignalingRequestError(reply.error.code, reply.error.message));
      });
    });
  }

  close(): void {
    this.#socket.close();
  }
}
