import type { EventFailure } from '../workflows/types';

/** What became of an event that broke its tracking plan: it `failed` (enforce), or was processed with the violations `reported`. */
export type ViolationOutcome = 'failed' | 'reported';

/**
 * Where activities report the events they end, at the statement that ends them: the worker's
 * metrics count these. Only rows a statement actually moved are reported, so a rerun of a step
 * counts nothing twice.
 */
export interface EventOutcomes {
  processed(eventType: string, count?: number): void;
  failed(eventType: string, reason: EventFailure['kind'], count?: number): void;
  /** Events whose tracking plan violations a statement recorded, by event name. */
  violated(eventName: string, outcome: ViolationOutcome, count?: number): void;
}

/** For activities run without metrics (tests, tools). */
export const UNCOUNTED: EventOutcomes = { processed() {}, failed() {}, violated() {} };
