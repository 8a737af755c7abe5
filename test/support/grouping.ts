import { randomUUID } from 'node:crypto';
import { createSql } from '../../src/db/sql';
import type { Harness } from './harness';
import { basicAuth } from './tracking';

/** An event row as the grouping tests read it. */
export interface GroupedRow {
  id: string;
  status: string;
  workflow_id: string | null;
  batch_id: string | null;
  message_id: string | null;
  idempotency_key: string | null;
  attempts: number;
  created_at: Date;
  processed_at: Date | null;
}

/** A batch row, with the users its events belong to. */
export interface BatchRow {
  id: string;
  user_id: string;
  workflow_id: string;
  event_count: number;
  created_at: Date;
  received_at: Date;
  /** How many events point at it. */
  events: number;
  /** The distinct users of those events. */
  event_users: string[];
}

/** The user's event rows, oldest first. */
export function eventRows(h: Harness, userId: string): Promise<GroupedRow[]> {
  return createSql(h.orm)<GroupedRow>(
    `select id, status, workflow_id, batch_id, message_id, idempotency_key, attempts,
            created_at, processed_at
       from events where user_id = $1 order by id`,
    [userId],
  );
}

/** The user's batches, in the order they were formed. */
export function batchRows(h: Harness, userId: string): Promise<BatchRow[]> {
  return createSql(h.orm)<BatchRow>(
    `select b.id, b.user_id, b.workflow_id, b.event_count, b.created_at, b.received_at,
            count(e.id)::int as events,
            coalesce(array_agg(distinct e.user_id::text) filter (where e.id is not null), '{}')
              as event_users
       from batches b left join events e on e.batch_id = b.id
      where b.user_id = $1 group by b.id order by b.created_at, b.id`,
    [userId],
  );
}

/**
 * Every event is in exactly one of the batches, named by the batch's workflow, and was processed
 * by one run; every batch holds one user's events, as many as it says.
 */
export function expectEachInOneBatch(events: GroupedRow[], batches: BatchRow[]): void {
  const byId = new Map(batches.map((b) => [b.id, b]));
  for (const e of events) {
    expect(e.batch_id).not.toBeNull();
    expect(byId.has(e.batch_id!)).toBe(true);
    expect(e.workflow_id).toBe(`batch-${e.batch_id}`);
    expect(e.attempts).toBe(1);
  }
  for (const b of batches) {
    expect(b.workflow_id).toBe(`batch-${b.id}`);
    expect(b.events).toBe(b.event_count);
    expect(b.event_users).toEqual([b.user_id]);
  }
  expect(batches.reduce((n, b) => n + b.events, 0)).toBe(events.length);
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until the user has `count` events and all are finished; returns them. */
export function finishedRows(
  h: Harness,
  userId: string,
  count: number,
  timeoutMs = 30_000,
): Promise<GroupedRow[]> {
  return until(
    `${count} finished events of user ${userId}`,
    async () => {
      const rows = await eventRows(h, userId);
      const done = rows.every((r) => r.status === 'processed' || r.status === 'failed');
      return rows.length >= count && done ? rows : undefined;
    },
    timeoutMs,
  );
}

/** A Segment `track` message with a fresh messageId. */
export const trackMessage = (extra: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Product Viewed',
  anonymousId: 'anon-1',
  messageId: randomUUID(),
  properties: { sku: 'A-1' },
  timestamp: new Date().toISOString(),
  ...extra,
});

/** POSTs to a tracking route as an SDK does, with the user's write key. */
export async function postTracking(
  h: Harness,
  token: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(token) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Milliseconds between two timestamps. */
export const msBetween = (from: Date, to: Date): number =>
  new Date(to).getTime() - new Date(from).getTime();
