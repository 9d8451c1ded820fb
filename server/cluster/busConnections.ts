/**
 * The two Redis connections a node's NodeBus needs (commands, and a subscriber, which
 * Redis reserves for pub/sub), connected by `connect()`: commands fail after three retries
 * rather than wait for ever, and a connection's failures are logged once each until it is
 * ready again (ioredis retries for ever and reports every failure).
 */
import { Redis } from 'ioredis';
import type { Logger } from '../Logger';

export interface BusConnections {
  readonly redis: Redis;
  readonly subscriber: Redis;
  /** Connects both, or throws a sentence naming the URL (its password hidden). */
  connect(): Promise<void>;
}

export function busConnections(redisUrl: string, logger: Logger): BusConnections {
  const options = { lazyConnect: true, maxRetriesPerRequest: 3 };
  const redis = new Redis(redisUrl, options), subscriber = new Redis(redisUrl, options);
  for (const connection of [redis, subscriber]) {
    let last = '';
    connection.on('error', (error: Error) => {
      if (error.message !== last) logger.warn(`redis: ${error.message}`);
      last = error.message;
    });
    connection.on('ready', () => { last = ''; });
  }
  const connect = async () => {
    try {
      await Promise.all([redis.connect(), subscriber.connect()]);
    } catch (error) {
      const shown = new URL(redisUrl);
      if (shown.password) shown.password = '***';
      throw new Error(`cannot reach Redis at ${shown.href} (VOXFACE_REDIS_URL): ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  return { redis, subscriber, connect };
}
