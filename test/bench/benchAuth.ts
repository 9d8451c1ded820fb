/**
 * The benches' only contact with how credentials are made and how /metrics is
 * read: scoped tokens from the server's TokenAuthority, /metrics from its admin
 * listener.
 */
import type { VoxfaceServer } from '../../server/VoxfaceServer';

/** A token that lets `peerId` join `room` (ttl in seconds; a negative ttl makes an expired one). */
export function callToken(server: VoxfaceServer, room: string, peerId: string, ttlSeconds = 3600): string {
  return server.tokens.mintCall(room, peerId, { peer: peerId, ttlSeconds });
}

/** A token for the onboarding API as user `user`. */
export function onboardingToken(server: VoxfaceServer, user: string, ttlSeconds = 3600): string {
  return server.tokens.mintOnboarding(user, ttlSeconds);
}

/** The demo page's URL for a peer of `room`, with its own token (no dev-token endpoint needed). */
export function demoPageUrl(server: VoxfaceServer, room: string, name: string): string {
  const token = callToken(server, room, name);
  return `${server.url}/?room=${encodeURIComponent(room)}&name=${encodeURIComponent(name)}&token=${encodeURIComponent(token)}`;
}

/** The Prometheus text of /metrics. */
export async function readMetrics(server: VoxfaceServer): Promise<string> {
  if (!server.adminUrl) throw new Error('the bench server has no admin listener');
  const reply = await fetch(`${server.adminUrl}/metrics`);
  if (!reply.ok) throw new Error(`/metrics answered ${reply.status}`);
  return reply.text();
}

/** Sums of one metric's samples, keyed by the value of one label (e.g. result). */
export function metricByLabel(text: string, metric: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const pattern = new RegExp(`^${metric}\\{([^}]*)\\}\\s+([0-9.eE+-]+)$`, 'gm');
  for (const match of text.matchAll(pattern)) {
    const value = new RegExp(`${label}="([^"]*)"`).exec(match[1]!)?.[1] ?? '';
    out[value] = (out[value] ?? 0) + Number(match[2]);
  }
  return out;
}
