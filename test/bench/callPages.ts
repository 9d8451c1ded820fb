/**
 * Demo pages in a call, driven for benchmarks: a two-peer call whose received
 * media is metered (frames decoded per second of each side's remote video, audio
 * packets received), and the page-side steps of joining, streaming coefficients,
 * enabling and disabling an avatar, and leaving.
 */
import type { Browser, Page } from 'playwright-core';
import type { VoxfaceServer } from '../../server/VoxfaceServer';
import { inboundFigures, pollUntil, type InboundFigures } from '../helpers/pageProbes';
import { demoPageUrl } from './benchAuth';

/**
 * Page steps may take long on a loaded machine: at a load average of 41 on 2 cores
 * a page's first load took over playwright's default 30 s. Benches wait this long.
 */
const PAGE_TIMEOUT_MS = 120_000;

/** A page in its own context (its own peer), with the benches' patient timeouts. */
export async function openBenchPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(PAGE_TIMEOUT_MS);
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

export interface CallPage {
  page: Page;
  peerId: string;
}

/** Opens a demo page as `name` in `room` and joins, publishing camera and microphone. */
export async function joinCall(browser: Browser, server: VoxfaceServer, room: string, name: string, timeoutMs = 60_000): Promise<CallPage> {
  const page = await openBenchPage(browser, demoPageUrl(server, room, name));
  try {
    await withTimeout(page.evaluate(() => window.voxfaceDemo.join()), timeoutMs, `${name} joining ${room}`);
    const peerId = await page.evaluate(() => window.voxfaceDemo.room!.peerId);
    return { page, peerId };
  } catch (error) {
    await page.context().close().catch(() => undefined);
    throw error;
  }
}

/**
 * Opens a coefficient data channel and asks the server for the avatar: the server
 * renders from the moment the stream opens (a neutral face until packets come).
 * `track: true` runs the page's face tracker and streams real coefficients, at the
 * price of MediaPipe in the page (at a load of 25-40 on 2 cores, starting it took
 * over 90 s); without it the channel stays silent, which costs the server the same
 * render, encoder and producer.
 */
export async function enableAvatar(call: CallPage, avatarId: string, track: boolean, timeoutMs = 90_000): Promise<void> {
  await withTimeout(call.page.evaluate(async ({ id, track }) => {
    const demo = window.voxfaceDemo;
    const bench = window as unknown as { benchCoefficients?: { closed: boolean } };
    if (track) {
      if (!demo.coefficients) await demo.setSendCoefficients(true);
    } else if (!bench.benchCoefficients || bench.benchCoefficients.closed) {
      bench.benchCoefficients = await demo.room!.produceData({
        ordered: false, maxRetransmits: 0, label: 'voxface-coefficients', protocol: 'voxface-coefficients/1', appData: { source: 'coefficients' },
      });
    }
    await demo.room!.enableAvatar(id);
  }, { id: avatarId, track }), timeoutMs, `${call.peerId} enabling its avatar`);
}

export async function disableAvatar(call: CallPage, timeoutMs = 20_000): Promise<void> {
  await withTimeout(call.page.evaluate(async () => {
    const demo = window.voxfaceDemo;
    const bench = window as unknown as { benchCoefficients?: Parameters<NonNullable<typeof demo.room>['closeDataProducer']>[0] };
    await demo.room!.disableAvatar();
    await demo.setSendCoefficients(false);
    if (bench.benchCoefficients) await demo.room!.closeDataProducer(bench.benchCoefficients);
    bench.benchCoefficients = undefined;
  }), timeoutMs, `${call.peerId} disabling its avatar`);
}

/** Leaves politely (the leave request) or abruptly (the page's context closes: the socket drops). */
export async function leaveCall(call: CallPage, politely: boolean): Promise<void> {
  if (politely) await withTimeout(call.page.evaluate(() => window.voxfaceDemo.leave()), 10_000, `${call.peerId} leaving`).catch(() => undefined);
  await call.page.context().close().catch(() => undefined);
}

