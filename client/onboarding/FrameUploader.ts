/**
 * The upload queue of a capture session: frame bodies go out as they are
 * captured, a few at a time, and stay in memory until the server has
 * acknowledged them, so that after a dropped connection the page can ask the
 * server what it holds and re-send the rest (resume()). Transport is injected
 * (`send`), which keeps the retry logic testable without a network.
 *
 * Network errors, 5xx and 429 are retried with exponential backoff (at least
 * Retry-After when the server gives one); after `maxAttempts` tries a frame is
 * parked (kept, not dropped) for the next resume(). Any other 4xx is the
 * server refusing the frame itself: retrying cannot help, so the whole upload
 * stops with the server's message.
 */
import { ApiError, refusalOf } from './ApiError';

export type SendResult =
  | { kind: 'stored' }
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  | { kind: 'fatal'; status: number; code: string; message: string };

export type SendFrame = (index: number, body: Uint8Array) => Promise<SendResult>;

/** The server refused a frame (a 4xx other than 429), or the upload was aborted. */
export class UploadError extends ApiError {
  override name = 'UploadError';
}

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null || value.trim() === '') return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** What one PUT's answer means for the queue (body: the parsed JSON, or undefined). */
export function classifyUploadResponse(status: number, retryAfter: string | null, body: unknown, nowMs = Date.now()): SendResult {
  if (status === 200 || status === 201) return { kind: 'stored' }; // 200 { stored: false }: it was already there
  const { code, message } = refusalOf(status, body);
  if (status === 429 || status >= 500) return { kind: 'retry', reason: `${code}: ${message}`, retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
  return { kind: 'fatal', status, code, message };
}

export interface UploaderStats {
  /** Frames added and not yet acknowledged (queued, in flight or parked). */
  held: number;
  inFlight: number;
  acknowledged: number;
  /** Retries scheduled so far, over all frames. */
  retries: number;
  /** Frames whose attempts ran out, waiting for resume(). */
  parked: number;
}

export interface FrameUploaderOptions {
  send: SendFrame;
  maxInFlight?: number;
  /** Tries per frame before it is parked. */
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): spreads the retries of many clients after a server restart. */
  random?: () => number;
  onChange?: (stats: UploaderStats) => void;
  onRetry?: (index: number, reason: string, delayMs: number) => void;
}

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FrameUploader {
  readonly #send: SendFrame;
  readonly #maxInFlight: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onChange: ((stats: UploaderStats) => void) | undefined;
  readonly #onRetry: FrameUploaderOptions['onRetry'];
  /** Bodies not yet acknowledged by the server, by frame index. */
  readonly #held = new Map<number, Uint8Array>();
  #queue: number[] = [];
  readonly #active = new Set<number>();
  readonly #parked = new Set<number>();
  #acknowledged = 0;
  #retries = 0;
  #failure: UploadError | null = null;
  #waiters: Waiter[] = [];

  constructor(options: FrameUploaderOptions) {
    this.#send = options.send;
    this.#maxInFlight = options.maxInFlight ?? 3;
    this.#maxAttempts = options.maxAttempts ?? 6;
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
    this.#onChange = options.onChange;
    this.#onRetry = options.onRetry;
  }

  get stats(): UploaderStats {
    return { held: this.#held.size, inFlight: this.#active.size, acknowledged: this.#acknowledged, retries: this.#retries, parked: this.#parked.size };
  }

  get failure(): UploadError | null {
    return this.#failure;
  }

  /** Queues frame `index` (its body is kept until the server acknowledges it). */
  add(index: number, body: Uint8Array): void {
    if (this.#failure) return;
    if (this.#held.has(index)) throw new Error(`frame ${index} was added twice`);
    this.#held.set(index, body);
    this.#queue.push(index);
    this.#pump();
  }

  /**
   * After drain(): `stored` is what the server lists for the session. Frames it
   * lists are released (acknowledged, even if their answer was lost); held
   * frames it lacks are queued again with fresh attempts. Returns those.
   */
  resume(stored: Iterable<number>): number[] {
    for (const index of stored) {
      if (this.#held.delete(index)) {
        this.#parked.delete(index);
        this.#queue = this.#queue.filter((i) => i !== index);
        this.#acknowledged += 1;
      }
    }
    const again = [...this.#held.keys()].filter((i) => !this.#active.has(i) && !this.#queue.includes(i)).sort((a, b) => a - b);
    for (const index of again) this.#parked.delete(index);
    this.#queue.push(...again);
    this.#pump();
    return again;
  }

  /** Resolves when nothing is queued or in flight (parked frames may remain); rejects on a refused frame. */
  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#settle();
    });
  }

  /** Stops uploading and drops every body (a new recording starts over). */
  abort(): void {
    this.#fail(new UploadError(0, 'aborted', 'upload aborted'));
    this.#held.clear();
    this.#parked.clear();
  }

  #pump(): void {
    while (!this.#failure && this.#active.size < this.#maxInFlight && this.#queue.length > 0) {
      const index = this.#queue.shift()!;
      this.#active.add(index);
      // A frame backing off keeps its slot: while the server struggles, fewer requests go out.
      void this.#upload(index).catch((error: unknown) => {
        // Only a throwing callback (onRetry, sleep) gets here: a bug, not a network problem.
        this.#fail(new UploadError(0, 'internal', error instanceof Error ? error.message : String(error)));
      }).finally(() => {
        this.#active.delete(index);
        this.#pump();
      });
    }
    this.#changed();
    this.#settle();
  }

  async #upload(index: number): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const body = this.#held.get(index);
      if (!body || this.#failure) return;
      let result: SendResult;
      try {
        result = await this.#send(index, body);
      } catch (error) {
        result = { kind: 'retry', reason: error instanceof Error ? error.message : String(error), retryAfterMs: null };
      }
      if (this.#failure) return;
      if (result.kind === 'stored') {
        if (this.#held.delete(index)) this.#acknowledged += 1;
        return;
      }
      if (result.kind === 'fatal') {
        this.#fail(new UploadError(result.status, result.code, `frame ${index} refused: ${result.message}`));
        return;
      }
      if (attempt >= this.#maxAttempts) {
        this.#parked.add(index);
        return;
      }
      const backoff = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1)) * (0.5 + 0.5 * this.#random());
      const delayMs = Math.max(result.retryAfterMs ?? 0, backoff);
      this.#retries += 1;
      this.#onRetry?.(index, result.reason, delayMs);
      this.#changed();
      await this.#sleep(delayMs);
    }
  }

  #fail(error: UploadError): void {
    this.#failure ??= error;
    this.#queue = [];
    this.#settle();
  }

  #settle(): void {
    if (this.#failure) {
      const failure = this.#failure;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(failure);
    } else if (this.#queue.length === 0 && this.#active.size === 0) {
      for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    }
  }

  #changed(): void {
    this.#onChange?.(this.stats);
  }
}
