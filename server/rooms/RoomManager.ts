/**
 * Finds or creates rooms, places each on the least-loaded worker, and closes the
 * rooms of a worker that dies (their peers hear `roomClosed` with 'worker-died').
 */
import { TypedEmitter } from '../../shared/TypedEmitter';
import { MEDIA_CODECS } from '../media/codecs';
import type { WorkerPool } from '../media/WorkerPool';
import { Logger } from '../Logger';
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
  #closed = false;

  constructor(pool: WorkerPool) {
    super();
    this.#pool = pool;
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
      pending = this.#create(roomId).finally(() => this.#creating.delete(roomId));
      this.#creating.set(roomId, pending);
    }
    return pending;
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

  async #create(roomId: string): Promise<Room> {
    const worker = this.#pool.acquire();
    let router;
    try {
      router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    } catch (error) {
      this.#pool.release(worker);
      throw error;
    }
    // close() ran while the router was being made: the room would outlive the manager.
    if (this.#closed) {
      router.close();
      this.#pool.release(worker);
      throw new Error('RoomManager closed');
    }
    const room = new Room(roomId, worker, router);
    this.rooms.set(roomId, room);
    room.on('closed', () => {
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
      this.#pool.release(worker);
      this.emit('roomClosed', room);
    });
    this.emit('roomCreated', room);
    logger.debug('room %s created on worker pid %d', roomId, worker.pid);
    return room;
  }
}
