/**
 * What SFU nodes tell each other over Redis pub/sub (docs/cluster.md, "Rooms across SFU
 * nodes"), as zod schemas. Every message is checked here before a node acts on it: its
 * size first (before JSON.parse), then its envelope, then the data of its method. A
 * message that fails is refused with a sentence that says where, never thrown past the bus.
 */
import { z } from 'zod';
import { ID_PATTERN, SIGNALING_LIMITS } from '../../../shared/signaling/limits';
import { renderNoticeSchemas, renderReplySchemas, renderRequestSchemas } from '../render/renderMessages';

/** Largest message on the bus: a pipe consumer's RTP parameters are ~2 KB, a peer with 4 producers ~1 KB. */
export const MAX_CLUSTER_MESSAGE_BYTES = 64 * 1024;

const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a node name (1-64 letters, digits, . _ -)');
const roomId = z.string().regex(ID_PATTERN, 'must be a room id (1-64 of A-Z a-z 0-9 _ -)');
const peerId = z.string().regex(ID_PATTERN, 'must be a peer id (1-64 of A-Z a-z 0-9 _ -)');
const objectId = z.string().uuid();
const requestId = z.string().min(1).max(64);
const ip = z.string().ip();
const port = z.number().int().min(1).max(65535);
const appData = z.record(z.string().max(64), z.unknown()).refine((value) => Object.keys(value).length <= 32, 'at most 32 appData keys');
const srtpParameters = z.object({
  cryptoSuite: z.enum(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
  keyBase64: z.string().min(1).max(128),
}).strict();

export const producerInfo = z.object({
  id: objectId,
  kind: z.enum(['audio', 'video']),
  appData,
}).strict();

export const remotePeerInfo = z.object({
  id: peerId,
  displayName: z.string().min(1).max(SIGNALING_LIMITS.maxDisplayNameLength),
  producers: z.array(producerInfo).max(16),
}).strict();

/** Requests one node asks of another, each answered (or timed out). */
export const clusterRequestSchemas = {
  /** "Here is my end of a pipe for `room`: make yours, connect it to mine, tell me where yours is." */
  openPipe: z.object({ room: roomId, ip, port, srtpParameters: srtpParameters.optional() }).strict(),
  /** "Consume `producerId` on your end of our pipe": the answer is what the other end produces with. */
  pipeProducer: z.object({ room: roomId, producerId: objectId }).strict(),
  /** Between SFU nodes and render nodes (render/renderMessages.ts). */
  ...renderRequestSchemas,
} as const;

export const clusterReplySchemas = {
  openPipe: z.object({ ip, port, srtpParameters: srtpParameters.optional() }).strict(),
  pipeProducer: z.object({
    kind: z.enum(['audio', 'video']),
    rtpParameters: z.object({}).passthrough(),
    paused: z.boolean(),
    appData,
  }).strict(),
  ...renderReplySchemas,
} as const;

/** One-way notices between two nodes (nothing to answer). */
export const clusterNoticeSchemas = {
  /** The consuming node no longer uses this piped producer: close its pipe consumer. */
  unpipeProducer: z.object({ room: roomId, producerId: objectId }).strict(),
  /** The producer behind a pipe closed: close the piped producer (its consumers hear consumerClosed). */
  pipedProducerClosed: z.object({ room: roomId, producerId: objectId }).strict(),
  pipedProducerPaused: z.object({ room: roomId, producerId: objectId, paused: z.boolean() }).strict(),
  /** The sender closed its end of the pipe for `room` (its room closed): close ours. */
  closePipe: z.object({ room: roomId }).strict(),
  /** Between SFU nodes and render nodes (render/renderMessages.ts). */
  ...renderNoticeSchemas,
} as const;

/** What a node tells every node about its rooms (they pass it on to their own peers of that room). */
export const roomEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('peerJoined'), room: roomId, peer: remotePeerInfo }).strict(),
  z.object({ event: z.literal('peerLeft'), room: roomId, peerId }).strict(),
  z.object({ event: z.literal('newProducer'), room: roomId, peerId, producer: producerInfo }).strict(),
  z.object({ event: z.literal('producerClosed'), room: roomId, peerId, producerId: objectId }).strict(),
]);

const errorCode = z.enum(['bad-request', 'not-found', 'conflict', 'internal', 'timeout']);

