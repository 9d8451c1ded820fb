/**
 * The two Redis connections a node's NodeBus needs (commands, and a subscriber, which
 * Redis reserves for pub/sub), not yet connected: commands fail after three retries
 * rather than wait for ever, and a connection's failures are logged once each until it is
 * ready again (ioredis retries for ever and reports every failure).
 */
import { Redis } from 'ioredis';
import type { Logger } from '../Logger';

export function busConnections(redisUrl: string, logger: Logger): { redis: Redis; subscriber: Redis } {
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
  return { redis, subscriber };
}
