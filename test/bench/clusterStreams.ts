/**
 * bench:cluster's camera part: what a camera stream piped to another SFU node costs each
 * side, and the latency the pipe adds (issue 15). Two SFU nodes in this process (each its
 * own mediasoup worker, RoomManager and SfuCluster, as test/integration/clusterPipes.test.ts
 * starts them) on the bench's Redis. STREAMS cameras, each a real VP8 640x480 video and
 * Opus audio encoded once from a shared clip and replayed by ffmpeg (`-c copy`, at real
 * time) over SRTP into a plain transport of node one, as a browser's camera arrives
 * encrypted. Receivers are SRTP plain transports sending to a UDP sink in this process.
 * Phases of WINDOW_MS, CPU of each node's mediasoup worker (the only process on the media
 * path; Node handles no packet) from /proc:
 *   idle:     no stream;
 *   ingress:  the cameras produced on node one, nobody receiving;
 *   local:    each received on node one (the baseline: a receiver on the producer's node);
 *   piped:    each received on node two instead, through the pipe (cluster.pipes).
 * A WebRtcTransport also runs ICE, DTLS and transport-wide congestion control feedback
 * beside the SRTP measured here, so the per-peer figures are a floor.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { types } from 'mediasoup';
import { SfuCluster } from '../../server/cluster/sfu/SfuCluster';
import { WorkerPool } from '../../server/media/WorkerPool';
import type { Room } from '../../server/rooms/Room';
import { RoomManager } from '../../server/rooms/RoomManager';
import { arrivals, delaysSince, directConsumer, directProducer, sendNumbered } from '../helpers/directRtp';
import { recordingNotify } from '../helpers/mediasoupFixtures';
import { SHARED_DATA } from '../helpers/sharedData';
import { percentile, progress, round } from './benchUtil';
import { coresOver, cpuSeconds } from './procCpu';

const STREAMS = Number(process.env.STREAMS ?? 6);
const WINDOW_MS = Number(process.env.STREAM_WINDOW_MS ?? 8000);
const CAMERA_KBPS = 1000, CAMERA_FPS = 30;
const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';
const VP8_PT = 101, OPUS_PT = 100;

interface BenchNode { name: string; pool: WorkerPool; rooms: RoomManager; cluster: SfuCluster }

export interface PipedStreamFigures {
  pipeSrtp: boolean;
  streams: number;
  windowSeconds: number;
  /** What one camera (video + audio) carried, from its producers' stats, and its video's frame rate. */
  cameraKbps: number;
  cameraFps: number;
  /** Worker cores per camera: receiving it (SRTP in), and forwarding it to a receiver on the same node (SRTP out). */
  ingressCoresPerCamera: number;
  localReceiverCoresPerCamera: number;
  /** Through the pipe: the producer's node sending it into the pipe; the other node taking it from the pipe and forwarding it to its receiver. */
  pipeSendCoresPerCamera: number;
  pipeReceiveAndForwardCoresPerCamera: number;
  /** What the pipe adds over a local receiver, both nodes together: send + (receive and forward - forward). */
  pipeExtraCoresPerCamera: number;
  /** Numbered packets 20 ms apart: one router against the pipe to the other node's router. */
  latencyMsOneRouterP50: number;
  latencyMsPipedP50: number;
  latencyMsAddedP50: number;
  latencyMsAddedP95: number;
}

/** The camera every stream replays: VP8 640x480 at CAMERA_FPS and ~CAMERA_KBPS, Opus 48 kHz stereo, 12 s. */
async function cameraClip(): Promise<string> {
  const dir = join(tmpdir(), 'voxface-bench-camera');
  const file = join(dir, `camera-${CAMERA_KBPS}k.webm`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  const clip = join(SHARED_DATA, 'videos', 'woman-expressions_liveportrait-d6.mp4');
  const partial = `${file}.partial.webm`;
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-t', '12', '-i', clip,
    '-vf', 'scale=-2:480,pad=640:480:(ow-iw)/2:0', '-r', String(CAMERA_FPS), '-c:v', 'libvpx', '-b:v', `${CAMERA_KBPS}k`,
    '-deadline', 'realtime', '-cpu-used', '8', '-g', '60', '-c:a', 'libopus', '-b:a', '32k', '-ar', '48000', '-ac', '2', partial]);
  await run('mv', [partial, file]);
  return file;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr.slice(-500)}`))));
  });
}

async function startNode(name: string, redisUrl: string, rtcMinPort: number, pipeSrtp: boolean): Promise<BenchNode> {
  const pool = await WorkerPool.create({ numWorkers: 1, rtcMinPort, rtcMaxPort: rtcMinPort + 99, logLevel: 'error' });
  const rooms = new RoomManager(pool);
  const cluster = new SfuCluster({
    redisUrl, nodeName: name, roles: new Set(['sfu']), rooms,
    config: { pipeListenIp: '127.0.0.1', pipeAnnouncedIp: '127.0.0.1', pipeSrtp, nodeTtlMs: 3000 },
  });
  try {
    await cluster.start(`http://${name}.bench:3000`);
  } catch (error) {
    await stopNode({ name, pool, rooms, cluster });
    throw error;
  }
  return { name, pool, rooms, cluster };
}

