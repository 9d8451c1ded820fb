/**
 * Join tokens: `base64url(JSON{room, peerId, exp}) "." base64url(HMAC-SHA256(secret, payload))`.
 * The server that holds the secret mints them (an app backend in production, the
 * dev endpoint in dev mode) and checks them on `join`. `exp` is in seconds since the epoch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ID_PATTERN, SIGNALING_LIMITS } from '../../shared/signaling/limits';

export interface JoinClaims {
  room: string;
  peerId: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export type TokenCheck =
  | { ok: true; claims: JoinClaims }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' };

const MIN_SECRET_BYTES = 16;

function sign(secret: Buffer, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload).digest();
}

function assertSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new TypeError(`token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
}

export function mintJoinToken(secret: Buffer, claims: JoinClaims): string {
  assertSecret(secret);
  if (!ID_PATTERN.test(claims.room)) throw new TypeError('invalid room id');
  if (!ID_PATTERN.test(claims.peerId)) throw new TypeError('invalid peer id');
  if (!Number.isInteger(claims.exp) || claims.exp <= 0) throw new TypeError('exp must be a positive integer');
  const payload = Buffer.from(JSON.stringify({ room: claims.room, peerId: claims.peerId, exp: claims.exp })).toString('base64url');
  return `${payload}.${sign(secret, payload).toString('base64url')}`;
}

export function verifyJoinToken(secret: Buffer, token: string, nowSeconds = Date.now() / 1000): TokenCheck {
  assertSecret(secret);
  if (typeof token !== 'string' || token.length > SIGNALING_LIMITS.maxTokenLength) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { ok: false, reason: 'malformed' };
  const [payload, signature] = parts as [string, string];
  const expected = sign(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  // Check the signature before parsing anything the client wrote.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (
    typeof claims !== 'object' || claims === null ||
    typeof (claims as JoinClaims).room !== 'string' || !ID_PATTERN.test((claims as JoinClaims).room) ||
    typeof (claims as JoinClaims).peerId !== 'string' || !ID_PATTERN.test((claims as JoinClaims).peerId) ||
    !Number.isInteger((claims as JoinClaims).exp)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const { room, peerId, exp } = claims as JoinClaims;
  if (exp <= nowSeconds) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { room, peerId, exp } };
}
