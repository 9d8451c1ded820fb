/**
 * Who may do what on a real server (real worker): call tokens join only their room,
 * onboarding tokens only reach onboarding, old tokens are refused; the user (not the
 * per-connection peer id) owns avatars and quotas, and a dev browser keeps its user;
 * metrics and stream statistics are not public.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { DEFAULT_ONBOARDING_LIMITS } from '../../server/onboarding/OnboardingService';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import type { SignalingReply } from '../../shared/signaling/messages';
import { TestSockets } from '../helpers/signalingSocket';
import { startTestServer } from '../helpers/testServer';

const METRICS_TOKEN = 'scrape-me-0123456789abcdef';
const SESSION = { source: { width: 640, height: 480, fps: 10 }, crop: { x: 80, y: 0, size: 480 } };
let server: VoxfaceServer;
let sockets: TestSockets;

before(async () => {
  server = await startTestServer({
    metricsToken: METRICS_TOKEN, devTokensPerMinute: 4,
    onboardingLimits: { ...DEFAULT_ONBOARDING_LIMITS, maxSessionsPerUser: 2 },
  });
  sockets = new TestSockets(server);
});

after(async () => {
  sockets?.closeAll();
  await server?.close();
});

/** A raw socket (these tests send hand-made envelopes). */
async function connect(): Promise<Socket> {
  return (await sockets.connect()).socket;
}

async function join(token: string, room: string): Promise<{ socket: Socket; reply: SignalingReply<{ peerId: string }> }> {
  const socket = await connect();
  const reply = await socket.timeout(5000).emitWithAck('request', { method: 'join', data: { token, room, displayName: 'x' } });
  return { socket, reply };
}

function refusal(reply: SignalingReply<unknown>): string {
  assert.equal(reply.ok, false, 'refused');
  return reply.ok ? '' : `${reply.error.code}: ${reply.error.message}`;
}

