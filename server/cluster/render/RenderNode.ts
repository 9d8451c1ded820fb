/**
 * A render node (VOXFACE_ROLES=render with VOXFACE_REDIS_URL; docs/cluster.md, "Render
 * nodes"): it heartbeats in the node registry with its capacity (avatar sessions) and
 * how many it hosts, and hosts the avatar sessions SFU nodes place on it (HostedAvatar)
 * with its own mediasoup worker, rooms, coefficient ingest and AvatarService. Sessions
 * of an SFU node that dies, or all of them when this node's own heartbeat lapsed (the
 * SFU nodes have moved them), end here.
 */
import type { Redis } from 'ioredis';
import { Logger } from '../../Logger';
import { type BusConnections, busConnections } from '../busConnections';
import type { AvatarService } from '../../avatar/AvatarService';
import type { RoomManager } from '../../rooms/RoomManager';
import type { CoefficientIngest } from '../../streams/CoefficientIngest';
import { ClusterRequestError, NodeBus } from '../sfu/NodeBus';
import { NodeRegistry } from '../sfu/NodeRegistry';
import type { ClusterRequestData, ClusterRequestMethod } from '../sfu/clusterMessages';
import { HostedAvatar } from './HostedAvatar';
import type { RenderReplyData } from './renderMessages';

const logger = new Logger('RenderNode');

export interface RenderNodeOptions {
  redisUrl: string;
  nodeName: string;
  rooms: RoomManager;
  avatars: AvatarService;
  /** The coefficient streams of its rooms (their packets' delay since capture is shown per session). */
  ingest: CoefficientIngest;
  /** Avatar sessions this node takes at most (its VOXFACE_MAX_AVATAR_SESSIONS). */
  capacity: number;
  listenIp: string;
  announcedAddress: string;
  enableSrtp: boolean;
  ttlMs: number;
  requestTimeoutMs?: number;
}

export interface RenderNodeHealth {
  node: string;
  capacity: number;
  liveNodes: number;
  sessions: {
    session: string; sfuNode: string; room: string; peer: string; avatarId: string; framesRendered: number; fps: number; renderedFps: number; producersSent: number;
    /** Median ms from a coefficient packet's capture (the sender's clock) to its arrival here, over the last 250 packets. */
    coefficientDelayMsP50: number | null;
  }[];
}

export class RenderNode {
  readonly nodeName: string;
  readonly bus: NodeBus;
  readonly registry: NodeRegistry;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #connections: BusConnections;
  readonly #options: RenderNodeOptions;
  readonly #sessions = new Map<string, HostedAvatar>();
  /** `${room}/${peer}` -> the last 250 packets' delays since capture (ms). */
  readonly #delays = new Map<string, number[]>();
  #healthUrl = 'http://127.0.0.1';
  #closed = false;

