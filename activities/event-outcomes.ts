import type { EventFailure } from '../workflows/types';

/**
 * Where activities report the events they end, at the statement that ends them: the worker's
 * metrics count these. Only rows a statement actually moved are reported, so a rerun of a step
 * counts nothing twice.
 */
export interface EventOutcomes {
  processed(eventType: string, count?: number): void;
  failed(eventType: string, reason: EventFailure['kind'], count?: number): void;
}

/** For activities run without metrics (tests, tools). */
export const UNCOUNTED: EventOutcomes = { processed() {}, failed() {} };
