/**
 * The signaling protocol between the browser SDK and the server, as zod schemas.
 *
 * Transport: socket.io. The client emits `request` with `{ method, data }` and an
 * acknowledgement callback that receives a `SignalingReply`. The server emits
 * `notification` with `{ method, data }`. Every request is validated here before
 * the server acts on it; mediasoup validates RTP details further.
 */
import { z } from 'zod';
import { backgroundChoice } from './background';
import { ID_PATTERN, SIGNALING_LIMITS } from './limits';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ -');
/** mediasoup object ids are UUIDs. */
const objectId = z.string().uuid();
/** Opaque mediasoup structures: checked for being objects here, in depth by mediasoup. */
const looseObject = z.object({}).passthrough();
const appData = z.record(z.string().max(64), z.union([z.string().max(256), z.number(), z.boolean()]))
  .refine((value) => Object.keys(value).length <= 16, 'at most 16 appData keys');

export const joinRequest = z.object({
  token: z.string().min(1).max(SIGNALING_LIMITS.maxTokenLength),
  room: id,
  displayName: z.string().trim().min(1).max(SIGNALING_LIMITS.maxDisplayNameLength),
}).strict();

export const createWebRtcTransportRequest = z.object({
  direction: z.enum(['send', 'recv']),
  sctpCapabilities: z.object({
    numStreams: z.object({ OS: z.number().int().min(1).max(1024), MIS: z.number().int().min(1).max(1024) }),
  }).optional(),
}).strict();

export const connectWebRtcTransportRequest = z.object({
  transportId: objectId,
  dtlsParameters: z.object({
    role: z.enum(['auto', 'client', 'server']).optional(),
    fingerprints: z.array(z.object({ algorithm: z.string().max(32), value: z.string().max(256) })).min(1).max(8),
  }).strict(),
}).strict();

export const produceRequest = z.object({
  transportId: objectId,
  kind: z.enum(['audio', 'video']),
  rtpParameters: looseObject,
  appData: appData.optional(),
}).strict();

export const produceDataRequest = z.object({
  transportId: objectId,
  sctpStreamParameters: z.object({
    streamId: z.number().int().min(0).max(65534),
    ordered: z.boolean().optional(),
    maxPacketLifeTime: z.number().int().min(0).optional(),
    maxRetransmits: z.number().int().min(0).optional(),
  }).passthrough(),
  label: z.string().max(128).optional(),
  protocol: z.string().max(128).optional(),
  appData: appData.optional(),
}).strict();

export const consumeRequest = z.object({
  transportId: objectId,
  producerId: objectId,
  rtpCapabilities: looseObject,
}).strict();

export const consumerRequest = z.object({ consumerId: objectId }).strict();
export const producerRequest = z.object({ producerId: objectId }).strict();
export const dataProducerRequest = z.object({ dataProducerId: objectId }).strict();
export const emptyRequest = z.object({}).strict();
/** background: what the avatar's video shows behind the person (shared/signaling/background.ts; blur unless set). */
export const enableAvatarRequest = z.object({ avatarId: id, background: backgroundChoice.optional() }).strict();

/** Every method the server answers, with the schema of its `data`. */
export const requestSchemas = {
  join: joinRequest,
  createWebRtcTransport: createWebRtcTransportRequest,
  connectWebRtcTransport: connectWebRtcTransportRequest,
  produce: produceRequest,
  produceData: produceDataRequest,
  consume: consumeRequest,
  resumeConsumer: consumerRequest,
  closeProducer: producerRequest,
  closeDataProducer: dataProducerRequest,
  enableAvatar: enableAvatarRequest,
  disableAvatar: emptyRequest,
  leave: emptyRequest,
} as const;

export type RequestMethod = keyof typeof requestSchemas;
export type RequestData<M extends RequestMethod> = z.infer<(typeof requestSchemas)[M]>;

