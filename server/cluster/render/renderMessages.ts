/**
 * What SFU nodes and render nodes tell each other about avatar sessions hosted on a
 * render node (docs/cluster.md, "Render nodes"), as zod schemas. They ride the same
 * bus as the SFU nodes' messages (NodeBus: the 64 KiB bound and the envelope are
 * checked first, clusterMessages.ts); these tables are merged into its request and
 * notice tables. Only ids, a background choice, addresses and RTP/SCTP parameters
 * cross: an avatar is named by its id (the render node reads the shared store), a
 * background image by its id (resolved for the peer's user on the render node).
 */
import { z } from 'zod';
import { ID_PATTERN, SIGNALING_LIMITS } from '../../../shared/signaling/limits';
import { backgroundChoice } from '../../../shared/signaling/background';

const roomId = z.string().regex(ID_PATTERN, 'must be a room id (1-64 of A-Z a-z 0-9 _ -)');
const peerId = z.string().regex(ID_PATTERN, 'must be a peer id (1-64 of A-Z a-z 0-9 _ -)');
const avatarId = z.string().regex(ID_PATTERN, 'must be an avatar id (1-64 of A-Z a-z 0-9 _ -)');
/** A hosted session: the SFU node names it (a UUID) when it asks for it. */
const sessionId = z.string().uuid();
const objectId = z.string().uuid();
const ip = z.string().ip();
const port = z.number().int().min(1).max(65535);
const srtpParameters = z.object({
  cryptoSuite: z.enum(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
  keyBase64: z.string().min(1).max(128),
}).strict();
const pipeEnd = { ip, port, srtpParameters: srtpParameters.optional() };

/** The coefficient data producer as the SFU node's pipe data consumer describes it (pipeToRouter's produceData arguments). */
const pipedData = z.object({
  dataProducerId: objectId,
  sctpStreamParameters: z.object({
    streamId: z.number().int().min(0).max(65534),
    ordered: z.boolean().optional(),
    maxPacketLifeTime: z.number().int().min(0).max(65535).optional(),
    maxRetransmits: z.number().int().min(0).max(65535).optional(),
  }).strict(),
  label: z.string().max(256),
  protocol: z.string().max(256),
}).strict();

/**
 * A pipe consumer's RTP parameters, bounded: a few codecs (the video codec and its
 * RTX), header extensions, one or a few encodings. mediasoup's worker checks the
 * contents when the SFU node produces with them.
 */
const rtpParameters = z.object({
  mid: z.string().max(16).optional(),
  codecs: z.array(z.object({}).passthrough()).min(1).max(4),
  headerExtensions: z.array(z.object({}).passthrough()).max(16).optional(),
  encodings: z.array(z.object({}).passthrough()).min(1).max(4),
  rtcp: z.object({}).passthrough().optional(),
}).strict();

export const renderRequestSchemas = {
  /**
   * SFU node to render node: "host the avatar of peer P of room R: here is my end of a
   * pipe (SCTP on) and the coefficient data producer it carries". The answer is the
   * render node's end; the avatar's video follows as `hostedAvatarProducer`.
   */
  hostAvatar: z.object({
    session: sessionId,
    room: roomId,
    peer: z.object({ id: peerId, user: peerId, displayName: z.string().min(1).max(SIGNALING_LIMITS.maxDisplayNameLength) }).strict(),
    avatarId,
    background: backgroundChoice,
    ...pipeEnd,
    data: pipedData,
  }).strict(),
  /** A newer version of the avatar is in the shared store: load it into the session. */
  reloadHostedAvatar: z.object({ session: sessionId }).strict(),
} as const;

export const renderReplySchemas = {
  hostAvatar: z.object(pipeEnd).strict(),
  reloadHostedAvatar: z.object({ reloaded: z.boolean() }).strict(),
} as const;

export const renderNoticeSchemas = {
  /** SFU node to render node: the session ends (its peer left, stopped its avatar, or the SFU node moved it). */
  dropHostedAvatar: z.object({ session: sessionId }).strict(),
  /**
   * Render node to SFU node: the session's video producer (a new one after an encoder
   * restart): the render node consumes it on its end of the pipe, the SFU node produces
   * it on its end with these parameters, as the peer's avatar.
   */
  hostedAvatarProducer: z.object({ session: sessionId, producerId: objectId, rtpParameters, paused: z.boolean() }).strict(),
  /** Render node to SFU node: the avatar's face status changed (the room's pages show it). */
  hostedAvatarStatus: z.object({ session: sessionId, status: z.enum(['waiting', 'live', 'lost', 'stalled']) }).strict(),
  /** Render node to SFU node: the session ended there (its renderer or encoder failed, the avatar could not load). */
  hostedAvatarEnded: z.object({ session: sessionId, reason: z.string().min(1).max(64), message: z.string().max(512) }).strict(),
} as const;

export type RenderRequestMethod = keyof typeof renderRequestSchemas;
export type RenderNoticeMethod = keyof typeof renderNoticeSchemas;
export type RenderRequestData<M extends RenderRequestMethod> = z.infer<(typeof renderRequestSchemas)[M]>;
export type RenderReplyData<M extends RenderRequestMethod> = z.infer<(typeof renderReplySchemas)[M]>;
export type RenderNoticeData<M extends RenderNoticeMethod> = z.infer<(typeof renderNoticeSchemas)[M]>;

export const RENDER_NOTICES: ReadonlySet<string> = new Set(Object.keys(renderNoticeSchemas));
export const RENDER_REQUESTS: ReadonlySet<string> = new Set(Object.keys(renderRequestSchemas));
