/**
 * Shared fixtures for the CoefficientPacket tests (test-only; no Node APIs so
 * it type-checks like the rest of shared/).
 */
import {
  TRANSLATION_LIMIT_CM,
  decodeCoefficientPacket,
  encodeCoefficientFrame,
  type CoefficientFrame,
} from './CoefficientPacket';
import { BLENDSHAPE_COUNT } from './blendshapes';
import type { Quaternion } from './pose';
import { randomUnitQuaternion, seededRandom } from './seededRandom';

// Byte offsets from the layout table in CoefficientPacket.ts, used to forge packets.
export const FLAGS = 2;
export const CAPTURE_TIME = 8;
export const BLENDSHAPES = 12;
export const ROTATION = 51;
export const TRANSLATION = 57;

export function randomFrame(random: () => number): CoefficientFrame {
  const blendshapes = new Float32Array(BLENDSHAPE_COUNT);
  for (let i = 0; i < BLENDSHAPE_COUNT; i++) blendshapes[i] = random();
  const rotation = randomUnitQuaternion(random);
  return {
    sequence: Math.floor(random() * 2 ** 32),
    captureTimeMs: 1.7e12 + random() * 1e11,
    facePresent: random() < 0.5,
    keepAlive: random() < 0.5,
    confidence: random(),
    blendshapes,
    // Both signs of q, so the encoder's w >= 0 canonicalization is exercised.
    rotation: random() < 0.5 ? rotation : (rotation.map((c) => -c) as Quaternion),
    translationCm: [0, 1, 2].map(() => (random() * 2 - 1) * TRANSLATION_LIMIT_CM) as CoefficientFrame['translationCm'],
  };
}

/** Decodes a packet that must be valid; throws with the failure reason otherwise. */
export function decodeOrFail(bytes: Uint8Array, referenceTimeMs?: number): CoefficientFrame {
  const result = decodeCoefficientPacket(bytes, referenceTimeMs);
  if (!result.ok) throw new Error(`decode failed: ${result.reason}: ${result.message}`);
  return result.frame;
}

/** A valid packet with `mutate` applied to its bytes. */
export function forge(mutate: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = encodeCoefficientFrame(randomFrame(seededRandom(99)));
  mutate(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes);
  return bytes;
}
