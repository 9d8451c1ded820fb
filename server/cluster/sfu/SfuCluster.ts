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
import { Redis } from 'ioredis';
import type { PeerInfo } from '../../../shared/signaling/messages';
import { ID_PATTERN } from '../../../shared/signaling/limits';
import type { NodeRole } from '../clusterConfig';
import { Logger } from '../../Logger';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { RoomManager } from '../../rooms/RoomManager';
import { SignalingError } from '../../signaling/SignalingError';
import type { ClusterNoticeData, ClusterNoticeMethod, ClusterRequestData, ClusterRequestMethod, RemotePeerInfo, RoomEvent } from './clusterMessages';
import { ClusterRequestError, NodeBus } from './NodeBus';
import { NodeRegistry, type NodeRecord } from './NodeRegistry';
import { placeNode } from './placement';
import { RoomDirectory } from './RoomDirectory';
import { RoomPipes } from './RoomPipes';
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

interface RemotePeer {
  node: string;
  info: RemotePeerInfo;
}

interface RoomState {
  readonly room: Room;
  /** Peers of this room on other nodes, by id. */
  readonly remotePeers: Map<string, RemotePeer>;
  /** Settles once the directory's peers of this room are in `remotePeers`. */
  loaded: Promise<void>;
  /** Directory writes and event publications of this room, in order. */
  chain: Promise<void>;
}

/** At most this many producers per peer cross the bus (the per-peer cap is 4). */
const MAX_PRODUCERS_SHARED = 16;

export class SfuCluster {
  readonly nodeName: string;
  readonly registry: NodeRegistry;
  readonly directory: RoomDirectory;
  readonly bus: NodeBus;
  readonly pipes: RoomPipes;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #options: SfuClusterOptions;
  readonly #states = new Map<string, RoomState>();
  /** Directory writes and room events not yet sent (close() lets them land). */
  readonly #writes = new Set<Promise<void>>();
  #signalingUrl = 'http://127.0.0.1';
  #closed = false;

