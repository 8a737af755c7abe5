import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor, type Sql } from '../db/sql';
import type { NewEventRow } from './event-rows';
import { isProcessed } from './event-status';

/** A row to insert, possibly already failed (a tracking message that breaks the spec). */
export type InsertableEvent = NewEventRow & {
  processingError?: string | null;
  lastError?: string | null;
};

/**
 * Inserts events with one statement: the rows travel as one JSON array that PostgreSQL unpacks
 * with `jsonb_to_recordset`, as one bind parameter. Not through the ORM: its `execute` and query
 * builder inline every value into the SQL text, so a 16 MB batch became many copies of itself
 * in memory and its SQL the text of any error. Each payload is spliced into the array as the
 * exact JSON text the edge made of it (integers past 2^53 keep their digits; exact-json.ts).
 *
 * Rows whose idempotency key or messageId the user already used are skipped (`on conflict do
 * nothing`, which covers both unique keys); returns the ids inserted. Runs in the caller's
 * transaction when `em` is a transaction's.
 */
export function insertEvents(em: EntityManager, rows: InsertableEvent[]): Promise<Set<string>> {
  return insertEventRows(sqlFor(em), rows);
}

/** {@link insertEvents} with a plain statement runner: for the group commit. */
export async function insertEventRows(sql: Sql, rows: InsertableEvent[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const withKeys = rows.some((r) => r.idempotencyKey !== null || r.messageId !== null);
  const inserted = await sql<{ id: string }>(
    `insert into events (id, user_id, event_name, event_type, payload, status, processed,
                         workflow_id, batch_id, idempotency_key, message_id, client_timestamp,
                         sent_at, received_at, event_time, created_at, updated_at,
                         subject_user_id, anonymous_id, request_fingerprint, processing_error,
                         last_error, source, plan_version)
     select r.id, r.user_id, r.event_name, r.event_type, r.payload, r.status, r.processed,
            r.workflow_id, r.batch_id, r.idempotency_key, r.message_id, r.client_timestamp,
            r.sent_at, r.received_at, r.event_time, r.created_at, r.updated_at,
            r.subject_user_id, r.anonymous_id, r.request_fingerprint, r.processing_error,
            r.last_error, r.source,
            -- The tracking plan in force now: the event is checked against it, however late.
            (select p.version from tracking_plans p where p.user_id = r.user_id)
       from jsonb_to_recordset($1::jsonb) as r(id uuid, user_id uuid, event_name text,
            event_type text, payload jsonb, status text, processed boolean, workflow_id text,
            batch_id uuid, idempotency_key text, message_id text, client_timestamp timestamptz,
            sent_at timestamptz, received_at timestamptz, event_time timestamptz,
            created_at timestamptz, updated_at timestamptz, subject_user_id text,
            anonymous_id text, request_fingerprint text, processing_error text, last_error text,
            source text)
     ${withKeys ? 'on conflict do nothing returning id' : ''}`,
    [recordsJson(withKeys ? inKeyOrder(rows) : rows)],
  );
  // Without keys nothing can conflict: every row went in.
  return new Set(withKeys ? inserted.map((r) => r.id) : rows.map((r) => r.id));
}

/**
 * Rows in one order of (user, key): two statements naming the same keys in different orders
 * then wait on each other instead of deadlocking. Keyless rows go last.
 */
function inKeyOrder(rows: InsertableEvent[]): InsertableEvent[] {
  const key = (r: InsertableEvent) =>
    r.idempotencyKey !== null
      ? `${r.user}\u0001k${r.idempotencyKey}`
      : r.messageId !== null
        ? `${r.user}\u0001m${r.messageId}`
        : null;
  return rows
    .map((row) => ({ row, key: key(row) }))
    .sort((a, b) => {
      if (a.key === b.key) return 0;
      if (a.key === null) return 1;
      if (b.key === null) return -1;
      return a.key < b.key ? -1 : 1;
    })
    .map((x) => x.row);
}

/** The rows as one JSON array, in column names, each payload spliced in as its exact text. */
function recordsJson(rows: InsertableEvent[]): string {
  const parts = rows.map((r) => {
    const rest = JSON.stringify({
      id: r.id,
      user_id: r.user,
      event_name: r.eventName,
      event_type: r.eventType,
      status: r.status,
      processed: isProcessed(r.status),
      workflow_id: r.workflowId,
      batch_id: r.batch,
      idempotency_key: r.idempotencyKey,
      message_id: r.messageId,
      client_timestamp: r.clientTimestamp,
      sent_at: r.sentAt,
      received_at: r.receivedAt,
      event_time: r.eventTime,
      created_at: r.createdAt,
      updated_at: r.updatedAt,
      subject_user_id: r.subjectUserId,
      anonymous_id: r.anonymousId,
      request_fingerprint: r.requestFingerprint,
      processing_error: r.processingError ?? null,
      last_error: r.lastError ?? null,
      source: r.source,
    });
    return `${rest.slice(0, -1)},"payload":${r.payloadJson ?? 'null'}}`;
  });
  return `[${parts.join(',')}]`;
}
