/**
 * socket.io signaling: validates every request (envelope, size, rate, schema),
 * dispatches it to its handler and always answers through the acknowledgement,
 * with data or with an error. Nothing a client sends can throw past this file.
 */
import type { Server as SocketIoServer, Socket } from 'socket.io';
import { SIGNALING_LIMITS } from '../../shared/signaling/limits';
import {
  requestEnvelope, requestSchemas, type RequestMethod, type SignalingReply,
} from '../../shared/signaling/messages';
import type { VoxfaceConfig } from '../config';
import { Logger } from '../Logger';
import type { Metrics } from '../metrics';
import type { RoomManager } from '../rooms/RoomManager';
import { RateLimiter } from './RateLimiter';
import { requestHandlers, type Session } from './requestHandlers';
import { SignalingError } from './SignalingError';
import type { AvatarService } from '../avatar/AvatarService';
import type { SfuCluster } from '../cluster/sfu/SfuCluster';

const logger = new Logger('SignalingServer');

function isMethod(method: string): method is RequestMethod {
  return Object.prototype.hasOwnProperty.call(requestSchemas, method);
}

function failure(code: SignalingError['code'], message: string): SignalingReply {
  return { ok: false, error: { code, message } };
}

export class SignalingServer {
  readonly #io: SocketIoServer;
  readonly #config: VoxfaceConfig;
  readonly #rooms: RoomManager;
  readonly #metrics: Metrics;
  /** Absent: this server renders no avatars (enableAvatar answers not-found). */
  readonly avatars?: AvatarService;
  /** Absent: a single-node server (no remote peers, nothing piped). */
  readonly #cluster?: SfuCluster;

  constructor(io: SocketIoServer, config: VoxfaceConfig, rooms: RoomManager, metrics: Metrics, avatars?: AvatarService, cluster?: SfuCluster) {
    this.#io = io;
    this.avatars = avatars;
    this.#cluster = cluster;
    this.#config = config;
    this.#rooms = rooms;
    this.#metrics = metrics;
    io.on('connection', (socket) => this.#onConnection(socket));
  }

  #onConnection(socket: Socket): void {
    const limiter = new RateLimiter(this.#config.requestsPerSecond, this.#config.requestBurst);
    const session: Session = {
      notify: (method, data) => socket.emit('notification', { method, data }),
    };
    // Requests of one connection run one at a time, in order: a client cannot race
    // its own join against its own produce.
    let queue: Promise<void> = Promise.resolve();

    socket.on('request', (envelope: unknown, ack: unknown) => {
      if (typeof ack !== 'function') {
        this.#metrics.signalingRequests.inc({ method: 'none', result: 'no-ack' });
        return;
      }
      const reply = (answer: SignalingReply, method: string): void => {
        this.#metrics.signalingRequests.inc({ method, result: answer.ok ? 'ok' : answer.error.code });
        (ack as (answer: SignalingReply) => void)(answer);
      };
      if (!limiter.tryTake()) {
        reply(failure('rate-limited', `more than ${this.#config.requestsPerSecond} requests per second`), 'any');
        return;
      }
      queue = queue.then(() => this.#handle(session, envelope)).then(
        ({ answer, method }) => reply(answer, method),
        (error: unknown) => {
          logger.error(`request handling failed unexpectedly: ${String(error)}`);
          reply(failure('internal', 'internal error'), 'any');
        },
      );
    });

    socket.on('disconnect', () => {
      queue = queue.then(() => {
        const { room, peer } = session;
        if (room && peer) {
          room.leave(peer);
          this.#rooms.closeIfEmpty(room);
        }
        session.room = undefined;
        session.peer = undefined;
      });
    });
  }

  async #handle(session: Session, envelope: unknown): Promise<{ answer: SignalingReply; method: string }> {
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(envelope) ?? '');
    } catch {
      return { answer: failure('bad-request', 'request is not JSON'), method: 'any' };
    }
    if (size > SIGNALING_LIMITS.maxRequestBytes) {
      return { answer: failure('payload-too-large', `request of ${size} bytes exceeds ${SIGNALING_LIMITS.maxRequestBytes}`), method: 'any' };
    }
    const parsedEnvelope = requestEnvelope.safeParse(envelope);
    if (!parsedEnvelope.success) {
      return { answer: failure('bad-request', 'request must be { method, data }'), method: 'any' };
    }
    const { method, data } = parsedEnvelope.data;
    if (!isMethod(method)) return { answer: failure('unknown-method', `unknown method '${method.slice(0, 64)}'`), method: 'unknown' };
    const parsed = requestSchemas[method].safeParse(data ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join('.') : 'data';
      return { answer: failure('bad-request', `${method}: ${where}: ${issue?.message ?? 'invalid'}`), method };
    }
    try {
      const handler = requestHandlers[method] as (ctx: unknown, s: Session, d: unknown) => Promise<unknown>;
      const result = await handler({ config: this.#config, rooms: this.#rooms, avatars: this.avatars, cluster: this.#cluster }, session, parsed.data);
      return { answer: { ok: true, data: result }, method };
    } catch (error) {
      if (error instanceof SignalingError) return { answer: failure(error.code, error.message), method };
      // mediasoup throws TypeError for what our schemas let through (bad RTP parameters, say).
      if (error instanceof TypeError) return { answer: failure('bad-request', `${method}: ${error.message}`), method };
      logger.error(`${method} failed: ${String(error)}`);
      return { answer: failure('internal', `${method} failed`), method };
    }
  }

  close(): void {
    this.#io.disconnectSockets(true);
  }
}