  constructor(options: SfuClusterOptions) {
    this.#options = options;
    this.nodeName = options.nodeName;
    const pipeAddress = requirePipeAddress(options.config);
    const redisOptions = { lazyConnect: true, maxRetriesPerRequest: 3 };
    this.#redis = new Redis(options.redisUrl, redisOptions);
    this.#subscriber = new Redis(options.redisUrl, redisOptions);
    for (const connection of [this.#redis, this.#subscriber]) {
      connection.on('error', (error: Error) => logger.warn(`redis: ${error.message}`));
    }
    this.directory = new RoomDirectory(this.#redis, this.nodeName);
    this.bus = new NodeBus(this.nodeName, this.#redis, this.#subscriber, {
      request: (from, method, data) => this.#onRequest(from, method, data),
      notice: (from, method, data) => this.pipes.handleNotice(from, method as ClusterNoticeMethod, data as ClusterNoticeData<ClusterNoticeMethod>),
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
    options.rooms.on('roomCreated', (room) => this.#track(room));
  }

  /** Connects to Redis, listens on the bus and heartbeats `signalingUrl` (the server's, unless VOXFACE_NODE_URL says). */
  async start(signalingUrl: string): Promise<void> {
    this.#signalingUrl = this.#options.config.nodeUrl ?? signalingUrl;
    await Promise.all([this.#redis.connect(), this.#subscriber.connect()]);
    await this.bus.start();
    await this.registry.start();
    logger.info(`SFU node ${this.nodeName} in the cluster at ${this.#signalingUrl} (pipes on ${requirePipeAddress(this.#options.config)})`);
  }

  /** The room's peers on other nodes, with their producers, as a newcomer sees them. */
  async remotePeerInfos(room: Room, except: Peer): Promise<PeerInfo[]> {
    const state = this.#states.get(room.id);
    if (!state || state.room !== room) return [];
    await state.loaded;
    return [...state.remotePeers.values()]
      .filter(({ info }) => info.id !== except.id && !room.peers.has(info.id))
      .map(({ info }) => ({ id: info.id, displayName: info.displayName, producers: info.producers.map((p) => ({ ...p, kind: p.kind })) }));
  }

  /** Whether `producerId` is a producer of a peer of this room on another node. */
  ownerOf(room: Room, producerId: string): string | undefined {
    const state = this.#states.get(room.id);
    if (!state) return undefined;
    for (const { node, info } of state.remotePeers.values()) if (info.producers.some((p) => p.id === producerId)) return node;
    return undefined;
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
    const state: RoomState = { room, remotePeers: new Map(), loaded: Promise.resolve(), chain: Promise.resolve() };
    this.#states.set(room.id, state);
    // Registered first, then read: a peer another node adds after the read arrives as an event.
    state.loaded = this.directory.addRoom(room.id)
      .then(() => this.directory.peers(room.id))
      .then((entries) => {
        for (const entry of entries) {
          if (entry.node === this.nodeName || !this.registry.isAlive(entry.node)) continue;
          if (!state.remotePeers.has(entry.peer.id)) state.remotePeers.set(entry.peer.id, { node: entry.node, info: entry.peer });
        }
      })
      .catch((error: unknown) => logger.warn(`reading the directory of room ${room.id} failed: ${String(error)}`));
    const infoOf = (peer: Peer): RemotePeerInfo => ({
      id: peer.id, displayName: peer.displayName, producers: peer.producerInfos().slice(0, MAX_PRODUCERS_SHARED).map((p) => ({ id: p.id, kind: p.kind, appData: p.appData })),
    });
    const then = (step: () => Promise<void>) => {
      const chain = state.chain.then(step).catch((error: unknown) => logger.warn(`room ${room.id}: sharing with the cluster failed: ${String(error)}`));
      state.chain = chain;
      this.#writes.add(chain);
      void chain.finally(() => this.#writes.delete(chain));
    };
    const localPeers = new Set<Peer>();
    room.on('peerJoined', (peer) => {
      localPeers.add(peer);
      then(async () => {
        await this.directory.putPeer(room.id, infoOf(peer));
        await this.bus.publishRoomEvent({ event: 'peerJoined', room: room.id, peer: infoOf(peer) });
      });
    });
    room.on('newProducer', ({ peer, producer }) => {
      const info = { id: producer.id, kind: producer.kind, appData: { ...producer.appData } };
      then(async () => {
        await this.directory.putPeer(room.id, infoOf(peer));
        await this.bus.publishRoomEvent({ event: 'newProducer', room: room.id, peerId: peer.id, producer: info });
      });
      producer.observer.on('close', () => {
        if (room.closed || peer.closed) return;
        then(async () => {
          await this.directory.putPeer(room.id, infoOf(peer));
          await this.bus.publishRoomEvent({ event: 'producerClosed', room: room.id, peerId: peer.id, producerId: producer.id });
        });
      });
    });
    const left = (peer: Peer) => {
      if (!localPeers.delete(peer)) return;
      then(async () => {
        await this.directory.removePeer(room.id, peer.id);
        await this.bus.publishRoomEvent({ event: 'peerLeft', room: room.id, peerId: peer.id });
      });
    };
    room.on('peerLeft', left);
    room.on('closed', () => {
      // A room closing with peers in it (a shutdown, a dead worker) lets each of them go.
      for (const peer of [...localPeers]) left(peer);
      then(() => this.directory.removeRoom(room.id));
      if (this.#states.get(room.id) === state) this.#states.delete(room.id);
    });
  }

  #onRoomEvent(from: string, event: RoomEvent): void {
    const state = this.#states.get(event.room);
    if (!state || state.room.closed || from === this.nodeName) return;
    const { room, remotePeers } = state;
    switch (event.event) {
      case 'peerJoined': {
        // A peer id present here is this node's (a reconnection elsewhere replaces it on its own node).
        if (room.peers.has(event.peer.id)) return;
        const known = remotePeers.has(event.peer.id);
        remotePeers.set(event.peer.id, { node: from, info: event.peer });
        if (!known) room.broadcast('peerJoined', { peerId: event.peer.id, displayName: event.peer.displayName });
        return;
      }
      case 'peerLeft': {
        if (remotePeers.get(event.peerId)?.node !== from) return;
        remotePeers.delete(event.peerId);
        room.broadcast('peerLeft', { peerId: event.peerId });
        return;
      }
      case 'newProducer': {
        const remote = remotePeers.get(event.peerId);
        if (remote?.node !== from) return;
        if (remote.info.producers.some((p) => p.id === event.producer.id)) return;
        if (remote.info.producers.length >= MAX_PRODUCERS_SHARED) return;
        remote.info = { ...remote.info, producers: [...remote.info.producers, event.producer] };
        room.broadcast('newProducer', { peerId: event.peerId, producer: event.producer });
        return;
      }
      case 'producerClosed': {
        const remote = remotePeers.get(event.peerId);
        if (remote?.node !== from) return;
        remote.info = { ...remote.info, producers: remote.info.producers.filter((p) => p.id !== event.producerId) };
      }
    }
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
    for (const { room, remotePeers } of this.#states.values()) {
      for (const [peerId, remote] of [...remotePeers]) {
        if (remote.node !== node) continue;
        remotePeers.delete(peerId);
        room.broadcast('peerLeft', { peerId });
        gone += 1;
      }
    }
    logger.warn(`node ${node} is gone: ${gone} of its peers left this node's rooms, its pipes closed`);
    this.directory.forgetNode(node).catch((error: unknown) => logger.warn(`forgetting node ${node} failed: ${String(error)}`));
  }
}
