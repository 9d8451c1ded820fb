/**
 * Bad input on the signaling channel, against a real server and worker: every bad
 * request gets a clear error, and the server keeps serving everyone else.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { io, type Socket } from 'socket.io-client';
import { mintAccessToken } from '../../server/auth/AccessToken';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import type { SignalingReply, TransportReply } from '../../shared/signaling/messages';
import { TestSockets } from '../helpers/signalingSocket';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
let sockets: TestSockets;

before(async () => {
  server = await startTestServer({ requestsPerSecond: 20, requestBurst: 40 });
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

function send(socket: Socket, envelope: unknown): Promise<SignalingReply<any>> {
  return socket.timeout(5000).emitWithAck('request', envelope);
}

function assertError(reply: SignalingReply, code: string, pattern: RegExp): void {
  assert.equal(reply.ok, false, `expected ${code}, got ok`);
  if (reply.ok) return;
  assert.equal(reply.error.code, code, reply.error.message);
  assert.match(reply.error.message, pattern);
}

async function joined(room: string, peerId: string): Promise<Socket> {
  const socket = await connect();
  const reply = await send(socket, { method: 'join', data: { token: server.tokens.mintCall(room, peerId, { peer: peerId }), room, displayName: peerId } });
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return socket;
}

const OPUS_RTP_PARAMETERS = {
  codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [],
  encodings: [{ ssrc: 11111111 }],
  rtcp: { cname: 'test' },
};

test('wrong, expired and misdirected tokens are refused with the reason', async () => {
  const socket = await connect();
  const room = 'tokens';
  assertError(await send(socket, { method: 'join', data: { token: 'not-a-token', room, displayName: 'x' } }), 'unauthorized', /malformed/);
  const foreign = mintAccessToken(Buffer.alloc(32, 7), { scope: 'call', aud: 'voxface', sub: 'eve', room, exp: Math.floor(Date.now() / 1000) + 60 });
  assertError(await send(socket, { method: 'join', data: { token: foreign, room, displayName: 'x' } }), 'unauthorized', /bad-signature/);
  const expired = server.tokens.mintCall(room, 'eve', { ttlSeconds: -1 });
  assertError(await send(socket, { method: 'join', data: { token: expired, room, displayName: 'x' } }), 'unauthorized', /expired/);
  const otherRoom = server.tokens.mintCall('elsewhere', 'eve');
  assertError(await send(socket, { method: 'join', data: { token: otherRoom, room, displayName: 'x' } }), 'unauthorized', /not 'tokens'/);
  assert.equal(server.rooms.get(room)?.peers.size ?? 0, 0, 'nobody joined');
});

test('malformed requests get bad-request or unknown-method replies', async () => {
  const socket = await connect();
  assertError(await send(socket, 'just a string'), 'bad-request', /\{ method, data \}/);
  assertError(await send(socket, { method: 'join' , data: { token: 5 } }), 'bad-request', /^join: token/);
  assertError(await send(socket, { method: 'selfDestruct', data: {} }), 'unknown-method', /selfDestruct/);
  assertError(await send(socket, { method: 'join', data: { token: 't', room: '../etc', displayName: 'x' } }), 'bad-request', /room/);
  assertError(await send(socket, { method: 'join', data: { token: 't', room: 'r', displayName: 'x', admin: true } }), 'bad-request', /admin|Unrecognized/);
  assertError(await send(socket, { method: 'createWebRtcTransport', data: { direction: 'send' } }), 'not-joined', /join a room first/);
  // A request without an acknowledgement is dropped without harm.
  socket.emit('request', { method: 'join', data: {} });
  socket.emit('request');
  assertError(await send(socket, { method: 'leave', data: {} }), 'not-joined', /join a room first/);
});

test('an avatar background that is not blur, room or a #rrggbb colour is refused at the signaling boundary with a clear error', async () => {
  const socket = await connect();
  const enable = (background: unknown) => send(socket, { method: 'enableAvatar', data: { avatarId: 'synthetic', background } });
  assertError(await enable({ kind: 'colour', rgb: 'blue' }), 'bad-request', /^enableAvatar: background\.rgb: must be a colour written #rrggbb/);
  assertError(await enable({ kind: 'colour', rgb: '#12345' }), 'bad-request', /^enableAvatar: background\.rgb: must be a colour written #rrggbb/);
  assertError(await enable({ kind: 'video' }), 'bad-request', /^enableAvatar: background\.kind: /);
  assertError(await enable({ kind: 'blur', strength: 9 }), 'bad-request', /^enableAvatar: background: .*strength/);
  // A good background passes the schema and meets the next check (this socket has not joined).
  assertError(await enable({ kind: 'colour', rgb: '#2a6f97' }), 'not-joined', /join a room first/);
});

test('an oversized request is refused, and an enormous message drops only its own connection', async () => {
  const bystander = await joined('big', 'bystander');
  const socket = await connect();
  const big = 'x'.repeat(100 * 1024);
  assertError(await send(socket, { method: 'join', data: { token: big, room: 'big', displayName: 'x' } }), 'payload-too-large', /exceeds 65536/);

  const hog = await connect();
  const dropped = new Promise<string>((resolve) => hog.once('disconnect', resolve));
  hog.emit('request', { method: 'join', data: { token: 'y'.repeat(400 * 1024) } }, () => undefined);
  assert.match(await dropped, /transport close|transport error/);

  const reply = await send(bystander, { method: 'createWebRtcTransport', data: { direction: 'recv' } });
  assert.equal(reply.ok, true, 'the bystander is still served');
});

test('a peer cannot act on another peer\'s transport, producer or consumer', async () => {
  const alice = await joined('owners', 'alice');
  const mallory = await joined('owners', 'mallory');
  const aliceSend = await send(alice, { method: 'createWebRtcTransport', data: { direction: 'send' } });
  const aliceRecv = await send(alice, { method: 'createWebRtcTransport', data: { direction: 'recv' } });
  assert.ok(aliceSend.ok && aliceRecv.ok);
  const sendId = (aliceSend.data as TransportReply).id;
  const produced = await send(alice, { method: 'produce', data: { transportId: sendId, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS } });
  assert.equal(produced.ok, true, JSON.stringify(produced));
  const producerId = (produced as { data: { id: string } }).data.id;

  const fingerprint = { algorithm: 'sha-256', value: 'AA:'.repeat(31) + 'AA' };
  assertError(await send(mallory, { method: 'connectWebRtcTransport', data: { transportId: sendId, dtlsParameters: { role: 'client', fingerprints: [fingerprint] } } }), 'forbidden', /belongs to another peer/);
  assertError(await send(mallory, { method: 'produce', data: { transportId: sendId, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS } }), 'forbidden', /belongs to another peer/);
  assertError(await send(mallory, { method: 'closeProducer', data: { producerId } }), 'forbidden', /belongs to another peer/);
  assertError(await send(mallory, { method: 'closeProducer', data: { producerId: '3f1a2b4c-0000-4000-8000-000000000000' } }), 'not-found', /no producer/);

  // Alice consumes her own producer (as a self-view would), Mallory tries to resume it.
  const rtpCapabilities = server.rooms.get('owners')!.router.rtpCapabilities;
  const consumed = await send(alice, { method: 'consume', data: { transportId: (aliceRecv.data as TransportReply).id, producerId, rtpCapabilities } });
  assert.equal(consumed.ok, true, JSON.stringify(consumed));
  assertError(await send(mallory, { method: 'resumeConsumer', data: { consumerId: (consumed as { data: { id: string } }).data.id } }), 'forbidden', /belongs to another peer/);
  assertError(await send(alice, { method: 'produce', data: { transportId: (aliceRecv.data as TransportReply).id, kind: 'audio', rtpParameters: OPUS_RTP_PARAMETERS } }), 'bad-request', /not a send transport/);
  assertError(await send(alice, { method: 'produce', data: { transportId: sendId, kind: 'video', rtpParameters: { codecs: 'nope' } } }), 'bad-request', /^produce: /);

  const alicePeer = server.rooms.get('owners')!.peers.get('alice')!;
  assert.equal(alicePeer.producers.size, 1, 'alice\'s producer survived');
});

test('a flood of requests is rate limited and the connection keeps working afterwards', async () => {
  const socket = await connect();
  const replies = await Promise.all(Array.from({ length: 80 }, () => send(socket, { method: 'leave', data: {} })));
  const limited = replies.filter((r) => !r.ok && r.error.code === 'rate-limited').length;
  assert.ok(limited >= 30, `expected most of 80 requests beyond a burst of 40 to be limited, got ${limited}`);
  await new Promise((r) => setTimeout(r, 300));
  assertError(await send(socket, { method: 'leave', data: {} }), 'not-joined', /join a room first/);
});

test('a dead worker closes its rooms with an event, is replaced, and new rooms work', async () => {
  const victim = await joined('doomed', 'victim');
  const closed = new Promise<{ method: string; data: { reason: string } }>((resolve) => {
    victim.on('notification', (message) => { if (message.method === 'roomClosed') resolve(message); });
  });
  const replaced = server.pool.waitFor('workerReplaced', 10_000);
  const worker = server.rooms.get('doomed')!.worker;
  process.kill(worker.pid, 'SIGKILL');
  assert.deepEqual((await closed).data, { reason: 'worker-died' });
  await replaced;
  assert.equal(server.pool.workers.length, 1);
  assert.equal(server.rooms.get('doomed'), undefined);
  const survivor = await joined('reborn', 'survivor');
  const reply = await send(survivor, { method: 'createWebRtcTransport', data: { direction: 'send' } });
  assert.equal(reply.ok, true);
  const health = await fetch(`${server.url}/health`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${server.adminUrl}/metrics`)).text();
  assert.match(metrics, /voxface_worker_deaths 1/);
  assert.match(metrics, /voxface_signaling_requests_total\{method="join",result="unauthorized"\} 4/);
});

test('a peer cannot drive an avatar another user owns, and owned avatars are not listed publicly', async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const source = join(tmpdir(), `voxface-owned-${process.pid}.vxa`);
  writeFileSync(source, 'avatar bytes: authorization is checked before the file is read');
  server.avatarStore.installFor('alice', 'alices-face', source);
  const mallory = await joined('drive', 'mallory');
  assertError(await send(mallory, { method: 'enableAvatar', data: { avatarId: 'alices-face' } }), 'forbidden', /belongs to another user/);
  const listed = await (await fetch(`${server.url}/api/avatars`)).json() as { id: string }[];
  assert.equal(listed.some((a) => a.id === 'alices-face'), false);
  const alice = await joined('drive', 'alice');
  // The owner's render thread starts before the file is refused: seconds on a loaded machine (5 s timed out at load 50).
  const own: SignalingReply = await alice.timeout(30_000).emitWithAck('request', { method: 'enableAvatar', data: { avatarId: 'alices-face' } });
  assert.equal(own.ok, false);
  assert.equal(own.ok === false && own.error.code, 'bad-request', 'the owner passes the check and meets the file\'s real problem');
});
