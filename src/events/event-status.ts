/**
 * An event's processing state, and every move between states the code makes. Each is one
 * statement of event-transitions.ts, for one event or a whole batch alike, but the first two,
 * which are the row's insert (`insertEventRows`, event-insert.ts). A test
 * (test/unit/status-writes.test.ts) fails when any other file writes `status` or `processed`.
 *
 *   from                    to          statement            why
 *   (new row)               received    insertEventRows      accepted: REST, a tracking message
 *   (new row)               failed      insertEventRows      a tracking message breaking the spec
 *   received                queued      markQueued           the outbox started its workflow
 *   any but processed       processing  claimForProcessing   a run takes it up (one attempt)
 *   processing              processed   markProcessed        properties and processed_at written
 *   processing              failed      writeChunkOutcome    invalid events of a batch chunk
 *   processing              failed      markFailedOnPlan     its tracking plan, under `enforce`
 *   received, queued,       failed      markFailed           a validation error, or retries or
 *     processing                                             the budget exhausted
 *   failed, queued,         received    markReceivedAgain    reprocess
 *     processing
 *   queued, processing      received    markLostRunReceived  the sweeper: its run is gone or
 *                                                            closed, and it has runs left
 *   queued, processing      failed      markLostRunFailed    the sweeper: the same, none left
 *
 * `processed` is true exactly when `status` is `processed` (`isProcessed`); the statements
 * write both together. `received` rows are PostgreSQL's queue: committed, answered, waiting for
 * their workflow to start (a tracking message first waits for its group, see
 * message-grouper.ts). The outbox starts it right after the answer; its sweep starts any the
 * API could not (Temporal down, process killed in between, admission holding them back).
 */
export const EVENT_STATUSES = ['received', 'queued', 'processing', 'processed', 'failed'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Whether an event in `status` counts as processed (the `processed` column). */
export const isProcessed = (status: EventStatus): boolean => status === 'processed';
