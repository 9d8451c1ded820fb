/**
 * One local room's share in the cluster: it writes this node's peers of the room (with
 * their producers) to the room directory and publishes their comings and goings, and
 * keeps the room's peers on other nodes, from the directory and from their nodes'
 * events, telling local browsers about them exactly as about local peers.
 */
import type { PeerInfo } from '../../../shared/signaling/messages';
import { Logger } from '../../Logger';
import type { Peer } from '../../rooms/Peer';
import type { Room } from '../../rooms/Room';
import type { RemotePeerInfo, RoomEvent } from './clusterMessages';
import type { NodeBus } from './NodeBus';
import type { RoomDirectory } from './RoomDirectory';

const logger = new Logger('ClusterRoom');

/** At most this many producers per peer cross the bus (the per-peer cap is 4). */
const MAX_PRODUCERS_SHARED = 16;

export interface ClusterRoomContext {
  nodeName: string;
  directory: RoomDirectory;
  bus: NodeBus;
  isAlive(node: string): boolean;
  /** A directory write or event in flight (the cluster's close() lets them land). */
  track(write: Promise<void>): void;
  closed(room: ClusterRoom): void;
}

export interface RemotePeer {
  node: string;
  info: RemotePeerInfo;
}

export class ClusterRoom {
  readonly room: Room;
  /** Peers of this room on other nodes, by id. */
  readonly remotePeers = new Map<string, RemotePeer>();
  /** Settles once the directory's peers of this room are in `remotePeers`. */
  loaded: Promise<void>;
  readonly #context: ClusterRoomContext;
  readonly #localPeers = new Set<Peer>();
  /** Peers that left while the directory was being read (the read may still list them). */
  readonly #departed = new Set<string>();
  #loading = 0;
  /** Directory writes and event publications of this room, in order. */
  #chain: Promise<void> = Promise.resolve();