/** The page's room was closed under it (its worker died) or its signaling dropped. */
export async function callEnded(call: CallPage): Promise<boolean> {
  return call.page.evaluate(() => window.voxfaceDemo.events.some((e) => e.startsWith('roomClosed') || e.startsWith('disconnected')))
    .catch(() => true);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function figuresOf(figures: InboundFigures[], peerId: string, kind: 'video' | 'audio'): InboundFigures | undefined {
  return figures.find((f) => f.peerId === peerId && f.kind === kind);
}

export interface MediaWindow {
  /** Seconds since the meter started (end of the window). */
  at: number;
  /** The lower of the two sides' decoded video fps over the window. */
  fps: number;
  /** The lower of the two sides' audio packets received over the window. */
  audioPackets: number;
  /** The lower of the two sides' video packets received over the window (flowing media, however fast the page decodes). */
  videoPackets: number;
}

interface Reading { at: number; framesA: number; framesB: number; audioA: number; audioB: number; videoA: number; videoB: number }

/**
 * Two pages in one call, each receiving the other: `sample()` returns the frames
 * each decoded and audio packets each received since the previous sample, as rates.
 */
export class TwoPeerCall {
  readonly a: CallPage;
  readonly b: CallPage;
  readonly windows: MediaWindow[] = [];
  #last?: Reading;
  readonly #started = Date.now();

  private constructor(a: CallPage, b: CallPage) {
    this.a = a;
    this.b = b;
  }

  /** Opens the call; an attempt whose media never flows is left and tried again, up to `tries` times. */
  static async open(browser: Browser, server: VoxfaceServer, room: string, tries = 2): Promise<TwoPeerCall> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await TwoPeerCall.#open(browser, server, room);
      } catch (error) {
        if (attempt >= tries) throw error;
        process.stderr.write(`opening the ${room} call again: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
      }
    }
  }

  static async #open(browser: Browser, server: VoxfaceServer, room: string): Promise<TwoPeerCall> {
    const a = await joinCall(browser, server, room, `${room}A`);
    const b = await joinCall(browser, server, room, `${room}B`);
    const call = new TwoPeerCall(a, b);
    try {
      for (const [self, other] of [[a, b], [b, a]] as const) {
        await self.page.waitForFunction(
          (id) => [...window.voxfaceDemo.room!.remoteTracks.values()].filter((t) => t.peerId === id).length === 2, other.peerId, { timeout: PAGE_TIMEOUT_MS });
      }
      // Tracks can exist with nothing arriving on them (on a loaded machine a page's
      // receive side sometimes never got media): the call counts once frames decode both ways.
      const flowing = await pollUntil(() => call.#read(), (r) => r.framesA > 0 && r.framesB > 0 && r.audioA > 0 && r.audioB > 0, PAGE_TIMEOUT_MS, 500);
      if (!(flowing.framesA > 0 && flowing.framesB > 0 && flowing.audioA > 0 && flowing.audioB > 0)) {
        throw new Error(`the ${room} call has its tracks but no media both ways: ${JSON.stringify(flowing)}`);
      }
    } catch (error) {
      await call.close();
      throw error;
    }
    return call;
  }

  async #read(): Promise<Reading> {
    const [inA, inB] = await Promise.all([inboundFigures(this.a.page), inboundFigures(this.b.page)]);
    return {
      at: Date.now(),
      // framesA: what A decoded of B's video; framesB: what B decoded of A's.
      framesA: figuresOf(inA, this.b.peerId, 'video')?.framesDecoded ?? 0,
      framesB: figuresOf(inB, this.a.peerId, 'video')?.framesDecoded ?? 0,
      audioA: figuresOf(inA, this.b.peerId, 'audio')?.packetsReceived ?? 0,
      audioB: figuresOf(inB, this.a.peerId, 'audio')?.packetsReceived ?? 0,
      videoA: figuresOf(inA, this.b.peerId, 'video')?.packetsReceived ?? 0,
      videoB: figuresOf(inB, this.a.peerId, 'video')?.packetsReceived ?? 0,
    };
  }

  /** Starts a new window; the first call only sets the starting point and returns undefined. */
  async sample(): Promise<MediaWindow | undefined> {
    const now = await this.#read();
    const last = this.#last;
    this.#last = now;
    if (!last) return undefined;
    const seconds = (now.at - last.at) / 1000;
    // A track that went away reads 0 (a new consumer restarts its counters): the window counts nothing, never less.
    const delta = (x: number, y: number) => Math.max(0, x - y);
    const window: MediaWindow = {
      at: Math.round((now.at - this.#started) / 100) / 10,
      fps: Math.min(delta(now.framesA, last.framesA), delta(now.framesB, last.framesB)) / seconds,
      audioPackets: Math.min(delta(now.audioA, last.audioA), delta(now.audioB, last.audioB)),
      videoPackets: Math.min(delta(now.videoA, last.videoA), delta(now.videoB, last.videoB)),
    };
    this.windows.push(window);
    return window;
  }

  /** What each page heard of its room ending, its signaling dropping, or its peer leaving (diagnostics). */
  async incidents(): Promise<string[]> {
    const read = (call: CallPage) => call.page.evaluate(() => window.voxfaceDemo.events.filter((e) => /^(roomClosed|disconnected|peerLeft|trackRemoved)/.test(e)))
      .catch((error: unknown) => [`page unreadable: ${String(error).split('\n')[0]}`]);
    return [...(await read(this.a)).map((e) => `${this.a.peerId}: ${e}`), ...(await read(this.b)).map((e) => `${this.b.peerId}: ${e}`)];
  }

  async close(): Promise<void> {
    await leaveCall(this.a, true);
    await leaveCall(this.b, true);
  }
}
