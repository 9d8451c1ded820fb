/**
 * One SFU node's part in a cluster of SFU nodes sharing rooms (VOXFACE_REDIS_URL set,
 * role `sfu`; docs/cluster.md "Rooms across SFU nodes"). It heartbeats this node in the
 * registry, keeps the room directory of this node's peers, passes room events (a peer
 * joined or left, a new producer) between nodes so local browsers see remote peers as
 * they see local ones, pipes remote producers in when a local peer consumes them, and
 * when another node dies tells local browsers its peers left and closes the pipes to it.
 */
import express from 'express';
import type { types } from 'mediasoup';
import type { Redis } from 'ioredis';
import type { PeerInfo } from '../../../shared/signaling/messages';
import { ID_PATTERN } from '../../../shared/signaling/limits';
import type { NodeRole } from '../clusterConfig';
import { Logger } from '../../Logger';
import { type BusConnections, busConnections } from '../busConnections';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { RoomManager } from '../../rooms/RoomManager';
import { SignalingError } from '../../signaling/SignalingError';
import type { ClusterNoticeData, ClusterNoticeMethod, ClusterRequestData, ClusterRequestMethod, RoomEvent } from './clusterMessages';
import { ClusterRequestError, NodeBus } from './NodeBus';
import { NodeRegistry, type NodeRecord } from './NodeRegistry';
import { placeNode } from './placement';
import { RoomDirectory } from './RoomDirectory';
import { RoomPipes } from './RoomPipes';
import { ClusterRoom } from './ClusterRoom';
import { requirePipeAddress, type SfuClusterConfig } from './sfuClusterConfig';

const logger = new Logger('SfuCluster');

export interface SfuClusterOptions {
  redisUrl: string;
  nodeName: string;
  roles: ReadonlySet<NodeRole>;
  config: SfuClusterConfig;
  rooms: RoomManager;
  /** How long a request to another node may take (default 5 s). */
  requestTimeoutMs?: number;
}

export class SfuCluster {
  readonly nodeName: string;
  readonly registry: NodeRegistry;
  readonly directory: RoomDirectory;
  readonly bus: NodeBus;
  readonly pipes: RoomPipes;
  /** The address this node's pipe transports announce. */
  readonly pipeAddress: string;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #connections: BusConnections;
  readonly #options: SfuClusterOptions;
  readonly #states = new Map<string, ClusterRoom>();
  /** Directory writes and room events not yet sent (close() lets them land). */
  readonly #writes = new Set<Promise<void>>();
  /** Notices for another part of this node (render placement, server/cluster/render/), by method. */
  readonly #noticeRoutes = new Map<string, (from: string, method: string, data: unknown) => void>();
  #signalingUrl = 'http://127.0.0.1';
  #closed = false;

