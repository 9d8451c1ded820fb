/** Seconds per call of `fn`, averaged over at least `minMs` of calls after one warm-up call (page faults, packing buffers). */
export function secondsPerCall(fn: () => void, minMs = 300): number {
  fn();
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    iters++;
  }
  return (performance.now() - t0) / iters / 1e3;
}
