import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backgroundChoice, backgroundFromParam, backgroundParam, type BackgroundChoice } from './background';

test('every background choice survives the URL parameter and back, and the parameter accepts nothing else', () => {
  const choices: BackgroundChoice[] = [{ kind: 'blur' }, { kind: 'room' }, { kind: 'colour', rgb: '#2a6f97' }, { kind: 'image', id: '0123456789abcdef' }];
  for (const choice of choices) {
    assert.deepEqual(backgroundFromParam(backgroundParam(choice)), choice);
    assert.deepEqual(backgroundChoice.parse(choice), choice);
  }
  for (const bad of ['image:', 'image:0123', 'image:0123456789ABCDEF', 'image:../../etc/passwd', 'colour', '#12345', 'photo']) assert.equal(backgroundFromParam(bad), undefined, bad);
});

test('signaling refuses an image background whose id is not 16 hex digits, with a message that says so', () => {
  const r = backgroundChoice.safeParse({ kind: 'image', id: '../secret' });
  assert.equal(r.success, false);
  assert.match(JSON.stringify(r.error?.issues), /must be an uploaded background's id \(16 hex digits\)/);
  assert.equal(backgroundChoice.safeParse({ kind: 'image', id: '0123456789abcdef', path: '/etc/passwd' }).success, false, 'no path from a client');
});