  constructor(room: Room, context: ClusterRoomContext) {
    this.room = room;
    this.#context = context;
    // Registered first, then read: a peer another node adds after the read arrives as an event.
    this.loaded = this.#load(false);
    room.on('peerJoined', (peer) => {
      this.#localPeers.add(peer);
      this.#enqueue(() => this.#announce(peer));
    });
    room.on('newProducer', ({ peer, producer }) => {
      const info = { id: producer.id, kind: producer.kind, appData: { ...producer.appData } };
      this.#enqueue(async () => {
        await context.directory.putPeer(room.id, this.#infoOf(peer));
        await context.bus.publishRoomEvent({ event: 'newProducer', room: room.id, peerId: peer.id, producer: info });
      });
      producer.observer.on('close', () => {
        if (room.closed || peer.closed) return;
        this.#enqueue(async () => {
          await context.directory.putPeer(room.id, this.#infoOf(peer));
          await context.bus.publishRoomEvent({ event: 'producerClosed', room: room.id, peerId: peer.id, producerId: producer.id });
        });
      });
    });
    room.on('peerLeft', (peer) => this.#left(peer));
    room.on('closed', () => {
      // A room closing with peers in it (a shutdown, a dead worker) lets each of them go.
      for (const peer of [...this.#localPeers]) this.#left(peer);
      this.#enqueue(() => context.directory.removeRoom(room.id));
      context.closed(this);
    });
  }

  /** The room's peers on other nodes, with their producers, as a newcomer sees them. */
  async remotePeerInfos(except: Peer): Promise<PeerInfo[]> {
    await this.loaded;
    return [...this.remotePeers.values()]
      .filter(({ info }) => info.id !== except.id && !this.room.peers.has(info.id))
      .map(({ info }) => ({ id: info.id, displayName: info.displayName, producers: info.producers.map((p) => ({ ...p })) }));
  }

  /** The node of the remote peer that owns `producerId`, if any. */
  ownerOf(producerId: string): string | undefined {
    for (const { node, info } of this.remotePeers.values()) if (info.producers.some((p) => p.id === producerId)) return node;
    return undefined;
  }

  onRoomEvent(from: string, event: RoomEvent): void {
    if (this.room.closed) return;
    const { room, remotePeers } = this;
    switch (event.event) {
      case 'peerJoined': {
        // A peer id present here is this node's (a reconnection elsewhere replaces it on its own node).
        if (room.peers.has(event.peer.id)) return;
        this.#departed.delete(event.peer.id);
        const known = remotePeers.has(event.peer.id);
        remotePeers.set(event.peer.id, { node: from, info: event.peer });
        if (!known) this.#tellJoined(event.peer);
        return;
      }
      case 'peerLeft': {
        if (remotePeers.get(event.peerId)?.node !== from) {
          if (this.#loading > 0) this.#departed.add(event.peerId);
          return;
        }
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

  /** `node` died: its peers leave this room's browsers. Returns how many. */
  nodeDown(node: string): number {
    let gone = 0;
    for (const [peerId, remote] of [...this.remotePeers]) {
      if (remote.node !== node) continue;
      this.remotePeers.delete(peerId);
      this.room.broadcast('peerLeft', { peerId });
      gone += 1;
    }
    return gone;
  }

  /**
   * After this node's heartbeat lapsed (the others may have dropped it, its pipes are
   * closed): every remote peer leaves and comes back from the directory, and this node's
   * peers leave and come back for the others, with their producers, so every browser
   * consumes again through new pipes.
   */
  resync(): void {
    for (const peerId of this.remotePeers.keys()) this.room.broadcast('peerLeft', { peerId });
    this.remotePeers.clear();
    const peers = [...this.#localPeers];
    this.#enqueue(async () => {
      for (const peer of peers) await this.#context.bus.publishRoomEvent({ event: 'peerLeft', room: this.room.id, peerId: peer.id });
      for (const peer of peers) if (!peer.closed) await this.#announce(peer);
    });
    this.loaded = this.#load(true);
  }

  async #announce(peer: Peer): Promise<void> {
    const info = this.#infoOf(peer);
    await this.#context.directory.putPeer(this.room.id, info);
    await this.#context.bus.publishRoomEvent({ event: 'peerJoined', room: this.room.id, peer: info });
  }

  #left(peer: Peer): void {
    if (!this.#localPeers.delete(peer)) return;
    this.#enqueue(async () => {
      await this.#context.directory.removePeer(this.room.id, peer.id);
      await this.#context.bus.publishRoomEvent({ event: 'peerLeft', room: this.room.id, peerId: peer.id });
    });
  }

  /** Reads the room's remote peers from the directory; `tell`: local browsers hear of each (a resync). */
  async #load(tell: boolean): Promise<void> {
    this.#loading += 1;
    try {
      await this.#context.directory.addRoom(this.room.id);
      const entries = await this.#context.directory.peers(this.room.id);
      for (const entry of entries) {
        const { node, peer } = entry;
        if (node === this.#context.nodeName || !this.#context.isAlive(node) || this.#departed.has(peer.id) || this.room.peers.has(peer.id)) continue;
        if (this.remotePeers.has(peer.id)) continue;
        this.remotePeers.set(peer.id, { node, info: peer });
        if (tell) this.#tellJoined(peer);
      }
    } catch (error) {
      logger.warn(`reading the directory of room ${this.room.id} failed: ${String(error)}`);
    } finally {
      this.#loading -= 1;
      if (this.#loading === 0) this.#departed.clear();
    }
  }

  /** A remote peer new to this room's browsers: it joined, with the producers it already has. */
  #tellJoined(peer: RemotePeerInfo): void {
    this.room.broadcast('peerJoined', { peerId: peer.id, displayName: peer.displayName });
    for (const producer of peer.producers) this.room.broadcast('newProducer', { peerId: peer.id, producer });
  }

  #infoOf(peer: Peer): RemotePeerInfo {
    return {
      id: peer.id,
      displayName: peer.displayName,
      producers: peer.producerInfos().slice(0, MAX_PRODUCERS_SHARED).map((p) => ({ id: p.id, kind: p.kind, appData: p.appData })),
    };
  }

  #enqueue(step: () => Promise<void>): void {
    const chain = this.#chain.then(step).catch((error: unknown) => logger.warn(`room ${this.room.id}: sharing with the cluster failed: ${String(error)}`));
    this.#chain = chain;
    this.#context.track(chain);
  }
}
