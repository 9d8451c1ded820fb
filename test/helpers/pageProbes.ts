/** Reads of the demo page's live room, evaluated inside the page. */
import type { Page } from 'playwright-core';

export interface InboundFigures {
  peerId: string;
  kind: string;
  framesDecoded: number;
  packetsReceived: number;
  audioSamplesReceived: number;
  /** Seconds frames (or audio samples) spent in the jitter buffer, summed, and how many left it. */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
}

/** inbound-rtp figures of every track the page receives. */
export function inboundFigures(page: Page): Promise<InboundFigures[]> {
  return page.evaluate(async () => {
    const room = window.voxfaceDemo.room;
    if (!room) return [];
    const figures = [];
    for (const remote of room.remoteTracks.values()) {
      const consumer = room.consumer(remote.consumerId);
      if (!consumer) continue;
      const report = await consumer.getStats();
      let framesDecoded = 0;
      let packetsReceived = 0;
      let audioSamplesReceived = 0;
      let jitterBufferDelay = 0;
      let jitterBufferEmittedCount = 0;
      report.forEach((stat: Record<string, unknown>) => {
        if (stat.type !== 'inbound-rtp') return;
        framesDecoded += Number(stat.framesDecoded ?? 0);
        packetsReceived += Number(stat.packetsReceived ?? 0);
        audioSamplesReceived += Number(stat.totalSamplesReceived ?? 0);
        jitterBufferDelay += Number(stat.jitterBufferDelay ?? 0);
        jitterBufferEmittedCount += Number(stat.jitterBufferEmittedCount ?? 0);
      });
      figures.push({ peerId: remote.peerId, kind: remote.kind, framesDecoded, packetsReceived, audioSamplesReceived, jitterBufferDelay, jitterBufferEmittedCount });
    }
    return figures;
  });
}

/** Polls `read` until `done` holds or the timeout passes; returns the last value either way. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs));
    value = await read();
  }
  return value;
}

/**
 * The mean level (0-255) of what a <video> on the page shows, drawn at 64x64 through
 * a canvas: one channel, or the mean of red, green and blue.
 */
export function videoLevel(page: Page, selector: string, channel: 'red' | 'rgb' = 'rgb'): Promise<number> {
  return page.evaluate(({ sel, ch }) => {
    const video = document.querySelector<HTMLVideoElement>(sel)!;
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 64;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(video, 0, 0, 64, 64);
    const data = ctx.getImageData(0, 0, 64, 64).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += ch === 'red' ? data[i]! : (data[i]! + data[i + 1]! + data[i + 2]!) / 3;
    return sum / (data.length / 4);
  }, { sel: selector, ch: channel });
}
