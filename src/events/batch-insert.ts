import type { EntityManager } from '@mikro-orm/postgresql';
import type { NewEventRow } from './event-rows';

/**
 * Inserts a batch's events with one statement: the rows travel as one JSON array that
 * PostgreSQL unpacks with `jsonb_to_recordset`, instead of the ORM's multi-row insert with its
 * per-row entity handling and sixteen bind parameters per event. Columns shared by the whole
 * batch (user, batch, workflow, time of receipt) are bound once. Rows whose idempotency key the
 * user already used are skipped (`on conflict ... do nothing`); returns the ids inserted.
 *
 * Runs inside the caller's transaction (`em` is the transaction's), so the batch row and its
 * events commit together or not at all.
 */
export async function insertBatchEvents(
  em: EntityManager,
  shared: {
    userId: string;
    batchId: string;
    workflowId: string;
    receivedAt: Date;
  },
  rows: NewEventRow[],
): Promise<Set<string>> {
  const perEvent = rows.map((r) => ({
    id: r.id,
    event_name: r.eventName,
    event_type: r.eventType,
    idempotency_key: r.idempotencyKey,
    client_timestamp: r.clientTimestamp,
    sent_at: r.sentAt,
    event_time: r.eventTime,
    subject_user_id: r.subjectUserId,
    anonymous_id: r.anonymousId,
    request_fingerprint: r.requestFingerprint,
  }));
  const withKeys = rows.some((r) => r.idempotencyKey !== null);
  const inserted = await em.execute<{ id: string }[]>(
    `insert into events (id, user_id, event_name, event_type, payload, status, processed,
                         workflow_id, batch_id, idempotency_key, client_timestamp, sent_at,
                         received_at, event_time, created_at, updated_at, subject_user_id,
                         anonymous_id, request_fingerprint)
     select r.id, ?, r.event_name, r.event_type, r.payload, 'received', false,
            ?, ?, r.idempotency_key, r.client_timestamp, r.sent_at,
            ?, r.event_time, ?, ?, r.subject_user_id, r.anonymous_id, r.request_fingerprint
       from jsonb_to_recordset(?::jsonb) as r(id uuid, event_name text, event_type text,
            payload jsonb, idempotency_key text, client_timestamp timestamptz,
            sent_at timestamptz, event_time timestamptz, subject_user_id text,
            anonymous_id text, request_fingerprint text)
     ${withKeys ? 'on conflict (user_id, idempotency_key) do nothing returning id' : ''}`,
    [
      shared.userId,
      shared.workflowId,
      shared.batchId,
      shared.receivedAt,
      shared.receivedAt,
      shared.receivedAt,
      recordsJson(perEvent, rows),
    ],
    'all',
  );
  // Without keys nothing can conflict: every row went in.
  return new Set(withKeys ? inserted.map((r) => r.id) : rows.map((r) => r.id));
}

/**
 * The rows as one JSON array, each payload spliced in as the exact JSON text the edge made of
 * it (integers past 2^53 keep their digits; see exact-json.ts).
 */
function recordsJson(records: Record<string, unknown>[], rows: NewEventRow[]): string {
  const parts = records.map((record, i) => {
    const rest = JSON.stringify(record);
    return `${rest.slice(0, -1)},"payload":${rows[i]!.payloadJson ?? 'null'}}`;
  });
  return `[${parts.join(',')}]`;
}
