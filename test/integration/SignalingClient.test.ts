/**
 * The SDK's signaling client in Node over socket.io-client: against a real
 * Voxface server, and against a bare socket.io server that never answers (to
 * see the timeout). In test/, not client/sdk: it starts a server.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Server as SocketIoServer } from 'socket.io';
import { SignalingClient, SignalingRequestError } from '../../client/sdk/SignalingClient';
import type { JoinReply } from '../../shared/signaling/messages';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { startTestServer } from '../helpers/testServer';

let server: VoxfaceServer;
const clients: SignalingClient[] = [];

before(async () => { server = await startTestServer(); });
after(async () => {
  for (const client of clients) client.close();
  await server?.close();
});

async function connect(url = server.url, timeoutMs?: number): Promise<SignalingClient> {
  const client = await SignalingClient.connect(url, timeoutMs);
  clients.push(client);
  return client;
}

function isRequestError(code: string, message: string | RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof SignalingRequestError, String(error));
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

test('connect() to an address nobody serves rejects with disconnected and the address', async () => {
  // Port 9 (discard) is closed here; the connection is refused at once.
  await assert.rejects(SignalingClient.connect('http://127.0.0.1:9', 5000), isRequestError('disconnected', /^cannot reach http:\/\/127\.0\.0\.1:9: /));
});

test('request() resolves with the reply data, or rejects with the server\'s error code and message', async () => {
  const client = await connect();
  assert.equal(client.connected, true);
  await assert.rejects(client.request('join', { token: 'not-a-token', room: 'r', displayName: 'Ada' }), isRequestError('unauthorized', 'invalid token (malformed): not a token (payload.signature)'));
  await assert.rejects(client.request('createWebRtcTransport', { direction: 'send' }), isRequestError('not-joined', 'join a room first'));
  const reply = await client.request<'join', JoinReply>('join', { token: server.tokens.mintCall('r', 'ada', { peer: 'ada' }), room: 'r', displayName: 'Ada' });
  assert.equal(reply.peerId, 'ada');
  assert.equal(reply.room, 'r');
  assert.deepEqual(reply.peers, []);
  assert.ok(reply.routerRtpCapabilities);
});

test('notifications arrive as typed events', async () => {
  const ada = await connect();
  await ada.request('join', { token: server.tokens.mintCall('notes', 'ada', { peer: 'ada' }), room: 'notes', displayName: 'Ada' });
  const joined = ada.waitFor('peerJoined', 5000);
  const bob = await connect();
  await bob.request('join', { token: server.tokens.mintCall('notes', 'bob', { peer: 'bob' }), room: 'notes', displayName: 'Bob' });
  assert.deepEqual(await joined, { peerId: 'bob', displayName: 'Bob' });
  const left = ada.waitFor('peerLeft', 5000);
  bob.close();
  assert.deepEqual(await left, { peerId: 'bob' });
});

test('close() emits disconnected, and a request after it rejects without being sent', async () => {
  const client = await connect();
  const disconnected = client.waitFor('disconnected', 5000);
  client.close();
  assert.deepEqual(await disconnected, { reason: 'io client disconnect' });
  assert.equal(client.connected, false);
  await assert.rejects(client.request('leave', {}), isRequestError('disconnected', 'signaling is disconnected'));
});

test('a request the server never answers times out with the method and the time waited', async (t) => {
  const http = createServer();
  const silent = new SocketIoServer(http);
  let received = 0;
  silent.on('connection', (socket) => socket.on('request', () => { received += 1; })); // never acknowledges
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const { port } = http.address() as AddressInfo;
  const client = await connect(`http://127.0.0.1:${port}`, 200);
  await assert.rejects(client.request('leave', {}), isRequestError('timeout', 'leave timed out after 200 ms'));
  assert.equal(received, 1, 'the request was sent');
  // A request of slow work waits as long as it is given.
  const started = Date.now();
  await assert.rejects(client.request('leave', {}, 600), isRequestError('timeout', 'leave timed out after 600 ms'));
  assert.ok(Date.now() - started >= 590, `waited ${Date.now() - started} ms`);
  assert.equal(received, 2);
});
