/**
 * bench:cluster's avatar part: what an avatar rendered on a render node costs each side.
 * An SFU node runs in this process (so a DirectTransport data producer can stand in for
 * a browser's coefficient channel, test/helpers/avatarPeers.ts) with a render node
 * process beside it, both on the same Redis and avatar folder. One peer's avatar (the
 * test's synthetic one, at the server's 640x360 and 25 fps) is measured over WINDOW_MS:
 *   hosted: rendered on the render node (the SFU node pipes coefficients out, video in);
 *   local:  the render node SIGKILLed, the SFU node renders it itself (the fallback);
 *   none:   the avatar stopped, coefficients still flowing (the SFU node's baseline).
 * CPU is process time from /proc (user + system): the SFU side is this process (the
 * feeder included, alike in every phase) and its children (its mediasoup worker, its
 * render process and encoder when it renders itself), the render node's tree excluded;
 * the render side is the render node's process tree (Node, its worker, the render
 * process, ffmpeg).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { AvatarStore } from '../../server/avatar/AvatarStore';
import type { RenderNodeHealth } from '../../server/cluster/render/RenderNode';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { feedCoefficients, joinOverSignaling } from '../helpers/avatarPeers';
import { startRenderNode, type SfuNode } from '../helpers/clusterNodes';
import { syntheticAvatarFile } from '../helpers/syntheticAvatar';
import { startTestServer } from '../helpers/testServer';
import { progress, round } from './benchUtil';
import { coresOver, cpuSeconds } from './procCpu';

const WINDOW_MS = Number(process.env.AVATAR_WINDOW_MS ?? 8000);
async function renderHealth(node: SfuNode): Promise<RenderNodeHealth> {
  return ((await fetch(`${node.url}/health`).then((res) => res.json())) as { render: RenderNodeHealth }).render;
}

async function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface PipedAvatarFigures {
  windowSeconds: number;
  /** CPU cores (CPU seconds per second) of one avatar, per side and phase. */
  sfuCoresPerHostedAvatar: number;
  sfuCoresPerLocalAvatar: number;
  renderNodeCoresPerHostedAvatar: number;
  renderNodeRenderedFps: number;
  /** Median delay from capture to arrival of the coefficient packets: at the SFU node, at the render node (one pipe hop further). */
  coefficientDelayMsAtSfuP50: number;
  coefficientDelayMsAtRenderNodeP50: number;
  /** The same at the SFU node while it renders the avatar itself (its own event loop busy with the frames). */
  coefficientDelayMsAtSfuRenderingP50: number;
  pipedVideoKbps: number;
  /** Redis commands from enableAvatar to the piped producer (the bus's request, answer and notices), less the heartbeats' rate. */
  redisCommandsPerAvatarPlacement: number;
  /** SIGKILL of the render node to the avatar's video produced by the SFU node itself. */
  fallbackMs: number;
  /** Avatars one render node core holds at 25 fps: 1 / (cores per avatar scaled to 25 rendered fps). */
  avatarsPerRenderNodeCoreAt25Fps: number;
  cores: number;
}

