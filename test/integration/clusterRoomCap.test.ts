/**
 * The per-room cap (VOXFACE_MAX_PEERS_PER_ROOM) across SFU nodes: two node processes on a
 * real redis-server, each allowing 2 peers a room, refuse a third peer of a room whichever
 * node it joins through, and admit one again once a place is free; peers left in the
 * directory by a node that is gone (crashed, restarted under a new name) do not count.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { signalingJoinMs, startSfuNode, type SfuNode } from '../helpers/clusterNodes';
import { pollUntil } from '../helpers/pageProbes';
import { startTestRedis, type TestRedis } from '../helpers/redisServer';

let redis: TestRedis;
const nodes: SfuNode[] = [];

before(async () => {
  redis = await startTestRedis();
  nodes.push(...await Promise.all([
    startSfuNode('cap-1', redis.url, 46000, { VOXFACE_MAX_PEERS_PER_ROOM: '2' }),
    startSfuNode('cap-2', redis.url, 46200, { VOXFACE_MAX_PEERS_PER_ROOM: '2' }),
  ]));
});

after(async () => {
  for (const node of nodes) node.dispose();
  await redis?.close();
});

/** The join's refusal as the server words it, or 'joined'. */
async function tryJoin(node: SfuNode, room: string): Promise<{ outcome: string; close: () => void }> {
  try {
    const joined = await signalingJoinMs(node, room);
    return { outcome: 'joined', close: joined.close };
  } catch (error) {
    return { outcome: error instanceof Error ? error.message : String(error), close: () => undefined };
  }
}

test('a room full across two nodes refuses a third peer on either node, and admits one once a peer leaves', async () => {
  const [one, two] = nodes as [SfuNode, SfuNode];
  // Two peers of a node that crashed and came back under another name: nobody is left to forget them.
  const raw = new Redis(redis.url);
  for (const id of ['ghost1', 'ghost2']) {
    await raw.hset('voxface:sfu:room:capped:peers', id, JSON.stringify({ node: 'crashed-node', peer: { id, displayName: 'Ghost', producers: [] } }));
  }
  raw.disconnect();
  const first = await tryJoin(one, 'capped');
  const second = await tryJoin(two, 'capped');
  assert.deepEqual([first.outcome, second.outcome], ['joined', 'joined'], 'two peers, one on each node');
  for (const node of [one, two]) {
    const third = await tryJoin(node, 'capped');
    third.close();
    assert.match(third.outcome, /"code":"room-full".*room capped holds at most 2 peers \(VOXFACE_MAX_PEERS_PER_ROOM\)/, `refused through ${node.name}`);
  }
  const elsewhere = await tryJoin(two, 'other-room');
  elsewhere.close();
  assert.equal(elsewhere.outcome, 'joined', 'another room is not affected');

  // Node one's peer leaves: its place is free on the next join through node two.
  first.close();
  const again = await pollUntil(async () => {
    const attempt = await tryJoin(two, 'capped');
    if (attempt.outcome !== 'joined') attempt.close();
    return attempt;
  }, (attempt) => attempt.outcome === 'joined', 10_000);
  assert.equal(again.outcome, 'joined', `a place freed on node one is taken through node two: ${again.outcome}`);
  again.close();
  second.close();
});
