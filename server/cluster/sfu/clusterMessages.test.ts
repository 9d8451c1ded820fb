import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_CLUSTER_MESSAGE_BYTES, parseClusterMessage, parseReply } from './clusterMessages';

const PRODUCER = '5b0c1c0e-2f7a-4d0e-9a51-3c1d2b9e7f10';

function refused(raw: string, pattern: RegExp): ReturnType<typeof parseClusterMessage> {
  const result = parseClusterMessage(raw);
  assert.equal(result.ok, false, `expected a refusal of ${raw.slice(0, 120)}`);
  if (!result.ok) assert.match(result.error, pattern);
  return result;
}

test('a valid request, notice and room event pass with their data checked', () => {
  const request = parseClusterMessage(JSON.stringify({ type: 'request', id: 'r1', from: 'sfu-1', method: 'openPipe', data: { room: 'R', ip: '10.0.0.2', port: 40001 } }));
  assert.deepEqual(request, { ok: true, value: { type: 'request', id: 'r1', from: 'sfu-1', method: 'openPipe', data: { room: 'R', ip: '10.0.0.2', port: 40001 } } });
  assert.equal(parseClusterMessage(JSON.stringify({ type: 'notice', from: 'sfu-1', method: 'unpipeProducer', data: { room: 'R', producerId: PRODUCER } })).ok, true);
  const event = { event: 'newProducer', room: 'R', peerId: 'alice', producer: { id: PRODUCER, kind: 'video', appData: { source: 'avatar', peerId: 'alice' } } };
  assert.deepEqual(parseClusterMessage(JSON.stringify({ type: 'roomEvent', from: 'sfu-2', data: event })), { ok: true, value: { type: 'roomEvent', from: 'sfu-2', data: event } });
});

test('malformed cross-node messages are refused with a sentence that says what is wrong', () => {
  refused('x'.repeat(MAX_CLUSTER_MESSAGE_BYTES + 1), /of 65537 bytes exceeds 65536/);
  refused('{"type":', /is not JSON/);
  refused(JSON.stringify({ type: 'request', id: 'r1', method: 'openPipe', data: {} }), /envelope: from: Required/);
  refused(JSON.stringify({ type: 'request', id: 'r1', from: '../etc', method: 'openPipe', data: {} }), /envelope: from: must be a node name/);
  refused(JSON.stringify({ type: 'gossip', from: 'sfu-1' }), /envelope: type: Invalid discriminator/);
  refused(JSON.stringify({ type: 'response', id: 'r1', from: 'sfu-1', ok: false }), /a failed response needs its error/);
  refused(JSON.stringify({ type: 'roomEvent', from: 'sfu-1', data: { event: 'peerJoined', room: 'R', peer: { id: 'a/b', displayName: 'x', producers: [] } } }), /room event: peer.id: must be a peer id/);
  refused(JSON.stringify({ type: 'notice', from: 'sfu-1', method: 'closePipe', data: { room: 'R', extra: 1 } }), /notice closePipe: data: Unrecognized key/);
});

test('a refused request keeps its id and sender, so the sender is answered with the error', () => {
  const unknown = refused(JSON.stringify({ type: 'request', id: 'r7', from: 'sfu-2', method: 'rmRf', data: {} }), /unknown cluster request 'rmRf'/);
  assert.deepEqual(!unknown.ok && unknown.replyTo, { id: 'r7', from: 'sfu-2' });
  const badPort = refused(JSON.stringify({ type: 'request', id: 'r8', from: 'sfu-2', method: 'openPipe', data: { room: 'R', ip: '10.0.0.2', port: 70000 } }), /request openPipe: port: Number must be less than or equal to 65535/);
  assert.deepEqual(!badPort.ok && badPort.replyTo, { id: 'r8', from: 'sfu-2' });
  refused(JSON.stringify({ type: 'request', id: 'r9', from: 'sfu-2', method: 'pipeProducer', data: { room: 'R', producerId: 'not-a-uuid' } }), /producerId: Invalid uuid/);
});

test('an answer is checked against the method it answers', () => {
  assert.equal(parseReply('openPipe', { ip: '10.0.0.3', port: 40002 }).ok, true);
  const bad = parseReply('pipeProducer', { kind: 'screen', rtpParameters: {}, paused: false, appData: {} });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.error : '', /cluster reply to pipeProducer: kind: Invalid enum value/);
});
