/**
 * A room: one mediasoup router and the peers in it. The room carries requests that
 * span peers (consume another peer's producer, tell everyone about a newcomer) and
 * closes everything, idempotently, when it closes.
 */
import type { types } from 'mediasoup';
import type { NotificationMap, NotificationMethod, PeerInfo } from '../../shared/signaling/messages';
import { TypedEmitter } from '../../shared/TypedEmitter';
import { SignalingError } from '../signaling/SignalingError';
import { Logger } from '../Logger';
import { Capacity } from './Capacity';
import { Peer, type Notify } from './Peer';

const logger = new Logger('Room');

export type RoomCloseReason = NotificationMap['roomClosed']['reason'];

export interface RoomEvents {
  [key: string]: unknown;
  peerJoined: Peer;
  peerLeft: Peer;
  /** A producer appeared in the room (plugins such as the avatar service listen here). */
  newProducer: { peer: Peer; producer: types.Producer };
  newDataProducer: { peer: Peer; dataProducer: types.DataProducer };
  closed: RoomCloseReason;
}

export class Room extends TypedEmitter<RoomEvents> {
  readonly id: string;
  readonly router: types.Router;
  readonly worker: types.Worker;
  readonly peers = new Map<string, Peer>();
  readonly #capacity: Capacity;
  #closed = false;

  /** `capacity`: the server's caps and slots (default: a room of its own with the default caps). */
  constructor(id: string, worker: types.Worker, router: types.Router, capacity: Capacity = new Capacity()) {
    super();
    this.id = id;
    this.worker = worker;
    this.router = router;
    this.#capacity = capacity;
    // mediasoup closes a dead worker's routers before it emits 'died': a router that
    // closes under a closed worker means the worker died (a shutdown closes rooms first).
    router.observer.on('close', () => this.close(worker.closed ? 'worker-died' : 'closed'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds a peer. A peer id already present is a reconnection: the old session is
   * closed first (freeing its slots), so one person never holds two sets of transports.
   * Throws 'room-full' or 'peer-limit' when the room's or the server's cap is reached.
   */
  join(peerId: string, displayName: string, notify: Notify, user = peerId): Peer {
    if (this.#closed) throw new SignalingError('not-found', `room ${this.id} is closed`);
    const previous = this.peers.get(peerId);
    // A fixed peer id already in the room is a reconnection, which replaces that session: its own user's only.
    if (previous && previous.user !== user) throw new SignalingError('forbidden', `peer id '${peerId}' is another user's in this room`);
    if (previous) this.leave(previous);
    this.#capacity.check('peersPerRoom', this.peers.size, this.id);
    const peer = new Peer(peerId, displayName, notify, this.#capacity, user);
    this.peers.set(peerId, peer);
    this.broadcast('peerJoined', { peerId, displayName }, peer);
    this.emit('peerJoined', peer);
    logger.debug('peer %s joined room %s', peerId, this.id);
    return peer;
  }

  /** Everyone else, with their producers, as a newcomer sees the room. */
  peerInfos(except: Peer): PeerInfo[] {
    return [...this.peers.values()]
      .filter((p) => p !== except)
      .map((p) => ({ id: p.id, displayName: p.displayName, producers: p.producerInfos() }));
  }

  leave(peer: Peer): void {
    if (this.peers.get(peer.id) !== peer) return;
    this.peers.delete(peer.id);
    peer.close();
    this.broadcast('peerLeft', { peerId: peer.id }, peer);
    this.emit('peerLeft', peer);
    logger.debug('peer %s left room %s', peer.id, this.id);
  }

  /** Tells the others in the room about a new producer of `peer`. */
  announceProducer(peer: Peer, producer: types.Producer): void {
    this.broadcast('newProducer', { peerId: peer.id, producer: { id: producer.id, kind: producer.kind, appData: { ...producer.appData } } }, peer);
    this.emit('newProducer', { peer, producer });
  }

  announceDataProducer(peer: Peer, dataProducer: types.DataProducer): void {
    this.emit('newDataProducer', { peer, dataProducer });
  }

  findProducer(producerId: string): types.Producer | undefined {
    for (const peer of this.peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return producer;
    }
    return undefined;
  }

  /** Whether some peer of this room owns an object with this id (to tell "not yours" from "unknown"). */
  isOwnedByAnyone(id: string): boolean {
    for (const peer of this.peers.values()) {
      if (peer.transports.has(id) || peer.producers.has(id) || peer.consumers.has(id) || peer.dataProducers.has(id)) return true;
    }
    return false;
  }

  broadcast<M extends NotificationMethod>(method: M, data: NotificationMap[M], except?: Peer): void {
    for (const peer of this.peers.values()) {
      if (peer !== except) peer.notify(method, data);
    }
  }

  close(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.broadcast('roomClosed', { reason });
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    if (!this.router.closed) this.router.close();
    logger.debug('room %s closed (%s)', this.id, reason);
    this.emit('closed', reason);
    this.removeAllListeners();
  }
}