async function stopNode(node: BenchNode): Promise<void> {
  try {
    node.rooms.close();
    await node.cluster.close();
  } finally {
    node.pool.close();
  }
}

const srtpKey = () => randomBytes(30).toString('base64');

/** One camera produced on `room` (owned by a peer of its own), fed by ffmpeg over SRTP. */
async function produceCamera(room: Room, index: number, clip: string): Promise<{ producers: types.Producer[]; ffmpeg: ChildProcess }> {
  const peer = room.join(`camera${index}`, `Camera ${index}`, recordingNotify().notify);
  const outputs: string[] = [];
  const producers: types.Producer[] = [];
  for (const kind of ['video', 'audio'] as const) {
    const key = srtpKey();
    // RTCP on its own port: ffmpeg sends RTP and RTCP from two sockets, and comedia would lock onto whichever came first.
    const transport = await room.router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: false, comedia: true, enableSrtp: true, srtpCryptoSuite: SRTP_SUITE });
    await transport.connect({ srtpParameters: { cryptoSuite: SRTP_SUITE, keyBase64: key } });
    const ssrc = 10_000_000 + index * 2 + (kind === 'audio' ? 1 : 0);
    const producer = await transport.produce(kind === 'video'
      ? { kind, rtpParameters: { codecs: [{ mimeType: 'video/VP8', payloadType: VP8_PT, clockRate: 90000 }], encodings: [{ ssrc }] } }
      : { kind, rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] } });
    peer.adoptProducer(producer);
    room.announceProducer(peer, producer);
    producers.push(producer);
    const port = transport.tuple.localPort, rtcpPort = transport.rtcpTuple!.localPort;
    outputs.push('-map', kind === 'video' ? '0:v:0' : '0:a:0', '-c', 'copy', '-f', 'rtp', '-ssrc', String(ssrc),
      '-payload_type', String(kind === 'video' ? VP8_PT : OPUS_PT), '-srtp_out_suite', SRTP_SUITE, '-srtp_out_params', key,
      `srtp://127.0.0.1:${port}?rtcpport=${rtcpPort}&pkt_size=1200`);
  }
  const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', clip, ...outputs], { stdio: 'ignore' });
  return { producers, ffmpeg };
}

/** A receiver of `producerId` on `room`: an SRTP plain transport sending to `sink`. */
async function receive(room: Room, producerId: string, sink: number): Promise<types.Consumer> {
  const transport = await room.router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: SRTP_SUITE });
  await transport.connect({ ip: '127.0.0.1', port: sink, srtpParameters: { cryptoSuite: SRTP_SUITE, keyBase64: srtpKey() } });
  const consumer = await transport.consume({ producerId, rtpCapabilities: room.router.rtpCapabilities });
  consumer.observer.once('close', () => transport.close());
  return consumer;
}

async function bytesProduced(producers: types.Producer[]): Promise<number> {
  let bytes = 0;
  for (const producer of producers) for (const s of await producer.getStats()) bytes += s.byteCount;
  return bytes;
}

/** The delays of numbered packets sent 20 ms apart, at a consumer on the producer's router and at one through the pipe. */
async function pipeLatency(one: BenchNode, two: BenchNode): Promise<{ local: number[]; piped: number[] }> {
  const { room: roomOne, peer } = await one.rooms.join('latency', 'sender', 'Sender', recordingNotify().notify);
  const { room: roomTwo } = await two.rooms.join('latency', 'listener', 'Listener', recordingNotify().notify);
  const producer = await directProducer(roomOne, peer);
  const seenLocal = arrivals(await directConsumer(roomOne, producer.id));
  const seenPiped = arrivals(await two.cluster.pipes.consumeRemote(roomTwo, producer.id, one.name, (piped) => directConsumer(roomTwo, piped.id)));
  const sentAt = await sendNumbered(producer, 300, 20);
  await new Promise((done) => setTimeout(done, 200));
  if (seenPiped.size < 290) throw new Error(`only ${seenPiped.size} of 300 numbered packets crossed the pipe`);
  return { local: delaysSince(sentAt, seenLocal), piped: delaysSince(sentAt, seenPiped) };
}

