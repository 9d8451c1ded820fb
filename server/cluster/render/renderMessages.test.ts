import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseClusterMessage, parseReply } from '../sfu/clusterMessages';

const SESSION = '9dbf4682-0dc8-4f15-bab1-b1bb4f02c229';
const DATA_PRODUCER = '5b0c1c0e-2f7a-4d0e-9a51-3c1d2b9e7f10';
const PRODUCER = '0c7d2f4e-6a1b-4c3d-8e9f-112233445566';

const hostAvatar = {
  session: SESSION, room: 'rendered', peer: { id: 'ada1', user: 'ada', displayName: 'Ada' }, avatarId: 'synthetic',
  background: { kind: 'colour', rgb: '#2a6f97' }, ip: '10.0.0.7', port: 40123,
  data: { dataProducerId: DATA_PRODUCER, sctpStreamParameters: { streamId: 0, ordered: true }, label: 'coefficients', protocol: '' },
};
const rtpParameters = {
  codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
  headerExtensions: [], encodings: [{ ssrc: 1234 }], rtcp: { cname: 'x', reducedSize: true, mux: true },
};

function request(method: string, data: unknown): string {
  return JSON.stringify({ type: 'request', id: 'r1', from: 'sfu-1', method, data });
}
function notice(method: string, data: unknown, from = 'render-1'): string {
  return JSON.stringify({ type: 'notice', from, method, data });
}
function refusal(raw: string): { error: string; replyTo?: unknown } {
  const result = parseClusterMessage(raw);
  assert.equal(result.ok, false, `expected a refusal of ${raw.slice(0, 160)}`);
  return result as { ok: false; error: string; replyTo?: unknown };
}

test('the render messages pass the bus\'s checks with their data', () => {
  assert.deepEqual(parseClusterMessage(request('hostAvatar', hostAvatar)), { ok: true, value: { type: 'request', id: 'r1', from: 'sfu-1', method: 'hostAvatar', data: hostAvatar } });
  assert.equal(parseClusterMessage(request('hostAvatar', { ...hostAvatar, background: { kind: 'image', id: '0123456789abcdef' }, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: 'a2V5' } })).ok, true);
  assert.equal(parseClusterMessage(request('reloadHostedAvatar', { session: SESSION })).ok, true);
  assert.equal(parseClusterMessage(notice('dropHostedAvatar', { session: SESSION }, 'sfu-1')).ok, true);
  assert.equal(parseClusterMessage(notice('hostedAvatarProducer', { session: SESSION, producerId: PRODUCER, rtpParameters, paused: false })).ok, true);
  assert.equal(parseClusterMessage(notice('hostedAvatarStatus', { session: SESSION, status: 'stalled' })).ok, true);
  assert.equal(parseClusterMessage(notice('hostedAvatarEnded', { session: SESSION, reason: 'renderer-crashed', message: 'render process exited' })).ok, true);
  assert.deepEqual(parseReply('hostAvatar', { ip: '10.0.0.8', port: 40200 }), { ok: true, value: { ip: '10.0.0.8', port: 40200 } });
  assert.deepEqual(parseReply('reloadHostedAvatar', { reloaded: true }), { ok: true, value: { reloaded: true } });
});

test('malformed render messages are refused with a sentence that says where, and a refused request is answered', () => {
  const traversal = refusal(request('hostAvatar', { ...hostAvatar, avatarId: '../../etc/passwd' }));
  assert.equal(traversal.error, 'cluster request hostAvatar: avatarId: must be an avatar id (1-64 of A-Z a-z 0-9 _ -)');
  assert.deepEqual(traversal.replyTo, { id: 'r1', from: 'sfu-1' });
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, background: { kind: 'image', id: 'x', path: '/etc/shadow' } })).error, /cluster request hostAvatar: background\.id: must be an uploaded background's id/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, background: { kind: 'image', id: '0123456789abcdef', path: '/etc/shadow' } })).error, /background: Unrecognized key\(s\) in object: 'path'/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, session: 'not-a-uuid' })).error, /hostAvatar: session: Invalid uuid/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, ip: 'render.example.com' })).error, /hostAvatar: ip: Invalid ip/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, port: 70000 })).error, /hostAvatar: port: Number must be less than or equal to 65535/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, peer: { ...hostAvatar.peer, displayName: 'x'.repeat(500) } })).error, /hostAvatar: peer\.displayName: String must contain at most/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, data: { ...hostAvatar.data, sctpStreamParameters: { streamId: 70000 } } })).error, /data\.sctpStreamParameters\.streamId: Number must be less than or equal to 65534/);
  assert.match(refusal(request('hostAvatar', { ...hostAvatar, data: { ...hostAvatar.data, label: 'l'.repeat(257) } })).error, /data\.label: String must contain at most 256/);
  assert.match(refusal(notice('hostedAvatarProducer', { session: SESSION, producerId: PRODUCER, rtpParameters: { ...rtpParameters, codecs: Array(5).fill(rtpParameters.codecs[0]) }, paused: false })).error,
    /hostedAvatarProducer: rtpParameters\.codecs: Array must contain at most 4/);
  assert.match(refusal(notice('hostedAvatarProducer', { session: SESSION, producerId: PRODUCER, rtpParameters: { ...rtpParameters, encodings: [] }, paused: false })).error,
    /rtpParameters\.encodings: Array must contain at least 1/);
  assert.match(refusal(notice('hostedAvatarProducer', { session: SESSION, producerId: PRODUCER, rtpParameters: { ...rtpParameters, evil: 1 }, paused: false })).error,
    /rtpParameters: Unrecognized key\(s\) in object: 'evil'/);
  assert.match(refusal(notice('hostedAvatarStatus', { session: SESSION, status: 'dancing' })).error, /hostedAvatarStatus: status: Invalid enum value/);
  assert.match(refusal(notice('hostedAvatarEnded', { session: SESSION, reason: 'r'.repeat(65), message: '' })).error, /hostedAvatarEnded: reason: String must contain at most 64/);
  assert.match(refusal(notice('hostedAvatarEnded', { session: SESSION, reason: 'x', message: 'm'.repeat(513) })).error, /hostedAvatarEnded: message: String must contain at most 512/);
  assert.match(refusal(notice('dropHostedAvatar', { session: SESSION, room: 'R' })).error, /dropHostedAvatar: data: Unrecognized key/);
  assert.deepEqual(parseReply('hostAvatar', { ip: '10.0.0.8' }), { ok: false, error: 'cluster reply to hostAvatar: port: Required' });
  assert.deepEqual(parseReply('reloadHostedAvatar', { reloaded: 'yes' }), { ok: false, error: 'cluster reply to reloadHostedAvatar: reloaded: Expected boolean, received string' });
});
