import { UnderscoreNamingStrategy } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor, type Sql } from '../db/sql';
import { withJsonFields } from '../json/exact-json';
import { EventSchema, SET_BY_PROCESSING } from './event.entity';
import type { NewEventRow } from './event-rows';
import { isProcessed } from './event-status';

/** A row to insert, possibly already failed (a tracking message that breaks the spec). */
export type InsertableEvent = NewEventRow & {
  processingError?: string | null;
  lastError?: string | null;
};

/**
 * The entity's properties an insert writes, each with its column: every property but what
 * processing sets, named as the ORM names them (its default naming strategy, which
 * orm-config.ts keeps). The column types are the table's own (`jsonb_populate_recordset`).
 */
const INSERTED = (() => {
  const naming = new UnderscoreNamingStrategy();
  const setLater: readonly string[] = SET_BY_PROCESSING;
  return Object.entries(EventSchema.meta.properties)
    .filter(([property]) => !setLater.includes(property))
    .map(([property, p]) => ({
      property,
      column:
        p.kind === 'm:1' ? naming.joinColumnName(property) : naming.propertyToColumnName(property),
    }));
})();

const columnOf = (property: string) => INSERTED.find((c) => c.property === property)!.column;
const COLUMNS = INSERTED.map((c) => c.column).join(', ');
const INSERT_EVENTS = `insert into events (${COLUMNS}, plan_version)
  select ${COLUMNS},
         -- The tracking plan in force now: the event is checked against it, however late.
         (select p.version from tracking_plans p where p.user_id = r.${columnOf('user')})
    from jsonb_populate_recordset(null::events, $1::jsonb) as r`;
const PAYLOAD = columnOf('payload');

/**
 * Inserts events with one statement: the rows travel as one JSON array that PostgreSQL unpacks
 * into the table's own row type (`jsonb_populate_recordset`), as one bind parameter. Not through the ORM: its `execute` and query
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
    withKeys ? `${INSERT_EVENTS} on conflict do nothing returning id` : INSERT_EVENTS,
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
    const values: Record<string, unknown> = r;
    const record: Record<string, unknown> = {};
    for (const { property, column } of INSERTED) {
      if (property === 'payload') continue;
      record[column] =
        property === 'processed' ? isProcessed(r.status) : (values[property] ?? null);
    }
    return withJsonFields(record, { [PAYLOAD]: r.payloadJson });
  });
  return `[${parts.join(',')}]`;
}
