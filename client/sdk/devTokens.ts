/**
 * Tokens for a page that was given none: in dev mode the server mints them at
 * `/api/dev/token` for this browser's user (an HttpOnly cookie the server sets keeps
 * it across page loads, so avatars and onboarding quotas stay this browser's). A call
 * token joins `room` (`joinRoom({ token })`); an onboarding token is the bearer of the
 * onboarding API and its progress channel. In production your app mints both
 * (server/auth/TokenAuthority.ts) and hands them to the page.
 */
import type { DevTokenReply } from '../../shared/auth/devTokens';

export type DevTokens = DevTokenReply;

const NEEDS_TOKEN = 'this server needs a token: open the link you were given';

/** Requests in flight by origin and room: a new browser's first concurrent asks share one new user (one cookie). */
const inFlight = new Map<string, Promise<DevTokens>>();

export function fetchDevTokens(room: string, origin = ''): Promise<DevTokens> {
  const key = `${origin} ${room}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = requestDevTokens(room, origin).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

async function requestDevTokens(room: string, origin: string): Promise<DevTokens> {
  const config = (await (await fetch(`${origin}/api/config`)).json()) as { devMode?: boolean };
  if (!config.devMode) throw new Error(NEEDS_TOKEN);
  const reply = await fetch(`${origin}/api/dev/token?room=${encodeURIComponent(room)}`, { credentials: 'same-origin' });
  const body = (await reply.json()) as Partial<DevTokens> & { error?: string };
  if (!reply.ok || !body.callToken || !body.onboardingToken || !body.user) {
    throw new Error(body.error ?? `could not get a token (HTTP ${reply.status})`);
  }
  return { room, user: body.user, callToken: body.callToken, onboardingToken: body.onboardingToken };
}
