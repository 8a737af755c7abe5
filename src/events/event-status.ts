/**
 * An event's processing state. Transitions:
 *
 *   received   -> processing   a workflow run picked the event up
 *   processing -> processed    normalized properties persisted, processed_at set (terminal)
 *   processing -> failed       validation error, or retries exhausted (terminal until reprocessed)
 *   failed     -> processing   an operator reprocessed or reset the workflow
 *
 * `received` means the row is committed; its workflow may not have started yet.
 */
export const EVENT_STATUSES = ['received', 'processing', 'processed', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export const TERMINAL_STATUSES: readonly EventStatus[] = ['processed', 'failed'];
