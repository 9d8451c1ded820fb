import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mintAccessToken, verifyAccessToken, type AccessClaims } from './AccessToken';

const secret = randomBytes(32);
const now = 1_800_000_000;
const call = { audience: 'voxface', scope: 'call', room: 'demo' } as const;
const onboarding = { audience: 'voxface', scope: 'onboarding' } as const;
const callClaims: AccessClaims = { scope: 'call', aud: 'voxface', sub: 'alice', room: 'demo', exp: now + 60 };

/** A token signed with `secret` over any payload text (what a holder of the secret could mint). */
function signed(claims: unknown, key = secret): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${payload}.${createHmac('sha256', key).update(payload).digest('base64url')}`;
}

test('a minted call token verifies for its room and yields its claims', () => {
  const token = mintAccessToken(secret, { ...callClaims, peer: 'tab-1' });
  assert.deepEqual(verifyAccessToken(secret, token, call, now), { ok: true, claims: { ...callClaims, peer: 'tab-1' } });
});

test('a minted onboarding token verifies for onboarding', () => {
  const token = mintAccessToken(secret, { scope: 'onboarding', aud: 'voxface', sub: 'alice', exp: now + 60 });
  assert.deepEqual(verifyAccessToken(secret, token, onboarding, now), { ok: true, claims: { scope: 'onboarding', aud: 'voxface', sub: 'alice', exp: now + 60 } });
});

test('a call token is not an onboarding credential, and an onboarding token joins no call', () => {
  const callToken = mintAccessToken(secret, callClaims);
  const check = verifyAccessToken(secret, callToken, onboarding, now);
  assert.equal(check.ok, false);
  assert.equal(!check.ok && check.reason, 'wrong-scope');
  assert.equal(!check.ok && check.message, 'a call token cannot be used for onboarding');
  const onboardingToken = mintAccessToken(secret, { scope: 'onboarding', aud: 'voxface', sub: 'alice', exp: now + 60 });
  assert.equal((verifyAccessToken(secret, onboardingToken, call, now) as { reason?: string }).reason, 'wrong-scope');
});

test('a call token for another room is refused with both rooms named', () => {
  const check = verifyAccessToken(secret, mintAccessToken(secret, { ...callClaims, room: 'elsewhere' }), call, now);
  assert.deepEqual(check, { ok: false, reason: 'wrong-room', message: "the token is for room 'elsewhere', not 'demo'" });
});

test('a token minted for another audience is refused', () => {
  const check = verifyAccessToken(secret, mintAccessToken(secret, { ...callClaims, aud: 'billing' }), call, now);
  assert.equal(!check.ok && check.reason, 'wrong-audience');
});

test('an old-format token (room, peerId, exp) is refused with a clear reason, even when signed with the secret', () => {
  const check = verifyAccessToken(secret, signed({ room: 'demo', peerId: 'alice', exp: now + 60 }), call, now);
  assert.deepEqual(check, { ok: false, reason: 'old-format', message: 'an old-format token (no scope, no audience): mint a new one' });
});

test('signed claims of an unknown shape are refused as malformed', () => {
  for (const claims of [
    { scope: 'admin', aud: 'voxface', sub: 'alice', exp: now + 60 },
    { scope: 'onboarding', aud: 'voxface', sub: 'alice', room: 'demo', exp: now + 60 },
    { scope: 'call', aud: 'voxface', sub: '../etc', room: 'demo', exp: now + 60 },
    { scope: 'call', aud: 'voxface', sub: 'alice', room: 'demo', exp: 'never' },
    [1, 2],
  ]) {
    const check = verifyAccessToken(secret, signed(claims), call, now);
    assert.equal(!check.ok && check.reason, 'malformed', JSON.stringify(claims));
  }
});

test('an expired token is refused as expired', () => {
  const check = verifyAccessToken(secret, mintAccessToken(secret, { ...callClaims, exp: now }), call, now);
  assert.equal(!check.ok && check.reason, 'expired');
});

test('a token signed with another secret is refused', () => {
  const check = verifyAccessToken(secret, mintAccessToken(randomBytes(32), callClaims), call, now);
  assert.equal(!check.ok && check.reason, 'bad-signature');
});

test('a token whose claims were edited is refused', () => {
  const token = mintAccessToken(secret, callClaims);
  const forged = Buffer.from(JSON.stringify({ ...callClaims, sub: 'mallory' })).toString('base64url');
  const check = verifyAccessToken(secret, `${forged}.${token.split('.')[1]}`, call, now);
  assert.equal(!check.ok && check.reason, 'bad-signature');
});

test('only the canonical base64url spelling of the signature passes', () => {
  const token = mintAccessToken(secret, callClaims);
  const [payload, signature] = token.split('.') as [string, string];
  assert.equal(verifyAccessToken(secret, token, call, now).ok, true);
  // 32 bytes fill 42 characters and 4 bits of the 43rd: its 2 low bits are spare, and decoders ignore them.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(signature.at(-1)!);
  const spareBitsSet = signature.slice(0, -1) + alphabet[last | 3];
  assert.notEqual(spareBitsSet, signature);
  assert.deepEqual(Buffer.from(spareBitsSet, 'base64url'), Buffer.from(signature, 'base64url'), 'the same bytes, decoded');
  const standardAlphabet = signature.replaceAll('-', '+').replaceAll('_', '/');
  const variants = [spareBitsSet, `${signature}=`, Buffer.from(signature, 'base64url').toString('base64'), ` ${signature}`, `${signature}\n`];
  if (standardAlphabet !== signature) variants.push(standardAlphabet);
  for (const variant of variants) {
    const check = verifyAccessToken(secret, `${payload}.${variant}`, call, now);
    assert.equal(!check.ok && check.reason, 'bad-signature', JSON.stringify(variant));
  }
  // The payload likewise: a padded spelling of the same JSON is refused.
  const check = verifyAccessToken(secret, signed(callClaims).replace('.', '=.'), call, now);
  assert.equal(check.ok, false);
});

test('garbage tokens are refused as malformed without throwing', () => {
  for (const garbage of ['', '.', 'abc', 'a.b.c', 'x'.repeat(5000), '..', 5 as unknown as string]) {
    const check = verifyAccessToken(secret, garbage, call, now);
    assert.equal(check.ok, false, String(garbage).slice(0, 10));
  }
});

test('invalid claims and a short secret are rejected with a TypeError when minting', () => {
  assert.throws(() => mintAccessToken(Buffer.alloc(4), callClaims), { name: 'TypeError', message: 'token secret must be at least 16 bytes' });
  assert.throws(() => mintAccessToken(secret, { ...callClaims, room: 'a b' }), { name: 'TypeError', message: /^invalid token claims: room/ });
  assert.throws(() => mintAccessToken(secret, { ...callClaims, exp: 1.5 }), { name: 'TypeError', message: /^invalid token claims: exp/ });
});
