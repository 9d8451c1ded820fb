/**
 * Runs `voxface prepare` as a user would (bin/voxface.js in a child process,
 * real ffmpeg, real Chromium, the shared MediaPipe models) and makes the bad
 * inputs the tests feed it with ffmpeg, in a temporary folder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CLI_ENTRY, CLI_NODE_FLAGS } from '../../server/cli/nodeFlags';
import { FACE_MODEL_PATH, SHARED_DATA } from './sharedData';

export const SEGMENTER_MODEL_PATH = join(SHARED_DATA, 'models', 'selfie_segmenter.tflite');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON, when it is JSON. */
  result?: { frames: number; seconds: number; fps: number; faceFoundRatio: number; reprojectionErrorPx: number };
}

/** One run of the CLI (`bin/voxface.js`): its exit code, output, and the JSON lines of its stdout. */
export interface VoxfaceRun {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Record<string, unknown>[];
}

/** Runs `voxface <args>` with the shared MediaPipe models; rejects (the process killed) after timeoutMs. */
export function runVoxface(args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<VoxfaceRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...CLI_NODE_FLAGS, CLI_ENTRY, ...args], {
      env: { ...process.env, VOXFACE_FACE_MODEL: FACE_MODEL_PATH, VOXFACE_SEGMENTER_MODEL: SEGMENTER_MODEL_PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = ''; let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`voxface ${args[0]} timed out:\n${stderr}`)); }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      resolvePromise({ code, stdout, stderr, lines });
    });
  });
}

export async function runPrepare(args: string[], timeoutMs = 120_000): Promise<CliRun> {
  const { code, stdout, stderr } = await runVoxface(['prepare', ...args], timeoutMs);
  const last = stdout.trim().split('\n').pop() ?? '';
  let result: CliRun['result'];
  try { result = JSON.parse(last); } catch { result = undefined; }
  return { code, stdout, stderr, result };
}

export function scratchDir(): string {
  return mkdtempSync(join(tmpdir(), 'voxface-prepare-test-'));
}

function ffmpeg(args: string[]): void {
  const run = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${run.stderr}`);
}

/** A synthetic video without a face (ffmpeg's test pattern). */
export function makeNoFaceVideo(dir: string): string {
  const out = join(dir, 'testsrc.mp4');
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=2', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', out]);
  return out;
}

/** `seconds` of a (square) clip upscaled to 2160 px high and padded to 3840x2160 (aspect kept: a stretched face fits no face model). */
export function makeUhdVideo(dir: string, clip: string, seconds: number): string {
  const out = join(dir, 'uhd.mp4');
  ffmpeg(['-t', String(seconds), '-i', clip, '-vf', 'scale=-2:2160,pad=3840:2160:(ow-iw)/2:0', '-an', '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', out]);
  return out;
}

/** A clip remuxed with its index first (+faststart) and cut in half: it starts decoding, then ends early. */
export function makeTruncatedFaststart(dir: string, clip: string): string {
  const whole = join(dir, 'faststart.mp4');
  ffmpeg(['-i', clip, '-c', 'copy', '-an', '-movflags', '+faststart', whole]);
  const out = join(dir, 'truncated-faststart.mp4');
  const bytes = spawnSync('head', ['-c', String(Math.floor(Number(spawnSync('stat', ['-c', '%s', whole], { encoding: 'utf8' }).stdout) / 2)), whole]).stdout;
  writeFileSync(out, bytes);
  return out;
}

/** Anything the writer left beside `outDir` (its temporary folders are hidden `.name.partial-*`). */
export function leftovers(outDir: string): string[] {
  return readdirSync(dirname(outDir)).filter((name) => name.startsWith(`.${basename(outDir)}.partial`));
}
