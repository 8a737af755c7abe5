import { BacklogFullError } from '../errors';
import type { Outbox } from './outbox';

export interface AdmissionDeps {
  outbox: Pick<Outbox, 'stats'>;
  /** Stored-but-unstarted events beyond which new ones are refused for now; 0 = no bound. */
  maxBacklog: number;
}

/** The longest `Retry-After` a full backlog answers with, in seconds. */
const MAX_RETRY_AFTER_SEC = 60;

/**
 * Admission of new events, by the backlog the outbox counts: past `maxBacklog` a request is
 * refused (503 with `Retry-After`, the time the outbox needs at its start rate to make room).
 */
export function createAdmission({ outbox, maxBacklog }: AdmissionDeps): () => void {
  /** Refuses new events while more are stored than can be processed in reasonable time. */
  return function admit(): void {
    if (maxBacklog === 0) return;
    const { unstarted, startRate } = outbox.stats();
    if (unstarted < maxBacklog) return;
    const retryAfterSec = Math.min(
      MAX_RETRY_AFTER_SEC,
      Math.max(1, Math.ceil((unstarted - maxBacklog + 1) / Math.max(1, startRate))),
    );
    throw new BacklogFullError(unstarted, retryAfterSec);
  };
}
