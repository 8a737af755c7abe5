import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlFor } from '../db/sql';
import type { User } from '../users/user.entity';
import { EventSchema } from './event.entity';
import type { EventListItem, ListEventsQuery } from './event.schemas';
import { toEventListItem } from './event.view';

/** A statement and its bind values. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** Columns a filter compares with its value, each served by an index (see the migrations). */
const FILTER_COLUMNS = {
  status: 'status',
  event_name: 'event_name',
  event_type: 'event_type',
  subject_user_id: 'subject_user_id',
  anonymous_id: 'anonymous_id',
} as const satisfies Partial<Record<keyof ListEventsQuery, string>>;

/** Every column of an event but the payload and properties, which a listing leaves out. */
function listedColumns(em: EntityManager): string[] {
  const meta = em.getMetadata().get(EventSchema.meta.className);
  return meta.props
    .filter((p) => p.name !== 'payload' && p.name !== 'properties')
    .flatMap((p) => p.fieldNames ?? []);
}

/**
 * One page of a user's events, newest first (ids are time-ordered), after `cursor`: one
 * statement, its values bound rather than written into the SQL, so PostgreSQL plans it with
 * them (indexes `(user_id, <filter>, id)` serve each filter) and a value it cannot hold is an
 * error about that value, never a malformed statement. Fetches one row more than the page to
 * know whether another page follows.
 */
export function listStatement(
  columns: string[],
  userId: string,
  query: ListEventsQuery,
): Statement {
  const values: unknown[] = [userId];
  const where = ['user_id = $1'];
  for (const [param, column] of Object.entries(FILTER_COLUMNS)) {
    const value = query[param as keyof typeof FILTER_COLUMNS];
    if (value === undefined) continue;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  }
  // The partial index on violations serves `true`; `false` is most of a user's events anyway.
  if (query.has_violations !== undefined) {
    where.push(query.has_violations ? 'violations is not null' : 'violations is null');
  }
  if (query.cursor) {
    values.push(query.cursor);
    where.push(`id < $${values.length}`);
  }
  values.push(query.limit + 1);
  return {
    text: `select ${columns.join(', ')} from events where ${where.join(' and ')}
           order by id desc limit $${values.length}`,
    values,
  };
}

/**
 * The user's events, newest first, one page after `query.cursor`. With `timeoutMs`, the
 * statement runs in a transaction of its own with that statement_timeout, so a listing that
 * would take longer (filters few of very many events match, and no index narrows them) is
 * cancelled by PostgreSQL and frees its connection (57014 answers 503 `query_timeout`).
 */
export async function listEvents(
  em: EntityManager,
  user: User,
  query: ListEventsQuery,
  timeoutMs = 0,
): Promise<{ events: EventListItem[]; nextCursor: string | null }> {
  const { text, values } = listStatement(listedColumns(em), user.id, query);
  const rows =
    timeoutMs > 0
      ? await em.transactional(async (tx) => {
          const sql = sqlFor(tx);
          await sql(`select set_config('statement_timeout', $1, true)`, [String(timeoutMs)]);
          return sql(text, values);
        })
      : await sqlFor(em)(text, values);
  const page = rows.slice(0, query.limit).map((row) => em.map(EventSchema, row));
  return {
    events: page.map(toEventListItem),
    nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null,
  };
}
