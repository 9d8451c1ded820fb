/**
 * A server with every role and VOXFACE_REDIS_URL (one node of a cluster that also
 * trains): its queue is the BullMQ one, and its own worker (no other node is
 * there) trains the job it enqueues. About 10 s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterTrainingQueue } from '../../server/cluster/training/ClusterTrainingQueue';
import { NODE_ROLES } from '../../server/cluster/clusterConfig';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';
import { writeSyntheticDataset } from '../helpers/syntheticDataset';
import { startTestServer } from '../helpers/testServer';

process.env.VOXFACE_QUIET ??= '1';
const root = mkdtempSync(join(tmpdir(), 'voxface-cluster-all-roles-'));
const avatarDir = join(root, 'avatars');
let redis: TestRedis;
let server: VoxfaceServer | undefined;

before(async () => {
  redis = await startTestRedis();
  writeSyntheticDataset(join(avatarDir, '.onboarding', 'datasets', 'av-solo'));
});

after(async () => {
  await server?.close();
  await redis?.close();
  rmSync(root, { recursive: true, force: true });
});

test('a server with every role and Redis enqueues on the BullMQ queue and trains the job itself', async () => {
  server = await startTestServer({ avatarDir, cluster: { roles: new Set(NODE_ROLES), redisUrl: redis.url, nodeName: 'solo' } });
  const queue = server.trainingQueue;
  assert.ok(queue instanceof ClusterTrainingQueue);
  const job = queue.enqueue({
    owner: 'erin', avatarId: 'av-solo', dataset: join(avatarDir, '.onboarding', 'datasets', 'av-solo'), options: { minutes: 0.05, res: 32, model: 'small' },
  });
  const { job: finished } = await queue.waitFor('finished', 60_000, (e) => e.job.id === job.id);
  assert.equal(finished.state, 'done', finished.error);
  assert.equal(server.avatarStore.ownerOf('av-solo'), 'erin');
  assert.deepEqual(server.onboarding.avatars('erin').map((a) => [a.id, a.ready, a.job?.state]), [['av-solo', true, 'done']]);
});
