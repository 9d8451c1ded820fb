/**
 * Which nodes are alive, in Redis: each node rewrites its own key every heartbeat with
 * an expiry of a few heartbeats (its name, roles, signaling URL, pipe address, load),
 * and lists the others. A node whose key expired (it missed ~3 heartbeats: it died, or
 * lost Redis) is reported `nodeDown` once by every node that had seen it alive.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { TypedEmitter } from '../../../shared/TypedEmitter';
import { Logger } from '../../Logger';

const logger = new Logger('NodeRegistry');

export const NODES_KEY = 'voxface:nodes';

export function nodeKey(name: string): string {
  return `voxface:node:${name}`;
}

export const nodeRecordSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
  roles: z.array(z.enum(['sfu', 'render', 'trainer'])).max(3),
  /** Where browsers reach this node's signaling (its HTTP origin). */
  signalingUrl: z.string().url().max(512),
  /** The address its pipe transports announce to other nodes. */
  pipeAddress: z.string().ip(),
  load: z.object({
    peers: z.number().int().min(0),
    rooms: z.number().int().min(0),
    /** Render nodes: the avatar sessions they host, and how many they take (docs/cluster.md, "Render nodes"). */
    avatars: z.number().int().min(0).optional(),
    avatarCapacity: z.number().int().min(0).optional(),
  }).strict(),
  heartbeatAt: z.number(),
}).strict();

export type NodeRecord = z.infer<typeof nodeRecordSchema>;

export interface NodeRegistryEvents {
  [key: string]: unknown;
  nodeUp: NodeRecord;
  /** The node's key expired (or it left): its name. */
  nodeDown: string;
  /**
   * This node's own heartbeat lapsed longer than its TTL (Redis unreachable, or the
   * process stalled), so the others may have counted it dead: ms since the last beat.
   */
  lapsed: number;
}

export interface NodeRegistryOptions {
  redis: Redis;
  /** This node as it is now (read at each heartbeat, so its load stays current). */
  self: () => Omit<NodeRecord, 'heartbeatAt'>;
  /** How long a node's key outlives its last heartbeat; heartbeats come every third of it. */
  ttlMs: number;
}

export class NodeRegistry extends TypedEmitter<NodeRegistryEvents> {
  readonly #redis: Redis;
  readonly #self: NodeRegistryOptions['self'];
  readonly ttlMs: number;
  readonly heartbeatMs: number;
  readonly name: string;
  /** The nodes alive at the last tick, by name. */
  #alive = new Map<string, NodeRecord>();
  #timer?: NodeJS.Timeout;
  /** When the last heartbeat that reached Redis was sent. */
  #lastBeatAt?: number;
  /** Warned once each until they change: a failing heartbeat, malformed records. */
  #failing = false;
  readonly #warnedMalformed = new Set<string>();
  #ticking?: Promise<void>;
  #closed = false;

  constructor(options: NodeRegistryOptions) {
    super();
    this.#redis = options.redis;
    this.#self = options.self;
    this.ttlMs = options.ttlMs;
    this.heartbeatMs = Math.max(50, Math.floor(options.ttlMs / 3));
    this.name = options.self().name;
  }

  /** Writes the first heartbeat and reads who else is alive, then keeps doing both. */
  async start(): Promise<void> {
    await this.#tick();
    this.#timer = setInterval(() => {
      this.#ticking ??= this.#tick().then(
        () => {
          if (this.#failing) logger.warn('heartbeats reach Redis again');
          this.#failing = false;
        },
        (error: unknown) => {
          if (!this.#failing) logger.warn(`heartbeat failed (other nodes will count this one dead after ${this.ttlMs} ms): ${String(error)}`);
          this.#failing = true;
        },
      ).finally(() => { this.#ticking = undefined; });
    }, this.heartbeatMs);
    this.#timer.unref();
  }

  isAlive(name: string): boolean {
    return name === this.name || this.#alive.has(name);
  }

  /** The nodes alive at the last heartbeat (this one included). */
  alive(): NodeRecord[] {
    return [...this.#alive.values()];
  }

  /** Reads the live nodes from Redis now (their keys not expired). */
  async liveNodes(): Promise<NodeRecord[]> {
    const names = await this.#redis.smembers(NODES_KEY);
    if (names.length === 0) return [];
    const values = await this.#redis.mget(...names.map(nodeKey));
    const nodes: NodeRecord[] = [];
    const gone: string[] = [];
    values.forEach((value, index) => {
      if (value === null) {
        gone.push(names[index]!);
        return;
      }
      const parsed = safeRecord(value);
      if (parsed) nodes.push(parsed);
      else if (!this.#warnedMalformed.has(names[index]!)) {
        this.#warnedMalformed.add(names[index]!);
        logger.warn(`ignoring node ${names[index]}: its record is malformed`);
      }
    });
    // Expired members leave the set (any node may do it; SREM is idempotent).
    if (gone.length > 0) await this.#redis.srem(NODES_KEY, ...gone);
    return nodes;
  }

  /** Stops heartbeating and removes this node's key (the others see it leave at their next tick). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#ticking;
    await this.#redis.multi().del(nodeKey(this.name)).srem(NODES_KEY, this.name).exec().catch(() => undefined);
    this.removeAllListeners();
  }

  async #tick(): Promise<void> {
    if (this.#closed) return;
    const record: NodeRecord = { ...this.#self(), heartbeatAt: Date.now() };
    await this.#redis.multi().set(nodeKey(this.name), JSON.stringify(record), 'PX', this.ttlMs).sadd(NODES_KEY, this.name).exec();
    const gap = this.#lastBeatAt === undefined ? 0 : record.heartbeatAt - this.#lastBeatAt;
    this.#lastBeatAt = record.heartbeatAt;
    if (gap > this.ttlMs) {
      logger.warn(`this node's heartbeat lapsed for ${gap} ms (TTL ${this.ttlMs} ms): the others may have counted it dead`);
      this.emit('lapsed', gap);
    }
    const nodes = await this.liveNodes();
    if (this.#closed) return;
    const next = new Map(nodes.map((node) => [node.name, node]));
    const previous = this.#alive;
    this.#alive = next;
    for (const [name, node] of next) if (!previous.has(name) && name !== this.name) this.emit('nodeUp', node);
    for (const name of previous.keys()) {
      if (!next.has(name) && name !== this.name) {
        logger.warn(`node ${name} stopped heartbeating (its key expired after ${this.ttlMs} ms)`);
        this.emit('nodeDown', name);
      }
    }
  }
}

function safeRecord(value: string): NodeRecord | undefined {
  try {
    const parsed = nodeRecordSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
