/**
 * The verdict of the prepare test's field-of-view sweep: is MediaPipe's 63° camera
 * the one that explains the tracked landmarks? Stated so that it holds on any CPU of
 * our kind: the reprojection error is a mean over hundreds of frames tracked by
 * MediaPipe on the CPU delegate, whose float rounding differs between CPUs (an Intel
 * Xeon with AVX-512 measured 63° and 67° at 6.79 px each, this Zen 5 6.79 and 6.83),
 * so 63° must be within a small margin of the sweep's minimum, not strictly below its
 * neighbours, and clearly better than the far ends of the sweep.
 */

/** How far above the sweep's minimum 63° may be: 3% (neighbours 4° away differ by about that much). */
export const FOV_MARGIN = 0.03;
/** How much worse the far ends (55°, 70°) must be than 63°. */
export const FOV_FAR_RATIO = 1.4;

/** Returns undefined when the sweep supports 63°, else a message with the figures. */
export function fovFitProblem(errorByFov: ReadonlyMap<number, number>): string | undefined {
  const at = (fov: number) => {
    const value = errorByFov.get(fov);
    if (value === undefined || !Number.isFinite(value)) throw new TypeError(`the sweep has no finite error at ${fov}°`);
    return value;
  };
  const figures = [...errorByFov].sort((a, b) => a[0] - b[0]).map(([fov, error]) => `${fov}°: ${error.toFixed(2)}`).join(', ');
  const at63 = at(63);
  const minimum = Math.min(...errorByFov.values());
  if (at63 > minimum * (1 + FOV_MARGIN)) return `63° is not within ${FOV_MARGIN * 100}% of the best fit: ${figures}`;
  if (at(55) <= FOV_FAR_RATIO * at63 || at(70) <= FOV_FAR_RATIO * at63) return `55° and 70° do not fit clearly worse than 63°: ${figures}`;
  return undefined;
}
