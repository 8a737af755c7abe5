import { setTimeout as delay } from 'node:timers/promises';

/** Milliseconds since the suite started; every figure and fault time is on this clock. */
const t0 = Date.now();
export const elapsedMs = (): number => Date.now() - t0;

/** One progress line on stderr, prefixed with the suite clock. */
export function say(message: string): void {
  process.stderr.write(`[faults ${(elapsedMs() / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => delay(Math.max(0, ms));

export function tally(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** A seeded pseudo-random source, so a failing run can be replayed with the same choices. */
export type Random = ReturnType<typeof createRandom>;

/** mulberry32: tiny, fast and good enough to schedule faults and shape load. */
export function createRandom(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** An integer in [min, max], both included. */
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(0, items.length - 1)]!,
    shuffle<T>(items: readonly T[]): T[] {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}
