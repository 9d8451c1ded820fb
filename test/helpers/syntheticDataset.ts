/**
 * A tiny dataset in the project's format (test-pattern crops, a head-sized mask,
 * a head 40 cm ahead), enough for a trainer to load and train on for seconds: the
 * same one the training queue's integration test builds. Benchmarks enqueue jobs
 * on it to have a trainer to fault.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cropIntrinsics, MEDIAPIPE_VERTICAL_FOV_DEG } from '../../shared/dataset/camera';
import { CROP_SIZE, DATASET_VERSION, FILES, LANDMARK_COUNT, testStartIndex, type DatasetMeta } from '../../shared/dataset/format';
import { DatasetWriter } from '../../server/dataset/DatasetWriter';

export function writeSyntheticDataset(dir: string, frames = 8): void {
  const scratch = mkdtempSync(join(tmpdir(), 'voxface-synthetic-frames-'));
  try {
    const prefix = join(scratch, 'frame');
    execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${CROP_SIZE}x${CROP_SIZE}:rate=10`, '-frames:v', String(frames), '-q:v', '8', `${prefix}%02d.jpg`]);
    const mask = new Uint8Array(CROP_SIZE * CROP_SIZE);
    for (let y = 0; y < CROP_SIZE; y++) for (let x = 0; x < CROP_SIZE; x++) mask[y * CROP_SIZE + x] = ((x - 256) / 150) ** 2 + ((y - 256) / 200) ** 2 < 1 ? 255 : 0;
    const writer = new DatasetWriter(dir, frames);
    for (let i = 0; i < frames; i++) {
      const blendshapes = Array.from({ length: 52 }, (_, k) => (k === 25 ? i / frames : 0));
      const pose = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0.3 * i, 0, -40, 1];
      writer.addFrame(i, { faceFound: true, blendshapes, pose, landmarksPx: new Float32Array(LANDMARK_COUNT * 2).fill(256) },
        readFileSync(`${prefix}${String(i + 1).padStart(2, '0')}.jpg`), mask);
    }
    const source = { width: 640, height: 480 }, crop = { x: 80, y: 0, size: 480 };
    const records = writer.frameRecords(10);
    const meta: DatasetMeta = {
      version: DATASET_VERSION, createdAt: new Date().toISOString(),
      source: { file: 'synthetic', sha256: 'synthetic-bench', codec: 'mjpeg', ...source, fps: 10, durationSec: frames / 10, startSec: 0, decodedWidth: 640, decodedHeight: 480 },
      crop, imageSize: CROP_SIZE, intrinsics: cropIntrinsics(source.width, source.height, crop),
      camera: { verticalFovDeg: MEDIAPIPE_VERTICAL_FOV_DEG, convention: 'mediapipe-gl' },
      frameCount: frames, faceFoundCount: frames,
      split: { testFraction: 0.15, testStartIndex: testStartIndex(frames), train: records.filter((r) => r.split === 'train').length, test: records.filter((r) => r.split === 'test').length, excluded: 0 },
      reprojectionErrorPx: -1, files: FILES,
    };
    writer.finish(meta, records, false);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
