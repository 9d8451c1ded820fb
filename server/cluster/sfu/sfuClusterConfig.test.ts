import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../config';
import { requirePipeAddress, sfuClusterConfigFrom } from './sfuClusterConfig';

test('pipes listen and announce where RTP does unless told otherwise, with a 3 s node TTL', () => {
  assert.deepEqual(sfuClusterConfigFrom({}), { nodeUrl: undefined, pipeListenIp: '127.0.0.1', pipeAnnouncedIp: '127.0.0.1', pipeSrtp: false, nodeTtlMs: 3000 });
  assert.deepEqual(sfuClusterConfigFrom({ VOXFACE_RTC_LISTEN_IP: '0.0.0.0', VOXFACE_RTC_ANNOUNCED_IP: '10.1.2.3' }).pipeAnnouncedIp, '10.1.2.3');
  assert.deepEqual(sfuClusterConfigFrom({
    VOXFACE_PIPE_LISTEN_IP: '10.0.0.5', VOXFACE_PIPE_SRTP: '1', VOXFACE_NODE_URL: 'https://sfu-1.example.com/ignored/path', VOXFACE_NODE_TTL_MS: '1500',
  }), { nodeUrl: 'https://sfu-1.example.com', pipeListenIp: '10.0.0.5', pipeAnnouncedIp: '10.0.0.5', pipeSrtp: true, nodeTtlMs: 1500 });
});

test('a single server listening on 0.0.0.0 without Redis loads as before; a cluster node there must announce a pipe address', () => {
  const single = loadConfig({ VOXFACE_RTC_LISTEN_IP: '0.0.0.0', VOXFACE_SECRET: 'a-secret-of-enough-length' });
  assert.equal(single.cluster.redisUrl, undefined);
  assert.throws(() => requirePipeAddress(single.sfuCluster), { name: 'TypeError', message: /VOXFACE_PIPE_ANNOUNCED_IP is needed when pipes listen on 0\.0\.0\.0/ });
});

test('bad pipe addresses, node URLs and TTLs are refused by name', () => {
  assert.throws(() => sfuClusterConfigFrom({ VOXFACE_PIPE_LISTEN_IP: 'eth0' }), { name: 'TypeError', message: /VOXFACE_PIPE_LISTEN_IP must be an IP address, got 'eth0'/ });
  assert.throws(() => sfuClusterConfigFrom({ VOXFACE_PIPE_ANNOUNCED_IP: 'sfu-1.local' }), { name: 'TypeError', message: /VOXFACE_PIPE_ANNOUNCED_IP must be an IP address/ });
  assert.throws(() => sfuClusterConfigFrom({ VOXFACE_NODE_URL: 'not a url' }), { name: 'TypeError', message: /VOXFACE_NODE_URL must be a URL/ });
  assert.throws(() => sfuClusterConfigFrom({ VOXFACE_NODE_TTL_MS: '100' }), { name: 'TypeError', message: /VOXFACE_NODE_TTL_MS must be an integer from 300 to 60000, got '100'/ });
});
