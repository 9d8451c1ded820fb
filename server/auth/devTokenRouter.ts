/**
 * `GET /api/dev/token?room=&user=` (dev mode only): a call token for `room` and an
 * onboarding token, both for one user, so that avatar ownership and onboarding quotas
 * hold across page loads. The user is `?user=` when given, else the browser's own:
 * an HttpOnly cookie this endpoint sets on the first call. Each connection still gets
 * its own peer id, so two tabs of one browser are two peers of one user.
 *
 * Minting for a user this browser did not have yet (no cookie, or `?user=`) is rate
 * limited per client address, so a client dropping its cookie in a loop cannot mint
 * itself fresh quotas. Tokens for the cookie's user are not limited: the demo fetches
 * one on every join.
 */
import { randomBytes } from 'node:crypto';
import express, { type Request } from 'express';
import type { DevTokenReply } from '../../shared/auth/devTokens';
import { ID_PATTERN } from '../../shared/signaling/limits';
import { UserRateLimiter } from '../onboarding/UserRateLimiter';
import type { TokenAuthority } from './TokenAuthority';

export const DEV_USER_COOKIE = 'voxface_dev_user';
const COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600;

function cookieUser(req: Request): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === DEV_USER_COOKIE && value && ID_PATTERN.test(value)) return value;
  }
  return undefined;
}

export function devTokenRouter(tokens: TokenAuthority, newUsersPerMinute: number): express.Router {
  const router = express.Router();
  const newUsers = new UserRateLimiter(newUsersPerMinute / 60, newUsersPerMinute);
  router.get('/api/dev/token', (req, res) => {
    const room = typeof req.query.room === 'string' ? req.query.room : 'demo';
    const asked = typeof req.query.user === 'string' ? req.query.user : undefined;
    if (!ID_PATTERN.test(room) || (asked !== undefined && !ID_PATTERN.test(asked))) {
      res.status(400).json({ error: 'room and user must be 1-64 characters of A-Z a-z 0-9 _ -' });
      return;
    }
    const known = cookieUser(req);
    const user = asked ?? known ?? `user-${randomBytes(6).toString('hex')}`;
    if (user !== known) {
      if (!newUsers.take(req.socket.remoteAddress ?? 'unknown')) {
        res.setHeader('Retry-After', '60');
        res.status(429).json({ error: `over ${newUsersPerMinute} new dev users per minute from this address; keep the cookie or slow down` });
        return;
      }
      if (asked === undefined) {
        res.cookie(DEV_USER_COOKIE, user, { httpOnly: true, sameSite: 'strict', path: '/api/dev', maxAge: COOKIE_MAX_AGE_SECONDS * 1000 });
      }
    }
    res.setHeader('Cache-Control', 'no-store');
    const reply: DevTokenReply = { room, user, callToken: tokens.mintCall(room, user), onboardingToken: tokens.mintOnboarding(user) };
    res.json(reply);
  });
  return router;
}
