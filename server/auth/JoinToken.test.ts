import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mintJoinToken, verifyJoinToken } from './JoinToken';

const secret = randomBytes(32);
const now = 1_800_000_000;

test('a minted token verifies and yields its claims', () => {
  const token = mintJoinToken(secret, { room: 'demo', peerId: 'alice', exp: now + 60 });
  assert.deepEqual(verifyJoinToken(secret, token, now), { ok: true, claims: { room: 'demo', peerId: 'alice', exp: now + 60 } });
});

test('an expired token is refused as expired', () => {
  const token = mintJoinToken(secret, { room: 'demo', peerId: 'alice', exp: now });
  assert.deepEqual(verifyJoinToken(secret, token, now), { ok: false, reason: 'expired' });
});

test('a token signed with another secret is refused', () => {
  const token = mintJoinToken(randomBytes(32), { room: 'demo', peerId: 'alice', exp: now + 60 });
  assert.deepEqual(verifyJoinToken(secret, token, now), { ok: false, reason: 'bad-signature' });
});

test('a token whose claims were edited is refused', () => {
  const token = mintJoinToken(secret, { room: 'demo', peerId: 'alice', exp: now + 60 });
  const forged = Buffer.from(JSON.stringify({ room: 'demo', peerId: 'mallory', exp: now + 60 })).toString('base64url');
  assert.deepEqual(verifyJoinToken(secret, `${forged}.${token.split('.')[1]}`, now), { ok: false, reason: 'bad-signature' });
});

test('garbage tokens are refused as malformed without throwing', () => {
  for (const garbage of ['', '.', 'abc', 'a.b.c', 'x'.repeat(5000), '..']) {
    const check = verifyJoinToken(secret, garbage, now);
    assert.equal(check.ok, false, garbage.slice(0, 10));
  }
});

test('a short secret is rejected with a TypeError', () => {
  assert.throws(() => mintJoinToken(Buffer.alloc(4), { room: 'a', peerId: 'b', exp: 1 }), {
    name: 'TypeError',
    message: 'token secret must be at least 16 bytes',
  });
});
