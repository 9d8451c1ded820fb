/**
 * Which parts of Voxface this process runs, and how it finds the others (issue 15,
 * docs/cluster.md). One codebase, roles by configuration: `sfu` (signaling and
 * mediasoup workers), `render` (avatar sessions), `trainer` (training jobs). A process
 * with every role and no Redis URL is today's single server, and needs nothing else.
 */
import { hostname } from 'node:os';

export type NodeRole = 'sfu' | 'render' | 'trainer';

export const NODE_ROLES: readonly NodeRole[] = ['sfu', 'render', 'trainer'];

export interface ClusterConfig {
  /** What this process runs (VOXFACE_ROLES: a comma list, or `all`, the default). */
  roles: ReadonlySet<NodeRole>;
  /** Shared state, pub/sub and the job queue (VOXFACE_REDIS_URL); none: a single-process server. */
  redisUrl?: string;
  /** This node's name in Redis (VOXFACE_NODE_NAME; default `<hostname>-<pid>`). */
  nodeName: string;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function rolesFrom(raw: string | undefined): ReadonlySet<NodeRole> {
  if (raw === undefined || raw.trim() === '' || raw.trim() === 'all') return new Set(NODE_ROLES);
  const roles = new Set<NodeRole>();
  for (const part of raw.split(',').map((item) => item.trim())) {
    if (!(NODE_ROLES as readonly string[]).includes(part)) {
      throw new TypeError(`VOXFACE_ROLES must be 'all' or a comma list of ${NODE_ROLES.join(', ')}, got '${raw}'`);
    }
    roles.add(part as NodeRole);
  }
  return roles;
}

function redisUrlFrom(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TypeError(`VOXFACE_REDIS_URL must be a redis:// or rediss:// URL, got '${raw}'`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError(`VOXFACE_REDIS_URL must be a redis:// or rediss:// URL, got '${raw}'`);
  }
  return raw;
}

export function clusterConfigFrom(env: NodeJS.ProcessEnv): ClusterConfig {
  const roles = rolesFrom(env.VOXFACE_ROLES);
  const redisUrl = redisUrlFrom(env.VOXFACE_REDIS_URL);
  const nodeName = env.VOXFACE_NODE_NAME || `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  if (!NODE_NAME.test(nodeName)) {
    throw new TypeError(`VOXFACE_NODE_NAME must be 1-64 letters, digits, '.', '_' or '-', got '${nodeName}'`);
  }
  // A node without every role shares its work with others, and only Redis can tell it who they are.
  if (roles.size < NODE_ROLES.length && !redisUrl) {
    throw new TypeError(`VOXFACE_ROLES=${[...roles].join(',')} needs VOXFACE_REDIS_URL (the other roles run on other nodes)`);
  }
  return { roles, redisUrl, nodeName };
}
