/**
 * What the server does for each validated signaling request. Each handler gets the
 * connection's session (its room and peer, once joined) and returns the reply data
 * or throws a SignalingError.
 */
import type { types } from 'mediasoup';
import type {
  ConsumeReply, JoinReply, RequestData, RequestMethod, TransportReply,
} from '../../shared/signaling/messages';
import { randomBytes } from 'node:crypto';
import { verifyAccessToken } from '../auth/AccessToken';
import type { VoxfaceConfig } from '../config';
import type { Notify, Peer } from '../rooms/Peer';
import type { Room } from '../rooms/Room';
import type { RoomManager } from '../rooms/RoomManager';
import { SignalingError } from './SignalingError';
import type { AvatarService } from '../avatar/AvatarService';
import type { SfuCluster } from '../cluster/sfu/SfuCluster';
import { Logger } from '../Logger';

const logger = new Logger('requestHandlers');

export interface Session {
  room?: Room;
  peer?: Peer;
  readonly notify: Notify;
}

export interface HandlerContext {
  config: VoxfaceConfig;
  rooms: RoomManager;
  /** Absent when this server renders no avatars. */
  avatars?: AvatarService;
  /** Absent on a single-node server: the room's peers are all here. */
  cluster?: SfuCluster;
}

type Handler<M extends RequestMethod> = (ctx: HandlerContext, session: Session, data: RequestData<M>) => Promise<unknown>;

function joined(session: Session): { room: Room; peer: Peer } {
  const { room, peer } = session;
  if (!room || !peer || room.closed || peer.closed) throw new SignalingError('not-joined', 'join a room first');
  return { room, peer };
}

/**
 * The per-room cap counts the room's peers on every SFU node. Read before this join, so two
 * joins on two nodes at the same instant may both pass: the cap can be exceeded by the joins
 * in flight at once, never by more. Redis unreachable or slow (1 s; a read takes ~1 ms): the
 * join goes through on this node's own count.
 */
async function checkRoomCapAcrossNodes(ctx: HandlerContext, cluster: SfuCluster, roomId: string, peerId: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elsewhere = await Promise.race([
    cluster.peersElsewhere(roomId, peerId),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no answer from Redis within 1 s')), 1000); }),
  ]).finally(() => clearTimeout(timer)).catch((error: unknown) => {
    logger.warn(`room ${roomId}: peers on other nodes unknown (${error instanceof Error ? error.message : String(error)}); the room cap counts this node's only`);
    return 0;
  });
  const here = ctx.rooms.get(roomId)?.peers;
  ctx.rooms.capacity.check('peersPerRoom', elsewhere + (here ? here.size - (here.has(peerId) ? 1 : 0) : 0), roomId);
}

const join: Handler<'join'> = async (ctx, session, data): Promise<JoinReply> => {
  if (session.peer && !session.peer.closed) throw new SignalingError('already-joined', 'this connection has already joined a room');
  // Only a call token for this room and this server: an onboarding token joins nothing.
  const check = verifyAccessToken(ctx.config.tokenSecret, data.token, { audience: ctx.config.tokenAudience, scope: 'call', room: data.room });
  if (!check.ok) throw new SignalingError('unauthorized', `invalid token (${check.reason}): ${check.message}`);
  // The user is the token's; the peer id is the connection's unless the token fixes it.
  const peerId = check.claims.peer ?? randomBytes(6).toString('hex');
  if (ctx.cluster) await checkRoomCapAcrossNodes(ctx, ctx.cluster, data.room, peerId);
  const { room, peer } = await ctx.rooms.join(data.room, peerId, data.displayName, session.notify, check.claims.sub);
  session.room = room;
  session.peer = peer;
  // Peers of the room on other SFU nodes look like local ones (their producers are piped in on consume).
  const remote = ctx.cluster ? await ctx.cluster.remotePeerInfos(room, peer) : [];
  return { peerId: peer.id, room: room.id, routerRtpCapabilities: room.router.rtpCapabilities, peers: [...room.peerInfos(peer), ...remote] };
};