export const requestEnvelope = z.object({
  method: z.string().max(64),
  data: z.unknown(),
}).strict();

export type SignalingErrorCode =
  | 'bad-request'
  | 'unknown-method'
  | 'payload-too-large'
  | 'rate-limited'
  | 'unauthorized'
  | 'not-joined'
  | 'already-joined'
  | 'not-found'
  | 'forbidden'
  /** A per-session limit other than the caps below. */
  | 'limit-exceeded'
  /** The room already holds its most peers (VOXFACE_MAX_PEERS_PER_ROOM). */
  | 'room-full'
  /** Server-wide: no room, peer or WebRTC transport more (VOXFACE_MAX_ROOMS, _PEERS, _TRANSPORTS). */
  | 'room-limit'
  | 'peer-limit'
  /** Server-wide or per peer (VOXFACE_MAX_TRANSPORTS, VOXFACE_MAX_TRANSPORTS_PER_PEER): the message names which. */
  | 'transport-limit'
  /** Per peer (VOXFACE_MAX_PRODUCERS_PER_PEER, _CONSUMERS_PER_PEER, _DATA_PRODUCERS_PER_PEER). */
  | 'producer-limit'
  | 'consumer-limit'
  | 'data-producer-limit'
  // Avatar caps: the server's avatar sessions, one peer's (across rooms), render processes, video encoders.
  | 'avatar-session-limit'
  | 'avatar-peer-limit'
  | 'render-process-limit'
  | 'encoder-limit'
  | 'internal';

export type SignalingReply<T = unknown> =
  | { ok: true; data: T }
  | { ok: false; error: { code: SignalingErrorCode; message: string } };

export interface PeerInfo {
  id: string;
  displayName: string;
  producers: ProducerInfo[];
}

export interface ProducerInfo {
  id: string;
  kind: 'audio' | 'video';
  appData: Record<string, unknown>;
}

export interface JoinReply {
  peerId: string;
  room: string;
  routerRtpCapabilities: unknown;
  peers: PeerInfo[];
}

export interface TransportReply {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown;
  dtlsParameters: unknown;
  sctpParameters?: unknown;
}

export interface ConsumeReply {
  id: string;
  producerId: string;
  kind: 'audio' | 'video';
  rtpParameters: unknown;
  appData: Record<string, unknown>;
}

/** Server-to-client notifications. */
export interface NotificationMap {
  peerJoined: { peerId: string; displayName: string };
  peerLeft: { peerId: string };
  newProducer: { peerId: string; producer: ProducerInfo };
  consumerClosed: { consumerId: string; producerId: string };
  roomClosed: { reason: 'worker-died' | 'server-shutdown' | 'closed' };
  /**
   * The server closed one of this peer's WebRTC transports: DTLS did not reach
   * 'connected' within VOXFACE_TRANSPORT_CONNECT_TIMEOUT of its first use (its
   * producers and consumers closed with it).
   */
  transportClosed: { transportId: string; reason: 'connect-timeout' };
  /** A peer's server-rendered avatar changed state ('stalled': its stream stopped, the picture is frozen). */
  avatarStatus: { peerId: string; status: 'waiting' | 'live' | 'lost' | 'stalled' };
  /** This peer's avatar ended without being asked to (its render process crashed, say): send the camera instead. */
  avatarStopped: { avatarId: string; reason: AvatarStopReason; message: string };
  /**
   * How many new frames per second this peer's avatar renders now (the server lowers it
   * under load): tracking the camera faster only spends the sender's CPU and uplink.
   */
  avatarFrameRate: { avatarId: string; fps: number };
}

/**
 * Why an avatar ended on its own: its render process died, a render failed, its video
 * encoder kept failing or its router closed, or its session could not start.
 */
export type AvatarStopReason = 'renderer-crashed' | 'render-failed' | 'video-encoder-failed' | 'video-router-closed' | 'start-failed';

export type NotificationMethod = keyof NotificationMap;