const onboarding = (token: string, path = '/avatars', init: RequestInit = {}) =>
  fetch(`${server.url}/api/onboarding${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });

/** A token in the first format ({room, peerId, exp}), signed with this server's secret. */
function oldFormatToken(room: string, peerId: string): string {
  const payload = Buffer.from(JSON.stringify({ room, peerId, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url');
  return `${payload}.${createHmac('sha256', server.config.tokenSecret).update(payload).digest('base64url')}`;
}

test('a call token joins its room only, and opens no onboarding door', async () => {
  const call = server.tokens.mintCall('scoped', 'alice');
  assert.equal((await join(call, 'scoped')).reply.ok, true);
  assert.match(refusal((await join(call, 'other')).reply), /^unauthorized: invalid token \(wrong-room\): the token is for room 'scoped', not 'other'$/);
  const http = await onboarding(call);
  assert.equal(http.status, 401);
  assert.deepEqual(await http.json(), { error: { code: 'unauthorized', message: 'token refused (wrong-scope): a call token cannot be used for onboarding' } });
  const deleting = await onboarding(call, '/avatars/someone', { method: 'DELETE' });
  assert.equal(deleting.status, 401);
  const socket = io(`${server.url}/onboarding`, { auth: { token: call }, transports: ['websocket'], reconnection: false });
  const refused = await new Promise<string>((resolve, reject) => {
    socket.on('connect', () => reject(new Error('the progress channel took a call token')));
    socket.on('connect_error', (error) => resolve(error.message));
  });
  socket.close();
  assert.equal(refused, 'unauthorized: token refused (wrong-scope): a call token cannot be used for onboarding');
});

test('an onboarding token reaches onboarding and joins no call', async () => {
  const token = server.tokens.mintOnboarding('alice');
  assert.equal((await onboarding(token)).status, 200);
  assert.match(refusal((await join(token, 'scoped')).reply), /^unauthorized: invalid token \(wrong-scope\): an onboarding token cannot be used for a call$/);
});

test('old-format tokens are refused with a clear reason, even signed with the server secret', async () => {
  const old = oldFormatToken('scoped', 'alice');
  assert.match(refusal((await join(old, 'scoped')).reply), /old-format.*mint a new one/);
  const http = await onboarding(old);
  assert.equal(http.status, 401);
  assert.match(((await http.json()) as { error: { message: string } }).error.message, /old-format/);
});

test('tokens minted for another audience are refused', async () => {
  const { TokenAuthority } = await import('../../server/auth/TokenAuthority');
  const elsewhere = new TokenAuthority(server.config.tokenSecret, 'another-service', 600);
  assert.match(refusal((await join(elsewhere.mintCall('scoped', 'alice'), 'scoped')).reply), /wrong-audience/);
  assert.equal((await onboarding(elsewhere.mintOnboarding('alice'))).status, 401);
});

test('each connection of one user is its own peer, and avatar ownership follows the user, not the peer id', async () => {
  const first = await join(server.tokens.mintCall('together', 'carol'), 'together');
  const second = await join(server.tokens.mintCall('together', 'carol'), 'together');
  assert.ok(first.reply.ok && second.reply.ok);
  assert.notEqual(first.reply.ok && first.reply.data.peerId, second.reply.ok && second.reply.data.peerId);
  assert.equal(server.rooms.get('together')!.peers.size, 2, 'two tabs of one user are two peers');

  const source = joinPath(tmpdir(), `voxface-access-${process.pid}.vxa`);
  writeFileSync(source, 'avatar bytes: authorization is checked before the file is read');
  server.avatarStore.installFor('carol', 'carols-face', source);
  // Mallory takes carol's name as her peer id: the token's user is still mallory.
  const mallory = await join(server.tokens.mintCall('drive', 'mallory', { peer: 'carol' }), 'drive');
  assert.equal(mallory.reply.ok && mallory.reply.data.peerId, 'carol');
  const driven = await mallory.socket.timeout(5000).emitWithAck('request', { method: 'enableAvatar', data: { avatarId: 'carols-face' } }) as SignalingReply<unknown>;
  assert.match(refusal(driven), /^forbidden: avatar 'carols-face' belongs to another user$/);
  // Nor may she take over a fixed peer id of carol's: a reconnection replaces only its own user's session.
  const carolFixed = await join(server.tokens.mintCall('drive', 'carol', { peer: 'carol-desk' }), 'drive');
  assert.equal(carolFixed.reply.ok, true);
  assert.match(refusal((await join(server.tokens.mintCall('drive', 'mallory', { peer: 'carol-desk' }), 'drive')).reply), /^forbidden: peer id 'carol-desk' is another user's in this room$/);
  assert.equal((await join(server.tokens.mintCall('drive', 'carol', { peer: 'carol-desk' }), 'drive')).reply.ok, true, 'carol reconnects');
  // Carol on a connection of her own (a random peer id) passes the check and meets the file's real problem.
  // (Its render thread starts before the file is refused: seconds on a loaded machine.)
  const own = await first.socket.timeout(30_000).emitWithAck('request', { method: 'enableAvatar', data: { avatarId: 'carols-face' } }) as SignalingReply<unknown>;
  assert.match(refusal(own), /^bad-request: /);
});


test('a dev browser keeps its user across tokens, so onboarding quotas hold', async () => {
  const first = await fetch(`${server.url}/api/dev/token?room=quota`);
  assert.equal(first.status, 200);
  const cookie = first.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^voxface_dev_user=user-[0-9a-f]{12}; Max-Age=\d+; Path=\/api\/dev; Expires=.*; HttpOnly; SameSite=Strict$/);
  const mine = { headers: { cookie: cookie.split(';')[0]! } };
  const tokens = [(await first.json()) as { user: string; callToken: string; onboardingToken: string }];
  for (let i = 0; i < 2; i++) tokens.push(await (await fetch(`${server.url}/api/dev/token?room=quota`, mine)).json());
  assert.equal(new Set(tokens.map((t) => t.user)).size, 1, 'one user for every token of this browser');
  assert.equal((await join(tokens[0]!.callToken, 'quota')).reply.ok, true);
  // Three sessions, one per token, against a limit of two per user: the third is refused.
  const created = [];
  for (const t of tokens) {
    created.push((await onboarding(t.onboardingToken, '/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SESSION) })).status);
  }
  assert.deepEqual(created, [201, 201, 429]);
});

test('dev minting for new users is rate limited per address; the browser\'s own user is not', async () => {
  // This file's limit is 4 new users a minute; earlier tests used one.
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await fetch(`${server.url}/api/dev/token?room=flood`)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const named = await fetch(`${server.url}/api/dev/token?room=flood&user=dave`);
  assert.equal(named.status, 429, 'an explicit user is a new user too');
  assert.equal(named.headers.get('retry-after'), '60');
  const first = await fetch(`${server.url}/api/dev/token?room=quota`, { headers: { cookie: 'voxface_dev_user=user-000000000000' } });
  assert.equal(first.status, 200, 'a browser with its cookie still gets tokens');
  assert.equal(((await first.json()) as { user: string }).user, 'user-000000000000');
  assert.equal((await fetch(`${server.url}/api/dev/token?room=../x`)).status, 400);
});

test('metrics and stream statistics: on the admin listener, or on the main port with the metrics token only', async () => {
  for (const path of ['/metrics', '/api/coefficient-streams']) {
    assert.equal((await fetch(`${server.url}${path}`)).status, 401, `${path} without a token`);
    assert.equal((await fetch(`${server.url}${path}`, { headers: { authorization: 'Bearer not-the-metrics-token!' } })).status, 401);
    assert.equal((await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.tokens.mintCall('scoped', 'alice')}` } })).status, 401, 'a call token is no metrics token');
    assert.equal((await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);
    assert.equal((await fetch(`${server.adminUrl}${path}`)).status, 200, `${path} on the admin listener`);
  }
  assert.match(await (await fetch(`${server.adminUrl}/metrics`)).text(), /voxface_rooms \d+/);
  assert.equal(new URL(server.adminUrl!).hostname, '127.0.0.1');
  // The admin listener serves nothing else.
  for (const path of ['/', '/api/dev/token', '/api/onboarding/avatars', '/health']) assert.equal((await fetch(`${server.adminUrl}${path}`)).status, 404, path);
});

test('without a metrics token the main port does not serve them at all, and says where they are', async () => {
  const bare = await startTestServer();
  try {
    const reply = await fetch(`${bare.url}/metrics`, { headers: { authorization: 'Bearer anything-at-all-123456' } });
    assert.equal(reply.status, 404);
    assert.match(((await reply.json()) as { error: string }).error, /admin listener \(VOXFACE_ADMIN_HOST, VOXFACE_ADMIN_PORT\)/);
    assert.equal((await fetch(`${bare.url}/api/coefficient-streams`)).status, 404);
    assert.equal((await fetch(`${bare.adminUrl}/api/coefficient-streams`)).status, 200);
  } finally {
    await bare.close();
  }
});
