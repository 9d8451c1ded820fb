import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MESSAGE_TYPE, RenderMessageReader, messageHeader, type RenderProcessMessage } from './renderProcessProtocol';

function stream(frame: Uint8Array): Buffer {
  const ready = Buffer.from(JSON.stringify({ expressionCount: 2 }));
  const error = Buffer.from('bad face');
  return Buffer.concat([
    messageHeader(MESSAGE_TYPE.ready, ready.length), ready,
    messageHeader(MESSAGE_TYPE.frame, frame.length, 12.5), frame,
    messageHeader(MESSAGE_TYPE.frame, frame.length, 30), frame,
    messageHeader(MESSAGE_TYPE.error, error.length), error,
    messageHeader(MESSAGE_TYPE.error, 0),
  ]);
}

test('messages are reassembled whatever the chunk boundaries, frames straight into the frame buffer, each with its render time', () => {
  const sent = Uint8Array.from({ length: 4 * 6 * 4 }, (_, i) => (i * 7) % 256);
  const bytes = stream(sent);
  for (const chunkSize of [1, 3, 16, 17, 100, bytes.length]) {
    const frame = new Uint8Array(sent.length);
    const reader = new RenderMessageReader(frame);
    const got: RenderProcessMessage[] = [];
    for (let at = 0; at < bytes.length; at += chunkSize) reader.push(bytes.subarray(at, at + chunkSize), (m) => got.push(m));
    assert.deepEqual(got, [
      { type: 'ready', expressionCount: 2 },
      { type: 'frame', renderMs: 12.5 }, { type: 'frame', renderMs: 30 },
      { type: 'error', message: 'bad face' }, { type: 'error', message: '' },
    ], `chunks of ${chunkSize}`);
    assert.deepEqual(frame, sent);
  }
});

test('a frame of the wrong size or an unknown message type is a corrupt stream', () => {
  const reader = new RenderMessageReader(new Uint8Array(16));
  assert.throws(() => reader.push(messageHeader(MESSAGE_TYPE.frame, 15), () => undefined), /render process sent a 15-byte frame, expected 16/);
  const header = messageHeader(MESSAGE_TYPE.ready, 0);
  header.writeUInt8(9, 0);
  assert.throws(() => new RenderMessageReader(new Uint8Array(16)).push(header, () => undefined), /unknown message type 9/);
  assert.throws(() => new RenderMessageReader(new Uint8Array(16)).push(messageHeader(MESSAGE_TYPE.error, 1 << 20), () => undefined), /1048576-byte message/);
});
