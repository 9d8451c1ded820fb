/**
 * Finds or creates rooms, places each on the least-loaded worker, and closes the
 * rooms of a worker that dies (their peers hear `roomClosed` with 'worker-died').
 * It owns the server's Capacity: a room holds one of its room slots from the
 * start of its creation until it closes.
 */
import { TypedEmitter } from '../../shared/TypedEmitter';
import { MEDIA_CODECS } from '../media/codecs';
import type { WorkerPool } from '../media/WorkerPool';
import { Logger } from '../Logger';
import { Capacity, type CapLimits } from './Capacity';
import type { Notify, Peer } from './Peer';
import { Room } from './Room';

const logger = new Logger('RoomManager');

export interface RoomManagerEvents {
  [key: string]: unknown;
  roomCreated: Room;
  roomClosed: Room;
}

export class RoomManager extends TypedEmitter<RoomManagerEvents> {
  readonly #pool: WorkerPool;
  readonly rooms = new Map<string, Room>();
  readonly #creating = new Map<string, Promise<Room>>();
  /** The caps every room and peer of this manager count against, and their refusals. */
  readonly capacity: Capacity;
  #closed = false;

  constructor(pool: WorkerPool, limits: Partial<CapLimits> = {}) {
    super();
    this.#pool = pool;
    this.capacity = new Capacity(limits);
    pool.on('workerDied', ({ worker }) => {
      for (const room of [...this.rooms.values()]) {
        if (room.worker === worker) {
          logger.warn(`closing room ${room.id}: its worker died`);
          room.close('worker-died');
        }
      }
    });
  }

  get(roomId: string): Room | undefined {
    return this.rooms.get(roomId);
  }

  /** The open room with this id, created on first use; concurrent callers share one creation. */
  async getOrCreate(roomId: string): Promise<Room> {
    if (this.#closed) throw new Error('RoomManager closed');
    const existing = this.rooms.get(roomId);
    if (existing && !existing.closed) return existing;
    let pending = this.#creating.get(roomId);
    if (!pending) {
      // Reserved now, not after the await: concurrent creations cannot pass the cap together.
      const releaseSlot = this.capacity.reserve('rooms');
      pending = this.#create(roomId, releaseSlot).finally(() => this.#creating.delete(roomId));
      this.#creating.set(roomId, pending);
    }
    return pending;
  }

  /**
   * Joins `peerId` to the room, creating it on first use. A refused join (room
   * full, peer cap reached) closes a room it left empty, returning its slot.
   */
  async join(roomId: string, peerId: string, displayName: string, notify: Notify, user = peerId): Promise<{ room: Room; peer: Peer }> {
    let room = await this.getOrCreate(roomId);
    // Another refused joiner may have closed the room it found empty meanwhile.
    if (room.closed) room = await this.getOrCreate(roomId);
    try {
      return { room, peer: room.join(peerId, displayName, notify, user) };
    } catch (error) {
      this.closeIfEmpty(room);
      throw error;
    }
  }

  /** Closes a room once its last peer has left, returning its worker slot. */
  closeIfEmpty(room: Room): void {
    if (room.peers.size === 0) room.close('closed');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of [...this.rooms.values()]) room.close('server-shutdown');
    this.rooms.clear();
    this.removeAllListeners();
  }

  async #create(roomId: string, releaseSlot: () => void): Promise<Room> {
    let worker;
    let router;
    try {
      worker = this.#pool.acquire();
      try {
        router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      } catch (error) {
        this.#pool.release(worker);
        throw error;
      }
    } catch (error) {
      releaseSlot();
      throw error;
    }
    if (this.#closed) {
      router.close();
      this.#pool.release(worker);
      releaseSlot();
      throw new Error('RoomManager closed');
    }
    const room = new Room(roomId, worker, router, this.capacity);
    this.rooms.set(roomId, room);
    room.on('closed', () => {
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
      releaseSlot();
      this.#pool.release(worker);
      this.emit('roomClosed', room);
    });
    this.emit('roomCreated', room);
    logger.debug('room %s created on worker pid %d', roomId, worker.pid);
    return room;
  }
}
