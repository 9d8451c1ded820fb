/**
 * Avatar peers without a browser, against a real server: a peer joins over real
 * socket.io signaling (its notifications kept), a DirectTransport data producer
 * stands in for its browser's coefficient channel, RTP of a producer is counted on
 * a real UDP socket through a PlainTransport consumer, and render processes are
 * counted from /proc (children of this process running the render entry).
 */
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { io, type Socket } from 'socket.io-client';
import type { types } from 'mediasoup';
import { BLENDSHAPE_COUNT } from '../../shared/coefficients/blendshapes';
import { encodeCoefficientFrame } from '../../shared/coefficients/CoefficientPacket';
import type { NotificationMap, RequestMethod, SignalingReply } from '../../shared/signaling/messages';
import type { VoxfaceServer } from '../../server/VoxfaceServer';

export interface SignalingPeer {
  peerId: string;
  roomId: string;
  notifications: { method: keyof NotificationMap; data: any }[];
  request(method: RequestMethod, data?: unknown): Promise<SignalingReply<any>>;
  /** Resolves with the first notification of `method` (rejects after `ms`). */
  next<M extends keyof NotificationMap>(method: M, ms?: number): Promise<NotificationMap[M]>;
  close(): void;
}

export async function joinOverSignaling(server: VoxfaceServer, roomId: string, peerId: string): Promise<SignalingPeer> {
  const socket: Socket = io(server.url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const notifications: SignalingPeer['notifications'] = [];
  socket.on('notification', (message: SignalingPeer['notifications'][number]) => notifications.push(message));
  const request = (method: RequestMethod, data: unknown = {}) => socket.timeout(20_000).emitWithAck('request', { method, data }) as Promise<SignalingReply<any>>;
  const joined = await request('join', { token: server.tokens.mintCall(roomId, peerId, { peer: peerId }), room: roomId, displayName: peerId });
  if (!joined.ok) throw new Error(`join failed: ${JSON.stringify(joined)}`);
  return {
    peerId, roomId, notifications, request,
    next: async (method, ms = 10_000) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = notifications.find((n) => n.method === method);
        if (found) return found.data;
        if (Date.now() > deadline) throw new Error(`no ${method} notification within ${ms} ms: ${JSON.stringify(notifications.map((n) => n.method))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => socket.close(),
  };
}

/** Opens a coefficient stream for a joined peer (a face at 30 Hz); returns its stop. */
export async function feedCoefficients(server: VoxfaceServer, roomId: string, peerId: string): Promise<() => void> {
  const room = server.rooms.rooms.get(roomId)!;
  const peer = room.peers.get(peerId)!;
  const transport = await room.router.createDirectTransport();
  const producer = await transport.produceData({ appData: { source: 'coefficients', peerId } });
  peer.dataProducers.set(producer.id, producer);
  const opened = server.coefficients.waitFor('streamOpened', 5000, (s) => s.peerId === peerId && s.roomId === roomId);
  room.announceDataProducer(peer, producer);
  await opened;
  let sequence = 0;
  const send = () => {
    if (producer.closed) return;
    const t = sequence / 30;
    producer.send(Buffer.from(encodeCoefficientFrame({
      sequence: ++sequence, captureTimeMs: Date.now(), facePresent: true, keepAlive: false, confidence: 1,
      blendshapes: new Float32Array(BLENDSHAPE_COUNT).fill(0.3 + 0.3 * Math.sin(t)), rotation: [0, 0, 0, 1], translationCm: [0, 0, -40],
    })));
  };
  send();
  const timer = setInterval(send, 33);
  return () => {
    clearInterval(timer);
    transport.close();
  };
}

/** Counts the RTP packets of `producer` that reach a UDP socket of this process. */
export async function countRtp(server: VoxfaceServer, roomId: string, producer: types.Producer): Promise<{ packets: () => number; close: () => void }> {
  const room = server.rooms.rooms.get(roomId)!;
  const socket = createSocket('udp4');
  let packets = 0;
  socket.on('message', () => { packets += 1; });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const transport = await room.router.createPlainTransport({ listenIp: { ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
  await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
  await transport.consume({ producerId: producer.id, rtpCapabilities: room.router.rtpCapabilities });
  return { packets: () => packets, close: () => { transport.close(); socket.close(); } };
}

/** Pids of this process's children that run an avatar render process. */
export function renderProcessPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('renderProcessEntry')) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Polls `read` until `ok` holds; after `ms`, throws naming `what` (a function: read when it fails) and the last value. */
export async function waitUntil<T>(read: () => T, ok: (value: T) => boolean, ms: number, what: string | (() => string)): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${typeof what === 'function' ? what() : what}: still ${JSON.stringify(value)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