export async function benchPipedAvatar(redisUrl: string): Promise<PipedAvatarFigures> {
  const avatarDir = mkdtempSync(join(tmpdir(), 'voxface-bench-render-'));
  copyFileSync(syntheticAvatarFile(), new AvatarStore(avatarDir).pathOf('synthetic'));
  let server: VoxfaceServer | undefined;
  let render: SfuNode | undefined;
  const info = new Redis(redisUrl);
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await info.info('stats'))?.[1] ?? NaN);
  try {
    progress('bench:cluster: starting a render node and an in-process SFU node for the avatar');
    render = await startRenderNode('bench-render', redisUrl, 44400, avatarDir);
    server = await startTestServer({
      avatarDir, rtcMinPort: 44600, rtcMaxPort: 44799,
      cluster: { roles: new Set(['sfu', 'render']), redisUrl, nodeName: 'bench-avatar-sfu' },
    });
    const sfu = server;
    await until(() => sfu.sfuCluster!.registry.alive().some((n) => n.name === 'bench-render'), Boolean, 10_000, 'the SFU node did not see the render node');
    const peer = await joinOverSignaling(sfu, 'benchavatar', 'ada');
    const stopFeed = await feedCoefficients(sfu, 'benchavatar', 'ada');
    const sfuDelays: number[] = [];
    sfu.coefficients.on('frame', ({ frame, receivedAtMs }) => { sfuDelays.push(receivedAtMs - frame.captureTimeMs); if (sfuDelays.length > 250) sfuDelays.shift(); });
    const renderPid = render.child.pid!;
    const sfuCpu = () => cpuSeconds(process.pid, true, [renderPid]);
    const measure = (read: () => number) => coresOver(read, WINDOW_MS);

    const idleCommands = await commands();
    const idleStarted = performance.now();
    const idleRender = await measure(() => cpuSeconds(renderPid, true));
    const backgroundPerMs = (await commands() - idleCommands - 1) / (performance.now() - idleStarted);
    const placingCommands = await commands();
    const placingStarted = performance.now();
    const enabled = await peer.request('enableAvatar', { avatarId: 'synthetic' });
    if (!enabled.ok) throw new Error(`enableAvatar failed: ${JSON.stringify(enabled)}`);
    const hosted = await until(() => sfu.renderPlacement!.sessionOf('benchavatar', 'ada'), (s) => s?.producer !== undefined, 20_000, 'the render node sent no avatar video');
    const placementCommands = await commands() - placingCommands - 1 - backgroundPerMs * (performance.now() - placingStarted);
    // Let the render process and encoder settle (first frames, the start-up keyframes).
    await new Promise((r) => setTimeout(r, 3000));
    progress('bench:cluster: avatar hosted on the render node: measuring');
    const statsBefore = (await hosted!.producer!.getStats()).reduce((sum, s) => sum + s.byteCount, 0);
    const videoStarted = performance.now();
    const [sfuHosted, renderHosted] = await Promise.all([measure(sfuCpu), measure(() => cpuSeconds(renderPid, true))]);
    const videoKbps = (((await hosted!.producer!.getStats()).reduce((sum, s) => sum + s.byteCount, 0) - statsBefore) * 8) / (performance.now() - videoStarted);
    const health = await renderHealth(render);
    const session = health.sessions.find((s) => s.peer === 'ada');
    if (!session) throw new Error(`the render node does not host ada's avatar: ${JSON.stringify(health)}`);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
    const sfuDelayP50 = median(sfuDelays);

    progress('bench:cluster: killing the render node: the SFU node renders the avatar itself');
    const killedAt = performance.now();
    render.kill();
    await until(() => sfu.avatars.sessions().find((s) => s.peer.id === 'ada'), (s) => s !== undefined, 15_000, 'the SFU node did not take the avatar back');
    const fallbackMs = performance.now() - killedAt;
    await new Promise((r) => setTimeout(r, 3000));
    sfuDelays.length = 0;
    const sfuLocal = await measure(sfuCpu);
    const sfuDelayLocalP50 = median(sfuDelays);
    await peer.request('disableAvatar');
    await new Promise((r) => setTimeout(r, 2000));
    const sfuNone = await measure(sfuCpu);
    stopFeed();
    peer.close();

    const renderCores = renderHosted - idleRender;
    // Scaled to 25 newly rendered frames a second (the render process is most of it; the encoder runs at 25 fps either way).
    const coresAt25 = renderCores * (25 / Math.max(1, session.renderedFps));
    return {
      windowSeconds: WINDOW_MS / 1000,
      sfuCoresPerHostedAvatar: round(sfuHosted - sfuNone, 3),
      sfuCoresPerLocalAvatar: round(sfuLocal - sfuNone, 3),
      renderNodeCoresPerHostedAvatar: round(renderCores, 3),
      renderNodeRenderedFps: session.renderedFps,
      coefficientDelayMsAtSfuP50: round(sfuDelayP50, 2),
      coefficientDelayMsAtRenderNodeP50: round(session.coefficientDelayMsP50 ?? NaN, 2),
      coefficientDelayMsAtSfuRenderingP50: round(sfuDelayLocalP50, 2),
      pipedVideoKbps: round(videoKbps),
      redisCommandsPerAvatarPlacement: round(placementCommands),
      fallbackMs: round(fallbackMs),
      avatarsPerRenderNodeCoreAt25Fps: round(1 / Math.max(0.001, coresAt25), 2),
      cores: cpus().length,
    };
  } finally {
    info.disconnect();
    await server?.close();
    render?.dispose();
    rmSync(avatarDir, { recursive: true, force: true });
  }
}
