/**
 * Node-to-node messages over Redis pub/sub: each node listens on its own channel for
 * requests (answered on the asker's channel), notices, and on one shared channel for
 * room events. Every message is checked (clusterMessages.ts) before a handler sees it;
 * a bad one is refused with a warning (and an error answer when the sender waits for
 * one), so nothing another node sends can throw past this file.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Logger } from '../../Logger';
import {
  parseClusterMessage, parseReply, type ClusterErrorCode, type ClusterNoticeData, type ClusterNoticeMethod,
  type ClusterReplyData, type ClusterRequestData, type ClusterRequestMethod, type RoomEvent,
} from './clusterMessages';

const logger = new Logger('NodeBus');

export const ROOM_EVENTS_CHANNEL = 'voxface:sfu:room-events';

export function nodeChannel(node: string): string {
  return `voxface:sfu:node:${node}`;
}

/** An error another node answered (or the timeout of an unanswered request). */
export class ClusterRequestError extends Error {
  readonly code: ClusterErrorCode;

  constructor(code: ClusterErrorCode, message: string) {
    super(message);
    this.name = 'ClusterRequestError';
    this.code = code;
  }
}

export interface NodeBusHandlers {
  request(from: string, method: ClusterRequestMethod, data: unknown): Promise<unknown>;
  notice(from: string, method: ClusterNoticeMethod, data: unknown): void;
  roomEvent(from: string, event: RoomEvent): void;
}

interface Pending {
  method: ClusterRequestMethod;
  to: string;
  resolve: (data: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class NodeBus {
  readonly nodeName: string;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #handlers: NodeBusHandlers;
  readonly #pending = new Map<string, Pending>();
  readonly #requestTimeoutMs: number;
  /** Messages refused so far (tests and logs). */
  rejected = 0;
  #closed = false;

  /** `subscriber` becomes a subscriber connection (it can issue no other command). */
  constructor(nodeName: string, publisher: Redis, subscriber: Redis, handlers: NodeBusHandlers, requestTimeoutMs = 5000) {
    this.nodeName = nodeName;
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#handlers = handlers;
    this.#requestTimeoutMs = requestTimeoutMs;
  }

  async start(): Promise<void> {
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#onMessage(channel.toString(), message));
    await this.#subscriber.subscribe(nodeChannel(this.nodeName), ROOM_EVENTS_CHANNEL);
  }

  async request<M extends ClusterRequestMethod>(to: string, method: M, data: ClusterRequestData<M>): Promise<ClusterReplyData<M>> {
    if (this.#closed) throw new ClusterRequestError('internal', 'the node bus is closed');
    const id = randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ClusterRequestError('timeout', `node ${to} did not answer ${method} within ${this.#requestTimeoutMs} ms`));
      }, this.#requestTimeoutMs);
      this.#pending.set(id, { method, to, resolve, reject, timer });
    });
    try {
      await this.#publish(nodeChannel(to), { type: 'request', id, from: this.nodeName, method, data });
    } catch (error) {
      // Never sent: no answer will come, and the waiting promise must not reject unheard.
      const pending = this.#pending.get(id);
      if (pending) clearTimeout(pending.timer);
      this.#pending.delete(id);
      answer.catch(() => undefined);
      throw new ClusterRequestError('internal', `${method} to node ${to} was not sent: ${error instanceof Error ? error.message : String(error)}`);
    }
    const reply = parseReply(method, await answer);
    if (!reply.ok) throw new ClusterRequestError('bad-request', reply.error);
    return reply.value;
  }

  notice<M extends ClusterNoticeMethod>(to: string, method: M, data: ClusterNoticeData<M>): void {
    this.#publish(nodeChannel(to), { type: 'notice', from: this.nodeName, method, data })
      .catch((error: unknown) => logger.warn(`notice ${method} to ${to} failed: ${String(error)}`));
  }

  async publishRoomEvent(event: RoomEvent): Promise<void> {
    await this.#publish(ROOM_EVENTS_CHANNEL, { type: 'roomEvent', from: this.nodeName, data: event });
  }

  /** Fails the requests still waiting on `node` at once (it died: no answer will come). */
  failRequestsTo(node: string): void {
    for (const [id, pending] of this.#pending) {
      if (pending.to !== node) continue;
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(new ClusterRequestError('timeout', `node ${node} died before answering ${pending.method}`));
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ClusterRequestError('internal', 'the node bus closed'));
    }
    this.#pending.clear();
  }

  async #publish(channel: string, message: unknown): Promise<void> {
    await this.#publisher.publish(channel, JSON.stringify(message));
  }

  #onMessage(channel: string, raw: Buffer): void {
    if (this.#closed) return;
    const parsed = parseClusterMessage(raw);
    if (!parsed.ok) {
      this.rejected += 1;
      logger.warn(`refused a message on ${channel}: ${parsed.error}`);
      if (parsed.replyTo) this.#answerError(parsed.replyTo.from, parsed.replyTo.id, 'bad-request', parsed.error);
      return;
    }
    const message = parsed.value;
    // Our own room events come back on the shared channel.
    if (message.from === this.nodeName && message.type === 'roomEvent') return;
    switch (message.type) {
      case 'roomEvent':
        this.#handlers.roomEvent(message.from, message.data);
        return;
      case 'notice':
        try {
          this.#handlers.notice(message.from, message.method, message.data);
        } catch (error) {
          logger.warn(`notice ${message.method} from ${message.from} failed: ${String(error)}`);
        }
        return;
      case 'request':
        this.#handlers.request(message.from, message.method, message.data).then(
          (data) => this.#publish(nodeChannel(message.from), { type: 'response', id: message.id, from: this.nodeName, ok: true, data: data ?? {} }),
          (error: unknown) => {
            const code: ClusterErrorCode = error instanceof ClusterRequestError ? error.code : 'internal';
            this.#answerError(message.from, message.id, code, `${message.method}: ${error instanceof Error ? error.message : String(error)}`);
          },
        ).catch((error: unknown) => logger.warn(`answering ${message.method} to ${message.from} failed: ${String(error)}`));
        return;
      case 'response': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message.data);
        else pending.reject(new ClusterRequestError(message.error.code, `node ${message.from}: ${message.error.message}`));
      }
    }
  }

  #answerError(to: string, id: string, code: ClusterErrorCode, message: string): void {
    this.#publish(nodeChannel(to), { type: 'response', id, from: this.nodeName, ok: false, error: { code, message: message.slice(0, 512) } })
      .catch((error: unknown) => logger.warn(`answering ${to} failed: ${String(error)}`));
  }
}
