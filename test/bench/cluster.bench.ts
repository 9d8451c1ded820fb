/**
 * `npm run bench:cluster`: what a second SFU node costs a join (issue 15). A real
 * redis-server and two SFU node processes (test/helpers/clusterNodes.ts); ROUNDS rooms,
 * each first joined on node 1, then joined again on node 1 (the baseline: a join within
 * one node) and on node 2 (a join into a room hosted on another node), over signaling
 * only (socket.io join round trips; browsers add their own seconds, see
 * test/e2e/clusterRoom.test.ts). Redis commands per join and per placement are counted
 * from Redis's own `total_commands_processed`, less the nodes' heartbeats over the same
 * time (measured idle first) and this command's own INFO calls.
 * Then (unless CAMERAS=0) camera streams piped between two SFU nodes, with the pipe's
 * SRTP off (the default) and on: the CPU each side spends per piped camera against a
 * receiver on the producer's own node, and the latency the pipe adds (clusterStreams.ts);
 * and (unless AVATAR=0) an avatar rendered on a render node process: CPU per side, the
 * coefficients' extra hop, the fallback when the render node is killed (clusterAvatar.ts).
 * The capacity model follows from those per-stream costs (peersPerWorkerCore below).
 */
import { Redis } from 'ioredis';
import { clusterCallToken, signalingJoinMs, startSfuNode, type SfuNode } from '../helpers/clusterNodes';
import { startTestRedis } from '../helpers/redisServer';
import { percentile, printResult, progress, round, runBench } from './benchUtil';
import { benchPipedAvatar, type PipedAvatarFigures } from './clusterAvatar';
import { benchPipedStreams, type PipedStreamFigures } from './clusterStreams';

const ROUNDS = Number(process.env.ROUNDS ?? 15);

async function commandsProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  const match = /total_commands_processed:(\d+)/.exec(info);
  if (!match) throw new Error('Redis INFO stats has no total_commands_processed');
  return Number(match[1]);
}

/** Commands Redis processed during `work`, less the background rate over its duration and the two INFO calls. */
async function commandsDuring(redis: Redis, backgroundPerMs: number, work: () => Promise<unknown>): Promise<number> {
  const before = await commandsProcessed(redis);
  const started = performance.now();
  await work();
  const elapsed = performance.now() - started;
  const after = await commandsProcessed(redis);
  return after - before - 1 - backgroundPerMs * elapsed;
}

/**
 * Peers one mediasoup worker (one core) holds, each sending one camera and receiving
 * everyone else's, from the per-camera costs measured with the pipe's default settings:
 * a room of `size` on one node costs each peer its ingress and (size - 1) receivers; a
 * room split evenly over two nodes adds, per peer, the pipe's extra for its camera on each
 * side once (a producer is piped once per node, however many receive it there).
 */
function peerCapacity(c: PipedStreamFigures): Record<string, number> {
  const perPeer = (size: number, split: boolean) => c.ingressCoresPerCamera + (size - 1) * c.localReceiverCoresPerCamera + (split ? c.pipeExtraCoresPerCamera : 0);
  const capacity: Record<string, number> = {};
  for (const size of [2, 4, 8]) {
    capacity[`roomsOf${size}OneNode`] = Math.floor(1 / perPeer(size, false));
    capacity[`roomsOf${size}SplitOverTwoNodes`] = Math.floor(1 / perPeer(size, true));
  }
  return capacity;
}

async function main(): Promise<void> {
  const redisServer = await startTestRedis();
  const redis = new Redis(redisServer.url);
  const nodes: SfuNode[] = [];
  try {
    progress('bench:cluster: starting two SFU nodes');
    nodes.push(...await Promise.all([startSfuNode('bench-1', redisServer.url, 44000), startSfuNode('bench-2', redisServer.url, 44200)]));
    const [node1, node2] = nodes as [SfuNode, SfuNode];
    // Heartbeats and directory upkeep with nothing happening: the background to subtract.
    const idleMs = 6000;
    const idleBefore = await commandsProcessed(redis);
    await new Promise((done) => setTimeout(done, idleMs));
    const backgroundPerMs = (await commandsProcessed(redis) - idleBefore - 1) / idleMs;

    const within: number[] = [], across: number[] = [], opsWithin: number[] = [], opsAcross: number[] = [], opsPlace: number[] = [];
    const open: Array<() => void> = [];
    for (let i = 0; i < ROUNDS; i++) {
      const room = `bench${i}`;
      const host = await signalingJoinMs(node1, room);
      open.push(host.close);
      let local!: Awaited<ReturnType<typeof signalingJoinMs>>, remote!: Awaited<ReturnType<typeof signalingJoinMs>>;
      opsWithin.push(await commandsDuring(redis, backgroundPerMs, async () => { local = await signalingJoinMs(node1, room); }));
      opsAcross.push(await commandsDuring(redis, backgroundPerMs, async () => { remote = await signalingJoinMs(node2, room); }));
      if (remote.peers !== 2) throw new Error(`the join through node 2 listed ${remote.peers} peers, expected node 1's 2`);
      open.push(local.close, remote.close);
      within.push(local.ms);
      across.push(remote.ms);
      const token = await clusterCallToken(node2, room);
      opsPlace.push(await commandsDuring(redis, backgroundPerMs, async () => {
        const res = await fetch(`${node2.url}/api/cluster/place?room=${room}`, { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok) throw new Error(`placement answered ${res.status}`);
      }));
      progress(`bench:cluster: round ${i + 1}/${ROUNDS}: join within one node ${round(local.ms)} ms, across nodes ${round(remote.ms)} ms`);
    }
    for (const close of open) close();
    for (const node of nodes) node.dispose();
    const cameras: PipedStreamFigures[] = [];
    if (process.env.CAMERAS !== '0') for (const pipeSrtp of [false, true]) cameras.push(await benchPipedStreams(redisServer.url, pipeSrtp, pipeSrtp ? 45200 : 45000));
    const avatar: PipedAvatarFigures | undefined = process.env.AVATAR === '0' ? undefined : await benchPipedAvatar(redisServer.url);
    const p50 = (values: number[]) => percentile(values, 50);
    const withinP50 = p50(within), acrossP50 = p50(across);
    const redisPerJoinAcross = p50(opsAcross);
    printResult({
      bench: 'cluster',
      rounds: ROUNDS,
      joinMsWithinNodeP50: round(withinP50),
      joinMsAcrossNodesP50: round(acrossP50),
      joinMsAcrossNodesP95: round(percentile(across, 95)),
      // The baseline is the join within one node, measured in the same run.
      acrossVsWithinRatio: round(acrossP50 / withinP50, 2),
      redisCommandsPerJoinWithinNode: round(p50(opsWithin)),
      redisCommandsPerJoinAcrossNodes: round(redisPerJoinAcross),
      redisCommandsPerPlacement: round(p50(opsPlace)),
      redisBackgroundCommandsPerSecond: round(backgroundPerMs * 1000),
      // Capacity model, Redis side: a single Redis serves on the order of 100k simple
      // commands a second, so joins are bounded there by ~100k / commands per join.
      joinsPerSecondPerRedisAt100kOps: Math.floor(100_000 / Math.max(1, redisPerJoinAcross)),
      ...(cameras.length ? { cameras, peersPerWorkerCore: peerCapacity(cameras[0]!) } : {}),
      ...(avatar ? { avatar } : {}),
    });
  } finally {
    for (const node of nodes) node.dispose();
    redis.disconnect();
    await redisServer.close();
  }
}

runBench(main);
