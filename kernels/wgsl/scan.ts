// Offsets from counts on the GPU (scan.wgsl): offsets[0] = 0, offsets[i+1] = counts[0] +
// ... + counts[i], saturating at 2^31 (read back as int32, a saturated offset is -2^31:
// scanOverflowed). Used by marchRays for its variable-length output.
import { readFileSync } from 'node:fs';
import type { GpuContext } from './GpuContext';
import { bindAt } from './bindings';
import { grid2d } from './dispatch';

const source = readFileSync(new URL('./scan.wgsl', import.meta.url), 'utf8');
const blockSize = 256;

/** The largest offset that is not an overflow (int32). */
export const maxScanTotal = 2147483647;

/** Words of `data` the scan needs beyond the n counts (the blocks' totals of every level). */
export function scanScratchWords(n: number): number {
  let words = 0;
  for (let level = Math.max(n, 1); ; level = Math.ceil(level / blockSize)) {
    const blocks = Math.ceil(level / blockSize);
    words += blocks;
    if (blocks <= 1) return words;
  }
}

/** True when an offset read back as int32 (or uint32) says the sum overflowed int32. */
export function scanOverflowed(offset: number): boolean {
  return offset < 0 || offset > maxScanTotal;
}

/**
 * Encodes the scan of n counts at word `countsAt` of `data` into offsets [n+1] (int32);
 * the blocks' totals go to `data` from word `sumsAt` (scanScratchWords(n) words). The
 * counts are overwritten. Counts must be at most 2^31.
 */
export function encodeCountsToOffsets(ctx: GpuContext, encoder: GPUCommandEncoder, data: GPUBuffer, countsAt: number, sumsAt: number, n: number, offsets: GPUBuffer): void {
  if (data.size < 4 * (sumsAt + scanScratchWords(n)) || data.size < 4 * (countsAt + n))
    throw new RangeError(`scan: the data buffer holds ${data.size} bytes, ${4 * Math.max(sumsAt + scanScratchWords(n), countsAt + n)} needed`);
  if (offsets.size < 4 * (n + 1)) throw new RangeError(`scan: the offsets buffer holds ${offsets.size} bytes, ${4 * (n + 1)} needed`);
  const scanBlocks = ctx.pipeline('scan blocks', source, 'scanBlocks');
  const addBlockSums = ctx.pipeline('scan add', source, 'addBlockSums');
  const writeOffsets = ctx.pipeline('scan offsets', source, 'writeOffsets');
  let free = sumsAt;
  const level = (values: number, count: number, top: boolean) => {
    const blocks = Math.max(1, Math.ceil(count / blockSize)), sums = free;
    free += blocks;
    const params = ctx.constants('scan params', Uint32Array.of(count, values, sums, 0));
    const group = bindAt(ctx, 'scan blocks', scanBlocks, { 0: params, 1: data });
    ctx.encode(encoder, 'scan blocks', scanBlocks, group, grid2d(blocks, 1));
    if (blocks > 1) level(sums, blocks, false);
    if (top) {
      ctx.encode(encoder, 'scan offsets', writeOffsets, bindAt(ctx, 'scan offsets', writeOffsets, { 0: params, 1: data, 2: offsets }), grid2d(blocks, 1));
    } else if (blocks > 1) {
      ctx.encode(encoder, 'scan add', addBlockSums, bindAt(ctx, 'scan add', addBlockSums, { 0: params, 1: data }), grid2d(blocks, 1));
    }
  };
  level(countsAt, n, true);
}
