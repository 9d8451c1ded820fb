/**
 * The abuse bench's flood, run as its own process (so the load it generates is not
 * charged to the server's event loop): many socket.io clients and HTTP requests
 * over loopback for `seconds`, bounded by `maxRequests`, then one JSON line of
 * counts on stdout (after a line `ready` once its sockets are connected and it starts). Input: ABUSE_FLOOD_CONFIG (JSON, see FloodConfig), written by
 * abuse.bench.ts, which holds the server's secret and mints the tokens.
 *
 * Socket roles (a quarter of the sockets each):
 * - burst: requests as fast as acknowledgements come back, past the rate limit;
 * - malformed: bad envelopes, unknown methods, schema violations, oversized
 *   payloads, requests without acknowledgement (under the rate limit, so each is
 *   validated);
 * - forgery: joins with forged tokens (bad signature, a non-canonical signature
 *   encoding, expired, another room's, garbage);
 * - joiner: valid joins into flood rooms, then more transports than a peer may
 *   have, then leave and join again.
 * Onboarding: forged tokens, capture sessions past the per-user cap, oversized and
 * garbage frames, and requests past the per-user rate limit.
 */
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';

export interface FloodConfig {
  url: string;
  seconds: number;
  sockets: number;
  maxRequests: number;
  /** A valid token and room per joiner socket. */
  joiners: { room: string; token: string }[];
  /** Valid-but-wrong tokens: expired, and one for a room other than the one joined. */
  expired: { room: string; token: string };
  wrongRoom: { room: string; token: string };
  /** A valid token the forgeries are derived from. */
  genuine: { room: string; token: string };
  onboardingTokens: string[];
  maxFrameBytes: number;
}

type Counts = Record<string, number>;
const bump = (counts: Counts, key: string, by = 1) => { counts[key] = (counts[key] ?? 0) + by; };

const config = JSON.parse(process.env.ABUSE_FLOOD_CONFIG ?? '{}') as FloodConfig;
/** Set once every socket is connected: the flood runs `seconds` from then. */
let deadline = Number.POSITIVE_INFINITY;
let requests = 0;
const more = () => Date.now() < deadline && requests < config.maxRequests;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signaling answers by flood kind, then by result (ok or the error code). */
const signaling: Record<string, Counts> = { burst: {}, malformed: {}, oversized: {}, forgery: {}, joiner: {} };
/** Forged tokens the server accepted, by kind of forgery (any is a failure). */
const forgeriesAccepted: Counts = {};
const onboarding: Record<string, Counts> = { forgedToken: {}, sessions: {}, oversizedFrame: {}, garbageFrame: {}, rateLimit: {} };
/** Connections, and disconnections by reason (the flood's own closing at the end is not counted). */
const transport: Counts = { connected: 0, connectErrors: 0 };
let closing = false;

/** Longer than any answer should take even on a loaded machine: a request still unanswered then is a finding. */
const REPLY_TIMEOUT_MS = 15_000;

function request(socket: Socket, envelope: unknown, timeoutMs = REPLY_TIMEOUT_MS): Promise<string> {
  requests += 1;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no-reply'), timeoutMs);
    socket.emit('request', envelope, (reply: { ok: boolean; error?: { code: string } }) => {
      clearTimeout(timer);
      resolve(reply?.ok ? 'ok' : reply?.error?.code ?? 'malformed-reply');
    });
  });
}

function connect(): Promise<Socket> {
  const socket = io(config.url, { transports: ['websocket'], reconnection: true, reconnectionDelay: 200, forceNew: true });
  socket.on('disconnect', (reason) => { if (!closing) bump(transport, `disconnected: ${reason}`); });
  socket.on('connect_error', () => bump(transport, 'connectErrors'));
  return new Promise((resolve) => socket.once('connect', () => { bump(transport, 'connected'); resolve(socket); }));
}

async function burst(socket: Socket): Promise<void> {
  while (more()) {
    const replies = await Promise.all(Array.from({ length: 50 }, () => request(socket, { method: 'leave', data: {} })));
    for (const r of replies) bump(signaling.burst!, r);
  }
}

const MALFORMED: unknown[] = [
  'not an object', 42, null, [], { method: 5 }, { method: 'nope', data: {} }, { method: '__proto__', data: {} },
  { method: 'join', data: { room: '../etc', token: 1 } }, { method: 'produce', data: { kind: 'video', rtpParameters: 'x' } },
  { method: 'join', data: { room: 'a', token: 'b', displayName: 'x'.repeat(500) } },
];

async function malformed(socket: Socket): Promise<void> {
  let i = 0;
  while (more()) {
    i += 1;
    if (i % 25 === 0) {
      // Over the request size limit (64 KB), under the transport's (256 KB): refused with a code.
      bump(signaling.oversized!, await request(socket, { method: 'join', data: { room: 'x', token: 'a'.repeat(70_000) } }));
    } else if (i % 11 === 0) {
      socket.emit('request', { method: 'leave', data: {} }); // no acknowledgement: nothing to answer
      requests += 1;
      bump(signaling.malformed!, 'sent-without-ack');
    } else {
      bump(signaling.malformed!, await request(socket, MALFORMED[i % MALFORMED.length]));
    }
    await sleep(60); // ~16 requests per second: under the rate limit (20/s), so each is validated
  }
  // Past the transport's hard limit once per socket: socket.io drops the connection.
  socket.emit('request', { method: 'join', data: { room: 'x', token: 'a'.repeat(300_000) } });
  bump(signaling.oversized!, 'sent-over-transport-limit');
}

