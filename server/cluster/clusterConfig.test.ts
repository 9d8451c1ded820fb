import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterConfigFrom } from './clusterConfig';

test('a process with no cluster variables runs every role with no Redis (the single server)', () => {
  const config = clusterConfigFrom({});
  assert.deepEqual([...config.roles].sort(), ['render', 'sfu', 'trainer']);
  assert.equal(config.redisUrl, undefined);
  assert.match(config.nodeName, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
});

test('a node with some roles names them and needs a Redis URL', () => {
  assert.throws(() => clusterConfigFrom({ VOXFACE_ROLES: 'sfu' }), {
    name: 'TypeError', message: 'VOXFACE_ROLES=sfu needs VOXFACE_REDIS_URL (the other roles run on other nodes)',
  });
  const config = clusterConfigFrom({ VOXFACE_ROLES: 'sfu, render', VOXFACE_REDIS_URL: 'redis://127.0.0.1:6379', VOXFACE_NODE_NAME: 'sfu-1' });
  assert.deepEqual([...config.roles], ['sfu', 'render']);
  assert.equal(config.nodeName, 'sfu-1');
});

test('unknown roles, non-Redis URLs and odd node names are refused by name', () => {
  assert.throws(() => clusterConfigFrom({ VOXFACE_ROLES: 'sfu,gpu' }), /VOXFACE_ROLES must be 'all' or a comma list of sfu, render, trainer, got 'sfu,gpu'/);
  assert.throws(() => clusterConfigFrom({ VOXFACE_REDIS_URL: 'http://x' }), /VOXFACE_REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => clusterConfigFrom({ VOXFACE_NODE_NAME: 'a b' }), /VOXFACE_NODE_NAME must be 1-64 letters/);
});
