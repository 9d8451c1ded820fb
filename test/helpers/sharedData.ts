/**
 * The shared test data beside the repository (../shared/data: MediaPipe models and
 * real talking-head clips), never copied into it, and y4m conversions of the clips
 * for Chromium's fake camera, cached in the system's temporary folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const SHARED_DATA = process.env.VOXFACE_SHARED_DATA ?? resolve(process.cwd(), '..', 'shared', 'data');
export const FACE_MODEL_PATH = join(SHARED_DATA, 'models', 'face_landmarker.task');
export const SEGMENTER_MODEL_PATH = join(SHARED_DATA, 'models', 'selfie_segmenter.tflite');

export const CLIPS = {
  manGlassesSelfie: 'man-glasses-selfie_liveportrait-d13.mp4',
  manGlassesPinkwall: 'man-glasses-pinkwall_liveportrait-d9.mp4',
  womanShorthair: 'woman-shorthair_liveportrait-d14.mp4',
  womanLonghair: 'woman-longhair_liveportrait-d10.mp4',
  womanExpressions: 'woman-expressions_liveportrait-d6.mp4',
  womanHdtf: 'woman-hdtf-WDA_KatieHill_sadtalker.mp4',
} as const;

export function clipPath(name: keyof typeof CLIPS): string {
  const path = join(SHARED_DATA, 'videos', CLIPS[name]);
  if (!existsSync(path)) throw new Error(`shared clip missing: ${path}`);
  return path;
}

export interface Y4mOptions {
  width: number;
  fps: number;
  seconds: number;
  startSeconds?: number;
}

/** Converts a clip to a y4m file (cached) that Chromium plays, looping, as its camera. */
export function clipToY4m(name: keyof typeof CLIPS, options: Y4mOptions): string {
  const { width, fps, seconds, startSeconds = 0 } = options;
  const dir = join(tmpdir(), 'voxface-y4m');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}-w${width}-f${fps}-s${startSeconds}-${seconds}.y4m`);
  if (existsSync(out)) return out;
  const partial = `${out}.${process.pid}.partial.y4m`;
  const result = spawnSync('ffmpeg', [
    '-v', 'error', '-y', '-ss', String(startSeconds), '-t', String(seconds), '-i', clipPath(name),
    '-vf', `scale=${width}:-2,fps=${fps}`, '-pix_fmt', 'yuv420p', '-an', partial,
  ], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ffmpeg could not convert ${name}: ${result.stderr || result.error?.message}`);
  renameSync(partial, out);
  return out;
}
