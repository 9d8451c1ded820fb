/**
 * Access tokens: `base64url(JSON claims) "." base64url(HMAC-SHA256(secret, payload))`.
 * The server that holds the secret mints them (an app backend in production, the dev
 * endpoint in dev mode). Each token says who it is for and what it may do:
 *
 *   { scope: 'call', aud, sub, room, peer?, exp }   join `room` as user `sub`
 *   { scope: 'onboarding', aud, sub, exp }          the onboarding API and progress channel of user `sub`
 *
 * `aud` names the server (VOXFACE_TOKEN_AUDIENCE), so a token minted for another
 * service sharing the secret is refused; `sub` is the user that owns avatars and
 * onboarding quotas; `peer` (optional) fixes the call's peer id, else each connection
 * gets its own; `exp` is in seconds since the epoch. The first format (`{room, peerId,
 * exp}`: any token was also an onboarding credential) is refused as `old-format`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ID_PATTERN, SIGNALING_LIMITS } from '../../shared/signaling/limits';

export type TokenScope = 'call' | 'onboarding';

export interface CallClaims {
  scope: 'call';
  aud: string;
  /** The user. */
  sub: string;
  room: string;
  /** A fixed peer id for the call (a reconnection replaces the earlier session); absent: one per connection. */
  peer?: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface OnboardingClaims {
  scope: 'onboarding';
  aud: string;
  sub: string;
  exp: number;
}

export type AccessClaims = CallClaims | OnboardingClaims;

/** What the verifier requires: the audience, and the scope (with its room for calls). */
export type TokenExpectation = { audience: string; scope: 'call'; room: string } | { audience: string; scope: 'onboarding' };

export type TokenRefusal = 'malformed' | 'bad-signature' | 'old-format' | 'wrong-audience' | 'expired' | 'wrong-scope' | 'wrong-room';

export type TokenCheck<C extends AccessClaims = AccessClaims> =
  | { ok: true; claims: C }
  | { ok: false; reason: TokenRefusal; message: string };

const MIN_SECRET_BYTES = 16;
/** HMAC-SHA256 is 32 bytes: 43 base64url characters. */
const SIGNATURE_CHARS = 43;

const id = z.string().regex(ID_PATTERN);
const audience = z.string().min(1).max(64);
const expiry = z.number().int().positive();
const claimsSchema = z.discriminatedUnion('scope', [
  z.object({ scope: z.literal('call'), aud: audience, sub: id, room: id, peer: id.optional(), exp: expiry }).strict(),
  z.object({ scope: z.literal('onboarding'), aud: audience, sub: id, exp: expiry }).strict(),
]);

function sign(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

function assertSecret(secret: Buffer): void {
  if (secret.length < MIN_SECRET_BYTES) {
    throw new TypeError(`token secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
}

function refuse(reason: TokenRefusal, message: string): { ok: false; reason: TokenRefusal; message: string } {
  return { ok: false, reason, message };
}

export function mintAccessToken(secret: Buffer, claims: AccessClaims): string {
  assertSecret(secret);
  const parsed = claimsSchema.safeParse(claims);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TypeError(`invalid token claims: ${issue.path.join('.') || 'claims'} ${issue.message}`);
  }
  // Keys in a fixed order, absent optional ones left out: the same claims always give the same token.
  const c = parsed.data;
  const ordered = c.scope === 'call'
    ? { scope: c.scope, aud: c.aud, sub: c.sub, room: c.room, ...(c.peer === undefined ? {} : { peer: c.peer }), exp: c.exp }
    : { scope: c.scope, aud: c.aud, sub: c.sub, exp: c.exp };
  const payload = Buffer.from(JSON.stringify(ordered)).toString('base64url');
  return `${payload}.${sign(secret, payload)}`;
}

/** The token's canonical signature, compared in constant time; then its claims against `expect`. */
export function verifyAccessToken(secret: Buffer, token: string, expect: { audience: string; scope: 'call'; room: string }, nowSeconds?: number): TokenCheck<CallClaims>;
export function verifyAccessToken(secret: Buffer, token: string, expect: { audience: string; scope: 'onboarding' }, nowSeconds?: number): TokenCheck<OnboardingClaims>;
export function verifyAccessToken(secret: Buffer, token: string, expect: TokenExpectation, nowSeconds = Date.now() / 1000): TokenCheck {
  assertSecret(secret);
  if (typeof token !== 'string' || token.length > SIGNALING_LIMITS.maxTokenLength) return refuse('malformed', 'not a token');
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return refuse('malformed', 'not a token (payload.signature)');
  const [payload, signature] = parts as [string, string];
  // Compared as text against the canonical encoding: base64url decoders also take padding,
  // '+' and '/', and ignore the spare low bits of the last character, so decoding the
  // given signature would let several spellings of one signature pass.
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(signature);
  if (given.length !== SIGNATURE_CHARS || !timingSafeEqual(given, expected)) return refuse('bad-signature', 'the signature does not match');
  // Signed, so the server's own encoding; checked anyway, as the signature is.
  const json = Buffer.from(payload, 'base64url');
  if (json.toString('base64url') !== payload) return refuse('malformed', 'the payload is not canonical base64url');
  let raw: unknown;
  try {
    raw = JSON.parse(json.toString('utf8'));
  } catch {
    return refuse('malformed', 'the payload is not JSON');
  }
  if (typeof raw === 'object' && raw !== null && 'peerId' in raw && !('scope' in raw)) {
    return refuse('old-format', 'an old-format token (no scope, no audience): mint a new one');
  }
  const parsed = claimsSchema.safeParse(raw);
  if (!parsed.success) return refuse('malformed', 'the claims are not a call or onboarding token');
  const claims = parsed.data;
  if (claims.aud !== expect.audience) return refuse('wrong-audience', `minted for '${claims.aud}', not this server ('${expect.audience}')`);
  if (claims.exp <= nowSeconds) return refuse('expired', 'the token has expired');
  if (claims.scope !== expect.scope) return refuse('wrong-scope', `${claims.scope === 'call' ? 'a call' : 'an onboarding'} token cannot be used for ${expect.scope === 'call' ? 'a call' : 'onboarding'}`);
  if (claims.scope === 'call' && expect.scope === 'call' && claims.room !== expect.room) {
    return refuse('wrong-room', `the token is for room '${claims.room}', not '${expect.room}'`);
  }
  return { ok: true, claims };
}