  constructor(options: SfuClusterOptions) {
    this.#options = options;
    this.nodeName = options.nodeName;
    const pipeAddress = requirePipeAddress(options.config);
    this.pipeAddress = pipeAddress;
    this.#connections = busConnections(options.redisUrl, logger);
    ({ redis: this.#redis, subscriber: this.#subscriber } = this.#connections);
    this.directory = new RoomDirectory(this.#redis, this.nodeName);
    this.bus = new NodeBus(this.nodeName, this.#redis, this.#subscriber, {
      request: (from, method, data) => this.#onRequest(from, method, data),
      notice: (from, method, data) => {
        const route = this.#noticeRoutes.get(method);
        if (route) route(from, method, data);
        else this.pipes.handleNotice(from, method as ClusterNoticeMethod, data as ClusterNoticeData<ClusterNoticeMethod>);
      },
      roomEvent: (from, event) => this.#onRoomEvent(from, event),
    }, options.requestTimeoutMs);
    this.pipes = new RoomPipes({
      bus: this.bus, nodeName: this.nodeName, listenIp: options.config.pipeListenIp, announcedAddress: pipeAddress,
      enableSrtp: options.config.pipeSrtp, room: (id) => options.rooms.get(id), openTimeoutMs: 2 * (options.requestTimeoutMs ?? 5000),
    });
    this.registry = new NodeRegistry({
      redis: this.#redis,
      ttlMs: options.config.nodeTtlMs,
      self: () => ({
        name: this.nodeName,
        roles: [...options.roles],
        signalingUrl: this.#signalingUrl,
        pipeAddress,
        load: { peers: [...options.rooms.rooms.values()].reduce((sum, room) => sum + room.peers.size, 0), rooms: options.rooms.rooms.size },
      }),
    });
    this.registry.on('nodeDown', (node) => this.#onNodeDown(node));
    this.registry.on('lapsed', () => this.#onLapsed());
    options.rooms.on('roomCreated', (room) => this.#track(room));
  }

  /** Connects to Redis, listens on the bus and heartbeats `signalingUrl` (the server's, unless VOXFACE_NODE_URL says). */
  async start(signalingUrl: string): Promise<void> {
    this.#signalingUrl = this.#options.config.nodeUrl ?? signalingUrl;
    await this.#connections.connect();
    await this.bus.start();
    await this.registry.start();
    logger.info(`SFU node ${this.nodeName} in the cluster at ${this.#signalingUrl} (pipes on ${requirePipeAddress(this.#options.config)})`);
  }

  /** Hands the bus's notices of `methods` (checked already) to `handler` instead of the pipes. */
  routeNotices(methods: Iterable<string>, handler: (from: string, method: string, data: unknown) => void): void {
    for (const method of methods) this.#noticeRoutes.set(method, handler);
  }

  /**
   * How many peers of room `roomId` other live nodes host (from the directory), less `peerId`
   * (a peer reconnecting through this node while its old entry lingers): what the per-room
   * cap adds to this node's own count at a join. A dead node's entries do not count (a
   * crashed node restarts under a new name and nobody may be left to forget them).
   */
  async peersElsewhere(roomId: string, peerId: string): Promise<number> {
    // Liveness read from Redis, not the registry's last tick: a node that came up within the
    // last heartbeat is not in that yet, and its peers count.
    const [entries, live] = await Promise.all([this.directory.peers(roomId), this.registry.liveNodes()]);
    const alive = new Set(live.map((node) => node.name));
    return entries.filter((e) => e.node !== this.nodeName && e.peer.id !== peerId && alive.has(e.node)).length;
  }

  /** The room's peers on other nodes, with their producers, as a newcomer sees them. */
  async remotePeerInfos(room: Room, except: Peer): Promise<PeerInfo[]> {
    const shared = this.#states.get(room.id);
    return shared?.room === room ? shared.remotePeerInfos(except) : [];
  }

  /** The node of the remote peer of `room` that owns `producerId`, if any. */
  ownerOf(room: Room, producerId: string): string | undefined {
    const shared = this.#states.get(room.id);
    return shared?.room === room ? shared.ownerOf(producerId) : undefined;
  }

  /** Consumes a remote peer's producer for `peer`, piping it in from its node first. */
  async consumeRemote(room: Room, peer: Peer, transport: types.WebRtcTransport, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<types.Consumer> {
    const node = this.ownerOf(room, producerId);
    if (!node) throw new SignalingError('not-found', `no producer ${producerId} in this room`);
    try {
      return await this.pipes.consumeRemote(room, producerId, node, (producer) => peer.consume(room.router, transport, producer, rtpCapabilities));
    } catch (error) {
      if (!(error instanceof ClusterRequestError)) throw error;
      throw new SignalingError(error.code === 'not-found' ? 'not-found' : 'internal', `producer ${producerId} of node ${node}: ${error.message}`);
    }
  }

  /** What /health shows of the cluster: this node, the live nodes it sees, its pipes. */
  health(): { node: string; liveNodes: number; links: number; pipedIn: number; pipedOut: number } {
    return { node: this.nodeName, liveNodes: this.registry.alive().length, ...this.pipes.stats() };
  }

  /** Where a new peer of `room` should connect (placement.ts), from the live nodes in Redis now. */
  async place(room: string): Promise<NodeRecord | undefined> {
    const [nodes, hosting] = await Promise.all([this.registry.liveNodes(), this.directory.roomNodes(room)]);
    return placeNode(nodes, new Set(hosting));
  }

  /**
   * GET /api/cluster/place?room=R with `Authorization: Bearer <call token for R>`:
   * { node, url } of the node a new peer of R should join through. Only a holder of a
   * call token for R learns where R lives. `canJoin` checks the token (the server's keys).
   */
  router(canJoin: (token: string, room: string) => boolean): express.Router {
    const router = express.Router();
    router.get('/api/cluster/place', (req, res) => {
      const room = typeof req.query.room === 'string' ? req.query.room : '';
      if (!ID_PATTERN.test(room)) {
        res.status(400).json({ error: 'room must be 1-64 of A-Z a-z 0-9 _ -' });
        return;
      }
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!token || !canJoin(token, room)) {
        res.status(401).json({ error: `send Authorization: Bearer <call token for room ${room}>` });
        return;
      }
      this.place(room).then(
        (node) => {
          if (node) res.json({ node: node.name, url: node.signalingUrl });
          else res.status(503).json({ error: 'no live SFU node' });
        },
        (error: unknown) => res.status(503).json({ error: `placement failed: ${String(error)}` }),
      );
    });
    return router;
  }

  /** Stops heartbeating (others see this node leave at once), closes the pipes, disconnects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Rooms closed before this publish their peers' departure; let those writes land (bounded).
    await Promise.race([Promise.allSettled([...this.#writes]), new Promise((done) => setTimeout(done, 1000).unref())]);
    this.pipes.close();
    await this.registry.close().catch(() => undefined);
    this.bus.close();
    // A connection that never came up has nothing to flush.
    await Promise.allSettled([this.#redis, this.#subscriber].map((connection) => (connection.status === 'ready' ? connection.quit() : connection.disconnect())));
  }

  #track(room: Room): void {
    const shared = new ClusterRoom(room, {
      nodeName: this.nodeName,
      directory: this.directory,
      bus: this.bus,
      isAlive: (node) => this.registry.isAlive(node),
      track: (write) => {
        this.#writes.add(write);
        void write.finally(() => this.#writes.delete(write));
      },
      closed: (closed) => {
        if (this.#states.get(room.id) === closed) this.#states.delete(room.id);
      },
    });
    this.#states.set(room.id, shared);
  }

  #onRoomEvent(from: string, event: RoomEvent): void {
    if (from === this.nodeName) return;
    this.#states.get(event.room)?.onRoomEvent(from, event);
  }

  /**
   * This node's heartbeat lapsed past its TTL: the others may have counted it dead, closed
   * their pipes to it and dropped its peers. Start over: close every pipe (telling the
   * others), and have every room re-announce its peers and re-read the others'.
   */
  #onLapsed(): void {
    this.pipes.closeAllLinks();
    for (const shared of this.#states.values()) shared.resync();
  }

  async #onRequest(from: string, method: ClusterRequestMethod, data: unknown): Promise<unknown> {
    switch (method) {
      case 'openPipe': return this.pipes.handleOpenPipe(from, data as ClusterRequestData<'openPipe'>);
      case 'pipeProducer': return this.pipes.handlePipeProducer(from, data as ClusterRequestData<'pipeProducer'>);
    }
    throw new ClusterRequestError('bad-request', `unknown request ${String(method)}`);
  }

  #onNodeDown(node: string): void {
    this.bus.failRequestsTo(node);
    this.pipes.closeNode(node);
    let gone = 0;
    for (const shared of this.#states.values()) gone += shared.nodeDown(node);
    logger.warn(`node ${node} is gone: ${gone} of its peers left this node's rooms, its pipes closed`);
    this.directory.forgetNode(node).then((forgotten) => {
      if (!forgotten) logger.warn(`node ${node} is back (it had stalled): its directory entries stay`);
    }).catch((error: unknown) => logger.warn(`forgetting node ${node} failed: ${String(error)}`));
  }
}
