/**
 * A background loop's pause between rounds that new work can cut short: `sleep` resolves after
 * `ms`, or at once when `wake` is called (an offer arrived, or the loop is stopping).
 */
export interface WakeableSleep {
  sleep(ms: number): Promise<void>;
  /** Ends the sleep under way, if any; a no-op otherwise. */
  wake(): void;
}

export function createWakeableSleep(): WakeableSleep {
  let wake: (() => void) | undefined;
  return {
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      }),
    wake: () => wake?.(),
  };
}
