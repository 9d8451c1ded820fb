/**
 * docker/compose.cluster.yaml, statically (no Docker engine here, and `docker compose
 * config` needs a plugin this machine lacks): the services a cluster needs, each SFU
 * node with its own RTP range and host ports, pipes announced on the node's own compose
 * address, one shared store, Redis behind a required password, no secret in the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterConfigFrom } from '../../server/cluster/clusterConfig';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const compose = readFileSync(join(REPO, 'docker', 'compose.cluster.yaml'), 'utf8');

/** The text of each top-level service under `services:` (two-space indented names). */
function services(text: string): Map<string, string> {
  const body = text.slice(text.indexOf('\nservices:\n') + '\nservices:\n'.length).split(/\n(?=\S)/)[0]!;
  const out = new Map<string, string>();
  for (const block of body.split(/\n(?= {2}[a-z0-9-]+:\n)/)) {
    const name = /^ {2}([a-z0-9-]+):/.exec(block)?.[1];
    if (name) out.set(name, block);
  }
  return out;
}

const value = (block: string, key: string) => new RegExp(`^\\s+${key}:\\s*(.+?)\\s*$`, 'm').exec(block)?.[1];

test('the cluster compose runs Redis, two SFU nodes, a render node and a trainer node, every node on the shared store and Redis', () => {
  const all = services(compose);
  assert.deepEqual([...all.keys()], ['redis', 'sfu-1', 'sfu-2', 'render', 'trainer']);
  // Every node takes the shared anchors: the volume, the secret, the Redis URL.
  for (const name of ['sfu-1', 'sfu-2', 'render', 'trainer']) {
    const block = all.get(name)!;
    assert.match(block, /^\s+<<: \*node$/m, `${name} is a node`);
    assert.match(block, /^\s+<<: \*node-env$/m, `${name} has the nodes' environment`);
    const roles = value(block, 'VOXFACE_ROLES')!;
    // The roles parse as the server parses them, and a node short of all roles has Redis.
    assert.doesNotThrow(() => clusterConfigFrom({ VOXFACE_ROLES: roles, VOXFACE_REDIS_URL: 'redis://:x@redis:6379', VOXFACE_NODE_NAME: value(block, 'VOXFACE_NODE_NAME') }));
  }
  assert.match(compose, /^x-node: &node\n[\s\S]*?^\s+- voxface-data:\/data$/m);
  assert.match(compose, /^\s+VOXFACE_REDIS_URL: redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379$/m);
  assert.match(all.get('redis')!, /"--requirepass", "\$\{REDIS_PASSWORD:\?/);
  assert.match(all.get('redis')!, /"--maxmemory-policy", "noeviction"/, 'BullMQ needs noeviction');
  assert.match(compose, /^\s+VOXFACE_SECRET_FILE: \/run\/secrets\/voxface_secret$/m);
  assert.ok(!/VOXFACE_SECRET\s*[:=]\s*[^/\s]/.test(compose.replace(/VOXFACE_SECRET_FILE: \/run/g, '')), 'a literal secret in compose');
  assert.equal(value(all.get('trainer')!, 'VOXFACE_ROLES'), 'trainer');
  assert.ok(!/ports:/.test(all.get('trainer')!), 'a trainer node serves nothing');
  const render = all.get('render')!;
  assert.equal(value(render, 'VOXFACE_ROLES'), 'render');
  assert.ok(!/ports:/.test(render), 'a render node publishes nothing: its media goes through pipes on the compose network');
  assert.equal(value(render, 'VOXFACE_PIPE_ANNOUNCED_IP'), value(render, 'ipv4_address'), 'the render node announces pipes where it is');
});

test('each SFU node has its own node name, RTP range and host ports, and announces pipes on its own compose address', () => {
  const all = services(compose);
  const nodes = ['sfu-1', 'sfu-2'].map((name) => {
    const block = all.get(name)!;
    const min = Number(value(block, 'VOXFACE_RTC_MIN_PORT')), max = Number(value(block, 'VOXFACE_RTC_MAX_PORT'));
    assert.ok(Number.isInteger(min) && Number.isInteger(max) && max > min, `${name}'s RTP range`);
    assert.match(block, new RegExp(`^\\s+- "${min}-${max}:${min}-${max}/udp"$`, 'm'), `${name} publishes its own range`);
    assert.equal(value(block, 'VOXFACE_PIPE_ANNOUNCED_IP'), value(block, 'ipv4_address'), `${name} announces pipes where it is`);
    assert.match(block, /VOXFACE_RTC_ANNOUNCED_IP: \$\{VOXFACE_RTC_ANNOUNCED_IP:\?/, `${name} requires the announced IP`);
    const http = /^\s+- "(\d+):3000\/tcp"$/m.exec(block)?.[1];
    assert.ok(http, `${name} publishes its HTTP port`);
    return { name: value(block, 'VOXFACE_NODE_NAME'), min, max, http };
  });
  const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
  assert.notEqual(a.name, b.name);
  assert.notEqual(a.http, b.http);
  assert.ok(a.max < b.min || b.max < a.min, `overlapping RTP ranges ${a.min}-${a.max} and ${b.min}-${b.max}`);
});
