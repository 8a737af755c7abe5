import type { Sql } from '../db/sql';
import { batchWorkflowId } from '../temporal/workflow-ids';
import { isProcessed, type EventStatus } from './event-status';

/**
 * The events one transition moves: one event, or every event of a batch. Each transition is
 * one set-based statement, so the single-event chain and the batch chain are the same steps
 * over scopes of different sizes; and each moves only rows in the states it starts from, so a
 * step that runs twice (Temporal retries, replays, two processes) changes nothing the second
 * time and reports nothing twice.
 */
export type EventScope = { eventId: string } | { batchId: string };

/** How many rows of each event type a transition moved. */
export interface MovedByType {
  event_type: string;
  n: number;
}

/** `status` and `processed` together, as every statement here writes them (see event-status.ts). */
function setStatus(status: EventStatus): string {
  return `status = '${status}', processed = ${isProcessed(status)}, updated_at = now()`;
}

const within = (scope: EventScope): { where: string; id: string } =>
  'eventId' in scope
    ? { where: 'id = $1', id: scope.eventId }
    : { where: 'batch_id = $1', id: scope.batchId };

/**
 * A run takes the events up (anything not processed -> `processing`), counting one attempt per
 * run: a retried step of the same run does not count again. Returns `returning` of each row
 * moved; an event already processed is not moved.
 */
export function claimForProcessing<R>(
  sql: Sql,
  scope: EventScope,
  runId: string | null,
  returning: string,
): Promise<R[]> {
  const { where, id } = within(scope);
  return sql<R>(
    `update events
        set ${setStatus('processing')},
            attempts = attempts + (last_run_id is distinct from $2)::int, last_run_id = $2
      where ${where} and status <> 'processed'
     returning ${returning}`,
    [id, runId],
  );
}

/**
 * Events with normalized properties -> `processed`, `processed_at` written once. Returns how
 * many moved, by event type, and when. Properties are written by the chain's normalize step;
 * a batch chunk's invalid events have none.
 */
export function markProcessed(
  sql: Sql,
  scope: EventScope,
): Promise<(MovedByType & { processed_at: string | Date })[]> {
  const { where, id } = within(scope);
  return sql(
    `with moved as (
       update events
          set ${setStatus('processed')}, processed_at = now(), processing_error = null
        where ${where} and status <> 'processed' and properties is not null
       returning event_type, processed_at)
     select event_type, count(*)::int as n, max(processed_at) as processed_at
       from moved group by 1`,
    [id],
  );
}

/**
 * Unfinished events -> `failed`, with `reason` as their processing error. Events failed already
 * keep their own reason (a batch's invalid events keep their validation error).
 */
export function markFailed(sql: Sql, scope: EventScope, reason: string): Promise<MovedByType[]> {
  const { where, id } = within(scope);
  return sql(
    `with moved as (
       update events
          set ${setStatus('failed')}, processing_error = $2, last_error = $2
        where ${where} and status in ('received', 'queued', 'processing')
       returning event_type)
     select event_type, count(*)::int as n from moved group by 1`,
    [id, reason],
  );
}

/** What a chunk's outcome moved, by event type and name: failures, and newly recorded violations. */
export interface ChunkMoved {
  event_type: string;
  event_name: string;
  failed: boolean;
  /** The row's tracking plan violations were recorded by this statement, not an earlier run. */
  violated: boolean;
  n: number;
}

/**
 * Some of a chunk's `processing` events -> `failed`, each with its own reason; the others get
 * their normalized properties and stay `processing` for `markProcessed`. Each row also gets its
 * tracking plan violations (null for none). One statement: the chunk's outcome is written whole
 * or not at all. Returns the failures moved and the rows whose violations it recorded first,
 * which only a chunk with violations asks for (`withViolations`): telling a first write from a
 * rerun's takes the rows as they were, a second lookup per row.
 */
export function writeChunkOutcome(
  sql: Sql,
  outcomesJson: string,
  withViolations = false,
): Promise<ChunkMoved[]> {
  return sql(
    `with moved as (
       update events e
          set properties = v.properties,
              status = case when v.error is null then e.status else 'failed' end,
              processed = false, -- neither outcome (processing, failed) is processed
              processing_error = v.error,
              last_error = coalesce(v.error, e.last_error),
              violations = v.violations,
              updated_at = now()
         from jsonb_to_recordset($1::jsonb) as v(id uuid, properties jsonb, error text,
              violations jsonb)
              ${withViolations ? 'join events was on was.id = v.id' : ''}
        where e.id = v.id and e.status = 'processing'
       returning e.event_type, e.event_name, v.error is not null as failed,
                 ${withViolations ? 'v.violations is not null and was.violations is null' : 'false'} as violated)
     select event_type, event_name, failed, violated, count(*)::int as n
       from moved where failed or violated group by 1, 2, 3, 4`,
    [outcomesJson],
  );
}

