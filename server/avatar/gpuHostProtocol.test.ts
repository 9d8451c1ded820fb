import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GpuHostMessageReader, HOST_MESSAGE, hostMessageHeader, hostRequest, type GpuHostMessage } from './gpuHostProtocol';

function text(type: typeof HOST_MESSAGE.opened | typeof HOST_MESSAGE.lost, session: number, body: string): Buffer {
  const payload = Buffer.from(body, 'utf8');
  return Buffer.concat([hostMessageHeader(type, session, payload.length), payload]);
}

test('frames land in their own session\'s buffer whatever the chunking; a frame for a session with no buffer is skipped', () => {
  const frames = new Map([[1, new Uint8Array(8)], [2, new Uint8Array(8)]]);
  const reader = new GpuHostMessageReader((s) => frames.get(s));
  const stream = Buffer.concat([
    hostMessageHeader(HOST_MESSAGE.frame, 2, 8, 12.5), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]),
    hostMessageHeader(HOST_MESSAGE.frame, 9, 8), Buffer.alloc(8, 0xee),
    text(HOST_MESSAGE.opened, 1, '{"expressionCount":2}'),
    hostMessageHeader(HOST_MESSAGE.frame, 1, 8), Buffer.from([9, 9, 9, 9, 8, 8, 8, 8]),
    text(HOST_MESSAGE.lost, 0, 'the GPU device was lost'),
  ]);
  for (const size of [1, 5, 24, 1000]) {
    for (const f of frames.values()) f.fill(0);
    const got: GpuHostMessage[] = [];
    for (let at = 0; at < stream.length; at += size) reader.push(stream.subarray(at, at + size), (m) => got.push(m));
    assert.deepEqual(got, [
      { type: 'frame', session: 2, renderMs: 12.5 },
      { type: 'frame', session: 9, renderMs: 0 },
      { type: 'opened', session: 1, text: '{"expressionCount":2}' },
      { type: 'frame', session: 1, renderMs: 0 },
      { type: 'lost', session: 0, text: 'the GPU device was lost' },
    ], `chunks of ${size}`);
    assert.deepEqual([...frames.get(2)!], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...frames.get(1)!], [9, 9, 9, 9, 8, 8, 8, 8]);
  }
});

test('a frame of the wrong size, an unknown type or an oversized text is a corrupt stream', () => {
  const reader = () => new GpuHostMessageReader(() => new Uint8Array(8));
  assert.throws(() => reader().push(hostMessageHeader(HOST_MESSAGE.frame, 1, 12), () => undefined), /sent a 12-byte frame for session 1, expected 8/);
  const bad = hostMessageHeader(HOST_MESSAGE.frame, 1, 8);
  bad.writeUInt8(42, 0);
  assert.throws(() => reader().push(bad, () => undefined), /unknown message type 42/);
  assert.throws(() => reader().push(hostMessageHeader(HOST_MESSAGE.error, 1, 1 << 20), () => undefined), /sent a 1048576-byte message/);
});

test('requests are checked at the host\'s boundary', () => {
  assert.deepEqual(hostRequest.parse({ type: 'close', session: 3 }), { type: 'close', session: 3 });
  assert.throws(() => hostRequest.parse({ type: 'render', session: 0, face: { blendshapes: [], rotation: [0, 0, 0, 1], translationCm: [0, 0, 0] } }));
  assert.throws(() => hostRequest.parse({ type: 'open', session: 1, avatarPath: '/a', width: 0, height: 10 }));
  assert.throws(() => hostRequest.parse({ type: 'render', session: 1, face: { blendshapes: [Number.NaN], rotation: [0, 0, 0, 1], translationCm: [0, 0, 0] } }));
  assert.throws(() => hostRequest.parse({ type: 'stats', extra: 1 }));
});
