/**
 * A video's frames as RGB bytes, streamed from ffmpeg one at a time (for the
 * fidelity measurement on the shared clips and its tests: no files, and never
 * more than one frame buffered beyond ffmpeg's pipe).
 */
import { spawn } from 'node:child_process';
import { probeVideo } from '../dataset/video';

export interface VideoFrame {
  index: number;
  timeSec: number;
  /** RGB, 8-bit, row by row. */
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface VideoFramesOptions {
  /** Output width, px (height keeps the aspect, rounded to even). Default: the video's. */
  width?: number;
  startSec?: number;
  durationSec?: number;
  maxFrames?: number;
}

export function videoInfo(path: string) {
  return probeVideo(path);
}

export async function* videoFrames(path: string, options: VideoFramesOptions = {}): AsyncGenerator<VideoFrame> {
  const info = probeVideo(path);
  const width = options.width ?? info.width;
  const height = Math.max(2, 2 * Math.round((info.height * width) / info.width / 2));
  const startSec = options.startSec ?? 0;
  const args = ['-v', 'error', '-nostdin'];
  if (startSec > 0) args.push('-ss', String(startSec));
  args.push('-i', path);
  if (options.durationSec !== undefined) args.push('-t', String(options.durationSec));
  if (options.maxFrames !== undefined) args.push('-frames:v', String(options.maxFrames));
  args.push('-an', '-vf', `scale=${width}:${height}:flags=bicubic`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const ffmpeg = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  ffmpeg.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  const exited = new Promise<number | null>((resolve) => ffmpeg.once('close', resolve));
  const frameBytes = width * height * 3;
  let buffer: Buffer = Buffer.alloc(0);
  let index = 0;
  try {
    for await (const chunk of ffmpeg.stdout as AsyncIterable<Buffer>) {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      while (buffer.length >= frameBytes) {
        const pixels = new Uint8Array(buffer.subarray(0, frameBytes));
        buffer = buffer.subarray(frameBytes);
        yield { index, timeSec: startSec + index / info.fps, pixels, width, height };
        index++;
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`ffmpeg could not decode ${path}: ${stderr.trim() || `exit ${code}`}`);
  } finally {
    if (ffmpeg.exitCode === null) ffmpeg.kill('SIGKILL');
  }
}
