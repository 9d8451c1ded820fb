/**
 * Waits for `work` to settle, or `ms`, whichever comes first; never rejects. BullMQ's
 * graceful close() waits for its Redis connection to be ready, so with Redis unreachable
 * (a node that failed to start, Redis gone at shutdown) it waits for good; callers
 * disconnect their connections after this, which ends whatever is left.
 */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((done) => {
    timer = setTimeout(done, ms);
    timer.unref?.();
  });
  await Promise.race([work.then(() => undefined, () => undefined), timeout]);
  clearTimeout(timer);
}

/**
 * ioredis options for BullMQ's connections: commands wait for Redis rather than fail
 * (BullMQ requires it), and reconnection stops once the owner is closing. BullMQ
 * duplicates a connection for its blocking clients with the same options, and its
 * close() waits for such a client to be ready: while Redis is unreachable that wait
 * only ends when the client gives up, which this makes it do at its next retry.
 */
export function bullConnectionOptions(isClosing: () => boolean): { maxRetriesPerRequest: null; retryStrategy: (times: number) => number | null } {
  return { maxRetriesPerRequest: null, retryStrategy: (times) => (isClosing() ? null : Math.min(times * 200, 2000)) };
}
