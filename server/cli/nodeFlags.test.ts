import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLI_ENTRY, CLI_NODE_FLAGS, voxfaceCommand } from './nodeFlags';

test('the shebang starts Node with the CLI\'s flags, so `npx voxface` runs as the trainers do', () => {
  const first = readFileSync(CLI_ENTRY, 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[a-z-]+)*)$/.exec(first);
  assert.ok(m, `bin/voxface.js's first line is not '#!/usr/bin/env -S node <flags>': ${first}`);
  assert.deepEqual(m[1]!.trim().split(' ').filter(Boolean), [...CLI_NODE_FLAGS]);
});

test('a training job runs this Node with the CLI\'s flags on bin/voxface.js train', () => {
  assert.ok(existsSync(CLI_ENTRY), CLI_ENTRY);
  assert.deepEqual(voxfaceCommand('train'), [process.execPath, '--single-threaded-gc', CLI_ENTRY, 'train']);
});

test('the flags are ones this Node accepts', () => {
  const r = spawnSync(process.execPath, [...CLI_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [...CLI_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))']);
});
