/**
 * Drives an avatar's expression encoder from the page (issue 16, docs/fidelity.md): asks
 * the server what the avatar's encoder is (owner only: the onboarding token), takes its
 * ONNX model from Cache Storage under its sha256 or downloads it, checks the bytes against
 * the sha256 the server stated, and loads it into the tracker's worker, after which each
 * tracked frame goes out as a code packet. Anything that fails (no encoder, the server or
 * the download refused, a checksum that does not match, a model the runtime will not
 * load) leaves the call on blendshape packets and says why: it never breaks the call.
 */
import type { ExpressionInputSpec } from '../../shared/expression/ExpressionTypes';
import type { CoefficientStreaming } from './CoefficientStreaming';

export type EncoderOutcome =
  | { mode: 'code'; sha256: string; codeSize: number; fromCache: boolean; loadMs: number }
  | { mode: 'blendshapes'; reason: EncoderFallbackReason; message: string };

export type EncoderFallbackReason = 'no-encoder' | 'unavailable' | 'checksum-mismatch' | 'load-failed';

export interface EncoderChoice {
  avatarId: string;
  /** The owner's onboarding token (the encoder is served to its owner only). */
  onboardingToken: string;
  /** Server origin; defaults to the page's. */
  serverUrl?: string;
}

interface EncoderInfo {
  sha256: string;
  bytes: number;
  codeSize: number;
  inputSize: number;
  spec: ExpressionInputSpec;
}

const CACHE_NAME = 'voxface-expression-encoders';
/** The models are ~62 kB; anything far larger is not one. */
const MAX_MODEL_BYTES = 8 * 1024 * 1024;

async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function isEncoderInfo(value: unknown): value is EncoderInfo {
  const v = value as EncoderInfo | null;
  return typeof v === 'object' && v !== null && typeof v.sha256 === 'string' && /^[0-9a-f]{64}$/.test(v.sha256)
    && Number.isInteger(v.codeSize) && v.codeSize >= 1 && Number.isInteger(v.bytes) && v.bytes > 0 && v.bytes <= MAX_MODEL_BYTES
    && typeof v.spec === 'object' && v.spec !== null && Array.isArray(v.spec.landmarkIds);
}

/** Cache Storage needs a secure context (https or localhost); without it every load downloads. */
async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null;
  }
}

/** The verified model bytes, from the cache or the server. */
async function modelBytes(base: string, choice: EncoderChoice, info: EncoderInfo, headers: HeadersInit): Promise<{ bytes: ArrayBuffer; fromCache: boolean } | EncoderOutcome> {
  const cache = await openCache();
  const key = `${base}/voxface-encoder-cache/${info.sha256}.onnx`;
  const cached = await cache?.match(key).catch(() => undefined);
  if (cached) {
    const bytes = await cached.arrayBuffer();
    if ((await sha256Hex(bytes)) === info.sha256) return { bytes, fromCache: true };
    await cache!.delete(key).catch(() => false); // a damaged entry: download afresh
  }
  const reply = await fetch(`${base}/api/onboarding/avatars/${encodeURIComponent(choice.avatarId)}/encoder.onnx`, { headers }).catch((error: Error) => error);
  if (reply instanceof Error || !reply.ok) {
    return { mode: 'blendshapes', reason: 'unavailable', message: `the encoder model could not be downloaded (${reply instanceof Error ? reply.message : `HTTP ${reply.status}`})` };
  }
  const bytes = await reply.arrayBuffer();
  const actual = await sha256Hex(bytes);
  if (actual !== info.sha256) {
    return { mode: 'blendshapes', reason: 'checksum-mismatch', message: `the encoder model's sha256 is ${actual}, the server stated ${info.sha256}` };
  }
  await cache?.put(key, new Response(bytes.slice(0), { headers: { 'content-type': 'application/octet-stream' } })).catch(() => undefined);
  return { bytes, fromCache: false };
}

/**
 * Loads `choice.avatarId`'s encoder into `streaming`'s tracker and turns code packets on;
 * on any failure turns them off and resolves with the reason (never rejects).
 */
export async function startExpressionEncoder(streaming: CoefficientStreaming, choice: EncoderChoice): Promise<EncoderOutcome> {
  const base = choice.serverUrl ?? location.origin;
  const headers = { authorization: `Bearer ${choice.onboardingToken}` };
  const fallback = (outcome: EncoderOutcome): EncoderOutcome => {
    streaming.sender.sendCodes = false;
    streaming.tracker.dropEncoder();
    return outcome;
  };
  try {
    const reply = await fetch(`${base}/api/onboarding/avatars/${encodeURIComponent(choice.avatarId)}/encoder`, { headers }).catch((error: Error) => error);
    if (reply instanceof Error) return fallback({ mode: 'blendshapes', reason: 'unavailable', message: `the server could not be asked for the encoder (${reply.message})` });
    const body = (await reply.json().catch(() => null)) as { encoder?: unknown; error?: { code?: string; message?: string } } | null;
    if (reply.ok && body?.encoder === null) return fallback({ mode: 'blendshapes', reason: 'no-encoder', message: `avatar '${choice.avatarId}' has no expression encoder` });
    if (!reply.ok || !isEncoderInfo(body?.encoder)) {
      return fallback({ mode: 'blendshapes', reason: 'unavailable', message: `the server did not describe the encoder (HTTP ${reply.status}${body?.error?.message ? `: ${body.error.message}` : ''})` });
    }
    const info = body.encoder;
    const model = await modelBytes(base, choice, info, headers);
    if ('mode' in model) return fallback(model);
    streaming.sender.sendCodes = true;
    const ortBaseUrl = `${base}/ort/`;
    const loadMs = await streaming.tracker.loadEncoder({ ortBaseUrl, onnx: model.bytes, spec: info.spec, codeSize: info.codeSize });
    return { mode: 'code', sha256: info.sha256, codeSize: info.codeSize, fromCache: model.fromCache, loadMs };
  } catch (error) {
    return fallback({ mode: 'blendshapes', reason: 'load-failed', message: error instanceof Error ? error.message : String(error) });
  }
}