export async function benchPipedStreams(redisUrl: string, pipeSrtp: boolean, rtcMinPort: number): Promise<PipedStreamFigures> {
  const clip = await cameraClip();
  const nodes: BenchNode[] = [];
  const ffmpegs: ChildProcess[] = [];
  let sink: Socket | undefined;
  try {
    progress(`bench:cluster: ${STREAMS} cameras piped between two SFU nodes (pipe SRTP ${pipeSrtp ? 'on' : 'off'})`);
    const one = await startNode(`streams-one${pipeSrtp ? '-srtp' : ''}`, redisUrl, rtcMinPort, pipeSrtp);
    nodes.push(one);
    const two = await startNode(`streams-two${pipeSrtp ? '-srtp' : ''}`, redisUrl, rtcMinPort + 100, pipeSrtp);
    nodes.push(two);
    const workerOne = one.pool.workers[0]!.pid, workerTwo = two.pool.workers[0]!.pid;
    const udp = createSocket('udp4');
    sink = udp;
    let sunk = 0;
    udp.on('message', () => { sunk += 1; });
    await new Promise<void>((done) => udp.bind(0, '127.0.0.1', done));
    const sinkPort = udp.address().port;
    const measure = () => Promise.all([coresOver(() => cpuSeconds(workerOne), WINDOW_MS), coresOver(() => cpuSeconds(workerTwo), WINDOW_MS)]);

    const [idleOne, idleTwo] = await measure();
    const { room: roomOne } = await one.rooms.join('cameras', 'host', 'Host', recordingNotify().notify);
    const { room: roomTwo } = await two.rooms.join('cameras', 'guest', 'Guest', recordingNotify().notify);
    const producers: types.Producer[] = [];
    for (let i = 0; i < STREAMS; i += 1) {
      const camera = await produceCamera(roomOne, i, clip);
      producers.push(...camera.producers);
      ffmpegs.push(camera.ffmpeg);
    }
    await new Promise((done) => setTimeout(done, 2000));
    const bytesBefore = await bytesProduced(producers);
    const bytesStarted = performance.now();
    const [ingressOne] = await measure();
    const cameraKbps = ((await bytesProduced(producers) - bytesBefore) * 8) / (performance.now() - bytesStarted) / STREAMS;
    if (cameraKbps < CAMERA_KBPS / 4) throw new Error(`the cameras carried ${round(cameraKbps)} kbps each: ffmpeg's SRTP is not reaching node one`);

    const local = await Promise.all(producers.map((p) => receive(roomOne, p.id, sinkPort)));
    await new Promise((done) => setTimeout(done, 2000));
    sunk = 0;
    const [localOne] = await measure();
    if (sunk === 0) throw new Error('no packet reached the sink from the local receivers');
    for (const consumer of local) consumer.close();

    const piped = await Promise.all(producers.map((p) => two.cluster.pipes.consumeRemote(roomTwo, p.id, one.name, (pp) => receive(roomTwo, pp.id, sinkPort))));
    await new Promise((done) => setTimeout(done, 2000));
    sunk = 0;
    const [pipedOne, pipedTwo] = await measure();
    if (sunk === 0) throw new Error('no packet reached the sink through the pipe');
    for (const consumer of piped) consumer.close();
    for (const ffmpeg of ffmpegs) ffmpeg.kill('SIGKILL');

    progress('bench:cluster: the latency the pipe adds (numbered packets, 20 ms apart)');
    const latency = await pipeLatency(one, two);
    const perCamera = (value: number) => round(value / STREAMS, 4);
    const localReceiver = localOne - ingressOne;
    const pipeSend = pipedOne - ingressOne;
    const pipeReceive = pipedTwo - idleTwo;
    const localP50 = percentile(latency.local, 50), pipedP50 = percentile(latency.piped, 50);
    return {
      pipeSrtp,
      streams: STREAMS,
      windowSeconds: WINDOW_MS / 1000,
      cameraKbps: round(cameraKbps),
      cameraFps: CAMERA_FPS,
      ingressCoresPerCamera: perCamera(ingressOne - idleOne),
      localReceiverCoresPerCamera: perCamera(localReceiver),
      pipeSendCoresPerCamera: perCamera(pipeSend),
      pipeReceiveAndForwardCoresPerCamera: perCamera(pipeReceive),
      pipeExtraCoresPerCamera: perCamera(pipeSend + pipeReceive - localReceiver),
      latencyMsOneRouterP50: round(localP50, 2),
      latencyMsPipedP50: round(pipedP50, 2),
      latencyMsAddedP50: round(pipedP50 - localP50, 2),
      latencyMsAddedP95: round(percentile(latency.piped, 95) - percentile(latency.local, 95), 2),
    };
  } finally {
    for (const ffmpeg of ffmpegs) ffmpeg.kill('SIGKILL');
    sink?.close();
    for (const node of nodes) await stopNode(node).catch((error: unknown) => progress(`bench:cluster: node ${node.name} did not close cleanly: ${String(error)}`));
  }
}
