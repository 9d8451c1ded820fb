// GPU time of each compute pass, from timestamp queries: what a tick's wall time cannot
// say (on an H200, 2026-12-04, a 640x360 frame cost 7-9 ms a session whatever the count
// of sessions in the batch or the rays in the frame, so the time is in some op, not in
// the rays or the readback). A GpuContext opened with `passTimes: true` owns one; while
// it records, GpuContext.encode gives every pass a pair of timestamp writes, and stop()
// resolves them into per-pass milliseconds in encoding order.
/// <reference types="@webgpu/types" />

export interface PassTime {
  /** The pass's label (GpuContext's: `<context> <op> pass`). */
  readonly label: string;
  readonly ms: number;
}

export interface PassTimesResult {
  readonly passes: readonly PassTime[];
  /** Passes encoded while recording that found the query set full (not timed). */
  readonly untimed: number;
  /** From the first pass's start to the last one's end: the span the device was at the work. */
  readonly spanMs: number;
}

/** Two queries a pass; WebGPU caps a query set at 4096 queries. */
export const PASS_TIMES_CAPACITY = 2048;

export class GpuPassTimes {
  readonly #device: GPUDevice;
  readonly #querySet: GPUQuerySet;
  readonly #resolved: GPUBuffer;
  readonly #readback: GPUBuffer;
  #labels: string[] = [];
  #untimed = 0;
  #recording = false;
  #closed = false;

  constructor(device: GPUDevice, label: string) {
    this.#device = device;
    const queries = 2 * PASS_TIMES_CAPACITY;
    this.#querySet = device.createQuerySet({ label: `${label} pass times`, type: 'timestamp', count: queries });
    this.#resolved = device.createBuffer({ label: `${label} pass times resolved`, size: 8 * queries, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.#readback = device.createBuffer({ label: `${label} pass times readback`, size: 8 * queries, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Starts recording afresh (earlier passes are forgotten). */
  start(): void {
    if (this.#closed) throw new DOMException('GpuPassTimes is closed', 'InvalidStateError');
    if (this.#recording) throw new DOMException('GpuPassTimes is already recording', 'InvalidStateError');
    this.#labels = [];
    this.#untimed = 0;
    this.#recording = true;
  }

  /** The timestamp writes for the next pass (undefined when not recording or full). */
  writesFor(label: string): GPUComputePassTimestampWrites | undefined {
    if (!this.#recording) return undefined;
    if (this.#labels.length >= PASS_TIMES_CAPACITY) {
      this.#untimed++;
      return undefined;
    }
    const i = this.#labels.push(label) - 1;
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /**
   * Stops recording and reads the times back. Resolving in a later submission is right:
   * the queue runs submissions in order, so every timed pass has run by then.
   */
  async stop(): Promise<PassTimesResult> {
    if (!this.#recording) throw new DOMException('GpuPassTimes is not recording', 'InvalidStateError');
    this.#recording = false;
    const labels = this.#labels, n = labels.length;
    if (n === 0) return { passes: [], untimed: this.#untimed, spanMs: 0 };
    const encoder = this.#device.createCommandEncoder({ label: `${this.#querySet.label} resolve` });
    encoder.resolveQuerySet(this.#querySet, 0, 2 * n, this.#resolved, 0);
    encoder.copyBufferToBuffer(this.#resolved, 0, this.#readback, 0, 16 * n);
    this.#device.queue.submit([encoder.finish()]);
    await this.#readback.mapAsync(GPUMapMode.READ, 0, 16 * n);
    const ns = new BigUint64Array(this.#readback.getMappedRange(0, 16 * n).slice(0));
    this.#readback.unmap();
    const passes: PassTime[] = [];
    let first = ns[0]!, last = ns[1]!;
    for (let i = 0; i < n; i++) {
      const b = ns[2 * i]!, e = ns[2 * i + 1]!;
      if (b < first) first = b;
      if (e > last) last = e;
      // A driver may report an end before its beginning (WebGPU leaves such pairs
      // undefined); count it as 0, not as a huge unsigned difference.
      passes.push({ label: labels[i]!, ms: e > b ? Number(e - b) / 1e6 : 0 });
    }
    return { passes, untimed: this.#untimed, spanMs: last > first ? Number(last - first) / 1e6 : 0 };
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#recording = false;
    this.#querySet.destroy();
    this.#resolved.destroy();
    this.#readback.destroy();
  }
}

/** Sums pass times by op (the label without the context's prefix and ' pass'), largest first. */
export function passTimesByOp(passes: readonly PassTime[], contextLabel: string): { op: string; passes: number; ms: number }[] {
  const byOp = new Map<string, { op: string; passes: number; ms: number }>();
  for (const p of passes) {
    const prefix = `${contextLabel} `;
    const op = (p.label.startsWith(prefix) ? p.label.slice(prefix.length) : p.label).replace(/ pass$/, '');
    const entry = byOp.get(op) ?? { op, passes: 0, ms: 0 };
    entry.passes++;
    entry.ms += p.ms;
    byOp.set(op, entry);
  }
  return [...byOp.values()].sort((a, b) => b.ms - a.ms);
}
