/**
 * A process-wide budget of bytes that work may hold in memory at once: the worker's batch
 * chunks (payload bytes, from reading them until their outcome is written) and the API's large
 * request bodies (from parsing until the answer). Work waits for its bytes, first come, first
 * served, so memory is bounded by the budget, not by how much arrives at once.
 *
 * Work larger than the whole budget is let through alone, once nothing else holds bytes,
 * rather than waiting forever.
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
