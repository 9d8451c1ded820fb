/**
 * How an SFU node shows itself to the other SFU nodes of a cluster (VOXFACE_REDIS_URL
 * set): the signaling URL it announces, where its pipe transports listen and the
 * address they announce, SRTP on pipes, and how soon a silent node counts as dead.
 */
import { isIP } from 'node:net';

export interface SfuClusterConfig {
  /** The URL browsers reach this node's signaling at (VOXFACE_NODE_URL; default: the server's own URL). */
  nodeUrl?: string;
  /** Where pipe transports to other nodes listen (VOXFACE_PIPE_LISTEN_IP; default VOXFACE_RTC_LISTEN_IP). */
  pipeListenIp: string;
  /**
   * The address other nodes send piped media to (VOXFACE_PIPE_ANNOUNCED_IP; default
   * VOXFACE_RTC_ANNOUNCED_IP, else the listen address unless it is a wildcard). Checked
   * only when the node joins a cluster: a single server never pipes.
   */
  pipeAnnouncedIp?: string;
  /** SRTP between nodes (VOXFACE_PIPE_SRTP=1; every node of a cluster must agree). */
  pipeSrtp: boolean;
  /** A node silent this long is dead (VOXFACE_NODE_TTL_MS, default 3000; heartbeats every third of it). */
  nodeTtlMs: number;
}

export function sfuClusterConfigFrom(env: NodeJS.ProcessEnv): SfuClusterConfig {
  const pipeListenIp = env.VOXFACE_PIPE_LISTEN_IP || env.VOXFACE_RTC_LISTEN_IP || '127.0.0.1';
  if (!isIP(pipeListenIp)) throw new TypeError(`VOXFACE_PIPE_LISTEN_IP must be an IP address, got '${pipeListenIp}'`);
  const pipeAnnouncedIp = env.VOXFACE_PIPE_ANNOUNCED_IP || env.VOXFACE_RTC_ANNOUNCED_IP || (isWildcard(pipeListenIp) ? undefined : pipeListenIp);
  if (pipeAnnouncedIp !== undefined && !isIP(pipeAnnouncedIp)) throw new TypeError(`VOXFACE_PIPE_ANNOUNCED_IP must be an IP address, got '${pipeAnnouncedIp}'`);
  let nodeUrl: string | undefined;
  if (env.VOXFACE_NODE_URL) {
    try {
      nodeUrl = new URL(env.VOXFACE_NODE_URL).origin;
    } catch {
      throw new TypeError(`VOXFACE_NODE_URL must be a URL, got '${env.VOXFACE_NODE_URL}'`);
    }
  }
  const rawTtl = env.VOXFACE_NODE_TTL_MS;
  const nodeTtlMs = rawTtl === undefined || rawTtl === '' ? 3000 : Number(rawTtl);
  if (!Number.isInteger(nodeTtlMs) || nodeTtlMs < 300 || nodeTtlMs > 60_000) {
    throw new TypeError(`VOXFACE_NODE_TTL_MS must be an integer from 300 to 60000, got '${rawTtl}'`);
  }
  return { nodeUrl, pipeListenIp, pipeAnnouncedIp, pipeSrtp: env.VOXFACE_PIPE_SRTP === '1', nodeTtlMs };
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/** The pipe address of a node that joins a cluster: a wildcard listen address needs an announced one. */
export function requirePipeAddress(config: SfuClusterConfig): string {
  if (config.pipeAnnouncedIp) return config.pipeAnnouncedIp;
  throw new TypeError(`VOXFACE_PIPE_ANNOUNCED_IP is needed when pipes listen on ${config.pipeListenIp} (other nodes cannot send to a wildcard)`);
}