/**
 * A `processing` event that breaks its tracking plan -> `failed`, with the reason and the
 * violations, in one statement. Returns the row when it moved (not when a rerun finds it failed).
 */
export function markFailedOnPlan(
  sql: Sql,
  eventId: string,
  reason: string,
  violationsJson: string,
): Promise<{ event_type: string; event_name: string }[]> {
  return sql(
    `update events
        set ${setStatus('failed')}, processing_error = $2, last_error = $2, violations = $3::jsonb
      where id = $1 and status = 'processing'
     returning event_type, event_name`,
    [eventId, reason, violationsJson],
  );
}

/**
 * Records what a `processing` event broke of its tracking plan, once: returns the row only when
 * this statement recorded them, so a rerun of the step reports nothing twice.
 */
export function recordViolations(
  sql: Sql,
  eventId: string,
  violationsJson: string,
): Promise<{ event_name: string }[]> {
  return sql(
    `update events set violations = $2::jsonb, updated_at = now()
      where id = $1 and status = 'processing' and violations is null
     returning event_name`,
    [eventId, violationsJson],
  );
}

/**
 * `received` -> `queued`: their workflow started. A batch's events move only while they follow
 * the batch's workflow (one reprocessed on its own has a workflow of its own).
 */
export async function markQueued(
  sql: Sql,
  started: { eventIds: string[]; batchIds: string[] },
): Promise<void> {
  if (started.eventIds.length > 0) {
    await sql(
      `update events set ${setStatus('queued')}
        where id = any($1::uuid[]) and status = 'received'`,
      [started.eventIds],
    );
  }
  if (started.batchIds.length > 0) {
    await sql(
      `update events set ${setStatus('queued')}
        where batch_id = any($1::uuid[]) and workflow_id = any($2::text[])
          and status = 'received'`,
      [started.batchIds, started.batchIds.map(batchWorkflowId)],
    );
  }
}

/**
 * An event seen in `from` -> `received`, to run again as workflow `workflowId`: reprocessing a
 * failed event, or one whose run is gone. It is checked against the tracking plan in force now,
 * not the one it was accepted under (so fixing the plan and reprocessing recovers it), and the
 * violations of its earlier runs are cleared. Returns false when the event had moved on meanwhile.
 */
export async function markReceivedAgain(
  sql: Sql,
  eventId: string,
  from: EventStatus,
  workflowId: string,
): Promise<boolean> {
  const moved = await sql(
    `update events
        set ${setStatus('received')}, workflow_id = $3, violations = null,
            plan_version = (select p.version from tracking_plans p where p.user_id = events.user_id)
      where id = $1 and status = $2 returning id`,
    [eventId, from, workflowId],
  );
  return moved.length > 0;
}

/**
 * The unfinished events of one workflow run the sweeper found gone or closed: one event, or the
 * events of a batch that follow the batch's workflow (one reprocessed on its own has its own).
 * `checkedAt` is PostgreSQL's time (as text, to the microsecond) when the sweeper took the rows
 * up: a row changed since belongs to whatever changed it (a reprocess, a new run) and is left.
 */
export type LostRunScope = ({ eventId: string } | { batchId: string; workflowId: string }) & {
  checkedAt: string;
};

const lostRunRows = (scope: LostRunScope): { where: string; values: unknown[] } =>
  'eventId' in scope
    ? {
        where: `id = $1 and status in ('queued', 'processing') and updated_at <= $2::timestamptz`,
        values: [scope.eventId, scope.checkedAt],
      }
    : {
        where: `batch_id = $1 and workflow_id = $3 and status in ('queued', 'processing')
                and updated_at <= $2::timestamptz`,
        values: [scope.batchId, scope.checkedAt, scope.workflowId],
      };

/**
 * `queued` or `processing` events of a lost run -> `received`, under the same workflow id, for
 * the outbox to start a new run (Temporal allows a new run of a closed workflow's id). Returns
 * how many moved.
 */
export async function markLostRunReceived(sql: Sql, scope: LostRunScope): Promise<number> {
  const { where, values } = lostRunRows(scope);
  const moved = await sql(
    `update events set ${setStatus('received')} where ${where} returning 1`,
    values,
  );
  return moved.length;
}

/**
 * `queued` or `processing` events of a lost run -> `failed`, with `reason` as their processing
 * error. Returns how many moved, by event type.
 */
export function markLostRunFailed(
  sql: Sql,
  scope: LostRunScope,
  reason: string,
): Promise<MovedByType[]> {
  const { where, values } = lostRunRows(scope);
  const n = values.length + 1;
  return sql(
    `with moved as (
       update events
          set ${setStatus('failed')}, processing_error = $${n}, last_error = $${n}
        where ${where}
       returning event_type)
     select event_type, count(*)::int as n from moved group by 1`,
    [...values, reason],
  );
}