const createWebRtcTransport: Handler<'createWebRtcTransport'> = async (ctx, session, data): Promise<TransportReply> => {
  const { room, peer } = joined(session);
  const transport = await peer.createWebRtcTransport(
    room.router,
    { listenIp: ctx.config.rtcListenIp, announcedIp: ctx.config.rtcAnnouncedIp },
    data.direction,
    data.sctpCapabilities?.numStreams,
  );
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
    sctpParameters: transport.sctpParameters,
  };
};

const connectWebRtcTransport: Handler<'connectWebRtcTransport'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  const transport = peer.ownTransport(data.transportId, (id) => room.isOwnedByAnyone(id));
  await peer.connectTransport(transport, data.dtlsParameters as types.DtlsParameters);
  return {};
};

const produce: Handler<'produce'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  const transport = peer.ownTransport(data.transportId, (id) => room.isOwnedByAnyone(id));
  const producer = await peer.produce(transport, data.kind, data.rtpParameters as unknown as types.RtpParameters, data.appData ?? {});
  room.announceProducer(peer, producer);
  return { id: producer.id };
};

const produceData: Handler<'produceData'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  const transport = peer.ownTransport(data.transportId, (id) => room.isOwnedByAnyone(id));
  const dataProducer = await peer.produceData(transport, {
    sctpStreamParameters: data.sctpStreamParameters as types.SctpStreamParameters,
    label: data.label,
    protocol: data.protocol,
    appData: data.appData ?? {},
  });
  room.announceDataProducer(peer, dataProducer);
  return { id: dataProducer.id };
};

const consume: Handler<'consume'> = async (ctx, session, data): Promise<ConsumeReply> => {
  const { room, peer } = joined(session);
  const transport = peer.ownTransport(data.transportId, (id) => room.isOwnedByAnyone(id));
  const rtpCapabilities = data.rtpCapabilities as unknown as types.RtpCapabilities;
  const producer = room.findProducer(data.producerId);
  let consumer: types.Consumer;
  if (producer) consumer = await peer.consume(room.router, transport, producer, rtpCapabilities);
  else if (ctx.cluster?.ownerOf(room, data.producerId)) consumer = await ctx.cluster.consumeRemote(room, peer, transport, data.producerId, rtpCapabilities);
  else throw new SignalingError('not-found', `no producer ${data.producerId} in this room`);
  return { id: consumer.id, producerId: consumer.producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters, appData: { ...consumer.appData } };
};

const resumeConsumer: Handler<'resumeConsumer'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  await peer.ownConsumer(data.consumerId, (id) => room.isOwnedByAnyone(id)).resume();
  return {};
};

const closeProducer: Handler<'closeProducer'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  peer.ownProducer(data.producerId, (id) => room.isOwnedByAnyone(id)).close();
  return {};
};

const closeDataProducer: Handler<'closeDataProducer'> = async (_ctx, session, data) => {
  const { room, peer } = joined(session);
  peer.ownDataProducer(data.dataProducerId, (id) => room.isOwnedByAnyone(id)).close();
  return {};
};

const enableAvatar: Handler<'enableAvatar'> = async (ctx, session, data) => {
  const { room, peer } = joined(session);
  if (!ctx.avatars) throw new SignalingError('not-found', 'this server renders no avatars');
  await ctx.avatars.enable(room, peer, data.avatarId, data.background);
  return {};
};

const disableAvatar: Handler<'disableAvatar'> = async (ctx, session) => {
  const { room, peer } = joined(session);
  ctx.avatars?.disable(room, peer);
  return {};
};

const leave: Handler<'leave'> = async (ctx, session) => {
  const { room, peer } = joined(session);
  room.leave(peer);
  ctx.rooms.closeIfEmpty(room);
  session.room = undefined;
  session.peer = undefined;
  return {};
};

export const requestHandlers: { [M in RequestMethod]: Handler<M> } = {
  join,
  createWebRtcTransport,
  connectWebRtcTransport,
  produce,
  produceData,
  consume,
  resumeConsumer,
  closeProducer,
  closeDataProducer,
  enableAvatar,
  disableAvatar,
  leave,
};
