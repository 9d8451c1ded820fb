/**
 * u32 sequence-number comparison with wrap-around (RFC 1982 serial number
 * arithmetic, SERIAL_BITS = 32): 0 comes right after 4294967295.
 */

const HALF_RANGE = 2 ** 31;
const RANGE = 2 ** 32;

/**
 * Signed number of steps from `from` forward to `to`, in [-2^31, 2^31).
 * RFC 1982 leaves a distance of exactly 2^31 undefined; we call it "behind"
 * so that such a packet is never taken as newer.
 */
export function sequenceDelta(from: number, to: number): number {
  const forward = (to - from) >>> 0;
  return forward >= HALF_RANGE ? forward - RANGE : forward;
}

/** True when `candidate` comes after `reference` in serial order. */
export function isNewerSequence(candidate: number, reference: number): boolean {
  return sequenceDelta(reference, candidate) > 0;
}