  constructor(options: RenderNodeOptions) {
    this.#options = options;
    this.nodeName = options.nodeName;
    this.#connections = busConnections(options.redisUrl, logger);
    ({ redis: this.#redis, subscriber: this.#subscriber } = this.#connections);
    this.bus = new NodeBus(this.nodeName, this.#redis, this.#subscriber, {
      request: (from, method, data) => this.#onRequest(from, method, data),
      notice: (from, method, data) => {
        if (method !== 'dropHostedAvatar') return;
        const hosted = this.#sessions.get((data as { session: string }).session);
        if (hosted?.from === from) hosted.close();
      },
      roomEvent: () => undefined,
    }, options.requestTimeoutMs);
    this.registry = new NodeRegistry({
      redis: this.#redis,
      ttlMs: options.ttlMs,
      self: () => ({
        name: this.nodeName,
        roles: ['render'],
        signalingUrl: this.#healthUrl,
        pipeAddress: options.announcedAddress,
        load: { peers: 0, rooms: options.rooms.rooms.size, avatars: this.#sessions.size, avatarCapacity: options.capacity },
      }),
    });
    this.registry.on('nodeDown', (node) => {
      const gone = [...this.#sessions.values()].filter((hosted) => hosted.from === node);
      for (const hosted of gone) hosted.close();
      if (gone.length > 0) logger.warn(`SFU node ${node} is gone: its ${gone.length} avatar session(s) here ended`);
    });
    // The SFU nodes counted this node dead and rendered its sessions themselves: these feed nobody.
    this.registry.on('lapsed', () => {
      for (const hosted of [...this.#sessions.values()]) hosted.close();
    });
    options.ingest.on('frame', ({ roomId, peerId, frame, receivedAtMs }) => {
      const key = `${roomId}/${peerId}`;
      const delays = this.#delays.get(key) ?? [];
      delays.push(receivedAtMs - frame.captureTimeMs);
      if (delays.length > 250) delays.shift();
      this.#delays.set(key, delays);
    });
    options.ingest.on('streamClosed', ({ roomId, peerId }) => this.#delays.delete(`${roomId}/${peerId}`));
    options.avatars.on('sessionStarted', (session) => {
      const hosted = [...this.#sessions.values()].find((h) => h.peer === session.peer);
      if (hosted) hosted.useSession(session);
    });
    options.avatars.on('sessionEnded', ({ roomId, peerId, reason }) => {
      const hosted = [...this.#sessions.values()].find((h) => h.room.id === roomId && h.peer.id === peerId);
      if (hosted && !hosted.closed && hosted.session) hosted.fail(reason, `the avatar session ended on render node ${this.nodeName}`);
    });
  }

  /** Connects to Redis, listens on the bus and heartbeats; `healthUrl` is announced as the node's URL. */
  async start(healthUrl: string): Promise<void> {
    this.#healthUrl = healthUrl;
    await this.#connections.connect();
    await this.bus.start();
    await this.registry.start();
    logger.info(`render node ${this.nodeName} hosting up to ${this.#options.capacity} avatar sessions (pipes on ${this.#options.announcedAddress})`);
  }

  health(): RenderNodeHealth {
    return {
      node: this.nodeName,
      capacity: this.#options.capacity,
      liveNodes: this.registry.alive().length,
      sessions: [...this.#sessions.values()].map((hosted) => {
        const stats = hosted.session?.stats();
        const delays = [...(this.#delays.get(`${hosted.room.id}/${hosted.peer.id}`) ?? [])].sort((a, b) => a - b);
        return {
          session: hosted.id, sfuNode: hosted.from, room: hosted.room.id, peer: hosted.peer.id, avatarId: hosted.avatarId,
          framesRendered: stats?.framesRendered ?? 0, fps: stats?.fps ?? 0, renderedFps: stats?.renderedFps ?? 0, producersSent: hosted.producersSent,
          coefficientDelayMsP50: delays.length ? delays[Math.floor(delays.length / 2)]! : null,
        };
      }),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const hosted of [...this.#sessions.values()]) hosted.fail('server-shutdown', `render node ${this.nodeName} shuts down`);
    await this.registry.close().catch(() => undefined);
    this.bus.close();
    await Promise.allSettled([this.#redis, this.#subscriber].map((connection) => (connection.status === 'ready' ? connection.quit() : connection.disconnect())));
  }

  async #onRequest(from: string, method: ClusterRequestMethod, data: unknown): Promise<unknown> {
    switch (method) {
      case 'hostAvatar': return this.#host(from, data as ClusterRequestData<'hostAvatar'>);
      case 'reloadHostedAvatar': {
        const hosted = this.#sessions.get((data as ClusterRequestData<'reloadHostedAvatar'>).session);
        if (!hosted || hosted.from !== from) throw new ClusterRequestError('not-found', `render node ${this.nodeName} hosts no such session of node ${from}`);
        return { reloaded: (await this.#options.avatars.reloadAvatar(hosted.avatarId)) > 0 };
      }
    }
    throw new ClusterRequestError('bad-request', `render node ${this.nodeName} does not answer ${String(method)}`);
  }

  async #host(from: string, data: ClusterRequestData<'hostAvatar'>): Promise<RenderReplyData<'hostAvatar'>> {
    if (this.#closed) throw new ClusterRequestError('internal', `render node ${this.nodeName} is shutting down`);
    if (this.#sessions.has(data.session)) throw new ClusterRequestError('conflict', `session ${data.session} is hosted here already`);
    if (this.#sessions.size >= this.#options.capacity) {
      throw new ClusterRequestError('conflict', `render node ${this.nodeName} hosts ${this.#sessions.size} avatar sessions, its capacity`);
    }
    const { hosted, reply } = await HostedAvatar.open(from, data, {
      bus: this.bus, rooms: this.#options.rooms, avatars: this.#options.avatars,
      listenIp: this.#options.listenIp, announcedAddress: this.#options.announcedAddress, enableSrtp: this.#options.enableSrtp,
      closed: (closed) => {
        if (this.#sessions.get(closed.id) === closed) this.#sessions.delete(closed.id);
      },
    });
    if (!hosted.closed) this.#sessions.set(hosted.id, hosted);
    logger.info(`hosting the avatar '${data.avatarId}' of ${data.peer.id} (room ${data.room}) for SFU node ${from}`);
    return reply;
  }
}
