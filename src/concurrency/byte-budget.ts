/**
 * A process-wide budget of bytes that work may hold in memory at once: the worker's batch
 * chunks (payload bytes, from reading them until their outcome is written) and the API's large
 * request bodies (from before reading them until the answer). Work waits for its bytes, first
 * come, first served, so memory is bounded by the budget, not by how much arrives at once.
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
    const hold = await this.hold(bytes);
    try {
      return await work();
    } finally {
      hold.release();
    }
  }

  /**
   * Takes `bytes` once they fit, for work that learns its real size only after it started (a
   * body whose size is unknown until it is read): it may give part back with `shrinkTo`.
   */
  async hold(bytes: number): Promise<BudgetHold> {
    let held = await this.acquire(bytes);
    return {
      get bytes() {
        return held;
      },
      shrinkTo: (target: number) => {
        const keep = Math.max(0, Math.min(held, target));
        this.release(held - keep);
        held = keep;
      },
      release: () => {
        this.release(held);
        held = 0;
      },
    };
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

  private release(bytes: number): void {
    if (bytes <= 0) return;
    this.inUse -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      this.waiting.shift()!.grant();
    }
  }

  private fits(bytes: number): boolean {
    return this.inUse === 0 || this.inUse + bytes <= this.limit;
  }
}

/** Bytes held from a {@link ByteBudget}. */
export interface BudgetHold {
  /** What is held now. */
  readonly bytes: number;
  /** Gives back all but `bytes` (never takes more); waiters that now fit go ahead. */
  shrinkTo(bytes: number): void;
  /** Gives everything back; safe to call twice. */
  release(): void;
}
