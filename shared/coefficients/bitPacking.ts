/**
 * MSB-first packing of fixed-width unsigned fields: field 0 occupies the top
 * bits of the first byte, and a field may straddle a byte boundary. A final
 * partial byte is zero-padded in its low bits.
 */

/** Bytes needed for `count` fields of `bits` bits each. */
export function packedByteLength(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

/**
 * Writes `count` fields of `bits` (1..24) bits from `fieldAt(i)` into `out`
 * starting at `offset`. Field values must be integers in [0, 2^bits).
 */
export function packFields(
  out: Uint8Array,
  offset: number,
  count: number,
  bits: number,
  fieldAt: (index: number) => number,
): void {
  let pending = 0; // the `pendingBits` (< 8) bits not yet written
  let pendingBits = 0;
  let at = offset;
  for (let i = 0; i < count; i++) {
    pending = pending * 2 ** bits + fieldAt(i);
    pendingBits += bits;
    while (pendingBits >= 8) {
      pendingBits -= 8;
      const byte = Math.floor(pending / 2 ** pendingBits);
      out[at++] = byte;
      pending -= byte * 2 ** pendingBits;
    }
  }
  if (pendingBits > 0) out[at] = pending * 2 ** (8 - pendingBits);
}

/** Reads `count` fields of `bits` (1..24) bits from `bytes` starting at `offset`, passing each to `sink`. */
export function unpackFields(
  bytes: Uint8Array,
  offset: number,
  count: number,
  bits: number,
  sink: (index: number, value: number) => void,
): void {
  let pending = 0; // the `pendingBits` bits read but not yet consumed
  let pendingBits = 0;
  let at = offset;
  for (let i = 0; i < count; i++) {
    while (pendingBits < bits) {
      pending = pending * 256 + (bytes[at++] ?? 0);
      pendingBits += 8;
    }
    pendingBits -= bits;
    const value = Math.floor(pending / 2 ** pendingBits);
    sink(i, value);
    pending -= value * 2 ** pendingBits;
  }
}
