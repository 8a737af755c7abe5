/**
 * An event's processing state. Transitions:
 *
 *   received   -> queued       the outbox handed the event's workflow to Temporal
 *   queued     -> processing   a worker picked the workflow up and ran its first step
 *   processing -> processed    normalized properties persisted, processed_at set (terminal)
 *   processing -> failed       validation error, or retries or budget exhausted (terminal until
 *                              reprocessed)
 *   failed     -> received     an operator reprocessed the event
 *
 * Every move is one statement of event-transitions.ts, for one event or a whole batch alike.
 *
 * `received` rows are PostgreSQL's queue: committed, answered 202, waiting for their workflow
 * to start. The API starts it right after answering; the outbox's sweep starts any the API
 * could not (Temporal down, process killed in between, admission holding them back).
 */
export const EVENT_STATUSES = ['received', 'queued', 'processing', 'processed', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Whether an event in `status` counts as processed (the `processed` column). */
export const isProcessed = (status: EventStatus): boolean => status === 'processed';
