/**
 * A process-wide budget of payload bytes that batch chunks may hold in memory at once. A chunk
 * waits for its bytes before it reads its payloads and gives them back once its outcome is
 * written, so the worker's memory is bounded by the budget, not by how many chunks Temporal
 * hands it at once (WORKER_MAX_CONCURRENT_ACTIVITIES) nor by how large batches are.
 *
 * A chunk larger than the whole budget (one event near the 1 MB payload limit with a small
 * budget) is let through alone, once nothing else holds bytes, rather than waiting forever.
 */
export class ByteBudget {
  private inUse = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Runs `work` once `bytes` fit in the budget, and gives them back when it settles. */
  async run<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    const held = await this.acquire(bytes);
    try {
      return await work();
    } finally {
      this.release(held);
    }
  }

  private acquire(bytes: number): Promise<number> {
    const held = Math.min(bytes, this.limit);
    if (this.waiting.length === 0 && this.fits(held)) {
      this.inUse += held;
      return Promise.resolve(held);
    }
    // First come, first served: a large chunk is not starved by a stream of small ones.
    return new Promise((resolve) => {
      this.waiting.push({
        bytes: held,
        grant: () => {
          this.inUse += held;
          resolve(held);
        },
      });
    });
  }

  private release(held: number): void {
    this.inUse -= held;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      this.waiting.shift()!.grant();
    }
  }

  private fits(bytes: number): boolean {
    return this.inUse === 0 || this.inUse + bytes <= this.limit;
  }
}
