/**
 * Event and byte rates over a sliding time window (e.g. the last second).
 *
 * Until a whole window has passed since the first event, the rate is
 * measured over the time elapsed instead, and the first event only marks
 * the start of the measurement: n evenly spaced packets span n - 1 intervals,
 * so counting all n over that span would overstate the rate.
 */
export interface WindowRate {
  eventsPerSec: number;
  amountPerSec: number;
}

export class SlidingWindowRate {
  readonly windowMs: number;
  private readonly times: number[] = [];
  private readonly amounts: number[] = [];
  private head = 0;
  private firstEvent: { atMs: number; amount: number } | null = null;

  constructor(windowMs: number) {
    if (!(Number.isFinite(windowMs) && windowMs > 0)) {
      throw new RangeError(`windowMs must be a positive finite number; got ${windowMs}`);
    }
    this.windowMs = windowMs;
  }

  add(atMs: number, amount: number): void {
    this.firstEvent ??= { atMs, amount };
    // Evicting here too keeps memory bounded even if nobody asks for the rate.
    this.evictBefore(atMs - this.windowMs);
    this.times.push(atMs);
    this.amounts.push(amount);
  }

  rate(nowMs: number): WindowRate {
    this.evictBefore(nowMs - this.windowMs);
    const first = this.firstEvent;
    if (first === null) return { eventsPerSec: 0, amountPerSec: 0 };
    let events = this.times.length - this.head;
    let amount = 0;
    for (let i = this.head; i < this.amounts.length; i++) amount += this.amounts[i] ?? 0;

    const elapsedMs = nowMs - first.atMs;
    let spanMs = this.windowMs;
    if (elapsedMs < this.windowMs) {
      if (elapsedMs <= 0) return { eventsPerSec: 0, amountPerSec: 0 };
      spanMs = elapsedMs;
      events -= 1;
      amount -= first.amount;
    }
    return { eventsPerSec: (events * 1000) / spanMs, amountPerSec: (amount * 1000) / spanMs };
  }

  private evictBefore(cutoffMs: number): void {
    while (this.head < this.times.length && (this.times[this.head] ?? Infinity) <= cutoffMs) {
      this.head++;
    }
    // Compact occasionally so eviction stays O(1) amortized even under a flood.
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.amounts.splice(0, this.head);
      this.head = 0;
    }
  }
}
