/**
 * The final avatar's expression fidelity as a job carries it (JobFidelity): one schema
 * for every place it crosses a boundary: the trainer's stdout, the jobs file, Redis.
 */
import { z } from 'zod';

/** Landmark distances in px at 512 px: a face's own size bounds any real one. */
const landmarkPx = z.number().finite().min(0).max(512);

export const measuredFidelitySchema = z.object({
  mouthPx: landmarkPx, eyesPx: landmarkPx, lipOpeningPx: landmarkPx,
  /** Null when FaceLandmarker found no face in the nearest training frames. */
  nearestFrameMouthPx: landmarkPx.nullable(),
  comparedFrames: z.number().int().min(1).max(100_000),
}).strict();

export const jobFidelitySchema = z.union([measuredFidelitySchema, z.object({ error: z.string().max(200) }).strict()]);
