/**
 * An event's processing state. Transitions:
 *
 *   waiting    -> received     the outbox relay started the workflow Temporal could not take
 *                              when the event was accepted
 *   received   -> processing   a workflow run picked the event up
 *   processing -> processed    normalized properties persisted, processed_at set (terminal)
 *   processing -> failed       validation error, or retries exhausted (terminal until reprocessed)
 *   failed     -> processing   an operator reprocessed or reset the workflow
 *
 * `waiting` and `received` both mean the row is committed and nothing has processed it yet;
 * `received` also means its workflow was started.
 */
export const EVENT_STATUSES = ['waiting', 'received', 'processing', 'processed', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export const TERMINAL_STATUSES: readonly EventStatus[] = ['processed', 'failed'];
