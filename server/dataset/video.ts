/**
 * Reading the input video with ffprobe/ffmpeg: what it is (refusing what is not
 * a decodable video, with a message a person can act on) and decoding its
 * frames to JPEG files for the capture page, downscaled when large.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { PrepareError } from './PrepareError';

export interface VideoInfo {
  path: string;
  codec: string;
  formatName: string;
  /** Display size (rotation applied, as ffmpeg decodes it). */
  width: number;
  height: number;
  fps: number;
  durationSec: number;
  /** Frames the container declares (0 when it does not say). */
  declaredFrames: number;
}

interface ProbeStream {
  codec_type?: string; codec_name?: string; width?: number; height?: number;
  avg_frame_rate?: string; r_frame_rate?: string; duration?: string; nb_frames?: string;
  tags?: { rotate?: string }; side_data_list?: Array<{ rotation?: number }>;
}

// Formats ffprobe accepts that are not videos: text rendered as ANSI art, single images.
const NOT_VIDEO_FORMATS = /^(tty|image2|.*_pipe|gif_pipe|svg_pipe)$/;

function rate(text: string | undefined): number {
  if (!text) return 0;
  const [num, den] = text.split('/').map(Number);
  const value = den ? num! / den : Number(num);
  return Number.isFinite(value) ? value : 0;
}

export function probeVideo(path: string): VideoInfo {
  if (!existsSync(path)) throw new PrepareError(`input not found: ${path}`);
  const stats = statSync(path);
  if (!stats.isFile()) throw new PrepareError(`input is not a file: ${path}`);
  if (stats.size === 0) throw new PrepareError(`input is an empty file (0 bytes): ${path}`);
  const probe = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', path], { encoding: 'utf8' });
  if (probe.error) throw new PrepareError(`cannot run ffprobe (is ffmpeg installed?): ${probe.error.message}`);
  const reason = probe.stderr.trim().split('\n').pop() ?? '';
  let parsed: { streams?: ProbeStream[]; format?: { format_name?: string; duration?: string } } = {};
  try { parsed = JSON.parse(probe.stdout || '{}'); } catch { /* reported below */ }
  if (probe.status !== 0 || !parsed.format) {
    throw new PrepareError(`not a readable video (corrupt, truncated or not a video file): ${path}${reason ? ` (ffprobe: ${reason})` : ''}`);
  }
  const formatName = parsed.format.format_name ?? '';
  const stream = parsed.streams?.find((s) => s.codec_type === 'video');
  if (!stream || NOT_VIDEO_FORMATS.test(formatName) || stream.codec_name === 'ansi') {
    throw new PrepareError(`not a video: ${path} (ffprobe sees format '${formatName}'${stream ? `, codec '${stream.codec_name}'` : ', no video stream'})`);
  }
  const fps = rate(stream.avg_frame_rate) || rate(stream.r_frame_rate);
  const durationSec = Number(stream.duration ?? parsed.format.duration ?? 0) || 0;
  if (!(stream.width && stream.height) || !(fps > 0)) {
    throw new PrepareError(`not a usable video: ${path} (size ${stream.width}x${stream.height}, ${fps} fps)`);
  }
  const rotation = Math.abs(Number(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? stream.tags?.rotate ?? 0)) % 180;
  const [width, height] = rotation === 90 ? [stream.height, stream.width] : [stream.width, stream.height];
  return { path, codec: stream.codec_name ?? 'unknown', formatName, width, height, fps, durationSec, declaredFrames: Number(stream.nb_frames ?? 0) || 0 };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The decode size: the video's own, or scaled down (even sides) so its longer side is maxSide. */
export function decodeSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  const even = (value: number) => Math.max(2, Math.round((value * scale) / 2) * 2);
  return { width: even(width), height: even(height) };
}

export interface DecodeOptions {
  outDir: string;
  width: number;
  height: number;
  startSec: number;
  /** Seconds to decode (Infinity: to the end). */
  durationSec: number;
  maxFrames: number;
  onProgress?: (frames: number) => void;
}

/** Decodes frames as <outDir>/<index>.jpg from index 0; resolves with the count. */
export async function decodeFrames(video: VideoInfo, options: DecodeOptions): Promise<number> {
  const args = ['-v', 'error', '-nostdin', '-nostats', '-progress', 'pipe:1'];
  if (options.startSec > 0) args.push('-ss', String(options.startSec));
  args.push('-i', video.path);
  if (Number.isFinite(options.durationSec)) args.push('-t', String(options.durationSec));
  if (Number.isFinite(options.maxFrames)) args.push('-frames:v', String(options.maxFrames));
  args.push(
    '-map', '0:v:0', '-an', '-fps_mode', 'passthrough',
    '-vf', `scale=${options.width}:${options.height}:flags=area`,
    '-q:v', '2', '-start_number', '0', '-f', 'image2', join(options.outDir, '%d.jpg'),
  );
  const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdout.on('data', (chunk: Buffer) => {
    const match = /frame=(\d+)\s*$/m.exec(chunk.toString());
    if (match) options.onProgress?.(Number(match[1]));
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new PrepareError(`cannot run ffmpeg (is it installed?): ${error.message}`)));
    child.on('close', (status) => resolve(status ?? 1));
  });
  const frames = readdirSync(options.outDir).filter((name) => name.endsWith('.jpg')).length;
  const firstError = stderr.trim().split('\n')[0] ?? '';
  if (code !== 0 || frames === 0) {
    throw new PrepareError(`cannot decode ${basename(video.path)}: ffmpeg ${code !== 0 ? `exited with ${code}` : 'produced no frames'}${firstError ? ` (${firstError})` : ''}`);
  }
  // A truncated file can still decode its first part; fewer frames than the
  // container declares (for the whole clip) means the rest is missing.
  const wholeClip = options.startSec === 0 && !Number.isFinite(options.durationSec) && !Number.isFinite(options.maxFrames);
  if (wholeClip && video.declaredFrames > 0 && frames < video.declaredFrames * 0.97) {
    throw new PrepareError(`corrupt or truncated video ${basename(video.path)}: decoded ${frames} of ${video.declaredFrames} frames${firstError ? ` (ffmpeg: ${firstError})` : ''}`);
  }
  return frames;
}
