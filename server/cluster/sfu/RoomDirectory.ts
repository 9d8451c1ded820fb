/**
 * Which nodes host which room, and the room's peers with their producers, in Redis:
 *   voxface:sfu:room:<R>:nodes  set of node names hosting R (placement reads it)
 *   voxface:sfu:room:<R>:peers  hash peerId -> { node, peer: { id, displayName, producers } }
 *   voxface:sfu:node:<N>:rooms  set of rooms N hosts (so survivors can clean up after N)
 * Each node writes only its own peers; any node may forget a dead node's entries.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Logger } from '../../Logger';
import { remotePeerInfo, type RemotePeerInfo } from './clusterMessages';
import { nodeKey } from './NodeRegistry';

const logger = new Logger('RoomDirectory');

/**
 * KEYS: the node's registry key, its rooms set; ARGV: its name, the room key prefix.
 * Room keys are derived inside (a standalone Redis allows it; a Redis Cluster would not).
 */
const FORGET_NODE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local rooms = redis.call('SMEMBERS', KEYS[2])
for _, room in ipairs(rooms) do
  redis.call('SREM', ARGV[2] .. room .. ':nodes', ARGV[1])
  local peersKey = ARGV[2] .. room .. ':peers'
  local flat = redis.call('HGETALL', peersKey)
  for i = 1, #flat, 2 do
    local ok, entry = pcall(cjson.decode, flat[i + 1])
    if ok and type(entry) == 'table' and entry.node == ARGV[1] then redis.call('HDEL', peersKey, flat[i]) end
  end
end
redis.call('DEL', KEYS[2])
return #rooms
`;

const entrySchema = z.object({ node: z.string().min(1).max(64), peer: remotePeerInfo }).strict();

export type DirectoryEntry = z.infer<typeof entrySchema>;

const ROOM_PREFIX = 'voxface:sfu:room:';
const roomNodesKey = (room: string) => `${ROOM_PREFIX}${room}:nodes`;
const roomPeersKey = (room: string) => `${ROOM_PREFIX}${room}:peers`;
const nodeRoomsKey = (node: string) => `voxface:sfu:node:${node}:rooms`;

export class RoomDirectory {
  readonly #redis: Redis;
  readonly #node: string;

  constructor(redis: Redis, node: string) {
    this.#redis = redis;
    this.#node = node;
  }

  async addRoom(room: string): Promise<void> {
    await this.#redis.multi().sadd(roomNodesKey(room), this.#node).sadd(nodeRoomsKey(this.#node), room).exec();
  }

  /** This node no longer hosts `room`: its node entry and its peers' go. */
  async removeRoom(room: string): Promise<void> {
    await this.#removeNodeFromRoom(this.#node, room);
    await this.#redis.srem(nodeRoomsKey(this.#node), room);
  }

  async putPeer(room: string, peer: RemotePeerInfo): Promise<void> {
    await this.#redis.hset(roomPeersKey(room), peer.id, JSON.stringify({ node: this.#node, peer }));
  }

  async removePeer(room: string, peerId: string): Promise<void> {
    // Only our own entry: the peer may have rejoined through another node meanwhile.
    const current = await this.#redis.hget(roomPeersKey(room), peerId);
    if (current && parseEntry(current)?.node === this.#node) await this.#redis.hdel(roomPeersKey(room), peerId);
  }

  /** Every peer of `room` on every node (malformed entries skipped with a warning). */
  async peers(room: string): Promise<DirectoryEntry[]> {
    const raw = await this.#redis.hgetall(roomPeersKey(room));
    const entries: DirectoryEntry[] = [];
    for (const [peerId, value] of Object.entries(raw)) {
      const entry = parseEntry(value);
      if (entry && entry.peer.id === peerId) entries.push(entry);
      else logger.warn(`ignoring a malformed directory entry for peer ${peerId.slice(0, 64)} of room ${room}`);
    }
    return entries;
  }

  async roomNodes(room: string): Promise<string[]> {
    return this.#redis.smembers(roomNodesKey(room));
  }

  /**
   * Forgets a dead node: out of every room it hosted, with its peers. Atomic, and
   * nothing is forgotten if the node's key is back (it had only stalled, and is
   * re-announcing its peers): returns whether it was forgotten.
   */
  async forgetNode(node: string): Promise<boolean> {
    const result = await this.#redis.eval(FORGET_NODE, 2, nodeKey(node), nodeRoomsKey(node), node, ROOM_PREFIX);
    return result !== -1;
  }

  async #removeNodeFromRoom(node: string, room: string): Promise<void> {
    const raw = await this.#redis.hgetall(roomPeersKey(room));
    const theirs = Object.entries(raw).filter(([, value]) => parseEntry(value)?.node === node).map(([peerId]) => peerId);
    const multi = this.#redis.multi().srem(roomNodesKey(room), node);
    if (theirs.length > 0) multi.hdel(roomPeersKey(room), ...theirs);
    await multi.exec();
  }
}

function parseEntry(value: string): DirectoryEntry | undefined {
  try {
    const parsed = entrySchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