/** Same signature bytes, another spelling: the last base64url character's unused low bits changed. */
function nonCanonical(token: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = token.at(-1)!;
  const value = alphabet.indexOf(last);
  return token.slice(0, -1) + alphabet[(value & ~3) | ((value + 1) & 3)];
}

function forgeries(): { kind: string; room: string; token: string }[] {
  const { room, token } = config.genuine;
  const [payload, signature] = token.split('.') as [string, string];
  const flipped = signature.slice(0, 5) + (signature[5] === 'A' ? 'B' : 'A') + signature.slice(6);
  const otherPayload = Buffer.from(JSON.stringify({ room, peerId: 'mallory', exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url');
  return [
    { kind: 'bad-signature', room, token: `${payload}.${flipped}` },
    { kind: 'payload-swapped', room, token: `${otherPayload}.${signature}` },
    { kind: 'non-canonical-signature', room, token: `${payload}.${nonCanonical(signature)}` },
    { kind: 'expired', ...config.expired },
    { kind: 'wrong-room', ...config.wrongRoom },
    { kind: 'garbage', room, token: randomBytes(40).toString('base64url') },
    { kind: 'unsigned', room, token: `${payload}.` },
  ];
}

async function forgery(socket: Socket): Promise<void> {
  const forged = forgeries();
  let i = 0;
  while (more()) {
    const f = forged[i++ % forged.length]!;
    const result = await request(socket, { method: 'join', data: { room: f.room, token: f.token, displayName: 'forger' } });
    bump(signaling.forgery!, `${f.kind}:${result}`);
    if (result !== 'unauthorized') {
      // Accepted, or not refused in time: the connection's requests run in order, so a
      // leave answered 'ok' proves this join got in (a late 'ok' is still an acceptance).
      const left = await request(socket, { method: 'leave', data: {} }, 60_000);
      if (result === 'ok' || left === 'ok') bump(forgeriesAccepted, f.kind);
    }
    await sleep(60);
  }
}

async function joiner(socket: Socket, index: number): Promise<void> {
  const { room, token } = config.joiners[index % config.joiners.length]!;
  while (more()) {
    bump(signaling.joiner!, `join:${await request(socket, { method: 'join', data: { room, token, displayName: 'joiner' } })}`);
    for (let t = 0; t < 6 && more(); t++) {
      bump(signaling.joiner!, `createWebRtcTransport:${await request(socket, { method: 'createWebRtcTransport', data: { direction: t % 2 ? 'recv' : 'send' } })}`);
      await sleep(60);
    }
    bump(signaling.joiner!, `leave:${await request(socket, { method: 'leave', data: {} })}`);
    await sleep(100);
  }
}

async function http(method: string, path: string, token: string | null, body?: Buffer | string, type = 'application/json'): Promise<string> {
  requests += 1;
  try {
    const headers: Record<string, string> = { 'content-type': type };
    if (token) headers.authorization = `Bearer ${token}`;
    const payload = typeof body === 'string' || body === undefined ? body : new Blob([new Uint8Array(body)]);
    const reply = await fetch(`${config.url}/api/onboarding${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(10_000) });
    const json = (await reply.json().catch(() => ({}))) as { error?: { code?: string } };
    return `${reply.status}${json.error?.code ? ` ${json.error.code}` : ''}`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return `failed ${cause ?? (error as Error).name}`;
  }
}

const SESSION = JSON.stringify({ source: { width: 640, height: 480, fps: 10 }, crop: { x: 80, y: 0, size: 480 } });

async function onboardingFlood(user: number): Promise<void> {
  const token = config.onboardingTokens[user % config.onboardingTokens.length]!;
  const forged = `${token.split('.')[0]}.${randomBytes(32).toString('base64url')}`;
  let session: string | undefined;
  while (more()) {
    bump(onboarding.forgedToken!, await http('GET', '/sessions', forged));
    const created = await http('POST', '/sessions', token, SESSION);
    bump(onboarding.sessions!, created);
    if (!session && created.startsWith('201')) {
      const list = await fetch(`${config.url}/api/onboarding/sessions`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()).catch(() => ({})) as { sessions?: { id: string }[] };
      session = list.sessions?.[0]?.id;
    }
    if (session) {
      bump(onboarding.oversizedFrame!, await http('PUT', `/sessions/${session}/frames/0`, token, Buffer.alloc(config.maxFrameBytes + 50_000, 7), 'application/octet-stream'));
      bump(onboarding.garbageFrame!, await http('PUT', `/sessions/${session}/frames/1`, token, randomBytes(20_000), 'application/octet-stream'));
    }
    // A burst past the per-user rate limit (burst 80 by default).
    const burst = await Promise.all(Array.from({ length: 100 }, () => http('GET', '/avatars', token)));
    for (const r of burst) bump(onboarding.rateLimit!, r);
    await sleep(200);
  }
}

async function main(): Promise<void> {
  const quarter = Math.max(1, Math.floor(config.sockets / 4));
  const sockets = await Promise.all(Array.from({ length: quarter * 4 }, () => connect()));
  deadline = Date.now() + config.seconds * 1000;
  process.stdout.write('ready\n');
  const roles = sockets.map((socket, i) => {
    const role = Math.floor(i / quarter);
    if (role === 0) return burst(socket);
    if (role === 1) return malformed(socket);
    if (role === 2) return forgery(socket);
    return joiner(socket, i - 3 * quarter);
  });
  const uploads = config.onboardingTokens.map((_, user) => onboardingFlood(user));
  await Promise.all([...roles, ...uploads]);
  closing = true;
  for (const socket of sockets) socket.close();
  process.stdout.write(`${JSON.stringify({ requests, signaling, forgeriesAccepted, onboarding, transport })}\n`);
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
