import { setTimeout as delay } from 'node:timers/promises';

/** Milliseconds since the suite started; every figure and fault time is on this clock. */
const t0 = Date.now();
export const elapsedMs = (): number => Date.now() - t0;

/** `12.3s`, for log lines. */
export const stamp = (): string => `${(elapsedMs() / 1000).toFixed(1).padStart(6)}s`;

/** One progress line on stderr, prefixed with the suite clock. */
export function say(message: string): void {
  process.stderr.write(`[faults ${stamp()}] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => delay(Math.max(0, ms));

/**
 * Polls `probe` until it returns something other than undefined, or the time is up.
 * @returns the probe's value, or undefined on timeout
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
