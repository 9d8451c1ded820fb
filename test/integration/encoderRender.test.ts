/**
 * The render process draws an encoder avatar from the face's code (issue 16): the same
 * face with a code renders another picture than without one, a zero code renders the
 * blendshape avatar exactly, and the code's effect is that of the mouth coefficient the
 * projection writes (test/helpers/encoderAvatar.ts: every code value adds 0.3 to it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessFrameRenderer } from '../../server/avatar/ProcessFrameRenderer';
import type { FaceState } from '../../server/avatar/DrivenFace';
import { BLENDSHAPE_COUNT, blendshapeIndex } from '../../shared/coefficients/blendshapes';
import { encoderAvatarFile } from '../helpers/encoderAvatar';

let scratch: string;
let renderer: ProcessFrameRenderer;

function face(jawOpen: number, code: number[] | null): FaceState {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  blendshapes[blendshapeIndex('jawOpen')] = jawOpen;
  return { status: 'live', blendshapes, rotation: [0, 0, 0, 1], translationCm: [0, 0, -40], ageMs: 0, sequence: 1, code: code && Float32Array.from(code) };
}


before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'voxface-encoder-render-'));
  renderer = await ProcessFrameRenderer.open(encoderAvatarFile(scratch), { width: 96, height: 96, background: { kind: 'colour', rgb: '#2a6f97' } });
});

after(() => {
  renderer?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * `f`'s frame once the live renderer settled on it: its occupancy is refreshed a quarter a
 * frame (LIVE's occupancySlices: 4, Renderer.ts), so the first frames of a new face carry the
 * previous faces' (the same face twice in a row after another differed by 0.007 of 255).
 */
async function frame(f: FaceState): Promise<Uint8Array> {
  for (let i = 0; i < 7; i++) await renderer.render(f);
  return Uint8Array.from(await renderer.render(f));
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

test('a code drives the mouth coefficient through the projection; a zero code is the blendshape avatar', async () => {
  const plain = await frame(face(0.1, null));
  assert.equal(meanAbsDiff(await frame(face(0.1, new Array(12).fill(0))), plain), 0, 'a zero code changes nothing');
  const coded = await frame(face(0.1, new Array(12).fill(0.25))); // 0.1 + 12 x 0.3 x 0.25 = 1.0
  // Measured 0.041 (of 255, over the whole 96x96 frame: the synthetic head's mouth is a few px).
  assert.ok(meanAbsDiff(coded, plain) > 0.01, `the code changes the picture: ${meanAbsDiff(coded, plain)}`);
  // The same coefficient reached by the blendshape alone is the same picture.
  assert.equal(meanAbsDiff(coded, await frame(face(1.0, null))), 0, 'code and blendshape reach the same coefficient');
  // A code of another length is not this encoder's: the blendshape avatar.
  assert.equal(meanAbsDiff(await frame(face(0.1, [1, 1, 1])), plain), 0);
});