export const clusterEnvelope = z.discriminatedUnion('type', [
  z.object({ type: z.literal('request'), id: requestId, from: nodeName, method: z.string().max(64), data: z.unknown() }).strict(),
  // One member per type (a discriminated union cannot repeat one): ok carries data, a failure its error.
  z.object({
    type: z.literal('response'), id: requestId, from: nodeName, ok: z.boolean(), data: z.unknown().optional(),
    error: z.object({ code: errorCode, message: z.string().max(512) }).strict().optional(),
  }).strict(),
  z.object({ type: z.literal('notice'), from: nodeName, method: z.string().max(64), data: z.unknown() }).strict(),
  z.object({ type: z.literal('roomEvent'), from: nodeName, data: z.unknown() }).strict(),
]).refine((message) => message.type !== 'response' || message.ok || message.error !== undefined, { message: 'a failed response needs its error', path: ['error'] });

export type ClusterRequestMethod = keyof typeof clusterRequestSchemas;
export type ClusterNoticeMethod = keyof typeof clusterNoticeSchemas;
export type ClusterRequestData<M extends ClusterRequestMethod> = z.infer<(typeof clusterRequestSchemas)[M]>;
export type ClusterReplyData<M extends ClusterRequestMethod> = z.infer<(typeof clusterReplySchemas)[M]>;
export type ClusterNoticeData<M extends ClusterNoticeMethod> = z.infer<(typeof clusterNoticeSchemas)[M]>;
export type ClusterErrorCode = z.infer<typeof errorCode>;
export type RoomEvent = z.infer<typeof roomEventSchema>;
export type RemotePeerInfo = z.infer<typeof remotePeerInfo>;
export type ClusterEnvelope = z.infer<typeof clusterEnvelope>;

/** A checked message: its envelope and, for requests, notices and room events, its data. */
export type ClusterMessage =
  | { type: 'request'; id: string; from: string; method: ClusterRequestMethod; data: unknown }
  | { type: 'notice'; from: string; method: ClusterNoticeMethod; data: unknown }
  | { type: 'roomEvent'; from: string; data: RoomEvent }
  | { type: 'response'; id: string; from: string; ok: true; data: unknown }
  | { type: 'response'; id: string; from: string; ok: false; error: { code: ClusterErrorCode; message: string } };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string; /** Set when the sender asked for an answer. */ replyTo?: { id: string; from: string } };

function describe(prefix: string, error: z.ZodError): string {
  const issue = error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'data';
  return `${prefix}: ${where}: ${issue?.message ?? 'invalid'}`;
}

function has<T extends object>(table: T, key: string): key is Extract<keyof T, string> {
  return Object.prototype.hasOwnProperty.call(table, key);
}

/**
 * Checks one raw message off the bus. Requests and notices are checked down to their
 * data (an unknown method or bad data is refused here); a response's data is checked
 * against its method by the requester (`parseReply`), which alone knows the method.
 */
export function parseClusterMessage(raw: string | Buffer): ParseResult<ClusterMessage> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_CLUSTER_MESSAGE_BYTES) return { ok: false, error: `cluster message of ${size} bytes exceeds ${MAX_CLUSTER_MESSAGE_BYTES}` };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    return { ok: false, error: 'cluster message is not JSON' };
  }
  const envelope = clusterEnvelope.safeParse(json);
  if (!envelope.success) return { ok: false, error: describe('cluster message envelope', envelope.error) };
  const message = envelope.data;
  if (message.type === 'response') {
    return { ok: true, value: (message.ok ? { ...message, error: undefined } : { ...message, data: undefined }) as ClusterMessage };
  }
  if (message.type === 'roomEvent') {
    const event = roomEventSchema.safeParse(message.data);
    if (!event.success) return { ok: false, error: describe('cluster room event', event.error) };
    return { ok: true, value: { type: 'roomEvent', from: message.from, data: event.data } };
  }
  const replyTo = message.type === 'request' ? { id: message.id, from: message.from } : undefined;
  const schemas = message.type === 'request' ? clusterRequestSchemas : clusterNoticeSchemas;
  if (!has(schemas, message.method)) {
    return { ok: false, error: `unknown cluster ${message.type} '${message.method.slice(0, 64)}'`, replyTo };
  }
  const data = (schemas as Record<string, z.ZodTypeAny>)[message.method]!.safeParse(message.data);
  if (!data.success) return { ok: false, error: describe(`cluster ${message.type} ${message.method}`, data.error), replyTo };
  return { ok: true, value: { ...message, data: data.data } as ClusterMessage };
}

/** Checks the data of a successful answer to `method`. */
export function parseReply<M extends ClusterRequestMethod>(method: M, data: unknown): ParseResult<ClusterReplyData<M>> {
  const parsed = clusterReplySchemas[method].safeParse(data);
  if (!parsed.success) return { ok: false, error: describe(`cluster reply to ${method}`, parsed.error) };
  return { ok: true, value: parsed.data as ClusterReplyData<M> };
}
